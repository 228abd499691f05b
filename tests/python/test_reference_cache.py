"""Objects written by reference are found once per process and then only
checked: a function or class that moved, a module replaced in sys.modules or
registered for pickling by value must be noticed at the next dumps()."""

import contextlib
import pickle
import sys
import types

import webpickle

MODULE = "webpickle_reference_probe"


@contextlib.contextmanager
def probe_module():
    """A module with a function and a class, importable while the block runs."""
    mod = types.ModuleType(MODULE)
    exec("def f(x):\n    return x + 1\n\nclass C:\n    kind = 'c'\n", vars(mod))
    sys.modules[MODULE] = mod
    try:
        yield mod
    finally:
        sys.modules.pop(MODULE, None)
        if MODULE in webpickle.list_registry_pickle_by_value():
            webpickle.unregister_pickle_by_value(mod)


def by_reference(obj):
    """Whether obj's stream names it (module and qualname) rather than carrying its code."""
    # The stdlib pickles an importable function or class as a reference to its
    # module and qualname: the same bytes, then, mean the same reference.
    try:
        reference = pickle.dumps(obj, protocol=5)
    except pickle.PicklingError:  # the stdlib cannot find it by name: no reference to compare with
        return False
    return webpickle.dumps(obj, protocol=5) == reference


def test_a_function_and_a_class_found_once_are_written_by_reference_again():
    with probe_module() as module:
        for obj in (module.f, module.C):
            assert by_reference(obj) and by_reference(obj)
            assert pickle.loads(webpickle.dumps(obj)) is obj


def test_a_function_or_class_that_moved_is_written_by_value():
    with probe_module() as module:
        f, C = module.f, module.C
        assert by_reference(f) and by_reference(C)
        module.f, module.C = (lambda x: x), type("C", (), {})
        assert not by_reference(f) and not by_reference(C)
        assert pickle.loads(webpickle.dumps(f))(1) == 2
        module.f, module.C = f, C
        assert by_reference(f) and by_reference(C)


def test_a_module_replaced_or_gone_is_noticed():
    with probe_module() as module:
        f = module.f
        assert by_reference(f)
        other = types.ModuleType(MODULE)
        other.f = f
        sys.modules[MODULE] = other
        assert by_reference(f)  # found in the new module
        del sys.modules[MODULE]
        assert not by_reference(f)  # its module is not loaded: the loader could not import it
        assert pickle.loads(webpickle.dumps(f))(2) == 3


def test_registering_the_module_later_sends_it_by_value():
    with probe_module() as module:
        f = module.f
        assert by_reference(f)
        webpickle.register_pickle_by_value(module)
        assert not by_reference(f)
        webpickle.unregister_pickle_by_value(module)
        assert by_reference(f)
