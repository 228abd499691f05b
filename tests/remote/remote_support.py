"""Helpers for the remote-execution tests: start a server, send raw requests, payload gadgets.

Every wait has a generous limit (2 busy cores are shared with other work); no
test asserts a speed.
"""

import asyncio
import functools
import hashlib
import http.client
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from webpickle import _signing

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))
from timed_readline import readline_within  # noqa: E402  (after the path set-up above)
START_TIMEOUT_S = 120
CALL_TIMEOUT_S = 120
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0-test-key"  # what the key file holds


def run(coroutine, timeout=CALL_TIMEOUT_S):
    """Run an async test body with a time limit (no pytest-asyncio, no pytest-timeout here)."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def wait_until(predicate, timeout=CALL_TIMEOUT_S, what="the condition"):
    """predicate()'s first true value, polling for it; fails naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.02)
    return found


async def wait_until_async(predicate, timeout=CALL_TIMEOUT_S, what="the condition"):
    """wait_until for async test bodies: the event loop goes on (sending requests) meanwhile."""
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        await asyncio.sleep(0.02)
    return found


def write_key_file(directory, key=KEY):
    path = Path(directory) / "key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return path


class Server:
    """python -m webpickle.server in a subprocess; its log (stderr) goes to a file."""

    def __init__(self, key_file, *args, log_dir, port=0, descriptors=None):
        """descriptors: the server's RLIMIT_NOFILE (soft and hard), to run it out of them."""
        self.log_path = Path(log_dir) / f"server-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        command = [sys.executable, "-m", "webpickle.server", "--key-file", str(key_file), "--port", str(port), *args]
        limit = None
        if descriptors is not None:
            def limit():
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors, descriptors))
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                        preexec_fn=limit)
        self.url = self._read_url()
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port

    def _read_url(self):
        try:
            line = readline_within(self.process.stdout, START_TIMEOUT_S, "'listening on' line from the server")
        except TimeoutError:
            line = ""  # reported below with the server's log
        prefix = "webpickle server listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"the server did not start (stdout {line!r}); its log:\n{self.log()}")
        return line[len(prefix):].strip()

    @functools.cached_property
    def server_id(self):
        """The id this run of the server signs into its requests (from its /health)."""
        return health(self)["server_id"]

    def log(self):
        return self.log_path.read_text()  # the server writes it; this process never does

    def events(self):
        """The log's JSON lines, parsed (a line that is not JSON fails the test)."""
        complete = self.log().rpartition("\n")[0]  # not a line the server is still writing
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def wait_for_event(self, predicate, timeout=30):
        """The first log record for which predicate holds, waiting for it (a request is
        logged once its answer is sent, a moment after the client may have it)."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((e for e in self.events() if predicate(e)), None)
            if found is not None or time.monotonic() > deadline:
                assert found is not None, f"no such record in the log:\n{self.log()[-4000:]}"
                return found
            time.sleep(0.05)

    def memory(self):
        """The server process's resident memory in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) * 1024

    def descriptors(self):
        """How many descriptors the server process has open."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def child_pids(self):
        """The pids of the server's worker processes (its direct children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(pid) for pid in children.read_text().split())

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self.process.stdout.close()
        self._log.close()
        return status


def post(server, body, headers, path="/call"):
    """A raw POST; returns (status, headers as a dict, body bytes)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def signed_headers(server, body, key=KEY, path="/call", **overrides):
    """Headers signing a POST to path (/call, /call?function=DIGEST, /function) of body for
    server (a Server, or a server id), with fields optionally replaced before signing:
    server_id=, timestamp= (text, sent as it is), now=, nonce=, python=, timeout=, length=, digest=."""
    fields = {
        _signing.SERVER: overrides.pop("server_id", getattr(server, "server_id", server)),
        _signing.TIMESTAMP: overrides.pop("timestamp", None) or str(int(overrides.pop("now", time.time()))),
        _signing.NONCE: overrides.pop("nonce", _signing.new_nonce()),
        _signing.PYTHON: overrides.pop("python", _signing.python_version()),
        _signing.TIMEOUT: overrides.pop("timeout", ""),
        _signing.BODY_LENGTH: overrides.pop("length", str(len(body))),
        _signing.BODY_SHA256: overrides.pop("digest", hashlib.sha256(body).hexdigest()),
    }
    assert not overrides, overrides
    fields[_signing.SIGNATURE] = _signing.request_signature(_signing.key_bytes(key), "POST", path,
                                                            *fields.values())
    return fields


def health(server):
    """The server's GET /health answer, parsed."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=CALL_TIMEOUT_S)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert response.status == 200, response.status
        return json.loads(response.read())
    finally:
        connection.close()


class WritesFile:
    """Unpickling this appends a line to path: the proof that a stream was (or was not) unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'a').write('unpickled\\n')",)


def gadget_call(path):
    """A request body whose unpickling writes to path (a call of str() on the gadget's result)."""
    return pickle.dumps((str, (WritesFile(path),), {}), protocol=5)


def lines_in(path):
    return Path(path).read_text().count("\n") if os.path.exists(path) else 0
