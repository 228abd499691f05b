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
from webpickle.server import app, process_pool


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
