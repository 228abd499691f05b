"""Run pytest-style tests with the stdlib only (inside Pyodide, where pytest is missing).

    python runner.py [-v] [-k SUBSTRING] PATH...   PATH: a folder (its test_*.py) or a .py file

run_python_tests.mjs runs it inside Pyodide over tests/python. It needs
pytest_shim.py installed as the module ``pytest``. It collects ``test*``
functions and ``Test*`` classes' ``test*`` methods, expands parametrize, gives
the fixtures tmp_path and monkeypatch, skips native_only tests (listing their
reasons), prints every failure with its traceback and ends with the line
``N passed, N failed, N skipped``. Exit status is 1 if a test failed or none ran.
conftest.py is not loaded: tests may not depend on fixtures defined there.
"""

import collections
import enum
import importlib.util
import inspect
import itertools
import pathlib
import shutil
import sys
import tempfile
import time
import traceback
import unittest

try:
    import pytest
except ImportError:
    pytest = None
if not getattr(pytest, "IS_WEBPICKLE_SHIM", False):
    raise SystemExit("runner.py needs tests/harness/pytest_shim.py installed as the module "
                     f"'pytest' (found {getattr(pytest, '__file__', 'none')}); "
                     "run it through tests/harness/run_python_tests.mjs")

FIXTURES = ("tmp_path", "monkeypatch")
XUNIT_HOOKS = ("setup_module", "teardown_module", "setup_function", "teardown_function",
               "setup_class", "teardown_class", "setup_method", "teardown_method")


class Case:
    """One test to run: a callable, its node id, its arguments and its marks."""

    def __init__(self, nodeid, func, params, marks, cls=None):
        self.nodeid, self.func, self.params, self.marks, self.cls = nodeid, func, params, marks, cls


class CollectError(Case):
    """A module or function that could not be collected; reported as a failure."""

    def __init__(self, nodeid, exc_info):
        super().__init__(nodeid, None, {}, [])
        self.exc_info = exc_info


# ---- collection --------------------------------------------------------------

def find_files(paths):
    """(file, name shown in test ids) pairs; folders are searched recursively like pytest."""
    files = []
    for p in map(pathlib.Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("test_*.py") if "__pycache__" not in f.parts)
            if not found:
                raise SystemExit(f"runner.py: no test_*.py in {p}")
            files += [(f, f.relative_to(p).as_posix()) for f in found]
        elif p.is_file():
            files.append((p, p.name))
        else:
            raise SystemExit(f"runner.py: {p} is neither a folder nor a file")
    return files


def import_file(path):
    # Import as a top-level module named after the file, with its folder on
    # sys.path, as pytest's default "prepend" import mode does for folders
    # without __init__.py (so tests can import helper modules next to them).
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def marks_of(obj):
    marks = getattr(obj, "_shim_marks", [])
    return list(marks) if isinstance(marks, list) else []


def module_marks(module):
    marks = getattr(module, "pytestmark", [])
    return list(marks) if isinstance(marks, (list, tuple)) else [marks]


def param_id(value, name, index):
    # The ids pytest derives from values (checked by test_shim_matches_pytest.py).
    if isinstance(value, str):
        return value.encode("unicode_escape").decode("ascii")
    if isinstance(value, bytes):
        return repr(value)[2:-1]
    if value is None or isinstance(value, (bool, int, float, complex, enum.Enum)):
        return str(value)
    if inspect.isclass(value) or inspect.isroutine(value):
        return value.__name__
    return f"{name}{index}"


def expand(nodeid, func, marks, cls=None):
    """One Case per combination of the function's parametrize marks."""
    tables = [m.args for m in marks if m.name == "parametrize"]
    other = [m for m in marks if m.name != "parametrize"]
    if not tables:
        return [Case(nodeid, func, {}, other, cls)]
    if not all(rows for _, rows in tables):
        empty = pytest.mark.skipif(True, reason="got empty parameter set")
        return [Case(f"{nodeid}[NOTSET]", func, {}, [empty], cls)]
    cases = []
    # pytest applies the decorator nearest the function first; the one on top varies fastest.
    rows_per_table = [list(zip(table_ids(names, rows), rows)) for names, rows in tables]
    for combo in itertools.product(*rows_per_table):
        params, ids = {}, []
        for (names, _), (row_id, row) in zip(tables, combo):
            params.update(zip(names, row))
            ids.append(row_id)
        cases.append(Case(f"{nodeid}[{'-'.join(ids)}]", func, params, other, cls))
    return cases


def table_ids(names, rows):
    """The ids of one parametrize table; duplicates get 0, 1, ... appended as in pytest."""
    ids = ["-".join(param_id(v, n, i) for n, v in zip(names, row)) for i, row in enumerate(rows)]
    counts, next_suffix = collections.Counter(ids), collections.defaultdict(int)
    for i, row_id in enumerate(ids):
        if counts[row_id] > 1:
            sep = "_" if row_id[-1:].isdigit() else ""
            while f"{row_id}{sep}{next_suffix[row_id]}" in ids:
                next_suffix[row_id] += 1
            ids[i] = f"{row_id}{sep}{next_suffix[row_id]}"
            next_suffix[row_id] += 1
    return ids


def collect_module(path, shown):
    try:
        module = import_file(path)
    except pytest.Skipped as exc:  # pytest.skip(..., allow_module_level=True)
        case = Case(shown, None, {}, [pytest.mark.skipif(True, reason=str(exc))])
        return [case]
    except BaseException:
        return [CollectError(f"{shown} (import)", sys.exc_info())]
    hooks = [h for h in XUNIT_HOOKS if callable(getattr(module, h, None))]
    if hooks:
        return [CollectError(shown, (TypeError, TypeError(
            f"{', '.join(hooks)} is not supported by runner.py; use fixtures or plain helpers"), None))]
    base = module_marks(module)
    cases = []
    for name, obj in list(vars(module).items()):
        if name.lower().startswith("test") and getattr(obj, "__test__", True) is False:
            continue
        if name.startswith("test") and inspect.isfunction(obj):
            cases += expand(f"{shown}::{name}", obj, base + marks_of(obj))
        elif inspect.isclass(obj) and issubclass(obj, unittest.TestCase):
            # Collected whatever their name, as pytest does; unittest runs them.
            for meth_name in unittest.TestLoader().getTestCaseNames(obj):
                marks = base + marks_of(obj) + marks_of(getattr(obj, meth_name))
                cases.append(Case(f"{shown}::{name}::{meth_name}", meth_name, {}, marks, cls=obj))
        elif name.startswith("Test") and inspect.isclass(obj) and "__init__" not in vars(obj):
            bad = [h for h in XUNIT_HOOKS if hasattr(obj, h)]
            if bad:
                cases.append(CollectError(f"{shown}::{name}", (TypeError, TypeError(
                    f"{', '.join(bad)} is not supported by runner.py"), None)))
                continue
            methods = {}  # inherited test methods are collected too, as pytest does
            for klass in reversed(obj.__mro__[:-1]):
                methods.update(vars(klass))
            for meth_name, meth in methods.items():
                if meth_name.startswith("test") and inspect.isfunction(meth):
                    cases += expand(f"{shown}::{name}::{meth_name}", meth,
                                    base + marks_of(obj) + marks_of(meth), cls=obj)
    return cases


# ---- execution ---------------------------------------------------------------

def skip_reason(case):
    for m in case.marks:
        if m.name == "native_only":
            return "native only: " + m.kwargs.get("reason", "")
        if m.name == "skipif" and m.args[0]:
            return m.kwargs.get("reason", "")
    return None


def run_case(case):
    """Run one case; return ("passed"|"failed"|"skipped", detail)."""
    if isinstance(case, CollectError):
        return "failed", case.exc_info
    reason = skip_reason(case)
    if reason is not None:
        return "skipped", reason
    if isinstance(case.func, str):
        return run_unittest_case(case)
    if inspect.iscoroutinefunction(case.func):
        return "failed", (TypeError, TypeError("async tests are not supported"), None)
    wanted = list(inspect.signature(case.func).parameters)
    if case.cls is not None:
        wanted = wanted[1:]  # self
    unused = [n for n in case.params if n not in wanted]
    if unused:
        return "failed", (TypeError, TypeError(
            f"parametrize names {', '.join(unused)}, which the test does not take"), None)
    monkeypatch, tmp_dir = None, None
    kwargs = {}
    try:
        for name in wanted:
            if name in case.params:
                kwargs[name] = case.params[name]
            elif name == "tmp_path":
                tmp_dir = tempfile.mkdtemp(prefix="webpickle-test-")
                kwargs[name] = pathlib.Path(tmp_dir)
            elif name == "monkeypatch":
                kwargs[name] = monkeypatch = pytest.MonkeyPatch()
            else:
                raise TypeError(f"fixture {name!r} not found; runner.py provides only "
                                f"{', '.join(FIXTURES)} and parametrize arguments")
        func = case.func.__get__(case.cls()) if case.cls is not None else case.func
        func(**kwargs)
        return "passed", None
    except pytest.Skipped as exc:
        return "skipped", str(exc)
    except BaseException:
        exc_type, exc, tb = sys.exc_info()
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "failed", (exc_type, exc, tb.tb_next or tb)  # drop run_case's own frame
    finally:
        if monkeypatch is not None:
            monkeypatch.undo()
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def run_unittest_case(case):
    """One unittest.TestCase method, in a suite of its own so that setUpClass runs."""
    test = case.cls(case.func)
    result = unittest.TestResult()
    unittest.TestSuite([test]).run(result)
    problems = result.errors + result.failures
    if problems:
        return "failed", "\n".join(text for _, text in problems)
    if result.unexpectedSuccesses:
        return "failed", "unexpected success of a test marked expectedFailure"
    for skipped, reason in result.skipped:
        if skipped is test:
            return "skipped", reason
    return "passed", None


def format_failure(exc_info):
    if isinstance(exc_info, str):  # already formatted by unittest
        return exc_info.rstrip()
    # Hide the runner's and importlib's frames: only the test's own lines help.
    exc_type, exc, tb = exc_info
    te = traceback.TracebackException(exc_type, exc, tb)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if f.filename != __file__ and not f.filename.startswith("<frozen")])
    return "".join(te.format()).rstrip()


def main(argv, on_progress=None):
    """Run the tests; return the exit status. on_progress(nodeid, outcome) is
    called before each test (outcome None) and after it, so that a caller can
    still name the test and the counts if the interpreter dies mid-test (a wasm
    stack overflow kills Pyodide outright)."""
    args = list(argv)
    keyword = None
    verbose = "-v" in args
    if verbose:
        args.remove("-v")
    if "-k" in args:
        i = args.index("-k")
        keyword = args[i + 1]
        del args[i:i + 2]
    if not args:
        raise SystemExit("usage: runner.py [-v] [-k SUBSTRING] PATH...")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures, skips = [], []
    for path, shown in find_files(args):
        started = time.perf_counter()
        cases = [c for c in collect_module(path, shown) if keyword is None or keyword in c.nodeid]
        marks = ""
        for case in cases:
            if on_progress is not None:
                on_progress(case.nodeid, None)
            outcome, detail = run_case(case)
            if on_progress is not None:
                on_progress(case.nodeid, outcome)
            counts[outcome] += 1
            marks += {"passed": ".", "failed": "F", "skipped": "s"}[outcome]
            if verbose:
                print(f"{outcome.upper()} {case.nodeid}", flush=True)
            if outcome == "failed":
                failures.append(case.nodeid)
                print(f"\nFAILED {case.nodeid}\n{format_failure(detail)}\n", flush=True)
            elif outcome == "skipped":
                skips.append((case.nodeid, detail))
        if cases:
            print(f"{shown} {marks} ({time.perf_counter() - started:.2f} s)", flush=True)
    if skips:
        print("\nskipped:")
        for nodeid, reason in skips:
            print(f"  SKIPPED {nodeid}: {reason}")
    if failures:
        print("\nfailures:")
        for nodeid in failures:
            print(f"  FAILED {nodeid}")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped",
          flush=True)
    ran = counts["passed"] + counts["failed"]
    if ran == 0:
        print("runner.py: no test ran", file=sys.stderr)
    return 1 if counts["failed"] or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
