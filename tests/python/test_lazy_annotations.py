"""PEP 649 (Python 3.14): annotations of plain functions and classes stay
lazy. The README promises that the `__annotate__` function travels, never its
result: pickling never evaluates annotations (nor sends what an earlier
evaluation cached), and the loaded function or class evaluates them when
asked, against the globals its stream carried."""

import annotationlib
import pickle

import pytest

import webpickle

from support import fresh_class_registry, run_in_main, run_python

F = annotationlib.Format

# A notebook cell: `Later` is not defined when the annotations are written;
# `make_lock()` makes an object that cannot be pickled, and counts its calls.
CELL = """
import threading

EVALUATED = []

def make_lock():
    EVALUATED.append(1)
    return threading.Lock()

def scale(x: Later, factor: make_lock() = 2) -> int:
    return x * factor

class Record:
    name: str
    parent: Later
    guard: make_lock()

    def rename(self, name: Later) -> None:
        self.name = name
"""


def is_forward_ref_to_later(value):
    return isinstance(value, annotationlib.ForwardRef) and value.__forward_arg__ == "Later"


def fresh_cell():
    """CELL run anew: each test gets definitions nothing has evaluated yet."""
    return run_in_main(CELL)


def test_a_function_whose_annotations_cannot_be_evaluated_pickles():
    cell = fresh_cell()
    scale = pickle.loads(webpickle.dumps(cell["scale"]))
    assert cell["EVALUATED"] == []  # pickling never ran the annotations
    assert scale(3) == 6
    with pytest.raises(NameError, match="'Later' is not defined"):
        scale.__annotations__  # still lazy after loads: evaluated only when asked
    assert annotationlib.get_annotations(scale, format=F.STRING) == {
        "x": "Later", "factor": "make_lock()", "return": "int"}
    # Evaluated against the globals the stream carried (its own copy of EVALUATED).
    scale.__globals__["Later"] = float
    annotations = scale.__annotations__
    assert (annotations["x"], annotations["return"]) == (float, int)
    assert type(annotations["factor"]).__name__ == "lock"
    assert scale.__globals__["EVALUATED"] == [1] and cell["EVALUATED"] == []


def test_a_function_whose_annotations_were_evaluated_still_sends_them_lazily():
    cell = fresh_cell()
    cell["Later"] = float
    assert cell["scale"].__annotations__["x"] is float  # cached on the sender, a lock among them
    assert cell["EVALUATED"] == [1]
    del cell["Later"]
    scale = pickle.loads(webpickle.dumps(cell["scale"]))  # the cached dict (with its lock) does not travel
    with pytest.raises(NameError, match="'Later' is not defined"):
        scale.__annotations__
    assert scale.__globals__["EVALUATED"] == [1]  # the sender's list as it was; evaluating there added nothing
    assert is_forward_ref_to_later(annotationlib.get_annotations(scale, format=F.FORWARDREF)["x"])


def test_a_class_whose_annotations_cannot_be_evaluated_pickles():
    cell = fresh_cell()
    stream = webpickle.dumps(cell["Record"])
    assert cell["EVALUATED"] == []
    with fresh_class_registry():  # loaded as a receiver that never saw the class would
        record = pickle.loads(stream)
    assert record is not cell["Record"]
    with pytest.raises(NameError, match="'Later' is not defined"):
        record.__annotations__
    assert annotationlib.get_annotations(record, format=F.STRING) == {
        "name": "str", "parent": "Later", "guard": "make_lock()"}
    with pytest.raises(NameError, match="'Later' is not defined"):
        record.rename.__annotations__
    globals_there = record.rename.__globals__
    globals_there["Later"] = bytes
    annotations = record.__annotations__
    assert (annotations["name"], annotations["parent"]) == (str, bytes)
    assert type(annotations["guard"]).__name__ == "lock"
    assert record.rename.__annotations__ == {"name": bytes, "return": None}
    assert globals_there["EVALUATED"] == [1] and cell["EVALUATED"] == []


def test_a_class_whose_annotations_were_evaluated_still_sends_them_lazily():
    cell = fresh_cell()
    cell["Later"] = float
    assert cell["Record"].__annotations__["parent"] is float  # cached on the sender
    del cell["Later"]
    stream = webpickle.dumps(cell["Record"])
    with fresh_class_registry():
        record = pickle.loads(stream)
    with pytest.raises(NameError, match="'Later' is not defined"):
        record.__annotations__
    assert is_forward_ref_to_later(annotationlib.get_annotations(record, format=F.FORWARDREF)["parent"])


@pytest.mark.native_only(reason="loads in a fresh interpreter in a subprocess")
def test_annotations_stay_lazy_in_an_interpreter_without_webpickle():
    cell = fresh_cell()
    stream = webpickle.dumps([cell["scale"], cell["Record"]])
    code = (
        "import pickle, sys\n"
        "scale, record = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
        "for value in (scale, record):\n"
        "    try:\n"
        "        value.__annotations__\n"
        "    except NameError as exc:\n"
        "        print('lazy:', exc)\n"
        "scale.__globals__['Later'] = complex\n"
        "print(scale.__annotations__['x'].__name__, record.__annotations__['parent'].__name__)\n"
    )
    assert run_python(code, stream.hex()).splitlines() == [
        "lazy: name 'Later' is not defined", "lazy: name 'Later' is not defined", "complex complex"]
