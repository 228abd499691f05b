"""Instances of plain importable classes take a fast path (no Python-level
__reduce_ex__ call); it must write the stdlib's bytes and notice when a
class changes how it pickles."""

import pickle

import pytest

import webpickle
from support import PROTOCOLS


class Reading:
    def __init__(self, sensor, value):
        self.sensor = sensor
        self.value = value


class Empty:
    pass


class Later:
    def __init__(self, n):
        self.n = n


@pytest.mark.parametrize("count", [1, 10, 5000])  # 5000: several frames of 64 KiB
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_same_bytes_as_the_stdlib(count, protocol):
    readings = [Reading(f"s{i}", i * 0.5) for i in range(count)] + [Empty()]
    assert webpickle.dumps(readings, protocol) == pickle.dumps(readings, protocol)
    loaded = pickle.loads(webpickle.dumps(readings, protocol))
    assert [vars(r) for r in loaded] == [vars(r) for r in readings]


def test_a_reduce_added_later_is_used():
    before = webpickle.dumps(Later(1))
    Later.__reduce__ = lambda self: (Later, (self.n * 10,))
    try:
        assert pickle.loads(webpickle.dumps(Later(1))).n == 10
    finally:
        del Later.__reduce__
    assert webpickle.dumps(Later(1)) == before


def test_an_instance_attribute_named_like_a_hook_is_left_to_the_stdlib_path():
    reading = Reading("a", 1)
    reading.__reduce_ex__ = lambda protocol: (Reading, ("hooked", 2))
    loaded = pickle.loads(webpickle.dumps(reading))
    assert (loaded.sensor, loaded.value) == ("hooked", 2)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_instance_dict_reached_twice_is_one_dict(protocol):
    # The instance's __dict__ skips the memo lookup only when nothing else
    # holds it; reached twice, it is written once and fetched from the memo
    # the second time, as the stdlib does.
    a, b = Reading("s1", 1.5), Reading("s2", 2.5)
    for obj in ([a, vars(a), b], [vars(a), a, b]):
        stream = webpickle.dumps(obj, protocol=protocol)
        assert stream == pickle.dumps(obj, protocol=protocol)
        back = pickle.loads(stream)
        assert [vars(x) if isinstance(x, Reading) else x for x in back] == \
            [vars(x) if isinstance(x, Reading) else x for x in obj]


# Classes with different attribute sets, to interleave more of them than
# the pickler remembers key sequences for (four).
# Equal strings are one object here: webpickle memoizes str by content, the
# stdlib by identity, so distinct equal strings would differ by design.
LABELS = [f"label{i}" for i in range(5)]


class Wide:
    def __init__(self, i):
        self.a, self.b, self.c = i, LABELS[i % 3], [i]


def interleaved(count):
    kinds = [lambda i: Reading(LABELS[i % 5], i), Later, Wide, lambda i: Reading(i, str(i)), Empty_with, Sixth]
    return [kinds[i % len(kinds)](i) for i in range(count)]


class Empty_with(Empty):
    def __init__(self, i):
        if i % 2:
            self.odd = i


class Sixth:
    def __init__(self, i):
        self.z = i
        if i % 4 == 0:
            self.y = -i  # the same class, another key sequence


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_interleaved_classes_and_key_orders_give_the_stdlib_bytes(protocol):
    objs = interleaved(600)
    swapped = Reading(0, 0)
    del swapped.sensor
    swapped.sensor = "last"  # value before sensor: same keys, another order
    objs += [swapped, Reading("again", 1)]
    assert webpickle.dumps(objs, protocol) == pickle.dumps(objs, protocol)


def test_a_hook_attribute_after_a_run_of_plain_instances_is_used():
    run = [Reading(f"s{i}", i) for i in range(5)]
    hooked = Reading("a", 1)
    hooked.__reduce_ex__ = lambda protocol: (Reading, ("hooked", 2))
    loaded = pickle.loads(webpickle.dumps(run + [hooked]))
    assert (loaded[-1].sensor, loaded[-1].value) == ("hooked", 2)


def test_key_sequences_do_not_outlive_a_cleared_memo():
    # The memo indices the pickler knows for the keys are void after
    # clear_memo(): the next dump must write the keys again, as the stdlib does.
    import io

    ours, theirs = io.BytesIO(), io.BytesIO()
    ours_pickler, theirs_pickler = webpickle.Pickler(ours, 5), pickle.Pickler(theirs, 5)
    for step in range(3):
        batch = [Wide(i) for i in range(3)] + [Reading(step, i) for i in range(3)]
        ours_pickler.dump(batch)
        theirs_pickler.dump(batch)
        if step == 1:
            ours_pickler.clear_memo()
            theirs_pickler.clear_memo()
    assert ours.getvalue() == theirs.getvalue()


class Shrinking:
    """A value whose pickling deletes another attribute of its owner."""

    def __init__(self, owner):
        self.owner = owner

    def __reduce__(self):
        del self.owner.value
        return (int, (1,))


@pytest.mark.parametrize("lib", [pickle, webpickle])
def test_a_dict_that_changes_size_while_written_fails_as_the_stdlib_does(lib):
    # The first instance makes the pickler know the key sequence, so the
    # second one is written by the path that checks keys by address.
    first, victim = Reading("a", 1), Reading("b", 2)
    victim.sensor = Shrinking(victim)
    with pytest.raises(RuntimeError, match="dictionary changed size during iteration"):
        lib.dumps([first, victim])


# Classes with __slots__ and no __dict__: object.__reduce_ex__ gives
# (None, {slot: value}) as the state; the fast path must write the same.
class Slotted:
    __slots__ = ("x", "y", "__private", "__weakref__")

    def __init__(self, x, y=None):
        self.x = x
        if y is not None:
            self.y = y
        self.__private = -x


class SlottedChild(Slotted):
    __slots__ = ("z",)

    def __init__(self, x, z):
        super().__init__(x, 1)
        self.z = z


class SlottedWithState:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __getstate__(self):
        return {"v": self.v * 2}

    def __setstate__(self, state):
        self.v = state["v"]


class Bare:
    __slots__ = ("never",)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_slotted_instances_give_the_stdlib_bytes(protocol):
    shared = Slotted(7)
    objs = [Slotted(1, 2), Slotted(3), Bare(), shared, [shared], SlottedWithState(5)]
    assert webpickle.dumps(objs, protocol) == pickle.dumps(objs, protocol)
    # Alone: copyreg makes each class its own '_Slotted__private' str, which
    # the stdlib writes twice in one stream and webpickle once (by content).
    child = [SlottedChild(4, "z")]
    assert webpickle.dumps(child, protocol) == pickle.dumps(child, protocol)
    back = pickle.loads(webpickle.dumps(objs + child, protocol))
    assert (back[0].x, back[0].y, back[0]._Slotted__private) == (1, 2, -1)
    assert not hasattr(back[1], "y") and back[3] is back[4][0]
    assert back[5].v == 10  # its own __getstate__ ran: the general path
    assert (back[6].x, back[6].y, back[6].z, back[6]._Slotted__private) == (4, 1, "z", -4)


def test_dataclass_with_slots_and_its_fields():
    import dataclasses

    @dataclasses.dataclass(slots=True, frozen=True)
    class Point:
        x: int
        y: int = 0

    points = pickle.loads(webpickle.dumps([Point(1, 2), Point(3)]))
    assert points == [Point(1, 2), Point(3)]
    fields = pickle.loads(webpickle.dumps(dataclasses.fields(Point)))
    assert [(f.name, f.type, f.default, f._field_type) for f in fields] == \
        [("x", int, dataclasses.MISSING, dataclasses._FIELD), ("y", int, 0, dataclasses._FIELD)]


class ShadowedSlot(Slotted):
    """A slot of the base hidden by a property: getattr must find the property."""

    __slots__ = ()

    @property
    def y(self):
        return "from the property"


class LoggedSlots:
    __slots__ = ("a",)
    reads = []

    def __init__(self):
        self.a = 1

    def __getattribute__(self, name):
        type(self).reads.append(name)
        return object.__getattribute__(self, name)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_slots_read_as_getattr_would_read_them(protocol):
    objs = [ShadowedSlot(1), LoggedSlots()]
    LoggedSlots.reads.clear()
    ours = webpickle.dumps(objs, protocol)
    our_reads = list(LoggedSlots.reads)
    LoggedSlots.reads.clear()
    assert ours == pickle.dumps(objs, protocol)
    assert "a" in our_reads and our_reads == LoggedSlots.reads
    assert b"from the property" in ours  # the property, though the slot is unset


class AnswersForItsClass:
    """Hands out its own __reduce_ex__ through __getattribute__, as a proxy might."""

    def __init__(self):
        self.payload = "real"

    def __getattribute__(self, name):
        if name == "__reduce_ex__":
            return lambda protocol: (str, ("reduced by __getattribute__",))
        return object.__getattribute__(self, name)


def test_a_reduce_hook_given_by_getattribute_is_used():
    assert pickle.loads(webpickle.dumps(AnswersForItsClass())) == "reduced by __getattribute__"


def test_a_reducer_registered_with_copyreg_later_is_used():
    import copyreg

    # Instances of Later were written by the fast path first: the pickler now
    # knows the dispatch table has no entry for the class, until it changes.
    before = webpickle.dumps([Later(1), Later(2)])
    copyreg.pickle(Later, lambda obj: (Later, (obj.n * 100,)))
    try:
        assert [x.n for x in pickle.loads(webpickle.dumps([Later(1), Later(2)]))] == [100, 200]
    finally:
        del copyreg.dispatch_table[Later]
    assert webpickle.dumps([Later(1), Later(2)]) == before
