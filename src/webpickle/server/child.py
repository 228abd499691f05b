"""A worker process of the server's pool: runs one call at a time, for ever.

    python -m webpickle.server.child MEMORY_CAP_BYTES MEMORY_CAP_TEXT [FUNCTION_CACHE_BYTES]

(started by process_pool.py; MEMORY_CAP_BYTES 0 means no cap). It talks to
the server over its stdin and stdout, in frames (integers big-endian)::

    server -> child   8-byte length, 8-byte call id, then the call (its kinds: functions.py)
    child -> server   8-byte length, 8-byte call id, 1 status byte (functions.py: result,
                      raised, or missing: a function not loaded here), then the reply stream

and first sends one frame of length 0 and call id 0 when it is ready. The
server checks that each reply carries its call's id. What the calls print goes
to the server's stderr: fd 1 is pointed there once the protocol has its own
copy of the pipe.

Calls do not reach each other by accident: a process a call forks cannot speak
on the protocol's pipes (they become /dev/null in it), and every process a call
started is ended once the call returns: this process is a child subreaper, so
even descendants that left its process group (setsid) are found and killed.
"""

import os
import signal
import struct
import sys

HEADER = struct.Struct(">QQ")  # length, call id
READY_CALL_ID = 0
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def _protocol_pipes():
    """Private copies of stdin and stdout for the frames; fds 0 and 1 become /dev/null and stderr."""
    frames_in = open(os.dup(0), "rb")
    frames_out = open(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return frames_in, frames_out


def _mute_in_forked_children(*files):
    """In a process forked by a call, the protocol's fds become /dev/null: a forked child that
    returns to the loop below reads end-of-file and exits, and what it writes goes nowhere."""
    fds = [file.fileno() for file in files]

    def mute():
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in fds:
            os.dup2(devnull, fd, inheritable=False)
        os.close(devnull)

    os.register_at_fork(after_in_child=mute)


def _become_subreaper():
    """Orphaned descendants are re-parented to this process (not to init), so that
    _end_descendants finds them too. Linux only; elsewhere a descendant whose parent
    exits escapes (README: known limits)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _children(pid):
    """The pids of pid's children (Linux /proc; empty where it is missing)."""
    children = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as file:
                children += [int(child) for child in file.read().split()]
    except OSError:
        pass
    return children


def _descendants():
    found, frontier = [], _children(os.getpid())
    while frontier:
        found += frontier
        frontier = [grandchild for child in frontier for grandchild in _children(child)]
    return found


def _end_descendants():
    """Kill every process the call started, and reap them: a process the call left
    behind must not outlive it (nor hold what it opened)."""
    while True:  # the common case first, in one system call: no child at all
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child, hence no descendant: this process is their subreaper
        if pid == 0:
            break  # a child runs
    while pids := _descendants():
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)  # one at a time; orphans of the killed are re-parented here
        except ChildProcessError:
            return


def _read_frame(stream):
    """(call id, body), or None once the server closed the pipe: time to exit."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, call_id = HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return call_id, body


def main(argv):
    cap_bytes, cap_text = int(argv[1]), argv[2]
    frames_in, frames_out = _protocol_pipes()
    _mute_in_forked_children(frames_in, frames_out)
    _become_subreaper()
    # Imported before the cap, so that the cap bounds the calls, not start-up.
    from webpickle.server.limits import cap_address_space
    from webpickle.server.functions import MISSING, RAISED, RESULT, Loaded
    from webpickle.server.runner import run_loaded_call

    loaded = Loaded(int(argv[3])) if len(argv) > 3 else Loaded()
    if cap_bytes:
        cap_address_space(cap_bytes)
    frames_out.write(HEADER.pack(0, READY_CALL_ID))
    frames_out.flush()
    while (frame := _read_frame(frames_in)) is not None:
        call_id, payload = frame
        del frame
        load_call = loaded.call_loader(payload)
        if load_call is None:
            status, stream = MISSING, b""
        else:
            raised, stream = run_loaded_call(load_call, cap_text if cap_bytes else None)
            status = RAISED if raised else RESULT
        del payload, load_call  # their memory is free for the next call
        _end_descendants()
        frames_out.write(HEADER.pack(len(stream) + 1, call_id) + bytes((status,)))
        frames_out.write(stream)
        frames_out.flush()
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
