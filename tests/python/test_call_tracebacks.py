"""A failed call's traceback travels as frames and shows the caller's own lines
(webpickle._call, webpickle._traceback), natively and in Pyodide.

A call here runs the way the pool's workers and the server run one: unpickled
from its stream, with the source of a notebook cell's function unknown while it
runs (the cell is put into linecache only afterwards, where the caller has it).
The executors themselves are tested in tests/workers and tests/remote.
"""

import contextlib
import linecache
import pickle

import webpickle
from webpickle import _call
from webpickle._traceback import RemoteTraceback

CELL = """\
def shaky(x):
    return 10 / (3 - x)


def wrapped(x):
    try:
        return shaky(x)
    except ZeroDivisionError as exc:
        raise ValueError(f"no estimate for {x}") from exc


def many(n):
    raise ExceptionGroup("several", [KeyError(n), TypeError("odd")])


def stops():
    raise StopIteration(7)
"""


class _Cell:
    """The functions of a notebook cell, named as a notebook names it; its lines join
    linecache only when the test calls show() (the caller's side, after the call ran)."""

    NAME = "<cell 7>"

    def __init__(self):
        self._namespace = {"__name__": "__main__"}
        exec(compile(CELL, self.NAME, "exec"), self._namespace)

    def __getattr__(self, attribute):
        return self._namespace[attribute]

    def show(self):
        linecache.cache[self.NAME] = (len(CELL), None, CELL.splitlines(True), self.NAME)


@contextlib.contextmanager
def notebook_cell():
    linecache.cache.pop(_Cell.NAME, None)
    try:
        yield _Cell()
    finally:
        linecache.cache.pop(_Cell.NAME, None)


def run_remotely(function, *args):
    """What reaches the caller for function(*args): the exception its reply raises."""
    payload = webpickle.dumps((function, args, {}), protocol=5)
    raised, stream = _call.pickle_outcome(_call.run(lambda: pickle.loads(payload)), webpickle.dumps)
    assert raised
    return _call.raised_exception(pickle.loads(stream))


def test_the_caller_sees_the_line_of_its_own_cell():
    with notebook_cell() as cell:
        exc = run_remotely(cell.shaky, 3)
        cell.show()
        assert isinstance(exc, ZeroDivisionError)
        remote = exc.__cause__
        assert isinstance(remote, RemoteTraceback)
        shown = str(remote)
        assert 'File "<cell 7>", line 2, in shaky\n    return 10 / (3 - x)\n' in shown
        assert shown.rstrip().endswith("ZeroDivisionError: division by zero")
        # The text form, as the running side rendered it, stays available: it had no line to show.
        assert 'File "<cell 7>", line 2, in shaky\nZeroDivisionError' in remote.text
        [(frames, text, joiner)] = remote.chain
        assert frames == (("<cell 7>", 2, "shaky", ""),) and joiner is None


def test_webpickles_frames_are_dropped_and_the_local_traceback_is_empty():
    with notebook_cell() as cell:
        exc = run_remotely(cell.shaky, 3)
        cell.show()
        for frames, _, _ in exc.__cause__.chain:
            assert all("/webpickle/" not in file for file, *_ in frames), frames
        assert "_call.py" not in str(exc.__cause__)
        assert exc.__traceback__ is None  # the frames that carried it here say nothing


def test_a_chain_keeps_its_causes_with_each_line():
    with notebook_cell() as cell:
        exc = run_remotely(cell.wrapped, 3)
        cell.show()
        shown = str(exc.__cause__)
        first, second = shown.split("The above exception was the direct cause of the following exception:")
        assert "    return shaky(x)\n" in first and "    return 10 / (3 - x)\n" in first
        assert "ZeroDivisionError: division by zero" in first
        assert 'line 9, in wrapped\n    raise ValueError(f"no estimate for {x}") from exc\n' in second
        assert second.rstrip().endswith("ValueError: no estimate for 3")


def test_webpickles_own_failure_keeps_its_frames():
    exc = run_remotely(lambda: (i for i in range(3)))
    assert isinstance(exc, pickle.PicklingError)
    shown = str(exc.__cause__)
    assert "could not be pickled to be sent back" in shown
    assert "_call.py" in shown and "in pickle_outcome" in shown, shown


def test_an_exception_group_keeps_its_remote_text():
    with notebook_cell() as cell:
        exc = run_remotely(cell.many, 4)
        assert isinstance(exc, ExceptionGroup)
        shown = str(exc.__cause__)
        assert "ExceptionGroup: several (2 sub-exceptions)" in shown
        assert "KeyError: 4" in shown and "TypeError: odd" in shown


def test_stop_iteration_arrives_as_a_remote_exception_error():
    with notebook_cell() as cell:
        exc = run_remotely(cell.stops)
        assert isinstance(exc, _call.RemoteExceptionError)
        assert isinstance(exc.__cause__, StopIteration) and exc.__cause__.value == 7
        assert isinstance(exc.__cause__.__cause__, RemoteTraceback)


def test_an_exception_that_cannot_travel_is_named_by_its_substitute():
    class Picky(Exception):
        def __init__(self, a, b):
            super().__init__(a)

    def fails():
        raise Picky(1, 2)

    exc = run_remotely(fails)
    assert isinstance(exc, _call.RemoteExceptionError)
    assert "Picky" in str(exc) and "could not be sent back by value" in str(exc)
    assert "in fails" in str(exc.__cause__)


def test_one_name_for_a_dead_worker_of_either_executor():
    from webpickle import remote, workers

    assert workers.WorkerCrashedError is remote.WorkerCrashedError is remote.RemoteWorkerCrashedError
    crash = remote.WorkerCrashedError("the worker process died", 500)
    assert isinstance(crash, workers.WorkerError) and isinstance(crash, remote.RemoteError)
    assert crash.status == 500
    assert pickle.loads(pickle.dumps(crash)).status == 500
