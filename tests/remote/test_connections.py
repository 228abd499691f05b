"""server/connections.py without a server: the byte budget of idle connections, eviction
of the idlest, refusal when all are busy, and the idle clock (a fake transport and handler)."""

import asyncio

import pytest

from remote_support import run
from webpickle.server import connections


class FakeTransport:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed


class FakeHandler:
    """Stands for aiohttp's RequestHandler: records what reaches it."""

    def __init__(self):
        self.received = 0

    def connection_made(self, transport):
        pass

    def data_received(self, data):
        self.received += len(data)

    def connection_lost(self, exc):
        pass


class FakeRequest:
    def __init__(self, protocol, method="POST", path="/call"):
        self.protocol, self.method, self.path = protocol, method, path


def open_connection(factory):
    protocol = factory()
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


@pytest.mark.parametrize("path", ["/call", "/function"])
def test_an_idle_connection_is_dropped_past_its_byte_budget_and_a_busy_one_is_not(path):
    async def main():
        guard = connections.ConnectionGuard(10, idle_timeout=60)
        factory = guard.protocol_factory(FakeHandler)
        idle, idle_transport = open_connection(factory)
        chunk = b"h" * 65536
        for _ in range(2 * connections.UNHANDLED_BYTES_LIMIT // len(chunk)):
            if idle_transport.closed:
                break
            idle.data_received(chunk)
        assert idle_transport.closed
        assert idle.handler.received <= connections.UNHANDLED_BYTES_LIMIT

        busy, busy_transport = open_connection(factory)
        release = asyncio.Event()

        async def slow_call(request):
            for _ in range(2 * connections.UNHANDLED_BYTES_LIMIT // len(chunk)):
                busy.data_received(chunk)  # a call's body arriving
            await release.wait()
            return "answered"

        call = asyncio.ensure_future(guard.middleware(FakeRequest(busy.handler, "POST", path), slow_call))
        await asyncio.sleep(0)
        assert not busy_transport.closed and busy.handler.received == 2 * connections.UNHANDLED_BYTES_LIMIT
        release.set()
        assert await call == "answered"
        # Its budget starts again once the call was answered.
        busy.data_received(chunk)
        assert not busy_transport.closed

    run(main())


def test_at_the_limit_a_new_connection_replaces_the_idlest_or_is_refused_when_all_are_busy():
    async def main():
        guard = connections.ConnectionGuard(2, idle_timeout=60)
        factory = guard.protocol_factory(FakeHandler)
        first, first_transport = open_connection(factory)
        second, second_transport = open_connection(factory)
        first.idle_since -= 10  # the idlest
        third, third_transport = open_connection(factory)
        assert first_transport.closed and not second_transport.closed and len(guard) == 2
        release = asyncio.Event()

        async def running(request):
            await release.wait()

        calls = [asyncio.ensure_future(guard.middleware(FakeRequest(c.handler), running)) for c in (second, third)]
        await asyncio.sleep(0)
        refused, refused_transport = open_connection(factory)
        assert isinstance(refused, connections._Refused) and refused_transport.closed
        release.set()
        await asyncio.gather(*calls)
        fourth, fourth_transport = open_connection(factory)  # idle ones again: one gives way
        assert not fourth_transport.closed and len(guard) == 2

    run(main())


def test_the_idle_clock_drops_a_quiet_connection_but_never_one_with_a_call_running():
    async def main():
        guard = connections.ConnectionGuard(10, idle_timeout=0.05)
        factory = guard.protocol_factory(FakeHandler)
        quiet, quiet_transport = open_connection(factory)
        working, working_transport = open_connection(factory)
        finished = asyncio.Event()

        async def long_call(request):
            # It runs past the idle timeout: the quiet connection, opened with it, is dropped meanwhile.
            await _until(lambda: quiet_transport.closed)
            finished.set()

        await asyncio.wait_for(guard.middleware(FakeRequest(working.handler), long_call), 30)
        assert finished.is_set() and not working_transport.closed
        await asyncio.wait_for(_until(lambda: working_transport.closed), 30)  # idle after its call

        # A /health request does not hold the connection: only POSTs (calls, uploads) do.
        health, health_transport = open_connection(factory)

        async def stuck_answer(request):
            await _until(lambda: health_transport.closed)

        await asyncio.wait_for(guard.middleware(FakeRequest(health.handler, "GET", "/health"), stuck_answer), 30)

    run(main())


async def _until(predicate):
    while not predicate():
        await asyncio.sleep(0.01)
