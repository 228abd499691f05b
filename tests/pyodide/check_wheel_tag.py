"""Inside Pyodide: is our wheel's tag one that installers (pip, micropip) accept here?

Run by run_python_tests.mjs through runner.py, which passes this file explicitly
(its name keeps native pytest from collecting it). The script copies Debian's
pure-Python ``packaging`` into Pyodide's FS and names it in the environment:
    WEBPICKLE_PACKAGING_DIR   folder holding that copy of ``packaging``
    WEBPICKLE_WHEEL_NAME      the file name of the wheel under test
"""

import os
import sys

import pytest

EXPECTED_TAG = "cp314-cp314-pyemscripten_2026_0_wasm32"
IN_PYODIDE = sys.platform == "emscripten"
pytestmark = pytest.mark.skipif(not IN_PYODIDE, reason="checks Pyodide's platform tags")


def debian_packaging():
    folder = os.environ.get("WEBPICKLE_PACKAGING_DIR")
    assert folder, "WEBPICKLE_PACKAGING_DIR is not set: run this through run_python_tests.mjs"
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import packaging.tags
    import packaging.utils
    assert packaging.__file__.startswith(folder), (
        f"imported packaging from {packaging.__file__}, not the Debian copy in {folder}")
    return packaging


def test_expected_tag_is_supported():
    packaging = debian_packaging()
    supported = [str(t) for t in packaging.tags.sys_tags()]
    assert EXPECTED_TAG in supported, (
        f"packaging {packaging.__version__} does not list {EXPECTED_TAG} for this Pyodide; "
        f"its first sys_tags() are: {supported[:12]} ({len(supported)} in all)")


def test_wheel_file_name_has_a_supported_tag():
    packaging = debian_packaging()
    name = os.environ.get("WEBPICKLE_WHEEL_NAME")
    assert name, "WEBPICKLE_WHEEL_NAME is not set: run this through run_python_tests.mjs"
    _, _, _, wheel_tags = packaging.utils.parse_wheel_filename(name)
    supported = set(packaging.tags.sys_tags())
    assert wheel_tags & supported, (
        f"none of {sorted(map(str, wheel_tags))} (from {name}) is in sys_tags() of packaging "
        f"{packaging.__version__}; the wheel's platform tag must be {EXPECTED_TAG}")
