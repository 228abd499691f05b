"""Objects cloudpickle can pickle and the stdlib cannot."""

import collections
import io
import logging
import os
import tempfile
import types
import weakref

import pytest

from support import roundtrip, run_in_main

TYPING_CELL = '''
import typing
T = typing.TypeVar("T", bound=int)
P = typing.ParamSpec("P")
Ts = typing.TypeVarTuple("Ts")
type Alias = list[int]
class Box[U]:
    def __init__(self, item: U) -> None:
        self.item = item
def first[V](items: list[V]) -> V:
    return items[0]
'''


def test_weakset_and_dict_views():
    class Ref:
        pass

    keep = Ref()
    loaded = roundtrip(weakref.WeakSet([keep]))
    assert isinstance(loaded, weakref.WeakSet)
    d = {"a": 1, "b": 2}
    assert list(roundtrip(d.keys())) == ["a", "b"]
    assert list(roundtrip(d.values())) == [1, 2]
    assert list(roundtrip(d.items())) == [("a", 1), ("b", 2)]
    assert isinstance(roundtrip(collections.OrderedDict(d).keys()), type(collections.OrderedDict().keys()))


def test_descriptors_of_built_in_types():
    assert roundtrip(type.__dict__["__doc__"]) is type.__dict__["__doc__"]
    assert roundtrip(types.FunctionType.__dict__["__code__"]) is types.FunctionType.__dict__["__code__"]


def test_loggers_by_name():
    assert roundtrip(logging.getLogger("webpickle.test")) is logging.getLogger("webpickle.test")


def test_typing_variables_by_value():
    ns = run_in_main(TYPING_CELL)
    T, P, Ts, Alias = roundtrip([ns["T"], ns["P"], ns["Ts"], ns["Alias"]])
    assert T.__name__ == "T" and T.__bound__ is int
    assert P.__name__ == "P" and Ts.__name__ == "Ts"
    assert Alias.__value__ == list[int]


TYPEVARS_IN_FRESH_PROCESS = """
import pickle, sys
one = pickle.loads(bytes.fromhex(sys.argv[1]))
two = pickle.loads(bytes.fromhex(sys.argv[2]))
print(one[0] is two[0], one[1] is two[1], one[0] is one[1], one[2] is two[2])
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter in a subprocess")
def test_type_variables_keep_their_identity_across_streams():
    import webpickle
    from support import run_python

    ns = run_in_main(TYPING_CELL)
    # Two TypeVars named alike with the same content are still two TypeVars.
    twin = run_in_main(TYPING_CELL)["T"]
    values = [ns["T"], twin, ns["P"]]
    assert roundtrip(values)[0] is ns["T"]  # in this process: the original itself
    one, two = webpickle.dumps(values).hex(), webpickle.dumps(values).hex()
    assert run_python(TYPEVARS_IN_FRESH_PROCESS, one, two).split() == ["True", "True", "False", "True"]


def test_pep695_generics():
    ns = run_in_main(TYPING_CELL)
    Box, first = roundtrip([ns["Box"], ns["first"]])
    assert Box(3).item == 3 and first([7, 8]) == 7
    assert [p.__name__ for p in Box.__type_params__] == ["U"]
    assert [p.__name__ for p in first.__type_params__] == ["V"]


def test_text_file_open_for_reading_travels_by_content():
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("first line\nsecond line\n")
    try:
        with open(handle.name) as file:
            file.readline()
            copy = roundtrip(file)
        assert isinstance(copy, io.StringIO)
        assert copy.read() == "second line\n"
        assert copy.name == handle.name
        with open(handle.name, "a") as file:
            with pytest.raises(Exception, match="not opened for reading"):
                roundtrip(file)
    finally:
        os.unlink(handle.name)


def test_builtin_types_by_their_name_in_types():
    for kind in (types.FunctionType, types.CodeType, types.CellType, types.MappingProxyType, type(None)):
        assert roundtrip(kind) is kind
