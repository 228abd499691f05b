"""python -m webpickle.server: run pickled calls for clients that hold the key.

Start-up: read the key, start the backend (the process pool, or connect to
Dask), listen, then print one line on stdout:

    webpickle server listening on http://HOST:PORT/

(with the real port when --port 0). SIGTERM or SIGINT stops listening, lets
the running calls finish (up to --shutdown-timeout seconds), then stops the
backend. The log goes to stderr as JSON lines; the key never appears in it.
"""

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
import urllib.parse

from aiohttp import web

from . import access_log, app
from .auth import load_key
from .functions import FunctionStore
from .connections import ConnectionGuard, GuardedSite, plan_descriptors
from .limits import format_size, parse_size

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEFAULT_MAX_MEMORY = "1GB"
# aiohttp reads a shutdown timeout of 0 as "wait for ever": --shutdown-timeout 0 passes this instead.
_STOP_AT_ONCE_S = 0.001


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m webpickle.server", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Pickle is code execution: whoever holds the key runs code on this machine as this user. "
               "Keep the key secret, and the server on loopback unless you put it behind TLS.")
    parser.add_argument("--key-file", required=True, metavar="PATH",
                        help="file holding the shared key (at least 16 bytes; surrounding whitespace ignored); "
                             "only its owner may read or write it (chmod 600)")
    parser.add_argument("--allow-shared-key-file", action="store_true",
                        help="accept a key file that group or others may read or write (e.g. a secret a "
                             "container runtime mounts with a wider mode)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--processes", type=int, metavar="N",
                        help="worker processes running calls (default: the number of CPUs)")
    parser.add_argument("--max-memory", metavar="SIZE",
                        help=f"address-space cap of each worker process, e.g. 1GB, 512MiB, none "
                             f"(default: {DEFAULT_MAX_MEMORY})")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run calls on this dask.distributed scheduler (e.g. tcp://scheduler:8786) "
                             "instead of local processes")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                        help="a web page origin (scheme://host[:port]) whose pages may call the server "
                             "(CORS); repeat for several")
    parser.add_argument("--max-body", default="128MB", metavar="SIZE",
                        help="largest request body accepted (default: %(default)s)")
    parser.add_argument("--idle-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="how long a connection may wait for a request's headers, between requests, or "
                             "for the next bytes of a body, before it is dropped; a running call is never cut "
                             "(default: %(default)s)")
    parser.add_argument("--max-connections", type=int, metavar="N",
                        help="open connections at most; past it a new one replaces the longest idle, or is "
                             "closed when all are busy (default: what the descriptor limit allows, up to 1024)")
    parser.add_argument("--function-store", default="1GB", metavar="SIZE",
                        help="bytes of uploaded function streams this server keeps, least recently used first "
                             "out (default: %(default)s)")
    parser.add_argument("--function-cache", default="256MiB", metavar="SIZE",
                        help="bytes of function streams each worker process keeps loaded (default: %(default)s)")
    parser.add_argument("--shutdown-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="how long a stop waits for running calls; 0 stops them at once "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    _check(parser, args)
    return args


def _check(parser, args):
    """Validate and normalise args in place; parser.error() explains what to fix."""
    try:
        args.key = load_key(args.key_file, allow_shared=args.allow_shared_key_file)
    except ValueError as exc:
        parser.error(str(exc))
    if args.max_connections is not None and args.max_connections < 1:
        parser.error(f"--max-connections must be at least 1, not {args.max_connections}")
    if not 0 <= args.shutdown_timeout < float("inf"):
        parser.error(f"--shutdown-timeout must be 0 or more seconds (0: running calls are stopped at once), "
                     f"not {args.shutdown_timeout}")
    if not args.idle_timeout > 0:
        parser.error(f"--idle-timeout must be a positive number of seconds, not {args.idle_timeout}")
    if args.dask and (args.processes is not None or args.max_memory is not None):
        parser.error("--processes and --max-memory size the local process pool; with --dask the Dask "
                     "workers run the calls (size them with dask's own options, e.g. --memory-limit)")
    if args.processes is not None and args.processes < 1:
        parser.error(f"--processes must be at least 1, not {args.processes}")
    args.processes = args.processes or len(os.sched_getaffinity(0))
    try:
        args.max_memory = parse_size(args.max_memory or DEFAULT_MAX_MEMORY)
        args.max_body = parse_size(args.max_body)
        args.function_store = parse_size(args.function_store)
        args.function_cache = parse_size(args.function_cache)
    except ValueError as exc:
        parser.error(str(exc))
    if args.max_body is None:
        parser.error("--max-body needs a size: the server must bound what it reads before checking it")
    if args.function_store is None or args.function_cache is None:
        parser.error("--function-store and --function-cache need a size: they bound memory")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0 to 65535, not {args.port}")
    origins = set()
    for origin in args.allow_origin:
        parts = urllib.parse.urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
                or parts.query or parts.fragment:
            parser.error(f"--allow-origin {origin!r}: give an origin, scheme://host[:port], "
                         "e.g. http://127.0.0.1:8000 (no path; '*' is not accepted)")
        origins.add(f"{parts.scheme}://{parts.netloc}")
    args.allow_origin = frozenset(origins)


def _url(host, port):
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}/"


def _make_backend(args):
    if args.dask:
        from .dask_backend import DaskBackend

        return DaskBackend(args.dask)
    from .process_pool import ProcessPool

    return ProcessPool(args.processes, args.max_memory, args.function_cache)


async def serve(args):
    max_connections, warning = plan_descriptors(args.max_connections, 0 if args.dask else args.processes)
    if warning:
        access_log.log_event("warning", message=warning)
    guard = ConnectionGuard(max_connections, args.idle_timeout)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(guard.exception_handler)
    backend = _make_backend(args)
    await backend.start()
    settings = app.Settings(args.key, backend, args.max_body, args.allow_origin, args.idle_timeout,
                            functions=FunctionStore(args.function_store))
    application = app.make_app(settings, outer_middlewares=[guard.middleware])
    # handler_cancellation: a client that disconnects cancels its call (queued or running).
    runner = web.AppRunner(application, access_log_class=access_log.JsonAccessLogger,
                           access_log=access_log.LOGGER, shutdown_timeout=args.shutdown_timeout or _STOP_AT_ONCE_S,
                           handler_cancellation=True, keepalive_timeout=args.idle_timeout)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.setup()
        site = GuardedSite(runner, guard, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        access_log.log_event("listening", host=args.host, port=port, backend=backend.name,
                             server_id=settings.server_id, max_connections=max_connections,
                             idle_timeout_s=args.idle_timeout,
                             max_body=format_size(args.max_body), allow_origins=sorted(args.allow_origin))
        print(f"webpickle server listening on {_url(args.host, port)}", flush=True)
        await stop.wait()
        access_log.log_event("stopping", waiting_up_to_s=args.shutdown_timeout)
        application[app.STOPPING].append(True)
    finally:
        await runner.cleanup()  # stops listening, then waits for the running calls
        await backend.close()
    access_log.log_event("stopped")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    access_log.configure()
    if args.host not in _LOOPBACK:
        access_log.log_event("warning", message=f"listening on {args.host}, beyond loopback: anyone who can "
                             "reach it and holds the key runs code here; put TLS in front of it")
    try:
        asyncio.run(serve(args))
    except (RuntimeError, OSError) as exc:
        print(f"webpickle server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
