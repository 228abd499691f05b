"""Functions that cannot be imported by name travel by value."""

import pickle

import pytest

import webpickle
from support import PROTOCOLS, define_in_main, roundtrip

CELL = """
scale = 3
def make(k):
    return lambda x: x * k + scale
f = make(2)
"""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_closure_with_a_global_from_main(protocol):
    f = define_in_main(CELL, "f")
    g = roundtrip(f, protocol)
    assert g(5) == 13
    assert g is not f


def test_lambda():
    g = roundtrip(lambda x, y=2: x ** y)
    assert g(3) == 9


def test_nested_function_with_defaults_and_kwdefaults():
    def inner(a, b=10, *, c=100):
        """Doc of inner."""
        return a + b + c

    g = roundtrip(inner)
    assert g(1) == 111
    assert g(1, 2, c=3) == 6
    assert g.__doc__ == "Doc of inner."
    assert g.__name__ == "inner"
    assert g.__qualname__ == inner.__qualname__


def test_recursive_function_through_its_global():
    fact = define_in_main("def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n", "fact")
    g = roundtrip(fact)
    assert g(6) == 720
    assert g.__globals__["fact"] is g


def test_recursive_closure():
    def outer():
        def countdown(n):
            return 0 if n == 0 else 1 + countdown(n - 1)

        return countdown

    g = roundtrip(outer())
    assert g(25) == 25


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_closure_variables_of_every_kind(protocol):
    # Scalars and containers of scalars are written inside their cells; other
    # values (an object, a container holding one) fill their cells afterwards.
    marker = object()
    shared = [1, 2]

    def make():
        a, b, c, d, e, empty = 7, "text", (1, 2.5, None), {"k": b"v"}, [marker], None
        del empty

        def first():
            return a, b, c, d, e, shared

        def second():
            shared.append(len(shared) + 1)
            return shared

        def unbound():
            return empty  # noqa: F821 (the cell is empty on purpose)

        return first, second, unbound

    first, second, unbound = roundtrip(make(), protocol)
    a, b, c, d, e, shared_copy = first()
    assert (a, b, c, d) == (7, "text", (1, 2.5, None), {"k": b"v"})
    assert type(e[0]) is object
    assert second() is shared_copy and shared_copy == [1, 2, 3]  # one list, as before
    with pytest.raises(NameError):
        unbound()


def test_functions_sharing_one_code_object_carry_their_own_globals():
    # The scan of a code object for global names is kept with the code
    # object; the values always come from each function's own globals.
    import types

    f = define_in_main("RATE = 2\ndef f(x):\n    return x * RATE\n", "f")
    twin = types.FunctionType(f.__code__, {"__name__": "__main__", "RATE": 10}, "f")
    assert roundtrip(f)(3) == 6
    assert roundtrip(twin)(3) == 30
    f.__globals__["RATE"] = 5
    assert roundtrip(f)(3) == 15  # pickled again: the new value


def test_functions_of_one_module_share_their_globals():
    ns_source = "counter = [0]\ndef bump():\n    counter[0] += 1\n    return counter[0]\ndef read():\n    return counter[0]\n"
    bump = define_in_main(ns_source, "bump")
    read = bump.__globals__["read"]
    bump2, read2 = roundtrip((bump, read))
    assert bump2.__globals__ is read2.__globals__
    bump2()
    assert read2() == 1


def test_only_used_globals_travel():
    source = "import math\nbig = list(range(100000))\ndef area(r):\n    return math.pi * r * r\n"
    area = define_in_main(source, "area")
    stream = webpickle.dumps(area)
    assert len(stream) < 2000
    assert abs(pickle.loads(stream)(1.0) - 3.141592653589793) < 1e-12


def test_function_attributes_travel():
    def f():
        return 1

    f.tag = "hello"
    g = roundtrip(f)
    assert g.tag == "hello"


def test_importable_functions_travel_by_reference():
    import json

    for protocol in PROTOCOLS:
        stream = webpickle.dumps(json.dumps, protocol=protocol)
        assert stream == pickle.dumps(json.dumps, protocol=protocol)  # a reference, as the stdlib writes it
        assert pickle.loads(stream) is json.dumps


def test_generator_function():
    def gen(n):
        yield from range(n)

    assert list(roundtrip(gen)(4)) == [0, 1, 2, 3]


def test_same_definitions_give_the_same_bytes():
    f1 = define_in_main(CELL, "f")
    f2 = define_in_main(CELL, "f")
    assert webpickle.dumps(f1) == webpickle.dumps(f2)


def test_dumps_of_loads_gives_the_same_bytes():
    f = define_in_main(CELL, "f")
    first = webpickle.dumps(f)
    assert webpickle.dumps(pickle.loads(first)) == first
    assert pickle.loads(first).__module__ == "__main__"


CODE_SHAPES = '''
def shapes(a, b=1, /, c=2, *args, d, e=3, **kwargs):
    cell = [a, b, c]
    def inner(x):
        return x + len(cell) + d
    try:
        return inner(e)
    except ValueError:
        return None

async def coroutine(x):
    return x

def generator(n):
    total = 0
    for i in range(n):
        total += yield i
    return total
'''

# types.CodeType's parameters, in order (the engine reads them from the struct).
CODE_FIELDS = ["co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_nlocals", "co_stacksize", "co_flags",
               "co_code", "co_consts", "co_names", "co_varnames", "co_filename", "co_name", "co_qualname",
               "co_firstlineno", "co_linetable", "co_exceptiontable", "co_freevars", "co_cellvars"]


@pytest.mark.parametrize("name", ["shapes", "coroutine", "generator"])
def test_every_code_field_survives(name):
    code = define_in_main(CODE_SHAPES, name).__code__
    nested = [c for c in code.co_consts if hasattr(c, "co_code")]
    for original in [code, *nested]:
        loaded = pickle.loads(webpickle.dumps(original))
        for field in CODE_FIELDS:
            assert getattr(loaded, field) == getattr(original, field), field
