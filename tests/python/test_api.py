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
    buffer.seek(0)
    unpickler = pickle.Unpickler(buffer)
    first, second = unpickler.load(), unpickler.load()
    assert first is second
    pickler.clear_memo()
    pickler.dump(shared)
    assert len(buffer.getvalue()) > 0


def test_dump_writes_nothing_when_pickling_fails():
    import threading

    buffer = io.BytesIO()
    with pytest.raises(TypeError):
        webpickle.dump({"ok": 1, "bad": threading.Lock()}, buffer)
    assert buffer.getvalue() == b""


def test_file_without_write_is_refused():
    with pytest.raises(TypeError):
        webpickle.Pickler(object())
