"""The --dask backend: each call is one task on a dask.distributed cluster.

The task is runner.run_call_task(body): the request body travels as bytes
and is unpickled only on the Dask worker that runs it, so the Dask workers
need webpickle and the server's Python minor version. When a worker dies
mid-task, Dask's scheduler runs the task again on another worker, up to its
`distributed.scheduler.allowed-failures` setting (3 by default); past that
the call fails with KilledWorker, reported here as WorkerCrashedError.
Dask cannot stop a running task: a call past its timeout is answered 504
and released, but may run on to its end on the worker.

A call by digest (functions.py) is a task of runner.run_frame_task on the
frame a worker process of the local pool would get: the first call of a
digest carries the function's stream, later ones the digest only (unless the
stream is small: below SCATTER_ABOVE_BYTES it goes with every call, which
costs less than a miss and spares the cluster the extra tasks); a Dask
worker process keeps the functions it loaded (as Dask's workers keep the
functions of their tasks loaded), and one that has not loaded it answers
MISSING, upon which the call is submitted again with the stream. (Scattering
the stream instead would tie every call to the workers holding it: a call
whose worker died waited for ever on data that went with it.)
"""

import asyncio
import collections
import uuid

from .access_log import adopt, log_event
from .backend import CallFailed
from .functions import MISSING, RAISED, call_by_digest
from .runner import run_call_task, run_frame_task

CONNECT_TIMEOUT_S = 30
DIGESTS_REMEMBERED = 1024  # functions whose first call was sent (later ones go without the stream)
# Bodies past this go to a worker with scatter() rather than inside the task
# (through the scheduler), as Dask advises for large arguments.
SCATTER_ABOVE_BYTES = 1 << 20


class DaskBackend:
    name = "dask"

    def __init__(self, address):
        self.address = address
        self._client = None
        self._sent = collections.OrderedDict()  # digests whose stream went with a call

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

    async def run(self, payload, timeout, function=None):
        if function is None:
            return await self._run_task(run_call_task, payload, timeout)
        digest, stream = function
        carry = digest not in self._sent or len(stream) <= SCATTER_ABOVE_BYTES
        self._sent[digest] = None
        self._sent.move_to_end(digest)
        if len(self._sent) > DIGESTS_REMEMBERED:
            self._sent.popitem(last=False)
        frame = b"".join(call_by_digest(digest, stream if carry else None, payload))
        status, reply = await self._run_task(run_frame_task, frame, timeout)
        if status == MISSING:  # a worker process that has not loaded it: nothing ran
            frame = b"".join(call_by_digest(digest, stream, payload))
            status, reply = await self._run_task(run_frame_task, frame, timeout)
        if status == MISSING:
            raise CallFailed(500, "DaskError", "a Dask worker did not load a function it was sent")
        return status == RAISED, reply

    async def _run_task(self, task, payload, timeout):
        """task(payload) on the cluster; its return value. Raises CallFailed."""
        from distributed import KilledWorker

        argument = payload
        if len(payload) > SCATTER_ABOVE_BYTES:
            argument = await self._client.scatter(payload, hash=False)
        future = self._client.submit(task, argument, pure=False, key=f"webpickle-call-{uuid.uuid4().hex}")
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
