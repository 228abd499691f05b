"""joblib's webpickle-remote backend inside Pyodide (pyfetch under Node) against a native server.

Run by tests/remote/run_pyodide_tests.mjs (which copies Debian's joblib into this
Pyodide). joblib's Parallel is synchronous: the backend waits with pyodide.ffi.run_sync
(Node 24 has JSPI). Each test first leaves the loop step it was woken in, where
run_sync may not work (`await asyncio.sleep(0)`).
"""

import asyncio
import builtins
import os
import sys

import joblib
import pytest
import webpickle
import webpickle.joblib  # noqa: F401  (registers the backends)
from webpickle.remote import RemoteTraceback

webpickle.register_pickle_by_value(sys.modules[__name__])
URL, KEY = builtins.SERVER_URL, builtins.KEY


def fails_on(x, bad):
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


async def test_parallel_runs_on_the_server_from_pyodide():
    await asyncio.sleep(0)
    offset = 100
    with joblib.parallel_config(backend="webpickle-remote", n_jobs=3, url=URL, key=KEY):
        results = joblib.Parallel()(joblib.delayed(lambda i: (os.getpid(), i + offset))(i) for i in range(40))
        assert [value for _, value in results] == [i + 100 for i in range(40)]
        assert os.getpid() not in {pid for pid, _ in results}
        generator = joblib.Parallel(return_as="generator")(joblib.delayed(abs)(-i) for i in range(6))
        assert next(generator) == 0 and list(generator) == [1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="item 2 is bad") as raised:
            joblib.Parallel(batch_size=1)(joblib.delayed(fails_on)(i, 2) for i in range(6))
        assert isinstance(raised.value.__cause__, RemoteTraceback)
        assert joblib.effective_n_jobs(-1) == 6  # RemoteExecutor's concurrency in Pyodide
