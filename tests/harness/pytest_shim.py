"""A stand-in for pytest inside Pyodide, where the real one is not available.

Installed as the module ``pytest`` by run_python_tests.mjs; runner.py drives it.
It implements exactly the subset our tests may use (see tests/python):

    pytest.raises(Exc, match=...)        as a context manager only
    pytest.mark.parametrize(names, values)
    pytest.mark.skipif(cond, reason=...)
    pytest.mark.native_only(reason=...)  "cannot run inside Pyodide"
    pytest.skip(reason)
    fixtures tmp_path and monkeypatch    (provided by runner.py)

Anything else raises an error naming the missing feature, so that a test using
more of pytest fails loudly here instead of being silently half-run.
"""

import os
import re

IS_WEBPICKLE_SHIM = True
SUPPORTED = ("raises", "mark.parametrize", "mark.skipif", "mark.native_only",
             "skip", "fixtures tmp_path and monkeypatch")


def _unsupported(what):
    return AttributeError(
        f"{what} is not provided by the Pyodide pytest shim "
        f"(tests/harness/pytest_shim.py); supported: {', '.join(SUPPORTED)}. "
        f"Use only that subset in tests/python, or extend the shim.")


def __getattr__(name):
    # Module-level __getattr__: called only for names not defined here.
    raise _unsupported(f"pytest.{name}")


# ---- skipping ---------------------------------------------------------------

class Skipped(Exception):
    """Raised by skip(); the runner counts the test as skipped."""


def skip(reason="", *, allow_module_level=False):
    raise Skipped(reason)


# ---- raises -----------------------------------------------------------------

class ExceptionInfo:
    """What ``with pytest.raises(...) as info`` binds: .type and .value."""

    def __init__(self):
        self.type = None
        self.value = None

    def __repr__(self):
        return f"<ExceptionInfo {self.value!r}>"


class _Raises:
    def __init__(self, expected, match):
        self.expected = expected
        self.match = match
        self.info = ExceptionInfo()

    def __enter__(self):
        return self.info

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError(f"DID NOT RAISE {_name(self.expected)}")
        if not issubclass(exc_type, self.expected):
            return False  # let the unexpected exception propagate, as pytest does
        if self.match is not None and not re.search(self.match, str(exc)):
            raise AssertionError(
                f"Regex pattern did not match.\n Regex: {self.match!r}\n Input: {str(exc)!r}")
        self.info.type, self.info.value = exc_type, exc
        return True


def _name(expected):
    if isinstance(expected, tuple):
        return " or ".join(e.__name__ for e in expected)
    return expected.__name__


def raises(expected, *args, match=None, **kwargs):
    if args or kwargs:
        raise _unsupported("pytest.raises(exc, func, ...) (the call form)")
    return _Raises(expected, match)


# ---- marks ------------------------------------------------------------------

class Mark:
    """One mark; decorating a function or class appends it to ``_shim_marks``."""

    def __init__(self, name, args, kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs

    def __call__(self, target):
        marks = list(getattr(target, "_shim_marks", ()))  # copy: classes inherit attrs
        marks.append(self)
        target._shim_marks = marks
        return target

    def __repr__(self):
        return f"pytest.mark.{self.name}{self.args!r}"


def _parametrize(argnames, argvalues, **kwargs):
    if kwargs:
        raise _unsupported(f"pytest.mark.parametrize({', '.join(kwargs)}=...)")
    if isinstance(argnames, str):
        names = [n.strip() for n in argnames.split(",") if n.strip()]
    elif isinstance(argnames, (list, tuple)):
        names = list(argnames)
    else:
        raise TypeError(f"parametrize names must be 'a,b' or a single name, got {argnames!r}")
    rows = []
    for value in argvalues:
        if len(names) == 1:
            rows.append((value,))
        elif not isinstance(value, (tuple, list)) or len(value) != len(names):
            raise TypeError(f"parametrize {argnames!r}: {value!r} does not give "
                            f"{len(names)} values")
        else:
            rows.append(tuple(value))
    return Mark("parametrize", (names, rows), {})


def _skipif(condition, *, reason):
    if isinstance(condition, str):
        raise _unsupported("pytest.mark.skipif with a string condition")
    return Mark("skipif", (bool(condition),), {"reason": reason})


def _native_only(*, reason):
    return Mark("native_only", (), {"reason": reason})


class _MarkFactory:
    parametrize = staticmethod(_parametrize)
    skipif = staticmethod(_skipif)
    native_only = staticmethod(_native_only)

    def __getattr__(self, name):
        raise _unsupported(f"pytest.mark.{name}")


mark = _MarkFactory()


# ---- fixtures ---------------------------------------------------------------

_MISSING = object()


class MonkeyPatch:
    """setattr/delattr/setitem/delitem/setenv, undone in reverse by undo()."""

    def __init__(self):
        self._undo = []

    def setattr(self, target, name, value=_MISSING, raising=True):
        if value is _MISSING:  # the "package.module.attr", value form
            if not isinstance(target, str):
                raise TypeError("monkeypatch.setattr(obj, name, value) needs a value")
            value = name
            modpath, _, name = target.rpartition(".")
            target = __import__(modpath, fromlist=["_"])
        old = getattr(target, name, _MISSING)
        if old is _MISSING and raising:
            raise AttributeError(f"{target!r} has no attribute {name!r}")
        self._undo.append(lambda: self._restore_attr(target, name, old))
        setattr(target, name, value)

    def delattr(self, target, name, raising=True):
        old = getattr(target, name, _MISSING)
        if old is _MISSING:
            if raising:
                raise AttributeError(name)
            return
        self._undo.append(lambda: setattr(target, name, old))
        delattr(target, name)

    def setitem(self, mapping, key, value):
        old = mapping.get(key, _MISSING)
        self._undo.append(lambda: self._restore_item(mapping, key, old))
        mapping[key] = value

    def delitem(self, mapping, key, raising=True):
        if key not in mapping:
            if raising:
                raise KeyError(key)
            return
        old = mapping[key]
        self._undo.append(lambda: mapping.__setitem__(key, old))
        del mapping[key]

    def setenv(self, name, value, prepend=None):
        value = str(value)
        if prepend and name in os.environ:
            value = value + prepend + os.environ[name]
        self.setitem(os.environ, name, value)

    def undo(self):
        while self._undo:
            self._undo.pop()()

    @staticmethod
    def _restore_attr(target, name, old):
        if old is _MISSING:
            delattr(target, name)
        else:
            setattr(target, name, old)

    @staticmethod
    def _restore_item(mapping, key, old):
        if old is _MISSING:
            mapping.pop(key, None)
        else:
            mapping[key] = old

    def __getattr__(self, name):
        raise _unsupported(f"monkeypatch.{name}")


def fixture(*args, **kwargs):
    raise _unsupported("pytest.fixture (only tmp_path and monkeypatch exist)")
