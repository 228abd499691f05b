"""runner.py + pytest_shim.py must give the same outcome per test id as real pytest.

    bash wasm/toolchain.sh run python3 -m pytest tests/pyodide/ -q

Runs natively (real pytest needed): one sample module that uses every feature
of the supported subset, run both ways in subprocesses; only native_only tests
may differ (pytest runs them, the runner skips them).
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"

SAMPLE = textwrap.dedent('''
    import os
    import unittest
    import pytest
    from sample_helper import VALUE

    def test_plain(): assert VALUE == 1
    def test_fails(): assert VALUE == 2
    @pytest.mark.parametrize("a,b", [(1, 2), ("x", "y"), (None, True)])
    def test_pairs(a, b): assert a != b
    @pytest.mark.parametrize("x", [0, 1])
    @pytest.mark.parametrize("y", [2, 3])
    def test_stacked(x, y): assert x < y
    @pytest.mark.parametrize("exc", [ValueError, KeyError])
    def test_class_ids(exc): assert issubclass(exc, Exception)
    @pytest.mark.parametrize("obj", [object(), [1]])
    def test_object_ids(obj): assert obj
    @pytest.mark.parametrize("f,n", [(lambda: 1, 1), (lambda: 2, 2), (lambda: 3, 1), (len, 1)])
    def test_duplicate_ids(f, n): assert f
    @pytest.mark.parametrize("v", [b"ab", 1.5, 1j, os.SEEK_SET, "plain", 2 ** 70, False])
    def test_value_ids(v): pass
    @pytest.mark.parametrize("n", [1, 1, 2])
    def test_duplicate_digits(n): assert n
    @pytest.mark.native_only(reason="pretends to spawn a subprocess")
    def test_native_only(): pass
    @pytest.mark.skipif(True, reason="always")
    def test_skipif_true(): raise RuntimeError
    @pytest.mark.skipif(False, reason="never")
    def test_skipif_false(): pass
    def test_skip_call(): pytest.skip("not today")
    def test_raises_match():
        with pytest.raises(ValueError, match=r"bad \\w+") as info:
            raise ValueError("a bad value")
        assert info.type is ValueError and "bad" in str(info.value)
    def test_raises_no_match():
        with pytest.raises(ValueError, match="zzz"):
            raise ValueError("abc")
    def test_raises_nothing():
        with pytest.raises(KeyError):
            pass
    def test_raises_other_type():
        with pytest.raises(KeyError):
            raise TypeError
    def test_tmp_path(tmp_path):
        (tmp_path / "f").write_text("hi")
        assert (tmp_path / "f").read_text() == "hi"
    def test_monkeypatch(monkeypatch):
        monkeypatch.setattr(os, "sep", "!")
        monkeypatch.setattr("os.altsep", "?")
        monkeypatch.setenv("WEBPICKLE_SHIM_X", "1")
        monkeypatch.setitem(os.environ, "WEBPICKLE_SHIM_Y", "2")
        monkeypatch.delattr(os, "getcwd")
        monkeypatch.delitem(os.environ, "WEBPICKLE_SHIM_ABSENT", raising=False)
        assert os.sep == "!" and not hasattr(os, "getcwd")
    def test_monkeypatch_undone():
        assert os.sep == "/" and hasattr(os, "getcwd")
        assert "WEBPICKLE_SHIM_X" not in os.environ and "WEBPICKLE_SHIM_Y" not in os.environ
    class TestBase:
        k = 1
        def test_k(self): assert self.k == 1
    @pytest.mark.native_only(reason="whole class")
    class TestNative(TestBase):
        def test_own(self): pass
    class TestOther(TestBase):
        k = 2
    class PlainUnittest(unittest.TestCase):
        @classmethod
        def setUpClass(cls): cls.shared = 5
        def setUp(self): self.value = 1
        def test_uses_setup(self): self.assertEqual(self.value + self.shared, 6)
        def test_fails(self): self.assertEqual(self.value, 2)
        def test_skips(self): self.skipTest("not here")
        def test_subtests(self):
            for i in range(2):
                with self.subTest(i=i):
                    self.assertLess(i, 5)
    @pytest.mark.native_only(reason="marked unittest class")
    class MarkedUnittest(unittest.TestCase):
        def test_native_only(self): pass
''')


def outcomes(pattern, text):
    return {m["id"]: m["outcome"] for m in re.finditer(pattern, text, re.M)}


def test_runner_agrees_with_pytest(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_sample.py").write_text(SAMPLE)
    (tests / "sample_helper.py").write_text("VALUE = 1\n")
    shim = tmp_path / "shim"
    shim.mkdir()
    shutil.copy(HARNESS / "pytest_shim.py", shim / "pytest.py")

    real = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-W",
         "ignore::pytest.PytestUnknownMarkWarning", "test_sample.py"],
        cwd=tests, capture_output=True, text=True)
    ours = subprocess.run(
        [sys.executable, str(HARNESS / "runner.py"), "-v", str(tests)],
        env={"PYTHONPATH": str(shim), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True)

    expected = outcomes(r"^(?P<id>\S+::\S+) (?P<outcome>PASSED|FAILED|SKIPPED)", real.stdout)
    got = outcomes(r"^(?P<outcome>PASSED|FAILED|SKIPPED) (?P<id>\S+::\S+)", ours.stdout)
    assert len(expected) >= 45, real.stdout + real.stderr
    for test_id in expected:
        if "native_only" in test_id or "Native" in test_id:
            expected[test_id] = "SKIPPED"
    assert got == expected, ours.stdout + ours.stderr
    counts = {o: list(expected.values()).count(o) for o in ("PASSED", "FAILED", "SKIPPED")}
    summary = f"{counts['PASSED']} passed, {counts['FAILED']} failed, {counts['SKIPPED']} skipped"
    assert ours.stdout.rstrip().splitlines()[-1] == summary
    assert ours.returncode == 1  # some sample tests fail on purpose
