"""The exact bytes of a fixed corpus of streams, pinned by their SHA-256.

Refactors of the pickler must keep streams byte-identical (determinism is a
promise of the README, and caches on the loading side key on the bytes). Each
pin below is the digest of `webpickle.dumps(obj, protocol=p)` for one corpus
item (the benchmark corpus, bench/corpus.py, and two cells of this file). The
digests are the same natively and inside Pyodide, except for streams that
carry code the stdlib generates, pinned per Python release.

When a change means to alter a stream, update its pins in the same commit and
say there why the stream changed. To print this runtime's digests:

    build/venv/bin/python tests/python/test_stream_digests.py
"""

import collections
import dataclasses
import gc
import hashlib
import importlib.util
import io
import pathlib
import sys

import pytest

import webpickle

_BENCH_CORPUS = pathlib.Path(__file__).resolve().parents[2] / "bench" / "corpus.py"


def _bench_corpus():
    # Imported under the name bench/run.py gives it, so that corpus.Plain is
    # written as the same global reference in both runtimes.
    if "corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("corpus", _BENCH_CORPUS)
        module = importlib.util.module_from_spec(spec)
        sys.modules["corpus"] = module
        spec.loader.exec_module(module)
    return sys.modules["corpus"]


# Objects written specially (descriptors, views, typing objects, singletons,
# types the stdlib reduces) and classes with every kind of member, in one
# notebook-like cell: nothing here can be imported by name.
SPECIAL_CELL = '''
import collections
import dataclasses
import enum
import functools
import logging
import types
import typing
import weakref

class Meter:
    """Slots, a class attribute and the three kinds of method descriptor."""
    __slots__ = ("reading",)
    unit = "kWh"

    def __init__(self, reading):
        self.reading = reading

    @property
    def doubled(self):
        """Twice the reading."""
        return self.reading * 2

    @classmethod
    def zero(cls):
        return cls(0)

    @staticmethod
    def parse(text):
        return float(text)

class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2
    MAXIMUM = 2

class Flags(enum.Flag):
    READ = 1
    WRITE = 2

@dataclasses.dataclass(order=True)
class Sample:
    where: str
    value: float = 0.0
    tags: list = dataclasses.field(default_factory=list)

T = typing.TypeVar("T", bound=int)
P = typing.ParamSpec("P")
Ts = typing.TypeVarTuple("Ts")
type Pair[K] = tuple[K, K]

def first[V](items: list[V]) -> V:
    return items[0]

plain = {"x": 1, "y": 2}
ordered = collections.OrderedDict(a=1, b=2)
member = Meter(3)
objects = [
    Meter, Meter.__dict__["doubled"], Meter.__dict__["zero"], Meter.__dict__["parse"], Meter.__dict__["reading"],
    member, Level.HIGH, Level.MAXIMUM, Flags.READ | Flags.WRITE, Sample("a", 1.5, ["t"]),
    T, P, Ts, Pair, first,
    plain.keys(), plain.values(), plain.items(), ordered.keys(), ordered.values(), ordered.items(),
    weakref.WeakSet([first]), types.MappingProxyType({"k": [1, 2]}),
    type.__dict__["__doc__"], types.FunctionType.__dict__["__code__"], str.upper,
    len, plain.get, int.__add__, property(len), staticmethod(len), classmethod(first),
    logging.getLogger("webpickle.digests"), functools.partial(first, [7]),
    dataclasses.MISSING, NotImplemented, Ellipsis, type(None), range(3, 9, 2), slice(1, None, 2),
    frozenset({1}), {2}, bytearray(b"ab"), 1 + 2j, collections.Counter("aab"), collections.deque([1]),
]
'''


def _special_objects():
    namespace = {"__name__": "__main__"}
    exec(compile(SPECIAL_CELL, "<digest cell>", "exec"), namespace)
    return namespace["objects"]


class _DispatchPickler(webpickle.Pickler):
    """A pickler whose dispatch_table has entries for specially written types
    and for plain types: pins which of the two wins today."""

    dispatch_table = {
        collections.OrderedDict: lambda d: (collections.OrderedDict, (list(d.items()),)),
        property: lambda p: (property, (p.fget,)),
        type({}.keys()): lambda view: (list, (list(view),)),
    }


def _dispatch_table_stream(protocol):
    ns = {"__name__": "__main__"}
    exec(compile("class Box:\n    @property\n    def size(self):\n        return 1\n", "<digest cell>", "exec"), ns)
    objects = [collections.OrderedDict(a=1), ns["Box"], ns["Box"].__dict__["size"], {"k": 1}.keys()]
    buffer = io.BytesIO()
    _DispatchPickler(buffer, protocol=protocol).dump(objects)
    return buffer.getvalue()


def _bench_item(name):
    corpus = _bench_corpus()
    (item,) = [item for item in corpus.ITEMS if item.name == name]
    return item.make


# Bench corpus items whose streams are pinned (the 64 MiB out-of-band buffer
# and the scaling series add nothing the others do not cover).
BENCH_ITEMS = ("dict int->float 30k", "list of int 100k", "JSON records 10k", "nested containers 5k",
               "bytes 8 MB", "plain instances 10k", "lambda", "closure", "recursive function",
               "notebook cell", "dynamic dataclass 10k", "cell of 10 functions")


def _stream(name, protocol):
    if name == "special objects":
        return webpickle.dumps(_special_objects(), protocol=protocol)
    if name == "dispatch table":
        return _dispatch_table_stream(protocol)
    return webpickle.dumps(_bench_item(name)(), protocol=protocol)


def _digest(name, protocol):
    # Classes of earlier streams of the same cell must be gone: a live class
    # with the same content would make this one's id take a number.
    gc.collect()
    return hashlib.sha256(_stream(name, protocol)).hexdigest()


# (corpus item, protocol) -> SHA-256 of the stream, the same in every 3.14 release.
PINS = {
    ('dict int->float 30k', 2): '0dbca90eccb349fecda036a0f0bb09579e1a15ce4c23430cf5dc463481e21196',
    ('dict int->float 30k', 5): '2af584321ff17af72d0353498ef48224f4c24f20fa6e07aac7101f8d1d4100d8',
    ('list of int 100k', 2): 'ff0142693d06631cd953a2be0c33c8dbf26ab1fd5c87e872606bc6e8e2cce2cf',
    ('list of int 100k', 5): '0ed5eadb6772fa8ca2d7ff4dc578aec455c073bd6fcb23dea726261134351963',
    ('JSON records 10k', 2): '68a2f1150579b2c23e4aa6f854a382f1cc1db69be010f751dab85a4b6b76e7ae',
    ('JSON records 10k', 5): '4d2c0ab5d5f523153af5879e883063687584588bb3002aade332ed1afc377051',
    ('nested containers 5k', 2): 'd02d224713f9880fef2d939796ae50489168aa12516b92f3c42c1436845bccce',
    ('nested containers 5k', 5): 'dbe502a32570c91bea00bdba38ef41930e24ddd14d693529df242b4439d5f262',
    ('bytes 8 MB', 2): '7d1f4c474b6ccb0127e36e0a0750ff7e4138f2de0466248e3b1942f9ee0be509',
    ('bytes 8 MB', 5): '3d9eef909fc54a4a2e307c5f9f2e8e240d9ed07bcc144221a621e71e7b06f21e',
    ('plain instances 10k', 2): '13cb6546f79d371de67d2a3bc6219bb6a5ded5bd60e7312361c0f50d0291a904',
    ('plain instances 10k', 5): 'bb5c90d5ea2d520afe42f2e31e0ebdfac53087a2a7ed4072b2671e7af6882d3a',
    ('lambda', 2): '9027685048bb4f6df283fd962a6d5ba34bb6a515337c76718aa1d9aadff54c93',
    ('lambda', 5): '8d290c31482774c7c7e09eccfcd2e7e7dbceed1da38b312d0584994c4a3d5b39',
    ('closure', 2): '2824654a54057bddc97d4f2f4f60f64fd9f9c884a7d7f92d437d737877d22e5f',
    ('closure', 5): '32cbf339eec7e0ae4cf5efd8ab3bec45aee73d154f9fe71ec8dae3218b727596',
    ('recursive function', 2): '017175d39910a8e23bab4d97e5eeb72eb36d9680a992a5576e9d5fe493ab7c4c',
    ('recursive function', 5): '89de40cb14b23d5a9f608cf4e56ab3a2763e605e6cf73d3051fd7006aac812ff',
    ('dynamic dataclass 10k', 2): '9af6abdca2d68d9d5c7f33b77c991fd6fd9d0099c7e294f2d1bd410c57ef88e3',
    ('dynamic dataclass 10k', 5): 'a54e96108283bf3040cea6b2ad08fff5d37e40421c1482aecb56b9da6268990a',
    ('cell of 10 functions', 2): '0ca4557ef911fdbb04e77250d9330e2f8959ba2dc0ad1fe86d3f28e6e897cc1c',
    ('cell of 10 functions', 5): '488124576050041c5606f19f4cf4a37a25ba1f4da26c59604f1fff75f5e64886',
    ('dispatch table', 2): '667f678c8283cfa7729ebf4bc790d1356bf1b1b07a91eae328b71dba70f1256f',
    ('dispatch table', 5): '013cb5118548fac8dec2fd587368062b31a3a971a2f46ef373f24b3a9894a792',
}

# Streams that carry what the stdlib makes, which changes between patch
# releases: the methods dataclasses generates (a frozen dataclass's
# __delattr__ in 3.14.2 and 3.14.8 differ) and ParamSpec's default bound
# (type(None) in 3.14.2, None in 3.14.8). Pinned per release: the native
# toolchain's CPython and Pyodide's.
ITEMS_BY_RELEASE = ("notebook cell", "special objects")
PINS_BY_RELEASE = {
    "3.14.8": {
        ('notebook cell', 2): '0bdb813ac45d17d8f46f5603523c10d1b518e7b15945c374e5b98d54888b203c',
        ('notebook cell', 5): 'bf2357013513d1a5df47bf977a2e0afc12781e08e8532770ab92544b6f13822e',
        ('special objects', 2): '81b75f4c5dec9d92e3e5e3847743f68686f3111bc12d2ff97981626537802206',
        ('special objects', 5): '2c31c2655c2775875369852adb13697cb710923112d3e53f471ae0888242ca89',
    },
    "3.14.2": {
        ('notebook cell', 2): '36a188efb85ad7c45d790d7f6788291598ad5052c92930908db27fc45ea7fd35',
        ('notebook cell', 5): 'dd569ac731284f3cac6d82420c5e7b42063a669acef04cf9e332f96e4292e843',
        ('special objects', 2): 'b66e9b9461a9f2cac3ed33a9a11da86965b197fd0bede94da7633b57346363cc',
        ('special objects', 5): '48233a0ead8428b43a3dd88474e6cbfddbc7af3a2edaccf571c0d02b58899143',
    },
}
ITEMS = (*BENCH_ITEMS, "special objects", "dispatch table")
PROTOCOLS = (2, 5)


def _release():
    return "%d.%d.%d" % sys.version_info[:3]


@pytest.mark.parametrize("name,protocol", sorted(PINS))
def test_stream_digest_is_pinned(name, protocol):
    _check(name, protocol, PINS[name, protocol])


@pytest.mark.parametrize("name,protocol", [(n, p) for n in ITEMS_BY_RELEASE for p in PROTOCOLS])
def test_stream_digest_is_pinned_for_this_release(name, protocol):
    pins = PINS_BY_RELEASE.get(_release())
    if pins is None:
        pytest.skip(f"no pins for Python {_release()}: add them to PINS_BY_RELEASE (run this file as a "
                    "script to print them)")
    _check(name, protocol, pins[name, protocol])


def _check(name, protocol, pin):
    digest = _digest(name, protocol)
    assert digest == pin, (
        f"the stream of {name!r} at protocol {protocol} changed (sha256 {digest}). If the change is "
        "intended, update its pin in the same commit and say there why the stream changed; "
        "otherwise the change broke byte-identical streams.")


def test_every_item_is_pinned_at_protocols_2_and_5():
    expected = {(name, protocol) for name in ITEMS for protocol in PROTOCOLS}
    assert set(PINS) | {(n, p) for n in ITEMS_BY_RELEASE for p in PROTOCOLS} == expected
    assert not set(PINS) & set(ITEMS_BY_RELEASE)
    for release, pins in PINS_BY_RELEASE.items():
        assert set(pins) == {(n, p) for n in ITEMS_BY_RELEASE for p in PROTOCOLS}, release


def test_special_objects_round_trip():
    # The pinned stream is one that loads: a pin of a broken stream would keep it broken.
    import pickle

    loaded = pickle.loads(webpickle.dumps(_special_objects()))
    meter, reading = loaded[0], loaded[4]
    assert meter.zero().reading == 0 and meter.parse("2.5") == 2.5 and meter(4).doubled == 8
    assert reading.__get__(loaded[5]) == 3
    assert loaded[6] == 2 and loaded[7] is loaded[6] and list(loaded[15]) == ["x", "y"]
    assert [x.where for x in loaded if dataclasses.is_dataclass(x) and not isinstance(x, type)] == ["a"]


if __name__ == "__main__":
    # Prints every digest of this runtime, in the form of PINS.
    for item in ITEMS:
        for proto in PROTOCOLS:
            print(f"    ({item!r}, {proto}): {_digest(item, proto)!r},")
