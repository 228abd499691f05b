"""The notes an error gets while a function is pickled by value: they name the
global (or closure variable) that could not be pickled and the function that
uses it, as the README promises (`when serializing global 'LOCK' of function
'pipeline'`), outermost place last, as the stdlib's own notes are."""

import pytest

import webpickle

from support import run_in_main

CELL = """
import threading

LOCK = threading.Lock()

def numbers():
    yield 1

NUMBERS = numbers()

def pipeline(x):
    with LOCK:
        return x + 1

def consume():
    return next(NUMBERS)

def run_all(items):
    return [pipeline(x) for x in items]

def make_worker():
    lock = threading.Lock()
    def worker():
        with lock:
            return 1
    return worker
"""




def test_a_lock_global_is_named_with_its_function():
    cell = run_in_main(CELL)
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock' object") as info:
        webpickle.dumps(cell["pipeline"])
    assert info.value.__notes__ == ["when serializing global 'LOCK' of function 'pipeline'"]


def test_a_generator_global_is_named_with_its_function():
    cell = run_in_main(CELL)
    with pytest.raises(TypeError, match="cannot pickle 'generator' object") as info:
        webpickle.dumps(cell["consume"])
    assert info.value.__notes__ == ["when serializing global 'NUMBERS' of function 'consume'"]


def test_notes_follow_the_path_through_functions_and_containers():
    cell = run_in_main(CELL)
    # run_all's global `pipeline` is a function by value whose global is the lock.
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock' object") as info:
        webpickle.dumps({"steps": [abs, cell["run_all"]]})
    assert info.value.__notes__ == [
        "when serializing global 'LOCK' of function 'pipeline'",
        "when serializing global 'pipeline' of function 'run_all'",
        "when serializing list item 1",
        "when serializing dict item 'steps'",
    ]


def test_a_closure_variable_is_named_with_its_function():
    cell = run_in_main(CELL)
    with pytest.raises(TypeError, match="cannot pickle '_thread.lock' object") as info:
        webpickle.dumps(cell["make_worker"]())
    assert info.value.__notes__ == ["when serializing closure variable 'lock' of function 'make_worker.<locals>.worker'"]


def test_the_notes_are_the_same_through_a_pickler():
    cell = run_in_main(CELL)
    import io

    with pytest.raises(TypeError) as info:
        webpickle.Pickler(io.BytesIO()).dump([cell["consume"]])
    assert info.value.__notes__ == ["when serializing global 'NUMBERS' of function 'consume'",
                                    "when serializing list item 0"]
