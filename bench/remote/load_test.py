"""Load test of the remote-execution server on loopback: signed calls at a fixed concurrency.

    bash wasm/toolchain.sh run build/venv/bin/python bench/remote/load_test.py [--calls 2000] [--concurrency 32]

(`./dev bench` runs it too, as its "remote" part: bench/parts.py.)

Starts `python -m webpickle.server` on 127.0.0.1 (a free port, a fresh random
key, --processes 2 by default), warms it up, then has `concurrency` client
loops send `calls` calls in all through one RemoteExecutor, each call a
closure pickled by value, each awaited before the loop sends its next: the
latency of a call is its whole round trip (pickling, signing, HTTP, the
server's checks, the worker process, the signed reply, verifying,
unpickling). Bounded: the run stops at --time-limit seconds.

Writes PREFIX.json (every figure, the machine, versions) and PREFIX.md (a
snippet for the benchmark report); default PREFIX bench/results/remote. Exit
status 1 when any call failed or the time limit struck.
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

import webpickle
from webpickle.remote import RemoteExecutor

BENCH = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120
WARM_UP_CALLS = 100


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bench/remote/load_test.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="calls to time (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="300 calls: a check of the harness, not figures to quote")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=2, help="the server's worker processes (default: %(default)s)")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds before giving up (default: %(default)s)")
    parser.add_argument("--output", metavar="PREFIX", default=str(BENCH / "results" / "remote"),
                        help="where to write PREFIX.json and PREFIX.md (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = min(args.calls, 300)
    if args.calls < 1 or args.concurrency < 1 or args.processes < 1:
        parser.error("--calls, --concurrency and --processes must be positive")
    return args


def start_server(key_file, processes):
    process = subprocess.Popen(
        [sys.executable, "-m", "webpickle.server", "--key-file", key_file, "--host", "127.0.0.1", "--port", "0",
         "--processes", str(processes)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # the access log would cost time to read
    line = process.stdout.readline()
    prefix = "webpickle server listening on "
    if not line.startswith(prefix):
        process.kill()
        sys.exit(f"the server did not start (it printed {line!r}); run it by hand to see why")
    return process, line[len(prefix):].strip()


def make_call():
    """The function every call runs: a closure over a small dict, so it travels by value."""
    table = {"offset": 7}

    def work(x):
        return x * 2 + table["offset"]

    return work


async def client_loop(executor, work, numbers, latencies, errors):
    for x in numbers:
        started = time.perf_counter()
        try:
            result = await executor.submit(work, x)
            if result != x * 2 + 7:
                raise AssertionError(f"call {x} returned {result!r}")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        latencies.append(time.perf_counter() - started)


async def load(url, key, args):
    work = make_call()
    latencies, errors = [], []
    async with RemoteExecutor(url, key, concurrency=args.concurrency) as executor:
        health = await executor.health()
        await asyncio.gather(*(executor.submit(work, x) for x in range(WARM_UP_CALLS)))
        numbers = list(range(args.calls))
        shares = [numbers[i::args.concurrency] for i in range(args.concurrency)]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(args.time_limit):
                await asyncio.gather(*(client_loop(executor, work, share, latencies, errors) for share in shares))
        except TimeoutError:
            errors.append(f"the time limit of {args.time_limit:g} s struck")
        wall = time.perf_counter() - started
    return health, latencies, errors, wall


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of sorted values."""
    rank = max(1, round(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(latencies, errors, wall, args):
    ordered = sorted(latencies)
    ms = (lambda seconds: round(seconds * 1000, 3))
    return {
        "calls": args.calls, "concurrency": args.concurrency, "server_processes": args.processes,
        "succeeded": len(latencies), "errors": len(errors), "error_samples": errors[:5],
        "wall_s": round(wall, 3), "calls_per_s": round(len(latencies) / wall, 1) if wall else None,
        "latency_ms": {"p50": ms(percentile(ordered, 0.50)), "p90": ms(percentile(ordered, 0.90)),
                       "p99": ms(percentile(ordered, 0.99)), "max": ms(ordered[-1]),
                       "mean": ms(statistics.fmean(ordered))} if ordered else None,
    }


def machine():
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "load_average": os.getloadavg(),
            "kernel": platform.release(), "python": platform.python_version(), "aiohttp": aiohttp.__version__,
            "webpickle": webpickle.__version__}


def markdown(results):
    figures, where = results["figures"], results["machine"]
    lines = ["## Remote execution (loopback load test)", ""]
    if figures["latency_ms"] is None:
        return "\n".join([*lines, f"No call succeeded: {figures['error_samples']}", ""])
    latency = figures["latency_ms"]
    lines += [
        f"{figures['calls']:,} signed calls at concurrency {figures['concurrency']} from one CPython "
        f"`RemoteExecutor` to `python -m webpickle.server --processes {figures['server_processes']}` on 127.0.0.1 "
        f"(each call a closure pickled by value; latency = the whole round trip, client included):",
        "",
        "| figure | value |", "| --- | ---: |",
        f"| errors | {figures['errors']} |",
        f"| latency p50 | {latency['p50']:.2f} ms |",
        f"| latency p90 | {latency['p90']:.2f} ms |",
        f"| latency p99 | {latency['p99']:.2f} ms |",
        f"| latency max | {latency['max']:.2f} ms |",
        f"| calls per second | {figures['calls_per_s']:,.0f} /s |",
        "",
        f"{results['generated']}; {where['cpu']}, {where['cores']} cores (client, server and its worker processes "
        f"share them; load average at start {where['load_average'][0]:.2f}); CPython {where['python']}, "
        f"aiohttp {where['aiohttp']}, webpickle {where['webpickle']}. One run, after {WARM_UP_CALLS} warm-up calls."
        + (" **Quick run: a check of the harness, not figures to quote.**" if results["mode"] == "quick" else ""),
        "",
    ]
    return "\n".join(lines)


def headline(figures):
    latency = figures["latency_ms"] or {}
    return (f"{figures['calls']:,} signed calls at concurrency {figures['concurrency']} on loopback "
            f"(--processes {figures['server_processes']}): {figures['errors']} errors, "
            f"p50 {latency.get('p50', float('nan')):.1f} ms, p99 {latency.get('p99', float('nan')):.1f} ms, "
            f"{figures['calls_per_s']:,.0f} calls/s.")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    facts = machine()  # load average before we add ours
    with tempfile.TemporaryDirectory() as scratch:
        key_file = os.path.join(scratch, "key")
        key = secrets.token_hex(32)
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
            file.write(key)
        server, url = start_server(key_file, args.processes)
        try:
            health, latencies, errors, wall = asyncio.run(load(url, key, args))
        finally:
            server.terminate()
            server.wait(60)
    results = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "command": " ".join(["bench/remote/load_test.py", *(sys.argv[1:] if argv is None else argv)]),
               "mode": "quick" if args.quick else "full",
               "server": health, "machine": facts, "figures": summary(latencies, errors, wall, args)}
    results["headline"] = headline(results["figures"])  # one line for the README (bench/publish.py)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{output}.json").write_text(json.dumps(results, indent=1) + "\n")
    Path(f"{output}.md").write_text(markdown(results))
    figures = results["figures"]
    latency = figures["latency_ms"] or {"p50": float("nan"), "p99": float("nan")}
    print(f"{figures['succeeded']}/{figures['calls']} calls, {figures['errors']} errors; p50 {latency['p50']:.2f} ms, "
          f"p99 {latency['p99']:.2f} ms, {figures['calls_per_s']} calls/s; wrote {output}.json, .md")
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
