"""webpickle: pickle Python functions and classes by value, in C++.

A drop-in for cloudpickle 3.x (``import webpickle as cloudpickle``): lambdas,
closures and anything defined in ``__main__`` or a notebook are pickled by
value, everything importable by reference. Load with the stdlib's
``pickle.loads``; webpickle need not be installed where the stream is loaded.
"""

from pickle import HIGHEST_PROTOCOL, PicklingError, UnpicklingError, load, loads

from . import _core
from ._pickler import CloudPickler, Pickler, PicklingRecursionError, dump, dumps
from ._registry import list_registry_pickle_by_value, register_pickle_by_value, unregister_pickle_by_value
from ._function_stream import BigFunctionWarning
from .explain import explain

__version__ = _core.__version__
DEFAULT_PROTOCOL = _core.DEFAULT_PROTOCOL

__all__ = [
    "BigFunctionWarning",
    "CloudPickler",
    "DEFAULT_PROTOCOL",
    "HIGHEST_PROTOCOL",
    "Pickler",
    "PicklingError",
    "PicklingRecursionError",
    "UnpicklingError",
    "dump",
    "dumps",
    "explain",
    "list_registry_pickle_by_value",
    "load",
    "loads",
    "register_pickle_by_value",
    "unregister_pickle_by_value",
]
