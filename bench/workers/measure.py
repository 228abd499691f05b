"""The measurements of bench/workers, run in the page's Pyodide by run.mjs.

The same functions measure four pools: webpickle.workers.WorkerPool, the same
with today's start path ("webpickle-old": no snapshot, no interrupts: a
stopped task's worker is replaced), the same with today's call path
("webpickle-uncached": each call carries its whole function) and the baseline (baseline_pool.py:
cloudpickle + bare postMessage). A pool here is
anything with ``await pool.ready()``, ``pool.submit(fn, *args)`` and
``pool.shutdown()``. Times are from time.perf_counter (performance.now:
5 us steps on this cross-origin-isolated page). Each function returns a dict.
"""

import asyncio
import pickle
import statistics
import sys
import time

import cloudpickle
import webpickle

# Workers cannot import this module: both libraries must send its functions by value.
webpickle.register_pickle_by_value(sys.modules[__name__])
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_pool(kind, size, **options):
    from webpickle.workers import WorkerPool

    if kind == "webpickle":
        return WorkerPool(size, **options)
    if kind == "webpickle-old":
        return WorkerPool(size, snapshot=False, interrupt_grace=0, **options)
    if kind == "webpickle-uncached":  # today's call path: the whole (fn, args, kwargs) stream per call
        return WorkerPool(size, cache=False, **options)
    from baseline_pool import BaselinePool

    return BaselinePool(size)


def _start_stats(pool):
    """The wasm memory of each worker and how it started (webpickle's pools only)."""
    stats = getattr(pool, "stats", None)
    if not stats:
        return {}
    heaps = [w["heap_bytes"] for w in stats["workers"] if w["heap_bytes"]]
    return {"heap_mb": statistics.mean(heaps) / 2**20 if heaps else None,
            "uses": [w["snapshot"] for w in stats["workers"]], "worker_s": [w["ready_s"] for w in stats["workers"]]}


def add_one(x):
    return x + 1


def spin(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def now_ms():
    import js

    return js.performance.timeOrigin + js.performance.now()  # comparable across page and workers


def arrived(buffer):
    return now_ms(), len(memoryview(buffer))


def _quantile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def ready(kind, size, **options):
    """Seconds from creating a pool of `size` workers to all of them ready."""
    t0 = time.perf_counter()
    pool = make_pool(kind, size, **options)
    await pool.ready()
    seconds = time.perf_counter() - t0
    started = _start_stats(pool)
    pool.shutdown()
    return {"seconds": seconds, **started}


async def first_ready(kind, size):
    """A page's first pool: no snapshot in memory or in the cache, so its first worker makes one."""
    if kind != "webpickle":
        return await ready(kind, size)
    from webpickle import _pool_js

    pool_module, _ = await _pool_js.load()
    pool_module.forgetSnapshotsInMemory()
    return await ready(kind, size, snapshot_cache=False)


def spin_forever():
    while True:
        pass


async def after_stop(kind, how):
    """Milliseconds from a task's TimeoutError (or its cancel) to the next task's result, on a pool of one."""
    pool = make_pool(kind, 1)
    await pool.ready()
    try:
        await pool.submit(add_one, 1)
        if how == "timeout":
            try:
                await pool._submit(spin_forever, (), {}, 0.2)
            except TimeoutError:
                pass
        else:
            running = pool.submit(spin_forever)
            await asyncio.sleep(0.2)
            running.cancel()
        t0 = time.perf_counter()
        await pool.submit(add_one, 1)
        return {"ms": (time.perf_counter() - t0) * 1e3, **_start_stats(pool)}
    finally:
        pool.shutdown()


WARM_UP_S = 1.0


async def _round_trips(pool, calls):
    """Seconds of each of `calls` awaited add_one(1) calls, after a warm-up."""
    # Warm-up, 1 s of calls: the worker's first imports, and V8's tier-up of
    # the hot wasm functions (a new pool starts on baseline-compiled code and
    # takes a few thousand calls to reach steady state; see bench/README.md).
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < WARM_UP_S:
        await pool.submit(add_one, 1)
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await pool.submit(add_one, 1)
        samples.append(time.perf_counter() - t0)
    return samples


async def small_calls(kind, calls=2000, seconds=2.0):
    """Round trips of add_one(1) awaited one after the other, then calls per second."""
    pool = make_pool(kind, 1)
    await pool.ready()
    try:
        samples = await _round_trips(pool, calls)
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            await pool.submit(add_one, 1)
            count += 1
        rate = count / (time.perf_counter() - t0)
    finally:
        pool.shutdown()
    return {"median_ms": statistics.median(samples) * 1e3, "p99_ms": _quantile(samples, 0.99) * 1e3,
            "calls": calls, "calls_per_s": rate}


async def speedup(kind, task_s=0.3, tasks=8):
    """Wall time of `tasks` CPU-bound tasks of task_s on 1 worker and on 2; their ratio."""
    times = {}
    for size in (1, 2):
        pool = make_pool(kind, size)
        await pool.ready()
        try:
            await asyncio.gather(*(pool.submit(spin, 0.01) for _ in range(size)))  # warm-up
            t0 = time.perf_counter()
            await asyncio.gather(*(pool.submit(spin, task_s) for _ in range(tasks)))
            times[size] = time.perf_counter() - t0
        finally:
            pool.shutdown()
    return {"one_worker_s": times[1], "two_workers_s": times[2], "speedup": times[1] / times[2],
            "tasks": tasks, "task_s": task_s}


async def big_argument(kind, megabytes=64, repeats=5):
    """Delivery of a 64 MB pickle.PickleBuffer argument: submit to the function's start in the worker."""
    data = bytearray(megabytes << 20)
    pool = make_pool(kind, 1)
    await pool.ready()
    deliveries, round_trips = [], []
    try:
        await pool.submit(add_one, 1)
        for _ in range(repeats):
            t0, start = time.perf_counter(), now_ms()
            started, nbytes = await pool.submit(arrived, pickle.PickleBuffer(data))
            round_trips.append((time.perf_counter() - t0) * 1e3)
            deliveries.append(started - start)
            assert nbytes == len(data), (nbytes, len(data))
    finally:
        pool.shutdown()
    return {"first_ms": deliveries[0], "median_ms": statistics.median(deliveries[1:]),
            "deliveries_ms": deliveries, "round_trips_ms": round_trips, "megabytes": megabytes}


async def copies(kind, megabytes=64):
    """Copies of the argument's bytes, as each implementation counts them (see the report's notes)."""
    if kind != "webpickle":
        from baseline_pool import COPIES

        return {"copies": len(COPIES), "where": COPIES}
    from webpickle import _pool_buffers, workers

    data = bytearray(megabytes << 20)
    pool = make_pool(kind, 1)
    await pool.ready()
    try:
        before = dict(workers.stats)
        sent, real = [], _pool_buffers.copy_out
        _pool_buffers.copy_out = lambda view, take=None: sent.append(real(view, take)) or sent[-1]
        try:
            there = await pool.submit(lambda b: __import__("webpickle.workers").workers.stats["copied_in"],
                                      pickle.PickleBuffer(data))
        finally:
            _pool_buffers.copy_out = real
    finally:
        pool.shutdown()
    out = workers.stats["copied_out"] - before["copied_out"]
    clones = sum(buffer.byteLength != 0 for buffer in sent)  # not detached: it was copied, not moved
    return {"copies": out + clones + there,
            "where": [f"out of the page's wasm memory: {out}", f"structured clones: {clones}",
                      f"into the worker's wasm memory: {there}"]}


_JS_LOOP = """async (pool, payload, n) => {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await pool.call(payload.slice());
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[n >> 1];
}"""


async def breakdown(kind, calls=1000):
    """webpickle only: the median round trip from Python, from JS alone (pool.call), and Python's own steps."""
    from pyodide.code import run_js
    from webpickle import _pool_buffers, workers

    pool = make_pool("webpickle", 1)
    await pool.ready()
    try:
        samples = await _round_trips(pool, calls)
        payload, _ = _pool_buffers.dumps((add_one, (1,), {}))
        js_median = await run_js(_JS_LOOP)(pool._js, payload, calls)
        t0 = time.perf_counter()
        for _ in range(calls):
            stream, _ = _pool_buffers.dumps((add_one, (1,), {}))
        dumps_us = (time.perf_counter() - t0) / calls * 1e6
        t0 = time.perf_counter()
        for _ in range(calls):
            _pool_buffers.loads(stream, [])
        loads_us = (time.perf_counter() - t0) / calls * 1e6
    finally:
        pool.shutdown()
    return {"python_median_ms": statistics.median(samples) * 1e3, "js_median_ms": js_median,
            "dumps_us": dumps_us, "loads_us": loads_us}


async def loop_hops(kind, n=2000):
    """What one asyncio hop costs on this page (Pyodide's WebLoop): for reading the round trip."""
    import js

    loop = asyncio.get_event_loop()

    async def sleep0():
        await asyncio.sleep(0)

    async def call_soon_future():
        future = loop.create_future()
        loop.call_soon(future.set_result, None)
        await future

    async def js_promise():
        await js.Promise.resolve(1)

    out = {}
    for name, step in [("sleep0", sleep0), ("call_soon_future", call_soon_future), ("js_promise", js_promise)]:
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            await step()
            samples.append(time.perf_counter() - t0)
        out[name + "_us"] = statistics.median(samples) * 1e6
    return out


def closure_over(data):
    def touch(x):
        return len(data) + x

    return touch


def _posted_bytes(pool):
    posted = pool.stats["posted"]
    return posted["payload_bytes"] + posted["function_bytes"]


_closures_made = [0]


async def big_closure(kind, items=1000, megabytes=8):
    """map() over `items` of a function closing over `megabytes` on 2 workers, beside the same map
    of a function closing over 8 bytes: wall times, their ratio, and the bytes posted to the workers.
    The big function's data differ in each measurement: a map of a function never sent before."""
    pool = make_pool(kind, 2, big_function_bytes=None)
    await pool.ready()
    _closures_made[0] += 1
    data = _closures_made[0].to_bytes(8, "little") + bytes(range(256)) * (megabytes << 12)
    small, big = closure_over(b"12345678"), closure_over(data)
    try:
        await pool.map(small, range(8))  # warm-up
        times, posted = {}, {}
        for name, function in (("small", small), ("big", big)):
            before = _posted_bytes(pool)
            t0 = time.perf_counter()
            results = await pool.map(function, range(items))
            times[name] = time.perf_counter() - t0
            posted[name] = _posted_bytes(pool) - before
            assert results[-1] == len(function.__closure__[0].cell_contents) + items - 1
    finally:
        pool.shutdown()
    return {"small_s": times["small"], "big_s": times["big"], "ratio": times["big"] / times["small"],
            "posted_mb": posted["big"] / 1e6, "small_posted_mb": posted["small"] / 1e6, "items": items,
            "megabytes": megabytes}


def _page_heap_bytes():
    import pyodide_js

    return pyodide_js._module.HEAP8.length  # private: this Pyodide's wasm memory, which only grows


async def streaming(kind, items=1_000_000, chunksize=100):
    """imap_unordered() over `items` small ints on 2 workers: the growth of the page's wasm memory,
    and how many items had been read when the first result arrived."""
    pool = make_pool(kind, 2)
    await pool.ready()
    read = [0]

    def numbers():
        for i in range(items):
            read[0] = i + 1
            yield i

    heap_before = _page_heap_bytes()
    first_read = first_s = None
    count = 0
    t0 = time.perf_counter()
    try:
        async for _ in pool.imap_unordered(add_one, numbers(), chunksize=chunksize):
            if first_read is None:
                first_read, first_s = read[0], time.perf_counter() - t0
            count += 1
    finally:
        pool.shutdown()
    assert count == items, (count, items)
    return {"growth_mb": (_page_heap_bytes() - heap_before) / 2**20, "first_result_after_items": first_read,
            "first_result_s": first_s, "total_s": time.perf_counter() - t0, "items": items, "chunksize": chunksize}

