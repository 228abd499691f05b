"""The engine writes every stream itself: it never hands an object to the
stdlib's picklers (pickle._Pickler, pickle.dumps/dump, _pickle.dumps/dump)
or to cloudpickle, not even as a fallback. In a fresh interpreter where all
of those raise when used, webpickle still pickles everything below, and the
stdlib's loads (which stays usable) reads it back."""

import pytest

from support import run_python

WITHOUT_STDLIB_PICKLERS = r'''
import sys
sys.modules["cloudpickle"] = None  # importing it now fails
import pickle, _pickle

def unusable(name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"webpickle used {name}")
    return refuse

for module in (pickle, _pickle):
    for name in ("dumps", "dump"):
        setattr(module, name, unusable(f"{module.__name__}.{name}"))

class _RefusedPickler:
    def __init__(self, *args, **kwargs):
        raise AssertionError("webpickle used pickle._Pickler")

pickle._Pickler = _RefusedPickler

import collections, dataclasses, enum, io, webpickle

@dataclasses.dataclass
class Point:
    x: int
    y: int = 0

class Color(enum.Enum):
    RED = 1

class Reduced:
    def __init__(self, n):
        self.n = n
    def __reduce__(self):
        return (Reduced, (self.n,), {"n": self.n})

scale = 3
def make(k):
    return lambda v: v * k + scale

values = [None, True, 2**70, 1.5, "s\ud800", b"b", bytearray(b"a"), (1, (2,)), [1, [2]], {"k": {1, 2}},
          frozenset({3}), collections.OrderedDict(a=1), Point(1, 2), Color.RED, Reduced(4), make(2),
          pickle.PickleBuffer(b"buffer"), range(3), complex(1, 2)]
for protocol in (2, 3, 4, 5):
    if protocol < 5:
        values = [v for v in values if not isinstance(v, pickle.PickleBuffer)]
    data = webpickle.dumps(values, protocol)
    loaded = pickle.loads(data)
    assert loaded[12] == Point(1, 2) and loaded[13] is Color.RED and loaded[14].n == 4
    assert loaded[15](5) == 13
    buffer = io.BytesIO()
    webpickle.Pickler(buffer, protocol).dump(values)
    assert buffer.getvalue() == data
print("ok")
'''


@pytest.mark.native_only(reason="runs a fresh interpreter in a subprocess")
def test_pickles_everything_with_the_stdlib_picklers_and_cloudpickle_unusable():
    assert run_python(WITHOUT_STDLIB_PICKLERS, isolated=False).strip() == "ok"
