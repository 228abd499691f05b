"""js/remote.mjs's callRemote (WebCrypto in Node 24) against the real server."""

import json
import pickle
import shutil
import subprocess
import sys

import webpickle
from remote_support import ROOT, CALL_TIMEOUT_S, gadget_call, lines_in, write_key_file

webpickle.register_pickle_by_value(sys.modules[__name__])


def call_from_js(server, key_file, payload, tmp_path, python="3.14"):
    node = shutil.which("node")
    assert node, "node is not on PATH: run the tests inside the toolchain (bash wasm/toolchain.sh run ...)"
    payload_file = tmp_path / "payload"
    payload_file.write_bytes(payload)
    result = subprocess.run([node, str(ROOT / "tests/remote/js_client.mjs"), server.url, str(key_file),
                             str(payload_file), python], capture_output=True, text=True, timeout=CALL_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_pickled_call_from_javascript_runs_and_its_reply_verifies(server, key_file, tmp_path):
    base = 40
    reply = call_from_js(server, key_file, webpickle.dumps((lambda x: x + base, (2,), {})), tmp_path)
    assert reply["raised"] is False
    assert pickle.loads(bytes.fromhex(reply["payload"])) == 42


def test_an_exception_comes_back_raised(server, key_file, tmp_path):
    reply = call_from_js(server, key_file, webpickle.dumps((int, ("nope",), {})), tmp_path)
    assert reply["raised"] is True
    exc, text, chain = pickle.loads(bytes.fromhex(reply["payload"]))
    assert isinstance(exc, ValueError) and "invalid literal for int()" in text
    assert chain[-1][1].startswith("ValueError: invalid literal for int()")


def test_wrong_key_and_wrong_version_are_refused(server, key_file, tmp_path):
    target = tmp_path / "never"
    wrong_key = write_key_file(tmp_path, key="a-key-the-server-does-not-know")
    reply = call_from_js(server, wrong_key, gadget_call(target), tmp_path)
    assert (reply["error"], reply["status"]) == ("AuthenticationError", 401)
    assert "the signature does not match" in reply["message"]
    reply = call_from_js(server, key_file, gadget_call(target), tmp_path, python="3.13")
    assert (reply["error"], reply["status"]) == ("VersionMismatchError", 409)
    assert "the client runs Python 3.13" in reply["message"]
    assert lines_in(target) == 0

