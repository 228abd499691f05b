# The same calls on a pool of Web Workers, each with its own Pyodide. The
# pool size is the "Web Workers" box above; the bar fills as results arrive.
import nb
from webpickle.workers import WorkerPool

n = nb.workers()
ready_from = time.perf_counter()
async with WorkerPool(n) as pool:  # waits until every worker has loaded Pyodide
    # The page's first pool makes a snapshot of a fresh Pyodide (one worker per
    # core boots as before) and keeps it in Cache Storage; later workers and
    # runs restore it.
    uses = [worker["snapshot"] for worker in pool.stats["workers"]]
    how = ", ".join(f"{uses.count(use)} {use}" for use in dict.fromkeys(uses))
    print(f"{n} workers ready in {time.perf_counter() - ready_from:.1f} s (snapshot: {how}; not timed below)")
    start = time.perf_counter()
    parallel = await pool.map(estimate_pi, seeds, progress=nb.progress)
    times[f"{n} Web Workers"] = time.perf_counter() - start

print(f"{len(parallel)} estimates in {times[f'{n} Web Workers']:.2f} s")
parallel == serial  # Estimate came back as this page's own class, so == compares fields
