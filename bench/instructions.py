"""Instructions per dumps() of corpus items, counted by valgrind's callgrind:
a figure that the load of a shared machine does not move, for A/B checks of
the native engine.

    bash wasm/toolchain.sh run build/venv/bin/python bench/instructions.py \\
        [-k ITEM ...] [--package DIR ...]

Each figure is (instructions of a run that dumps the item N more times -
instructions of a run that dumps it 0 more times) / N, both runs after the
same warm-up, with address-space randomisation off (setarch -R) and
PYTHONHASHSEED=0, so that a run repeats to the instruction. --package DIR
puts DIR first on the path (a folder holding a `webpickle` package, e.g. a
copy of build/venv's made before a change); several are measured in turn
for each item. Without it, the installed webpickle is measured.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402  (after the path set-up above)

# Dumps per figure: enough that the per-run overhead divides away, few
# enough that a large item stays within a minute under callgrind.
DEFAULT_ITEMS = {"lambda": 40, "closure": 40, "recursive function": 40, "notebook cell": 20,
                 "cell of 1 function": 40, "cell of 10 functions": 20, "cell of 100 functions": 4,
                 "plain instances 10k": 2, "dynamic dataclass 10k": 2, "nested containers 5k": 2,
                 "JSON records 10k": 2}
WARM_UP = 5


def run_item(name, count):
    """In the measured process: build the item, warm up, dump it `count` times."""
    import gc

    import webpickle

    item = next(i for i in corpus.ITEMS if i.name == name)
    obj = item.make()
    for _ in range(WARM_UP):
        webpickle.dumps(obj)
    gc.disable()
    for _ in range(count):
        webpickle.dumps(obj)


def instructions(name, count, package, timeout):
    env = dict(os.environ, PYTHONHASHSEED="0")
    if package:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(package).resolve()), env.get("PYTHONPATH")]))
    # Compiles the package's .pyc files first, which would count in the first run otherwise.
    subprocess.run([sys.executable, "-c", "import webpickle"], env=env, check=True, timeout=timeout)
    command = ["setarch", "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--run-item", name, str(count)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"callgrind failed for {name!r} ({package or 'installed'}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/instructions.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="items", action="append", metavar="ITEM",
                        help=f"a corpus item (repeatable; default: {', '.join(DEFAULT_ITEMS)})")
    parser.add_argument("--package", action="append", metavar="DIR",
                        help="a folder holding the webpickle package to measure (repeatable)")
    parser.add_argument("--dumps", type=int, help="dumps per figure (default: per item, see DEFAULT_ITEMS)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per callgrind run (default 600)")
    parser.add_argument("--run-item", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_item:
        run_item(args.run_item[0], int(args.run_item[1]))
        return
    names = args.items or list(DEFAULT_ITEMS)
    known = {item.name for item in corpus.ITEMS}
    for name in names:
        if name not in known:
            parser.error(f"no corpus item {name!r}; the items are: {', '.join(sorted(known))}")
    packages = args.package or [None]
    print("item\tpackage\tinstructions per dumps()")
    for name in names:
        count = args.dumps or DEFAULT_ITEMS.get(name, 4)
        for package in packages:
            base = instructions(name, 0, package, args.timeout)
            total = instructions(name, count, package, args.timeout)
            print(f"{name}\t{package or 'installed'}\t{(total - base) // count}", flush=True)


if __name__ == "__main__":
    main()
