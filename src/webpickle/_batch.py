"""What the Web Worker pool and the remote executor share: map() and
imap_unordered() over their own submit, with the items read lazily and a
bounded number of calls in flight, chunks, progress reports and argument
checks. Each executor provides

    _timeout                  its default timeout (seconds or None)
    _cache                    its default for cache= (send each function once)
    _big_function_bytes       the size past which a function's stream is warned about
    _in_flight_limit()        how many calls a map keeps in flight at once
    _new_future()             a future of the kind its calls settle (woken promptly)
    _submit_call(function, args, timeout, on_finish) -> a future

where function is a callable, pickled with each call, or a
_function_stream.FunctionStream, pickled once for the whole map; on_finish()
(or None) must be called once, when the call ends.
"""

import collections
import functools
import itertools
import sys

from . import _function_stream


def apply_chunk(function, items):
    """map()'s chunks: run function over several items in one call (importable by the receiver)."""
    return [function(item) for item in items]


def check_timeout(timeout):
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    return timeout


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, not {value!r}")
    return value


class TextProgress:
    """progress=True: a one-line text bar, redrawn in place (works in notebooks too).
    Without a total (an iterable of unknown length) it counts instead."""

    def __call__(self, done, total):
        if total is None:
            print(f"\r{done} done", end="", file=sys.stdout, flush=True)
            return
        width = 30
        filled = width * done // total if total else width
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stdout, flush=True)


def _length(items):
    """len(items), or None for an iterable that does not know it (a generator, say)."""
    try:
        return len(items)
    except TypeError:
        return None


class BatchMixin:
    """map() and imap_unordered() for an executor (see the module's docstring)."""

    _DEFAULT = object()  # "the executor's own timeout"

    async def map(self, fn, items, *, chunksize=1, timeout=_DEFAULT, progress=None, cache=None):
        """[fn(item) for item in items], computed elsewhere; results in order.

        items is read lazily, a few calls ahead of the results (any iterable,
        a generator included). chunksize items travel per call. timeout is per
        call, in seconds (default: the executor's). progress(done, total) is
        called as items finish (total is None when items has no len());
        progress=True prints a text bar. cache: send fn once per worker and
        refer to it by digest afterwards (default: the executor's cache=).
        On the first error the calls in flight are cancelled, no more items
        are read, and the error is raised.
        """
        results = []
        async for values in self._stream(fn, items, chunksize, timeout, progress, cache, ordered=True):
            results.extend(values)
        return results

    async def imap_unordered(self, fn, items, *, chunksize=1, timeout=_DEFAULT, progress=None, cache=None):
        """Yield fn(item) for each item as the calls finish (options as for map)."""
        async for values in self._stream(fn, items, chunksize, timeout, progress, cache, ordered=False):
            for value in values:
                yield value

    def _function_for_calls(self, fn, cache):
        """fn as the calls of one map send it: pickled once (a FunctionStream) or, with cache off, as is."""
        if not (self._cache if cache is None else cache):
            return fn
        return _function_stream.pickle_function(fn, warn_above=self._big_function_bytes)

    async def _stream(self, fn, items, chunksize, timeout, progress, cache, ordered):
        """Yield the lists of results of the calls, in the items' order when ordered."""
        check_positive_int("chunksize", chunksize)
        timeout = self._timeout if timeout is self._DEFAULT else check_timeout(timeout)
        total = _length(items)
        report = TextProgress() if progress is True else progress or None
        function = self._function_for_calls(fn if chunksize == 1 else functools.partial(apply_chunk, fn), cache)
        if chunksize == 1:
            calls = ((item,) for item in items)
        else:
            source = iter(items)
            calls = iter(lambda: (list(itertools.islice(source, chunksize)),), ([],))
        limit = self._in_flight_limit()
        done = [0]

        def finished(n):
            done[0] += n
            report(done[0], total)

        if report:
            report(0, total)
        flight = _Flight(self._new_future)
        next_index = next_to_yield = 0
        try:
            while True:
                while len(flight) < limit:
                    args = next(calls, None)
                    if args is None:
                        break
                    n = 1 if chunksize == 1 else len(args[0])
                    future = self._submit_call(function, args, timeout, report and (lambda n=n: finished(n)))
                    flight.add(next_index, future)
                    next_index += 1
                if not flight:
                    return
                if ordered:
                    while next_to_yield not in flight.results:
                        flight.results.update(await flight.next_done())
                    result = flight.take(next_to_yield)
                    next_to_yield += 1
                    yield result if chunksize > 1 else (result,)
                else:
                    for _, result in await flight.next_done():
                        yield result if chunksize > 1 else (result,)
        finally:
            flight.cancel_all()


class _Flight:
    """The calls of one map that were sent and whose results were not yet handed on.

    Futures report to a deque when they finish; next_done() waits for one on a
    future of the executor's kind, so that the pool's prompt wake-up (see
    _task_future.py) reaches the map's coroutine as well. A call's exception
    is raised as soon as the call ends, whatever its place in the order.
    """

    def __init__(self, new_future):
        self._new_future = new_future
        self._pending = {}  # future -> index, of calls not finished
        self.results = {}  # index -> result, of finished calls not handed on (map's order)
        self._finished = collections.deque()
        self._waiter = None

    def __len__(self):
        return len(self._pending) + len(self.results)

    def add(self, index, future):
        self._pending[future] = index
        future.add_done_callback(self._on_done)

    def _on_done(self, future):
        if future not in self._pending:
            return  # cancelled by cancel_all
        self._finished.append(future)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_done(self):
        """[(index, result)] of the calls finished since the last time; raises a call's exception."""
        while not self._finished:
            self._waiter = self._new_future()
            await self._waiter
        ready = []
        while self._finished:
            future = self._finished.popleft()
            index = self._pending.pop(future)
            ready.append((index, future.result()))  # raises the call's exception, or CancelledError
        return ready

    def take(self, index):
        return self.results.pop(index)

    def cancel_all(self):
        pending, self._pending = self._pending, {}
        for future in pending:
            future.cancel()  # a no-op for the finished ones
