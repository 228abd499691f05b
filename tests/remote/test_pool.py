"""The process pool in this process: it keeps its size when replacements fail to start,
and says so on /health meanwhile."""

import asyncio
import errno
import os
import pickle
import signal
import time

from aiohttp.test_utils import TestClient, TestServer

import webpickle
from remote_support import KEY, run
from webpickle import _signing
from webpickle.server import app, functions, process_pool


async def until(predicate, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.01)


def test_a_replacement_that_cannot_start_is_retried_and_shown_until_it_starts(monkeypatch):
    real_start = process_pool._Child.start
    descriptors_back = None

    async def start_when_descriptors_are_back(*cap):
        if not descriptors_back.is_set():
            raise OSError(errno.EMFILE, "Too many open files")
        return await real_start(*cap)

    async def main():
        nonlocal descriptors_back
        descriptors_back = asyncio.Event()
        pool = process_pool.ProcessPool(1)
        await pool.start()
        try:
            monkeypatch.setattr(process_pool._Child, "start", start_when_descriptors_are_back)
            monkeypatch.setattr(process_pool, "RESTART_DELAYS_S", (0.05,))
            [pid] = pool.pids()
            assert pool.problems() == []
            os.kill(pid, signal.SIGKILL)  # while idle: noticed without a call
            await until(lambda: pool.problems(), what="the failed replacement")
            [problem] = pool.problems()
            assert "1 of 1 worker processes are missing" in problem and "Too many open files" in problem
            descriptors_back.set()
            await until(lambda: len(pool.pids()) == 1 and not pool.problems(), what="the replacement")
            assert pool.pids() != [pid]
            raised, stream = await pool.run(webpickle.dumps((abs, (-5,), {})), 60)
            return raised, pickle.loads(stream)
        finally:
            await pool.close()

    assert run(main()) == (False, 5)


def test_a_call_reaches_its_worker_process_in_one_write_and_a_large_one_whole():
    """Each write to the pipe wakes the worker process that waits on it: a call's frame goes
    in one write, whatever its parts (kind, digest, function stream, arguments), unless it
    is large; a large one arrives whole too."""

    async def main():
        pool = process_pool.ProcessPool(1)
        await pool.start()
        try:
            [child] = pool._children
            writes = []
            write = child.process.stdin.write
            child.process.stdin.write = lambda data: (writes.append(len(data)), write(data))[1]
            stream = webpickle.dumps(len)
            function = (functions.digest_of(stream), stream)
            outcomes = [await pool.run(webpickle.dumps((abs, (-5,), {})), 60),  # whole
                        await pool.run(webpickle.dumps(((b"ab",), {})), 60, function),  # with its stream
                        await pool.run(webpickle.dumps(((b"abc",), {})), 60, function)]  # by digest
            small_writes, writes[:] = list(writes), []
            big = bytes(process_pool._JOINED_FRAME_BYTES)
            outcomes.append(await pool.run(webpickle.dumps(((big,), {})), 60, function))
            return [(raised, pickle.loads(reply)) for raised, reply in outcomes], small_writes, writes
        finally:
            await pool.close()

    outcomes, small_writes, large_writes = run(main())
    assert outcomes == [(False, 5), (False, 2), (False, 3), (False, process_pool._JOINED_FRAME_BYTES)]
    assert len(small_writes) == 3, f"one write per call expected, got writes of {small_writes} bytes"
    assert len(large_writes) > 1 and sum(large_writes) > process_pool._JOINED_FRAME_BYTES


class _DegradedBackend:
    name = "fake"

    def problems(self):
        return ["1 of 2 worker processes are missing: starting a replacement failed (Too many open files); "
                "retrying"]


def test_health_says_degraded_with_the_reason():
    async def main():
        settings = app.Settings(_signing.key_bytes(KEY), _DegradedBackend(), 1000)
        async with TestClient(TestServer(app.make_app(settings))) as client:
            response = await client.get("/health")
            return await response.json()

    answer = run(main())
    assert answer["status"] == "degraded"
    assert answer["problems"] == _DegradedBackend().problems()
    assert _signing.server_id_is_well_formed(answer["server_id"])
