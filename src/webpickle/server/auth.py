"""Admitting a request: signature headers, time window, nonce, size, Python version.

Every check that needs no body runs before a byte of the body is read; the
signature, which covers the body, is checked right after reading it (bounded
by --max-body), and always before anything could unpickle it. The server's
own process never unpickles a request body at all: only the worker that runs
the call does.
"""

import heapq
import os
import stat
import time

from webpickle import _signing


class Refused(Exception):
    """A request the server will not run. signed: whether its nonce may sign the answer
    (only once the request proved it holds the key)."""

    def __init__(self, status, kind, message, *, signed=False):
        super().__init__(message)
        self.status, self.kind, self.message, self.signed = status, kind, message, signed


def load_key(path):
    """The key in the file at path (surrounding whitespace dropped); raises ValueError saying what to fix."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            key = file.read().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the key file: {exc}") from None
    try:
        key = _signing.key_bytes(key)
    except ValueError as exc:
        raise ValueError(f"the key file {path}: {exc}") from None
    readable_by_others = bool(mode & (stat.S_IRGRP | stat.S_IROTH))
    return key, readable_by_others


class NonceLog:
    """Nonces of admitted requests, each kept until its timestamp is out of the window
    (after that the timestamp check refuses a replay on its own)."""

    def __init__(self):
        self._seen = set()
        self._expiry = []  # heap of (time it may be forgotten, nonce)

    def __contains__(self, nonce):
        self._forget_expired()
        return nonce in self._seen

    def add(self, nonce, timestamp):
        forget_at = timestamp + _signing.WINDOW_S + 1  # from then on, the timestamp check refuses a replay
        self._seen.add(nonce)
        heapq.heappush(self._expiry, (forget_at, nonce))

    def __len__(self):
        return len(self._seen)

    def _forget_expired(self):
        now = time.time()
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiry)[1])


def _unsigned(message):
    return Refused(401, "AuthenticationError", message)


def check_headers(headers, nonces, now=None):
    """The request's (timestamp, nonce, python, timeout text, signature) if its headers may be
    signed ones; raises Refused(401) for missing, malformed, stale or replayed ones."""
    missing = [name for name in _signing.REQUEST_HEADERS if name != _signing.TIMEOUT and name not in headers]
    if missing:
        raise _unsigned(f"the request is not signed (no {', '.join(missing)}): sign it with the server's key, "
                        "e.g. with webpickle.remote.RemoteExecutor")
    timestamp_text, nonce = headers[_signing.TIMESTAMP], headers[_signing.NONCE]
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise _unsigned(f"{_signing.TIMESTAMP} must be whole seconds since the Unix epoch") from None
    skew = timestamp - (time.time() if now is None else now)
    if abs(skew) > _signing.WINDOW_S:
        raise _unsigned(f"the request's timestamp is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
                        f"the server's clock (allowed: {_signing.WINDOW_S} s): re-sign it when sending, and "
                        "check both clocks")
    if not _signing.nonce_is_well_formed(nonce):
        raise _unsigned(f"{_signing.NONCE} must be 16 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")
    if nonce in nonces:
        raise _unsigned("this nonce was already used: the request is a replay (each request needs a new nonce)")
    return (timestamp, nonce, headers[_signing.PYTHON], headers.get(_signing.TIMEOUT, ""),
            headers[_signing.SIGNATURE])


async def read_body(request, limit):
    """The body, refused with 413 past limit bytes: by Content-Length before reading, and while reading."""
    too_big = Refused(413, "PayloadTooLargeError",
                      f"the request body is over the server's limit of {limit} bytes (--max-body): "
                      "send smaller arguments, or start the server with a larger --max-body")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def parse_timeout(text):
    """Seconds from the X-Webpickle-Timeout header ("" for none); ValueError when not a positive number."""
    if text == "":
        return None
    seconds = float(text)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(text)
    return seconds


async def admit(request, key, nonces, max_body):
    """Check a /call request from its first header to its last byte.

    Returns (body, nonce, timeout seconds or None). Raises Refused: 401 for
    anything unsigned, wrongly signed, stale or replayed; 413 past max_body;
    409 for a client on another Python minor version; 400 for a signed but
    malformed timeout. The nonce is recorded only once the signature holds,
    so nobody without the key can fill the log.
    """
    timestamp, nonce, python, timeout_text, signature = check_headers(request.headers, nonces)
    body = await read_body(request, max_body)
    expected = _signing.request_signature(key, request.method, request.raw_path, timestamp, nonce, python,
                                          timeout_text, body)
    if not _signing.signatures_match(expected, signature):
        raise _unsigned("the signature does not match: the client's key differs from the server's, "
                        "or the request was altered on the way")
    if nonce in nonces:  # two copies of one request may both have passed check_headers while reading
        raise _unsigned("this nonce was already used: the request is a replay (each request needs a new nonce)")
    nonces.add(nonce, timestamp)
    ours = _signing.python_version()
    if python != ours:
        raise Refused(409, "VersionMismatchError",
                      f"this server runs Python {ours} and the client runs Python {python}: pickled functions "
                      f"only load on the same minor version; run the client on Python {ours}, or use a "
                      f"server on Python {python}", signed=True)
    try:
        timeout = parse_timeout(timeout_text)
    except ValueError:
        raise Refused(400, "BadRequest", f"{_signing.TIMEOUT} must be a positive number of seconds or empty, "
                                         f"not {timeout_text!r}", signed=True) from None
    return body, nonce, timeout
