"""The benchmark corpus, shared by the native and the Pyodide runs.

Stdlib only, so the same file runs in both runtimes. Each Item builds its
object once (`make`) and knows how to tell a faithful round trip (`probe`: a
cheap summary that must be equal before and after dumps/loads).

By-value items are exec'd from source into a fresh dict whose __name__ is
"__main__", one dict per item: nothing in them can be imported by name, and a
pickler that copies a function's whole globals (dill does) copies only that
item's namespace, as it would for one notebook cell.
"""

import dataclasses
import json
import pickle
import zlib

DATA, INSTANCES, BY_VALUE = "data", "instances", "by value"
# Instances of a by-value class: the by-value speed goals, no size goal (the
# size goal is for functions and classes themselves).
BY_VALUE_INSTANCES = "by value instances"
# Series that show how time and size grow with the input; no goals.
SCALING = "scaling"


@dataclasses.dataclass
class Item:
    name: str
    kind: str  # DATA, INSTANCES or BY_VALUE: selects the goals that apply
    description: str
    make: object  # () -> the object to pickle
    probe: object = None  # (obj) -> comparable summary; None compares obj itself
    out_of_band: bool = False  # dumps with buffer_callback, loads with buffers


class Plain:
    """A plain importable class: pickled by reference, instances by __dict__."""

    def __init__(self, ident, label, x, y):
        self.ident = ident
        self.label = label
        self.x = x
        self.y = y


def _records(count=10_000):
    # Through a real JSON text, so strings are distinct objects as after json.loads.
    tags = ["red", "green", "blue", "urgent", "archived", "beta", "vip"]
    rows = [{"id": i, "name": f"user-{i:05d}", "tags": [tags[i % 7], tags[(i * 3 + 1) % 7]][: 1 + i % 2],
             "score": round(i * 0.37 % 100, 2)} for i in range(count)]
    return json.loads(json.dumps(rows))


def _nested(count=5_000):
    # Four levels of dict, list and tuple per record: every level is a place
    # where a failure would add a note ("when serializing dict item 'a'"). The
    # notes are added only on the way out of a failure, so this success path
    # must cost no more than the stdlib's.
    return [{"a": [i, {"b": (i * 0.5, f"x{i % 97}"), "c": [None, True, -i]}], "d": {"e": (i, i + 1)}}
            for i in range(count)]


def _buffer_probe(obj):
    view = memoryview(obj)
    return view.nbytes, zlib.crc32(view)


def _by_value(source, result):
    """An item builder: exec `source` as __main__ and return its `result` name."""
    def make():
        namespace = {"__name__": "__main__"}
        exec(compile(source, f"<bench cell {result}>", "exec"), namespace)
        return namespace[result]
    return make


LAMBDA = "square_plus_one = lambda x: x * x + 1\n"

CLOSURE = """
def make_scaler(factor, offset):
    bias = {i: i * factor for i in range(4)}
    def scale(x):
        return x * factor + offset + bias.get(x, 0)
    return scale

scaler = make_scaler(3, 0.5)
"""

RECURSIVE = """
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
"""

NOTEBOOK_CELL = '''
import dataclasses
import enum
import math

class Shape(enum.Enum):
    CIRCLE = "circle"
    SQUARE = "square"

@dataclasses.dataclass(frozen=True)
class Part:
    name: str
    shape: Shape
    size: float
    tags: tuple = ()

    def area(self):
        return math.pi * self.size ** 2 if self.shape is Shape.CIRCLE else self.size ** 2

class Inventory:
    """Parts with derived totals."""
    currency = "EUR"

    def __init__(self, parts=()):
        self._parts = list(parts)

    @property
    def count(self):
        return len(self._parts)

    @property
    def total_area(self):
        return sum(part.area() for part in self._parts)

    @classmethod
    def from_specs(cls, specs):
        return cls(Part(name, Shape(shape), size) for name, shape, size in specs)

    @staticmethod
    def describe(part):
        return f"{part.name}: {part.area():.2f}"

def make_inventory(n):
    return Inventory.from_specs((f"p{i}", "circle" if i % 2 else "square", i / 10) for i in range(n))

def summary(n=10):
    inventory = make_inventory(n)
    return inventory.count, round(inventory.total_area, 6), [Inventory.describe(p) for p in inventory._parts[:3]]

cell = {"Shape": Shape, "Part": Part, "Inventory": Inventory,
        "make_inventory": make_inventory, "summary": summary}
'''

DATACLASS_INSTANCES = """
import dataclasses

@dataclasses.dataclass
class Reading:
    sensor: str
    value: float
    ok: bool = True

readings = [Reading(f"s{i % 50}", i * 0.5, i % 7 != 0) for i in range(10_000)]
"""


def _cell_of_functions(count):
    """Source of a cell defining `count` functions that call each other and share globals."""
    lines = ["RATE = 1.07", "LABELS = ('low', 'mid', 'high')", ""]
    for i in range(count):
        previous = f"step_{i - 1}(x)" if i else "x"
        lines += [f"def step_{i}(x, scale=RATE):",
                  f"    y = {previous} * scale + {i}",
                  f"    return y if y < 1e9 else LABELS[{i} % 3]", ""]
    lines.append(f"cell = [step_{i} for i in range({count})]")
    return "\n".join(lines) + "\n"


def _fields(objs):
    return [(type(o).__qualname__, dataclasses.astuple(o)) for o in objs]


ITEMS = [
    Item("dict int->float 30k", DATA, "{i: i * 0.5} for 30,000 ints", lambda: {i: i * 0.5 for i in range(30_000)}),
    Item("list of int 100k", DATA, "100,000 signed 32-bit ints",
         lambda: [(i * 2654435761) % 2**32 - 2**31 for i in range(100_000)]),
    Item("JSON records 10k", DATA, "10,000 dicts {id, name, tags, score} from json.loads", _records),
    Item("nested containers 5k", DATA, "5,000 records nested 4 levels (dict/list/tuple): the error-notes "
         "path sits on every level, used only on failure", _nested),
    Item("bytes 8 MB", DATA, "one 8 MiB bytes object", lambda: bytes(range(256)) * (8 * 2**20 // 256),
         probe=lambda b: (len(b), zlib.crc32(b))),
    Item("plain instances 10k", INSTANCES, "10,000 instances of bench corpus.Plain (importable)",
         lambda: [Plain(i, f"p{i}", i * 0.5, -i) for i in range(10_000)],
         probe=lambda objs: [(type(o).__qualname__, vars(o)) for o in objs]),
    Item("PickleBuffer 64 MB oob", DATA, "64 MiB bytearray as PickleBuffer, out-of-band (protocol 5)",
         lambda: pickle.PickleBuffer(bytearray(64 * 2**20)), probe=_buffer_probe, out_of_band=True),
    Item("lambda", BY_VALUE, "a lambda defined in __main__", _by_value(LAMBDA, "square_plus_one"),
         probe=lambda f: [f(x) for x in range(5)]),
    Item("closure", BY_VALUE, "a closure over an int, a float and a dict", _by_value(CLOSURE, "scaler"),
         probe=lambda f: [f(x) for x in range(6)]),
    Item("recursive function", BY_VALUE, "fib, calling itself through its globals", _by_value(RECURSIVE, "fib"),
         probe=lambda f: f(15)),
    Item("notebook cell", BY_VALUE, "enum, frozen dataclass, class with properties/classmethods, 2 functions",
         _by_value(NOTEBOOK_CELL, "cell"), probe=lambda cell: cell["summary"](7)),
    Item("dynamic dataclass 10k", BY_VALUE_INSTANCES, "10,000 instances of a dataclass defined in __main__",
         _by_value(DATACLASS_INSTANCES, "readings"), probe=_fields),
    *(Item(f"cell of {n} function{'s' if n > 1 else ''}", SCALING, f"{n} functions in one cell, chained",
           _by_value(_cell_of_functions(n), "cell"), probe=lambda cell: cell[-1](1.0)) for n in (1, 10, 100)),
    *(Item(f"{label} JSON records", SCALING, f"{n:,} dicts {{id, name, tags, score}} from json.loads",
           lambda n=n: _records(n)) for n, label in ((1_000, "1k"), (10_000, "10k"), (100_000, "100k"))),
]
