"""The server's command line, start-up line, log, CORS and graceful shutdown."""

import asyncio
import http.client
import json
import signal
import subprocess
import sys

import pytest

import webpickle
from gates import held_call
from remote_support import (CALL_TIMEOUT_S, KEY, Server, gadget_call, lines_in, run, signed_headers,
                            wait_until_async, write_key_file)
from webpickle import _signing
from webpickle.remote import RemoteExecutor

webpickle.register_pickle_by_value(sys.modules[__name__])
ALLOWED = "http://127.0.0.1:9999"  # the conftest server's --allow-origin


def request(server, method, path, headers=None, body=None):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "webpickle.server", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, message", [
    ([], "the following arguments are required: --key-file"),
    (["--key-file", "/nonexistent/key"], "cannot read the key file"),
    (["--max-memory", "lots"], "'lots' is not a size"),
    (["--dask", "tcp://127.0.0.1:1", "--processes", "2"], "with --dask the Dask workers run the calls"),
    (["--allow-origin", "*"], "give an origin, scheme://host[:port]"),
    (["--allow-origin", "http://example.test/page"], "give an origin"),
    (["--processes", "0"], "--processes must be at least 1"),
    (["--shutdown-timeout", "-1"], "--shutdown-timeout must be 0 or more seconds"),
    (["--shutdown-timeout", "inf"], "--shutdown-timeout must be 0 or more seconds"),
])
def test_command_line_errors_say_what_to_fix(tmp_path, args, message):
    key_file = write_key_file(tmp_path)
    if args and args[0] != "--key-file":
        args = ["--key-file", str(key_file), *args]
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert KEY not in result.stderr + result.stdout


def test_a_key_file_others_may_read_or_write_is_refused_unless_allowed(tmp_path):
    key_file = write_key_file(tmp_path)
    key_file.chmod(0o644)
    result = cli("--key-file", str(key_file))
    assert result.returncode == 2
    assert f"may be read or written by other users (mode 0644): run chmod 600 {key_file}" in result.stderr
    assert "--allow-shared-key-file" in result.stderr
    # The override gets past the key check: the next error is the bad port, not the mode.
    result = cli("--key-file", str(key_file), "--allow-shared-key-file", "--port", "70000")
    assert result.returncode == 2 and "--port must be 0 to 65535" in result.stderr


def test_a_short_key_is_refused(tmp_path):
    key_file = write_key_file(tmp_path, key="tooshort")
    result = cli("--key-file", str(key_file))
    assert result.returncode == 2 and "the key has 8 bytes; use at least 16" in result.stderr


def test_a_busy_port_is_a_clear_error(server, key_file):
    result = cli("--key-file", str(key_file), "--port", str(server.port), "--processes", "1")
    assert result.returncode == 1
    assert "webpickle server:" in result.stderr and "address already in use" in result.stderr.lower()


def test_start_up_line_and_json_log(server):
    assert server.url == f"http://127.0.0.1:{server.port}/" and server.port > 0
    events = server.events()
    listening = next(e for e in events if e["event"] == "listening")
    assert listening["port"] == server.port and listening["backend"] == "processes"
    assert listening["allow_origins"] == [ALLOWED]
    assert next(e for e in events if e["event"] == "pool_started")["max_memory"] == "512MB"


def test_health_is_unsigned_and_answers_any_origin_without_cors(server):
    status, headers, body = request(server, "GET", "/health", {"Origin": "http://elsewhere.test"})
    assert status == 200 and json.loads(body)["python_minor"] == _signing.python_version()
    assert "Access-Control-Allow-Origin" not in headers  # a page from elsewhere cannot read it


def test_cors_preflight_and_replies_for_an_allowed_origin(server):
    status, headers, _ = request(server, "OPTIONS", "/call", {
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-webpickle-signature",
        "Access-Control-Request-Private-Network": "true"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert set(_signing.REQUEST_HEADERS) <= set(headers["Access-Control-Allow-Headers"].split(", "))
    assert headers["Access-Control-Allow-Private-Network"] == "true"
    body = b"\x80\x05N."  # None: not a call; the reply carries its exception
    status, headers, _ = request(server, "POST", "/call", {"Origin": ALLOWED, **signed_headers(server, body)}, body)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ALLOWED
    assert set(headers["Access-Control-Expose-Headers"].split(", ")) == set(_signing.RESPONSE_HEADERS)


def test_other_origins_are_refused_before_anything_runs(server, tmp_path):
    target = tmp_path / "never"
    body = gadget_call(target)
    status, headers, _ = request(server, "OPTIONS", "/call", {"Origin": "http://evil.test",
                                                              "Access-Control-Request-Method": "POST"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, _, reply = request(server, "POST", "/call", {"Origin": "http://evil.test", **signed_headers(server, body)}, body)
    assert status == 403 and "--allow-origin http://evil.test" in json.loads(reply)["message"]
    assert lines_in(target) == 0


def held_square(x, started, gate):
    """Runs on the server: returns x * x once the test creates the file gate (see held_call)."""
    return held_call(started, gate, x * x)


def test_sigterm_finishes_running_calls_then_exits(key_file, log_dir, tmp_path):
    server = Server(key_file, "--processes", "2", log_dir=log_dir)
    gate, started = tmp_path / "gate", [tmp_path / f"started-{x}" for x in (3, 4)]

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            running = [executor.submit(held_square, x, str(path), str(gate)) for x, path in zip((3, 4), started)]
            await wait_until_async(lambda: all(path.exists() for path in started), what="both calls running")
            server.process.send_signal(signal.SIGTERM)
            # The calls end only once the server is stopping: it must wait for them.
            await wait_until_async(lambda: any(e["event"] == "stopping" for e in server.events()),
                                   what="the server logging 'stopping'")
            gate.touch()
            return await asyncio.gather(*running)

    try:
        assert run(main()) == [9, 16]
        assert server.process.wait(CALL_TIMEOUT_S) == 0
    finally:
        server.stop()
    events = [e["event"] for e in server.events()]
    assert events.index("stopping") < events.index("pool_closed") < events.index("stopped")
    finished = [e for e in server.events() if e["event"] == "request" and e.get("outcome") == "result"]
    assert len(finished) == 2
    with pytest.raises(ConnectionRefusedError):
        request(server, "GET", "/health")


def test_sigint_stops_an_idle_server(key_file, log_dir):
    server = Server(key_file, "--processes", "1", log_dir=log_dir)
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(CALL_TIMEOUT_S) == 0
    server.stop()
    assert [e["event"] for e in server.events()][-1] == "stopped"
