"""A call that fails on the server shows the caller's own lines (issue 18 point 4), with
RemoteExecutor and RemotePoolExecutor from CPython against a loopback server.

The function comes from a "notebook cell": compiled under the name <cell 3>, whose
source only this process has in its linecache; the server runs it by value.
"""

import linecache
import traceback

import pytest

from remote_support import KEY, run
from webpickle.remote import RemoteExecutor, RemotePoolExecutor, RemoteTraceback

CELL_NAME = "<cell 3>"
CELL = """\
def shaky(x):
    return 10 / (3 - x)
"""


def cell_function():
    namespace = {"__name__": "__main__"}
    exec(compile(CELL, CELL_NAME, "exec"), namespace)
    linecache.cache[CELL_NAME] = (len(CELL), None, CELL.splitlines(True), CELL_NAME)
    return namespace["shaky"]


def check_shows_the_cells_line(exc):
    assert isinstance(exc, ZeroDivisionError)
    assert isinstance(exc.__cause__, RemoteTraceback)
    shown = "".join(traceback.format_exception(exc))
    assert f'File "{CELL_NAME}", line 2, in shaky\n    return 10 / (3 - x)\n' in shown, shown
    # The server had no such line: its own text names the frame only.
    assert f'File "{CELL_NAME}", line 2, in shaky\nZeroDivisionError' in exc.__cause__.text
    # Neither side's machinery: the server's runner, nor this client's remote.py.
    for machinery in ("runner.py", "_call.py", "child.py", "remote.py", "_remote_pool.py"):
        assert machinery not in shown, (machinery, shown)


def test_remote_executor_shows_the_callers_line(server):
    shaky = cell_function()

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            with pytest.raises(ZeroDivisionError) as raised:
                await executor.submit(shaky, 3)
            return raised.value

    check_shows_the_cells_line(run(main()))


def test_remote_pool_executor_shows_the_callers_line(server):
    shaky = cell_function()
    with RemotePoolExecutor(server.url, KEY) as executor:
        exc = executor.submit(shaky, 3).exception(timeout=60)
    check_shows_the_cells_line(exc)
