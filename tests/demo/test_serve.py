"""demo/serve.py --remote without a browser: who can trade the one-time token for the
remote server's key, and what happens to the server when serve.py ends.

    bash wasm/toolchain.sh run build/venv/bin/python -m pytest tests/demo -q

Needs ./dev build first (build/dist, and build/venv with webpickle.server).
"""

import http.client
import json
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))
from timed_readline import readline_within  # noqa: E402  (after the path set-up above)


class Demo:
    """serve.py --remote on a free port, and what it printed."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "demo/serve.py"), "--remote", "--port", "0", "--no-browser"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = ""
        deadline = time.monotonic() + 90
        while "#token=" not in self.output:
            try:
                line = readline_within(self.process.stdout, max(0.0, deadline - time.monotonic()), "output")
            except TimeoutError:
                line = ""
            if not line:
                self.stop()
                pytest.fail(f"serve.py --remote printed no token URL within 90 s:\n{self.output}")
            self.output += line
        self.port = int(re.search(r"serving at http://127\.0\.0\.1:(\d+)/", self.output)[1])
        self.token = re.search(r"#token=(\S+)", self.output)[1]
        remote = re.search(r"remote server at http://127\.0\.0\.1:(\d+)/ \(key in (\S+),", self.output)
        assert remote, f"the remote server did not start:\n{self.output}"
        self.remote_port, self.key_file = int(remote[1]), ROOT / remote[2]

    def post(self, body, host=None, origin=None, content_type="application/json"):
        """POST /api/session; returns (status, JSON body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Host": host or f"127.0.0.1:{self.port}", "Content-Type": content_type}
        if origin:
            headers["Origin"] = origin
        connection.request("POST", "/api/session", body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        answer = response.status, json.loads(response.read())
        assert response.getheader("Cache-Control") == "no-store"
        connection.close()
        return answer

    def remote_answers(self):
        try:
            http.client.HTTPConnection("127.0.0.1", self.remote_port, timeout=5).request("GET", "/health")
            return True
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
        self.process.stdout.close()


@pytest.fixture
def demo():
    running = Demo()
    yield running
    running.stop()


def test_only_same_origin_json_with_the_token_gets_the_key_and_only_once(demo):
    origin = f"http://127.0.0.1:{demo.port}"
    token = {"token": demo.token}
    # Refused before the token is even looked at: these never spend it.
    assert demo.post(token, host=f"attacker.example:{demo.port}")[0] == 403  # DNS rebinding
    assert demo.post(token, origin="http://attacker.example")[0] == 403  # another site's page
    assert demo.post(token, content_type="text/plain")[0] == 415  # a form or no-cors fetch
    status, body = demo.post({"token": "x" * len(demo.token)})
    assert (status, body["error"]) == (403, "wrong token: open the URL that ./dev demo printed")

    status, body = demo.post(token, origin=origin)
    assert status == 200
    assert body == {"server": f"http://127.0.0.1:{demo.remote_port}/", "key": demo.key_file.read_text().strip()}
    assert len(body["key"]) == 64 and body["key"] not in demo.output
    assert demo.key_file.stat().st_mode & 0o777 == 0o600

    status, body = demo.post(token, origin=origin)
    assert status == 403 and "already used" in body["error"]


def test_the_remote_server_ends_with_serve_py(demo):
    assert demo.remote_answers()
    demo.stop(signal.SIGTERM)
    assert not demo.remote_answers()
    assert not demo.key_file.exists()


def test_a_killed_serve_py_takes_the_remote_server_with_it(demo):
    demo.stop(signal.SIGKILL)  # no finally runs: the kernel's parent-death signal must stop the server
    deadline = time.monotonic() + 20
    while demo.remote_answers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not demo.remote_answers()
    assert demo.key_file.exists()  # left behind, mode 0600: the next start removes it
    Demo().stop()
    assert not demo.key_file.exists()


def test_without_remote_there_is_nothing_to_trade():
    process = subprocess.Popen([sys.executable, str(ROOT / "demo/serve.py"), "--port", "0", "--no-browser"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)/", readline_within(process.stdout, 60, "URL from serve.py"))[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/api/session", body="{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 404
        assert "./dev demo" in json.loads(response.read())["error"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        process.stdout.close()
