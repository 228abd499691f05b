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
REQUEST_VECTOR = ("POST", "/call", "1700000000", VECTOR_NONCE, "3.14", "2.5", b"\x80\x05N.",
                  "f38f976efd51bc00d9e3a9d97f9bd4035077d48b13328a27ed29737cf8d968cd")
RESPONSE_VECTORS = [
    (200, "1700000001", "0", b"\x80\x05K\x07.", "9837ba97bcf7e2fd04bc77352114ce002c5da933d8ae8bfd72e2902383f73a8d"),
    (409, "1700000001", "", b"{}", "d38a005589379483fbeefc621929cc83f6f33c955e39adedcdecd1cdcb3b020b"),
]


def test_request_vector_matches_the_documented_canonical_text():
    method, path, timestamp, nonce, python, timeout, body, expected = REQUEST_VECTOR
    assert _signing.request_signature(VECTOR_KEY, method, path, timestamp, nonce, python, timeout, body) == expected
    text = "\n".join(["webpickle-request-v1", method, path, timestamp, nonce, python, timeout,
                      hashlib.sha256(body).hexdigest()])
    assert hmac.new(VECTOR_KEY, text.encode(), hashlib.sha256).hexdigest() == expected


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
    method, path, timestamp, nonce, python, timeout, body, signature = REQUEST_VECTOR
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


def test_sign_request_headers_verify():
    key = _signing.key_bytes("k" * 32)
    headers = _signing.sign_request(key, "POST", "/call", b"body", 1.5)
    assert headers[_signing.PYTHON] == _signing.python_version()
    assert headers[_signing.TIMEOUT] == "1.5"
    expected = _signing.request_signature(key, "POST", "/call", headers[_signing.TIMESTAMP], headers[_signing.NONCE],
                                          headers[_signing.PYTHON], "1.5", b"body")
    assert headers[_signing.SIGNATURE] == expected
    assert abs(int(headers[_signing.TIMESTAMP]) - time.time()) < 5


def test_check_headers_refuses_missing_stale_future_malformed_and_replayed():
    nonces = auth.NonceLog()
    now = 1_800_000_000
    good = {_signing.TIMESTAMP: str(now), _signing.NONCE: "a" * 32, _signing.PYTHON: "3.14",
            _signing.SIGNATURE: "0" * 64}
    assert auth.check_headers(good, nonces, now=now)[1] == "a" * 32
    cases = [
        ({k: v for k, v in good.items() if k != _signing.SIGNATURE}, "not signed .no X-Webpickle-Signature"),
        ({**good, _signing.TIMESTAMP: str(now - 61)}, "61 s behind the server's clock"),
        ({**good, _signing.TIMESTAMP: str(now + 120)}, "120 s ahead of the server's clock"),
        ({**good, _signing.TIMESTAMP: "soon"}, "whole seconds"),
        ({**good, _signing.NONCE: "short"}, "16 to 64 characters"),
    ]
    for headers, message in cases:
        with pytest.raises(auth.Refused, match=message) as refused:
            auth.check_headers(headers, nonces, now=now)
        assert (refused.value.status, refused.value.signed) == (401, False)
    nonces.add("a" * 32, now)
    with pytest.raises(auth.Refused, match="already used: the request is a replay"):
        auth.check_headers(good, nonces, now=now)


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


def test_load_key(tmp_path):
    path = tmp_path / "key"
    path.write_text("  " + "z" * 20 + "\n")
    path.chmod(0o600)
    assert auth.load_key(path) == (b"z" * 20, False)
    path.chmod(0o644)
    assert auth.load_key(path)[1] is True
    path.write_text("tiny")
    with pytest.raises(ValueError, match="the key has 4 bytes"):
        auth.load_key(path)
    with pytest.raises(ValueError, match="cannot read the key file"):
        auth.load_key(tmp_path / "missing")
