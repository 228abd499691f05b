"""webpickle.remote.RemoteExecutor from CPython against a loopback server: the pool's API, by value."""

import asyncio
import dataclasses
import os
import socket
import sys

import pytest

import webpickle
from webpickle import _signing
from remote_support import KEY, Server, run
from webpickle.remote import PayloadTooLargeError, RemoteError, RemoteExecutor, RemoteTraceback

webpickle.register_pickle_by_value(sys.modules[__name__])  # the server cannot import this module


class Point:  # defined here: travels by value both ways
    def __init__(self, x, y=0):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


@dataclasses.dataclass
class Record:
    name: str
    size: int = 0


def scale(point, k=1):
    return Point(point.x * k, point.y * k)


def test_submit_runs_a_closure_in_a_worker_process_and_brings_its_result_back(server):
    offset = 10

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            here = await executor.submit(lambda: os.getpid())
            moved = await executor.submit(lambda p, k=1: Point(p.x + offset, p.y * k), Point(1, 2), k=3)
            return here, moved

    pid, moved = run(main())
    assert pid in server.child_pids() and pid != os.getpid()
    assert type(moved) is Point  # the class loaded back is this very class
    assert moved == Point(11, 6)


def test_dataclasses_travel_by_value(server):
    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.submit(lambda r: Record(r.name.upper(), r.size + 1), Record("a", 1))

    back = run(main())
    # The server pickled our own class back: it comes home as this very class.
    assert type(back) is Record
    assert back == Record("A", 2)


def test_a_changed_class_sent_again_runs_its_new_code(key_file, log_dir):
    class Versioned:  # travels by value; the server process keeps it alive between calls
        def version(self):
            return 1

    def keep(obj):
        import builtins

        builtins.kept_for_test = obj
        return obj.version()

    def check(obj):
        import builtins

        kept = builtins.kept_for_test
        return type(kept) is type(obj), kept.version(), obj.version(), getattr(type(obj), "extra", None)

    async def main():
        async with RemoteExecutor(one_process.url, KEY) as executor:
            first = await executor.submit(keep, Versioned())
            Versioned.version = lambda self: 2
            Versioned.extra = "added"
            return first, await executor.submit(check, Versioned())

    # One worker process: the second call meets the class the first one left.
    one_process = Server(key_file, "--processes", "1", log_dir=log_dir)
    try:
        assert run(main()) == (1, (True, 2, 2, "added"))
    finally:
        one_process.stop()


def test_map_keeps_order_with_chunks_and_reports_progress(server):
    reports = []

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            plain = await executor.map(lambda x: x * x, range(20))
            chunked = await executor.map(scale, [Point(i, 1) for i in range(10)], chunksize=4,
                                         progress=lambda done, total: reports.append((done, total)))
            return plain, chunked

    plain, chunked = run(main())
    assert plain == [x * x for x in range(20)]
    assert chunked == [Point(i, 1) for i in range(10)]
    assert reports[0] == (0, 10) and reports[-1] == (10, 10)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert len(reports) == 4  # the start, then one report per chunk (4 + 4 + 2)


def test_progress_true_prints_a_bar(server, capsys):
    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.map(abs, [-1, -2, -3], progress=True)

    assert run(main()) == [1, 2, 3]
    assert "3/3" in capsys.readouterr().out


def test_imap_unordered_yields_every_result(server):
    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return [r async for r in executor.imap_unordered(lambda x: -x, range(12), chunksize=5)]

    assert sorted(run(main())) == sorted(-x for x in range(12))


def test_exceptions_come_back_with_the_remote_traceback(server):
    class Custom(Exception):
        pass

    def fails(n):
        def inner():
            raise Custom(f"bad {n}")
        return inner()

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            with pytest.raises(Custom, match="bad 3") as raised:
                await executor.submit(fails, 3)
            with pytest.raises(ZeroDivisionError):
                await executor.map(lambda x: 1 / x, [1, 0, 2])
            with pytest.raises(SystemExit):
                await executor.submit(sys.exit, 4)  # the call's outcome, not the worker's end
            assert await executor.submit(os.getpid) in server.child_pids()
            return raised.value

    exc = run(main())
    assert isinstance(exc.__cause__, RemoteTraceback)
    text = str(exc.__cause__)
    assert "in inner" in text and "in fails" in text and "Custom: bad 3" in text
    assert "runner.py" not in text  # starts at the call's own frame


def test_coroutine_functions_run_to_their_result(server):
    async def twice(x):
        await asyncio.sleep(0.01)
        return 2 * x

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.submit(twice, 21)

    assert run(main()) == 42


def test_unpicklable_arguments_and_results(server):
    import threading

    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            with pytest.raises(TypeError, match="lock"):
                await executor.submit(len, threading.Lock())
            with pytest.raises(Exception, match="could not be pickled to be sent back"):
                await executor.submit(lambda: threading.Lock())

    run(main())


def test_health_names_the_server_id_and_versions_only(server):
    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.health()

    info = run(main())
    server_id = info.pop("server_id")
    assert _signing.server_id_is_well_formed(server_id)
    assert info == {"status": "ok", "python": "%d.%d.%d" % sys.version_info[:3],
                    "python_minor": "%d.%d" % sys.version_info[:2], "webpickle": webpickle.__version__}


def test_a_payload_over_max_body_raises_payload_too_large(server):
    async def main():
        async with RemoteExecutor(server.url, KEY) as executor:
            return await executor.submit(len, b"\0" * 2_000_000)

    with pytest.raises(PayloadTooLargeError, match="--max-body") as raised:
        run(main())
    assert raised.value.status == 413


def test_unreachable_server_and_bad_arguments():
    async def main():
        async with RemoteExecutor(f"http://127.0.0.1:{port}/", KEY) as executor:
            await executor.submit(len, "x")

    # A port bound by this test but not listening: connections to it are refused.
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        with pytest.raises(RemoteError, match="could not reach the server"):
            run(main())
    with pytest.raises(ValueError, match="url must be the server's http"):
        RemoteExecutor("ftp://example/", KEY)
    with pytest.raises(ValueError, match="at least 16"):
        RemoteExecutor("http://127.0.0.1:1/", "short")
    executor = RemoteExecutor("http://127.0.0.1:1/base/", KEY)
    assert KEY not in repr(executor) and executor.url == "http://127.0.0.1:1/base/"
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        RemoteExecutor("http://127.0.0.1:1/", KEY, timeout=0)
    with pytest.raises(ValueError, match="chunksize must be a positive int"):
        asyncio.run(executor.map(len, [], chunksize=0))


def test_shutdown_cancels_pending_calls_and_refuses_new_ones(server):
    import time

    async def main():
        executor = RemoteExecutor(server.url, KEY)
        pending = executor.submit(time.sleep, 2)  # runs on to its end there: the server waits for it on stopping
        await asyncio.sleep(0.2)
        await executor.close()
        with pytest.raises(asyncio.CancelledError):
            await pending
        with pytest.raises(RuntimeError, match="after shutdown"):
            executor.submit(len, "x")

    run(main())
