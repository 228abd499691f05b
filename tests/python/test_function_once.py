"""Functions pickled once and named by digest, the caches that keep them where
calls run, streaming map()/imap_unordered(), and webpickle.explain (issue 16).

Natively and in Pyodide (tests/pyodide runner). The map() tests run an
in-process stand-in for the pool and the server, so the shared logic of
_batch.py is tested without workers; they need asyncio.run, which the
synchronous Pyodide runner cannot give them, so they are native here and run
in Pyodide with real workers in tests/workers/test_send_once.py.
"""

import asyncio
import pickle
import sys
import warnings

import pytest
import webpickle
from webpickle import _function_stream
from webpickle._batch import BatchMixin
from webpickle._function_cache import FunctionCache

from support import define_in_main

CELL = """
import os
WEIGHTS = bytes(range(256)) * 4096
SCALE = 3
def helper(x):
    return x * SCALE
def predict(x, offset=1):
    return helper(WEIGHTS[x]) + offset + len(os.sep)
"""

DIGEST = """
import sys, webpickle
from webpickle import _function_stream
ns = {"__name__": "__main__"}
exec(compile(sys.stdin.read(), "<cell>", "exec"), ns)
print(_function_stream.pickle_function(ns["predict"], warn_above=None).digest)
"""


@pytest.mark.native_only(reason="compares the digests of two fresh interpreters with different hash seeds")
def test_a_functions_digest_is_the_same_in_two_processes():
    import os
    import subprocess

    digests = []
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", DIGEST], input=CELL, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120)
        assert done.returncode == 0, done.stderr
        digests.append(done.stdout.strip())
    here = _function_stream.pickle_function(define_in_main(CELL, "predict"), warn_above=None).digest
    assert digests == [here, here] and len(here) == 64


def test_a_changed_definition_or_captured_value_is_another_digest():
    digest = lambda source: _function_stream.pickle_function(define_in_main(source, "predict"), None).digest
    assert digest(CELL) == digest(CELL)
    assert digest(CELL.replace("SCALE = 3", "SCALE = 4")) != digest(CELL)
    assert digest(CELL.replace("+ offset", "- offset")) != digest(CELL)


def test_a_small_streams_digest_is_remembered_a_big_ones_is_not(monkeypatch):
    import hashlib

    hashed = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda data: hashed.append(len(data)) or real_sha256(data))
    small = webpickle.dumps(define_in_main("def remembered(): return 'r'", "remembered"))
    big = bytes(200_000)
    for stream in (small, bytes(small), big, bytes(big)):  # equal streams, distinct objects
        assert _function_stream.digest_of(stream) == real_sha256(stream).hexdigest()
    assert hashed == [len(small), len(big), len(big)], "the small stream was hashed once; the big one each time"
    for i in range(300):
        _function_stream.digest_of(str(i).encode())
    assert len(_function_stream._recent_digests) <= 256, "the remembered digests are bounded"


def test_a_cache_loads_from_a_binary_file_of_a_given_size():
    import io

    stream = webpickle.dumps(define_in_main("def from_file(): return 'file'", "from_file"))
    cache = FunctionCache(max_bytes=len(stream))
    assert cache.load("f", io.BytesIO(stream), len(stream))() == "file"
    assert cache.load("f", io.BytesIO(b"never read"), 10)() == "file", "a loaded digest is not read again"
    assert cache._entries["f"][1] == len(stream), "its size counts towards the bound"


def test_the_cache_evicts_the_least_recently_used_past_its_bytes():
    streams = {name: webpickle.dumps(define_in_main(f"def {name}(): return {name!r}", name)) for name in "abc"}
    cache = FunctionCache(max_bytes=2 * max(len(s) for s in streams.values()))
    for name in "ab":
        assert cache.load(name, streams[name])() == name
    assert cache.get("a")() == "a"  # a is now the most recently used
    cache.load("c", streams["c"])
    assert "b" not in cache and "a" in cache and "c" in cache
    assert (cache.loads, cache.evictions) == (3, 1)
    assert cache.get("b") is None


def test_the_function_just_loaded_stays_even_past_the_bound():
    cache = FunctionCache(max_bytes=10)
    stream = webpickle.dumps(define_in_main("def big(): return 'big'", "big"))
    assert cache.load("big", stream)() == "big"
    assert "big" in cache and len(cache) == 1


# -- map() and imap_unordered() over an in-process executor ------------------------------

in_a_loop = pytest.mark.native_only(reason="asyncio.run; tests/workers/test_send_once.py runs these in Pyodide")


class InProcess(BatchMixin):
    """Runs each call in this process, on the next loop steps, at most `slots` at a time;
    records what was sent. Loads a FunctionStream once per digest, as a worker does."""

    def __init__(self, slots=2, cache=True):
        self._timeout = None
        self._cache = cache
        self._big_function_bytes = 1 << 20
        self._slots = slots
        self.loaded = FunctionCache()
        self.sent = []  # "stream" or "digest", per call
        self.running = self.most_running = 0

    def _in_flight_limit(self):
        return self._slots * 2

    def _new_future(self):
        return asyncio.get_running_loop().create_future()

    def _submit_call(self, function, args, timeout, on_finish):
        if isinstance(function, _function_stream.FunctionStream):
            self.sent.append("stream" if function.digest not in self.loaded else "digest")
            function = self.loaded.load(function.digest, function.stream)
        else:
            self.sent.append("whole")
            function = pickle.loads(webpickle.dumps(function))
        return asyncio.ensure_future(self._run(function, args, on_finish))

    async def _run(self, function, args, on_finish):
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(0)
            return function(*args)
        finally:
            self.running -= 1
            if on_finish:
                on_finish()


def counting(items, read):
    for item in items:
        read.append(item)
        yield item


@in_a_loop
def test_map_pickles_its_function_once_and_keeps_the_order():
    executor = InProcess()
    reports = []
    result = asyncio.run(executor.map(lambda x: -x, range(25), chunksize=4,
                                      progress=lambda done, total: reports.append((done, total))))
    assert result == [-x for x in range(25)]
    assert executor.sent == ["stream"] + ["digest"] * 6
    assert reports[0] == (0, 25) and reports[-1] == (25, 25)
    assert executor.most_running <= 4


@in_a_loop
def test_cache_false_sends_the_whole_call_each_time():
    executor = InProcess(cache=True)
    assert asyncio.run(executor.map(abs, [-1, -2, -3], cache=False)) == [1, 2, 3]
    assert executor.sent == ["whole"] * 3
    assert asyncio.run(InProcess(cache=False).map(abs, [-1])) == [1]


@in_a_loop
def test_items_are_read_lazily_and_results_start_before_the_end():
    executor = InProcess(slots=2)
    read = []

    async def first_results():
        got = []
        async for value in executor.imap_unordered(abs, counting(range(1_000_000), read), chunksize=10):
            got.append((value, len(read)))
            if len(got) == 30:
                break
        return got

    got = asyncio.run(first_results())
    assert got[0][1] <= 4 * 10, "the first result came once a few chunks were read"
    assert len(read) <= 30 + 4 * 10


@in_a_loop
def test_an_error_cancels_the_calls_in_flight_and_stops_reading():
    executor = InProcess(slots=2)
    read = []

    def fail_at_7(x):
        if x == 7:
            raise ValueError("seven")
        return x

    with pytest.raises(ValueError, match="seven"):
        asyncio.run(executor.map(fail_at_7, counting(range(1000), read)))
    assert len(read) <= 7 + 1 + 4
    with pytest.raises(ValueError, match="chunksize must be a positive int"):
        asyncio.run(executor.map(abs, [1], chunksize=0))


@in_a_loop
def test_progress_gets_no_total_for_an_iterable_without_a_length():
    import contextlib
    import io

    executor = InProcess()
    reports = []
    asyncio.run(executor.map(abs, (x for x in range(5)), progress=lambda d, t: reports.append((d, t))))
    assert reports == [(0, None), (1, None), (2, None), (3, None), (4, None), (5, None)]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        asyncio.run(executor.map(abs, (x for x in range(3)), progress=True))
    assert "3 done" in printed.getvalue()


@in_a_loop
def test_a_big_function_warns_once_per_digest():
    executor = InProcess()
    weights = bytes(2 << 20)

    def look_up(i):
        return weights[i]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(executor.map(look_up, range(3)))
        asyncio.run(executor.map(look_up, range(3)))
    messages = [str(w.message) for w in caught if issubclass(w.category, webpickle.BigFunctionWarning)]
    assert len(messages) == 1, messages
    assert "closure variable 'weights' of function '" in messages[0] and "2.1 MB" in messages[0]


# -- explain -------------------------------------------------------------------------------


def test_explain_lists_a_notebook_cells_parts_biggest_first():
    predict = define_in_main(CELL, "predict")
    report = webpickle.explain(predict)
    paths = [part.path for part in report]
    assert paths[0] == "global 'WEIGHTS' of function 'predict'"
    assert report.entries[0].size >= 256 * 4096 and report.entries[0].by_value
    assert "global 'helper' of function 'predict'" in paths
    assert "global 'SCALE' of function 'helper'" in paths, "a nested function's globals, under its own name"
    os_part = next(part for part in report if part.path == "global 'os' of function 'predict'")
    assert not os_part.by_value and os_part.type_name == "module"
    assert [part.size for part in report] == sorted((part.size for part in report), reverse=True)
    assert sum(part.size for part in report) <= report.total + 64, "nested parts are not counted twice"
    text = str(report)
    assert text.splitlines()[0].startswith("webpickle.explain: 1.0 MB in all")
    assert "by reference  global 'os' of function 'predict' (module)" in text
    html = report._repr_html_()
    assert html.count("<tr>") == len(report) + 1 and "global &#x27;WEIGHTS&#x27;" in html


def test_explain_lists_an_object_met_twice_once():
    shared = bytes(10_000)
    report = webpickle.explain({"a": shared, "b": shared, "c": [shared]})
    assert [part.path for part in report if part.type_name == "bytes"] == ["key 'a' of the dict"]
