"""webpickle.remote.RemotePoolExecutor against a loopback server: a concurrent.futures.Executor.

The behaviours ProcessPoolExecutor documents run on both executors, side by side
(map order, map's timeout, chunksize, shutdown(cancel_futures=True), submit after
shutdown, the context manager), so switching is one line. Calls that must stay
running wait for a file to appear, which the test creates when it is done.
"""

import concurrent.futures
import os
import sys
import time

import pytest

import webpickle
from gates import held_call
from remote_support import KEY
from webpickle.remote import RemotePoolExecutor, RemoteTraceback, VersionMismatchError

webpickle.register_pickle_by_value(sys.modules[__name__])  # the server cannot import this module

WAIT_LIMIT_S = 120


def wait_for_file(path, value=None):
    """Block until path exists (the test creates it), then return value."""
    return held_call(None, path, value)


def wait_until(predicate):
    """Poll predicate (a state another thread changes) until it holds or WAIT_LIMIT_S pass."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def slower_first(x, n):
    """Earlier items finish later: map must still yield them in order."""
    time.sleep(0.02 * (n - x))
    return x * x


def fails_on(x, bad):
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


@pytest.fixture(params=["ProcessPoolExecutor", "RemotePoolExecutor"])
def make_executor(request, server):
    made = []

    def make(max_workers=2):
        if request.param == "ProcessPoolExecutor":
            executor = concurrent.futures.ProcessPoolExecutor(max_workers)
        else:
            executor = RemotePoolExecutor(server.url, KEY, max_workers)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.shutdown(wait=True, cancel_futures=True)


def test_map_yields_results_in_order_also_in_chunks(make_executor):
    with make_executor() as executor:
        assert list(executor.map(slower_first, range(8), [8] * 8)) == [x * x for x in range(8)]
        assert list(executor.map(pow, range(10), range(10), chunksize=3)) == [x ** x for x in range(10)]
        assert list(executor.map(abs, [], chunksize=4)) == []


def test_map_raises_the_first_error_in_order(make_executor):
    with make_executor() as executor:
        results = executor.map(fails_on, range(6), [3] * 6)
        assert [next(results) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="item 3 is bad"):
            next(results)
        # A chunk fails as a whole: item 2 shares its chunk with item 3.
        results = executor.map(fails_on, range(6), [3] * 6, chunksize=2)
        assert [next(results) for _ in range(2)] == [0, 1]
        with pytest.raises(ValueError, match="item 3 is bad"):
            next(results)


def test_map_timeout_counts_from_the_call(make_executor, tmp_path):
    release = tmp_path / "release"
    executor = make_executor()
    results = executor.map(wait_for_file, [str(release)])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        list(executor.map(wait_for_file, [str(release)], timeout=0.5))
    assert time.monotonic() - started < WAIT_LIMIT_S / 2
    release.touch()
    assert list(results) == [None]


def test_shutdown_cancel_futures_drops_the_calls_not_started(make_executor, tmp_path):
    release = tmp_path / "release"
    executor = make_executor(max_workers=1)
    running = executor.submit(wait_for_file, str(release), "finished")
    queued = [executor.submit(abs, -i) for i in range(5)]
    assert wait_until(running.running)  # it leaves the queue when sent
    executor.shutdown(wait=False, cancel_futures=True)
    # ProcessPoolExecutor has already moved the first queued call to its worker's queue, and cancels
    # the others from its manager thread: wait for that.
    assert wait_until(lambda: all(f.cancelled() for f in queued[1:]))
    assert not running.cancel(), "a running call cannot be cancelled"
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        executor.submit(abs, 1)
    release.touch()
    assert running.result(timeout=WAIT_LIMIT_S) == "finished"
    executor.shutdown(wait=True)
    assert queued[0].cancelled() or queued[0].result() == 0


def test_cancel_drops_a_waiting_call(make_executor, tmp_path):
    release = tmp_path / "release"
    executor = make_executor(max_workers=1)
    first = executor.submit(wait_for_file, str(release), 1)
    waiting = [executor.submit(abs, -2) for _ in range(3)]
    assert waiting[-1].cancel() and waiting[-1].cancelled()
    if isinstance(executor, RemotePoolExecutor):  # ProcessPoolExecutor settles it when a worker would take it
        assert concurrent.futures.wait(waiting[-1:], timeout=0).done == {waiting[-1]}, "settled at once"
    release.touch()
    assert first.result(timeout=WAIT_LIMIT_S) == 1
    assert [f.result(timeout=WAIT_LIMIT_S) for f in waiting[:-1]] == [2, 2]
    with pytest.raises(concurrent.futures.CancelledError):
        waiting[-1].result()


def test_leaving_the_with_block_waits_for_every_call(make_executor):
    with make_executor() as executor:
        futures = [executor.submit(slower_first, x, 4) for x in range(4)]
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [0, 1, 4, 9]


def test_submit_gives_a_concurrent_future_with_values_and_exceptions_by_value(server):
    offset = 5
    with RemotePoolExecutor(server.url, KEY) as executor:
        future = executor.submit(lambda x, k=1: (os.getpid(), x * k + offset), 2, k=3)
        assert isinstance(future, concurrent.futures.Future)
        pid, value = future.result(timeout=WAIT_LIMIT_S)
        assert value == 11 and pid in server.child_pids()
        failed = executor.submit(fails_on, 1, 1)
        assert isinstance(failed.exception(timeout=WAIT_LIMIT_S), ValueError)
        with pytest.raises(ValueError, match="item 1 is bad") as raised:
            failed.result()
        assert isinstance(raised.value.__cause__, RemoteTraceback)
        assert "in fails_on" in str(raised.value.__cause__)
        done, _ = concurrent.futures.wait([executor.submit(abs, -i) for i in range(20)], timeout=WAIT_LIMIT_S)
        assert sorted(f.result() for f in done) == list(range(20))
    assert "key" not in repr(executor).lower() and KEY not in repr(executor)


def test_the_call_timeout_stops_a_call_on_the_server(server, tmp_path):
    with RemotePoolExecutor(server.url, KEY, timeout=1) as executor:
        with pytest.raises(TimeoutError):
            executor.submit(wait_for_file, str(tmp_path / "never")).result(timeout=WAIT_LIMIT_S)


def test_the_constructor_checks_the_server(server, monkeypatch):
    with pytest.raises(ValueError, match="max_workers must be a positive int"):
        RemotePoolExecutor(server.url, KEY, 0)
    from webpickle import _signing

    monkeypatch.setattr(_signing, "python_version", lambda: "3.99")
    with pytest.raises(VersionMismatchError, match="runs Python 3.14 and this client runs Python 3.99"):
        RemotePoolExecutor(server.url, KEY)
