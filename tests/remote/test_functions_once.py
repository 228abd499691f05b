"""A function travels once to a server (issue 16): RemoteExecutor from CPython against a
loopback server with two worker processes, each keeping loaded functions.

The bytes the client sent are its own count (executor.stats); what the server
stored and which calls named a function are in its log.
"""

import asyncio
import os
import sys

import pytest

import webpickle
from remote_support import KEY, Server, post, run, signed_headers
from webpickle.remote import RemoteExecutor

webpickle.register_pickle_by_value(sys.modules[__name__])  # the server cannot import this module


@pytest.fixture(scope="module")
def small_cache_server(key_file, log_dir):
    """Two worker processes that each keep 1 MB of function streams; a 4 MB store."""
    running = Server(key_file, "--processes", "2", "--max-memory", "none", "--function-cache", "1MB",
                     "--function-store", "4MB", log_dir=log_dir)
    yield running
    running.stop()


def test_a_map_uploads_its_function_once_and_its_calls_carry_arguments_only(small_cache_server):
    blob = os.urandom(300_000)

    def size_plus(x):
        return len(blob) + x

    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY, concurrency=8) as executor:
            results = await executor.map(size_plus, range(200))
            return results, dict(executor.stats)

    results, stats = run(main())
    assert results == [300_000 + x for x in range(200)]
    stream_bytes = len(webpickle.dumps(size_plus, protocol=5))
    assert stats["function_uploads"] == 1 and stats["function_bytes"] == stream_bytes
    assert stats["requests"] == 201
    assert stats["request_bytes"] - stream_bytes < 200 * 200, "each call carries its arguments, not the closure"
    digest = small_cache_server.wait_for_event(lambda e: e.get("path") == "/function")["function"]
    small_cache_server.wait_for_event(lambda e: len([c for c in small_cache_server.events()
                                                     if c.get("function") == digest and c["path"] == "/call"]) >= 200)
    calls = [e for e in small_cache_server.events() if e.get("function") == digest and e["path"] == "/call"]
    assert len(calls) == 200 and all(e["status"] == 200 for e in calls)


def test_a_function_of_several_megabytes_uploads_once(small_cache_server):
    weights = os.urandom(3_000_000)  # past the 1 MiB an idle connection may send unanswered

    def weigh(i):
        return weights[i]

    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY) as executor:
            return await executor.map(weigh, range(10)), dict(executor.stats)

    values, stats = run(main())
    assert values == list(weights[:10]) and stats["function_uploads"] == 1


def test_many_calls_in_flight_cause_one_upload(small_cache_server):
    table = os.urandom(200_000)

    def pick(i):
        return table[i]

    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY) as executor:
            values = await asyncio.gather(*(executor.submit(pick, i) for i in range(40)))
            return values, executor.stats["function_uploads"]

    assert run(main()) == (list(table[:40]), 1)


def pid_and(value):
    return os.getpid(), value


def test_evicted_in_a_worker_process_the_function_is_sent_again_and_runs_once(small_cache_server, tmp_path):
    record = tmp_path / "runs"
    first_blob, second_blob = os.urandom(700_000), os.urandom(700_000)

    def first():
        with open(record, "a") as file:
            file.write("first\n")
        return os.getpid(), len(first_blob)

    def second():
        return os.getpid(), len(second_blob)

    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY) as executor:
            # Both processes load both functions (1.4 MB > 1 MB: each evicts the other in turn).
            outcomes = []
            for function in (first, second, first, second, first):
                outcomes += await asyncio.gather(*(executor.submit(function) for _ in range(4)))
            return outcomes, executor.stats["function_uploads"]

    outcomes, uploads = run(main())
    assert uploads == 2, "the server's store kept both: each was uploaded once"
    assert record.read_text().count("first") == 12, "each call ran exactly once"
    assert {size for _, size in outcomes} == {700_000}


def test_a_replaced_worker_process_gets_the_function_again(small_cache_server):
    data = os.urandom(100_000)

    def measure():
        return os.getpid(), len(data)

    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY) as executor:
            before = await asyncio.gather(*(executor.submit(measure) for _ in range(6)))
            crashed = await asyncio.gather(*(executor.submit(os._exit, 3) for _ in range(2)),
                                           return_exceptions=True)
            small_cache_server.wait_for_event(lambda e: e["event"] == "worker_started")
            after = await asyncio.gather(*(executor.submit(measure) for _ in range(6)))
            return before, crashed, after, executor.stats["function_uploads"]

    before, crashed, after, uploads = run(main())
    assert all(isinstance(c, Exception) for c in crashed)
    assert {size for _, size in before + after} == {100_000}
    assert uploads == 2, "measure once, os._exit by reference once: the new processes got measure from the store"


def test_a_changed_definition_or_captured_value_runs_its_new_code(small_cache_server):
    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY) as executor:
            results = []
            for setting in ("old", "new"):
                results.append(await executor.submit(lambda: "setting " + setting))
            results.append(await executor.submit(lambda: "redefined " + setting))
            return results

    assert run(main()) == ["setting old", "setting new", "redefined new"]


COUNTER = []


def bump():
    COUNTER.append(1)
    return os.getpid(), len(COUNTER)


def test_calls_of_one_digest_share_globals_and_cache_false_opts_out(small_cache_server):
    async def main():
        async with RemoteExecutor(small_cache_server.url, KEY) as executor:
            shared = [await executor.submit(bump) for _ in range(6)]
            fresh = await executor.map(lambda _: bump(), range(4), cache=False)
        async with RemoteExecutor(small_cache_server.url, KEY, cache=False) as executor:
            opted_out = [await executor.submit(bump) for _ in range(2)]
            uploads = executor.stats["function_uploads"]
        return shared, fresh, opted_out, uploads

    shared, fresh, opted_out, uploads = run(main())
    per_process = {}
    for pid, count in shared:
        per_process.setdefault(pid, []).append(count)
    assert all(counts == list(range(counts[0], counts[0] + len(counts))) for counts in per_process.values()), \
        "one loaded copy per process: its globals persist between calls"
    assert [count for _, count in fresh + opted_out] == [1] * 6, "cache=False: fresh globals each call"
    assert uploads == 0


def test_a_server_that_forgot_the_function_gets_it_again(key_file, log_dir):
    forgetful = Server(key_file, "--processes", "1", "--function-store", "1kB", log_dir=log_dir)
    first_blob, second_blob = os.urandom(2000), os.urandom(2000)

    def first():
        return len(first_blob)

    def second():
        return -len(second_blob)

    async def main():
        async with RemoteExecutor(forgetful.url, KEY) as executor:
            # The store keeps 1 kB: second's upload pushes first out; first's next call is
            # answered FunctionMissing, and the client uploads it again and re-sends once.
            results = [await executor.submit(f) for f in (first, second, first)]
            return results, executor.stats["function_uploads"]

    try:
        assert run(main()) == ([2000, -2000, 2000], 3)
        assert len([e for e in forgetful.events() if e.get("error") == "FunctionMissing"]) == 1
    finally:
        forgetful.stop()


def test_a_call_by_digest_is_signed_and_checked(small_cache_server):
    body = webpickle.dumps(((), {}), protocol=5)
    # Signed for POST /call: the digest added to the path breaks the signature.
    status, _, answer = post(small_cache_server, body, signed_headers(small_cache_server, body),
                             path="/call?function=" + "0" * 64)
    assert status == 401, "the signature covers the digest in the path"
    assert b"signature does not match" in answer
