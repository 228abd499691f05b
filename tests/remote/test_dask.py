"""--dask: calls run as tasks on a dask.distributed LocalCluster (Debian's python3-distributed).

What Dask does when a worker dies mid-task is its own policy, and these tests
pin it down: a task whose worker is killed once is run again on another
worker and the call succeeds; a task that kills every worker it runs on fails
after the scheduler's allowed-failures (3) with KilledWorker, which the server
reports as WorkerCrashedError. Calls beside them, and after them, succeed.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import webpickle
from remote_support import CALL_TIMEOUT_S, KEY, ROOT, Server, readline_within, run, wait_until_async
from webpickle.remote import RemoteExecutor, RemoteWorkerCrashedError

webpickle.register_pickle_by_value(sys.modules[__name__])
CLUSTER_START_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def cluster():
    process = subprocess.Popen([sys.executable, str(ROOT / "tests/remote/dask_cluster.py"), "2"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # The helper prints it once its workers are up.
        line = readline_within(process.stdout, CLUSTER_START_TIMEOUT_S, "scheduler address from dask_cluster.py")
        assert line, "the LocalCluster did not start"
        yield json.loads(line)["scheduler"]
    finally:
        process.stdin.close()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def dask_server(cluster, key_file, log_dir):
    running = Server(key_file, "--dask", cluster, log_dir=log_dir)
    yield running
    running.stop()


def where_am_i():
    import distributed

    worker = distributed.get_worker()  # raises ValueError outside a Dask worker
    return worker.address, worker.scheduler.address, os.getpid()


def test_calls_run_on_the_clusters_workers(dask_server, cluster):
    async def main():
        async with RemoteExecutor(dask_server.url, KEY) as executor:
            scale = 7
            return (await executor.map(lambda x: x * scale, range(8)),
                    await asyncio.gather(*(executor.submit(where_am_i) for _ in range(4))))

    squares, places = run(main())
    assert squares == [x * 7 for x in range(8)]
    for worker, scheduler, pid in places:
        assert scheduler == cluster and worker.startswith("tcp://127.0.0.1:")
        assert pid not in (os.getpid(), dask_server.process.pid)
    connected = next(e for e in dask_server.events() if e["event"] == "dask_connected")
    assert connected["workers"] == 2


def test_a_large_argument_reaches_the_task(dask_server):
    blob = bytes(range(256)) * 12_000  # 3MB: scattered to a worker rather than sent inside the task

    async def main():
        async with RemoteExecutor(dask_server.url, KEY) as executor:
            return await executor.submit(lambda data: (len(data), data[-3:]), blob)

    assert run(main()) == (len(blob), blob[-3:])


def recorded_pids(path):
    """The pids in path, a line each (a line still being written is not one yet)."""
    text = path.read_text() if path.exists() else ""
    return [int(line) for line in text.split("\n")[:-1]]


def record_pid_then_hold_first_run(path):
    """Write this process's pid to path; the first run is then held until the test kills
    its worker, the run after it returns its pid."""
    with open(path, "a") as file:
        file.write(f"{os.getpid()}\n")
    if len(recorded_pids(Path(path))) == 1:
        time.sleep(CALL_TIMEOUT_S)  # ended by the test's SIGKILL
        raise TimeoutError(f"the test did not kill the worker running this call (pid {os.getpid()})")
    return os.getpid()


def kill_own_worker():
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_task_gets_the_call_retried_by_dask(dask_server, tmp_path):
    record = tmp_path / "pids"

    async def main():
        async with RemoteExecutor(dask_server.url, KEY) as executor:
            call = executor.submit(record_pid_then_hold_first_run, str(record))
            [first] = await wait_until_async(lambda: recorded_pids(record), 60, "the call recording its pid")
            os.kill(first, signal.SIGKILL)  # the Dask worker running the call, mid-task
            neighbour = executor.submit(lambda: sum(range(1000)))
            return first, await call, await neighbour, await executor.map(abs, [-1, -2, -3])

    first, finished_in, neighbour, after = run(main(), timeout=240)
    pids = recorded_pids(record)
    assert len(pids) == 2 and pids[0] == first and finished_in == pids[1] != first  # run again elsewhere
    assert neighbour == sum(range(1000)) and after == [1, 2, 3]


def test_a_task_that_kills_every_worker_fails_with_killed_worker(dask_server):
    async def main():
        async with RemoteExecutor(dask_server.url, KEY) as executor:
            outcome = await asyncio.gather(executor.submit(kill_own_worker), return_exceptions=True)
            # Sent once the doomed call has failed: a call running beside it shares its workers'
            # deaths, and Dask gives up on it too when it dies on as many workers.
            neighbour = executor.submit(lambda: "fine")
            return outcome[0], await neighbour, await executor.map(lambda x: -x, range(4))

    exc, neighbour, after = run(main(), timeout=240)
    assert isinstance(exc, RemoteWorkerCrashedError), repr(exc)
    assert "the Dask workers running the call died (Dask's KilledWorker" in str(exc)
    assert neighbour == "fine" and after == [0, -1, -2, -3]
    # Dask's own messages (if any) are JSON lines of the log too: events() parses every line.
    assert all("event" in record for record in dask_server.events())


def test_a_function_is_uploaded_once_and_loaded_once_per_worker(dask_server):
    blob = os.urandom(1_500_000)  # past 1 MB: later calls name the function by digest alone

    def size_and_loads(x):
        from webpickle.server import runner

        return len(blob) + x, os.getpid(), runner._dask_loaded.functions.loads

    async def main():
        async with RemoteExecutor(dask_server.url, KEY) as executor:
            results = await executor.map(size_and_loads, range(30))
            return results, executor.stats["function_uploads"]

    results, uploads = run(main())
    assert [size for size, _, _ in results] == [1_500_000 + x for x in range(30)]
    assert uploads == 1
    loads = {}
    for _, pid, count in results:
        loads[pid] = max(loads.get(pid, 0), count)
    # Each Dask worker process loaded this function once, whatever else it loaded before.
    first_load = {pid: min(c for _, p, c in results if p == pid) for pid in loads}
    assert all(loads[pid] == first_load[pid] for pid in loads)
