"""Helpers shared by the tests; stdlib only, so they run inside Pyodide too."""

import contextlib
import math
import pickle
import subprocess
import sys

PROTOCOLS = (2, 3, 4, 5)


def roundtrip(obj, protocol=None):
    import webpickle

    return pickle.loads(webpickle.dumps(obj, protocol=protocol))


def run_in_main(source):
    """Run source as a notebook cell of a fresh __main__ and return its namespace."""
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace


def define_in_main(source, name):
    """Run source as if it were a notebook cell of __main__ and return `name`.

    The namespace is a fresh dict named __main__, so its functions and
    classes cannot be imported by name: they must be pickled by value.
    """
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(source, "<cell>", "exec"), namespace)
    return namespace[name]


MUTABLE_CONTAINERS = (list, dict, set, bytearray)


def same_structure(a, b, seen=None):
    """Type-, value- (NaN-aware) and sharing-aware equality of two object graphs.

    Sharing is matched one to one: a mutable object of `a` seen twice must be
    the same object of `b` both times, and an object of `b` may stand for only
    one object of `a`, so a result that merges two equal but distinct lists
    (or bytearrays) into one does not compare equal.
    """
    if seen is None:
        seen = ({}, {})  # id in a -> object of b, id in b -> object of a
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same_structure(a.real, b.real, seen) and same_structure(a.imag, b.imag, seen)
    if isinstance(a, (int, str, bytes, type(None), bool)):
        return a == b
    if isinstance(a, MUTABLE_CONTAINERS):
        b_for_a, a_for_b = seen
        if id(a) in b_for_a or id(b) in a_for_b:
            return b_for_a.get(id(a)) is b and a_for_b.get(id(b)) is a
        b_for_a[id(a)] = b
        a_for_b[id(b)] = a
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_structure(x, y, seen) for x, y in zip(a, b))
    if isinstance(a, dict):
        # Keys in order (NaN-aware), then values.
        return len(a) == len(b) and all(
            same_structure(ka, kb, seen) and same_structure(va, vb, seen)
            for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, (set, frozenset)):
        # Match elements one to one: NaN is not equal to itself, so == fails.
        # Elements are hashable, hence hold no mutable containers to share.
        unmatched = list(b)
        if len(unmatched) != len(a):
            return False
        for x in a:
            for i, y in enumerate(unmatched):
                if same_structure(x, y):
                    del unmatched[i]
                    break
            else:
                return False
        return True
    return a == b


def run_python(code, *args, isolated=True):
    """Run code in a fresh interpreter of this Python; return its stdout.

    isolated=True uses `-I -S`: no site-packages, so neither webpickle nor
    cloudpickle can be imported there.
    """
    flags = ["-I", "-S"] if isolated else []
    done = subprocess.run(
        [sys.executable, *flags, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise AssertionError(f"subprocess failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def fresh_class_registry():
    """This process as a receiver that never loaded a class by value.

    The module in which streams register the classes they load is set aside
    for the duration: classes loaded then are made from their streams, as in
    a fresh interpreter (where the process's own classes would not be found).
    """
    name = "__webpickle_classes__"
    saved = sys.modules.pop(name, None)
    try:
        yield
    finally:
        if saved is not None:
            sys.modules[name] = saved
        else:
            sys.modules.pop(name, None)
