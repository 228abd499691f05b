"""`bench/run.py --publish`: put the run's headline table and chart into the
README, on purpose (never from a test run). The table goes between the
README's `<!-- bench:begin -->` and `<!-- bench:end -->` markers; the chart is
copied to docs/benchmarks.png."""

import shutil
from pathlib import Path

import report

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _headline(results):
    """Per by-value and data item: webpickle's dumps ratio to cloudpickle and to pickle, per runtime."""
    runtimes = [rt for rt, r in results["runtimes"].items() if r.get("items")]
    head = ["item"] + [f"{report.RUNTIME_TITLES[rt]}: dumps vs cloudpickle / pickle, size vs cloudpickle"
                       for rt in runtimes]
    names = [i["name"] for i in results["runtimes"][runtimes[0]]["items"] if i["kind"] != report.SCALING]
    rows = []
    for name in names:
        cells = [name]
        for rt in runtimes:
            item = next((i for i in results["runtimes"][rt]["items"] if i["name"] == name), None)
            res = item["results"] if item else {}
            wp = report._median(res.get("webpickle"), "dumps")
            vs = [report._ratio(wp, report._median(res.get(lib), "dumps")) for lib in ("cloudpickle", "pickle")]
            size = report._ratio(res["webpickle"]["size"] if report._ok(res.get("webpickle")) else None,
                                 res["cloudpickle"]["size"] if report._ok(res.get("cloudpickle")) else None)
            cells.append(" / ".join(report.fmt_ratio(v) for v in vs) + f", {report.fmt_ratio(size)}")
        rows.append(cells)
    return report._table(head, rows)


def publish(results, png):
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"--publish: README.md has no {BEGIN} ... {END} block to fill")
    git = results.get("git") or {}
    block = [BEGIN, "",
             f"Measured {results['generated']} at commit {git.get('commit', '?')} by `./dev bench` "
             "(ratios are webpickle's time or size over the other's: below 1 is better; "
             "full tables, spreads and method in `bench/results/latest.md`).", "",
             *_headline(results), ""]
    for part in results.get("parts", {}).values():
        summary = part.get("results", {}).get("headline")
        if summary:
            block += [f"{part['title']}: {summary}", ""]
    if png and Path(png).exists():
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(png, ROOT / "docs/benchmarks.png")
        block += ["![dumps time relative to cloudpickle](docs/benchmarks.png)", ""]
    block.append(END)
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(before + "\n".join(block) + after)
    print("README.md benchmark block and docs/benchmarks.png updated")
