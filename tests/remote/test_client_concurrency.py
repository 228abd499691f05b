"""RemoteExecutor's `concurrency`, counted at its transport: the README's default
in CPython (32 calls in flight) and a value given. The Pyodide default (6) is
tested the same way in tests/remote/pyodide/pyodide_cases.py."""

import asyncio

import pytest

from remote_support import KEY, run
from webpickle.remote import RemoteExecutor


async def peak_in_flight(url, calls, expected, **options):
    """The most requests of `calls` calls in flight at once. They are held at the
    transport until `expected` are in, so that none can finish and free its slot
    before the other calls had their chance; fails if fewer than `expected` get there."""
    async with RemoteExecutor(url, KEY, **options) as executor:
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
            raise AssertionError(f"only {peak} of {calls} calls were sent at once, not {expected}") from None
        held_peak = peak
        release.set()
        results = await asyncio.gather(*futures)
    assert results == [2 ** n for n in range(calls)]
    return held_peak, peak


@pytest.mark.parametrize("options, expected", [({}, 32), ({"concurrency": 3}, 3)], ids=["default", "given"])
def test_calls_in_flight_at_once(server, options, expected):
    held_peak, peak = run(peak_in_flight(server.url, expected + 8, expected, **options))
    assert held_peak == expected, f"{held_peak} calls in flight at once, not {expected}"
    assert peak == expected, f"{peak} calls in flight once the first ones finished, not {expected}"
