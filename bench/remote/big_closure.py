"""A map over a big closure through the remote server (issue 16): request bytes and wall time.

    bash wasm/toolchain.sh run build/venv/bin/python bench/remote/big_closure.py [--items 1000] [--quick]

(`./dev bench` runs it as its "remote-closure" part: bench/parts.py.)

Starts `python -m webpickle.server --processes 2` on 127.0.0.1 and runs
RemoteExecutor.map over `items` items of a function closing over 8 MB, and of
one closing over 8 bytes, with the function sent once (cache=True, the
default) and, beside it in the same run, with today's whole call per item
(cache=False; over a tenth of the items, since each posts the 8 MB). The
bytes are the client's own count of request bodies (executor.stats).
Writes PREFIX.json and PREFIX.md; default PREFIX bench/results/remote-closure.
"""

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import webpickle
from webpickle.remote import RemoteExecutor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import BENCH, machine, start_server  # noqa: E402  (this folder's sibling)

webpickle.register_pickle_by_value(sys.modules[__name__])


def closure_over(data):
    def touch(x):
        return len(data) + x

    return touch


async def one_map(url, key, function, items, cache):
    async with RemoteExecutor(url, key, cache=cache, big_function_bytes=None) as executor:
        t0 = time.perf_counter()
        results = await executor.map(function, range(items))
        wall = time.perf_counter() - t0
        assert results[-1] == function(items - 1)
        return {"wall_s": wall, "request_mb": executor.stats["request_bytes"] / 1e6,
                "requests": executor.stats["requests"], "uploads": executor.stats["function_uploads"],
                "items": items}


async def measure(url, key, items):
    small, big = closure_over(b"12345678"), closure_over(bytes(range(256)) * (8 << 12))
    await one_map(url, key, small, 50, True)  # warm-up
    figures = {}
    for name, function, count, cache in (("small", small, items, True), ("big", big, items, True),
                                         ("big_today", big, max(items // 10, 1), False),
                                         ("small_today", small, max(items // 10, 1), False)):
        figures[name] = await one_map(url, key, function, count, cache)
    figures["ratio"] = figures["big"]["wall_s"] / figures["small"]["wall_s"]
    return figures


def markdown(results):
    f = results["figures"]
    row = lambda label, r: (f"| {label} | {r['items']:,} | {r['request_mb']:,.2f} | {r['requests']:,} | "
                            f"{r['wall_s']:.2f} |")
    return "\n".join([
        "## RemoteExecutor.map over a big closure (--processes 2, loopback)", "",
        f"{results['started']}; one run. Goal: request bytes at most 8 MB plus the items "
        f"({'pass' if f['big']['request_mb'] <= 8.39 + f['big']['items'] * 1e-3 else 'FAIL'}).", "",
        "| map | items | request MB | requests | wall s |", "| --- | ---: | ---: | ---: | ---: |",
        row("closing over 8 MB, sent once", f["big"]), row("closing over 8 bytes, sent once", f["small"]),
        row("closing over 8 MB, today's whole call per item", f["big_today"]),
        row("closing over 8 bytes, today's whole call per item", f["small_today"]), "",
        f"Wall time of the 8 MB map over the 8-byte one: {f['ratio']:.2f}×.", ""])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/remote/big_closure.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000, help="items of the map (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="100 items: a check of the harness")
    parser.add_argument("--output", metavar="PREFIX", default=str(BENCH / "results" / "remote-closure"))
    args = parser.parse_args(argv)
    items = 100 if args.quick else args.items
    with tempfile.TemporaryDirectory() as scratch:
        key = secrets.token_hex(32)
        key_file = Path(scratch) / "key"
        key_file.write_text(key)
        key_file.chmod(0o600)
        process, url = start_server(str(key_file), 2)
        try:
            started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            figures = asyncio.run(measure(url, key, items))
        finally:
            process.terminate()
            process.wait(60)
    results = {"started": started, "figures": figures, "machine": machine()}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.output}.json").write_text(json.dumps(results, indent=1))
    Path(f"{args.output}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
