"""Repeated timings with an autorange-like loop, as timeit does.

A figure is the median of `samples` samples; each sample times `loops` calls
in a row with time.perf_counter, `loops` being the smallest of 1, 2, 5, 10,
20, 50, ... whose run lasts at least `sample_s`. That calibration also warms
up the call. When one call alone is slow, fewer samples are taken (never
fewer than `min_samples`) so one figure costs at most about `budget_s`.
The libraries competing on one item are sampled in interleaved rounds. The
garbage collector is off while timing (as in timeit), after a collect.
"""

import dataclasses
import gc
import statistics
import time


@dataclasses.dataclass(frozen=True)
class Settings:
    sample_s: float  # shortest sample
    samples: int  # samples per figure when calls are fast
    min_samples: int  # samples per figure however slow a call is
    budget_s: float  # rough cap on the time spent on one figure

    def describe(self):
        return (f"median of {self.samples} samples (at least {self.min_samples} when one call is slow, "
                f"to stay near {self.budget_s:g} s per figure); each sample >= {self.sample_s * 1000:g} ms "
                "of back-to-back calls timed with time.perf_counter; loops per sample from an autorange "
                "(1, 2, 5, 10, 20, ...) that also warms up; the libraries' samples interleaved round by "
                "round; gc collected before and disabled during timing, except for loads of by-value items "
                "(functions and classes leave cyclic garbage: with the collector off it piles up and "
                "the figure measures fresh-memory page faults), which run with the collector on")


# Natively; Pyodide gets fewer, longer samples (see run.py).
NATIVE = Settings(sample_s=0.05, samples=7, min_samples=3, budget_s=1.5)
PYODIDE = Settings(sample_s=0.1, samples=5, min_samples=3, budget_s=3.0)
QUICK_NATIVE = Settings(sample_s=0.005, samples=3, min_samples=1, budget_s=0.2)
QUICK_PYODIDE = Settings(sample_s=0.01, samples=3, min_samples=1, budget_s=0.4)
PRESETS = {"native": NATIVE, "pyodide": PYODIDE, "quick-native": QUICK_NATIVE, "quick-pyodide": QUICK_PYODIDE}


def _run(call, loops):
    clock = time.perf_counter
    start = clock()
    for _ in range(loops):
        call()
    return clock() - start


def _calibrate(call, sample_s):
    """Smallest loop count in 1, 2, 5, 10, 20, 50, ... lasting >= sample_s, and its duration."""
    base = 1
    while True:
        for factor in (1, 2, 5):
            loops = base * factor
            elapsed = _run(call, loops)
            if elapsed >= sample_s:
                return loops, elapsed
        base *= 10


def measure(calls, settings, keep_gc=False):
    """Time each of several calls {name: call}; per name, a dict of per-call seconds.

    Samples are interleaved (a round takes one sample of every call, starting
    with a different one each round), so a burst of load on a shared machine
    hits all competitors alike instead of whichever ran at that moment.
    keep_gc leaves the garbage collector on: for loads of functions and
    classes, which leave cyclic garbage behind; with the collector off it
    piles up for the whole sample, and the figure then measures the page
    faults of fresh memory more than the loads (see run.py's method line).
    """
    gc.collect()
    was_enabled = gc.isenabled()
    if not keep_gc:
        gc.disable()
    try:
        plans = {}
        for name, call in calls.items():
            loops, elapsed = _calibrate(call, settings.sample_s)
            affordable = int(settings.budget_s / max(elapsed, 1e-9))
            plans[name] = (loops, max(settings.min_samples, min(settings.samples, affordable)))
        times = {name: [] for name in calls}
        names = list(calls)
        for round_ in range(max((count for _, count in plans.values()), default=0)):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                loops, count = plans[name]
                if round_ < count:
                    times[name].append(_run(calls[name], loops) / loops)
    finally:
        if was_enabled:
            gc.enable()
    return {name: summarize(times[name], plans[name][0]) for name in calls}


def summarize(times, loops):
    ordered = sorted(times)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "q1": q1, "q3": q3, "samples": len(ordered), "loops": loops, "times": times}
