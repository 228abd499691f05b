"""Goals and the Markdown report, from the results run.py gathers.

Goals are displayed, never asserted: a FAIL is a figure to act on, not a
crash. Every ratio here is webpickle's figure over a reference's.
"""

import report_scaling

LIBS = ("webpickle", "cloudpickle", "dill", "pickle")
RUNTIME_TITLES = {"native": "Native CPython", "pyodide": "Pyodide in Node"}
# By-value dumps must beat cloudpickle by this factor, per runtime.
BY_VALUE_SPEEDUP = {"native": 5.0, "pyodide": 8.0}
DATA_VS_PICKLE, INSTANCES_VS_PICKLE, SIZE_VS_CLOUDPICKLE = 1.0, 0.6, 0.8

GOAL_TEXT = [
    "data items: webpickle dumps <= 1.0x stdlib pickle's time",
    "plain-class instances: webpickle dumps <= 0.6x stdlib pickle's time",
    "by-value items: webpickle dumps >= 5x faster than cloudpickle natively, >= 8x in Pyodide",
    "loading webpickle's stream no slower than loading cloudpickle's (byte-identical streams pass as such)",
    "by-value items (functions and classes, not the instances of a by-value class): "
    "webpickle's stream <= 0.8x cloudpickle's size",
]
BY_VALUE_KINDS = ("by value", "by value instances")
SCALING = "scaling"  # series without goals: see report_scaling.py


def _ok(result):
    return result is not None and result.get("status") == "ok"


def _median(result, op):
    return result[op]["median"] if _ok(result) else None


def _verdict(goal, passed, value=None, note=""):
    return {"goal": goal, "pass": passed, "value": value, "note": note}


def _against(goal, ours, theirs, limit, op):
    """webpickle's figure (op: "dumps", "loads" or "size") over a reference's, passing when <= limit.

    Timings whose min-max ranges overlap (the reference's scaled by limit) get
    the note "within noise": the verdict could flip on another run.
    """
    if not _ok(ours):
        return _verdict(goal, False, note=ours["status"] if ours else "missing")
    if not _ok(theirs):
        return _verdict(goal, None, note="reference unsupported")
    if op == "size":
        ratio = ours["size"] / theirs["size"]
        return _verdict(goal, ratio <= limit, ratio)
    mine, ref = ours[op], theirs[op]
    ratio = mine["median"] / ref["median"]
    overlap = mine["min"] <= ref["max"] * limit and ref["min"] * limit <= mine["max"]
    return _verdict(goal, ratio <= limit, ratio, "within noise" if overlap else "")


def item_goals(runtime, item):
    """{"dumps"|"loads"|"size": verdict} for one item in one runtime."""
    res = item["results"]
    wp, cp, pk = res.get("webpickle"), res.get("cloudpickle"), res.get("pickle")
    goals = {}
    if item["kind"] == SCALING:
        return goals
    if item["kind"] == "data":
        goals["dumps"] = _against("<= 1.0x pickle", wp, pk, DATA_VS_PICKLE, "dumps")
    elif item["kind"] == "instances":
        goals["dumps"] = _against("<= 0.6x pickle", wp, pk, INSTANCES_VS_PICKLE, "dumps")
    else:
        need = BY_VALUE_SPEEDUP[runtime]
        goals["dumps"] = _against(f">= {need:g}x faster than cloudpickle", wp, cp, 1 / need, "dumps")
        if item["kind"] == "by value":
            goals["size"] = _against("<= 0.8x cloudpickle", wp, cp, SIZE_VS_CLOUDPICKLE, "size")
    if _ok(wp) and "cloudpickle" in wp.get("same_stream_as", ()):
        goals["loads"] = _verdict("<= 1.0x cloudpickle's stream", True, 1.0, "same stream")
    else:
        goals["loads"] = _against("<= 1.0x cloudpickle's stream", wp, cp, 1.0, "loads")
    return goals


def add_goals(results):
    for name, runtime in results["runtimes"].items():
        for item in runtime.get("items", ()):
            item["goals"] = item_goals(name, item)


# ---- formatting ----------------------------------------------------------

def fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(ratio):
    return "—" if ratio is None else f"{ratio:.2f}" if ratio < 10 else f"{ratio:.1f}"


def fmt_verdict(verdict):
    if verdict is None:
        return ""
    if verdict["pass"] is None:
        return f"n/a ({verdict['note']})"
    word = "pass" if verdict["pass"] else "**FAIL**"
    value = verdict["value"]
    if value is None:
        return f"{word} ({verdict['note']})"
    if not verdict["goal"].startswith(">="):
        shown = f"{fmt_ratio(value)}x"
    else:
        shown = f"{1 / value:.2f}x faster" if value <= 1 else f"{value:.2f}x slower"
    if verdict["note"] == "same stream":
        shown = "same stream"
    elif verdict["note"]:
        shown += f", {verdict['note']}"
    return f"{word} ({shown})"


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def _table(head, rows):
    return [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows)]


def _ratio(a, b):
    return a / b if a is not None and b else None


def _op_table(runtime, items, op):
    head = ["item", *LIBS, "wp/cp", "wp/pickle", "goal", "samples"]
    rows = []
    for item in items:
        res = item["results"]
        figures = {lib: _median(res.get(lib), op) for lib in LIBS}
        best = min((f for f in figures.values() if f is not None), default=None)
        cells = [item["name"]]
        for lib in LIBS:
            r = res.get(lib)
            if not _ok(r):
                cells.append(r["status"] if r else "—")
                continue
            s = r[op]
            spread = (s["max"] - s["min"]) / 2 / s["median"] * 100
            cells.append(f"{fmt_time(s['median'])} ±{spread:.0f}% ({fmt_ratio(s['median'] / best)}x)")
        counts = [res[lib][op]["samples"] for lib in LIBS if _ok(res.get(lib))]
        samples = "—" if not counts else str(min(counts)) if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
        cells += [fmt_ratio(_ratio(figures["webpickle"], figures["cloudpickle"])),
                  fmt_ratio(_ratio(figures["webpickle"], figures["pickle"])),
                  fmt_verdict(item["goals"].get(op)), samples]
        rows.append(cells)
    return _table(head, rows)


def _size_table(items):
    head = ["item", *LIBS, "wp/cp", "wp/pickle", "goal"]
    rows = []
    for item in items:
        res = item["results"]
        sizes = {lib: res[lib]["size"] if _ok(res.get(lib)) else None for lib in LIBS}
        smallest = min((s for s in sizes.values() if s is not None), default=None)
        cells = [item["name"]]
        for lib in LIBS:
            r = res.get(lib)
            cells.append(f"{sizes[lib]:,} ({fmt_ratio(sizes[lib] / smallest)}x)" if sizes[lib] is not None
                         else r["status"] if r else "—")
        cells += [fmt_ratio(_ratio(sizes["webpickle"], sizes["cloudpickle"])),
                  fmt_ratio(_ratio(sizes["webpickle"], sizes["pickle"])), fmt_verdict(item["goals"].get("size"))]
        rows.append(cells)
    return _table(head, rows)


def _goal_summary(results):
    runtimes = [name for name, rt in results["runtimes"].items() if rt.get("items")]
    head = ["item"] + [f"{RUNTIME_TITLES[rt]} {op}" for rt in runtimes for op in ("dumps", "loads", "size")]
    names = []
    for rt in runtimes:
        names += [i["name"] for i in results["runtimes"][rt]["items"]
                  if i["name"] not in names and i["kind"] != SCALING]
    rows, tally = [], {True: 0, False: 0}
    for name in names:
        cells = [name]
        for rt in runtimes:
            item = next((i for i in results["runtimes"][rt]["items"] if i["name"] == name), None)
            for op in ("dumps", "loads", "size"):
                verdict = item["goals"].get(op) if item else None
                cells.append(fmt_verdict(verdict) if verdict else "")
                if verdict and verdict["pass"] is not None:
                    tally[verdict["pass"]] += 1
        rows.append(cells)
    return [f"{tally[True]} goals pass, {tally[False]} fail.", "", *_table(head, rows)]


def _errors(results):
    lines = []
    for rt, runtime in results["runtimes"].items():
        for item in runtime.get("items", ()):
            for lib, r in item["results"].items():
                if r.get("status") != "ok":
                    lines.append(f"- {RUNTIME_TITLES[rt]}, {item['name']}, {lib}: {r['status']}: `{r['error']}`")
    return lines


def _versions_line(rt, runtime):
    v = runtime["versions"]
    libs = ", ".join(f"{lib} {v[lib]}" for lib in LIBS if lib in v and lib != "pickle")
    if "webpickle_build" in v:
        b = v["webpickle_build"]
        libs += f" (webpickle build `{b['file']}` of {b['built']}, sha256 {b['sha256']})"
    where = f"Pyodide {v.get('pyodide')} (CPython {v['python']}) in Node {v.get('node')}, wheel `{v.get('wheel')}`" \
        if rt == "pyodide" else f"CPython {v['python']} ({v['machine']})"
    return f"- {RUNTIME_TITLES[rt]}: {where}; {libs}"


def _build_warning(results):
    """A warning when webpickle supports an item in one runtime but not the other.

    Both runtimes run the same sources, so a difference usually means one build
    is stale (the build lines above tell which is older).
    """
    runtimes = [rt for rt in results["runtimes"].values() if rt.get("items")]
    if len(runtimes) < 2:
        return []
    status = [{i["name"]: i["results"].get("webpickle", {}).get("status") for i in rt["items"]} for rt in runtimes]
    differ = [name for name in status[0] if name in status[1] and status[0][name] != status[1][name]]
    if not differ:
        return []
    return ["", f"**Warning:** webpickle's support differs between the runtimes for {', '.join(differ)}: "
            "the native extension and the Pyodide wheel probably come from different sources, so the "
            "runtimes are not comparable on those items. Rebuild both (`./dev build`) and run again."]


def markdown(results):
    m, git = results["machine"], results.get("git") or {}
    out = ["# webpickle benchmarks", "",
           f"Generated {results['generated']} by `{results['command']}` ({results['mode']} run)"
           + (f" at commit {git['commit']}{' with local changes' if git.get('dirty') else ''}" if git else "") + ".",
           "", "## Machine and versions", "",
           f"- Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']:.1f} GiB RAM, "
           f"Linux {m['kernel']}; shared with other work, so expect noise"]
    for rt, runtime in results["runtimes"].items():
        out.append(_versions_line(rt, runtime) if "versions" in runtime
                   else f"- {RUNTIME_TITLES[rt]}: **not measured**: {runtime['error']}")
    out += _build_warning(results)
    out += ["", "## Method", ""]
    for rt, runtime in results["runtimes"].items():
        if "timing" in runtime:
            out.append(f"- {RUNTIME_TITLES[rt]}: {runtime['timing']['method']}.")
    out += ["- Protocol 5 for every library. Each library loads its own stream with its own loads "
            "(webpickle.loads and cloudpickle.loads are pickle.loads; dill.loads is dill's Unpickler). "
            "Every stream is loaded and checked against the original before it is timed.",
            "- By-value items are exec'd into a dict named `__main__` that is not `sys.modules['__main__']`, "
            "so nothing in them can be found by name: a pickler that falls back to a by-name reference fails "
            "(dill does for enums).",
            "- Cells: median per call ±half the min–max spread in % of the median (ratio to the fastest "
            "library on that item). Ratios wp/cp and wp/pickle are webpickle's figure over theirs: "
            "below 1 means webpickle is faster or smaller.",
            "- Goals (shown, never asserted):", *(f"  - {g}" for g in GOAL_TEXT),
            "- \"within noise\": the two timings' min–max ranges overlap, so that verdict may flip "
            "on another run.", "",
            "## Goals", "", *_goal_summary(results), ""]
    for rt, runtime in results["runtimes"].items():
        items = [i for i in runtime.get("items", ()) if i["kind"] != SCALING]
        if not items:
            continue
        for op in ("dumps", "loads"):
            out += [f"## {RUNTIME_TITLES[rt]}: {op} time", "", *_op_table(rt, items, op), ""]
        out += [f"## {RUNTIME_TITLES[rt]}: stream size (bytes)", "", *_size_table(items), ""]
    out += report_scaling.markdown(results)
    for part in results.get("parts", {}).values():
        out += [part["markdown"], ""]
    errors = _errors(results)
    if errors:
        out += ["## Unsupported and broken", "", *errors, ""]
    if results.get("chart"):
        out += ["## Chart", "", f"![dumps time relative to cloudpickle]({results['chart']})", ""]
    return "\n".join(out)


def summary_lines(results):
    """A few lines for the terminal: failed goals per runtime."""
    lines = []
    for rt, runtime in results["runtimes"].items():
        if "error" in runtime:
            lines.append(f"{RUNTIME_TITLES[rt]}: not measured: {runtime['error']}")
            continue
        verdicts = [v for i in runtime["items"] for v in i["goals"].values() if v["pass"] is not None]
        passed = sum(v["pass"] for v in verdicts)
        lines.append(f"{RUNTIME_TITLES[rt]}: {passed}/{len(verdicts)} goals pass")
    for part in results.get("parts", {}).values():
        lines.append(f"{part['title']}: " + (f"not measured: {part['error']}" if "error" in part else "measured"))
    return lines
