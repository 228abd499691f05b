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
