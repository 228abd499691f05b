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
    outcome = _call.run(lambda: pickle.loads(payload))
    if asyncio.iscoroutine(outcome):
        outcome = asyncio.run(outcome)  # no loop runs in a worker process or a Dask task thread
    raised, value = outcome
    if raised and isinstance(value, MemoryError) and memory_cap:
        value.add_note(f"the call's process is capped at --max-memory {memory_cap} of address space")
    return _call.pickle_outcome(outcome, _dumps)


def run_call_task(payload):
    """run_call for Dask: one picklable return value, no cap (Dask's workers have their own)."""
    return run_call(payload)


def _dumps(obj):
    return webpickle.dumps(obj, protocol=5)
