"""A worker process of the server's pool: runs one call at a time, for ever.

    python -m webpickle.server.child MEMORY_CAP_BYTES MEMORY_CAP_TEXT

(started by process_pool.py; MEMORY_CAP_BYTES 0 means no cap). It talks to
the server over its stdin and stdout, in frames:

    server -> child   8-byte big-endian length, then the request body
    child -> server   8-byte big-endian length, 1 byte raised (0 or 1), then the reply stream

and first sends one empty frame (length 0) when it is ready. What the calls
print goes to the server's stderr: fd 1 is pointed there once the protocol
has its own copy of the pipe.
"""

import os
import struct
import sys

_LENGTH = struct.Struct(">Q")


def _protocol_pipes():
    """Private copies of stdin and stdout for the frames; fds 0 and 1 become /dev/null and stderr."""
    frames_in = open(os.dup(0), "rb")
    frames_out = open(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return frames_in, frames_out


def _read_frame(stream):
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None  # the server closed the pipe: time to exit
    (length,) = _LENGTH.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return body


def main(argv):
    cap_bytes, cap_text = int(argv[1]), argv[2]
    frames_in, frames_out = _protocol_pipes()
    # Imported before the cap, so that the cap bounds the calls, not start-up.
    from webpickle.server.limits import cap_address_space
    from webpickle.server.runner import run_call

    if cap_bytes:
        cap_address_space(cap_bytes)
    frames_out.write(_LENGTH.pack(0))
    frames_out.flush()
    while (payload := _read_frame(frames_in)) is not None:
        raised, stream = run_call(payload, cap_text if cap_bytes else None)
        del payload  # its memory is free for the next call
        frames_out.write(_LENGTH.pack(len(stream) + 1) + (b"\x01" if raised else b"\x00"))
        frames_out.write(stream)
        frames_out.flush()
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
