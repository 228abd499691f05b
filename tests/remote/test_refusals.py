"""What the server answers to each request it refuses, and in which order it checks them.

The README's order: missing headers, another server's id, the timestamp, a
malformed nonce, the signature, a replay (401, unsigned: the request did not
prove the key); then, answered signed: a Content-Encoding (415), a signed
length over --max-body (413), a Content-Length other than the signed length
(400), another Python minor version (409), a malformed timeout (400). Each
fault alone gets its own answer; a request with two faults gets the earlier
one's, so that nobody without the key learns anything a signed refusal says,
and a signature is checked before the version. No request here sends its body:
every one of them is refused from its headers.

Uses the conftest server (1MB --max-body, http://127.0.0.1:9999 allowed).
"""

import dataclasses
import http.client
import itertools
import json
import sys
import time

import pytest

import webpickle
from remote_support import CALL_TIMEOUT_S, KEY, gadget_call, lines_in, post, signed_headers
from webpickle import _signing

webpickle.register_pickle_by_value(sys.modules[__name__])
MAX_BODY = 1_000_000  # the conftest server's --max-body 1MB
WRONG_KEY = "another-key-of-sufficient-length"


@dataclasses.dataclass
class Request:
    """A POST /call's head: the fields signed (overrides of signed_headers), then what is
    changed after signing."""
    body: bytes
    signing: dict = dataclasses.field(default_factory=dict)
    dropped: str | None = None  # a header removed after signing
    extra: dict = dataclasses.field(default_factory=dict)  # headers that are not signed
    content_length_off_by: int = 0  # Content-Length minus the signed length
    replay: bool = False  # reuse the nonce of a request the server admitted before


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    apply: object  # Request -> None
    status: int
    message: str
    signed: bool  # whether the refusal is signed (the request proved the key first)


def _sign(**fields):
    return lambda request: request.signing.update(fields)


FAULTS = [  # in the order the server checks them
    Fault("no signature header", lambda r: setattr(r, "dropped", _signing.SIGNATURE), 401,
          f"the request is not signed (no {_signing.SIGNATURE})", False),
    Fault("another server's id", _sign(server_id="another-server-0123456789abcdef"), 401,
          "the request was signed for the server 'another-server-0123456789abcdef'", False),
    Fault("stale timestamp", _sign(now=time.time() - 3600), 401, "behind the server's clock", False),
    Fault("malformed nonce", _sign(nonce="short"), 401, f"{_signing.NONCE} must be 16 to 64 characters", False),
    Fault("wrong key", _sign(key=WRONG_KEY), 401, "the signature does not match", False),
    Fault("replayed nonce", lambda r: setattr(r, "replay", True), 401, "the request is a replay", False),
    Fault("Content-Encoding", lambda r: r.extra.update({"Content-Encoding": "gzip"}), 415,
          "the body is sent with Content-Encoding gzip", True),
    Fault("signed length over --max-body", _sign(length=str(2 * MAX_BODY)), 413,
          f"over the server's limit of {MAX_BODY} bytes (--max-body)", True),
    Fault("Content-Length other than the signed length", lambda r: setattr(r, "content_length_off_by", 1), 400,
          "differs from the signed X-Webpickle-Body-Length", True),
    Fault("another Python", _sign(python="3.13"), 409,
          f"this server runs Python {_signing.python_version()} and the client runs Python 3.13", True),
    Fault("malformed timeout", _sign(timeout="soon"), 400,
          f"{_signing.TIMEOUT} must be a positive number of seconds or empty, not 'soon'", True),
]
# Both set the nonce: a malformed one cannot have been admitted before.
_EXCLUSIVE = {frozenset({"malformed nonce", "replayed nonce"})}


def _admitted_nonce(server):
    """A nonce the server admitted (and so remembers): that of a signed request it refused
    for its Python version, after the signature held."""
    body = b"not sent"
    headers = signed_headers(server, body, python="3.13")
    status, _, _ = post(server, body, headers)
    assert status == 409
    return headers[_signing.NONCE]


def send_head(server, request):
    """Send the request's head (never its body); returns (status, headers, body, nonce signed)."""
    signing = dict(request.signing)
    key = signing.pop("key", KEY)
    if request.replay:
        signing["nonce"] = _admitted_nonce(server)
    headers = signed_headers(server, request.body, key=key, **signing)
    nonce = headers[_signing.NONCE]
    if request.dropped:
        del headers[request.dropped]
    headers.update(request.extra)
    length = int(headers[_signing.BODY_LENGTH]) + request.content_length_off_by
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.putrequest("POST", "/call")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, response.read(), nonce
    finally:
        connection.close()


def assert_answer(server, request, fault, what):
    status, headers, body, nonce = send_head(server, request)
    error = json.loads(body)
    assert (status, fault.message in error["message"]) == (fault.status, True), \
        f"{what}: expected {fault.status} for '{fault.name}', got {status} {error}"
    if fault.signed:
        assert _signing.response_is_authentic(_signing.key_bytes(KEY), status, headers, nonce, body), \
            f"{what}: the {status} reply to a request that proved the key must be signed"
    else:
        assert headers.get(_signing.SIGNATURE) is None and headers.get(_signing.TIMESTAMP) is None, \
            f"{what}: the {status} reply to a request that did not prove the key must not be signed"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_each_refusal_alone_gets_its_status_and_is_signed_only_after_the_key_is_proven(server, tmp_path, fault):
    target = tmp_path / "never"
    request = Request(gadget_call(target))
    fault.apply(request)
    assert_answer(server, request, fault, fault.name)
    assert lines_in(target) == 0


def test_with_two_faults_the_earlier_check_answers(server, tmp_path):
    target = tmp_path / "never"
    body = gadget_call(target)
    pairs = 0
    for earlier, later in itertools.combinations(FAULTS, 2):
        if frozenset({earlier.name, later.name}) in _EXCLUSIVE:
            continue
        request = Request(body)
        later.apply(request)
        earlier.apply(request)
        assert_answer(server, request, earlier, f"'{earlier.name}' with '{later.name}'")
        pairs += 1
    assert pairs == len(FAULTS) * (len(FAULTS) - 1) // 2 - len(_EXCLUSIVE)
    assert lines_in(target) == 0


def test_the_signature_is_checked_before_the_python_version(server, tmp_path):
    # The case in full: the version's refusal tells the server's Python, so only a
    # request that proved the key gets it; a wrong signature gets the signature's refusal.
    target = tmp_path / "never"
    request = Request(gadget_call(target), signing={"python": "3.13", "key": WRONG_KEY})
    status, headers, body, _ = send_head(server, request)
    assert status == 401 and "the signature does not match" in json.loads(body)["message"]
    assert _signing.python_version() not in body.decode()
    request = Request(gadget_call(target), signing={"python": "3.13"})
    status, headers, body, nonce = send_head(server, request)
    assert status == 409 and f"this server runs Python {_signing.python_version()}" in json.loads(body)["message"]
    assert _signing.response_is_authentic(_signing.key_bytes(KEY), status, headers, nonce, body)
    assert lines_in(target) == 0


def test_a_body_longer_than_its_signed_length_is_400_signed_and_never_unpickled(server, tmp_path):
    # Sent chunked (no Content-Length to compare): the server reads one byte past the signed
    # length and stops there.
    target = tmp_path / "never"
    body = gadget_call(target)
    signed_body = body[:-1]
    headers = signed_headers(server, signed_body)
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.request("POST", "/call", body=iter([body]), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        reply = response.read()
        assert response.status == 400, reply
        assert f"the body is longer than its signed {_signing.BODY_LENGTH} {len(signed_body)}" in \
            json.loads(reply)["message"]
        assert _signing.response_is_authentic(_signing.key_bytes(KEY), 400, response.headers,
                                              headers[_signing.NONCE], reply)
    finally:
        connection.close()
    assert lines_in(target) == 0


def test_a_body_other_than_the_signed_digest_is_401_unsigned_and_never_unpickled(server, tmp_path):
    # The headers proved the key, but the body is not the one they sign: refused as a
    # forgery (unsigned), after reading it and before anything unpickles it.
    target = tmp_path / "never"
    body = gadget_call(target)
    altered = body.replace(b"unpickled", b"UNPICKLED")
    assert altered != body and len(altered) == len(body)
    status, headers, reply = post(server, altered, signed_headers(server, body))
    assert status == 401 and "does not match the body" in json.loads(reply)["message"]
    assert _signing.SIGNATURE not in headers
    assert lines_in(target) == 0


def test_a_call_naming_a_malformed_function_digest_is_400_signed(server):
    body = webpickle.dumps(((), {}), protocol=5)
    path = "/call?function=not-a-digest"
    headers = signed_headers(server, body, path=path)
    status, reply_headers, reply = post(server, body, headers, path=path)
    assert status == 400, reply
    assert "?function= must be the 64 hex digits of a SHA-256, not 'not-a-digest'" in json.loads(reply)["message"]
    assert _signing.response_is_authentic(_signing.key_bytes(KEY), 400, reply_headers, headers[_signing.NONCE], reply)


def test_unsigned_or_forged_requests_over_max_body_get_401_not_413(server):
    # The size refusal is for holders of the key: without it, the first failed check answers.
    for headers in ({}, signed_headers(server, b"x" * 10, key=WRONG_KEY, length=str(2 * MAX_BODY))):
        connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
        try:
            connection.putrequest("POST", "/call")
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(2 * MAX_BODY))
            connection.endheaders()
            response = connection.getresponse()
            assert response.status == 401, response.read()
            assert response.headers.get(_signing.SIGNATURE) is None
        finally:
            connection.close()


def test_a_forbidden_origin_gets_an_unsigned_403_even_when_signed(server, tmp_path):
    target = tmp_path / "never"
    body = gadget_call(target)
    headers = signed_headers(server, body)
    status, reply_headers, reply = post(server, body, {"Origin": "http://evil.test", **headers})
    assert status == 403 and json.loads(reply)["error"] == "ForbiddenOrigin"
    assert _signing.SIGNATURE not in reply_headers and _signing.TIMESTAMP not in reply_headers
    assert lines_in(target) == 0
    # A browser's preflight from there: refused the same way.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.request("OPTIONS", "/call", headers={"Origin": "http://evil.test",
                                                        "Access-Control-Request-Method": "POST"})
        response = connection.getresponse()
        assert response.status == 403 and json.loads(response.read())["error"] == "ForbiddenOrigin"
        assert response.headers.get(_signing.SIGNATURE) is None
    finally:
        connection.close()
    # The origin was refused before the signature was looked at: the nonce is still fresh.
    status, _, _ = post(server, body, headers)
    assert status == 200 and lines_in(target) == 1
