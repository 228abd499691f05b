"""Bad input: deep nesting, objects that cannot be pickled, objects that
change while they are pickled. Errors are the stdlib's, never a crash."""

import pickle
import sys
import threading

import pytest

import webpickle


# Pyodide's own deallocator overflows the JavaScript stack when it frees a
# 100,000-level structure (the stdlib alone shows it), so there the deep test
# data is kept alive for the life of the process instead of being freed.
_KEPT_ALIVE = []
IN_PYODIDE = sys.platform == "emscripten"


def nested(kind, depth):
    value = None
    for _ in range(depth):
        value = kind(value)
    if IN_PYODIDE and depth > 1000:
        _KEPT_ALIVE.append(value)
    return value


@pytest.mark.parametrize(
    "kind",
    [lambda v: [v], lambda v: (v, 0), lambda v: {"k": v}, lambda v: frozenset([v])],
)
def test_100000_levels_raise_recursion_error(kind):
    data = nested(kind, 100_000)
    with pytest.raises(RecursionError):
        webpickle.dumps(data)


def test_moderate_nesting_works():
    data = nested(lambda v: [v], 200)
    assert pickle.loads(webpickle.dumps(data)) == data


def test_unpicklable_object_names_where_it_sits():
    jobs = {"jobs": [1, 2, 3, threading.Lock()]}
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock' object") as info:
        webpickle.dumps(jobs)
    assert info.value.__notes__ == ["when serializing list item 3", "when serializing dict item 'jobs'"]


@pytest.mark.parametrize("size", [10, 100, 2500])  # below and above the snapshot size (64)
def test_notes_name_the_dict_key_in_small_and_large_dicts(size):
    data = {i: i for i in range(size)}
    data[size - 3] = threading.Lock()
    with pytest.raises(TypeError) as info:
        webpickle.dumps(data)
    with pytest.raises(TypeError) as expected:
        pickle.dumps(data, 5)
    assert info.value.__notes__ == expected.value.__notes__ == [f"when serializing dict item {size - 3}"]


@pytest.mark.parametrize("size", [10, 100])
def test_large_dict_resized_while_pickled(size):
    data = {}

    class Grower:
        def __reduce__(self):
            data[object()] = 1
            return (int, (1,))

    data.update({i: Grower() for i in range(size)})
    with pytest.raises(RuntimeError, match="changed size during iteration") as info:
        webpickle.dumps(data)
    assert not getattr(info.value, "__notes__", None)


def test_dict_resized_while_pickled():
    data = {}

    class Shrinker:
        def __reduce__(self):
            data.clear()
            return (int, (1,))

    data.update({i: Shrinker() for i in range(10)})
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        webpickle.dumps(data)


def test_list_shrunk_while_pickled_gives_a_valid_stream():
    data = []

    class Shrinker:
        def __reduce__(self):
            del data[:]
            return (int, (7,))

    data.extend([Shrinker(), 2, 3])
    loaded = pickle.loads(webpickle.dumps(data))
    assert loaded == [7]


def test_reduce_returning_garbage():
    class Bad:
        def __reduce__(self):
            return 42

    with pytest.raises(pickle.PicklingError, match="must return a string or tuple, not int"):
        webpickle.dumps(Bad())
