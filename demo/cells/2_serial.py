# One call after another on the page's own thread (the page freezes meanwhile).
import time

seeds = range(12)
start = time.perf_counter()
serial = [estimate_pi(seed) for seed in seeds]
times = {"page, one by one": time.perf_counter() - start}

print(f"{len(serial)} estimates in {times['page, one by one']:.2f} s")
sum(e.pi for e in serial) / len(serial)
