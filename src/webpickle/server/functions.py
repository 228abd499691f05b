"""Functions kept by digest on the server, so that a function travels once.

The client uploads a function's stream once (POST /function); the server
process keeps it as bytes in a FunctionStore, never unpickled there. A call
then names it (POST /call?function=DIGEST, signed like any path) and carries
(args, kwargs) only. The process pool hands the stream to a worker process
with the first call there; a worker process keeps loaded functions in its own
FunctionCache (webpickle._function_cache) and answers MISSING for one it
evicted, and the pool sends the call again with the stream.

The body of a frame to a worker process (child.py) starts with its kind::

    WHOLE     then webpickle.dumps((fn, args, kwargs))
    LOADED    then the 32-byte digest, then webpickle.dumps((args, kwargs))
    WITH      then the 32-byte digest, the 8-byte big-endian length of the
              function's stream, the stream, then webpickle.dumps((args, kwargs))

and a reply's status byte is RESULT, RAISED, or MISSING (nothing ran).
"""

import collections
import hashlib
import struct

from webpickle import _signing
from webpickle._function_cache import DEFAULT_CACHE_BYTES, FunctionCache

WHOLE, LOADED, WITH = b"\x00", b"\x01", b"\x02"
RESULT, RAISED, MISSING = 0, 1, 2
_LENGTH = struct.Struct(">Q")
_DIGEST_BYTES = 32


def digest_of(stream):
    return hashlib.sha256(stream).hexdigest()


# A digest as the signed headers and paths spell it: 64 lowercase hex digits.
is_digest = _signing.digest_is_well_formed


class FunctionStore:
    """Function streams by digest, as bytes, least recently used first out past max_bytes
    (the one just stored always stays)."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._streams = collections.OrderedDict()
        self._bytes = 0

    def __contains__(self, digest):
        return digest in self._streams

    def __len__(self):
        return len(self._streams)

    def put(self, stream):
        """Keep stream; returns its digest."""
        digest = digest_of(stream)
        if digest in self._streams:
            self._streams.move_to_end(digest)
            return digest
        self._streams[digest] = stream
        self._bytes += len(stream)
        while self._bytes > self.max_bytes and len(self._streams) > 1:
            self._bytes -= len(self._streams.popitem(last=False)[1])
        return digest

    def get(self, digest):
        stream = self._streams.get(digest)
        if stream is not None:
            self._streams.move_to_end(digest)
        return stream


# -- frames to a worker process ---------------------------------------------------


def whole_call(payload):
    """The frame body of a call pickled whole, as its parts (process_pool writes them: _frame_writes)."""
    return (WHOLE, payload)


def call_by_digest(digest, stream, arguments):
    """The frame body of a call of the function digest, as its parts; stream: the function's
    bytes, or None when the worker process has it loaded."""
    raw = bytes.fromhex(digest)
    if stream is None:
        return (LOADED, raw, arguments)
    return (WITH, raw, _LENGTH.pack(len(stream)), stream, arguments)


class Loaded:
    """A worker process's side: its loaded functions, and how to read a frame's call."""

    def __init__(self, max_bytes=DEFAULT_CACHE_BYTES):
        self.functions = FunctionCache(max_bytes)

    def call_loader(self, body):
        """A function that returns the frame's (function, args, kwargs) (raising what loading
        raises), or None when the frame names a function not loaded here."""
        import pickle

        kind, view = body[:1], memoryview(body)
        if kind == WHOLE:
            return lambda: pickle.loads(view[1:])
        digest = view[1:1 + _DIGEST_BYTES].hex()
        start = 1 + _DIGEST_BYTES
        if kind == WITH:
            (length,) = _LENGTH.unpack_from(view, start)
            start += _LENGTH.size
            stream = view[start:start + length]
            start += length

            def load():
                return (self.functions.load(digest, stream), *pickle.loads(view[start:]))

            return load
        if kind != LOADED:
            raise ValueError(f"a frame of unknown kind {kind!r}: the server and its worker process disagree")
        function = self.functions.get(digest)
        if function is None:
            return None
        return lambda: (function, *pickle.loads(view[start:]))
