"""Closures made by stdlib factories (the __annotate__ of a dataclass's
__init__, reprlib.recursive_repr's wrapper around a __repr__) travel as a
call of the factory, not as the stdlib's bytecode, and come out the same;
one changed after the factory made it travels by value, changes kept."""

import pickle
import reprlib

import pytest

import webpickle
from support import roundtrip, run_in_main, run_python

CELL = '''
import dataclasses, reprlib

@dataclasses.dataclass(frozen=True)
class Part:
    name: str
    size: float
    later: Undefined = None
    tags: tuple = ()

@dataclasses.dataclass
class Node:
    label: str
    children: list = dataclasses.field(default_factory=list)

class Looped:
    def __init__(self):
        self.me = [self]
    @reprlib.recursive_repr("<loop>")
    def __repr__(self):
        return f"Looped({self.me})"
'''

# The stdlib's own code would show its qualnames in the stream.
STDLIB_QUALNAMES = (b"_make_annotate_function.<locals>", b"recursive_repr.<locals>")


def test_the_stream_calls_the_factories_instead_of_carrying_their_code():
    ns = run_in_main(CELL)
    data = webpickle.dumps([ns["Part"], ns["Node"], ns["Looped"]])
    for qualname in STDLIB_QUALNAMES:
        assert qualname not in data
    assert b"_make_annotate_function" in data and b"recursive_repr" in data


FRESH_PROCESS = r"""
import annotationlib, pickle, sys
Part, Node, Looped = pickle.loads(bytes.fromhex(sys.argv[1]))
F = annotationlib.Format
init = Part.__init__
node = Node("a")
node.children.append(node)
strings = {"name": "str", "size": "float", "later": "Undefined", "tags": "tuple", "return": "None"}
print(init.__annotate__.__qualname__ == "Part.__init__.__annotate__",
      init.__annotate__.__generated_by_dataclasses__,
      annotationlib.get_annotations(init, format=F.STRING) == strings,
      type(annotationlib.get_annotations(init, format=F.FORWARDREF)["later"]).__name__ == "ForwardRef",
      repr(Part("p", 1.5)) == "Part(name='p', size=1.5, later=None, tags=())",
      repr(node) == "Node(label='a', children=[...])",
      Node.__repr__.__qualname__ == "Node.__repr__" and Node.__repr__.__wrapped__.__name__ == "__repr__",
      repr(Looped()) == "Looped([<loop>])")
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter in a subprocess")
def test_the_rebuilt_closures_behave_as_the_originals_where_nothing_is_installed():
    ns = run_in_main(CELL)
    data = webpickle.dumps([ns["Part"], ns["Node"], ns["Looped"]])
    assert run_python(FRESH_PROCESS, data.hex()).split() == ["True"] * 8


ECHO_BACK = """
import pickle, sys, webpickle
values = pickle.loads(sys.stdin.buffer.read())
sys.stdout.buffer.write(webpickle.dumps(values))
"""


@pytest.mark.native_only(reason="sends the classes to a fresh interpreter and back")
def test_the_rebuilt_closures_give_the_same_bytes_again():
    # Loaded where the classes do not exist, every function is rebuilt;
    # pickled again there, the stream must not change.
    import subprocess
    import sys

    ns = run_in_main(CELL)
    sent = webpickle.dumps([ns["Part"], ns["Node"], ns["Looped"], ns["Node"].__init__.__annotate__])
    done = subprocess.run([sys.executable, "-c", ECHO_BACK], input=sent, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == sent


def test_a_wrapper_changed_after_it_was_made_travels_by_value():
    ns = run_in_main(CELL)
    wrapper = ns["Looped"].__repr__
    wrapper.note = "mine"
    data = webpickle.dumps(wrapper)
    assert b"recursive_repr.<locals>" in data
    back = pickle.loads(data)
    assert back.note == "mine" and back.__wrapped__.__qualname__ == "Looped.__repr__"


def test_an_annotate_function_changed_after_it_was_made_travels_by_value():
    ns = run_in_main(CELL)
    annotate = ns["Node"].__init__.__annotate__
    annotate.__doc__ = "changed"
    data = webpickle.dumps(annotate)
    assert b"_make_annotate_function.<locals>" in data
    back = pickle.loads(data)
    assert back.__doc__ == "changed" and back(1)["label"] is str


def test_a_wrapper_pickled_while_its_repr_runs_travels_by_value():
    # repr_running is not empty then; a rebuilt wrapper would forget it.
    streams = []

    @reprlib.recursive_repr()
    def show(self):
        streams.append(webpickle.dumps(show))
        return "shown"

    class Box:
        __repr__ = show

    assert repr(Box()) == "shown"
    (data,) = streams
    assert b"recursive_repr.<locals>" in data
    assert pickle.loads(data)(object()) == "shown"


def test_a_wrapper_with_its_own_name_keeps_it():
    # dataclasses renames the wrapper after recursive_repr made it; so may anyone.
    @reprlib.recursive_repr("...")
    def show(self):
        return "x"

    show.__qualname__ = "Elsewhere.show"
    show.__doc__ = "documented"
    data = webpickle.dumps(show)
    assert b"recursive_repr.<locals>" not in data
    back = pickle.loads(data)
    assert (back.__qualname__, back.__doc__, back.__wrapped__.__qualname__) == (
        "Elsewhere.show", "documented", show.__wrapped__.__qualname__)
