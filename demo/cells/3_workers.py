# The same calls on a pool of Web Workers, each with its own Pyodide. The
# pool size is the "Web Workers" box above; the bar fills as results arrive.
import nb
from webpickle.workers import WorkerPool

n = nb.workers()
async with WorkerPool(n) as pool:  # waits until every worker has loaded Pyodide
    startup = max(worker["ready_s"] for worker in pool.workers)
    print(f"{n} workers ready in {startup:.1f} s (not timed below)")
    start = time.perf_counter()
    parallel = await pool.map(estimate_pi, seeds, progress=nb.progress)
    times[f"{n} Web Workers"] = time.perf_counter() - start

print(f"{len(parallel)} estimates in {times[f'{n} Web Workers']:.2f} s")
parallel == serial  # Estimate came back as this page's own class, so == compares fields
