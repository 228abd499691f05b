"""Built-in data: valid streams for protocols 2-5, identity and determinism."""

import pickle

import pytest

import webpickle
from support import PROTOCOLS, roundtrip, same_structure

SAMPLES = [
    None, True, False, 0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31 - 1, 2**31, 2**63, -(2**63) - 1,
    10**100, -(10**100), 0.0, -0.0, 1.5, float("inf"), float("-inf"), 1 + 2j,
    "", "a", "ünïcödé", "\ud800 lone surrogate", "x" * 300, b"", b"\x00\xff", b"y" * 70000,
    (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1], list(range(2500)),
    {}, {"a": 1}, {i: str(i) for i in range(2500)}, set(), {1, 2, 3}, frozenset(), frozenset({"a", "b"}),
    bytearray(b"abc"), bytearray(),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_samples_round_trip(protocol):
    for sample in SAMPLES:
        loaded = roundtrip(sample, protocol)
        assert same_structure(sample, loaded), (protocol, sample)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nan_round_trips(protocol):
    value = roundtrip(float("nan"), protocol)
    assert value != value


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shared_and_recursive_mutables_stay_shared(protocol):
    inner = [1, 2]
    outer = [inner, inner, {"k": inner}]
    outer.append(outer)
    loaded = roundtrip(outer, protocol)
    assert loaded[0] is loaded[1] is loaded[2]["k"]
    assert loaded[3] is loaded


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_recursive_tuple_through_a_list(protocol):
    holder = []
    t = (holder, 1)
    holder.append(t)
    loaded = roundtrip(t, protocol)
    assert loaded[0][0] is loaded


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_equal_atoms_give_equal_bytes_whatever_their_identity(protocol):
    a = "".join(["ab", "c"] * 3)
    b = "".join(["ab", "c"] * 3)
    assert a is not b
    same = webpickle.dumps([a, a, (1, a)], protocol=protocol)
    equal = webpickle.dumps([a, b, (1, b)], protocol=protocol)
    assert same == equal


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dumps_of_loads_is_stable(protocol):
    data = {"s": {3, 1, 2, "x", (1, 2)}, "f": frozenset({0.5, -1}), "t": (1, "a", b"b"), "l": [[], {}]}
    first = webpickle.dumps(data, protocol=protocol)
    assert webpickle.dumps(pickle.loads(first), protocol=protocol) == first


def test_sets_are_written_in_a_canonical_order():
    forward = set(range(100))
    backward = set()
    for i in reversed(range(100)):
        backward.add(i)
    backward |= {1000}
    backward.discard(1000)
    assert webpickle.dumps(forward) == webpickle.dumps(backward)


def test_the_stream_is_framed_for_protocol_4_and_up():
    import pickletools

    stream = webpickle.dumps(list(range(100000)), protocol=5)
    frames = [arg for op, arg, _ in pickletools.genops(stream) if op.name == "FRAME"]
    assert len(frames) > 1
    assert all(size <= 64 * 1024 + 16 for size in frames[:-1])


def test_out_of_band_buffers():
    data = bytearray(b"z" * 1000)
    buffers = []
    stream = webpickle.dumps(pickle.PickleBuffer(data), protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1
    assert len(stream) < 100
    loaded = pickle.loads(stream, buffers=buffers)
    assert bytes(loaded) == bytes(data)


def test_picklebuffer_needs_protocol_5():
    with pytest.raises(pickle.PicklingError, match="protocol >= 5"):
        webpickle.dumps(pickle.PickleBuffer(b"x"), protocol=4)


@pytest.mark.parametrize("size", [63, 64, 999, 1000, 1001, 2000, 2500])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_dicts_of_distinct_values_give_the_stdlibs_bytes(size, protocol):
    # Around the batch size (1000) and the size from which dicts are read in
    # one snapshot (64): the batches, the trailing empty one included, match.
    data = {i: i * 0.5 for i in range(size)}
    assert webpickle.dumps(data, protocol) == pickle.dumps(data, protocol)
    nested = {i: [i, -i] for i in range(size)}
    assert webpickle.dumps(nested, protocol) == pickle.dumps(nested, protocol)
