"""What the Web Worker pool and the remote executor share: map() and
imap_unordered() over their own submit, chunks, progress reports and
argument checks. Each executor provides

    _submit_call(fn, args, timeout, on_finish) -> an asyncio future

where on_finish() (or None) must be called once, when the call ends.
"""

import asyncio
import sys


def apply_chunk(function, items):
    """map()'s chunks: run function over several items in one call (importable by the receiver)."""
    return [function(item) for item in items]


def check_timeout(timeout):
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    return timeout


class TextProgress:
    """progress=True: a one-line text bar, redrawn in place (works in notebooks too)."""

    def __call__(self, done, total):
        width = 30
        filled = width * done // total if total else width
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stdout, flush=True)


class BatchMixin:
    """map() and imap_unordered() for an executor with _submit_call and _timeout."""

    _DEFAULT = object()  # "the executor's own timeout"

    async def map(self, fn, items, *, chunksize=1, timeout=_DEFAULT, progress=None):
        """[fn(item) for item in items], computed elsewhere; results in order.

        chunksize items travel per call. timeout is per call, in seconds
        (default: the executor's). progress(done, total) is called as items
        finish; progress=True prints a text bar. On the first error the calls
        not finished are cancelled and the error is raised.
        """
        futures = self._submit_all(fn, items, chunksize, timeout, progress)
        results = []
        try:
            for future in futures:
                result = await future
                results.extend(result) if chunksize > 1 else results.append(result)
        finally:
            for future in futures:
                future.cancel()  # a no-op for the finished ones
        return results

    async def imap_unordered(self, fn, items, *, chunksize=1, timeout=_DEFAULT, progress=None):
        """Yield fn(item) for each item as the calls finish (options as for map)."""
        futures = self._submit_all(fn, items, chunksize, timeout, progress)
        try:
            for next_done in asyncio.as_completed(futures):
                result = await next_done
                for item in result if chunksize > 1 else (result,):
                    yield item
        finally:
            for future in futures:
                future.cancel()

    def _submit_all(self, fn, items, chunksize, timeout, progress):
        if not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"chunksize must be a positive int, not {chunksize!r}")
        timeout = self._timeout if timeout is self._DEFAULT else check_timeout(timeout)
        if chunksize == 1:
            calls = [(fn, (item,)) for item in items]
        else:
            items = list(items)
            calls = [(apply_chunk, (fn, items[i:i + chunksize])) for i in range(0, len(items), chunksize)]
        sizes = [1 if chunksize == 1 else len(args[1]) for _, args in calls]
        report = TextProgress() if progress is True else progress
        if not report:
            return [self._submit_call(function, args, timeout, None) for function, args in calls]
        total, done = sum(sizes), [0]
        report(0, total)

        def finished(n):
            done[0] += n
            report(done[0], total)

        return [self._submit_call(function, args, timeout, lambda n=n: finished(n))
                for (function, args), n in zip(calls, sizes)]
