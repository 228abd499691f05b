"""The PNG: dumps time of each library relative to cloudpickle's, per item,
native and Pyodide side by side (log scale; left of 1 is faster), with a red
tick where webpickle's goal lies."""

import math

import report

LIBS = ("webpickle", "dill", "pickle")  # cloudpickle is the 1.0 line
COLORS = {"webpickle": "#1f77b4", "dill": "#ff7f0e", "pickle": "#7f7f7f"}
TITLES = {"native": "Native CPython", "pyodide": "Pyodide in Node"}


def _ratio(item, lib, op):
    mine, ref = item["results"].get(lib, {}), item["results"].get("cloudpickle", {})
    if mine.get("status") != "ok" or ref.get("status") != "ok":
        return None
    return mine[op]["median"] / ref[op]["median"]


def _goal(item, runtime):
    """webpickle's dumps goal as a ratio to cloudpickle's time, or None (see report.py)."""
    if item["kind"] in report.BY_VALUE_KINDS:
        return 1 / report.BY_VALUE_SPEEDUP[runtime]
    pickle_ratio = _ratio(item, "pickle", "dumps")
    if pickle_ratio is None:
        return None
    return pickle_ratio * (report.DATA_VS_PICKLE if item["kind"] == "data" else report.INSTANCES_VS_PICKLE)


def draw(results, path, op="dumps"):
    """Write the chart to path; return False (with a reason printed) if matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display in the toolchain
        import matplotlib.pyplot as plt
    except ImportError as exc:
        print(f"chart skipped: {exc} (install python3-matplotlib, or pass --no-chart)")
        return False
    runtimes = [name for name, rt in results["runtimes"].items() if rt.get("items")]
    if not runtimes:
        return False
    items = [i["name"] for i in results["runtimes"][runtimes[0]]["items"] if i["kind"] != report.SCALING]
    fig, axes = plt.subplots(1, len(runtimes), figsize=(6.5 * len(runtimes), 0.55 * len(items) + 1.8),
                             sharey=True, squeeze=False)
    height = 0.8 / len(LIBS)
    for ax, rt in zip(axes[0], runtimes):
        by_name = {i["name"]: i for i in results["runtimes"][rt]["items"] if i["kind"] != report.SCALING}
        ratios = [r for i in by_name.values() for lib in LIBS if (r := _ratio(i, lib, op))]
        ratios += [g for i in by_name.values() if op == "dumps" and (g := _goal(i, rt))]
        low = 10 ** math.floor(math.log10(min(ratios + [0.5])))
        high = 10 ** math.ceil(math.log10(max(ratios + [2.0])))
        for k, lib in enumerate(LIBS):
            for row, name in enumerate(items):
                y = row + (k - (len(LIBS) - 1) / 2) * height
                ratio = _ratio(by_name[name], lib, op) if name in by_name else None
                if ratio is None:
                    results_ = by_name.get(name, {}).get("results", {})
                    status = results_.get(lib, {}).get("status", "missing")
                    if status == "ok":  # then cloudpickle is the one without a figure
                        status = "cloudpickle " + results_.get("cloudpickle", {}).get("status", "missing")
                    ax.text(low * 1.1, y, status, va="center", fontsize=6, color=COLORS[lib])
                else:
                    # Bars grow from the 1.0 line: leftwards when faster than cloudpickle.
                    ax.barh(y, abs(ratio - 1.0), height, left=min(ratio, 1.0), color=COLORS[lib])
        for row, name in enumerate(items):
            if op == "dumps" and name in by_name and (goal := _goal(by_name[name], rt)):
                y = row - (len(LIBS) - 1) / 2 * height  # on webpickle's bar
                ax.plot([goal], [y], marker="|", markersize=11, markeredgewidth=2, color="#d62728")
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xlabel("time / cloudpickle's time (log scale; left of 1 = faster)")
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.set_title(f"{TITLES[rt]}: {op} time / cloudpickle's")
        ax.grid(axis="x", which="major", alpha=0.3)
    axes[0][0].set_yticks(range(len(items)), items)
    axes[0][0].invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[lib]) for lib in LIBS]
    handles.append(plt.Line2D([], [], marker="|", markersize=11, markeredgewidth=2, linestyle="", color="#d62728"))
    fig.legend(handles, [*LIBS, "webpickle's goal"], loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
