"""webpickle.remote.RemotePoolExecutor: the server as a concurrent.futures.Executor.

Code written for ProcessPoolExecutor switches with one line::

    with RemotePoolExecutor("http://127.0.0.1:8765/", key) as pool:   # was ProcessPoolExecutor()
        future = pool.submit(fn, *args)          # a concurrent.futures.Future
        results = list(pool.map(fn, items, timeout=60, chunksize=10))

Calls go through an asyncio RemoteExecutor running on an event loop in a
thread of its own; submit() and map() never block on the network. As in
ProcessPoolExecutor, at most max_workers calls run at once (they are "running"
once sent); the rest wait here, where cancel() and shutdown(cancel_futures=True)
drop them. CPython only: Pyodide has no threads to wait on (use RemoteExecutor).
"""

import asyncio
import concurrent.futures
import itertools
import sys
import threading

from . import _call
from ._batch import check_timeout
from ._grouped_calls import call_with_each

# Seconds the constructor waits for the server's health check.
_READY_TIMEOUT_S = 60
_DEFAULT_MAX_WORKERS = 32  # the asyncio RemoteExecutor's default concurrency in CPython


class RemotePoolExecutor(concurrent.futures.Executor):
    """Calls on a webpickle server at url, signed with key, as a concurrent.futures.Executor.

    max_workers: calls sent at once (default 32); more wait here until one
        finishes. The server's --processes bounds how many run in parallel there.
    timeout: seconds a call may run on the server (default None: no limit);
        past it the call's future raises TimeoutError. (map's timeout is
        ProcessPoolExecutor's: how long the caller waits for the results.)

    The constructor checks that the server answers and runs this Python minor
    version (RemoteError, VersionMismatchError otherwise).
    """

    def __init__(self, url, key, max_workers=None, *, timeout=None):
        if sys.platform == "emscripten":
            raise RuntimeError("RemotePoolExecutor waits on threads, which Pyodide does not have: "
                               "use webpickle.remote.RemoteExecutor (asyncio) there")
        from .remote import RemoteExecutor

        if max_workers is None:
            max_workers = _DEFAULT_MAX_WORKERS
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int or None, not {max_workers!r}")
        self._max_workers = max_workers
        check_timeout(timeout)
        self._lock = threading.Lock()
        self._waiting = set()  # futures submitted and not yet sent
        self._shutdown = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="webpickle-remote-pool", daemon=True)
        self._thread.start()
        self._tasks = set()  # loop side: one per call not finished

        async def connect():
            self._slots = asyncio.Semaphore(max_workers)
            remote = RemoteExecutor(url, key, timeout=timeout, concurrency=max_workers)
            try:
                await remote.ready()
            except BaseException:
                await remote.close()
                raise
            return remote

        try:
            self._remote = self._run(connect(), _READY_TIMEOUT_S)
        except BaseException:
            self._stop_loop()
            raise
        self.url = self._remote.url

    def __repr__(self):  # never the key
        return f"<RemotePoolExecutor {self.url}>"

    def _serve(self):  # the thread's body
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def _run(self, coroutine, timeout=None):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def submit(self, fn, /, *args, **kwargs):
        """Run fn(*args, **kwargs) on the server; returns a concurrent.futures.Future of its result."""
        future = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._waiting.add(future)
            self._loop.call_soon_threadsafe(self._start, future, fn, args, kwargs)
        future.add_done_callback(self._on_done)
        return future

    def _take_waiting(self, future):
        """Remove future from the waiting ones; True if this caller did (it then owns its start or end)."""
        with self._lock:
            if future not in self._waiting:
                return False
            self._waiting.discard(future)
            return True

    def _on_done(self, future):
        # A call cancelled while it waits is settled now (concurrent.futures.wait() and
        # as_completed() see it done), not when a slot frees up.
        if future.cancelled() and self._take_waiting(future):
            future.set_running_or_notify_cancel()

    def _start(self, future, fn, args, kwargs):  # in the loop's thread
        task = self._loop.create_task(self._call(future, fn, args, kwargs))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, future, fn, args, kwargs):
        async with self._slots:
            if not self._take_waiting(future) or not future.set_running_or_notify_cancel():
                return  # cancelled while it waited
            try:
                result = await self._remote.submit(fn, *args, **kwargs)
            except BaseException as exc:  # a SystemExit raised remotely belongs to the caller, not to this loop
                future.set_exception(_call.carried(exc) if not isinstance(exc, asyncio.CancelledError)
                                     else RuntimeError("the call was stopped by shutdown()"))
            else:
                future.set_result(result)

    def map(self, fn, *iterables, timeout=None, chunksize=1, buffersize=None):
        """fn over the items of iterables (as the builtin map), computed on the server; results in order.

        timeout: seconds, from this call, that the iterator waits for results
        (TimeoutError past it). chunksize: items per call (one request, one
        process on the server). buffersize as Executor.map's (3.14).
        """
        if not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"chunksize must be a positive int, not {chunksize!r}")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout, buffersize=buffersize)
        arguments = zip(*iterables)
        chunks = iter(lambda: tuple(itertools.islice(arguments, chunksize)), ())
        results = super().map(call_with_each, itertools.repeat(fn), chunks, timeout=timeout, buffersize=buffersize)
        return itertools.chain.from_iterable(results)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Refuse new calls; cancel_futures=True cancels those not yet sent; wait=True waits for the
        rest to finish. The thread and the connections end once every call has."""
        with self._lock:
            already = self._shutdown
            self._shutdown = True
            waiting = list(self._waiting) if cancel_futures else []
        for future in waiting:
            future.cancel()
        if not already:
            asyncio.run_coroutine_threadsafe(self._finish(), self._loop)
        if wait:
            self._thread.join()

    async def _finish(self):
        # Every submit's _start ran before this coroutine (queued first, under the lock): its task exists.
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._remote.close()
        self._loop.stop()

    def _stop_loop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
