"""Loaded functions kept by digest where calls run: a Web Worker of the pool,
a worker process of the server, a Dask worker.

Bounded by the bytes of the streams the functions were loaded from, least
recently used first out. The entry just loaded is always kept, even alone
past the bound: evicting it would make every call of a big function miss.
Calls with one digest share the loaded function, and so its globals, as
calls in one process do.

Each change of the entries is one step (an assignment, a popitem), and their
total size is summed when needed rather than kept: the pool may interrupt a
task (KeyboardInterrupt) anywhere, and no half-made change may survive it.
"""

import collections
import pickle
import threading

DEFAULT_CACHE_BYTES = 256 * 2**20


class FunctionCache:
    def __init__(self, max_bytes=DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._entries = collections.OrderedDict()  # digest -> (function, stream size)
        self._lock = threading.Lock()  # Dask runs tasks in threads
        self.loads = self.evictions = 0

    def __len__(self):
        return len(self._entries)

    def __contains__(self, digest):
        return digest in self._entries

    def get(self, digest):
        """The function loaded for digest (marked as just used), or None."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            self._entries.move_to_end(digest)
            return entry[0]

    def load(self, digest, stream, size=None):
        """Unpickle stream, keep it under digest and return it (an already loaded one wins).
        stream: bytes-like, or a binary file holding size bytes (read to the stream's end)."""
        function = self.get(digest)
        if function is not None:
            return function
        if size is None:
            function, size = pickle.loads(stream), len(stream)
        else:
            function = pickle.load(stream)
        with self._lock:
            if digest not in self._entries:
                self._entries[digest] = (function, size)
                self.loads += 1
                self._evict_past_bound()
            return self._entries[digest][0]

    def resize(self, max_bytes):
        with self._lock:
            self.max_bytes = max_bytes
            self._evict_past_bound()

    def _evict_past_bound(self):
        while len(self._entries) > 1 and sum(size for _, size in self._entries.values()) > self.max_bytes:
            self._entries.popitem(last=False)
            self.evictions += 1

    def clear(self):
        with self._lock:
            self._entries.clear()
