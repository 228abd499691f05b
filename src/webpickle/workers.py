"""Run Python functions in parallel in Web Workers, each with its own Pyodide.

Inside Pyodide (a page, a worker such as JupyterLite's kernel, or Node)::

    from webpickle.workers import WorkerPool

    async with WorkerPool(2) as pool:
        r = await pool.submit(fn, *args, **kwargs)
        rs = await pool.map(fn, items, chunksize=1, timeout=None, progress=None)
        async for r in pool.imap_unordered(fn, items):
            ...

Functions, arguments, results and exceptions travel by value as webpickle
streams (_call.py: a pickled call, the same as the server's); protocol-5
buffers travel as transferred ArrayBuffers (_pool_buffers.py). The worker
side is _pool_worker.py; the JavaScript is bundled into the wheel and started
from Blob URLs (_pool_js.py), so the wheel is all a page needs; workers load
Pyodide from this Pyodide's indexURL and webpickle from wherever this Pyodide
installed it.

Pickle is code execution: workers run whatever this Pyodide sends them. Never
relay streams that came from anywhere else.
"""

import asyncio
import collections
import sys

from . import _call, _pool_buffers, _pool_js, _wheel_source
from ._batch import BatchMixin, check_positive_int, check_timeout
from ._function_cache import DEFAULT_CACHE_BYTES
from ._function_stream import DEFAULT_BIG_FUNCTION_BYTES, FunctionStream, pickle_function
from ._call import RemoteExceptionError, RemoteTraceback, WorkerCrashedError, WorkerError
from ._task_future import TaskFuture

__all__ = ["RemoteExceptionError", "RemoteTraceback", "WorkerCrashedError", "WorkerError", "WorkerPool",
           "WorkerStartError"]


class WorkerStartError(WorkerError):
    """No worker could start: Pyodide, webpickle or a requested package failed to load in it."""


# Buffers (and bytes) this runtime copied to and from JavaScript (see _pool_buffers).
stats = _pool_buffers.stats


def _sources(index_url, wheel_url):
    """Where workers get Pyodide and webpickle: from where this runtime got them."""
    import pyodide_js

    config = getattr(getattr(pyodide_js, "_api", None), "config", None)  # private: feature-detected
    options = {
        "indexURL": index_url or getattr(config, "indexURL", None) or pyodide_js.lockfileBaseUrl,
        # The same lock file, so packages=... resolve as they do here.
        "lockFileContents": pyodide_js.lockfile,
        "packageBaseUrl": pyodide_js.lockfileBaseUrl,
    }
    try:
        wheel = _wheel_source.loadable(_wheel_source.worker_wheel(wheel_url, *_wheel_source.installed_state()))
    except _wheel_source.WheelNotFoundError as exc:
        raise WorkerStartError(str(exc)) from None
    if wheel is not None:
        options["wheelURL"] = wheel
    return options


# -- the pool -------------------------------------------------------------------


class WorkerPool(BatchMixin):
    """A pool of Web Workers (worker threads under Node), each with its own Pyodide.

    size: number of workers (default: navigator.hardwareConcurrency, else 2).
    index_url: where workers load Pyodide from (default: this Pyodide's indexURL).
    packages: more Pyodide packages each worker loads, by name, as this
        Pyodide would (webpickle itself is always loaded).
    timeout: seconds a task may run (default None: no limit). A task past it
        (or a cancelled one) raises TimeoutError (CancelledError) at once and is
        interrupted: KeyboardInterrupt inside it, and its worker takes the next
        task. Interrupts need a SharedArrayBuffer (Node; a cross-origin
        isolated page); without one the worker is replaced.
    interrupt_grace: seconds an interrupted task may take to stop before its
        worker is replaced anyway (default 1.0; a task blocked in C code
        cannot be interrupted). 0: always replace.
    wheel_url: where workers load webpickle from (default: where this
        Pyodide installed it from, see _wheel_source); a query or fragment
        (micropip's "?sha256=...") is dropped.
    snapshot: start workers from one memory snapshot of a freshly booted
        Pyodide (default True): the first worker makes it, the others and
        every later pool and replacement restore it. Falls back to a normal
        start where Pyodide does not offer it (see stats).
    snapshot_cache: keep the snapshot across page loads in the browser's
        Cache Storage (True, the default; secure contexts only), not at all
        (False), or, under Node, in this directory (a str).
    cache: send each function once per worker (default True): a worker keeps
        the functions it loaded by the digest of their stream, and later calls
        carry the digest and their arguments only. Calls of one digest then
        share the loaded function's globals, as calls in one process do.
        False sends and loads the whole stream with every call (fresh
        globals per call, as cloudpickle does). map() takes cache= too.
    function_cache_bytes: bound of each worker's loaded functions, in bytes
        of their streams (least recently used first out; default 256 MiB).
    in_flight_per_worker: calls map() and imap_unordered() keep in flight per
        worker while they read the items (default 4).
    big_function_bytes: warn (once per function) when a function's stream is
        larger (default 4 MiB; None: never).

    Workers start at once; tasks queue until one is free.
    """

    def __init__(self, size=None, *, index_url=None, packages=(), timeout=None, wheel_url=None,
                 interrupt_grace=1.0, snapshot=True, snapshot_cache=True, cache=True,
                 function_cache_bytes=DEFAULT_CACHE_BYTES, in_flight_per_worker=4,
                 big_function_bytes=DEFAULT_BIG_FUNCTION_BYTES):
        if sys.platform != "emscripten":
            raise RuntimeError("webpickle.workers.WorkerPool runs inside Pyodide (a page, a worker or Node); "
                               "in CPython use concurrent.futures with webpickle instead")
        if size is not None and (not isinstance(size, int) or size < 1):
            raise ValueError(f"size must be a positive int or None, not {size!r}")
        self._timeout = check_timeout(timeout)
        self._size = size
        self._cache = bool(cache)
        self._in_flight_per_worker = check_positive_int("in_flight_per_worker", in_flight_per_worker)
        self._big_function_bytes = big_function_bytes
        self._js = self._client = self._on_settle_proxy = None  # set by _start
        self._closed = False
        self._waiting = []  # (future, payload, buffers, timeout, function) submitted before the JS pool existed
        self._futures = {}  # token -> future of each task sent and not settled
        self._next_token = 0
        options = _sources(index_url, wheel_url)
        options["packages"] = list(packages)
        options["functionCacheBytes"] = check_positive_int("function_cache_bytes", function_cache_bytes)
        if isinstance(interrupt_grace, bool) or not isinstance(interrupt_grace, (int, float)) or not interrupt_grace >= 0:
            raise ValueError(f"interrupt_grace must be a number of seconds >= 0, not {interrupt_grace!r}")
        options["interruptGrace"] = interrupt_grace * 1000
        options["snapshot"] = bool(snapshot)
        if not isinstance(snapshot_cache, (bool, str)):
            raise TypeError(f"snapshot_cache must be True, False or a directory (str), not {snapshot_cache!r}")
        options["snapshotCache"] = snapshot_cache
        if size is not None:
            options["size"] = size
        self._started = asyncio.ensure_future(self._start(options))
        self._started.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "never retrieved"

    async def _start(self, options):
        import js
        from pyodide.ffi import JsException, create_proxy, to_js

        try:
            module, options["workerURL"] = await _pool_js.load()
            if self._closed:
                return
            self._js = module.WorkerPool.new(to_js(options, dict_converter=js.Object.fromEntries))
            self._on_settle_proxy = create_proxy(self._on_settle)
            self._client = module.PythonClient.new(self._js, self._on_settle_proxy)
        except BaseException as exc:
            # Without a JS pool nothing will ever run the waiting tasks: end them.
            for future, *_ in self._waiting:
                if not future.done():
                    future.set_exception(WorkerStartError(f"the worker pool could not be created: {exc!r}"))
            self._waiting.clear()
            raise
        for task in self._waiting:
            self._send(*task)
        self._waiting.clear()
        try:
            await self._js.ready
        except JsException as exc:
            raise (_python_error(exc.name, exc.message) or asyncio.CancelledError()) from None

    async def ready(self):
        """Wait until every worker has started; raises WorkerStartError if one could not."""
        await asyncio.shield(self._started)

    @property
    def workers(self):
        """One dict per worker: index, state (starting, idle, busy, stopping, failed), ready_s (its start-up time)."""
        if self._js is None:
            return []
        return [{"index": w.index, "state": w.state, "ready_s": None if w.readyMs is None else w.readyMs / 1000}
                for w in self._js.workers]

    @property
    def stats(self):
        """How the workers started and how they are stopped (None until the JS pool exists).

        {"snapshot": {"use", "reason", "bytes"}, "interrupt": {"available",
        "reason", "grace_s"}, "workers": [{"index", "ready_s", "snapshot",
        "reason", "heap_bytes"}], "posted": {"calls", "payload_bytes",
        "functions", "function_bytes", "function_misses"}}; snapshot use is
        "made", "restored", "from cache", "not used" (reason says why) or
        "pending". posted: what the pool posted to its workers: calls and the
        bytes of their own streams and buffers, function streams sent to a
        worker that did not have them loaded, and calls sent again with their
        function because a worker had evicted it.
        """
        if self._js is None:
            return None
        from pyodide.ffi import jsnull

        def py(value):  # JS null is pyodide.ffi.jsnull in Python, not None
            return None if value is jsnull else value

        js_stats = self._js.stats
        snapshot, interrupt, posted = js_stats.snapshot, js_stats.interrupt, js_stats.posted
        return {
            "posted": {"calls": posted.calls, "payload_bytes": posted.payloadBytes, "functions": posted.functions,
                       "function_bytes": posted.functionBytes, "function_misses": posted.functionMisses},
            "snapshot": {"use": snapshot.use, "reason": py(snapshot.reason), "bytes": py(snapshot.bytes)},
            "interrupt": {"available": interrupt.available, "reason": py(interrupt.reason),
                          "grace_s": interrupt.graceMs / 1000},
            "workers": [{"index": w.index, "ready_s": None if py(w.ms) is None else w.ms / 1000,
                         "snapshot": py(w.snapshot), "reason": py(w.reason), "heap_bytes": py(w.heapBytes)}
                        for w in js_stats.workers],
        }

    def submit(self, fn, /, *args, **kwargs):
        """Run fn(*args, **kwargs) in a worker; returns an asyncio future of its result.

        Cancelling the future drops a queued task, and interrupts a running
        one (see interrupt_grace). The awaiting coroutine wakes as soon as
        the reply arrives, without waiting for an event-loop step; to call
        pyodide.ffi.run_sync right after, `await asyncio.sleep(0)` first.
        """
        return self._submit(fn, args, kwargs, self._timeout)

    def _submit(self, fn, args, kwargs, timeout, cache=None):
        """Send fn(*args, **kwargs); fn is a callable or a FunctionStream pickled already (by map).
        cache: send a callable's stream apart, once per worker, or all in one stream (None: the pool's)."""
        if self._closed:
            raise RuntimeError("cannot submit to a WorkerPool after shutdown()")
        if self._js is None and self._started.done() and not self._started.cancelled():
            raise WorkerStartError(f"the worker pool could not be created: {self._started.exception()!r}")
        future = TaskFuture(asyncio.get_event_loop())
        take_buffer = self._js.takeBuffer if self._js else None
        try:
            if (self._cache if cache is None else cache) and not isinstance(fn, FunctionStream):
                fn = pickle_function(fn, self._big_function_bytes)
            if isinstance(fn, FunctionStream):
                function = _function_carrier(fn, self._js.functionBuffer if self._js else None)
                payload, buffers = _pool_buffers.dumps((args, kwargs), take_buffer)
            else:
                function = None
                payload, buffers = _pool_buffers.dumps((fn, args, kwargs), take_buffer)
        except Exception as exc:
            future.set_exception(exc)
            return future
        if self._js is None:
            self._waiting.append((future, payload, buffers, timeout, function))
        else:
            self._send(future, payload, buffers, timeout, function)
        return future

    def _send(self, future, payload, buffers, timeout, function):
        from pyodide.ffi import to_js

        if future.done():  # cancelled while waiting for the JS pool
            return
        token = self._next_token = self._next_token + 1
        self._futures[token] = future
        self._client.submit(token, payload, to_js(buffers) if buffers else None,
                            None if timeout is None else timeout * 1000, function)
        future._on_cancel = lambda: self._client and self._client.cancel(token)

    def _on_settle(self, settlement):
        """bridge.mjs reports the end of a task: a reply, or the pool's error (a Settlement, protocol.mjs)."""
        future = self._futures.pop(settlement.token, None)
        if settlement.errorName is not None:
            problem = _python_error(settlement.errorName, settlement.errorMessage)
            if future is not None and not future.done():
                future.cancel() if problem is None else future.set_exception(problem)
            return
        buffers = settlement.buffers
        try:
            if future is None or future.done():
                return
            try:
                value = _pool_buffers.loads(settlement.payload, buffers)
            except Exception as exc:
                future.set_exception(WorkerError(f"the task's reply could not be unpickled here: {exc!r}"))
                return
            if settlement.raised:
                future.set_exception(_call.raised_exception(value))
            else:
                future.set_result(value)
        finally:
            if buffers:
                self._js.recycle(buffers)  # their memory serves the next big arguments

    def _in_flight_limit(self):
        size = self._js.size if self._js is not None else self._size or 2
        return size * self._in_flight_per_worker

    def _new_future(self):
        return TaskFuture(asyncio.get_event_loop())

    def _submit_call(self, fn, args, timeout, on_finish):
        """One call of map() or imap_unordered() (see _batch.BatchMixin)."""
        future = self._submit(fn, args, {}, timeout, cache=False)  # fn is a FunctionStream when cached
        if on_finish is not None:
            if future.done():  # its pickling failed: counted as finished
                on_finish()
            else:
                future._on_finish = on_finish
        return future

    def shutdown(self):
        """Stop every worker now; tasks not finished are cancelled."""
        self._closed = True
        self._started.cancel()
        if self._client is not None:
            self._client.close()  # no more calls into the proxy destroyed below
            self._client = None
            self._js.terminate()
            self._on_settle_proxy.destroy()
        for future in [*self._futures.values(), *(task[0] for task in self._waiting)]:
            future.cancel()
        self._futures.clear()
        self._waiting.clear()

    async def __aenter__(self):
        try:
            await self.ready()
        except BaseException:
            self.shutdown()
            raise
        return self

    async def __aexit__(self, exc_type, exc, tb):
        # Leaving normally waits for what was submitted; leaving on an error does not.
        pending = [f for f in [*self._futures.values(), *(t[0] for t in self._waiting)] if not f.done()]
        if exc_type is None and pending:
            await asyncio.gather(*pending, return_exceptions=True)
        self.shutdown()


# The JS copies of the functions submitted last, by digest: repeated submit()s of one function
# pickle it again (a change must be caught) but need not copy it out again.
_recent_carriers = collections.OrderedDict()
_RECENT_CARRIERS = 8


def _function_carrier(pickled, function_buffer=None):
    """The function as pool.call()'s JS fn, {digest, stream}: made once per FunctionStream (a map's
    calls share it) and reused by the next FunctionStreams of the same digest. function_buffer(n)
    (pool.mjs) gives the Uint8Array the stream is copied into: memory the workers share where
    this page may share it (None, before the JS pool exists: a plain Uint8Array)."""
    import js

    if pickled.carrier is None:
        carrier = _recent_carriers.pop(pickled.digest, None)
        if carrier is None:
            stream = (function_buffer or js.Uint8Array.new)(len(pickled.stream))
            stream.assign(pickled.stream)
            carrier = js.Object.new()
            carrier.digest, carrier.stream = pickled.digest, stream
        pickled.carrier = carrier
        _recent_carriers[pickled.digest] = carrier
        if len(_recent_carriers) > _RECENT_CARRIERS:
            _recent_carriers.popitem(last=False)
    return pickled.carrier


def _python_error(name, message):
    """The Python exception for the pool's rejection of a task (None: the task was cancelled)."""
    if name in ("AbortError", "PoolTerminatedError"):
        return None
    kind = {"TimeoutError": TimeoutError, "WorkerCrashedError": WorkerCrashedError,
            "WorkerStartError": WorkerStartError}.get(name)
    return kind(message) if kind else WorkerError(f"{name}: {message}")
