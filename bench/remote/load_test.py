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

The same load runs, in the same invocation, against the server and client of
an older commit (--baseline, default 98f4bff: before the hardening of issue 19),
taken with `git archive` and given today's compiled core, so that the two
differ in their Python code only; both import webpickle from a copy of their
own, the rounds alternate (--rounds, default 5; which side goes first
alternates too) and each side's figures are its median round. The clients run as
subprocesses (this script with --client), each importing its own webpickle.

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
import shutil
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
ROOT = BENCH.parent
BASELINE = "98f4bff"
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
    parser.add_argument("--baseline", default=BASELINE, metavar="COMMIT",
                        help="the older server and client to compare with ('none': no comparison; "
                             "default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side (default: %(default)s)")
    parser.add_argument("--client", nargs=2, metavar=("URL", "KEY_FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = min(args.calls, 300)
    if args.quick:
        args.rounds = 1
    if args.calls < 1 or args.concurrency < 1 or args.processes < 1 or args.rounds < 1:
        parser.error("--calls, --concurrency, --processes and --rounds must be positive")
    return args


def baseline_tree(commit, scratch):
    """src/webpickle at commit, in scratch, with this build's compiled core; returns the
    folder to put first on PYTHONPATH."""
    tree = Path(scratch) / f"baseline-{commit}"
    tree.mkdir()
    # A git worktree's repository may be out of the toolchain's reach: an archive made beforehand will do.
    ready = ROOT / "build" / f"baseline-{commit}.tar"
    if ready.exists():
        archive = ready.read_bytes()
    else:
        made = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src/webpickle"], capture_output=True)
        if made.returncode != 0:
            sys.exit(f"cannot read commit {commit} for the baseline ({made.stderr.decode().strip()}): run "
                     f"'git archive {commit} src/webpickle > {ready}' where git works, or pass --baseline none")
        archive = made.stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    package = tree / "src" / "webpickle"
    for core in Path(webpickle.__file__).parent.glob("_core*"):
        shutil.copy(core, package)
    return str(tree / "src")


def current_tree(scratch):
    """A copy of the webpickle this script imports, in scratch; returns the folder for PYTHONPATH."""
    tree = Path(scratch) / "current"
    shutil.copytree(Path(webpickle.__file__).parent, tree / "webpickle",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return str(tree)


def _environment(pythonpath):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def start_server(key_file, processes, pythonpath=None):
    process = subprocess.Popen(
        [sys.executable, "-m", "webpickle.server", "--key-file", key_file, "--host", "127.0.0.1", "--port", "0",
         "--processes", str(processes)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,  # the access log would cost time to read
        env=_environment(pythonpath))
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


def cpu_seconds(pid):
    """CPU time (user + system) of process pid and its living children, from /proc: on a
    machine shared with other work, less noisy than the wall clock."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for process in [pid, *map(int, children)]:
        fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


async def load(url, key, args, server_pid=None):
    work = make_call()
    latencies, errors = [], []
    async with RemoteExecutor(url, key, concurrency=args.concurrency) as executor:
        health = await executor.health()
        await asyncio.gather(*(executor.submit(work, x) for x in range(WARM_UP_CALLS)))
        numbers = list(range(args.calls))
        shares = [numbers[i::args.concurrency] for i in range(args.concurrency)]
        cpu = (time.process_time(), server_pid and cpu_seconds(server_pid))
        started = time.perf_counter()
        try:
            async with asyncio.timeout(args.time_limit):
                await asyncio.gather(*(client_loop(executor, work, share, latencies, errors) for share in shares))
        except TimeoutError:
            errors.append(f"the time limit of {args.time_limit:g} s struck")
        wall = time.perf_counter() - started
        cpu = (time.process_time() - cpu[0], server_pid and cpu_seconds(server_pid) - cpu[1])
    return health, latencies, errors, wall, cpu


def run_client(url, key_file, args, pythonpath, server_pid):
    """This script as a client (--client) of the server at url, importing the webpickle of
    pythonpath; returns (health, figures)."""
    command = [sys.executable, __file__, "--client", url, key_file, "--server-pid", str(server_pid),
               "--calls", str(args.calls),
               "--concurrency", str(args.concurrency), "--processes", str(args.processes),
               "--time-limit", str(args.time_limit)]
    finished = subprocess.run(command, capture_output=True, text=True, env=_environment(pythonpath),
                              timeout=args.time_limit + START_TIMEOUT_S)
    if finished.returncode != 0:
        sys.exit(f"the load test's client failed:\n{finished.stderr[-3000:]}")
    answer = json.loads(finished.stdout)
    return answer["health"], answer["figures"]


def run_side(key_file, args, pythonpath):
    """One round: a fresh server and a client of the same webpickle."""
    server, url = start_server(key_file, args.processes, pythonpath)
    try:
        return run_client(url, key_file, args, pythonpath, server.pid)
    finally:
        server.terminate()
        server.wait(60)


def median_round(rounds):
    """The round whose calls per second is the median (its other figures with it); CPU per
    call is each side's median over the rounds."""
    ordered = sorted(rounds, key=lambda figures: figures["calls_per_s"] or 0)
    chosen = dict(ordered[len(ordered) // 2])
    chosen["cpu_ms_per_call"] = {side: statistics.median(r["cpu_ms_per_call"][side] for r in rounds)
                                 for side in ("client", "server")}
    chosen["rounds"] = [{"calls_per_s": r["calls_per_s"], "p50_ms": (r["latency_ms"] or {}).get("p50"),
                         "p99_ms": (r["latency_ms"] or {}).get("p99"),
                         "cpu_ms_per_call": r.get("cpu_ms_per_call"),
                         "errors": r["errors"]} for r in rounds]
    return chosen


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
    baseline = results.get("baseline")
    lines = ["## Remote execution (loopback load test)", ""]
    if figures["latency_ms"] is None:
        return "\n".join([*lines, f"No call succeeded: {figures['error_samples']}", ""])
    sides = [("this commit", figures)]
    if baseline is not None:
        sides.append((f"server and client at {baseline['commit']}", baseline["figures"]))

    def cell(side, pick):
        return pick(side) if side["latency_ms"] is not None else "—"

    rows = [("errors", lambda f: f"{f['errors']}"),
            ("latency p50", lambda f: f"{f['latency_ms']['p50']:.2f} ms"),
            ("latency p90", lambda f: f"{f['latency_ms']['p90']:.2f} ms"),
            ("latency p99", lambda f: f"{f['latency_ms']['p99']:.2f} ms"),
            ("latency max", lambda f: f"{f['latency_ms']['max']:.2f} ms"),
            ("calls per second", lambda f: f"{f['calls_per_s']:,.0f} /s"),
            ("server CPU per call (server and workers)", lambda f: f"{f['cpu_ms_per_call']['server']:.2f} ms"),
            ("client CPU per call", lambda f: f"{f['cpu_ms_per_call']['client']:.2f} ms"),
            ("calls per second, each round", lambda f: ", ".join(f"{r['calls_per_s']:,.0f}"
                                                                  for r in f.get("rounds", [])))]
    lines += [
        f"{figures['calls']:,} signed calls at concurrency {figures['concurrency']} from one CPython "
        f"`RemoteExecutor` to `python -m webpickle.server --processes {figures['server_processes']}` on 127.0.0.1 "
        f"(each call a closure pickled by value; latency = the whole round trip, client included)"
        + (f", beside the server and client at {baseline['commit']} (their Python code, today's compiled core) "
           "in the same run, rounds alternating" if baseline else "") + ":",
        "",
        "| figure | " + " | ".join(name for name, _ in sides) + " |",
        "| --- |" + " ---: |" * len(sides),
        *(f"| {label} | " + " | ".join(cell(f, pick) for _, f in sides) + " |" for label, pick in rows),
        "",
        f"{results['generated']}; {where['cpu']}, {where['cores']} cores (client, server and its worker processes "
        f"share them; load average at start {where['load_average'][0]:.2f}); CPython {where['python']}, "
        f"aiohttp {where['aiohttp']}, webpickle {where['webpickle']}. Each side's figures are its median round "
        f"of {len(figures.get('rounds', [1]))}, each after {WARM_UP_CALLS} warm-up calls."
        + (" **Quick run: a check of the harness, not figures to quote.**" if results["mode"] == "quick" else ""),
        "",
    ]
    return "\n".join(lines)


def headline(figures, baseline=None):
    def text(f):
        latency = f["latency_ms"] or {}
        return (f"{f['errors']} errors, p50 {latency.get('p50', float('nan')):.1f} ms, "
                f"p99 {latency.get('p99', float('nan')):.1f} ms, {f['calls_per_s'] or 0:,.0f} calls/s, "
                f"server CPU {f['cpu_ms_per_call']['server']:.2f} ms per call")

    line = (f"{figures['calls']:,} signed calls at concurrency {figures['concurrency']} on loopback "
            f"(--processes {figures['server_processes']}): {text(figures)}")
    if baseline is not None:
        line += f" (server and client at {baseline['commit']}, same run: {text(baseline['figures'])})"
    return line + "."


def client_main(args):
    """--client: run the load against a server already up; print {health, figures} as JSON."""
    url, key_file = args.client
    key = Path(key_file).read_text().strip()
    health, latencies, errors, wall, cpu = asyncio.run(load(url, key, args, args.server_pid))
    figures = summary(latencies, errors, wall, args)
    figures["cpu_ms_per_call"] = {"client": round(cpu[0] * 1000 / args.calls, 3),
                                  "server": round(cpu[1] * 1000 / args.calls, 3) if args.server_pid else None}
    print(json.dumps({"health": health, "figures": figures}))
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.client:
        return client_main(args)
    facts = machine()  # load average before we add ours
    rounds = {"current": [], "baseline": []}
    with tempfile.TemporaryDirectory() as scratch:
        key_file = os.path.join(scratch, "key")
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
            file.write(secrets.token_hex(32))
        old_tree = None if args.baseline == "none" else baseline_tree(args.baseline, scratch)
        # Both sides import webpickle from a folder of their own on PYTHONPATH, so that they start alike.
        new_tree = current_tree(scratch) if old_tree else None
        for round_number in range(args.rounds):
            sides = [("current", new_tree), ("baseline", old_tree)] if old_tree else [("current", None)]
            if round_number % 2:
                sides.reverse()  # neither side always runs first
            for side, tree in sides:
                health_answer, figures = run_side(key_file, args, tree)
                rounds[side].append(figures)
                if side == "current":
                    health = health_answer
    results = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "command": " ".join(["bench/remote/load_test.py", *(sys.argv[1:] if argv is None else argv)]),
               "mode": "quick" if args.quick else "full",
               "server": health, "machine": facts, "figures": median_round(rounds["current"])}
    if old_tree:
        results["baseline"] = {"commit": args.baseline, "figures": median_round(rounds["baseline"])}
    results["headline"] = headline(results["figures"], results.get("baseline"))  # for the README (bench/publish.py)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{output}.json").write_text(json.dumps(results, indent=1) + "\n")
    Path(f"{output}.md").write_text(markdown(results))
    print(results["headline"], f"Wrote {output}.json, .md")
    failed = results["figures"]["errors"] or (old_tree and results["baseline"]["figures"]["errors"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
