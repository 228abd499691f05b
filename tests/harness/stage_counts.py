"""How many tests a stage of `./dev test` ran, failed and skipped, read from its output.

    python3 tests/harness/stage_counts.py KIND LOG

KIND names the tool whose closing lines LOG holds: ctest, pytest (run with
-rs, so that skip reasons are listed), runner (tests/harness/runner.py),
async (tests/harness/async_runner.py), node (node --test, TAP or spec
reporter), tsc (tsc --listFiles: files type-checked), bench (bench/run.py).
Prints "N passed, N failed, N skipped" and then one line per skip reason;
exits 1 when no test ran or no closing line was found, so that a stage that
quietly ran nothing fails.
"""

import re
import sys


def last(pattern, text, flags=re.MULTILINE):
    found = re.findall(pattern, text, flags)
    return found[-1] if found else None


def ctest(text):
    # Run with -V, ctest shows Catch2's own count of test cases.
    catch2 = re.findall(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)"
                        r"|test cases: +(\d+) \| +(\d+) passed \| +(\d+) failed", text)
    if catch2:
        passed = sum(int(all_ok or ok) for all_ok, _, ok, _ in catch2)
        return passed, sum(int(bad or 0) for _, _, _, bad in catch2), 0, []
    line = last(r"^\d+% tests passed, (\d+) tests? failed out of (\d+)", text)
    if line is None:
        return None
    failed, total = int(line[0]), int(line[1])
    skips = re.findall(r"^\s*\d+ - (\S+) \((?:Skipped|Disabled|Not Run)\)", text, re.MULTILINE)
    return total - failed - len(skips), failed, len(skips), [f"{name}: skipped by ctest" for name in skips]


def pytest(text):
    line = last(r"^=*\s*((?:\d+ \w+(?: \w+)?, )*\d+ \w+(?: \w+)? in [\d.]+s.*)$", text)
    if line is None:
        return None
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)\b",
                                                     re.sub(r"\d+ subtests \w+", "", line))}
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    passed = counts.get("passed", 0) + counts.get("xfailed", 0) + counts.get("xpassed", 0)
    skips = re.findall(r"^SKIPPED \[(\d+)\] (.*)$", text, re.MULTILINE)
    reasons = [reason + (f" (x{n})" if n != "1" else "") for n, reason in skips]
    if counts.get("skipped", 0) and not reasons:
        reasons = ["reasons not shown: run pytest with -rs"]
    return passed, failed, counts.get("skipped", 0), reasons


def runner(text):
    line = last(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", text)
    if line is None:
        return None
    reasons = re.findall(r"^  SKIPPED (.*)$", text, re.MULTILINE)
    return int(line[0]), int(line[1]), int(line[2]), reasons


def async_(text):
    line = last(r"^(\d+) passed, (\d+) failed$", text)
    return None if line is None else (int(line[0]), int(line[1]), 0, [])


def node(text):
    counts = dict((k, int(v)) for k, v in re.findall(r"^(?:#|ℹ) (tests|pass|fail|skipped|cancelled|todo) (\d+)$",
                                                     text, re.MULTILINE))
    if "tests" not in counts:
        return None
    reasons = re.findall(r"^\s*ok \d+ - (.*?) # SKIP\b\s*(.*)$", text, re.MULTILINE)
    reasons = [f"{name}: {why or 'skipped'}" for name, why in reasons]
    reasons += [f"{name}: {why}" for name, why in
                re.findall(r"^\s*﹣ (.*?) \([\d.]+m?s\) # (.*)$", text, re.MULTILINE)]
    failed = counts.get("fail", 0) + counts.get("cancelled", 0)
    return counts.get("pass", 0), failed, counts.get("skipped", 0) + counts.get("todo", 0), reasons


def tsc(text):
    files = [f for f in re.findall(r"^(/\S+\.m?[jt]s)$", text, re.MULTILINE) if "/node_modules/" not in f]
    errors = len(re.findall(r"error TS\d+", text))
    return (len(files), errors, 0, []) if files else None


def bench(text):
    line = last(r"^webpickle round trips: (\d+) ok, (\d+) failed$", text)
    return None if line is None else (int(line[0]), int(line[1]), 0, [])


KINDS = {"ctest": ctest, "pytest": pytest, "runner": runner, "async": async_, "node": node, "tsc": tsc,
         "bench": bench}


def main(argv):
    if len(argv) != 2 or argv[0] not in KINDS:
        raise SystemExit(f"usage: stage_counts.py {{{'|'.join(KINDS)}}} LOG")
    kind, log = argv
    with open(log, encoding="utf-8", errors="replace") as file:
        text = re.sub(r"\x1b\[[0-9;]*m", "", file.read())  # colours (Catch2 under Node prints them)
    found = KINDS[kind](text)
    if found is None:
        print(f"no closing line of {kind} found in the output: counts unknown")
        return 1
    passed, failed, skipped, reasons = found
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    for reason in reasons:
        print(f"    skipped: {reason}")
    if passed + failed == 0:
        print("    no test ran: a stage that runs nothing fails")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
