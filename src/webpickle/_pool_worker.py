"""The Web Worker pool's worker side: what js/worker.mjs calls for each CALL message.

Running the call and pickling its outcome is webpickle._call's job, as in the
server; this module only carries streams across the JavaScript boundary.
"""

import asyncio

from . import _call, _pool_buffers
from ._function_cache import FunctionCache

# The functions this worker loaded, by digest (resized by worker.mjs from the pool's functionCacheBytes).
functions = FunctionCache()


def serve(payload, buffers, digest=None, function_stream=None):
    """Run one task: returns the JS array [stream, raised, buffers], or an awaitable
    of it when the function is a coroutine function. Never raises for the task's
    own exceptions (SystemExit included): they are its reply.

    payload pickles (function, args, kwargs), or (args, kwargs) when digest
    names the function: loaded here before, or sent along as function_stream.
    Returns None when the function of digest is neither (nothing ran: the pool
    sends the call again with the stream).

    The pool may interrupt a task it gave up on: a KeyboardInterrupt can then
    land anywhere in here, so state kept between tasks must change in one
    step (build an entry completely, then store it with one assignment).
    """
    if digest is None:
        outcome = _call.run(lambda: _pool_buffers.loads(payload, buffers))
    else:
        function = functions.get(digest)
        if function is None and function_stream is None:
            return None

        def load_call():
            if function is not None:
                loaded = function
            else:
                loaded = functions.load(digest, _pool_buffers.reader(function_stream), function_stream.length)
            return (loaded, *_pool_buffers.loads(payload, buffers))

        outcome = _call.run(load_call)
    if asyncio.iscoroutine(outcome):
        return asyncio.ensure_future(_reply_when_done(outcome))
    return _reply(outcome)


async def _reply_when_done(outcome):
    return _reply(await outcome)


def _reply(outcome):
    from pyodide.ffi import to_js

    raised, (stream, buffers) = _call.pickle_outcome(outcome, _pool_buffers.dumps)
    return to_js([stream, raised, buffers])
