"""Workers start from the state each way of installing webpickle leaves in Pyodide
(Pyodide in Node, real worker threads). The runner installed webpickle with
loadPackage(path of the wheel), which every other test of this folder covers;
here the state is changed to what micropip leaves after an install from an
index with a sha256 (JupyterLite's %pip) and from an emfs: path, then put back.

    bash wasm/toolchain.sh run node tests/workers/run_pyodide_tests.mjs -k wheel
"""

import contextlib
import hashlib
import importlib.metadata
import os
import sys

import pytest
import webpickle
from webpickle.workers import WorkerPool, WorkerStartError

webpickle.register_pickle_by_value(sys.modules[__name__])


@contextlib.contextmanager
def installed_as(loaded_source, pyodide_url=None):
    """Make this Pyodide look as if webpickle came from loaded_source, with that PYODIDE_URL file."""
    import pyodide_js

    metadata_file = importlib.metadata.distribution("webpickle")._path / "PYODIDE_URL"
    real_source = pyodide_js.loadedPackages.webpickle
    setattr(pyodide_js.loadedPackages, "webpickle", loaded_source)
    if pyodide_url is not None:
        metadata_file.write_text(pyodide_url)
    try:
        yield
    finally:
        setattr(pyodide_js.loadedPackages, "webpickle", real_source)
        metadata_file.unlink(missing_ok=True)


def wheel_path():
    import pyodide_js

    path = pyodide_js.loadedPackages.webpickle
    assert path.endswith(".whl") and os.path.isabs(path), f"the runner installed webpickle from {path!r}"
    return path


def total(items):
    return sum(items)


async def run_in_one_worker():
    async with WorkerPool(1) as pool:
        return await pool.map(total, [[1, 2], [3, 4]])


async def test_installed_from_an_index_with_a_sha256():
    # The wheel's real location as a file: URL, with the "?sha256=" micropip appends.
    url = "file://" + wheel_path() + "?sha256=" + hashlib.sha256(b"any").hexdigest()
    with installed_as("pypi", url):
        assert await run_in_one_worker() == [3, 7]


async def test_installed_from_an_emfs_path():
    path = "/tmp/wheels/" + os.path.basename(wheel_path())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    from pyodide.code import run_js

    # The host file (Node's fs), copied into Pyodide's own file system, where micropip would find it.
    data = run_js('(path) => new Uint8Array(process.getBuiltinModule("node:fs").readFileSync(path))')(wheel_path())
    with open(path, "wb") as target:
        target.write(data.to_bytes())
    with installed_as("emfs:" + path, "emfs:" + path):
        assert await run_in_one_worker() == [3, 7]


async def test_wheel_url_with_a_query_is_accepted():
    async with WorkerPool(1, wheel_url=wheel_path() + "?sha256=00") as pool:
        assert await pool.submit(total, [5, 6]) == 11


async def test_an_index_install_without_a_recorded_url_names_what_to_pass():
    with installed_as("pypi"):
        with pytest.raises(WorkerStartError, match=r"installed from 'pypi'.*pass WorkerPool\(wheel_url=\.\.\.\)"):
            WorkerPool(1)
