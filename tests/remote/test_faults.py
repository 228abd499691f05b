"""Calls that kill or exhaust their worker process, time out, or exit: each fails alone.

One server with three worker processes, each capped at 512MB: the faulty call
runs beside two healthy ones, which must succeed, and the calls after it must
succeed too (on a replacement process when the old one died). Each test starts
once the pool has its three processes again, so each passes alone and in any order.
"""

import asyncio
import os
import sys
import time

import pytest

import webpickle
from gates import held_call
from remote_support import KEY, Server, run, wait_until_async
from webpickle.remote import RemoteExecutor, RemoteWorkerCrashedError

webpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def pool_server(key_file, log_dir):
    running = Server(key_file, "--processes", "3", "--max-memory", "512MB", log_dir=log_dir)
    yield running
    running.stop()


def held_pid(started, gate):
    """Runs on the server: holds its process until the test creates the file gate (see
    held_call), then returns its pid."""
    held_call(started, gate)
    return os.getpid()


def segfault():
    import ctypes

    ctypes.string_at(0)  # reads address 0: SIGSEGV


def hog_memory():
    chunks = []
    while True:
        chunks.append(bytearray(16 * 2**20))  # 16MiB at a time, touched: real memory


def kill_own_process():
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


async def beside_healthy_calls(executor, faulty, folder):
    """Run faulty() while two healthy calls hold the other two processes; returns
    (the faulty call's exception, the healthy calls' pids)."""
    gate, started = folder / "gate", [folder / f"started-{i}" for i in range(2)]
    healthy = [executor.submit(held_pid, str(path), str(gate)) for path in started]
    await wait_until_async(lambda: all(path.exists() for path in started), what="two healthy calls running")
    outcome = await asyncio.gather(executor.submit(faulty), return_exceptions=True)
    gate.touch()
    pids = await asyncio.gather(*healthy)
    return outcome[0], pids


def check_fault(server, faulty, expected_type, message, folder):
    before = wait_for_pool(server, 3)  # a process lost by an earlier test may still be being replaced

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            exc, pids = await beside_healthy_calls(executor, faulty, folder)
            after = await executor.map(lambda x: (x, os.getpid()), range(6))
            return exc, pids, after

    exc, pids, after = run(main())
    assert isinstance(exc, expected_type), repr(exc)
    assert message in str(exc), str(exc)
    assert all(pid in before for pid in pids)  # the neighbours ran in processes that existed before
    assert [x for x, _ in after] == list(range(6))  # and the next calls all succeed
    return exc, before


def test_a_segfault_fails_only_its_call_and_the_process_is_replaced(pool_server, tmp_path):
    exc, before = check_fault(pool_server, segfault, RemoteWorkerCrashedError,
                              "the worker process running the call", tmp_path)
    assert "died with SIGSEGV; the pool replaced it" in str(exc)
    assert exc.status == 500
    after = wait_for_pool(pool_server, 3)
    assert len(set(after) - set(before)) == 1  # exactly one new process


def test_memory_past_max_memory_raises_memory_error_naming_the_cap(pool_server, tmp_path):
    exc, before = check_fault(pool_server, hog_memory, MemoryError, "", tmp_path)
    assert "capped at --max-memory 512MB" in "".join(getattr(exc, "__notes__", []))
    assert "in hog_memory" in str(exc.__cause__)
    assert wait_for_pool(pool_server, 3) == before  # the cap made an exception, not a crash


def test_a_process_killed_by_a_signal_fails_its_call(pool_server, tmp_path):
    exc, _ = check_fault(pool_server, kill_own_process, RemoteWorkerCrashedError, "died with SIGKILL", tmp_path)
    assert "it may have exceeded --max-memory 512MB" in str(exc)


def test_os_exit_is_reported_with_its_status(pool_server, tmp_path):
    check_fault(pool_server, lambda: os._exit(3), RemoteWorkerCrashedError, "exited with status 3", tmp_path)


def test_a_call_past_its_timeout_is_stopped_and_the_next_calls_succeed(pool_server):
    wait_for_pool(pool_server, 3)

    async def main():
        async with RemoteExecutor(pool_server.url, KEY, timeout=1) as executor:
            started = time.monotonic()
            with pytest.raises(TimeoutError, match="ran past its timeout of 1 s"):
                await executor.submit(time.sleep, 60)
            waited = time.monotonic() - started
            return waited, await executor.map(abs, [-1, -2], timeout=30)

    waited, results = run(main())
    assert waited < 50  # it did not wait for the whole sleep
    assert results == [1, 2]
    wait_for_pool(pool_server, 3)


def wait_for_pool(server, size, timeout=60):
    """The worker pids once the pool is back to size processes."""
    deadline = time.monotonic() + timeout
    while True:
        pids = server.child_pids()
        if len(pids) == size or time.monotonic() > deadline:
            assert len(pids) == size, f"the pool did not get back to {size} processes within {timeout} s: {pids}"
            return pids
        time.sleep(0.1)
