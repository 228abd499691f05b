"""joblib backends: Parallel(...)(delayed(f)(x) ...) on webpickle's workers or server.

Importing this module registers two backends::

    import joblib, webpickle.joblib

    # In Pyodide: a pool of Web Workers (keywords: WorkerPool's options)
    with joblib.parallel_config(backend="webpickle-workers", n_jobs=4):
        squares = joblib.Parallel()(joblib.delayed(f)(i) for i in range(100))

    # Natively or in Pyodide: a webpickle server
    with joblib.parallel_config(backend="webpickle-remote", n_jobs=8, url=url, key=key):
        ...

Each batch of joblib's travels as one plain call of
webpickle._grouped_calls.run_calls: workers and the server need no joblib.
joblib's Parallel call is synchronous. Natively, results come from the
RemotePoolExecutor's threads; in Pyodide, which has no threads, the backend
waits with stack switching (pyodide.ffi.run_sync): that needs JSPI in the
JavaScript runtime and Python entered asynchronously (runPythonAsync, an async
function, or a loop step), and the backend says which of the two is missing.

Results are fetched by the caller, in order, so return_as="list" and
"generator" work and "generator_unordered" is refused; Parallel's timeout
applies to each batch; n_jobs=-1 is every core for workers
(navigator.hardwareConcurrency) and the client's concurrency limit for the server.
"""

import asyncio
import sys
import threading
import weakref

import joblib
from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase

from ._grouped_calls import run_calls

__all__ = ["REMOTE_BACKEND", "WORKERS_BACKEND", "WebpickleRemoteBackend", "WebpickleWorkersBackend"]

WORKERS_BACKEND = "webpickle-workers"
REMOTE_BACKEND = "webpickle-remote"


def _in_pyodide():
    return sys.platform == "emscripten"


# -- waiting for an asyncio future from synchronous code, in Pyodide ------------


def check_can_wait():
    """Raise, saying what is missing, unless this Python stack can block on a JS promise."""
    from pyodide.ffi import can_run_sync

    if can_run_sync():
        return
    import js

    if getattr(js.WebAssembly, "Suspending", None) is None:
        raise RuntimeError(
            "joblib's webpickle backends wait for results with WebAssembly stack switching (JSPI), which this "
            "JavaScript runtime lacks (no WebAssembly.Suspending): Chromium 156 and Node 24 have it")
    raise RuntimeError(
        "joblib's webpickle backends wait for results with pyodide.ffi.run_sync, which works only when Python "
        "was entered asynchronously: run this code with pyodide.runPythonAsync (not runPython), or from an "
        "async function; right after `await` on a worker's result, `await asyncio.sleep(0)` first")


def _wait_for_asyncio(future, timeout):
    from pyodide.ffi import run_sync

    # Shielded: a timed-out wait leaves the call running; joblib then aborts what it wants stopped.
    return run_sync(asyncio.wait_for(asyncio.shield(future), timeout))


def _wait_for_concurrent(future, timeout):
    return future.result(timeout)


class _Job:
    """One batch sent: joblib's callback runs once when it ends, at the latest when its result is fetched
    (in Pyodide the caller may fetch it before the loop runs the future's done-callbacks)."""

    def __init__(self, future, callback, wait):
        self.future = future
        self._callback = callback
        self._wait = wait
        self._lock = threading.Lock()
        self._reported = False
        future.add_done_callback(self._report)

    def _report(self, _future=None):
        with self._lock:
            if self._reported or self.future.cancelled():
                return
            self._reported = True
        if self._callback is not None:
            self._callback(self)

    def result(self, timeout=None):
        try:
            return self._wait(self.future, timeout)
        finally:
            if self.future.done():
                self._report()

    def cancel(self):
        self.future.cancel()


# -- the backends ----------------------------------------------------------------


class _WebpickleBackend(AutoBatchingMixin, ParallelBackendBase):
    """What both backends share: plain calls out, results fetched by the caller, an executor kept
    for the backend's life (a parallel_config block) and resized when n_jobs changes."""

    supports_retrieve_callback = False  # the caller fetches results: Pyodide has no callback thread
    supports_return_generator = True
    supports_timeout = True
    supports_sharedmem = False
    uses_threads = False

    def __init__(self, nesting_level=None, inner_max_num_threads=None, **options):
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self._options = options
        self._executor = None
        self._executor_jobs = None
        self._jobs = weakref.WeakSet()
        self._finalizer = None

    def configure(self, n_jobs=1, parallel=None, prefer=None, require=None, **parallel_options):
        if parallel is not None and parallel.return_as == "generator_unordered":
            raise ValueError(f"the {self.name} backend returns results in order: use return_as='generator' "
                             "or 'list', not 'generator_unordered'")
        n_jobs = self.effective_n_jobs(n_jobs)
        if _in_pyodide():
            check_can_wait()
        if self._executor is None or self._executor_jobs != n_jobs:
            self._close_executor()
            self._executor = self._make_executor(n_jobs)
            self._executor_jobs = n_jobs
            self._finalizer = weakref.finalize(self, type(self)._close, self._executor)  # no reference to self
        self.parallel = parallel
        return n_jobs

    def effective_n_jobs(self, n_jobs):
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            return 1
        if n_jobs < 0:
            return max(self._all_jobs() + 1 + n_jobs, 1)
        return n_jobs

    def submit(self, func, callback=None):
        # func is joblib's BatchedCalls: its (fn, args, kwargs) items travel without it.
        future = self._submit(run_calls, [tuple(item) for item in func.items])
        job = _Job(future, callback, _wait_for_asyncio if _in_pyodide() else _wait_for_concurrent)
        self._jobs.add(job)
        return job

    def retrieve_result(self, out, timeout=None):
        return out.result(timeout)

    def abort_everything(self, ensure_ready=True):
        for job in list(self._jobs):
            job.cancel()
        if not ensure_ready:
            self._close_executor()

    def terminate(self):
        # The executor stays for the next Parallel call of this backend (workers take seconds to start);
        # it ends with the backend (the parallel_config block) or at abort_everything(ensure_ready=False).
        self.reset_batch_stats()

    def _close_executor(self):
        if self._finalizer is not None:
            self._finalizer()
        self._executor = self._executor_jobs = self._finalizer = None


class WebpickleWorkersBackend(_WebpickleBackend):
    """joblib on a webpickle.workers.WorkerPool of n_jobs workers (Pyodide only).

    Keywords (of parallel_config or the constructor): WorkerPool's index_url,
    packages, timeout (per batch, seconds), wheel_url.
    """

    name = WORKERS_BACKEND

    def __init__(self, nesting_level=None, inner_max_num_threads=None, **options):
        unknown = set(options) - {"index_url", "packages", "timeout", "wheel_url"}
        if unknown:
            raise TypeError(f"unknown options for the {WORKERS_BACKEND} backend: {sorted(unknown)}; "
                            "it takes WorkerPool's index_url, packages, timeout and wheel_url")
        super().__init__(nesting_level, inner_max_num_threads, **options)

    def _all_jobs(self):
        import js

        cores = getattr(getattr(js, "navigator", None), "hardwareConcurrency", None)
        return cores if isinstance(cores, int) and cores > 0 else 2

    def _make_executor(self, n_jobs):
        if not _in_pyodide():
            raise RuntimeError(f"the {WORKERS_BACKEND} joblib backend runs inside Pyodide; natively use "
                               f"{REMOTE_BACKEND} (a webpickle server) or joblib's own process backends")
        from .workers import WorkerPool

        return WorkerPool(n_jobs, **self._options)

    def _submit(self, fn, *args):
        return self._executor.submit(fn, *args)

    @staticmethod
    def _close(pool):
        pool.shutdown()


class WebpickleRemoteBackend(_WebpickleBackend):
    """joblib on a webpickle server (natively or in Pyodide), n_jobs calls at once.

    Keywords (of parallel_config or the constructor): url and key (required),
    timeout (per batch, seconds, enforced by the server).
    """

    name = REMOTE_BACKEND

    def __init__(self, nesting_level=None, inner_max_num_threads=None, **options):
        unknown = set(options) - {"url", "key", "timeout"}
        if unknown:
            raise TypeError(f"unknown options for the {REMOTE_BACKEND} backend: {sorted(unknown)}; "
                            "it takes url, key and timeout")
        super().__init__(nesting_level, inner_max_num_threads, **options)

    def _all_jobs(self):
        return 6 if _in_pyodide() else 32  # RemoteExecutor's concurrency defaults

    def _make_executor(self, n_jobs):
        options = dict(self._options)
        if not options.get("url") or not options.get("key"):
            raise ValueError(f"the {REMOTE_BACKEND} backend needs the server's url and key: "
                             f"joblib.parallel_config(backend={REMOTE_BACKEND!r}, url=..., key=...)")
        if not _in_pyodide():
            from .remote import RemotePoolExecutor

            return RemotePoolExecutor(options.pop("url"), options.pop("key"), n_jobs, **options)
        from pyodide.ffi import run_sync

        from .remote import RemoteExecutor

        executor = RemoteExecutor(options.pop("url"), options.pop("key"), concurrency=n_jobs, **options)
        run_sync(executor.ready())
        return executor

    def _submit(self, fn, *args):
        return self._executor.submit(fn, *args)

    @staticmethod
    def _close(executor):
        if _in_pyodide():
            executor.shutdown()  # no more calls; its fetch connections are the browser's
        else:
            executor.shutdown(wait=False, cancel_futures=True)


joblib.register_parallel_backend(WORKERS_BACKEND, WebpickleWorkersBackend)
joblib.register_parallel_backend(REMOTE_BACKEND, WebpickleRemoteBackend)
