"""A function travels once per worker, and map() streams its items (issue 16):
WorkerPool in Pyodide under Node, with real worker threads.

    bash wasm/toolchain.sh run node tests/workers/run_pyodide_tests.mjs -k once  (after test_pool_pyodide, whose first pool makes the snapshot)

The bytes the transport carried are the pool's own count (posted(pool): what
it posted to its workers). Never asserts speed.
"""

import asyncio
import contextlib
import itertools
import os
import sys
import warnings

import pytest
import webpickle
from webpickle import BigFunctionWarning
from webpickle.workers import WorkerCrashedError, WorkerPool

webpickle.register_pickle_by_value(sys.modules[__name__])

_pools = {}


async def pool_of(size, **options):
    """One pool per set of options, shared by this module's tests (each costs a start-up)."""
    key = (size, tuple(sorted(options.items())))
    if key not in _pools:
        _pools[key] = WorkerPool(size, **options)
        await _pools[key].ready()
    return _pools[key]


async def teardown_module():
    for pool in _pools.values():
        pool.shutdown()


def posted(pool):
    return dict(pool.stats["posted"])


def delta(after, before):
    return {name: after[name] - before.get(name, 0) for name in after}


def runs_here():
    """Counts this worker's runs of the functions of this module (in the worker's own sys)."""
    import sys

    runs = sys.__dict__.setdefault("_webpickle_test_runs", [])
    runs.append(1)
    return len(runs)


async def test_once_a_map_sends_its_function_once_per_worker():
    pool = await pool_of(2)
    blob = os.urandom(1 << 20)

    def size_plus(x):
        return len(blob) + x

    before = posted(pool)
    assert await pool.map(size_plus, range(40)) == [(1 << 20) + x for x in range(40)]
    sent = delta(posted(pool), before)
    stream_bytes = len(webpickle.dumps(size_plus, protocol=5))
    assert 1 <= sent["functions"] <= 2, sent
    assert sent["function_bytes"] == sent["functions"] * stream_bytes
    assert sent["calls"] == 40
    assert sent["payload_bytes"] < 40 * 200, "each call carries its arguments, not the 1 MB closure"
    # Chunks too, and a later map of the same function sends nothing new to a worker that has it.
    before = posted(pool)
    assert await pool.map(size_plus, range(40), chunksize=8) == [(1 << 20) + x for x in range(40)]
    sent = delta(posted(pool), before)
    assert sent["calls"] == 5 and sent["function_bytes"] <= 2 * (stream_bytes + 200)


async def test_once_a_functions_stream_is_shared_with_the_workers_and_read_into_place():
    import pickle

    import js
    from webpickle import _function_stream, _pool_buffers, workers

    pool = await pool_of(2)
    blob = os.urandom(300_000)

    def blob_size():
        return len(blob)

    pickled = _function_stream.pickle_function(blob_size, None)
    carrier = workers._function_carrier(pickled, pool._js.functionBuffer)
    assert carrier.digest == pickled.digest and carrier.stream.to_bytes() == pickled.stream
    assert js.Object.prototype.toString.call(carrier.stream.buffer) == "[object SharedArrayBuffer]", \
        "in Node the stream is on memory the workers share: posted to each without a copy"
    # What a worker does with it: the 300 kB value is read straight into the bytes object the
    # unpickler makes, not first into a copy of the whole stream.
    file = _pool_buffers.reader(carrier.stream)
    reads, read_into = [], file.raw.readinto
    file.raw.readinto = lambda buffer: reads.append(read_into(buffer)) or reads[-1]
    assert pickle.load(file)() == len(blob)
    assert sum(reads) == len(pickled.stream) and max(reads) > len(blob) // 2, reads
    assert await asyncio.gather(*(pool.submit(blob_size) for _ in range(4))) == [len(blob)] * 4


async def test_once_repeated_submits_send_the_stream_only_to_workers_without_it():
    pool = await pool_of(2)
    table = bytes(300_000)

    def lookup(i):
        return table[i]

    await pool.submit(lookup, 0)
    before = posted(pool)
    assert await asyncio.gather(*(pool.submit(lookup, i) for i in range(10))) == [0] * 10
    assert delta(posted(pool), before)["function_bytes"] <= len(webpickle.dumps(lookup, protocol=5))


async def test_once_an_evicted_function_is_sent_again_and_runs_once():
    pool = await pool_of(1, function_cache_bytes=1 << 20)
    first_blob, second_blob = os.urandom(700_000), os.urandom(700_000)

    def first():
        runs_here()
        return len(first_blob)

    def second():
        runs_here()
        return len(second_blob)

    def count_runs():
        import sys

        return len(sys.__dict__.get("_webpickle_test_runs", []))

    runs_before = await pool.submit(count_runs)
    assert await pool.submit(first) == 700_000
    assert await pool.submit(second) == 700_000  # 1.4 MB of streams: first is evicted
    before = posted(pool)
    assert await pool.submit(first) == 700_000
    sent = delta(posted(pool), before)
    assert sent["function_misses"] == 1 and sent["functions"] == 1, sent
    assert await pool.submit(count_runs) - runs_before == 3, "each call ran exactly once"


async def test_once_a_replacement_worker_gets_the_function_again():
    pool = await pool_of(1, function_cache_bytes=1 << 20)
    blob = os.urandom(100_000)

    def measure():
        return len(blob)

    assert await pool.submit(measure) == 100_000

    def abort_runtime():
        import faulthandler

        faulthandler._sigabrt()

    with pytest.raises(WorkerCrashedError):
        await pool.submit(abort_runtime)
    before = posted(pool)
    assert await pool.submit(measure) == 100_000
    sent = delta(posted(pool), before)
    assert sent["functions"] == 1 and sent["function_misses"] == 0, sent


SETTING = "old"


def report_setting():
    return SETTING


async def test_once_a_changed_definition_runs_its_new_code():
    global SETTING, report_setting
    pool = await pool_of(1, function_cache_bytes=1 << 20)
    assert await pool.submit(report_setting) == "old"
    SETTING = "new"  # a captured global changed: another digest
    assert await pool.submit(report_setting) == "new"

    def report_setting():  # noqa: F811 (a new definition, as a notebook cell re-run makes)
        return "redefined " + SETTING

    assert await pool.map(lambda f: f(), [report_setting]) == ["redefined new"]
    assert await pool.submit(report_setting) == "redefined new"


COUNTER = []


def bump():
    COUNTER.append(1)
    return len(COUNTER)


async def test_once_calls_of_one_digest_share_globals_and_cache_false_opts_out():
    pool = await pool_of(1, function_cache_bytes=1 << 20)
    shared = [await pool.submit(bump) for _ in range(3)]
    assert shared[1:] == [shared[0] + 1, shared[0] + 2], "one loaded copy: its globals persist between calls"
    before = posted(pool)
    fresh = await pool.map(lambda _: bump(), range(3), cache=False)
    assert fresh == [1, 1, 1], "cache=False loads the whole stream per call: fresh globals each time"
    assert delta(posted(pool), before)["functions"] == 0
    opted_out = await pool_of(1, cache=False)
    assert [await opted_out.submit(bump) for _ in range(2)] == [1, 1]


async def test_once_a_lazy_iterable_is_read_a_few_calls_ahead():
    pool = await pool_of(2, in_flight_per_worker=2)
    read = []

    def endless():  # read eagerly, it would exhaust the page's memory
        for i in itertools.count():
            read.append(i)
            yield i

    got = []
    async with contextlib.aclosing(pool.imap_unordered(abs, endless())) as results:
        async for value in results:
            got.append(value)
            if len(got) == 50:
                break
    assert len(got) == 50
    assert len(read) <= 50 + 2 * 2, f"{len(read)} items read for 50 results: not bounded by the calls in flight"
    reports = []
    squares = await pool.map(lambda x: x * x, (i for i in range(20)), chunksize=3,
                             progress=lambda done, total: reports.append((done, total)))
    assert squares == [i * i for i in range(20)]
    assert reports[0] == (0, None) and reports[-1] == (20, None)


async def test_once_an_error_mid_map_cancels_and_stops_reading():
    pool = await pool_of(2, in_flight_per_worker=2)
    read = []

    def items():
        for i in range(10_000):
            read.append(i)
            yield i

    def fail_at_10(x):
        if x == 10:
            raise ValueError("item 10")
        return x

    with pytest.raises(ValueError, match="item 10"):
        await pool.map(fail_at_10, items())
    stopped_at = len(read)
    assert stopped_at <= 10 + 1 + 2 * 2
    await asyncio.sleep(0.2)
    assert len(read) == stopped_at, "nothing read after the error"
    assert await pool.map(abs, [-1, -2]) == [1, 2]


async def test_once_a_big_function_warns_once_naming_what_it_captured():
    pool = await pool_of(2)
    weights = os.urandom(5 << 20)

    def predict(x):
        return weights[x]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await pool.map(predict, range(4))
        await pool.map(predict, range(4))
    big = [w for w in caught if issubclass(w.category, BigFunctionWarning)]
    assert len(big) == 1, [str(w.message) for w in caught]
    message = str(big[0].message)
    assert "closure variable 'weights' of function" in message and "as arguments" in message
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet = await pool_of(1, big_function_bytes=None)
        await quiet.submit(predict, 0)
    assert not [w for w in caught if issubclass(w.category, BigFunctionWarning)]
