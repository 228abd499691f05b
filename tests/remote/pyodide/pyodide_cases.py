"""webpickle.remote.RemoteExecutor inside Pyodide (pyfetch under Node) against a native server.

Run by tests/remote/run_pyodide_tests.mjs, which starts the server and sets
SERVER_URL and KEY in builtins. Functions and classes defined here exist only
in this Pyodide: they reach the server by value, as a page's would.
"""

import asyncio
import builtins
import os
import sys

import pytest
import webpickle
from webpickle.remote import AuthenticationError, RemoteExecutor, RemoteTraceback

webpickle.register_pickle_by_value(sys.modules[__name__])
URL, KEY = builtins.SERVER_URL, builtins.KEY


class Tally:  # a class of this session: travels to the server and back by value
    def __init__(self, items):
        self.items = list(items)

    def total(self):
        return sum(self.items)


async def test_a_function_defined_in_pyodide_runs_on_the_server():
    assert sys.platform == "emscripten"
    factor = 3

    def where(x):
        import platform
        return x * factor, sys.platform, platform.python_implementation(), os.getpid()

    async with RemoteExecutor(URL, KEY) as executor:
        value, platform_there, implementation, pid = await executor.submit(where, 14)
    assert value == 42
    assert (platform_there, implementation) == ("linux", "CPython")  # it ran natively, not here
    assert pid != os.getpid()


async def test_classes_travel_both_ways_and_keep_their_identity():
    async with RemoteExecutor(URL, KEY) as executor:
        back = await executor.submit(lambda t: Tally(t.items + [t.total()]), Tally([1, 2, 3]))
    assert type(back) is Tally
    assert back.items == [1, 2, 3, 6]


async def test_map_imap_unordered_and_progress():
    reports = []
    async with RemoteExecutor(URL, KEY) as executor:
        squares = await executor.map(lambda x: x * x, range(10), chunksize=3,
                                     progress=lambda done, total: reports.append(done))
        unordered = [r async for r in executor.imap_unordered(abs, [-1, -2, -3])]
    assert squares == [x * x for x in range(10)]
    assert reports[0] == 0 and reports[-1] == 10
    assert sorted(unordered) == [1, 2, 3]


async def test_exceptions_come_back_with_the_server_traceback():
    def parse(text):
        return int(text)

    async with RemoteExecutor(URL, KEY) as executor:
        with pytest.raises(ValueError, match="invalid literal") as raised:
            await executor.submit(parse, "forty-two")
    assert isinstance(raised.value.__cause__, RemoteTraceback)
    assert "in parse" in str(raised.value.__cause__)


async def test_health():
    async with RemoteExecutor(URL, KEY) as executor:
        info = await executor.health()
    assert info["python_minor"] == "%d.%d" % sys.version_info[:2]


async def test_six_calls_are_in_flight_at_most_by_default():
    """The README's default in Pyodide (a browser's connections per server), counted
    at the transport: the calls' requests are held there until six are in, so that
    none can finish and free its slot before the others have had their chance."""
    expected, calls = 6, 20
    async with RemoteExecutor(URL, KEY) as executor:
        assert await executor.submit(pow, 2, 0) == 1  # the function's upload is done: calls go straight out
        genuine = executor._transport.request
        in_flight = peak = 0
        enough, release = asyncio.Event(), asyncio.Event()

        async def held_until_released(method, url, *rest):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight >= expected:
                enough.set()
            try:
                await release.wait()
                return await genuine(method, url, *rest)
            finally:
                in_flight -= 1

        executor._transport.request = held_until_released
        futures = [executor.submit(pow, 2, n) for n in range(calls)]
        try:
            # Every call ran up to the transport or to the wait for a slot before this wakes.
            await asyncio.wait_for(enough.wait(), 60)
        except TimeoutError:
            raise AssertionError(f"only {peak} of {calls} calls were sent at once; the default is {expected}") from None
        assert peak == expected, f"{peak} calls in flight at once; the default is {expected}"
        release.set()
        results = await asyncio.gather(*futures)
    assert results == [2 ** n for n in range(calls)]
    assert peak == expected  # and never more once the first ones finished


async def test_a_wrong_key_is_refused():
    async with RemoteExecutor(URL, "not-the-key-the-server-holds") as executor:
        with pytest.raises(AuthenticationError, match="the signature does not match"):
            await executor.submit(len, "abc")


class WritesFile:
    """Made on the server; unpickling it here appends a line to path (in this Pyodide's file system)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'a').write('unpickled\\n')",)


async def test_a_tampered_reply_is_refused_without_unpickling():
    path = "/tmp/remote-reply-unpickled"
    async with RemoteExecutor(URL, KEY) as executor:
        genuine = executor._transport.request

        async def flip_last_byte(*args):
            status, headers, body = await genuine(*args)
            return status, headers, body[:-1] + bytes([body[-1] ^ 1])

        executor._transport.request = flip_last_byte
        with pytest.raises(AuthenticationError, match="refused without unpickling it"):
            await executor.submit(lambda: WritesFile(path))
        assert not os.path.exists(path)
        executor._transport.request = genuine
        await executor.submit(lambda: WritesFile(path))  # the control: a genuine reply is unpickled
    with open(path) as file:
        assert file.read() == "unpickled\n"


async def test_a_call_past_its_timeout_raises_timeout_error():
    import time

    async with RemoteExecutor(URL, KEY, timeout=1) as executor:
        with pytest.raises(TimeoutError, match="ran past its timeout of 1 s"):
            await executor.submit(time.sleep, 30)
        assert await executor.submit(abs, -5) == 5
