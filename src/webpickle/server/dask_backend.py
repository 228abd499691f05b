"""The --dask backend: each call is one task on a dask.distributed cluster.

The task is runner.run_call_task(body): the request body travels as bytes
and is unpickled only on the Dask worker that runs it, so the Dask workers
need webpickle and the server's Python minor version. When a worker dies
mid-task, Dask's scheduler runs the task again on another worker, up to its
`distributed.scheduler.allowed-failures` setting (3 by default); past that
the call fails with KilledWorker, reported here as WorkerCrashedError.
Dask cannot stop a running task: a call past its timeout is answered 504
and released, but may run on to its end on the worker.
"""

import asyncio
import uuid

from .access_log import adopt, log_event
from .backend import CallFailed
from .runner import run_call_task

CONNECT_TIMEOUT_S = 30
# Bodies past this go to a worker with scatter() rather than inside the task
# (through the scheduler), as Dask advises for large arguments.
SCATTER_ABOVE_BYTES = 1 << 20


class DaskBackend:
    name = "dask"

    def __init__(self, address):
        self.address = address
        self._client = None

    async def start(self):
        try:
            from distributed import Client
        except ImportError as exc:
            raise RuntimeError(f"--dask needs dask.distributed, which does not import here: {exc}") from None
        for name in ("distributed", "distributed.client"):  # importing it gave them plain-text handlers
            adopt(name)
        try:
            self._client = await Client(self.address, asynchronous=True, timeout=CONNECT_TIMEOUT_S,
                                        set_as_default=False)
        except OSError as exc:
            raise RuntimeError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        workers = self._client.scheduler_info().get("workers", {})
        log_event("dask_connected", scheduler=self.address, workers=len(workers))

    async def run(self, payload, timeout):
        from distributed import KilledWorker

        argument = payload
        if len(payload) > SCATTER_ABOVE_BYTES:
            argument = await self._client.scatter(payload, hash=False)
        future = self._client.submit(run_call_task, argument, pure=False, key=f"webpickle-call-{uuid.uuid4().hex}")
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise CallFailed(504, "TimeoutError",
                             f"the call ran past its timeout of {timeout:g} s; it was released, but Dask cannot "
                             "stop a running task, so it may still run to its end on its worker") from None
        except KilledWorker as exc:
            raise CallFailed(500, "WorkerCrashedError",
                             f"the Dask workers running the call died (Dask's KilledWorker: {exc}); the "
                             "scheduler gave up after its allowed-failures retries") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # run_call_task never raises: this is Dask failing to run it at all.
            raise CallFailed(500, "DaskError",
                             f"Dask could not run the call: {type(exc).__name__}: {exc} (do the Dask workers "
                             "have webpickle and this server's Python version?)") from None
        finally:
            future.release()
            if argument is not payload:
                argument.release()

    async def close(self):
        if self._client is not None:
            await self._client.close()
        log_event("dask_closed")
