"""webpickle's remote-execution server: signed HTTP calls of pickled functions.

    python -m webpickle.server --key-file PATH [--host 127.0.0.1] [--port 8765]
        [--processes N] [--max-memory 1GB] [--dask tcp://scheduler:8786]
        [--allow-origin URL] [--max-body 128MB] [--max-connections N] [--idle-timeout 30]
        [--function-store 1GB] [--function-cache 256MiB]

Native CPython only (it needs aiohttp). The modules, one job each:

    __main__.py       command line, start-up and graceful shutdown
    app.py            the HTTP routes: /health, /call and /function, CORS
    functions.py      functions kept by digest: the server's store of streams, the frames
                      that hand them to worker processes, a worker process's loaded ones
    auth.py           the key file; a request's signed headers, then its body, checked as it streams in
    connections.py    open connections: their limit, the idle timeout, running out of descriptors
    access_log.py     JSON-lines access and event log
    backend.py        what a backend provides; CallFailed, a call that could not run to its end
    process_pool.py   the local pool of worker processes
    child.py          a worker process (python -m webpickle.server.child)
    dask_backend.py   running calls on a dask.distributed cluster
    runner.py         running one pickled call, in a worker process or on a Dask worker
    limits.py         sizes on the command line, the address-space cap

This __init__ imports nothing, so that Dask workers can import runner.py
without aiohttp. The client is webpickle.remote; the signing scheme is in
webpickle._signing.
"""
