"""Behaviours cloudpickle users rely on (issue 14 section 2), and functools
wrappers by value (section 3): each checked in this interpreter, and in a
fresh one natively where what the loading side has already imported matters.

Inside one interpreter, "a loading side that never imported X" is made by
taking X out of sys.modules (and off its parent package) for the test."""

import abc
import builtins
import functools
import io
import os
import pickle
import re
import sys
import threading
import types

import pytest

import webpickle
from support import define_in_main, roundtrip, run_python


def forget_modules(monkeypatch, name):
    """Make `name` and its submodules unimported until the test ends."""
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        monkeypatch.delitem(sys.modules, loaded)
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules and hasattr(sys.modules[parent], child):
        monkeypatch.delattr(sys.modules[parent], child)


# ---- submodules reached through a package attribute (section 2.1) ----------

SUBMODULE_AS_GLOBAL = """
import xml.etree.ElementTree
def comment_text():
    return xml.etree.ElementTree.Comment("kept").text
"""

SUBMODULE_AS_CLOSURE = """
import xml.etree.ElementTree
def make():
    package = xml
    def comment_text():
        return package.etree.ElementTree.Comment("kept").text
    return comment_text
comment_text = make()
"""

SEVERAL_SUBMODULES = """
import concurrent.futures, email.mime.text, http.cookies, urllib.parse
def use_them():
    return (urllib.parse.quote("a b"), email.mime.text.MIMEText("x").get_content_type(),
            http.cookies.SimpleCookie("k=v")["k"].value, concurrent.futures.Future().done())
"""


SUBMODULE_CELLS = {"global": (SUBMODULE_AS_GLOBAL, "comment_text", "kept"),
                   "closure": (SUBMODULE_AS_CLOSURE, "comment_text", "kept"),
                   "several": (SEVERAL_SUBMODULES, "use_them", "('a%20b', 'text/plain', 'v', False)")}


@pytest.mark.parametrize("cell", ["global", "closure"])
def test_submodule_used_through_its_package_loads_where_it_was_not_imported(cell, monkeypatch):
    source, name, _ = SUBMODULE_CELLS[cell]
    stream = webpickle.dumps(define_in_main(source, name))
    forget_modules(monkeypatch, "xml.etree")
    assert pickle.loads(stream)() == "kept"


def test_only_the_submodules_the_code_names_are_imported(monkeypatch):
    f = define_in_main("import xml.etree.ElementTree, xml.dom\ndef f():\n    return xml.dom.Node\n", "f")
    stream = webpickle.dumps(f)
    assert b"xml.dom" in stream and b"xml.etree" not in stream


SUBMODULES_IN_FRESH_PROCESS = """
import pickle, sys
print(pickle.loads(open(sys.argv[1], "rb").read())())
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter")
@pytest.mark.parametrize("cell", sorted(SUBMODULE_CELLS))
def test_submodules_load_in_a_fresh_process(cell, tmp_path):
    source, name, expected = SUBMODULE_CELLS[cell]
    path = tmp_path / "stream.pickle"
    path.write_bytes(webpickle.dumps(define_in_main(source, name)))
    assert run_python(SUBMODULES_IN_FRESH_PROCESS, str(path)).strip() == expected


# ---- memoryview (section 2.2) ----------------------------------------------

@pytest.mark.parametrize("view", [
    memoryview(b"contiguous bytes"),
    memoryview(bytearray(range(100)))[10:60],
    memoryview(bytes(range(256)))[::3],
    memoryview(bytes(range(24))).cast("B", (4, 6)),
    memoryview(bytes(range(256)) * 32768),
])
def test_memoryview_loads_as_bytes_of_its_contents(view):
    loaded = roundtrip(view)
    assert type(loaded) is bytes and loaded == view.tobytes()


def test_a_memoryview_met_twice_loads_as_one_object():
    view = memoryview(b"shared")
    first, second = roundtrip([view, view])
    assert first is second


# ---- standard streams and files (section 2.3) ------------------------------

def open_file(tmp_path, mode, content="line one\nline two\n"):
    path = tmp_path / "data.txt"
    path.write_text(content)
    return open(path, mode)


@pytest.mark.parametrize("stream_name", ["stdout", "stderr"])
def test_standard_output_streams_travel_by_reference(stream_name, tmp_path, monkeypatch):
    with open_file(tmp_path, "w") as file:
        monkeypatch.setattr(sys, stream_name, file)
        stream = webpickle.dumps(getattr(sys, stream_name))
        assert b"data.txt" not in stream
        assert pickle.loads(stream) is getattr(sys, stream_name)
        say = define_in_main(f"import sys\ndef say(text, out=sys.{stream_name}):\n    print(text, file=out)\n", "say")
        loaded_say = roundtrip(say)
        assert loaded_say.__defaults__[0] is getattr(sys, stream_name)


STDOUT_DEFAULT = """
import sys, webpickle
def say(text, out=sys.stdout):
    print(text, file=out)
sys.stdout.buffer.write(webpickle.dumps(say))
"""
CALL_WITH_OWN_STDOUT = """
import pickle, sys
pickle.loads(open(sys.argv[1], "rb").read())("printed by the loading side")
"""


@pytest.mark.native_only(reason="pickles and loads in fresh interpreters")
def test_a_function_with_sys_stdout_as_default_prints_to_the_loading_sides_stdout(tmp_path):
    import subprocess

    made = subprocess.run([sys.executable, "-c", STDOUT_DEFAULT], capture_output=True, timeout=120)
    assert made.returncode == 0, made.stderr
    path = tmp_path / "say.pickle"
    path.write_bytes(made.stdout)
    assert run_python(CALL_WITH_OWN_STDOUT, str(path)) == "printed by the loading side\n"


def test_standard_input_is_refused(tmp_path, monkeypatch):
    with open_file(tmp_path, "r") as file:
        monkeypatch.setattr(sys, "stdin", file)
        with pytest.raises(pickle.PicklingError, match="^Cannot pickle standard input$"):
            webpickle.dumps(sys.stdin)


def test_closed_files_are_refused(tmp_path):
    file = open_file(tmp_path, "r")
    file.close()
    with pytest.raises(pickle.PicklingError, match="^Cannot pickle closed files$"):
        webpickle.dumps(file)


@pytest.mark.parametrize("mode", ["w", "a"])
def test_write_only_files_are_refused(mode, tmp_path):
    with open_file(tmp_path, mode) as file:
        with pytest.raises(pickle.PicklingError,
                           match=f"^Cannot pickle files that are not opened for reading: {mode}$"):
            webpickle.dumps(file)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (os.openpty)")
def test_files_that_map_to_a_terminal_are_refused():
    leader, follower = os.openpty()
    try:
        with open(follower, "w", closefd=False) as terminal:
            with pytest.raises(pickle.PicklingError, match="^Cannot pickle files that map to tty objects$"):
                webpickle.dumps(terminal)
    finally:
        os.close(leader)
        os.close(follower)


def test_files_without_a_name_are_refused():
    with pytest.raises(pickle.PicklingError, match="^Cannot pickle files that do not map to an actual file$"):
        webpickle.dumps(io.TextIOWrapper(io.BytesIO(b"text")))


@pytest.mark.parametrize("mode,position", [("r", 9), ("r+", 4), ("w+", 0), ("a+", None)])
def test_readable_files_travel_by_content_at_their_position(mode, position, tmp_path):
    with open_file(tmp_path, mode) as file:
        if mode == "w+":
            file.write("written\nhere\n")
            file.seek(position)
        elif position is not None:
            file.read(position)
        where = file.tell()
        file.seek(0)
        content = file.read()
        file.seek(where)
        loaded = roundtrip(file)
        assert file.tell() == where  # the original is left where it was
    assert isinstance(loaded, io.StringIO)
    assert loaded.name == file.name and loaded.getvalue() == content and loaded.tell() == where
    assert loaded.read() == content[where:]


# ---- abc's abstract decorators (section 2.4) -------------------------------

ABSTRACT_CLASS = """
import abc
class Shape(abc.ABC):
    @abc.abstractclassmethod
    def unit(cls):
        "The unit of a shape's area."
    @abc.abstractstaticmethod
    def sides():
        ...
    @abc.abstractproperty
    def area(self):
        "The area."
class Square(Shape):
    def __init__(self, side):
        self.side = side
    @classmethod
    def unit(cls):
        return "m2"
    @staticmethod
    def sides():
        return 4
    @property
    def area(self):
        return self.side ** 2
"""


def test_abstract_class_and_static_methods_and_properties_by_value():
    Shape, Square = roundtrip(define_in_main(ABSTRACT_CLASS + "\npair = (Shape, Square)\n", "pair"))
    assert Shape.__abstractmethods__ == frozenset({"unit", "sides", "area"})
    assert type(vars(Shape)["unit"]) is abc.abstractclassmethod
    assert type(vars(Shape)["sides"]) is abc.abstractstaticmethod
    assert type(vars(Shape)["area"]) is abc.abstractproperty
    assert vars(Shape)["area"].__doc__ == "The area."
    with pytest.raises(TypeError, match="abstract"):
        Shape()
    square = Square(3)
    assert (square.area, square.unit(), square.sides()) == (9, "m2", 4)


def test_abstract_descriptors_alone():
    method = abc.abstractclassmethod(define_in_main("def build(cls):\n    return cls\n", "build"))
    loaded = roundtrip(method)
    assert type(loaded) is abc.abstractclassmethod and loaded.__isabstractmethod__


# ---- relative imports in registered packages (section 2.5) -----------------

PACKAGE_FILES = {
    "__init__.py": "",
    "helpers.py": "def double(x):\n    return 2 * x\n",
    "sub/__init__.py": "",
    "sub/tools.py": "OFFSET = 100\n",
    "main.py": (
        "def run(x):\n"
        "    from .helpers import double\n"
        "    from . import helpers\n"
        "    from .sub.tools import OFFSET\n"
        "    return double(x) + helpers.double(1) + OFFSET\n"
    ),
    "sub/deep.py": (
        "def run(x):\n"
        "    from ..helpers import double\n"
        "    from . import tools\n"
        "    return double(x) + tools.OFFSET\n"
    ),
}


def make_package(folder, name):
    for relative, source in PACKAGE_FILES.items():
        path = folder / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def dump_registered(tmp_path, monkeypatch, name, *functions):
    """Import package `name` from tmp_path, register it, pickle the named functions, forget it."""
    import importlib

    make_package(tmp_path, name)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    modules = [importlib.import_module(f"{name}.{module}") for module, _ in functions]
    package = sys.modules[name]
    webpickle.register_pickle_by_value(package)
    try:
        stream = webpickle.dumps([getattr(m, f) for m, (_, f) in zip(modules, functions)])
    finally:
        webpickle.unregister_pickle_by_value(package)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    forget_modules(monkeypatch, name)
    return stream


def test_relative_imports_in_a_registered_package_without_it_installed(tmp_path, monkeypatch):
    stream = dump_registered(tmp_path, monkeypatch, "wp_rel_pkg", ("main", "run"), ("sub.deep", "run"))
    run, deep_run = pickle.loads(stream)
    assert run(5) == 112
    assert deep_run(5) == 110


def test_relative_imports_where_the_package_is_installed(tmp_path, monkeypatch):
    stream = dump_registered(tmp_path, monkeypatch, "wp_rel_installed", ("main", "run"))
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    (run,) = pickle.loads(stream)
    assert run(1) == 104


RELATIVE_IN_FRESH_PROCESS = """
import pickle, sys
run, deep_run = pickle.loads(open(sys.argv[1], "rb").read())
print(run(5), deep_run(5), "wp_rel_fresh" in sys.modules)
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter that lacks the package")
def test_relative_imports_load_in_a_fresh_process_without_the_package(tmp_path, monkeypatch):
    stream = dump_registered(tmp_path, monkeypatch, "wp_rel_fresh", ("main", "run"), ("sub.deep", "run"))
    path = tmp_path / "stream.pickle"
    path.write_bytes(stream)
    assert run_python(RELATIVE_IN_FRESH_PROCESS, str(path)).split() == ["112", "110", "True"]


# ---- dynamic modules keep __builtins__ (section 2.6) -----------------------

def dynamic_module():
    module = types.ModuleType("wp_dynamic_builtins")
    exec("def total(values):\n    return sum(values) + len(values)\n", module.__dict__)
    return module


def test_dynamic_modules_keep_builtins_after_loading():
    module = dynamic_module()
    assert "__builtins__" in vars(module)
    copy = roundtrip(module)
    assert vars(copy)["__builtins__"] in (builtins, vars(builtins))
    assert type(vars(copy)["__builtins__"]) is type(vars(module)["__builtins__"])
    assert copy.total([1, 2]) == 5
    exec("result = abs(-3)", vars(copy))
    assert copy.result == 3


def test_dynamic_modules_pickle_when_builtins_hold_something_unpicklable(monkeypatch):
    monkeypatch.setattr(builtins, "wp_unpicklable_lock", threading.Lock(), raising=False)
    copy = roundtrip(dynamic_module())
    assert copy.total([4]) == 5


# ---- too deep to pickle (section 2.9) --------------------------------------

_DEEP = []


def deep_lists():
    """Lists nested past the pickler's depth limit, made once and kept: freeing
    them would overflow WebAssembly's call stack (CPython frees nested lists
    recursively), so the one copy lives as long as the module."""
    if not _DEEP:
        value = []
        for _ in range(200_000 if sys.platform != "emscripten" else 3_000):
            value = [value]
        _DEEP.append(value)
    return _DEEP[0]


@pytest.mark.parametrize("how", ["dumps", "dump", "Pickler"])
def test_too_deep_raises_one_exception_that_is_both_kinds(how):
    deep = deep_lists()
    with pytest.raises(RecursionError) as raised:
        if how == "dumps":
            webpickle.dumps(deep)
        elif how == "dump":
            webpickle.dump(deep, io.BytesIO())
        else:
            webpickle.Pickler(io.BytesIO()).dump(deep)
    error = raised.value
    assert isinstance(error, pickle.PicklingError) and isinstance(error, webpickle.PicklingRecursionError)
    assert str(error) == "Could not pickle object as excessively deep recursion required."
    assert type(error.__cause__) is RecursionError
    assert error.__notes__[0] == "when serializing list item 0" and len(error.__notes__) > 100


def test_too_deep_is_caught_by_code_written_for_cloudpickle():
    try:
        webpickle.dumps(deep_lists())
    except pickle.PicklingError as error:
        assert "excessively deep recursion" in str(error)
    else:
        raise AssertionError("no PicklingError")


def test_the_too_deep_error_pickles_by_reference():
    assert roundtrip(webpickle.PicklingRecursionError) is webpickle.PicklingRecursionError


# ---- the registry's error messages (section 2.10) --------------------------

def test_registry_error_messages_are_cloudpickles():
    with pytest.raises(ValueError, match=re.escape("Input should be a module object, got json instead")):
        webpickle.register_pickle_by_value("json")
    with pytest.raises(ValueError, match=re.escape("Input should be a module object, got 3 instead")):
        webpickle.unregister_pickle_by_value(3)
    import json

    with pytest.raises(ValueError, match=re.escape(f"{json} is not registered for pickle by value")):
        webpickle.unregister_pickle_by_value(json)


# ---- functools.lru_cache and functools.cache by value (section 3.1) --------

CACHED = """
import functools
@functools.lru_cache(maxsize=64, typed=True)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

@functools.cache
def square(x):
    return x * x

def make_scaled(k):
    @functools.lru_cache(maxsize=None)
    def scaled(x):
        return k * x
    return scaled

functions = fib, square, make_scaled(3)
"""


def test_cached_functions_travel_by_value_with_an_empty_cache():
    fib, square, scaled = define_in_main(CACHED, "functions")
    fib(30), square(4), scaled(2)
    loaded_fib, loaded_square, loaded_scaled = roundtrip((fib, square, scaled))
    assert loaded_fib is not fib
    assert loaded_fib.cache_parameters() == {"maxsize": 64, "typed": True}
    assert loaded_square.cache_parameters() == {"maxsize": None, "typed": False}
    assert loaded_scaled.cache_parameters() == {"maxsize": None, "typed": False}
    for loaded in (loaded_fib, loaded_square, loaded_scaled):
        assert loaded.cache_info().currsize == 0
        assert loaded.__wrapped__.__name__ == loaded.__name__
    assert loaded_fib(30) == 832040 and loaded_fib.cache_info().misses == 31
    assert (loaded_square(4), loaded_scaled(2)) == (16, 6)
    assert fib.cache_info().currsize == 31  # the sender's cache is untouched


def test_attributes_set_on_a_cached_function_travel():
    fib = define_in_main(CACHED, "fib")
    fib.label = "fibonacci"
    assert roundtrip(fib).label == "fibonacci"


def test_importable_cached_functions_travel_by_reference():
    stream = webpickle.dumps(re._compile)
    assert pickle.loads(stream) is re._compile
    assert len(stream) < 60


CACHED_IN_FRESH_PROCESS = """
import pickle, sys
fib, square, scaled = pickle.loads(open(sys.argv[1], "rb").read())
print(fib(40), square(7), scaled(5), fib.cache_parameters()["maxsize"], square.cache_info().currsize)
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter")
def test_cached_functions_load_in_a_fresh_process(tmp_path):
    path = tmp_path / "cached.pickle"
    path.write_bytes(webpickle.dumps(define_in_main(CACHED, "functions")))
    assert run_python(CACHED_IN_FRESH_PROCESS, str(path)).split() == ["102334155", "49", "15", "64", "1"]


# ---- functools.singledispatch by value (section 3.2) -----------------------

DISPATCH = """
import functools

class Money:
    def __init__(self, cents):
        self.cents = cents

@functools.singledispatch
def describe(value):
    return f"object {value!r}"

@describe.register
def _(value: int):
    return f"int {value}"

@describe.register(list)
def _(value):
    return [describe(item) for item in value]

@describe.register
def _(value: Money):
    return f"{value.cents / 100:.2f} EUR"
"""


def test_singledispatch_functions_travel_with_their_registrations():
    describe = define_in_main(DISPATCH, "describe")
    describe(1.5)  # fills the sender's dispatch cache (weak references)
    loaded = roundtrip(describe)
    assert loaded(3) == "int 3"
    assert loaded([1, "a"]) == ["int 1", "object 'a'"]
    assert loaded(2.5) == "object 2.5"
    assert [cls.__name__ for cls in loaded.registry] == ["object", "int", "list", "Money"]
    money = list(loaded.registry)[3]
    assert loaded(money(1250)) == "12.50 EUR"
    assert loaded.__wrapped__.__name__ == "describe" and loaded.__name__ == "describe"
    loaded.register(float, lambda value: "float")
    assert loaded(2.5) == "float" and describe(2.5) == "object 2.5"


DISPATCH_IN_FRESH_PROCESS = """
import pickle, sys
describe = pickle.loads(open(sys.argv[1], "rb").read())
print(describe(7), describe([8]), describe("x"))
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter")
def test_singledispatch_loads_in_a_fresh_process(tmp_path):
    path = tmp_path / "dispatch.pickle"
    path.write_bytes(webpickle.dumps(define_in_main(DISPATCH, "describe")))
    assert run_python(DISPATCH_IN_FRESH_PROCESS, str(path)).strip() == "int 7 ['int 8'] object 'x'"
