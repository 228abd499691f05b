"""The public API surface: names, protocols, Pickler behaviour."""

import io
import pickle

import pytest

import webpickle


def test_public_names():
    for name in ("dumps", "dump", "loads", "load", "Pickler", "CloudPickler", "DEFAULT_PROTOCOL", "__version__"):
        assert hasattr(webpickle, name), name
    assert webpickle.CloudPickler is webpickle.Pickler
    assert webpickle.DEFAULT_PROTOCOL == pickle.HIGHEST_PROTOCOL == 5
    assert webpickle.loads is pickle.loads


@pytest.mark.parametrize("protocol", [0, 1])
def test_protocols_below_2_are_refused(protocol):
    with pytest.raises(ValueError, match="protocols 2 to 5"):
        webpickle.dumps(1, protocol=protocol)


def test_protocol_above_5_is_refused():
    with pytest.raises(ValueError, match="<= 5"):
        webpickle.dumps(1, protocol=6)


def test_negative_protocol_means_highest():
    assert webpickle.dumps([1], protocol=-1) == webpickle.dumps([1], protocol=5)


def test_pickler_is_a_pickle_pickler():
    buffer = io.BytesIO()
    pickler = webpickle.Pickler(buffer)
    assert isinstance(pickler, pickle.Pickler)
    pickler.dump({"a": 1})
    assert pickle.loads(buffer.getvalue()) == {"a": 1}


def test_memo_is_kept_between_dumps_until_cleared():
    shared = [1, 2]
    buffer = io.BytesIO()
    pickler = webpickle.Pickler(buffer)
    pickler.dump(shared)
    pickler.dump(shared)
    pickler.clear_memo()
    pickler.dump(shared)
    buffer.seek(0)
    unpickler = pickle.Unpickler(buffer)
    first, second, third = unpickler.load(), unpickler.load(), unpickler.load()
    assert first is second  # the second dump referred to the first one's memo entry
    assert third == shared and third is not first  # after clear_memo, written anew


def test_memo_reads_as_ids_to_index_and_object():
    shared = [1, 2]
    pickler = webpickle.Pickler(io.BytesIO())
    pickler.dump([shared, "text"])
    memo = pickler.memo
    assert memo[id(shared)][1] is shared
    indices = sorted(index for index, _ in memo.values())
    assert len(set(indices)) == len(indices)
    pickler.clear_memo()
    assert pickler.memo == {}


@pytest.mark.parametrize("source", ["stdlib", "webpickle"])
def test_assigning_another_picklers_memo_primes_this_one(source):
    shared = ["state"]
    first_buffer = io.BytesIO()
    first = (pickle.Pickler if source == "stdlib" else webpickle.Pickler)(first_buffer, 5)
    first.dump(shared)
    primed_buffer = io.BytesIO()
    # Protocol 3: explicit BINPUT indices. With MEMOIZE (4+), CPython's
    # Unpickler numbers new entries from 0 after its memo was assigned, which
    # overwrites the primed entries (the stdlib's own Pickler does the same).
    primed = webpickle.Pickler(primed_buffer, 3)
    primed.memo = first.memo
    primed.dump([shared, shared])
    assert len(primed_buffer.getvalue()) < len(webpickle.dumps([shared, shared], 3))  # a memo reference only
    unpickler = pickle.Unpickler(io.BytesIO(first_buffer.getvalue()))
    loaded = unpickler.load()
    second = pickle.Unpickler(io.BytesIO(primed_buffer.getvalue()))
    second.memo = unpickler.memo
    pair = second.load()
    assert pair[0] is pair[1] is loaded


@pytest.mark.parametrize("bad, message", [(42, "PicklerMemoProxy object or dict, not int"),
                                          ({1: "x"}, "2-item tuples"), ({1: ("0", [])}, "2-item tuples")])
def test_assigning_a_bad_memo_is_a_type_error(bad, message):
    pickler = webpickle.Pickler(io.BytesIO())
    with pytest.raises(TypeError, match=message):
        pickler.memo = bad


def test_dump_writes_nothing_when_pickling_fails():
    import threading

    buffer = io.BytesIO()
    with pytest.raises(TypeError):
        webpickle.dump({"ok": 1, "bad": threading.Lock()}, buffer)
    assert buffer.getvalue() == b""


def test_file_without_write_is_refused():
    with pytest.raises(TypeError):
        webpickle.Pickler(object())
