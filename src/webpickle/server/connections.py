"""Open connections: how many, how long they may idle, and running out of descriptors.

A connection is busy while a POST is handled on it (a call, or a function's
upload: signed work, from its last header to its answer) and idle otherwise: waiting for a request's headers,
between requests, or while a quick answer (/health, a refusal) is written. An
idle connection is dropped --idle-timeout seconds after it opened or its last
request was handled, a busy one never (a stalled body is the body reader's
business: auth.read_body); and once it sent more than UNHANDLED_BYTES_LIMIT
while idle since its last answer (request heads no handler took yet:
pipelined, padded, or sent to a client that does not read its answers), so that
what a connection without the key makes the server hold stays small. At --max-connections, a new connection takes the
place of the one idle the longest; when every connection is busy it is closed
at once. Running out of descriptors (EMFILE in accept) is logged once a minute,
not once per attempt.
"""

import asyncio
import errno
import resource
import time

from aiohttp import web

from .access_log import log_event

# Descriptors the server keeps for itself beyond its connections: the listening
# socket, the log, the event loop's own, and each worker process's pipes.
RESERVED_DESCRIPTORS = 64
DESCRIPTORS_PER_WORKER = 6
DEFAULT_MAX_CONNECTIONS = 1024
# More than one read of the event loop (256 KiB), so that a head and the start of its body
# arriving together always pass; far less than aiohttp would queue (32 heads of up to 1 MiB).
UNHANDLED_BYTES_LIMIT = 1 << 20
_EXHAUSTED_LOG_EVERY_S = 60


def plan_descriptors(max_connections, processes):
    """(max connections, warning or None): the limit asked for (default: as many as
    RLIMIT_NOFILE allows, up to DEFAULT_MAX_CONNECTIONS), after raising the soft limit
    as far as needed and allowed."""
    needed_beyond = RESERVED_DESCRIPTORS + DESCRIPTORS_PER_WORKER * processes
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = (max_connections or DEFAULT_MAX_CONNECTIONS) + needed_beyond
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    fits = wanted if soft == resource.RLIM_INFINITY else soft - needed_beyond
    if max_connections is None:
        return max(1, min(DEFAULT_MAX_CONNECTIONS, fits)), None
    if max_connections > fits:
        return max_connections, (f"--max-connections {max_connections} is more than the descriptor limit allows "
                                 f"(RLIMIT_NOFILE {soft}, of which {needed_beyond} are kept for the server and "
                                 f"its workers): past {max(fits, 0)} connections, new ones are refused by the "
                                 "system; raise the limit (ulimit -n) or lower --max-connections")
    return max_connections, None


class _Connection(asyncio.Protocol):
    """aiohttp's protocol for one connection, watched: busy or idle since when."""

    def __init__(self, guard, handler):
        self.guard, self.handler = guard, handler
        self.transport = None
        self.busy = 0
        self.unhandled_bytes = 0  # received while idle, since a handler last started
        self.idle_since = time.monotonic()
        self._timer = None

    # asyncio.Protocol, passed on to aiohttp's RequestHandler
    def connection_made(self, transport):
        self.transport = transport
        self.guard._opened(self)
        self.handler.connection_made(transport)

    def data_received(self, data):
        if not self.busy:
            self.unhandled_bytes += len(data)
            if self.unhandled_bytes > UNHANDLED_BYTES_LIMIT:
                self.drop()
                return
        self.handler.data_received(data)

    def eof_received(self):
        return self.handler.eof_received()

    def pause_writing(self):
        self.handler.pause_writing()

    def resume_writing(self):
        self.handler.resume_writing()

    def connection_lost(self, exc):
        self.guard._closed(self)
        self.handler.connection_lost(exc)

    # the idle timer
    def watch_idle(self, timeout):
        self.cancel_idle_watch()
        self._timer = asyncio.get_running_loop().call_later(timeout, self._check_idle, timeout)

    def cancel_idle_watch(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_idle(self, timeout):
        """One timer per connection, moved on rather than reset at each request."""
        self._timer = None
        left = self.idle_since + timeout - time.monotonic()
        if self.busy:
            self.watch_idle(timeout)
        elif left > 0:
            self.watch_idle(left)
        else:
            self.drop()

    def drop(self):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class _Refused(asyncio.Protocol):
    """A connection over the limit when every open one is busy: closed at once."""

    def connection_made(self, transport):
        transport.close()


class ConnectionGuard:
    """Wraps aiohttp's protocol factory (a web.Server) to count, time and limit connections."""

    def __init__(self, max_connections, idle_timeout):
        self.max_connections, self.idle_timeout = max_connections, idle_timeout
        self._open = set()
        self._by_handler = {}
        self._exhausted_logged_at = None
        self._exhausted_since_log = 0

    def __len__(self):
        return len(self._open)

    def protocol_factory(self, make_handler):
        def factory():
            if len(self._open) >= self.max_connections and not self._evict_idlest():
                return _Refused()
            return _Connection(self, make_handler())

        return factory

    def _evict_idlest(self):
        idle = [c for c in self._open if not c.busy]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c.idle_since)
        self._forget(victim)  # its slot is free now, before its transport finishes closing
        victim.drop()
        return True

    def _opened(self, connection):
        self._open.add(connection)
        self._by_handler[connection.handler] = connection
        connection.watch_idle(self.idle_timeout)

    def _closed(self, connection):
        self._forget(connection)

    def _forget(self, connection):
        connection.cancel_idle_watch()
        self._open.discard(connection)
        self._by_handler.pop(connection.handler, None)

    @web.middleware
    async def middleware(self, request, handler):
        """Marks the request's connection busy while a call is handled, and restarts its
        idle clock and byte count once any request was."""
        connection = self._by_handler.get(request.protocol)
        if connection is None:
            return await handler(request)
        is_call = request.method == "POST"  # signed work: a call, or a function's upload
        connection.busy += is_call
        try:
            return await handler(request)
        finally:
            connection.busy -= is_call
            connection.unhandled_bytes = 0
            connection.idle_since = time.monotonic()

    def exception_handler(self, loop, context):
        """The event loop's exception handler: accept() failing for want of descriptors is
        logged once a minute with a count; everything else as asyncio would."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM) \
                and "accept" in context.get("message", ""):
            self._exhausted_since_log += 1
            now = time.monotonic()
            if self._exhausted_logged_at is None or now - self._exhausted_logged_at >= _EXHAUSTED_LOG_EVERY_S:
                log_event("descriptors_exhausted", what=str(exc), times_since_last_line=self._exhausted_since_log,
                          open_connections=len(self._open),
                          message="new connections wait in the listen queue or are refused until descriptors "
                                  "are free; raise the limit (ulimit -n) or lower --max-connections")
                self._exhausted_logged_at, self._exhausted_since_log = now, 0
            return
        loop.default_exception_handler(context)


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a ConnectionGuard."""

    def __init__(self, runner, guard, host, port, **kwargs):
        super().__init__(runner, **kwargs)
        self._guard, self._host, self._port = guard, host, port

    @property
    def name(self):
        return f"http://{self._host}:{self._port}"

    async def start(self):
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(self._runner.server), self._host, self._port, backlog=self._backlog)
