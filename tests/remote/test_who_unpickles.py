"""Which process unpickles what the server receives: a worker process of its pool, never the
server's own process, and nobody at all for a request that did not prove the key.

The gadget (RecordsProcess) is an object whose unpickling appends the pid and the
role (the module run as __main__) of the process doing it to a file, then gives
the built-in str: a callable, so that it stands for a function as well as an
argument. The server process runs as webpickle.server.__main__, its worker
processes as webpickle.server.child.
"""

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

import webpickle
from remote_support import KEY, post, signed_headers
from webpickle import _signing

webpickle.register_pickle_by_value(sys.modules[__name__])
WORKER_ROLE = "webpickle.server.child"
WRONG_KEY = "another-key-of-sufficient-length"


class RecordsProcess:
    """Unpickled, appends "PID ROLE" to path and becomes str."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        record = ("(lambda os, sys: (open(%r, 'a').write('%%d %%s\\n' %% (os.getpid(), "
                  "getattr(sys.modules['__main__'].__spec__, 'name', None) or sys.argv[0])), str)[1])"
                  "(__import__('os'), __import__('sys'))") % self.path
        return eval, (record,)


def records(path):
    """[(pid, role)] of the processes that unpickled a gadget writing to path."""
    if not Path(path).exists():
        return []
    return [(int(pid), role) for pid, role in (line.split(" ", 1) for line in Path(path).read_text().splitlines())]


def assert_run_by_a_worker_process_only(server, path, times=1):
    found = records(path)
    assert len(found) == times, found
    workers = server.child_pids()
    for pid, role in found:
        assert pid != server.process.pid, f"the server's own process (pid {pid}) unpickled a request"
        assert (pid in workers, role) == (True, WORKER_ROLE), \
            f"pid {pid} ({role}) unpickled it; the worker processes are {workers}"


def returns_gadget(path, _argument):
    return RecordsProcess(path)


def test_a_whole_call_is_unpickled_in_a_worker_process_and_its_reply_nowhere_on_the_server(server, tmp_path):
    request_gadget, reply_gadget = tmp_path / "request", tmp_path / "reply"
    body = webpickle.dumps((returns_gadget, (str(reply_gadget), RecordsProcess(request_gadget)), {}), protocol=5)
    status, headers, reply = post(server, body, signed_headers(server, body))
    assert status == 200 and headers[_signing.RAISED] == "0", reply
    assert_run_by_a_worker_process_only(server, request_gadget)
    # The reply is the worker's pickle of a gadget: the server passed it on as bytes.
    assert records(reply_gadget) == []
    assert pickle.loads(reply) is str  # the control: unpickled here, it runs here
    assert [pid for pid, _ in records(reply_gadget)] == [os.getpid()]


def upload(server, stream, key=KEY):
    headers = signed_headers(server, stream, key=key, path="/function")
    return post(server, stream, headers, path="/function")


def call_by_digest(server, digest, arguments, key=KEY):
    path = f"/call?function={digest}"
    return post(server, arguments, signed_headers(server, arguments, key=key, path=path), path=path)


def test_an_uploaded_function_is_kept_as_bytes_and_unpickled_by_the_worker_running_its_call(server, tmp_path):
    function_gadget, arguments_gadget = tmp_path / "function", tmp_path / "arguments"
    stream = pickle.dumps(RecordsProcess(function_gadget), protocol=5)
    status, _, reply = upload(server, stream)
    assert status == 200 and json.loads(reply) == {"digest": hashlib.sha256(stream).hexdigest()}
    assert records(function_gadget) == []  # kept, not loaded
    arguments = pickle.dumps(((RecordsProcess(arguments_gadget),), {}), protocol=5)
    status, _, reply = call_by_digest(server, hashlib.sha256(stream).hexdigest(), arguments)
    assert status == 200 and webpickle.loads(reply) == "<class 'str'>"  # str(str)
    assert_run_by_a_worker_process_only(server, function_gadget)
    assert_run_by_a_worker_process_only(server, arguments_gadget)


def test_a_forged_or_unsigned_request_is_unpickled_nowhere_on_any_route(server, tmp_path):
    gadget = tmp_path / "forged"
    whole = pickle.dumps((str, (RecordsProcess(gadget),), {}), protocol=5)
    stream = pickle.dumps(RecordsProcess(gadget), protocol=5)
    digest = hashlib.sha256(stream).hexdigest()
    arguments = pickle.dumps(((RecordsProcess(gadget),), {}), protocol=5)

    def altered(body):
        return body.replace(b"sys", b"SYS")

    # Unsigned, signed with another key, and genuine headers on an altered body, on each route.
    for route, body in (("/call", whole), ("/function", stream), (f"/call?function={digest}", arguments)):
        assert post(server, body, {}, path=route)[0] == 401
        assert post(server, body, signed_headers(server, body, key=WRONG_KEY, path=route), path=route)[0] == 401
        assert post(server, altered(body), signed_headers(server, body, path=route), path=route)[0] == 401
    # None of the forged uploads was kept: a genuine call by their digests finds nothing.
    for forged in (stream, altered(stream)):
        status, _, reply = call_by_digest(server, hashlib.sha256(forged).hexdigest(), arguments)
        assert status == 404 and json.loads(reply)["error"] == "FunctionMissing"
    assert records(gadget) == []
    # The control: the same whole call, signed, runs its gadget once, in a worker process.
    assert post(server, whole, signed_headers(server, whole))[0] == 200
    assert_run_by_a_worker_process_only(server, gadget)
