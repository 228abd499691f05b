"""Run one pickled call and pickle its outcome: in a worker process, or as a Dask task.

The request body is webpickle.dumps((fn, args, kwargs)). The reply is
(raised, stream), made by webpickle._call as the Web Worker pool's replies are.
"""

import asyncio
import pickle

import webpickle
from webpickle import _call


def run_call(payload, memory_cap=None):
    """Unpickle and run one call; returns (raised, stream). Never raises.

    memory_cap: the --max-memory text ("1GB") when this process is capped;
    a MemoryError then gets a note that names the cap.
    """
    return run_loaded_call(lambda: pickle.loads(payload), memory_cap)


def run_loaded_call(load_call, memory_cap=None):
    """run_call for a call that load_call() returns as (function, args, kwargs)."""
    outcome = _call.run(load_call)
    if asyncio.iscoroutine(outcome):
        outcome = asyncio.run(outcome)  # no loop runs in a worker process or a Dask task thread
    raised, value = outcome
    if raised and isinstance(value, MemoryError) and memory_cap:
        value.add_note(f"the call's process is capped at --max-memory {memory_cap} of address space")
    return _call.pickle_outcome(outcome, _dumps)


def run_call_task(payload):
    """run_call for Dask: one picklable return value, no cap (Dask's workers have their own)."""
    return run_call(payload)


_dask_loaded = None  # a Dask worker process's loaded functions (a functions.Loaded), made on first use


def run_frame_task(frame):
    """A Dask task's call by digest: frame as a worker process of the pool gets it (functions.py).
    Returns (status, stream), status MISSING when it names a function not loaded here."""
    global _dask_loaded
    from .functions import MISSING, RAISED, RESULT, Loaded

    if _dask_loaded is None:
        _dask_loaded = Loaded()
    load_call = _dask_loaded.call_loader(frame)
    if load_call is None:
        return MISSING, b""
    raised, stream = run_loaded_call(load_call)
    return (RAISED if raised else RESULT), stream


def _dumps(obj):
    return webpickle.dumps(obj, protocol=5)
