"""Modules whose functions and classes are pickled by value (cloudpickle's API)."""

import sys
import types

from . import _core


def register_pickle_by_value(module):
    """Pickle the functions and classes of `module` (and its submodules) by value.

    Use it for modules that exist where you pickle but not where you load,
    such as your own helpers next to a notebook.
    """
    if not isinstance(module, types.ModuleType):
        raise ValueError(f"Input should be a module object, got {str(module)} instead")
    if module.__name__ not in sys.modules:
        raise ValueError(
            f"{module} was not imported correctly, have you used an `import` statement to access it?"
        )
    _core.registered_modules().add(module.__name__)


def unregister_pickle_by_value(module):
    """Undo register_pickle_by_value(module)."""
    if not isinstance(module, types.ModuleType):
        raise ValueError(f"Input should be a module object, got {str(module)} instead")
    registered = _core.registered_modules()
    if module.__name__ not in registered:
        raise ValueError(f"{module} is not registered for pickle by value")
    registered.discard(module.__name__)


def list_registry_pickle_by_value():
    """The names of the modules registered for pickling by value."""
    return set(_core.registered_modules())
