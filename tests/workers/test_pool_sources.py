"""Where WorkerPool's workers load Pyodide and packages from (README: they load
Pyodide from this Pyodide's indexURL, or index_url, ... plus packages).

    bash wasm/toolchain.sh run node tests/workers/run_pyodide_tests.mjs -k pool_sources

run_pyodide_tests.mjs makes the package index of fixtures/package_index.py,
boots this Pyodide from node_modules/pyodide with that index's lock file (as
a page whose distribution offers more packages than it loaded) and names the
index in WEBPICKLE_TEST_PACKAGE_INDEX. Each pool has one worker: what is
checked is where it loaded from, not speed.
"""

import os
import sys

import webpickle
from webpickle.workers import WorkerPool

# Workers cannot import this module: `origin` travels by value.
webpickle.register_pickle_by_value(sys.modules[__name__])

PROBE = "webpickle_probe"  # the test wheel in the index's lock file
INDEX_PROBE = "webpickle_index_probe"  # a module only the index's python_stdlib.zip holds


def package_index():
    index = os.environ.get("WEBPICKLE_TEST_PACKAGE_INDEX")
    assert index, "WEBPICKLE_TEST_PACKAGE_INDEX is not set: run these tests with tests/workers/run_pyodide_tests.mjs"
    return index


def origin(module_name):
    """Where module_name came from, in the worker that runs this; None if it cannot be imported there."""
    try:
        module = __import__(module_name)
    except ModuleNotFoundError:
        return None
    return module.ORIGIN


async def origins(pool):
    return [await pool.submit(origin, name) for name in (PROBE, INDEX_PROBE)]


async def test_a_pool_without_the_options_has_neither_probe():
    # The control for the two tests below: neither module reaches a worker by itself.
    async with WorkerPool(1) as pool:
        found = await origins(pool)
    assert found == [None, None], found
    assert origin(PROBE) is None and origin(INDEX_PROBE) is None  # nor is either loaded here


async def test_packages_are_loaded_by_name_in_the_workers():
    # The worker boots node_modules/pyodide, whose own lock file lacks the probe: it finds the
    # package through this Pyodide's lock file, as the README says ("as this Pyodide would").
    async with WorkerPool(1, packages=["webpickle-probe"]) as pool:
        found = await origins(pool)
    assert found == ["the webpickle-probe wheel of the test package index", None], found


async def test_index_url_is_where_the_workers_load_pyodide_from():
    index = package_index()
    async with WorkerPool(1, index_url=index, packages=["webpickle-probe"]) as pool:
        found = await origins(pool)
    # The worker's standard library is the index's: it was not restored from the snapshot of
    # node_modules/pyodide that earlier pools made, and packages= still applies.
    assert found == ["the webpickle-probe wheel of the test package index", index], found
