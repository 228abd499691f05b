"""readline() on a subprocess's pipe with a time limit, for the tests that wait
for a child to print a line (its URL, its scheduler): a child that hangs
silently then fails the test at once instead of holding CI to its limit."""

import queue
import threading


def readline_within(stream, timeout_s, what="a line"):
    """stream.readline(), or TimeoutError naming `what` after timeout_s seconds.

    The read runs in a daemon thread: a pipe read cannot be interrupted, and the
    caller kills the child on the error, which ends the read with EOF.
    """
    lines = queue.Queue(maxsize=1)
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        raise TimeoutError(f"no {what} within {timeout_s} s") from None
