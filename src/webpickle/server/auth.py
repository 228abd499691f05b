"""Admitting a request: the key file, then a request's signed headers, then its body.

The headers alone prove the key (they sign the body's length and digest), so
nothing of the body is read for a request that has not: an unsigned, stale,
replayed or wrongly signed request costs its headers and nothing more. The
body of an admitted request is hashed as it arrives, never past its signed
length, and refused unless it has the signed digest. The server's own process
never unpickles a request body at all: only the worker that runs the call does.
"""

import asyncio
import dataclasses
import hashlib
import heapq
import os
import stat
import time

from aiohttp import hdrs

from webpickle import _signing

_SHARED_MODE_BITS = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH
_CHUNK = 1 << 16


class Refused(Exception):
    """A request the server will not run. signed: whether its nonce may sign the answer
    (only once the request proved it holds the key)."""

    def __init__(self, status, kind, message, *, signed=False):
        super().__init__(message)
        self.status, self.kind, self.message, self.signed = status, kind, message, signed


def load_key(path, *, allow_shared=False):
    """The key in the file at path (surrounding whitespace dropped); raises ValueError saying what to fix.

    A file that group or others may read or write is refused, as ssh refuses
    such private keys, unless allow_shared (for secrets a container runtime
    mounts with a wider mode)."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            key = file.read().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the key file: {exc}") from None
    if mode & _SHARED_MODE_BITS and not allow_shared:
        raise ValueError(f"the key file {path} may be read or written by other users (mode "
                         f"{stat.S_IMODE(mode):04o}): run chmod 600 {path} (or, where its mode cannot change, "
                         "e.g. a secret mounted in a container, pass --allow-shared-key-file)")
    try:
        return _signing.key_bytes(key)
    except ValueError as exc:
        raise ValueError(f"the key file {path}: {exc}") from None


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


@dataclasses.dataclass(frozen=True)
class Admitted:
    """What the signed headers of an admitted request say."""
    nonce: str
    python: str
    timeout_text: str
    body_length: int
    body_sha256: str


def _unsigned(message, kind="AuthenticationError"):
    return Refused(401, kind, message)


def _signed(status, kind, message):
    return Refused(status, kind, message, signed=True)


def check_headers(headers, *, key, method, path, server_id, nonces, now=None):
    """Admitted if the headers prove the key and are fresh, for this server, and not a replay;
    raises Refused(401) otherwise. The nonce is recorded only once the signature holds,
    so nobody without the key can fill the log."""
    fields = [headers.get(name) for name in _signing.REQUEST_HEADERS]
    if None in fields:
        missing = [name for name, value in zip(_signing.REQUEST_HEADERS, fields) if value is None]
        raise _unsigned(f"the request is not signed (no {', '.join(missing)}): sign it with the server's key, "
                        "e.g. with webpickle.remote.RemoteExecutor")
    server, timestamp_text, nonce, python, timeout_text, length_text, digest, signature = fields
    if server != server_id:
        raise _unsigned(f"the request was signed for the server {server[:64]!r}, and this one is {server_id!r} "
                        "(another server, or this one before a restart): read the id from GET /health and "
                        "sign the request again", kind="ServerMismatchError")
    if not _signing.decimal_is_well_formed(timestamp_text):
        raise _unsigned(f"{_signing.TIMESTAMP} must be whole seconds since the Unix epoch, in digits")
    skew = int(timestamp_text) - (time.time() if now is None else now)
    if abs(skew) > _signing.WINDOW_S:
        raise _unsigned(f"the request's timestamp is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
                        f"the server's clock (allowed: {_signing.WINDOW_S} s): re-sign it when sending, and "
                        "check both clocks")
    if not _signing.nonce_is_well_formed(nonce):
        raise _unsigned(f"{_signing.NONCE} must be 16 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")
    if not (_signing.decimal_is_well_formed(length_text) and _signing.digest_is_well_formed(digest)):
        raise _unsigned(f"{_signing.BODY_LENGTH} must be the body's length in digits and {_signing.BODY_SHA256} "
                        "its SHA-256 in lowercase hex")
    expected = _signing.request_signature(key, method, path, *fields[:-1])
    if not _signing.signatures_match(expected, signature):
        raise _unsigned("the signature does not match: the client's key differs from the server's, "
                        "or the request was altered on the way")
    if nonce in nonces:
        raise _unsigned("this nonce was already used: the request is a replay (each request needs a new nonce)")
    nonces.add(nonce, int(timestamp_text))
    return Admitted(nonce, python, timeout_text, int(length_text), digest)


def check_admitted(admitted, headers, content_length, max_body):
    """The checks that answer a request proven to hold the key (signed refusals): encoding,
    size, Python version, timeout. Returns the timeout in seconds or None."""
    encoding = headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    if encoding != "identity":
        raise _signed(415, "UnsupportedMediaType", f"the body is sent with Content-Encoding {encoding}: "
                                                   "send it uncompressed (pickles of calls compress poorly anyway)")
    if admitted.body_length > max_body:
        raise _signed(413, "PayloadTooLargeError",
                      f"the request body is over the server's limit of {max_body} bytes (--max-body): send "
                      "smaller arguments, or start the server with a larger --max-body")
    if content_length is not None and content_length != admitted.body_length:
        raise _signed(400, "BadRequest", f"Content-Length {content_length} differs from the signed "
                                         f"{_signing.BODY_LENGTH} {admitted.body_length}")
    ours = _signing.python_version()
    if admitted.python != ours:
        raise _signed(409, "VersionMismatchError",
                      f"this server runs Python {ours} and the client runs Python {admitted.python}: pickled "
                      f"functions only load on the same minor version; run the client on Python {ours}, or use "
                      f"a server on Python {admitted.python}")
    try:
        return parse_timeout(admitted.timeout_text)
    except ValueError:
        raise _signed(400, "BadRequest", f"{_signing.TIMEOUT} must be a positive number of seconds or empty, "
                                         f"not {admitted.timeout_text!r}") from None


def parse_timeout(text):
    """Seconds from the X-Webpickle-Timeout header ("" for none); ValueError when not a positive number."""
    if text == "":
        return None
    seconds = float(text)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(text)
    return seconds


async def read_body(content, admitted, idle_timeout):
    """The body of an admitted request, read from content (a StreamReader) and hashed as it
    arrives: never past its signed length, and refused unless it has the signed digest.
    Each read may wait idle_timeout seconds for bytes (a stalled upload is dropped)."""
    body = bytearray()
    digest = hashlib.sha256()
    while True:
        wanted = min(_CHUNK, admitted.body_length + 1 - len(body))
        chunk = content.read_nowait(wanted)  # what already arrived, without a timer
        if not chunk:
            if content.is_eof():
                break
            try:
                async with asyncio.timeout(idle_timeout):
                    chunk = await content.read(wanted)
            except TimeoutError:
                raise _signed(408, "RequestTimeout", f"no byte of the body arrived for {idle_timeout:g} s "
                                                     "(--idle-timeout): the upload was dropped") from None
            if not chunk:
                break
        body += chunk
        digest.update(chunk)
        if len(body) > admitted.body_length:
            raise _signed(400, "BadRequest", f"the body is longer than its signed {_signing.BODY_LENGTH} "
                                             f"{admitted.body_length}")
    if len(body) != admitted.body_length or digest.hexdigest() != admitted.body_sha256:
        raise _unsigned("the signature does not match the body: it is not the signed length and digest "
                        "(altered or cut short on the way?)")
    return body  # a bytearray: copying a large body to bytes would hold it twice
