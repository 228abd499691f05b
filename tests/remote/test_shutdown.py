"""Stopping the server: SIGTERM lets running calls finish for --shutdown-timeout seconds, then
ends them; a request handled once the server is stopping is answered 503 and runs nothing."""

import asyncio
import json
import pickle
import signal
import socket
import sys
import time

from aiohttp.test_utils import TestClient, TestServer

import webpickle
from gates import held_call
from remote_support import KEY, Server, gadget_call, lines_in, run, signed_headers, wait_until_async
from webpickle import _signing
from webpickle.remote import RemoteError, RemoteExecutor
from webpickle.server import app

webpickle.register_pickle_by_value(sys.modules[__name__])


SHUTDOWN_TIMEOUT_S = 2
# Well past SHUTDOWN_TIMEOUT_S and a stop's own work, well below the default 60 s and the
# held call's own CALL_TIMEOUT_S: a stop that ignores the option fails within this.
STOP_LIMIT_S = 40


def closed_at(sock, timeout):
    """When the server closed sock (end of file), waiting at most timeout seconds."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic()


def stop_during_calls(server, tmp_path, release_short_call):
    """Two calls held running and an idle connection open, SIGTERM, then (if release_short_call)
    the short call let go once the server logs 'stopping'. Returns (the short call's outcome,
    the long one's, seconds from the signal to the long call's end, to the idle connection's
    close, to the server's exit)."""
    short_started, long_started = tmp_path / "short-started", tmp_path / "long-started"
    short_gate, never = tmp_path / "short-gate", tmp_path / "never-created"

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            short = executor.submit(held_call, str(short_started), str(short_gate), "short")
            long = executor.submit(held_call, str(long_started), str(never), "long")
            await wait_until_async(lambda: short_started.exists() and long_started.exists(), what="both calls running")
            with socket.create_connection((server.host, server.port), timeout=STOP_LIMIT_S) as idle:
                signalled_at = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                idle_closed = asyncio.create_task(asyncio.to_thread(closed_at, idle, STOP_LIMIT_S))
                if release_short_call:
                    await wait_until_async(lambda: any(e["event"] == "stopping" for e in server.events()),
                                           what="the server logging 'stopping'")
                    short_gate.touch()
                outcomes = await asyncio.gather(short, long, return_exceptions=True)
                long_ended_at = time.monotonic()
                return signalled_at, long_ended_at, await idle_closed, outcomes

    try:
        signalled_at, long_ended_at, idle_closed_at, (short, long) = run(main(), timeout=STOP_LIMIT_S + 20)
        assert server.process.wait(STOP_LIMIT_S) == 0
        exited_at = time.monotonic()
    finally:
        server.stop()
    return short, long, long_ended_at - signalled_at, idle_closed_at - signalled_at, exited_at - signalled_at


def test_a_stop_waits_shutdown_timeout_for_running_calls_then_ends_them(key_file, log_dir, tmp_path):
    server = Server(key_file, "--processes", "2", "--shutdown-timeout", str(SHUTDOWN_TIMEOUT_S), log_dir=log_dir)
    short, long, long_ended_s, idle_closed_s, exited_s = stop_during_calls(server, tmp_path, release_short_call=True)
    assert short == "short"  # ended within the timeout: answered
    # The call still running had its SHUTDOWN_TIMEOUT_S (counted from the signal), then its
    # connection was closed without an answer.
    assert isinstance(long, RemoteError) and "closed the connection before answering" in str(long), long
    assert SHUTDOWN_TIMEOUT_S <= long_ended_s < STOP_LIMIT_S, long_ended_s
    assert idle_closed_s < long_ended_s  # an idle connection is closed at once, not kept for the calls
    assert exited_s < STOP_LIMIT_S, exited_s
    events = server.events()
    assert next(e for e in events if e["event"] == "stopping")["waiting_up_to_s"] == SHUTDOWN_TIMEOUT_S
    assert [e["event"] for e in events if e["event"] in ("stopping", "pool_closed", "stopped")] == \
        ["stopping", "pool_closed", "stopped"]
    # Its process was killed with it (and what the call started), not left running.
    assert [e["what"] for e in events if e["event"] == "worker_lost"] == \
        ["was killed: its request was cancelled (the client disconnected?)"]
    assert len([e for e in events if e["event"] == "request" and e.get("outcome") == "result"]) == 1


def test_a_shutdown_timeout_of_0_stops_running_calls_at_once(key_file, log_dir, tmp_path):
    # aiohttp reads 0 as no limit at all: the server must not wait for ever.
    server = Server(key_file, "--processes", "2", "--shutdown-timeout", "0", log_dir=log_dir)
    short, long, _, _, exited_s = stop_during_calls(server, tmp_path, release_short_call=False)
    for outcome in (short, long):
        assert isinstance(outcome, RemoteError) and "closed the connection before answering" in str(outcome), outcome
    assert exited_s < STOP_LIMIT_S, exited_s
    assert len([e for e in server.events() if e["event"] == "worker_lost"]) == 2


class _RecordingBackend:
    """Runs nothing: records the calls it was asked to run."""

    name = "fake"

    def __init__(self):
        self.payloads = []

    async def run(self, payload, timeout, function=None):
        self.payloads.append(bytes(payload))
        return False, pickle.dumps("ran", protocol=5)


def test_a_request_handled_once_the_server_is_stopping_gets_an_unsigned_503_and_runs_nothing(tmp_path):
    # Only a request that reaches its handler as the stop begins sees this: from the signal on,
    # the server listens no more and reads no further request on an open connection (the
    # tests above). So the app is driven here in this process, stopping as serve() makes it.
    target = tmp_path / "never"
    body = gadget_call(target)

    async def main():
        backend = _RecordingBackend()
        settings = app.Settings(_signing.key_bytes(KEY), backend, 10**6)
        application = app.make_app(settings)
        async with TestClient(TestServer(application)) as client:
            async def post(path):
                headers = signed_headers(settings.server_id, body, path=path)
                response = await client.post(path, data=body, headers=headers)
                return response.status, response.headers, await response.read()

            status, _, reply = await post("/call")  # the control: before the stop, it runs
            assert (status, pickle.loads(reply)) == (200, "ran") and len(backend.payloads) == 1
            application[app.STOPPING].append(True)  # what serve() does on SIGTERM
            answers = [await post(path) for path in ("/call", "/function")]
            health = await (await client.get("/health")).json()
        return backend.payloads, answers, health

    payloads, answers, health = run(main())
    for status, headers, reply in answers:
        assert status == 503, reply
        assert json.loads(reply) == {"error": "ServiceUnavailable",
                         "message": "the server is shutting down: retry on another server"}
        assert _signing.SIGNATURE not in headers  # answered before the key is checked
    assert payloads == [body]  # nothing ran once it was stopping
    assert health["status"] == "stopping"
    assert lines_in(target) == 0
