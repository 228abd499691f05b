"""A function pickled once for many calls, and named by the digest of its stream.

webpickle's streams are deterministic: the same definitions and captured
values give the same bytes in any process, so the SHA-256 of a function's
stream names it for every worker and server. The sending side pickles a
function once per map (each submit() pickles it again: that is how a changed
definition is caught) and sends the stream only where the digest is not
loaded yet; the receiving side keeps loaded functions by digest
(_function_cache.py).
"""

import hashlib
import threading
import warnings

from ._pickler import dumps

DEFAULT_BIG_FUNCTION_BYTES = 4 * 2**20


class FunctionStream:
    """function, its webpickle stream (protocol 5, buffers in band) and the stream's hex SHA-256.
    carrier: what an executor made of the stream to send it (the pool's JS copy), made once."""

    __slots__ = ("function", "stream", "digest", "carrier")

    def __init__(self, function, stream, digest):
        self.function, self.stream, self.digest = function, stream, digest
        self.carrier = None

    def __repr__(self):
        return f"<FunctionStream {self.digest[:12]} of {len(self.stream)} bytes>"


# The digests of the small streams hashed last, by stream: submit() pickles its function with
# every call, and finding the same bytes again here is much cheaper than hashing them again.
_recent_digests = {}  # oldest first
_recent_digests_lock = threading.Lock()
_RECENT_DIGESTS = 256
_REMEMBERED_STREAM_BYTES = 64 * 2**10


def digest_of(stream):
    """The hex SHA-256 of stream (bytes)."""
    if len(stream) > _REMEMBERED_STREAM_BYTES:
        return hashlib.sha256(stream).hexdigest()
    digest = _recent_digests.get(stream)
    if digest is None:
        digest = hashlib.sha256(stream).hexdigest()
        with _recent_digests_lock:
            _recent_digests[stream] = digest
            if len(_recent_digests) > _RECENT_DIGESTS:
                del _recent_digests[next(iter(_recent_digests))]
    return digest


def pickle_function(function, warn_above=DEFAULT_BIG_FUNCTION_BYTES):
    """function's FunctionStream; warns (once per digest) when its stream is over warn_above bytes."""
    stream = dumps(function, protocol=5)
    pickled = FunctionStream(function, stream, digest_of(stream))
    if warn_above is not None and len(stream) > warn_above:
        _warn_big(pickled)
    return pickled


class BigFunctionWarning(UserWarning):
    """A function's stream is large: it carries captured values that could travel as arguments."""


_warned = set()
_warned_lock = threading.Lock()


def _warn_big(pickled):
    with _warned_lock:
        if pickled.digest in _warned:
            return
        _warned.add(pickled.digest)
    from .explain import explain, readable_size  # only when warning: explain pickles each part once more

    # The values that make most of the stream: a tenth of it or more, three at most.
    carried = [entry for entry in explain(pickled.function).entries
               if entry.captured and entry.size * 10 >= len(pickled.stream)][:3]
    names = ", ".join(f"{entry.path} ({readable_size(entry.size)})" for entry in carried) or "its code"
    name = getattr(pickled.function, "__qualname__", type(pickled.function).__qualname__)
    warnings.warn(
        f"the function {name!r} pickles to {readable_size(len(pickled.stream))}; most of it is {names}. It "
        "travels once per worker, and every worker loads and keeps it: pass big values as arguments (or load "
        "them in the worker) instead of capturing them; webpickle.explain(function) lists what it carries",
        BigFunctionWarning, stacklevel=4)
