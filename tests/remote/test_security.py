"""Requests the server must refuse without unpickling, and replies the client must refuse.

The request body of most tests unpickles into a file write (remote_support.WritesFile):
the file stays empty for every refused request, and gets its line for the one
correctly signed request (the positive control).
"""

import asyncio
import http.client
import json
import sys
import time

from aiohttp import web

import remote_support
import webpickle
from remote_support import (CALL_TIMEOUT_S, KEY, WritesFile, gadget_call, lines_in, post, run,
                            signed_headers)
from webpickle import _signing
from webpickle.remote import AuthenticationError, RemoteExecutor, VersionMismatchError

# The server cannot import these modules: what the calls use of them travels by value.
webpickle.register_pickle_by_value(sys.modules[__name__])
webpickle.register_pickle_by_value(remote_support)


def refused(server, body, headers, status, message):
    got_status, got_headers, got_body = post(server, body, headers)
    assert got_status == status, got_body
    error = json.loads(got_body)
    assert message in error["message"], error
    return got_headers


def test_signed_request_runs_and_its_unpickling_writes_the_file(server, tmp_path):
    # The positive control: the same gadget as below, correctly signed, is unpickled.
    target = tmp_path / "written"
    body = gadget_call(target)
    status, headers, reply = post(server, body, signed_headers(server, body))
    assert status == 200
    assert lines_in(target) == 1
    assert headers[_signing.RAISED] == "0"
    # The reply is str(None): the gadget's exec() returns None.
    assert webpickle.loads(reply) == "None"


def test_unsigned_wrong_key_tampered_stale_and_future_requests_are_never_unpickled(server, tmp_path):
    target = tmp_path / "never"
    body = gadget_call(target)
    refused(server, body, {}, 401, "the request is not signed")
    refused(server, body, signed_headers(server, body, key="another-key-of-sufficient-length"), 401,
            "the signature does not match")
    other = gadget_call(tmp_path / "other")
    refused(server, body, signed_headers(server, other), 401, "the signature does not match")  # body swapped
    tampered = bytearray(body)
    tampered[-10] ^= 1
    refused(server, bytes(tampered), signed_headers(server, body), 401, "the signature does not match")
    refused(server, body, signed_headers(server, body, now=time.time() - 3600), 401, "behind the server's clock")
    refused(server, body, signed_headers(server, body, now=time.time() + 3600), 401, "ahead of the server's clock")
    headers = signed_headers(server, body)
    headers[_signing.TIMEOUT] = "60"  # a signed header changed after signing
    refused(server, body, headers, 401, "the signature does not match")
    assert lines_in(target) == 0


def test_a_replayed_request_is_refused(server, tmp_path):
    target = tmp_path / "once"
    body = gadget_call(target)
    headers = signed_headers(server, body)
    assert post(server, body, headers)[0] == 200
    assert lines_in(target) == 1
    refused(server, body, headers, 401, "the request is a replay")
    assert lines_in(target) == 1  # not unpickled a second time


def test_wrong_python_version_is_409_naming_both_versions(server, tmp_path):
    target = tmp_path / "never"
    body = gadget_call(target)
    headers = signed_headers(server, body, python="3.13")
    reply_headers = refused(server, body, headers, 409, f"this server runs Python {_signing.python_version()} "
                                                         "and the client runs Python 3.13")
    assert lines_in(target) == 0
    # Answered after the key was proven: signed, and bound to the request's nonce.
    _, _, reply = post(server, body, signed_headers(server, body, python="3.13"))  # a fresh nonce, same answer
    assert _signing.response_is_authentic(_signing.key_bytes(KEY), 409, reply_headers, headers[_signing.NONCE],
                                          reply)


def test_oversize_body_is_413_by_content_length_before_reading(server):
    # The server answers from Content-Length alone: the promised body is never sent.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.putrequest("POST", "/call")
        for name, value in signed_headers(server, b"x", length=str(50 * 10**6)).items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(50 * 10**6))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert "over the server's limit of 1000000 bytes (--max-body)" in json.loads(response.read())["message"]
    finally:
        connection.close()


def test_oversize_chunked_body_is_413_while_reading(server, tmp_path):
    target = tmp_path / "never"
    body = gadget_call(target) + b"\0" * 2_000_000  # past 1MB; no Content-Length (chunked)
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
        connection.request("POST", "/call", body=chunks, headers=signed_headers(server, body), encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close while chunks are still being sent; see the log check below
    finally:
        connection.close()
    assert lines_in(target) == 0
    server.wait_for_event(lambda e: e.get("status") == 413 and e.get("bytes_in") == 0)


# -- replies the client must refuse ------------------------------------------------


class _Tamperer:
    """A man in the middle: forwards to the server, then alters (or swaps in an older) reply."""

    def __init__(self, upstream, mode):
        self.upstream, self.mode, self.previous = upstream, mode, None

    async def handle(self, request):
        import aiohttp

        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-webpickle")}
        async with aiohttp.ClientSession() as session:
            async with session.post(self.upstream + "call", data=body, headers=headers) as upstream:
                reply, reply_headers, status = await upstream.read(), dict(upstream.headers), upstream.status
        kept = {k: v for k, v in reply_headers.items() if k.lower().startswith("x-webpickle")}
        if self.mode == "flip-byte":
            reply = reply[:-2] + bytes([reply[-2] ^ 1]) + reply[-1:]
        elif self.mode == "unsigned":
            kept.pop(_signing.SIGNATURE)
        elif self.mode == "replay":
            # Answer with the reply of the previous request (a genuine, signed one).
            self.previous, (reply, kept) = (reply, kept), (self.previous or (reply, kept))
        return web.Response(status=status, body=reply, headers=kept)


async def _serve(routes):
    """A throwaway aiohttp server on a free loopback port; returns (its runner, its URL)."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/"


async def _through_tamperer(server, mode, calls):
    tamperer = _Tamperer(server.url, mode)
    health = {"status": "ok", "python_minor": _signing.python_version(), "server_id": server.server_id}

    async def answer_health(request):
        return web.json_response(health)

    runner, url = await _serve([web.post("/call", tamperer.handle), web.get("/health", answer_health)])
    try:
        # cache=False: each call travels whole through the tamperer's one route (/call).
        async with RemoteExecutor(url, KEY, cache=False) as executor:
            return [await asyncio.gather(executor.submit(fn), return_exceptions=True) for fn in calls]
    finally:
        await runner.cleanup()


def test_client_refuses_tampered_unsigned_and_replayed_replies_without_unpickling(server, tmp_path):
    for mode in ("flip-byte", "unsigned"):
        target = tmp_path / mode
        [[outcome]] = run(_through_tamperer(server, mode, [lambda t=str(target): WritesFile(t)]))
        assert isinstance(outcome, AuthenticationError), outcome
        assert "refused without unpickling it" in str(outcome)
        assert lines_in(target) == 0
    first, second = tmp_path / "first", tmp_path / "second"
    outcomes = run(_through_tamperer(server, "replay", [lambda t=str(first): WritesFile(t),
                                                        lambda t=str(second): WritesFile(t)]))
    assert outcomes[0] == [None]  # the first reply is genuine: unpickled, it wrote its file
    assert lines_in(first) == 1
    assert isinstance(outcomes[1][0], AuthenticationError)  # the first reply again, for the second request
    assert lines_in(first) == 1 and lines_in(second) == 0


def test_client_unpickles_a_genuine_reply(server, tmp_path):
    # The control for the test above: the same call, straight to the server.
    target = tmp_path / "genuine"

    async def call():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.submit(lambda t=str(target): WritesFile(t))

    assert run(call()) is None
    assert lines_in(target) == 1


def test_client_with_the_wrong_key_gets_authentication_error(server):
    async def call():
        async with RemoteExecutor(server.url, "not-the-servers-key-but-long") as executor:
            return await executor.submit(len, "abc")

    try:
        run(call())
    except AuthenticationError as exc:
        assert exc.status == 401 and "the signature does not match" in str(exc)
    else:
        raise AssertionError("a call signed with the wrong key ran")


def test_neither_the_key_nor_signatures_appear_in_the_log(server):
    headers = signed_headers(server, b"not a pickle")
    status, _, reply = post(server, b"not a pickle", headers)
    assert status == 200  # unpickling failed in the worker: the call's exception comes back
    exc, text, _ = webpickle.loads(reply)
    assert "UnpicklingError" in text
    post(server, b"x", {})  # and a refused one
    events = server.events()  # every line is JSON
    assert {"request"} <= {e["event"] for e in events}
    server.wait_for_event(lambda e: e.get("nonce") == headers[_signing.NONCE])
    log = server.log()
    assert KEY not in log and KEY[:12] not in log
    assert headers[_signing.SIGNATURE] not in log


def test_entering_the_executor_checks_the_servers_python_version(tmp_path):
    target = tmp_path / "never"

    async def main():
        health = {"status": "ok", "python": "3.13.9", "python_minor": "3.13", "webpickle": "0.1.0"}
        async def answer_health(request):
            return web.json_response(health)

        runner, url = await _serve([web.get("/health", answer_health)])
        try:
            async with RemoteExecutor(url, KEY) as executor:
                await executor.submit(lambda: WritesFile(str(target)))
        finally:
            await runner.cleanup()

    try:
        run(main())
    except VersionMismatchError as exc:
        assert f"runs Python 3.13 and this client runs Python {_signing.python_version()}" in str(exc)
    else:
        raise AssertionError("entered an executor for a server on another Python version")
    assert lines_in(target) == 0
