"""The local backend: a pool of worker processes, one call at a time in each.

Not concurrent.futures.ProcessPoolExecutor: one dead worker breaks that whole
pool (BrokenProcessPool) and fails every call in it. Here each worker is its
own subprocess (child.py) on its own pipes, so a call that kills its process
(a segfault, memory past the cap, os._exit) fails alone; the calls in the
other processes go on, and a new process takes the dead one's place.
"""

import asyncio
import os
import signal
import struct
import sys

from .access_log import log_event
from .backend import CallFailed
from .limits import format_size

_LENGTH = struct.Struct(">Q")
START_TIMEOUT_S = 120  # a cold start on a loaded 2-core machine can take seconds; generous on purpose
RESTART_DELAYS_S = (0.1, 1, 5, 30)  # between failed starts of a replacement


class ChildDied(Exception):
    """The worker process ended while it was starting or running a call."""


class _Child:
    """One worker process and its pipes."""

    def __init__(self, process):
        self.process = process

    @classmethod
    async def start(cls, cap_bytes, cap_text):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "webpickle.server.child", str(cap_bytes or 0), cap_text or "",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            # Its own session: a Ctrl-C in the server's terminal must not interrupt
            # running calls (shutdown lets them finish).
            start_new_session=True)
        child = cls(process)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await child._read_frame()
        except BaseException:
            child.kill()
            raise
        return child

    @property
    def pid(self):
        return self.process.pid

    async def call(self, payload):
        """Send one request body; returns (raised, reply stream). Raises ChildDied."""
        try:
            self.process.stdin.write(_LENGTH.pack(len(payload)))
            self.process.stdin.write(payload)
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise ChildDied(await self._describe_death()) from None
        frame = await self._read_frame()
        return frame[0] == 1, frame[1:]

    async def _read_frame(self):
        try:
            header = await self.process.stdout.readexactly(_LENGTH.size)
            return await self.process.stdout.readexactly(_LENGTH.unpack(header)[0])
        except asyncio.IncompleteReadError:
            raise ChildDied(await self._describe_death()) from None

    async def _describe_death(self):
        status = await self.process.wait()
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            return f"died with {name}"
        return f"exited with status {status}"

    def kill(self):
        if self.process.returncode is None:
            self.process.kill()

    async def stop(self, timeout):
        """Close its stdin (it exits after its current call); kill it if it lingers."""
        if self.process.returncode is None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()


class ProcessPool:
    """size worker processes, each capped at max_memory bytes of address space (None: no cap)."""

    name = "processes"

    def __init__(self, size, max_memory=None):
        self.size = size
        self._cap = (max_memory, format_size(max_memory) if max_memory else None)
        self._idle = asyncio.Queue()
        self._children = set()
        self._replacing = set()
        self._closing = False

    async def start(self):
        """Start every process at once; raises if one cannot start (its error is on stderr)."""
        try:
            children = await asyncio.gather(*(_Child.start(*self._cap) for _ in range(self.size)))
        except ChildDied as exc:
            raise RuntimeError(f"a worker process {exc} before it was ready (its error is above); "
                               f"check that '{sys.executable} -m webpickle.server.child' can run") from None
        for child in children:
            self._children.add(child)
            self._idle.put_nowait(child)
        log_event("pool_started", processes=self.size, max_memory=self._cap[1],
                  pids=sorted(c.pid for c in children))

    async def run(self, payload, timeout):
        """Run one call in a free process; returns (raised, stream). Raises CallFailed."""
        child = await self._idle.get()
        try:
            async with asyncio.timeout(timeout):
                raised, stream = await child.call(payload)
        except ChildDied as exc:
            self._lost(child, str(exc))
            raise CallFailed(500, "WorkerCrashedError", self._death_message(str(exc), child.pid)) from None
        except TimeoutError:
            child.kill()
            self._lost(child, "was killed: its call ran past its timeout")
            raise CallFailed(504, "TimeoutError",
                             f"the call ran past its timeout of {timeout:g} s; its worker process was "
                             "stopped and replaced") from None
        except BaseException:
            # Cancelled (the server stopped waiting): the process may be mid-call,
            # and a half-read reply would corrupt the next one. Replace it.
            child.kill()
            self._lost(child, "was killed: its request was cancelled")
            raise
        self._idle.put_nowait(child)
        return raised, stream

    def _death_message(self, what, pid):
        text = f"the worker process running the call (pid {pid}) {what}; the pool replaced it"
        if self._cap[0] and what.startswith(("died with SIGKILL", "died with SIGABRT", "died with SIGSEGV")):
            text += (f". If the call allocates much memory, it may have exceeded --max-memory {self._cap[1]} "
                     "(each worker process is capped there)")
        return text

    def _lost(self, child, what):
        self._children.discard(child)
        log_event("worker_lost", pid=child.pid, what=what)
        if not self._closing:
            task = asyncio.ensure_future(self._replace())
            self._replacing.add(task)
            task.add_done_callback(self._replacing.discard)

    async def _replace(self):
        """Start a process in a lost one's place, retrying with growing delays until the pool closes."""
        attempt = 0
        while not self._closing:
            try:
                child = await _Child.start(*self._cap)
            except ChildDied as exc:
                delay = RESTART_DELAYS_S[min(attempt, len(RESTART_DELAYS_S) - 1)]
                log_event("worker_start_failed", what=str(exc), retry_in_s=delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if self._closing:
                await child.stop(1)
                return
            self._children.add(child)
            self._idle.put_nowait(child)
            log_event("worker_started", pid=child.pid)
            return

    def pids(self):
        return sorted(c.pid for c in self._children)

    async def close(self, timeout=10):
        """Stop every process; called once no call runs (after the server's graceful shutdown)."""
        self._closing = True
        for task in list(self._replacing):
            task.cancel()
        await asyncio.gather(*(child.stop(timeout) for child in list(self._children)), return_exceptions=True)
        self._children.clear()
        log_event("pool_closed")
