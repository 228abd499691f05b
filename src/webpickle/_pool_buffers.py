"""Streams and their protocol-5 buffers across the Pyodide/JavaScript boundary,
for both sides of the Web Worker pool.

A stream travels as a JS Uint8Array; its out-of-band buffers (pickle.PickleBuffer,
NumPy arrays) as separate Uint8Arrays that postMessage transfers: each is copied
once out of one Pyodide's memory and once into the other's.
"""

import io
import pickle

import webpickle

# Buffers (and bytes) this runtime copied to and from JavaScript; tests count copies with it.
stats = {"copied_out": 0, "bytes_out": 0, "copied_in": 0, "bytes_in": 0}


def copy_out(view, take_buffer=None):
    """Copy a contiguous buffer out of this Pyodide's memory into a JS Uint8Array: one copy."""
    import js

    target = take_buffer(view.nbytes) if take_buffer else js.Uint8Array.new(view.nbytes)
    target.assign(view)
    stats["copied_out"] += 1
    stats["bytes_out"] += view.nbytes
    return target


def copy_in(array):
    """Copy a JS Uint8Array into this Pyodide's memory, as a writable memoryview: one copy."""
    view = array.to_memoryview()
    stats["copied_in"] += 1
    stats["bytes_in"] += view.nbytes
    return view


# What reader() reads ahead for the unpickler's opcodes: a few calls into JS per stream.
_READ_AHEAD = 64 * 2**10


class _JsArrayReader(io.RawIOBase):
    """A JS Uint8Array read as a binary file, each read copied straight from JS into the reader's buffer."""

    def __init__(self, array):
        self._array, self._position, self._length = array, 0, array.length

    def readable(self):
        return True

    def readinto(self, buffer):
        target = memoryview(buffer).cast("B")
        n = min(len(target), self._length - self._position)
        if n > 0:
            self._array.subarray(self._position, self._position + n).assign_to(target[:n])
            self._position += n
        return n


def reader(array):
    """A JS Uint8Array as a buffered binary file, for pickle.load: an unpickler reads a big value
    (a bytes object of a few MB) into the object it makes, so the array is copied into this
    Pyodide's memory once, not twice (to_bytes(), then the object)."""
    return io.BufferedReader(_JsArrayReader(array), buffer_size=_READ_AHEAD)


def dumps(obj, take_buffer=None):
    """obj as (a JS Uint8Array stream, [its out-of-band buffers as JS Uint8Arrays]).

    take_buffer(n), when given, supplies the Uint8Array each buffer is copied into.
    """
    from pyodide.ffi import to_js

    buffers = []

    def out_of_band(picklebuffer):
        buffers.append(copy_out(picklebuffer.raw(), take_buffer))
        return False

    return to_js(webpickle.dumps(obj, protocol=5, buffer_callback=out_of_band)), buffers


def loads(payload, buffers):
    """Unpickle a JS Uint8Array stream; buffers is a JS array of Uint8Arrays, or None for none."""
    return pickle.loads(payload.to_bytes(), buffers=[copy_in(b) for b in buffers] if buffers else None)
