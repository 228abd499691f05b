"""Streams load with plain pickle in a fresh interpreter without webpickle,
and refuse to load on another Python minor version."""

import os
import shutil
import sys
import tempfile

import pytest

import webpickle
from support import define_in_main, run_python

CELL = """
import math
offset = 10
def make(k):
    def f(x):
        return math.floor(x * k) + offset
    return f
f = make(2.5)
"""

LOAD_AND_CALL = """
import pickle, sys
assert 'webpickle' not in sys.modules
try:
    import webpickle
except ImportError:
    pass
else:
    raise SystemExit('webpickle is importable here; the test needs an interpreter without it')
f = pickle.loads(open(sys.argv[1], 'rb').read())
print(f(4))
"""


def write_stream(obj):
    handle, path = tempfile.mkstemp(suffix=".pickle")
    with os.fdopen(handle, "wb") as file:
        file.write(webpickle.dumps(obj))
    return path


@pytest.mark.native_only(reason="starts a fresh interpreter in a subprocess")
def test_loads_in_a_fresh_interpreter_without_webpickle():
    path = write_stream(define_in_main(CELL, "f"))
    try:
        assert run_python(LOAD_AND_CALL, path).strip() == "20"
    finally:
        os.unlink(path)


GUARD_CHECK = """
import pickle, sys
events = []
def hook(event, args):
    if event in ('code.__new__', 'marshal.loads', 'compile', 'exec'):
        events.append(event)
sys.addaudithook(hook)
try:
    pickle.loads(open(sys.argv[1], 'rb').read())
except KeyError as error:
    print('refused:', ' '.join(error.args[0]))
print('events:', events)
"""

OTHER_PYTHON = shutil.which("python3.13")


@pytest.mark.native_only(reason="runs Python 3.13 in a subprocess")
def test_another_minor_version_refuses_before_building_code():
    import subprocess

    # A failure, not a skip: the toolchain root installs python3.13 for this test.
    assert OTHER_PYTHON is not None, "python3.13 is not on PATH: run the tests inside the toolchain root"

    path = write_stream(define_in_main(CELL, "f"))
    try:
        done = subprocess.run(
            [OTHER_PYTHON, "-I", "-S", "-c", GUARD_CHECK, path], capture_output=True, text=True, timeout=60
        )
    finally:
        os.unlink(path)
    assert done.returncode == 0, done.stderr
    assert "refused: this pickle needs Python 3.14, not cpython-313" in done.stdout
    assert "events: []" in done.stdout


def test_the_guard_passes_on_this_version():
    f = define_in_main(CELL, "f")
    import pickle

    assert pickle.loads(webpickle.dumps(f))(4) == 20
    assert sys.version_info[:2] == (3, 14)
