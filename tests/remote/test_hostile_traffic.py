"""Traffic from someone without the key, or replaying what they captured: the server must
buffer nothing for them, drop what idles, keep serving holders of the key, and never run
a request twice, on itself after a restart or on another server sharing the key.

Loopback only, a bounded number of sockets, every wait bounded (no fixed sleeps).
"""

import asyncio
import concurrent.futures
import gzip
import json
import os
import socket
import sys
import time

import pytest

import webpickle
from remote_support import (KEY, Server, gadget_call, health, lines_in, post, run, signed_headers)
from webpickle import _signing
from webpickle.remote import RemoteExecutor

webpickle.register_pickle_by_value(sys.modules[__name__])
MB = 10**6


def connect(server):
    return socket.create_connection((server.host, server.port), timeout=60)


def head(headers, length=None, method="POST", path="/call"):
    """The bytes of a request's head."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def push(sock, limit):
    """Send zeros without blocking until limit bytes, the peer stops reading, or closes."""
    sock.setblocking(False)
    sent, block = 0, b"\0" * 65536
    try:
        while sent < limit:
            sent += sock.send(block)
    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.setblocking(True)
    return sent


def status_line(sock):
    """The first line the server answers on sock."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.partition(b"\r\n")[0].decode()


def wait_until(predicate, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.02)
    return found


def closed_by_server(sock, timeout):
    """Whether the server closes sock (end of file) within timeout seconds."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


def slow_square(x, seconds):
    time.sleep(seconds)
    return x * x


@pytest.fixture(scope="module")
def guarded(key_file, log_dir):
    """A server with few connections and a short idle timeout, so that both are reached quickly."""
    running = Server(key_file, "--processes", "1", "--max-connections", "40", "--idle-timeout", "2",
                     log_dir=log_dir)
    yield running
    running.stop()


def test_stalled_unsigned_uploads_cost_the_server_no_body_memory(guarded):
    # Half without signature headers, half with forged ones: neither proves the key.
    forged = signed_headers(guarded, b"x" * 100 * MB, key="not-the-key-but-long-enough")
    before = guarded.memory()
    sockets = []
    try:
        for i in range(30):
            sock = connect(guarded)
            sock.sendall(head(forged if i % 2 else {}, length=100 * MB))
            push(sock, 4 * MB)  # then stall, the connection left open
            sockets.append(sock)
        peak = guarded.memory()
        answers = [status_line(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()  # the uploads are aborted
    assert all(answer.startswith("HTTP/1.1 401") for answer in answers), answers
    # 30 x 4 MB were offered; the server read headers only (kernel buffers are not its memory).
    assert peak - before < 25 * MB, (before, peak)
    # The aborted uploads are not errors in the log (a request after them is logged, so they were handled).
    assert health(guarded)["status"] == "ok"
    guarded.wait_for_event(lambda e: e.get("path") == "/health" and e.get("status") == 200)
    log = guarded.log()
    assert '"level": "ERROR"' not in log and "Traceback" not in log


def test_an_aborted_signed_upload_is_dropped_quietly(guarded):
    body = b"\0" * 4 * MB
    with connect(guarded) as sock:
        sock.sendall(head(signed_headers(guarded, body), length=len(body)))
        sock.sendall(body[:MB])  # then the client goes away mid-body
    assert health(guarded)["status"] == "ok"
    guarded.wait_for_event(lambda e: e.get("path") == "/health" and e.get("status") == 200)
    log = guarded.log()
    assert '"level": "ERROR"' not in log and "Traceback" not in log


def test_a_signed_gzip_bomb_is_refused_before_it_is_read(guarded):
    bomb = gzip.compress(b"\0" * 200 * MB)
    headers = signed_headers(guarded, bomb)
    headers["Content-Encoding"] = "gzip"
    before = guarded.memory()
    status, _, body = post(guarded, bomb, headers)
    assert status == 415 and "send it uncompressed" in json.loads(body)["message"]
    assert guarded.memory() - before < 25 * MB


def test_expect_100_continue_is_answered_only_after_the_headers_prove_the_key(guarded, tmp_path):
    body = gadget_call(tmp_path / "ran")
    with connect(guarded) as sock:
        sock.sendall(head({"Expect": "100-continue"}, length=len(body)))
        assert status_line(sock).startswith("HTTP/1.1 401")
    with connect(guarded) as sock, sock.makefile("rb") as answers:
        sock.sendall(head({**signed_headers(guarded, body), "Expect": "100-continue"}, length=len(body)))
        assert answers.readline() == b"HTTP/1.1 100 Continue\r\n" and answers.readline() == b"\r\n"
        sock.sendall(body)
        assert answers.readline().startswith(b"HTTP/1.1 200")
    assert lines_in(tmp_path / "ran") == 1


@pytest.mark.parametrize("spelling", ["+{}", "0000{}", "{}.0", " {}"])
def test_the_timestamp_is_signed_as_sent_and_only_digits_pass(guarded, tmp_path, spelling):
    body = gadget_call(tmp_path / "never")
    text = spelling.format(int(time.time()))
    status, _, reply = post(guarded, body, signed_headers(guarded, body, timestamp=text))
    # http.client strips the leading space of a header's value; what reaches the server is refused anyway
    assert status == 401, reply
    assert lines_in(tmp_path / "never") == 0


def test_idle_connections_are_dropped_and_a_signed_call_is_still_served(guarded):
    sockets = []
    try:
        # More idle connections than --max-connections 40: connected, or with half a request head.
        for i in range(60):
            sock = connect(guarded)
            if i % 2:
                sock.sendall(b"POST /call HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Webpickle-Nonce: ")
            sockets.append(sock)

        async def call():
            async with RemoteExecutor(guarded.url, KEY) as executor:
                # It runs past --idle-timeout 2: a running call is never cut.
                return await executor.submit(slow_square, 7, 3)

        assert run(call()) == 49
        assert health(guarded)["status"] == "ok"
        # Those not replaced by newer connections go after --idle-timeout.
        assert all(closed_by_server(sock, 30) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def wait_for_gate(path):
    open(path + ".started", "a").write("x")
    while not os.path.exists(path):
        time.sleep(0.02)
    return "done"


def test_when_every_connection_is_busy_a_new_one_is_closed_and_the_calls_go_on(key_file, log_dir, tmp_path):
    server = Server(key_file, "--processes", "2", "--max-connections", "2", log_dir=log_dir)
    gate = str(tmp_path / "gate")
    try:
        async def main():
            async with RemoteExecutor(server.url, KEY, concurrency=2) as executor:
                calls = [executor.submit(wait_for_gate, gate) for _ in range(2)]
                await asyncio.to_thread(wait_until, lambda: os.path.exists(gate + ".started")
                                        and len(open(gate + ".started").read()) == 2, 60, "both calls running")
                # Both connections are busy with running calls: a third is closed unanswered.
                with connect(server) as sock:
                    sock.sendall(head({}, method="GET", path="/health"))
                    assert await asyncio.to_thread(closed_by_server, sock, 30)
                open(gate, "w").close()
                return await asyncio.gather(*calls)

        assert run(main()) == ["done", "done"]
        assert health(server)["status"] == "ok"
    finally:
        server.stop()


def test_a_request_runs_once_across_restarts_and_servers(key_file, log_dir, tmp_path):
    target = tmp_path / "ran"
    body = gadget_call(target)
    first = Server(key_file, "--processes", "1", log_dir=log_dir)
    second = Server(key_file, "--processes", "1", log_dir=log_dir)
    try:
        captured = signed_headers(first, body)
        assert post(first, body, captured)[0] == 200
        assert lines_in(target) == 1
        for elsewhere in (second, first):
            status, _, reply = post(elsewhere, body, captured)
            assert status == 401 and json.loads(reply)["error"] in ("ServerMismatchError", "AuthenticationError")
        port = first.port
        first.stop()
        first = Server(key_file, "--processes", "1", log_dir=log_dir, port=port)  # restarted, same address
        status, _, reply = post(first, body, captured)
        assert status == 401 and json.loads(reply)["error"] == "ServerMismatchError", reply
        assert "before a restart" in json.loads(reply)["message"]
        assert lines_in(target) == 1
    finally:
        first.stop()
        second.stop()


def test_a_client_signs_again_for_a_restarted_server(key_file, log_dir):
    server = Server(key_file, "--processes", "1", log_dir=log_dir)
    try:
        async def main():
            nonlocal server
            async with RemoteExecutor(server.url, KEY) as executor:
                assert await executor.submit(abs, -1) == 1
                old_id = server.server_id
                port = server.port
                await asyncio.to_thread(server.stop)
                server = await asyncio.to_thread(Server, key_file, "--processes", "1", log_dir=log_dir, port=port)
                assert server.server_id != old_id
                return await executor.submit(abs, -2)

        assert run(main()) == 2
        assert any(e.get("error") == "ServerMismatchError" for e in server.events())
    finally:
        server.stop()


def die_when(path):
    open(path + ".started", "w").close()
    while not os.path.exists(path):
        time.sleep(0.02)
    os._exit(1)


def test_running_out_of_descriptors_refuses_connections_and_the_pool_keeps_its_size(key_file, log_dir, tmp_path):
    # A descriptor limit far below the connections allowed: connections use them all up.
    server = Server(key_file, "--processes", "2", "--max-connections", "1000", "--idle-timeout", "600",
                    log_dir=log_dir, descriptors=96)
    gate = str(tmp_path / "gate")
    sockets = []

    async def call(fn, *args):
        async with RemoteExecutor(server.url, KEY) as executor:
            return (await asyncio.gather(executor.submit(fn, *args), return_exceptions=True))[0]

    try:
        assert any("more than the descriptor limit allows" in e.get("message", "") for e in server.events())
        before = server.child_pids()
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            doomed = thread.submit(run, call(die_when, gate))
            wait_until(lambda: os.path.exists(gate + ".started"), what="the call's start")
            for _ in range(120):
                sockets.append(connect(server))  # past what the server can accept: the rest wait in its backlog
            wait_until(lambda: server.descriptors() >= 94, what="the server running out of descriptors")
            open(gate, "w").close()  # the call's worker dies; its replacement needs descriptors
            server.wait_for_event(lambda e: e.get("event") == "worker_start_failed", timeout=60)
            server.wait_for_event(lambda e: e.get("event") == "descriptors_exhausted", timeout=60)
            for sock in sockets:
                sock.close()
            sockets.clear()
            outcome = doomed.result(timeout=120)
        assert "exited with status 1" in str(outcome), outcome
        server.wait_for_event(lambda e: e.get("event") == "worker_started", timeout=60)
        after = wait_until(lambda: len(server.child_pids()) == 2 and server.child_pids(), what="a full pool")
        assert len(set(after) & set(before)) == 1
        assert wait_until(lambda: health(server)["status"] == "ok", what="health ok")
        assert run(call(abs, -3)) == 3
        exhausted_lines = [e for e in server.events() if e.get("event") == "descriptors_exhausted"]
        assert 1 <= len(exhausted_lines) <= 3  # once a minute, not once per attempt
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
