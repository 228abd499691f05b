"""The signing scheme of webpickle's remote calls, shared by the server and its clients.

Stdlib only (hmac, hashlib, secrets), so that it imports in Pyodide as well as
in CPython; js/remote_protocol.mjs and js/remote.mjs implement the same scheme with WebCrypto;
both are held to the known-answer vectors in tests/remote.

A request carries eight headers, all of them signed::

    X-Webpickle-Server      the id of the server it is meant for, from GET /health (new at each start)
    X-Webpickle-Timestamp   integer seconds since the Unix epoch, in digits (no sign, no leading zero)
    X-Webpickle-Nonce       16 to 64 characters of [A-Za-z0-9_-], unique per request
    X-Webpickle-Python      the client's Python minor version, e.g. "3.14"
    X-Webpickle-Timeout     seconds the call may run ("" for no limit)
    X-Webpickle-Body-Length the body's length in bytes, in digits
    X-Webpickle-Body-SHA256 the body's SHA-256 in lowercase hex
    X-Webpickle-Signature   lowercase hex HMAC-SHA256 of the request's canonical text

and the canonical text is these lines, joined by "\\n", each header's value as sent::

    webpickle-request-v2, METHOD, path?query, server id, timestamp, nonce, python, timeout,
    body length, body sha256

The headers alone prove the key: the server checks them before it reads a byte
of the body, then hashes the body as it arrives and refuses it unless it has
the signed length and digest. The server id makes a request run at most once
anywhere: a server remembers nonces only while it runs and only within the
time window, but a request signed for one server's id is refused by every
other server and by the same server after a restart (a new id).

A response to an authenticated request carries X-Webpickle-Timestamp,
X-Webpickle-Raised ("0": the body pickles the call's result, "1": it pickles
(exception, traceback text, frames), "" on error responses, whose body is JSON) and
X-Webpickle-Signature over::

    webpickle-response-v1, status, timestamp, the REQUEST's nonce, raised, sha256(body) in hex

so a response answers exactly one request: replayed onto another request (with
another nonce), its signature no longer holds. The first line of each text
keeps a request's signature from ever passing as a response's and back.
"""

import hashlib
import hmac
import re
import secrets
import sys
import time

SERVER = "X-Webpickle-Server"
TIMESTAMP = "X-Webpickle-Timestamp"
NONCE = "X-Webpickle-Nonce"
PYTHON = "X-Webpickle-Python"
TIMEOUT = "X-Webpickle-Timeout"
BODY_LENGTH = "X-Webpickle-Body-Length"
BODY_SHA256 = "X-Webpickle-Body-SHA256"
SIGNATURE = "X-Webpickle-Signature"
RAISED = "X-Webpickle-Raised"
REQUEST_HEADERS = (SERVER, TIMESTAMP, NONCE, PYTHON, TIMEOUT, BODY_LENGTH, BODY_SHA256, SIGNATURE)
RESPONSE_HEADERS = (TIMESTAMP, RAISED, SIGNATURE)

# Seconds a request's timestamp may differ from the server's clock, either way.
WINDOW_S = 60
MIN_KEY_BYTES = 16
_NONCE_FORMAT = re.compile(r"[A-Za-z0-9_-]{16,64}")  # server ids have the same form
# Digits only, no sign and no leading zero: one spelling per number, so the text signed is the number meant.
DECIMAL_FORMAT = re.compile(r"0|[1-9][0-9]{0,17}")
_DIGEST_FORMAT = re.compile(r"[0-9a-f]{64}")
_SIGNATURE_FORMAT = re.compile(r"[0-9a-f]{64}")


def python_version():
    """This interpreter's minor version as the X-Webpickle-Python header spells it: "3.14"."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def key_bytes(key):
    """The HMAC key from a str (its UTF-8 bytes) or bytes; refuses keys too short to be secret."""
    if isinstance(key, str):
        key = key.encode()
    elif isinstance(key, (bytearray, memoryview)):
        key = bytes(key)
    elif not isinstance(key, bytes):
        raise TypeError(f"the key must be str or bytes, not {type(key).__name__}")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the key has {len(key)} bytes; use at least {MIN_KEY_BYTES}, e.g. the output of "
                         "python -c 'import secrets; print(secrets.token_hex(32))'")
    return key


def new_nonce():
    return secrets.token_hex(16)


def new_server_id():
    """A server's id for one run: random, so that no other server and no later run shares it."""
    return secrets.token_urlsafe(18)


def nonce_is_well_formed(nonce):
    return isinstance(nonce, str) and _NONCE_FORMAT.fullmatch(nonce) is not None


server_id_is_well_formed = nonce_is_well_formed


def decimal_is_well_formed(text):
    return isinstance(text, str) and DECIMAL_FORMAT.fullmatch(text) is not None


def digest_is_well_formed(text):
    return isinstance(text, str) and _DIGEST_FORMAT.fullmatch(text) is not None


def _mac(key, lines):
    return hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def request_signature(key, method, path, server, timestamp, nonce, python, timeout, body_length, body_sha256):
    """The signature of a request's canonical text; every field is the header's text as sent."""
    return _mac(key, ("webpickle-request-v2", method.upper(), path, server, timestamp, nonce, python, timeout,
                      body_length, body_sha256))


def response_signature(key, status, timestamp, request_nonce, raised, body):
    return _mac(key, ("webpickle-response-v1", str(status), str(timestamp), request_nonce, raised,
                      hashlib.sha256(body).hexdigest()))


def signatures_match(expected, given):
    """Constant-time comparison; a malformed or missing signature never matches."""
    return (isinstance(given, str) and _SIGNATURE_FORMAT.fullmatch(given) is not None
            and hmac.compare_digest(expected, given))


def timeout_header(timeout):
    """The X-Webpickle-Timeout value for timeout seconds (None: no limit)."""
    return "" if timeout is None else repr(float(timeout))


def sign_request(key, method, path, server, body, timeout=None, *, now=None, nonce=None):
    """The headers (a dict) that authenticate a request to the server whose id is server
    (from its /health); key as returned by key_bytes()."""
    fields = {SERVER: server, TIMESTAMP: str(int(time.time() if now is None else now)),
              NONCE: nonce or new_nonce(), PYTHON: python_version(), TIMEOUT: timeout_header(timeout),
              BODY_LENGTH: str(len(body)), BODY_SHA256: hashlib.sha256(body).hexdigest()}
    fields[SIGNATURE] = request_signature(key, method, path, *(fields[name] for name in REQUEST_HEADERS[:-1]))
    return fields


def sign_response(key, status, request_nonce, raised, body, *, now=None):
    """The headers that sign a response; raised: "0", "1", or "" for an error response."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP: timestamp, RAISED: raised,
            SIGNATURE: response_signature(key, status, timestamp, request_nonce, raised, body)}


def response_is_authentic(key, status, headers, request_nonce, body):
    """Whether headers (a case-insensitive or lowercase-keyed mapping) sign this response to our request."""
    timestamp = _header(headers, TIMESTAMP)
    if timestamp is None:
        return False
    expected = response_signature(key, status, timestamp, request_nonce, _header(headers, RAISED) or "", body)
    return signatures_match(expected, _header(headers, SIGNATURE))


def _header(headers, name):
    value = headers.get(name)
    return headers.get(name.lower()) if value is None else value
