"""The scaling section of the Markdown report: how dumps time, loads time and
stream size grow along a series of corpus items (1, 10, 100 functions in a
cell; 1k, 10k, 100k records). No goals: the figure to read is the growth
factor from one step of a series to the next, per library."""

import report

SERIES = {  # series title -> item names in increasing size (corpus.py)
    "functions in one cell": ("cell of 1 function", "cell of 10 functions", "cell of 100 functions"),
    "JSON-like records": ("1k JSON records", "10k JSON records", "100k JSON records"),
}


def _cell(item, lib, base):
    """'time (×growth) · size' for one library on one step of a series."""
    result = item["results"].get(lib)
    if not report._ok(result):
        return result["status"] if result else "—"
    dumps, size = result["dumps"]["median"], result["size"]
    text = f"{report.fmt_time(dumps)}, {size:,} B"
    if base is not None and report._ok(base.get(lib)):
        growth = dumps / base[lib]["dumps"]["median"]
        text += f" (time ×{growth:.3g}, size ×{size / base[lib]['size']:.3g})"
    return text


def _series_table(items_by_name, names):
    head = ["item", *report.LIBS, "wp/cp dumps", "wp/cp size"]
    rows, base = [], None
    for name in names:
        item = items_by_name.get(name)
        if item is None:
            continue
        res = item["results"]
        rows.append([name, *(_cell(item, lib, base) for lib in report.LIBS),
                     report.fmt_ratio(report._ratio(report._median(res.get("webpickle"), "dumps"),
                                                    report._median(res.get("cloudpickle"), "dumps"))),
                     report.fmt_ratio(report._ratio(res["webpickle"]["size"] if report._ok(res.get("webpickle")) else None,
                                                    res["cloudpickle"]["size"] if report._ok(res.get("cloudpickle")) else None))])
        base = res
    return report._table(head, rows) if rows else []


def markdown(results):
    out = []
    for rt, runtime in results["runtimes"].items():
        items = {i["name"]: i for i in runtime.get("items", ()) if i["kind"] == report.SCALING}
        if not items:
            continue
        out += [f"## {report.RUNTIME_TITLES[rt]}: scaling", "",
                "Dumps time (median) and stream size; in brackets, the growth from the row above "
                "(10x more input each row).", ""]
        for title, names in SERIES.items():
            table = _series_table(items, names)
            if table:
                out += [f"### {title}", "", *table, ""]
    return out
