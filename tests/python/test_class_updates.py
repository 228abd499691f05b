"""A class sent again carries its changes: in a process that got the class
from a stream, the newest stream's state wins (methods, attributes, removed
ones removed, docstring, annotations), while the class stays one object
(isinstance holds across messages). The process that defined the class
keeps its own definition, and each stream's functions use the globals that
stream carries.

Each receiver below starts from a registry no stream has filled: natively a
fresh interpreter without webpickle (a subprocess), and in both runtimes this
process with the class registry module set aside for the test (its classes
are then all loaded from streams, as in a worker)."""

import pickle

import pytest

import webpickle
from support import fresh_class_registry as fresh_registry, run_in_main, run_python

CELL = '''
counter = 0

def bump():
    global counter
    counter += 1
    return counter

class Greeter:
    """First version."""
    greeting = "hello"
    gone = "soon removed"
    size: int

    def hello(self):
        return self.greeting + " from v1"

    def count(self):
        global counter
        counter += 1
        return counter
'''


def change(Greeter):
    """What a user does between two sends, in place."""
    Greeter.hello = lambda self: self.greeting + " from v2"
    Greeter.greeting = "hi"
    Greeter.added = 3
    del Greeter.gone
    Greeter.__doc__ = "Second version."
    Greeter.__annotations__ = {"size": float, "name": str}


def two_streams():
    ns = run_in_main(CELL)
    Greeter = ns["Greeter"]
    first = webpickle.dumps([Greeter(), ns["bump"]])
    change(Greeter)
    second = webpickle.dumps([Greeter(), ns["bump"]])
    return first, second


RECEIVE = r'''
def receive(first, second):
    (old, bump1) = pickle.loads(first)
    cls = type(old)
    before = (old.hello(), cls.greeting, hasattr(cls, "gone"), cls.__doc__, bump1(), bump1(), old.count())
    (new, bump2) = pickle.loads(second)
    after = (type(new) is cls, isinstance(old, type(new)), new.hello(), old.hello(), cls.greeting,
             getattr(cls, "added", None), hasattr(cls, "gone"), cls.__doc__, sorted(cls.__annotations__),
             bump2(), new.count(), bump1())
    return before, after
'''
EXPECTED = (
    ("hello from v1", "hello", True, "First version.", 1, 2, 3),
    # The second stream's functions, the class's new method among them, share
    # that stream's globals: they start again from the sent value (0).
    (True, True, "hi from v2", "hi from v2", "hi", 3, False, "Second version.", ["name", "size"], 1, 2, 4),
)


def test_two_streams_of_a_changed_class_in_a_fresh_registry():
    first, second = two_streams()
    ns = {"pickle": pickle}
    exec(RECEIVE, ns)
    with fresh_registry():
        assert ns["receive"](first, second) == EXPECTED


@pytest.mark.native_only(reason="loads in a fresh interpreter in a subprocess")
def test_two_streams_of_a_changed_class_in_a_fresh_interpreter():
    first, second = two_streams()
    code = "import pickle, sys\n" + RECEIVE + "print(repr(receive(bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]))))"
    assert run_python(code, first.hex(), second.hex()).strip() == repr(EXPECTED)


def test_the_defining_process_keeps_its_definition():
    ns = run_in_main(CELL)
    Greeter = ns["Greeter"]
    stale = webpickle.dumps(Greeter())
    change(Greeter)
    back = pickle.loads(stale)  # an old stream coming home
    assert type(back) is Greeter
    assert back.hello() == "hi from v2" and Greeter.added == 3 and not hasattr(Greeter, "gone")
    assert Greeter.__doc__ == "Second version."


def test_a_receiver_that_never_had_a_removed_attribute_loads_the_class():
    ns = run_in_main(CELL)
    Greeter = ns["Greeter"]
    webpickle.dumps(Greeter)  # sent once with `gone`
    change(Greeter)
    stream = webpickle.dumps(Greeter)
    with fresh_registry():
        loaded = pickle.loads(stream)
    assert loaded is not Greeter and loaded().hello() == "hi from v2" and not hasattr(loaded, "gone")


def test_a_docstring_removed_and_annotations_replaced_reach_the_receiver():
    ns = run_in_main("class Doc:\n    '''doc'''\n    x: int\n")
    Doc = ns["Doc"]
    first = webpickle.dumps(Doc)
    Doc.__doc__ = None
    Doc.__annotations__ = {"y": bytes}
    second = webpickle.dumps(Doc)
    with fresh_registry():
        loaded = pickle.loads(first)
        assert loaded.__doc__ == "doc" and loaded.__annotations__ == {"x": int}
        assert pickle.loads(second) is loaded
    assert loaded.__doc__ is None and loaded.__annotations__ == {"y": bytes}


def test_a_changed_base_makes_a_new_class():
    ns = run_in_main("class A:\n    pass\nclass B:\n    pass\nclass C(A):\n    pass\n")
    C = ns["C"]
    first = webpickle.dumps(C)
    C.__bases__ = (ns["B"],)
    second = webpickle.dumps(C)
    with fresh_registry():
        one, two = pickle.loads(first), pickle.loads(second)
    assert one is not two
    assert one.__bases__[0].__name__ == "A" and two.__bases__[0].__name__ == "B"
    # Unchanged since: the same id, so streams keep agreeing with each other.
    assert webpickle.dumps(C) == second


def test_a_changed_enum_method_and_its_members_stay_one_object():
    ns = run_in_main("import enum\nclass Color(enum.Enum):\n    RED = 1\n    def shout(self):\n        return 'red'\n")
    Color = ns["Color"]
    first = webpickle.dumps(Color.RED)
    Color.shout = lambda self: "RED!"
    second = webpickle.dumps(Color.RED)
    with fresh_registry():
        red = pickle.loads(first)
        assert red.shout() == "red"
        assert pickle.loads(second) is red
    assert red.shout() == "RED!"


def test_streams_of_an_unchanged_class_stay_byte_identical():
    ns = run_in_main(CELL)
    Greeter = ns["Greeter"]
    assert webpickle.dumps(Greeter) == webpickle.dumps(Greeter)
    with fresh_registry():
        loaded = pickle.loads(webpickle.dumps(Greeter))
        # The receiver pickles it back to the same bytes (the sender's own class on arrival).
        assert webpickle.dumps(loaded) == webpickle.dumps(Greeter)
