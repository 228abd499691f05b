"""A task that fails in a worker shows the caller's own lines (issue 18 point 4):
webpickle.workers.WorkerPool in Pyodide under Node, with real worker threads.

The function comes from a "notebook cell": compiled under the name <cell 3>,
whose source only this Pyodide has in its linecache; the worker runs it by value.
"""

import linecache
import traceback

import pytest
from webpickle.workers import RemoteTraceback, WorkerPool

CELL_NAME = "<cell 3>"
CELL = """\
def shaky(x):
    return 10 / (3 - x)
"""
LINE = f'File "{CELL_NAME}", line 2, in shaky\n    return 10 / (3 - x)\n'


def cell_function():
    namespace = {"__name__": "__main__"}
    exec(compile(CELL, CELL_NAME, "exec"), namespace)
    linecache.cache[CELL_NAME] = (len(CELL), None, CELL.splitlines(True), CELL_NAME)
    return namespace["shaky"]


async def test_a_workers_traceback_shows_the_callers_line():
    shaky = cell_function()
    async with WorkerPool(1) as pool:
        with pytest.raises(ZeroDivisionError) as submitted:
            await pool.submit(shaky, 3)
        with pytest.raises(ZeroDivisionError) as mapped:
            await pool.map(shaky, range(5))
    for exc in (submitted.value, mapped.value):
        assert isinstance(exc.__cause__, RemoteTraceback)
        assert LINE in str(exc.__cause__), str(exc.__cause__)
        # The worker had no such line: its own text names the frame only.
        assert f'File "{CELL_NAME}", line 2, in shaky\nZeroDivisionError' in exc.__cause__.text
        assert "_pool_worker.py" not in str(exc.__cause__) and "_call.py" not in str(exc.__cause__)
    # What carried the exception here adds nothing: only this test's own frame.
    local = traceback.extract_tb(submitted.value.__traceback__)
    assert [frame.name for frame in local] == ["test_a_workers_traceback_shows_the_callers_line"], local
