"""Methods and method-like objects, in place of pickletester's test_py_methods
and test_c_methods (left out there: they expect TypeError for standalone
classmethod and staticmethod objects, which webpickle pickles by value, as
cloudpickle does). Bound, unbound and built-in methods must load to callables
that give the same results; standalone descriptors and mappingproxy objects
to objects of the same type that behave the same."""

import pickle
import types

import pytest

import webpickle
from support import PROTOCOLS, define_in_main


class Pantry:
    @staticmethod
    def cheese():
        return "cheese"

    @classmethod
    def wine(cls):
        return f"wine from {cls.__name__}"

    def biscuits(self):
        return f"biscuits of {type(self).__name__}"

    class Nested:
        @staticmethod
        def ketchup():
            return "ketchup"

        @classmethod
        def maple(cls):
            return f"maple of {cls.__qualname__}"

        def pie(self):
            return "pie"


class Counting(list):
    class Nested(str):
        pass


def roundtrip(obj, protocol):
    return pickle.loads(webpickle.dumps(obj, protocol=protocol))


PYTHON_METHODS = [
    Pantry.wine,  # classmethod, bound to the class
    Pantry().biscuits,  # bound method
    Pantry.cheese,  # staticmethod: a plain function
    Pantry.Nested.ketchup,
    Pantry.Nested.maple,
    Pantry.Nested().pie,
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("index", range(len(PYTHON_METHODS)))
def test_python_methods(index, protocol):
    method = PYTHON_METHODS[index]
    loaded = roundtrip(method, protocol)
    assert loaded() == method()
    assert loaded.__qualname__ == method.__qualname__


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("method, cls", [(Pantry.biscuits, Pantry), (Pantry.Nested.pie, Pantry.Nested)])
def test_unbound_python_methods(method, cls, protocol):
    loaded = roundtrip(method, protocol)
    assert loaded is method  # an importable function travels by reference
    assert loaded(cls()) == method(cls())


BUILTIN_METHODS = [
    ("abcd".index, ("c",)),  # bound built-in method
    (str.index, ("abcd", "c")),  # unbound built-in method
    ([1, 2, 3].__len__, ()),  # bound slot wrapper
    (list.__len__, ([1, 2, 3],)),  # unbound slot wrapper
    ({1, 2}.__contains__, (2,)),  # bound method that coexists with a slot
    (set.__contains__, ({1, 2}, 2)),
    (dict.fromkeys, (("a", 1), ("b", 2))),  # built-in classmethod
    (bytearray.maketrans, (b"abc", b"xyz")),  # built-in staticmethod
    (Counting([1, 2, 2]).count, (2,)),  # methods reached through subclasses
    (Counting.count, (Counting([1, 2, 2]), 2)),
    (Counting.Nested.count, (Counting.Nested("sweet"), "e")),
    (Counting.Nested("sweet").count, ("e",)),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("index", range(len(BUILTIN_METHODS)))
def test_builtin_methods(index, protocol):
    method, args = BUILTIN_METHODS[index]
    loaded = roundtrip(method, protocol)
    assert type(loaded) is type(method)
    assert loaded(*args) == method(*args)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_standalone_staticmethod_and_classmethod(protocol):
    static = roundtrip(Pantry.__dict__["cheese"], protocol)
    assert type(static) is staticmethod
    assert static.__func__() == "cheese"
    clsmethod = roundtrip(Pantry.__dict__["wine"], protocol)
    assert type(clsmethod) is classmethod
    assert clsmethod.__func__(Pantry) == "wine from Pantry"
    # Bound through a class again, the loaded descriptors work as the originals.
    assert static.__get__(None, Pantry)() == "cheese"
    assert clsmethod.__get__(None, Pantry.Nested)() == "wine from Nested"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_standalone_descriptors_by_value(protocol):
    cell = "@classmethod\ndef make(cls, n):\n    return [cls.__name__] * n\n"
    descr = define_in_main(cell + "s = staticmethod(lambda x: x + 1)\n", "make")
    loaded = roundtrip(descr, protocol)
    assert type(loaded) is classmethod
    assert loaded.__func__(int, 2) == ["int", "int"]
    lam = roundtrip(define_in_main("s = staticmethod(lambda x: x + 1)\n", "s"), protocol)
    assert type(lam) is staticmethod and lam.__func__(41) == 42


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_builtin_method_descriptors(protocol):
    # Descriptors of a built-in type's __dict__ load as the same objects...
    for descr in (str.__dict__["index"], list.__dict__["__len__"], set.__dict__["__contains__"]):
        assert roundtrip(descr, protocol) is descr
    # ...but a built-in classmethod's descriptor cannot be pickled, as with the stdlib...
    with pytest.raises(TypeError, match="cannot pickle 'classmethod_descriptor' object"):
        webpickle.dumps(dict.__dict__["fromkeys"], protocol=protocol)
    # ...and a staticmethod wrapping a built-in is a staticmethod object like
    # any other: a new one around the same function.
    static = roundtrip(bytearray.__dict__["maketrans"], protocol)
    assert type(static) is staticmethod and static.__func__ is bytearray.maketrans


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_mappingproxy(protocol):
    inner = [1, 2]
    proxy = types.MappingProxyType({"a": inner, "b": inner})
    loaded = roundtrip(proxy, protocol)
    assert type(loaded) is types.MappingProxyType
    assert dict(loaded) == {"a": [1, 2], "b": [1, 2]}
    assert loaded["a"] is loaded["b"]  # sharing inside the proxy is kept
    pair = roundtrip([proxy, proxy], protocol)
    assert pair[0] is pair[1]
