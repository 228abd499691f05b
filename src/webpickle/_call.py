"""A pickled call, from both ends: the one place that runs a call and pickles
its outcome, and that turns a reply back into a value or an exception.

Used where calls run (the Web Worker pool's worker side, _pool_worker.py,
and the server's worker processes and Dask tasks, server/runner.py) and
where they were made (workers.WorkerPool and remote.RemoteExecutor).

A reply is (raised, stream): stream pickles the call's result when raised is
false, else the tuple (exception, traceback text, traceback chain), whose
chain holds the frames (see _traceback.py) so that the caller can show the
lines of code it sent by value. Both travel by value with webpickle.

Also here: the errors both executors raise, so that each has one name.
"""

import asyncio
import pickle

import webpickle

from . import _traceback
from ._traceback import RemoteTraceback

__all__ = ["RemoteError", "RemoteExceptionError", "RemoteTraceback", "WorkerCrashedError", "WorkerError"]


class WorkerError(RuntimeError):
    """A worker could not run a task (not an exception raised by the task itself)."""


class RemoteError(RuntimeError):
    """The server could not run the call (not an exception raised by the call itself).

    status: the HTTP status (None when the request never got an answer).
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class WorkerCrashedError(WorkerError, RemoteError):
    """What ran the call died while running it: a Web Worker's runtime (a wasm trap, an
    abort; the pool replaced it), or a server's worker process or Dask worker (a segfault,
    memory past its cap). A WorkerError for the pool and a RemoteError (status 500) for the
    server, so code written for either name keeps catching it.
    """


class RemoteExceptionError(RuntimeError):
    """The call raised an exception that cannot be raised here as itself: it could not be
    pickled back by value (its message names it, its __cause__ has the remote traceback),
    or it is a StopIteration, which an asyncio future refuses (its __cause__ is the exception).
    """


# -- where the call runs ----------------------------------------------------------


def run(load_call):
    """Run the call that load_call() returns as (function, args, kwargs).

    Returns the outcome (raised, value), or, when the function is a coroutine
    function, a coroutine that returns it. Never raises: every exception of the
    call, SystemExit and KeyboardInterrupt included, is its outcome.
    """
    try:
        function, args, kwargs = load_call()
        result = function(*args, **kwargs)
    except BaseException as exc:
        return True, exc
    if asyncio.iscoroutine(result):
        return _finish(result)
    return False, result


async def _finish(coroutine):
    try:
        return False, await coroutine
    except BaseException as exc:
        return True, exc


# Where webpickle calls the user's code: a failure past these frames is the call's, not webpickle's.
_ENTRY_POINTS = frozenset({run.__code__, _finish.__code__})


def pickle_outcome(outcome, dump):
    """The reply (raised, dump(...)) for an outcome of run(); dump(obj) pickles obj by value.

    A result that cannot be pickled becomes a pickle.PicklingError; an exception
    that cannot make the trip (checked by loading it here, while its type and
    traceback are at hand) becomes a RemoteExceptionError that names it.
    """
    raised, value = outcome
    if not raised:
        try:
            return False, dump(value)
        except Exception as exc:
            problem = pickle.PicklingError(
                f"the call's result, a {type(value).__qualname__}, could not be pickled to be sent back: {exc}")
            problem.__cause__ = exc
            value = problem
    return True, dump(_failure(value))


def _failure(exc):
    chain = _traceback.capture(exc, _ENTRY_POINTS)
    reply = (exc, _traceback.render(chain, local_lines=False), chain)
    try:
        # Exception classes whose __init__ rejects their own args fail only when loaded.
        pickle.loads(webpickle.dumps(reply, protocol=5))
    except Exception as problem:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        substitute = RemoteExceptionError(f"the call raised {kind}: {exc} (it could not be sent back by value: "
                                          f"{problem})")
        reply = (substitute, *reply[1:])
    return reply


# -- where the call was made -----------------------------------------------------


def carried(exc):
    """exc, once more machinery re-raised it on its way to the caller: the call's own exception
    (its __cause__ the remote traceback) loses the frames it gathered here; any other is left as it is."""
    if isinstance(exc.__cause__, RemoteTraceback):
        exc.__traceback__ = None
    return exc


def raised_exception(value):
    """The exception to raise for a reply that raised: value is its unpickled (exception, text, chain).

    The exception's __cause__ is a RemoteTraceback that shows the remote frames
    with the lines of this side's own code (what it sent by value) filled in.
    Its __traceback__ is empty: the frames of the machinery that carried it say nothing.
    """
    exc, text, *rest = value
    exc.__cause__ = RemoteTraceback(text, rest[0] if rest else ())
    exc.__traceback__ = None
    if isinstance(exc, StopIteration):
        substitute = RemoteExceptionError(f"the call raised {exc!r}, which cannot be raised from an asyncio future")
        substitute.__cause__ = exc
        return substitute
    return exc
