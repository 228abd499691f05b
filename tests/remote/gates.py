"""A call that holds its server process until the test opens a gate: the test sees it
start (a file appears) and decides when it ends (it creates another file), so that
tests wait on events rather than on sleeps.

The server cannot import this module: it travels by value.
"""

import os
import sys
import time
from pathlib import Path

import webpickle
from remote_support import CALL_TIMEOUT_S

webpickle.register_pickle_by_value(sys.modules[__name__])


def held_call(started, gate, result=None):
    """Runs on the server: says it started (creates the file started, unless None), then
    returns result once the test creates the file gate (or fails after CALL_TIMEOUT_S)."""
    if started is not None:
        Path(started).touch()
    deadline = time.monotonic() + CALL_TIMEOUT_S
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the test never created {gate}")
        time.sleep(0.02)
    return result
