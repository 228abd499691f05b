"""Benchmark webpickle against cloudpickle, dill and stdlib pickle, natively
(CPython 3.14) and inside Pyodide under Node, in one run.

    ./dev bench [options]              (runs this file inside the toolchain)

Writes PREFIX.json (every figure), PREFIX.md (tables, goals, machine, versions
and method) and PREFIX.png (dumps time relative to cloudpickle). The corpus is
in corpus.py, the timing method in timing.py, the goals in report.py. A full
run also runs the separate parts (parts.py: the worker pool in Chromium, the
remote-execution load test) and puts their reports in the same files.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import chart  # noqa: E402  (after the path set-up above)
import corpus  # noqa: E402
import measure  # noqa: E402
import parts  # noqa: E402
import publish  # noqa: E402
import report  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Goals are shown as pass/FAIL and never make the command fail. The exit status is 1 only\n"
               "when a runtime could not be measured at all (e.g. the Pyodide wheel is missing).")
    parser.add_argument("--quick", action="store_true",
                        help="few, short samples: a smoke check of the harness, not figures to quote "
                             "(with --native-only it takes well under 30 s)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--native-only", action="store_true", help="skip the Pyodide run")
    where.add_argument("--pyodide-only", action="store_true", help="skip the native run")
    parser.add_argument("-k", dest="filter", default="", metavar="SUBSTRING",
                        help="only corpus items whose name contains SUBSTRING (case-insensitive)")
    parser.add_argument("--libs", default=",".join(measure.LIBRARIES),
                        help="comma-separated libraries to compare (default: %(default)s)")
    parser.add_argument("--wheel", help="Pyodide wheel to install (default: the one in build/wasm/dist)")
    parser.add_argument("--output", metavar="PREFIX",
                        help="where to write PREFIX.json/.md/.png "
                             "(default: bench/results/latest, or bench/results/quick with --quick)")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the PNG")
    parser.add_argument("--publish", action="store_true",
                        help="also put the headline table and the chart into README.md (docs/benchmarks.png)")
    parser.add_argument("--parts", default=None, metavar="LIST",
                        help="comma-separated separate parts to run as well: "
                             f"{', '.join(parts.PARTS)} (default: all of them in a full run, none with "
                             "--quick, -k, --native-only or --pyodide-only; 'none' for none)")
    args = parser.parse_args(argv)
    libs = tuple(lib for lib in args.libs.split(",") if lib)
    unknown = set(libs) - set(measure.LIBRARIES)
    if unknown or not libs:
        parser.error(f"--libs: unknown {sorted(unknown)}; choose from {', '.join(measure.LIBRARIES)}")
    args.libs = libs
    if not any(args.filter.lower() in item.name.lower() for item in corpus.ITEMS):
        parser.error(f"-k {args.filter!r} matches no corpus item; names: "
                     + ", ".join(item.name for item in corpus.ITEMS))
    args.output = Path(args.output or BENCH / "results" / ("quick" if args.quick else "latest"))
    if args.parts is None:
        narrowed = args.quick or args.filter or args.native_only or args.pyodide_only
        args.parts = () if narrowed else tuple(parts.PARTS)
    else:
        args.parts = tuple(p for p in args.parts.split(",") if p and p != "none")
        unknown = set(args.parts) - set(parts.PARTS)
        if unknown:
            parser.error(f"--parts: unknown {sorted(unknown)}; choose from {', '.join(parts.PARTS)}")
    return args


def machine():
    info = {"nproc": len(os.sched_getaffinity(0)), "cpu_model": "unknown", "memory_gib": 0.0,
            "kernel": platform.release()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                                 if line.startswith("model name"))
        meminfo = Path("/proc/meminfo").read_text()
        kib = next(int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:"))
        info["memory_gib"] = kib / 2**20
    except (OSError, StopIteration, ValueError):
        pass  # not Linux: the report says "unknown"
    return info


def git_state():
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout
    try:
        return {"commit": git("rev-parse", "--short", "HEAD").strip(),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip())}
    except (OSError, subprocess.CalledProcessError):
        pass
    # Inside the toolchain root a git worktree's repository cannot be read: ./dev says it.
    commit = os.environ.get("WEBPICKLE_GIT_COMMIT")
    return {"commit": commit, "dirty": os.environ.get("WEBPICKLE_GIT_DIRTY") == "1"} if commit else None


def run_native(args):
    print(f"== native CPython {sys.version.split()[0]}", flush=True)
    return measure.run("quick-native" if args.quick else "native", args.filter, args.libs)


def run_pyodide(args):
    """Measure inside Pyodide through pyodide_runner.mjs; {"error": ...} when it cannot run."""
    print("== Pyodide in Node", flush=True)
    out = args.output.with_name(f".{args.output.name}-pyodide-{os.getpid()}.json")
    cmd = ["node", str(BENCH / "pyodide_runner.mjs"), "--out", str(out),
           "--preset", "quick-pyodide" if args.quick else "pyodide", "--libs", ",".join(args.libs)]
    if args.filter:
        cmd += ["-k", args.filter]
    if args.wheel:
        cmd += ["--wheel", str(Path(args.wheel).resolve())]
    try:
        status = subprocess.run(cmd, cwd=ROOT).returncode
    except FileNotFoundError:
        return {"error": "node is not on PATH: run through './dev bench' (inside the toolchain)"}
    try:
        if status != 0 or not out.exists():
            return {"error": f"pyodide_runner.mjs exited with status {status} (its message is above); "
                             "if the wheel is missing, run './dev build-wasm'"}
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    runtimes = {}
    if not args.pyodide_only:
        runtimes["native"] = run_native(args)
    if not args.native_only:
        runtimes["pyodide"] = run_pyodide(args)
    results = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["bench/run.py", *(sys.argv[1:] if argv is None else argv)]),
        "mode": "quick" if args.quick else "full",
        "machine": machine(), "git": git_state(), "runtimes": runtimes,
    }
    if args.parts:
        results["parts"] = {name: parts.run(name, args.output, args.quick) for name in args.parts}
    report.add_goals(results)
    path = {ext: Path(f"{args.output}.{ext}") for ext in ("json", "md", "png")}
    if not args.no_chart and chart.draw(results, path["png"]):
        results["chart"] = path["png"].name  # relative: the .md sits next to it
    path["json"].write_text(json.dumps(results, indent=1) + "\n")
    path["md"].write_text(report.markdown(results))
    if args.publish:
        publish.publish(results, path["png"] if "chart" in results else None)
    print("\n".join(["", *report.summary_lines(results), f"wrote {args.output}.json, .md"
                     + (", .png" if "chart" in results else "")]))
    failed = [rt for rt in runtimes.values() if "error" in rt]
    failed += [part for part in results.get("parts", {}).values() if "error" in part]
    not_ok = webpickle_failures(runtimes)
    for line in not_ok:
        print(f"FAILED  {line}", file=sys.stderr)
    measured = sum(len(rt.get("items", [])) for rt in runtimes.values())
    # The closing line ./dev test counts (tests/harness/stage_counts.py).
    print(f"webpickle round trips: {measured - len(not_ok)} ok, {len(not_ok)} failed", flush=True)
    return 1 if failed or not_ok else 0


def webpickle_failures(runtimes):
    """One line per corpus item webpickle did not round-trip: a benchmark of a
    broken round trip measures nothing, so the run fails (the other libraries'
    refusals are results, not failures)."""
    return [f"{runtime} / {item['name']}: webpickle {result['status']}: {result.get('error', '')}"
            for runtime, measured in runtimes.items()
            for item in measured.get("items", [])
            for name, result in item["results"].items()
            if name == "webpickle" and result["status"] != "ok"]


if __name__ == "__main__":
    sys.exit(main())
