# The same function, sent by value to the server that ./dev demo started
# (CPython on this machine). The page got the server's URL and key by
# trading the one-time token in its address.
from webpickle.remote import RemoteExecutor

url, key = nb.server()
server = RemoteExecutor(url, key)  # kept open: cell 7 uses it too
start = time.perf_counter()
remote = await server.map(estimate_pi, seeds)
times["server (CPython)"] = time.perf_counter() - start

print(f"{len(remote)} estimates in {times['server (CPython)']:.2f} s from {url}")
remote == serial
