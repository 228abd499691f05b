"""The local backend: a pool of worker processes, one call at a time in each.

Not concurrent.futures.ProcessPoolExecutor: one dead worker breaks that whole
pool (BrokenProcessPool) and fails every call in it. Here each worker is its
own subprocess (child.py) on its own pipes, so a call that kills its process
(a segfault, memory past the cap, os._exit) fails alone; the calls in the
other processes go on, and a new process takes the dead one's place.
"""

import asyncio
import os
import secrets
import signal
import sys

from webpickle._function_cache import DEFAULT_CACHE_BYTES

from .access_log import log_event
from .backend import CallFailed
from .child import HEADER, READY_CALL_ID
from .functions import MISSING, RAISED, call_by_digest, whole_call
from .limits import format_size

START_TIMEOUT_S = 120  # a cold start on a loaded 2-core machine can take seconds; generous on purpose
RESTART_DELAYS_S = (0.1, 0.5, 1, 2, 5, 10)  # between failed starts of a replacement; the last repeats
_JOINED_FRAME_BYTES = 1 << 20  # frames up to this size go to the pipe in one write (_frame_writes)


def _frame_writes(header, parts, length):
    """What to write to the pipe for one frame: a small frame in one write, as each write to
    a pipe its reader waits on wakes that process (a frame written header and parts apart
    woke the worker once per piece); a large one part by part, so that its body is not
    copied whole once more (it needs several reads of the pipe anyway)."""
    if length <= _JOINED_FRAME_BYTES:
        return (b"".join((header, *parts)),)
    return (header, *parts)


class ChildDied(Exception):
    """The worker process ended while it was starting or running a call."""


class ChildConfused(Exception):
    """The worker process answered with a frame that is not its call's reply."""


class _Child:
    """One worker process and its pipes. The process leads its own process group (and
    session: a Ctrl-C in the server's terminal must not interrupt running calls), so
    killing the group kills what a call started along with it."""

    def __init__(self, process):
        self.process = process
        self.functions = set()  # digests sent to it (it may have evicted some since: it then says so)
        self.busy = False
        self.exited = None  # a future set when the process ends, watched from start on

    @classmethod
    async def start(cls, cap_bytes, cap_text, function_cache_bytes):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "webpickle.server.child", str(cap_bytes or 0), cap_text or "",
            str(function_cache_bytes),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True)
        child = cls(process)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                call_id, _ = await child._read_frame()
            if call_id != READY_CALL_ID:
                raise ChildConfused(f"sent call id {call_id} instead of being ready")
        except BaseException:
            child.kill()
            raise
        child.exited = asyncio.ensure_future(process.wait())
        return child

    @property
    def pid(self):
        return self.process.pid

    async def call(self, parts):
        """Send one call, its frame body in parts (functions.py); returns (status, reply stream).
        Raises ChildDied or ChildConfused."""
        call_id = secrets.randbits(63) + 1  # never READY_CALL_ID; random, so no old frame can pass for the reply
        try:
            length = sum(len(part) for part in parts)
            for chunk in _frame_writes(HEADER.pack(length, call_id), parts, length):
                self.process.stdin.write(chunk)
            await self.process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise ChildDied(await self._describe_death()) from None
        _, frame = await self._read_frame(expected=call_id)
        return frame[0], frame[1:]

    async def call_function(self, digest, stream, arguments):
        """A call of the function digest: its stream goes along unless this process was sent it."""
        status, reply = await self.call(call_by_digest(digest, None if digest in self.functions else stream,
                                                       arguments))
        if status == MISSING:  # evicted there: nothing ran; once more, with the stream
            status, reply = await self.call(call_by_digest(digest, stream, arguments))
        self.functions.add(digest)
        return status, reply

    async def _read_frame(self, expected=None):
        try:
            header = await self.process.stdout.readexactly(HEADER.size)
            length, call_id = HEADER.unpack(header)
            if expected is not None and (call_id != expected or length == 0):
                raise ChildConfused(f"answered with a frame for call {call_id:#x}, not for its call {expected:#x}")
            return call_id, await self.process.stdout.readexactly(length)
        except asyncio.IncompleteReadError:
            raise ChildDied(await self._describe_death()) from None

    async def _describe_death(self):
        await self.process.wait()
        return self.describe_exit()

    def describe_exit(self):
        status = self.process.returncode
        if status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            return f"died with {name}"
        return f"exited with status {status}"

    def kill(self):
        """Kill the process and its group: what a call started dies with it (also once the
        process itself is gone: the group outlives its leader while a member lives)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

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
    """size worker processes, each capped at max_memory bytes of address space (None: no cap).

    The pool keeps its size: a process that dies, running a call or idle, is
    replaced at once, and a replacement that cannot start (no descriptors left,
    say) is retried with growing delays, shown meanwhile by problems() (the
    server's /health says "degraded").
    """

    name = "processes"

    def __init__(self, size, max_memory=None, function_cache_bytes=DEFAULT_CACHE_BYTES):
        self.size = size
        self._cap = (max_memory, format_size(max_memory) if max_memory else None)
        self._function_cache_bytes = function_cache_bytes
        self._idle = asyncio.Queue()
        self._children = set()
        self._replacing = set()
        self._start_failure = None  # why the last start of a replacement failed, until one succeeds
        self._closing = False

    async def start(self):
        """Start every process at once; raises if one cannot start (its error is on stderr)."""
        try:
            children = await asyncio.gather(*(self._start_child() for _ in range(self.size)))
        except ChildDied as exc:
            raise RuntimeError(f"a worker process {exc} before it was ready (its error is above); "
                               f"check that '{sys.executable} -m webpickle.server.child' can run") from None
        for child in children:
            self._adopt(child)
        log_event("pool_started", processes=self.size, max_memory=self._cap[1],
                  pids=sorted(c.pid for c in children))

    def _start_child(self):
        return _Child.start(*self._cap, self._function_cache_bytes)

    def _adopt(self, child):
        self._children.add(child)
        child.exited.add_done_callback(lambda _: self._exited(child))
        self._idle.put_nowait(child)

    def _exited(self, child):
        """A process ended: when it was idle, nobody else will notice, so replace it now."""
        if not child.busy and not self._closing and child in self._children:
            self._lost(child, f"{child.describe_exit()} while idle")

    def problems(self):
        """Why the pool cannot run as many calls as it should (empty when it can)."""
        missing = self.size - len(self._children)
        if missing <= 0 or self._start_failure is None:
            return []
        return [f"{missing} of {self.size} worker processes are missing: starting a replacement failed "
                f"({self._start_failure}); retrying"]

    async def run(self, payload, timeout, function=None):
        """Run one call in a free process; returns (raised, stream). Raises CallFailed.

        timeout counts from now, the wait for a free process included. function:
        (digest, stream) when payload pickles (args, kwargs) only."""
        child = None
        try:
            async with asyncio.timeout(timeout):
                child = await self._take()
                if function is None:
                    status, stream = await child.call(whole_call(payload))
                else:
                    status, stream = await child.call_function(*function, payload)
        except ChildDied as exc:
            self._lost(child, str(exc))
            raise CallFailed(500, "WorkerCrashedError", self._death_message(str(exc), child.pid)) from None
        except ChildConfused as exc:
            self._lost(child, f"was killed: it {exc}")
            raise CallFailed(500, "WorkerCrashedError",
                             f"the worker process running the call (pid {child.pid}) {exc} (did a process the "
                             "call started write on its pipe?); it was stopped and replaced") from None
        except TimeoutError:
            if child is None:
                raise CallFailed(504, "TimeoutError",
                                 f"the call waited past its timeout of {timeout:g} s for a free worker process "
                                 f"(all {self.size} were busy) and never ran") from None
            self._lost(child, "was killed: its call ran past its timeout")
            raise CallFailed(504, "TimeoutError",
                             f"the call ran past its timeout of {timeout:g} s (counted from its arrival, the wait "
                             "for a free worker process included); its worker process was stopped and "
                             "replaced") from None
        except BaseException:
            # Cancelled (the client went away, or the server stopped waiting): the process
            # may be mid-call, and a half-read reply would corrupt the next one. Replace it.
            if child is not None:
                self._lost(child, "was killed: its request was cancelled (the client disconnected?)")
            else:
                log_event("call_cancelled", what="its request was cancelled (the client disconnected?) while it "
                                                 "waited for a free worker process")
            raise
        child.busy = False
        self._idle.put_nowait(child)
        if status == MISSING:
            raise CallFailed(500, "WorkerError", "a worker process lost a function it had just been sent")
        return status == RAISED, stream

    async def _take(self):
        """A free, living process, marked busy (waiting for one if all are busy)."""
        while True:
            child = await self._idle.get()
            if child in self._children and child.process.returncode is None:
                child.busy = True
                return child

    def _death_message(self, what, pid):
        text = f"the worker process running the call (pid {pid}) {what}; the pool replaced it"
        if self._cap[0] and what.startswith(("died with SIGKILL", "died with SIGABRT", "died with SIGSEGV")):
            text += (f". If the call allocates much memory, it may have exceeded --max-memory {self._cap[1]} "
                     "(each worker process is capped there)")
        return text

    def _lost(self, child, what):
        child.kill()  # what its calls started goes with it
        if child not in self._children:
            return  # already replaced
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
                child = await self._start_child()
            except (ChildDied, ChildConfused, OSError, TimeoutError) as exc:
                delay = RESTART_DELAYS_S[min(attempt, len(RESTART_DELAYS_S) - 1)]
                self._start_failure = str(exc) or type(exc).__name__
                log_event("worker_start_failed", what=self._start_failure, retry_in_s=delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if self._closing:
                await child.stop(1)
                return
            self._adopt(child)
            if len(self._children) >= self.size:
                self._start_failure = None
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
