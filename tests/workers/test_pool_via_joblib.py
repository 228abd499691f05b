"""webpickle.joblib's webpickle-workers backend in Pyodide under Node, with real worker threads.

The runner copies Debian's joblib into this Pyodide only: the workers have none, so
each batch must travel as a plain call. joblib's Parallel is synchronous; the backend
waits with pyodide.ffi.run_sync (Node 24 has JSPI). Each test first leaves the loop
step it was woken in (`await asyncio.sleep(0)`): run_sync works in a step the loop runs.
"""

import asyncio
import sys

import pytest
import webpickle

webpickle.register_pickle_by_value(sys.modules[__name__])


def in_a_worker(i):
    return i * i, "joblib" in sys.modules


def fails_on(x, bad):
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


async def test_parallel_maps_on_workers_with_batches_and_a_generator():
    await asyncio.sleep(0)
    import joblib
    import webpickle.joblib  # noqa: F401  (registers the backends)

    with joblib.parallel_config(backend="webpickle-workers", n_jobs=2):
        results = joblib.Parallel()(joblib.delayed(in_a_worker)(i) for i in range(100))
        assert [square for square, _ in results] == [i * i for i in range(100)]
        assert not any(joblib_there for _, joblib_there in results), "a worker imported joblib"
        generator = joblib.Parallel(return_as="generator", batch_size=3)(joblib.delayed(abs)(-i) for i in range(10))
        assert next(generator) == 0 and list(generator) == list(range(1, 10))
        with pytest.raises(ValueError, match="item 4 is bad") as raised:
            joblib.Parallel(batch_size=1)(joblib.delayed(fails_on)(i, 4) for i in range(12))
        assert "in fails_on" in str(raised.value.__cause__)
        assert joblib.effective_n_jobs(-1) >= 1


SYNCHRONOUS_CALL = """
import joblib, webpickle.joblib
try:
    with joblib.parallel_config(backend="webpickle-workers", n_jobs=2):
        joblib.Parallel()(joblib.delayed(abs)(i) for i in range(3))
    outcome = "ran"
except RuntimeError as exc:
    outcome = str(exc)
outcome
"""


def test_entered_synchronously_it_says_what_is_missing():
    import pyodide_js

    # runPython, not runPythonAsync: a stack that run_sync cannot suspend.
    outcome = pyodide_js.runPython(SYNCHRONOUS_CALL)
    assert "works only when Python was entered asynchronously" in outcome, outcome
    assert "runPythonAsync" in outcome
