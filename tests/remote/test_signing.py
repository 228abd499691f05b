"""The signing scheme (webpickle._signing) and the server's request checks, without a server.

The known-answer vectors are shared with js/test/remote.test.mjs: both
implementations must give these exact signatures.
"""

import hashlib
import hmac
import time

import pytest

from webpickle import _signing
from webpickle.server import auth
from webpickle.server.limits import format_size, parse_size

VECTOR_KEY = b"webpickle-known-answer-key-0001"
VECTOR_NONCE = "0123456789abcdef0123456789abcdef"
VECTOR_SERVER = "server-id-0123456789"
REQUEST_VECTOR = ("POST", "/call", VECTOR_SERVER, "1700000000", VECTOR_NONCE, "3.14", "2.5", b"\x80\x05N.",
                  "137209935d79799ed852d9e5213da8a178be50c8aac22eaef1c7e3934daafc89")
RESPONSE_VECTORS = [
    (200, "1700000001", "0", b"\x80\x05K\x07.", "9837ba97bcf7e2fd04bc77352114ce002c5da933d8ae8bfd72e2902383f73a8d"),
    (409, "1700000001", "", b"{}", "d38a005589379483fbeefc621929cc83f6f33c955e39adedcdecd1cdcb3b020b"),
]


def test_request_vector_matches_the_documented_canonical_text():
    method, path, server, timestamp, nonce, python, timeout, body, expected = REQUEST_VECTOR
    digest = hashlib.sha256(body).hexdigest()
    assert _signing.request_signature(VECTOR_KEY, method, path, server, timestamp, nonce, python, timeout,
                                      str(len(body)), digest) == expected
    text = "\n".join(["webpickle-request-v2", method, path, server, timestamp, nonce, python, timeout,
                      str(len(body)), digest])
    assert hmac.new(VECTOR_KEY, text.encode(), hashlib.sha256).hexdigest() == expected
    headers = _signing.sign_request(VECTOR_KEY, method, path, server, body, 2.5, now=1700000000.9, nonce=nonce)
    assert headers == {_signing.SERVER: server, _signing.TIMESTAMP: timestamp, _signing.NONCE: nonce,
                       _signing.PYTHON: python, _signing.TIMEOUT: timeout,
                       _signing.BODY_LENGTH: "4", _signing.BODY_SHA256: digest, _signing.SIGNATURE: expected}


@pytest.mark.parametrize("status, timestamp, raised, body, expected", RESPONSE_VECTORS)
def test_response_vectors(status, timestamp, raised, body, expected):
    assert _signing.response_signature(VECTOR_KEY, status, timestamp, VECTOR_NONCE, raised, body) == expected
    headers = {_signing.TIMESTAMP: timestamp, _signing.RAISED: raised, _signing.SIGNATURE: expected}
    assert _signing.response_is_authentic(VECTOR_KEY, status, headers, VECTOR_NONCE, body)
    # Lowercase names, as fetch() gives them, are accepted too.
    assert _signing.response_is_authentic(VECTOR_KEY, status, {k.lower(): v for k, v in headers.items()},
                                          VECTOR_NONCE, body)


def test_a_response_is_bound_to_its_request_status_outcome_and_body():
    status, timestamp, raised, body, signature = RESPONSE_VECTORS[0]
    headers = {_signing.TIMESTAMP: timestamp, _signing.RAISED: raised, _signing.SIGNATURE: signature}
    assert not _signing.response_is_authentic(VECTOR_KEY, status, headers, "another-nonce-0123456789", body)
    assert not _signing.response_is_authentic(VECTOR_KEY, 500, headers, VECTOR_NONCE, body)
    assert not _signing.response_is_authentic(VECTOR_KEY, status, {**headers, _signing.RAISED: "1"},
                                              VECTOR_NONCE, body)
    assert not _signing.response_is_authentic(VECTOR_KEY, status, headers, VECTOR_NONCE, body + b" ")
    assert not _signing.response_is_authentic(b"another-key-of-enough-bytes", status, headers, VECTOR_NONCE, body)
    assert not _signing.response_is_authentic(VECTOR_KEY, status, {_signing.TIMESTAMP: timestamp},
                                              VECTOR_NONCE, body)


def test_a_request_signature_never_passes_as_a_response_signature():
    method, path, server, timestamp, nonce, python, timeout, body, signature = REQUEST_VECTOR
    headers = {_signing.TIMESTAMP: timestamp, _signing.RAISED: "", _signing.SIGNATURE: signature}
    assert not _signing.response_is_authentic(VECTOR_KEY, 200, headers, nonce, body)


def test_keys_and_nonces():
    assert _signing.key_bytes("x" * 16) == b"x" * 16
    assert _signing.key_bytes(bytearray(b"y" * 20)) == b"y" * 20
    with pytest.raises(ValueError, match="the key has 5 bytes; use at least 16"):
        _signing.key_bytes("short")
    with pytest.raises(TypeError, match="must be str or bytes, not int"):
        _signing.key_bytes(12345678901234567890)
    nonces = {_signing.new_nonce() for _ in range(100)}
    assert len(nonces) == 100 and all(_signing.nonce_is_well_formed(n) for n in nonces)
    for bad in ("short", "x" * 65, "has space in it 0123", "semi;colon;0123456789", None):
        assert not _signing.nonce_is_well_formed(bad)
    assert not _signing.signatures_match(REQUEST_VECTOR[-1], REQUEST_VECTOR[-1].upper())


KEY = _signing.key_bytes("k" * 32)
SERVER_ID = "this-server-0123456789"


def _headers(body=b"body", **fields):
    headers = _signing.sign_request(KEY, "POST", "/call", SERVER_ID, body, 1.5, now=fields.pop("now", None))
    for name, value in fields.items():
        headers[getattr(_signing, name.upper())] = value
    return headers


def _check(headers, nonces=None, now=None):
    return auth.check_headers(headers, key=KEY, method="POST", path="/call", server_id=SERVER_ID,
                              nonces=auth.NonceLog() if nonces is None else nonces, now=now)


def test_sign_request_headers_verify_from_the_headers_alone():
    headers = _headers()
    assert headers[_signing.PYTHON] == _signing.python_version()
    assert headers[_signing.TIMEOUT] == "1.5" and headers[_signing.BODY_LENGTH] == "4"
    assert abs(int(headers[_signing.TIMESTAMP]) - time.time()) < 5
    admitted = _check(headers)
    assert (admitted.nonce, admitted.body_length, admitted.body_sha256) == (
        headers[_signing.NONCE], 4, hashlib.sha256(b"body").hexdigest())


def test_check_headers_refuses_missing_stale_future_malformed_other_servers_and_replays():
    now = 1_800_000_000
    nonces = auth.NonceLog()
    good = _headers(now=now)
    cases = [
        ({k: v for k, v in good.items() if k != _signing.BODY_SHA256}, "not signed .no X-Webpickle-Body-SHA256"),
        (_headers(now=now - 61), "61 s behind the server's clock"),
        (_headers(now=now + 120), "120 s ahead of the server's clock"),
        ({**good, _signing.TIMESTAMP: "soon"}, "whole seconds"),
        ({**good, _signing.SERVER: "another-server-0123456789"}, "signed for the server 'another-server"),
        ({**good, _signing.BODY_LENGTH: "-4"}, "length in digits"),
        ({**good, _signing.BODY_LENGTH: "5"}, "the signature does not match"),
        ({**good, _signing.BODY_SHA256: "0" * 64}, "the signature does not match"),
    ]
    # The timestamp is signed as sent: another spelling of the same number fails.
    cases += [({**good, _signing.TIMESTAMP: spelling}, "whole seconds since the Unix epoch, in digits")
              for spelling in ("+" + str(now), "0000" + str(now), str(now) + " ", str(now) + ".0")]
    for headers, message in cases:
        with pytest.raises(auth.Refused, match=message) as refused:
            _check(headers, nonces, now=now)
        assert (refused.value.status, refused.value.signed) == (401, False)
    assert len(nonces) == 0  # no refused request filled the log
    _check(good, nonces, now=now)
    with pytest.raises(auth.Refused, match="already used: the request is a replay"):
        _check(good, nonces, now=now)


def test_signed_refusals_after_the_headers_proved_the_key():
    admitted = _check(_headers())
    assert auth.check_admitted(admitted, {}, 4, 1000) == 1.5
    assert auth.check_admitted(admitted, {"Content-Encoding": "identity"}, None, 1000) == 1.5
    cases = [({"Content-Encoding": "gzip"}, 4, 1000, 415, "Content-Encoding gzip"),
             ({}, 4, 3, 413, "over the server's limit of 3 bytes"),
             ({}, 9, 1000, 400, "Content-Length 9 differs from the signed X-Webpickle-Body-Length 4")]
    for headers, content_length, limit, status, message in cases:
        with pytest.raises(auth.Refused, match=message) as refused:
            auth.check_admitted(admitted, headers, content_length, limit)
        assert (refused.value.status, refused.value.signed) == (status, True)


class _Stream:
    """A StreamReader over fixed chunks: odd ones already arrived (read_nowait), even ones not yet."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)
        self.arrived = False

    def is_eof(self):
        return not self.chunks

    def read_nowait(self, n):
        self.arrived = not self.arrived
        return self.chunks.pop(0)[:n] if self.chunks and self.arrived else b""

    async def read(self, n):
        return self.chunks.pop(0)[:n] if self.chunks else b""


def test_the_body_is_read_only_to_its_signed_length_and_digest():
    import asyncio

    admitted = _check(_headers(b"body"))
    assert asyncio.run(auth.read_body(_Stream(b"bo", b"dy"), admitted, 5)) == b"body"
    for chunks, status, message in [((b"bodx",), 401, "does not match the body"),
                                    ((b"bod",), 401, "does not match the body"),
                                    ((b"body", b"more"), 400, "longer than its signed")]:
        with pytest.raises(auth.Refused, match=message) as refused:
            asyncio.run(auth.read_body(_Stream(*chunks), admitted, 5))
        assert refused.value.status == status


def test_nonce_log_forgets_nonces_once_their_timestamp_is_out_of_the_window():
    nonces = auth.NonceLog()
    nonces.add("old-nonce-0123456789", time.time() - 2 * _signing.WINDOW_S)
    nonces.add("new-nonce-0123456789", time.time())
    assert "old-nonce-0123456789" not in nonces
    assert "new-nonce-0123456789" in nonces
    assert len(nonces) == 1


def test_sizes():
    assert parse_size("1GB") == 10**9
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("128MB") == 128 * 10**6
    assert parse_size("1.5kB") == 1500
    assert parse_size("none") is None
    assert format_size(10**9) == "1GB" and format_size(512 * 2**20) == "512MiB" and format_size(1234) == "1234B"
    with pytest.raises(ValueError, match="not a size: write a number and a unit"):
        parse_size("lots")


def test_load_key_refuses_files_others_may_read_or_write(tmp_path):
    path = tmp_path / "key"
    path.write_text("  " + "z" * 20 + "\n")
    path.chmod(0o600)
    assert auth.load_key(path) == b"z" * 20
    for mode in (0o640, 0o620, 0o604, 0o602):
        path.chmod(mode)
        with pytest.raises(ValueError, match=f"may be read or written by other users .mode 0{mode:o}.: "
                                             f"run chmod 600 {path}"):
            auth.load_key(path)
        assert auth.load_key(path, allow_shared=True) == b"z" * 20
    path.chmod(0o600)
    path.write_text("tiny")
    with pytest.raises(ValueError, match="the key has 4 bytes"):
        auth.load_key(path)
    with pytest.raises(ValueError, match="cannot read the key file"):
        auth.load_key(tmp_path / "missing")
