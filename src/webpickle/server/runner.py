"""Run one pickled call and pickle its outcome: in a worker process, or as a Dask task.

The request body is webpickle.dumps((fn, args, kwargs)). The reply is
(raised, stream): stream pickles the result when raised is False, else
(exception, its traceback text), both by value with webpickle, as the Web
Worker pool's replies do.
"""

import asyncio
import pickle
import traceback

import webpickle


def run_call(payload, memory_cap=None):
    """Unpickle and run one call; returns (raised, stream). Never raises.

    memory_cap: the --max-memory text ("1GB") when this process is capped;
    a MemoryError then gets a note that names the cap.
    """
    try:
        function, args, kwargs = pickle.loads(payload)
        result = function(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)  # no loop runs in a worker process or a Dask task thread
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: they are the call's outcome
        if isinstance(exc, MemoryError) and memory_cap:
            exc.add_note(f"the call's process is capped at --max-memory {memory_cap} of address space")
        return True, _pickle_failure(exc)
    try:
        return False, webpickle.dumps(result, protocol=5)
    except Exception as exc:
        problem = pickle.PicklingError(
            f"the call's result, a {type(result).__qualname__}, could not be pickled to be sent back: {exc}")
        problem.__cause__ = exc
        return True, _pickle_failure(problem)


def run_call_task(payload):
    """run_call for Dask: one picklable return value, no cap (Dask's workers have their own)."""
    return run_call(payload)


def _pickle_failure(exc):
    """(exc, traceback text) pickled; an exception that cannot make the trip becomes a RuntimeError."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is run_call.__code__:
        tb = tb.tb_next  # start at the call's own frame
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    try:
        stream = webpickle.dumps((exc, text), protocol=5)
        # Loading it here too catches exception classes whose __init__ rejects
        # their own args, while the type and the traceback are at hand.
        pickle.loads(stream)
        return stream
    except Exception as problem:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        substitute = RuntimeError(f"the call raised {kind}: {exc} (it could not be sent back by value: {problem})")
        return webpickle.dumps((substitute, text), protocol=5)
