"""webpickle.workers.WorkerPool in Pyodide under Node, with real worker threads.

    bash wasm/toolchain.sh run node tests/workers/run_pyodide_tests.mjs [-k NAME]

Most tests share one pool of two workers (starting one costs seconds); the
timeout and crash tests replace its workers, which the later tests also
exercise. Never asserts speed.
"""

import asyncio
import pickle
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import webpickle
from webpickle import _pool_buffers, workers
from webpickle.workers import (RemoteExceptionError, RemoteTraceback, WorkerCrashedError, WorkerPool,
                               WorkerStartError)

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import copy_recorder  # noqa: E402  (tests/workers/fixtures, put on the path above)

# Workers cannot import this module: its functions and classes must travel by
# value, as those of a page's __main__ or a notebook do without asking.
webpickle.register_pickle_by_value(sys.modules[__name__])

_shared = None


async def shared_pool():
    global _shared
    if _shared is None:
        # A long grace period: on a starved machine an interrupted task can take
        # over a second to answer, and these tests check that no worker is replaced.
        _shared = WorkerPool(2, interrupt_grace=30)
        await _shared.ready()
    return _shared


async def teardown_module():
    if _shared is not None:
        _shared.shutdown()


async def wait_until(predicate, what, timeout=60):
    """Poll a state the pool changes until it holds; fail naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.01)


def all_busy_and_queued(pool, queued):
    return all(w["state"] == "busy" for w in pool.workers) and pool._js.queued == queued


class Point:  # defined here, so it travels by value both ways
    def __init__(self, x, y):
        self.x, self.y = x, y


def spin(seconds=None):
    import time

    end = None if seconds is None else time.perf_counter() + seconds
    while end is None or time.perf_counter() < end:
        pass


async def test_results_and_arguments_travel_by_value():
    pool = await shared_pool()
    offset = 10
    p = await pool.submit(lambda point, k=1: Point(point.x + offset, point.y * k), Point(1, 2), k=3)
    assert (type(p).__name__, p.x, p.y) == ("Point", 11, 6)
    assert [w["state"] for w in pool.workers] == ["idle", "idle"]
    assert all(w["ready_s"] > 0 for w in pool.workers)


async def test_the_awaiting_coroutine_wakes_inside_the_reply_event():
    # No event-loop hop between a reply and the coroutine awaiting it: the
    # coroutine runs on before the reply's set_result (called from the JS
    # message event) returns.
    from webpickle._task_future import TaskFuture

    pool = await shared_pool()
    order = []
    set_result = TaskFuture.set_result

    def recording_set_result(self, result):
        set_result(self, result)
        order.append("set_result returned")

    TaskFuture.set_result = recording_set_result
    try:
        result = await pool.submit(pow, 2, 10)
        order.append(("woke", result))
        await asyncio.sleep(0)
    finally:
        TaskFuture.set_result = set_result
    assert order == [("woke", 1024), "set_result returned"]


async def test_exceptions_come_back_with_the_workers_traceback():
    pool = await shared_pool()

    def inner():
        raise KeyError("missing")

    def outer():
        inner()

    with pytest.raises(KeyError, match="missing") as info:
        await pool.submit(outer)
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "in outer" in str(cause) and "in inner" in str(cause)
    assert "_pool_worker.py" not in str(cause) and "_call.py" not in str(cause), "the pool's own frames are left out"


async def test_system_exit_is_the_tasks_error_and_the_worker_survives():
    pool = await shared_pool()
    with pytest.raises(SystemExit) as info:
        await pool.submit(sys.exit, 3)
    assert info.value.code == 3
    assert await pool.map(abs, [-1, -2, -3]) == [1, 2, 3]


async def test_map_keeps_order_with_chunks_and_reports_progress():
    pool = await shared_pool()
    seen = []
    squares = await pool.map(lambda x: x * x, range(25), chunksize=4, progress=lambda d, t: seen.append((d, t)))
    assert squares == [x * x for x in range(25)]
    assert seen[0] == (0, 25) and seen[-1] == (25, 25)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert await pool.map(str, []) == []


async def test_imap_unordered_yields_every_result():
    pool = await shared_pool()
    got = [r async for r in pool.imap_unordered(lambda x: -x, range(30), chunksize=3)]
    assert sorted(got) == sorted(-x for x in range(30))


async def test_coroutine_functions_are_awaited_in_the_worker():
    pool = await shared_pool()

    async def later(x):
        await asyncio.sleep(0.01)
        return x + 1

    assert await pool.submit(later, 41) == 42


async def test_a_changed_class_sent_again_runs_its_new_code():
    class Versioned:  # travels by value; the worker keeps it alive between tasks
        def version(self):
            return 1

    def keep(obj):
        import builtins

        builtins.kept_for_test = obj
        return obj.version()

    def check(obj):
        import builtins

        kept = builtins.kept_for_test
        return type(kept) is type(obj), kept.version(), obj.version(), getattr(type(obj), "extra", None)

    async with WorkerPool(1) as pool:  # one worker: the second task meets the class the first one left
        assert await pool.submit(keep, Versioned()) == 1
        Versioned.version = lambda self: 2
        Versioned.extra = "added"
        assert await pool.submit(check, Versioned()) == (True, 2, 2, "added")
        # The worker's class, sent back, is this process's own class again.
        assert type(await pool.submit(lambda: __import__("builtins").kept_for_test)) is Versioned


async def test_out_of_band_buffers_come_back():
    pool = await shared_pool()
    result = await pool.submit(lambda n: pickle.PickleBuffer(bytearray(b"\x07" * n)), 3 << 20)
    view = memoryview(result)
    assert view.nbytes == 3 << 20 and view[0] == 7 and view[-1] == 7


def receive_and_stop_tracing(buffer):
    import tracemalloc

    from webpickle import workers as there
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return buffer.nbytes, buffer[0], buffer[-1], dict(there.stats), peak


async def test_64_mb_argument_costs_two_copies_and_is_transferred():
    size = 64 << 20
    data = bytearray(size)
    data[0], data[-1] = 1, 2
    sent = []
    real_copy_out = _pool_buffers.copy_out
    async with WorkerPool(1) as pool:  # its own worker: the one whose copies are recorded
        await pool.submit(tracemalloc.start)
        await pool.submit(copy_recorder.start_recording, 1 << 20)
        before = dict(workers.stats)
        try:
            _pool_buffers.copy_out = lambda view, take=None: sent.append(real_copy_out(view, take)) or sent[-1]
            copy_recorder.start_recording(1 << 20)
            tracemalloc.start()
            nbytes, first, last, worker_stats, worker_peak = await pool.submit(receive_and_stop_tracing,
                                                                               pickle.PickleBuffer(data))
            _, page_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            page_records = copy_recorder.stop_recording()
            _pool_buffers.copy_out = real_copy_out
        worker_records = await pool.submit(copy_recorder.stop_recording)  # after the reply was posted
    assert (nbytes, first, last) == (size, 1, 2)
    # Copy 1: out of this Pyodide's memory, once; no copy inside Python here.
    assert workers.stats["copied_out"] - before["copied_out"] == 1
    assert workers.stats["bytes_out"] - before["bytes_out"] == size
    assert page_peak < size // 2, f"a Python-side copy of the argument was made here ({page_peak} bytes traced)"
    # No copy in between: the buffer was transferred, so the sender's is detached.
    assert len(sent) == 1 and sent[0].byteLength == 0
    # Copy 2: into the worker's memory, once (a second one would double its peak).
    assert worker_stats["copied_in"] == 1 and worker_stats["bytes_in"] == size
    assert size <= worker_peak < 2 * size, f"the worker traced {worker_peak} bytes: not exactly one copy"
    # The same copies counted by watching JavaScript itself on both sides, not by webpickle's counters.
    assert copy_recorder.copies(page_records) == [("set", size)], page_records
    assert copy_recorder.transfers(page_records) == [(size, True)], page_records
    assert copy_recorder.copies(worker_records) == [("set", size)], worker_records
    # The worker sends the argument's buffer home (the pool's spares): transferred, not copied.
    assert copy_recorder.transfers(worker_records) == [(size, True)], worker_records


async def test_cancelling_a_queued_future_removes_its_task():
    pool = await shared_pool()
    busy = [pool.submit(spin) for _ in range(2)]
    cancelled = pool.submit(lambda: sys.modules.setdefault("_ran", []).append("cancelled"))
    await wait_until(lambda: all_busy_and_queued(pool, 1), "both workers busy and the third task queued")
    assert cancelled.cancel()
    assert pool._js.queued == 0
    for future in busy:  # interrupted; their workers are kept
        assert future.cancel()
    ran = await asyncio.gather(*(pool.submit(lambda: list(sys.modules.get("_ran", []))) for _ in range(4)))
    assert all("cancelled" not in r for r in ran)
    assert pool._js.queued == 0


def started_workers(pool):
    return [w["ready_s"] for w in pool.stats["workers"]]


async def test_stats_say_how_the_workers_started():
    pool = await shared_pool()
    stats = pool.stats
    # The process's first pool makes the snapshot (another test module may have come first);
    # the second worker boots beside the first (one per core) or restores it.
    use = stats["snapshot"]["use"]
    assert use in ("made", "restored"), stats
    uses = [w["snapshot"] for w in stats["workers"]]
    assert uses in (["made", "not used"], ["made", "restored"]) if use == "made" else uses == [use, use], stats
    async with WorkerPool(2) as later:
        assert [w["snapshot"] for w in later.stats["workers"]] == ["restored", "restored"]
    assert all(w["ready_s"] > 0 and w["heap_bytes"] > 0 for w in stats["workers"])
    assert stats["interrupt"] == {"available": True, "reason": None, "grace_s": 30.0}
    async with WorkerPool(1, snapshot=False) as plain:
        assert plain.stats["interrupt"]["grace_s"] == 1.0, "the documented default"
        assert plain.stats["snapshot"]["use"] == "not used"
        assert "turned off" in plain.stats["workers"][0]["reason"]


async def test_a_hung_task_times_out_and_its_worker_is_interrupted_not_replaced():
    pool = await shared_pool()
    before = started_workers(pool)
    hung = pool._submit(spin, (), {}, 1.0)  # a CPU loop, not a sleep
    others = [pool.submit(abs, -i) for i in range(5)]
    with pytest.raises(TimeoutError, match="interrupted"):
        await hung
    assert await asyncio.gather(*others) == [0, 1, 2, 3, 4]
    assert await pool.map(abs, [-5] * 4) == [5] * 4
    with pytest.raises(TimeoutError):
        await pool.map(spin, [None], timeout=0.5)
    assert started_workers(pool) == before, "no worker was replaced"


async def test_cancelling_a_running_task_interrupts_it_and_keeps_the_worker():
    pool = await shared_pool()
    before = started_workers(pool)

    def record_interrupt():
        seen = sys.modules.setdefault("_seen", {"started": 0, "interrupted": 0})
        try:
            seen["started"] += 1
            spin()
        except KeyboardInterrupt:
            seen["interrupted"] += 1
            raise

    running = [pool.submit(record_interrupt) for _ in range(2)]
    await wait_until(lambda: all_busy_and_queued(pool, 0), "both tasks dispatched")
    for future in running:
        assert future.cancel()
    # Cancelled at once; the interrupt lands wherever each task is (in spin() if it got there).
    seen = await asyncio.gather(*(pool.submit(lambda: dict(sys.modules.get("_seen", {}))) for _ in range(2)))
    assert all(s.get("interrupted", 0) >= s.get("started", 0) for s in seen), seen  # a started task was interrupted
    assert started_workers(pool) == before, "no worker was replaced"

    async def waits_forever():
        await asyncio.Event().wait()  # runs no Python for an interrupt: cancelled by STOP

    with pytest.raises(TimeoutError):
        await pool._submit(waits_forever, (), {}, 0.2)
    assert await pool.submit(abs, -2) == 2
    assert started_workers(pool) == before


def abort_runtime():
    import faulthandler

    faulthandler._sigabrt()  # abort(): Pyodide's runtime dies


def wasm_trap():
    import ctypes

    return ctypes.string_at(0xFFFFFFF0, 64)  # memory access out of bounds


async def test_a_crashed_worker_fails_only_its_task_and_is_replaced():
    pool = await shared_pool()
    for crash in (abort_runtime, wasm_trap):
        others = [pool.submit(abs, -i) for i in range(3)]
        with pytest.raises(WorkerCrashedError, match="died while running the task"):
            await pool.submit(crash)
        assert await asyncio.gather(*others) == [0, 1, 2]
    assert await pool.submit(abs, -9) == 9


async def test_results_or_exceptions_that_cannot_travel_say_why():
    pool = await shared_pool()
    with pytest.raises(pickle.PicklingError, match="result, a generator, could not be pickled"):
        await pool.submit(lambda: (i for i in range(3)))

    class Picky(Exception):
        def __init__(self, a, b):
            super().__init__(a)

    with pytest.raises(RemoteExceptionError, match="Picky"):
        await pool.submit(lambda: (_ for _ in ()).throw(Picky(1, 2)))
    with pytest.raises(TypeError, match="not picklable"):  # pickling fails here: the future gets the error
        await pool.submit(len, _Unpicklable())


class _Unpicklable:
    def __reduce__(self):
        raise TypeError("not picklable")


async def test_nested_pool_inside_a_worker():
    pool = await shared_pool()

    async def inside():
        from webpickle.workers import WorkerPool

        async with WorkerPool(1) as nested:
            return await nested.submit(lambda: "from a nested worker")

    assert await pool.submit(inside) == "from a nested worker"


async def test_shutdown_cancels_what_is_unfinished():
    async with WorkerPool(1) as pool:
        running = pool.submit(spin)
        queued = pool.submit(abs, -1)
        await wait_until(lambda: all_busy_and_queued(pool, 1), "the first task running and the second queued")
        pool.shutdown()
        assert running.cancelled() and queued.cancelled()
        with pytest.raises(RuntimeError, match="after shutdown"):
            pool.submit(abs, 1)


async def test_a_pool_whose_workers_cannot_start_says_so():
    with pytest.raises(WorkerStartError, match="could not start"):
        async with WorkerPool(1, wheel_url="/nonexistent/webpickle-0-py3-none-any.whl"):
            pass
    with pytest.raises(ValueError, match="size must be"):
        WorkerPool(0)
    with pytest.raises(ValueError, match="timeout must be"):
        WorkerPool(1, timeout=-1)
    with pytest.raises(ValueError, match="interrupt_grace must be"):
        WorkerPool(1, interrupt_grace=-1)
    with pytest.raises(TypeError, match="snapshot_cache must be"):
        WorkerPool(1, snapshot_cache=3)
