"""tests/harness/stage_counts.py: the per-stage counts of ./dev test, read from
each tool's closing lines; a stage that ran no test, or printed no closing
line, fails.

    bash wasm/toolchain.sh run python3 -m pytest tests/pyodide/test_stage_counts.py -q
"""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "harness" / "stage_counts.py"

def counts(kind, output, tmp_path):
    log = tmp_path / "stage.log"
    log.write_text(output)
    done = subprocess.run([sys.executable, str(SCRIPT), kind, str(log)], capture_output=True, text=True,
                          timeout=60)
    return done.returncode, done.stdout.splitlines()


CASES = [
    ("ctest", "1: \x1b[1;32mAll tests passed\x1b[0m (40 assertions in 26 test cases)\n"
              "100% tests passed, 0 tests failed out of 1\n", 0, "26 passed, 0 failed, 0 skipped"),
    ("ctest", "1: test cases:     26 |     25 passed | 1 failed\n0% tests passed, 1 tests failed out of 1\n",
     0, "25 passed, 1 failed, 0 skipped"),
    ("pytest", "SKIPPED [2] a.py:3: no locale\n3 failed, 182 passed, 2 skipped, 1319 subtests passed in 4.04s\n",
     0, "182 passed, 3 failed, 2 skipped"),
    ("runner", "  SKIPPED t.py::x: native only: why\n328 passed, 0 failed, 1 skipped\n", 0,
     "328 passed, 0 failed, 1 skipped"),
    ("async", "ok      m::t (1.0 s)\n24 passed, 1 failed\n", 0, "24 passed, 1 failed, 0 skipped"),
    ("node", "ok 1 - a # SKIP no browser\n# tests 3\n# pass 2\n# fail 0\n# cancelled 0\n# skipped 1\n# todo 0\n",
     0, "2 passed, 0 failed, 1 skipped"),
    ("node", "\u2139 tests 31\n\u2139 pass 30\n\u2139 fail 1\n\u2139 cancelled 0\n\u2139 skipped 0\n", 0,
     "30 passed, 1 failed, 0 skipped"),
    ("tsc", "/x/node_modules/typescript/lib/lib.d.ts\n/x/js/pool.mjs\n/x/js/protocol.mjs\n", 0,
     "2 passed, 0 failed, 0 skipped"),
    ("bench", "webpickle round trips: 18 ok, 0 failed\n", 0, "18 passed, 0 failed, 0 skipped"),
    # Nothing ran, or no closing line: the stage fails.
    ("runner", "0 passed, 0 failed, 0 skipped\n", 1, "0 passed, 0 failed, 0 skipped"),
    ("async", "0 passed, 0 failed\n", 1, "0 passed, 0 failed, 0 skipped"),
    ("pytest", "Traceback (most recent call last):\n", 1, "no closing line of pytest found"),
    ("node", "# tests 0\n# pass 0\n# fail 0\n", 1, "0 passed, 0 failed, 0 skipped"),
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_counts_of_each_tool(index, tmp_path):
    kind, output, status, first_line = CASES[index]
    returncode, lines = counts(kind, output, tmp_path)
    assert returncode == status, lines
    assert lines[0].startswith(first_line), lines


def test_skip_reasons_are_listed(tmp_path):
    _, lines = counts("pytest", "SKIPPED [2] a.py:3: no locale\nSKIPPED [1] b.py:9: needs x\n"
                                "5 passed, 3 skipped in 1.00s\n", tmp_path)
    assert lines[1:] == ["    skipped: a.py:3: no locale (x2)", "    skipped: b.py:9: needs x"]
