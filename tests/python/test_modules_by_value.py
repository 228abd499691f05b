"""Modules: importable ones by reference, run-time ones by value, and
register_pickle_by_value for modules the loading side does not have."""

import os
import pickle
import sys
import tempfile
import types

import pytest

import webpickle
from support import define_in_main, roundtrip, run_python


def test_importable_module_by_reference():
    import json

    assert roundtrip(json) is json


def test_function_using_a_module_global():
    f = define_in_main("import math\ndef hyp(a, b):\n    return math.hypot(a, b)\n", "hyp")
    assert roundtrip(f)(3, 4) == 5.0


def test_dynamic_module_by_value():
    module = types.ModuleType("made_at_run_time", "A module built by code.")
    exec("VALUE = 41\ndef answer():\n    return VALUE + 1\n", module.__dict__)
    copy = roundtrip(module)
    assert copy is not module
    assert copy.__name__ == "made_at_run_time" and copy.__doc__ == "A module built by code."
    assert copy.answer() == 42
    assert copy.answer.__globals__ is vars(copy)


def test_registration_api():
    module = types.ModuleType("wp_registered_example")
    sys.modules[module.__name__] = module
    try:
        webpickle.register_pickle_by_value(module)
        assert "wp_registered_example" in webpickle.list_registry_pickle_by_value()
        webpickle.unregister_pickle_by_value(module)
        assert "wp_registered_example" not in webpickle.list_registry_pickle_by_value()
        with pytest.raises(ValueError, match="is not registered"):
            webpickle.unregister_pickle_by_value(module)
    finally:
        del sys.modules[module.__name__]
    with pytest.raises(ValueError, match="Input should be a module"):
        webpickle.register_pickle_by_value("json")
    with pytest.raises(ValueError, match="was not imported correctly"):
        webpickle.register_pickle_by_value(types.ModuleType("never_imported"))


HELPERS = "SCALE = 10\ndef scale(x):\n    return x * SCALE\nclass Box:\n    def __init__(self, v):\n        self.v = v\n"
PIPELINE = (
    "def run(x):\n"
    "    import wp_helpers_mod\n"
    "    return wp_helpers_mod.scale(x) + 1\n"
)

LOAD = """
import pickle, sys
run, box = pickle.loads(open(sys.argv[1], 'rb').read())
print(run(4), type(box).__name__, box.v)
"""


@pytest.mark.native_only(reason="loads in a fresh interpreter that lacks the modules")
def test_registered_modules_travel_to_a_process_without_them():
    with tempfile.TemporaryDirectory() as folder:
        for name, source in (("wp_helpers_mod", HELPERS), ("wp_pipeline_mod", PIPELINE)):
            with open(os.path.join(folder, name + ".py"), "w") as file:
                file.write(source)
        sys.path.insert(0, folder)
        try:
            import wp_helpers_mod
            import wp_pipeline_mod

            webpickle.register_pickle_by_value(wp_helpers_mod)
            webpickle.register_pickle_by_value(wp_pipeline_mod)
            try:
                stream = webpickle.dumps((wp_pipeline_mod.run, wp_helpers_mod.Box(7)))
            finally:
                webpickle.unregister_pickle_by_value(wp_helpers_mod)
                webpickle.unregister_pickle_by_value(wp_pipeline_mod)
        finally:
            sys.path.remove(folder)
            sys.modules.pop("wp_helpers_mod", None)
            sys.modules.pop("wp_pipeline_mod", None)
        path = os.path.join(folder, "stream.pickle")
        with open(path, "wb") as file:
            file.write(stream)
        # The folder with the modules is not on the loading side's path.
        assert run_python(LOAD, path).split() == ["41", "Box", "7"]
