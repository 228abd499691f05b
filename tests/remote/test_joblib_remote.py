"""joblib's Parallel on a webpickle server, natively: the webpickle-remote backend of webpickle.joblib.

Batching, return_as="generator", errors, timeouts and n_jobs=-1 as joblib documents
them; the server's processes never import joblib (batches travel as plain calls).
"""

import os
import sys
import time

import joblib
import pytest

import webpickle
import webpickle.joblib
from remote_support import KEY, Server
from webpickle.remote import RemoteTraceback

webpickle.register_pickle_by_value(sys.modules[__name__])  # the server cannot import this module

WAIT_LIMIT_S = 120


def remote(server, **options):
    return joblib.parallel_config(backend="webpickle-remote", url=server.url, key=KEY, **options)


def calls_logged(server):
    return sum(1 for e in server.events() if e.get("path") == "/call")


def wait_for_calls(server, count):
    """The server logs a request once its answer is sent: wait until `count` are there."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while calls_logged(server) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return calls_logged(server)


def fails_on(x, bad):
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


def wait_for_file(path):
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return path


def test_parallel_runs_closures_on_the_servers_processes(server):
    offset = 1000
    with remote(server, n_jobs=2):
        results = joblib.Parallel()(joblib.delayed(lambda i: (os.getpid(), i + offset))(i) for i in range(100))
    assert [value for _, value in results] == [i + 1000 for i in range(100)]
    assert {pid for pid, _ in results} <= set(server.child_pids())
    assert os.getpid() not in {pid for pid, _ in results}


def test_batches_travel_as_plain_calls_without_joblib(server):
    with remote(server, n_jobs=2):
        seen = joblib.Parallel(batch_size=4)(joblib.delayed(lambda: "joblib" in sys.modules)() for _ in range(8))
    assert seen == [False] * 8


@pytest.fixture
def own_server(key_file, log_dir):
    """A server whose log holds this test's requests only."""
    running = Server(key_file, "--processes", "2", log_dir=log_dir)
    yield running
    running.stop()


def test_each_batch_is_one_request(own_server):
    sent = 0
    with remote(own_server, n_jobs=2):
        # batch_size=10, then "auto" (quick tasks are grouped more and more); joblib spreads the last
        # items over smaller batches, so its own count of batches is what to compare with.
        for batch_size in (10, "auto"):
            parallel = joblib.Parallel(batch_size=batch_size)
            assert parallel(joblib.delayed(abs)(-i) for i in range(200)) == list(range(200))
            assert parallel.n_dispatched_batches < 100, f"batch_size={batch_size!r} grouped too little"
            sent += parallel.n_dispatched_batches
            assert wait_for_calls(own_server, sent) == sent


def test_return_as_generator_yields_in_order(server):
    with remote(server, n_jobs=2):
        results = joblib.Parallel(return_as="generator")(joblib.delayed(pow)(i, 2) for i in range(20))
        assert not isinstance(results, list)
        assert next(results) == 0
        assert list(results) == [i * i for i in range(1, 20)]


def test_generator_unordered_is_refused_with_what_to_use(server):
    with remote(server, n_jobs=2):
        with pytest.raises(ValueError, match="use return_as='generator' or 'list'"):
            joblib.Parallel(return_as="generator_unordered")(joblib.delayed(abs)(i) for i in range(3))


def test_an_error_is_raised_with_the_servers_traceback(server):
    with remote(server, n_jobs=2):
        with pytest.raises(ValueError, match="item 5 is bad") as raised:
            joblib.Parallel(batch_size=1)(joblib.delayed(fails_on)(i, 5) for i in range(40))
        assert isinstance(raised.value.__cause__, RemoteTraceback)
        assert "in fails_on" in str(raised.value.__cause__)
        # The backend stays usable after the error (joblib asks it to, within parallel_config).
        assert joblib.Parallel()(joblib.delayed(abs)(-i) for i in range(5)) == [0, 1, 2, 3, 4]


def test_n_jobs_minus_one_is_the_clients_concurrency(server):
    with remote(server, n_jobs=-1):
        assert (joblib.effective_n_jobs(-1), joblib.effective_n_jobs(-2), joblib.effective_n_jobs(3)) == (32, 31, 3)
        assert joblib.Parallel()(joblib.delayed(abs)(-i) for i in range(10)) == list(range(10))


def test_parallels_timeout_stops_waiting(server, tmp_path):
    release = tmp_path / "release"
    with remote(server, n_jobs=2):
        with pytest.raises(TimeoutError):
            joblib.Parallel(timeout=0.5)(joblib.delayed(wait_for_file)(str(release)) for _ in range(2))
    release.touch()


def test_the_backend_says_what_it_needs(server):
    with joblib.parallel_config(backend="webpickle-remote", n_jobs=2):
        with pytest.raises(ValueError, match=r"needs the server's url and key: joblib.parallel_config\("):
            joblib.Parallel()(joblib.delayed(abs)(1) for _ in range(2))
    with pytest.raises(TypeError, match="unknown options for the webpickle-remote backend: \\['size'\\]"):
        with joblib.parallel_config(backend="webpickle-remote", url=server.url, key=KEY, size=3):
            pass
    with joblib.parallel_config(backend="webpickle-workers", n_jobs=2):
        with pytest.raises(RuntimeError, match="runs inside Pyodide; natively use webpickle-remote"):
            joblib.Parallel()(joblib.delayed(abs)(1) for _ in range(2))
