# When a call fails remotely, the exception comes back with the remote
# traceback attached (its __cause__), wherever it ran, showing this cell's
# own lines: the worker or the server never had them, the page fills them in.
import traceback


def shaky(x):
    return 10 / (3 - x)  # fails for x == 3


try:
    await server.map(shaky, range(5))
except ZeroDivisionError as error:
    print("On the server:")
    traceback.print_exception(error)

print("On a Web Worker:")
async with WorkerPool(1) as pool:
    await pool.map(shaky, range(5))  # this cell stops here; the traceback is below
