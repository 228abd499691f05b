"""Measure every corpus item with every library in this interpreter.

Runs unchanged natively (imported by run.py) and inside Pyodide (driven by
pyodide_runner.mjs): `run(preset, item_filter, libraries)` returns a
JSON-ready dict. Each library loads its own stream with its own loads.
"""

import importlib
import platform
import sys
import traceback
import warnings

import corpus
import timing

PROTOCOL = 5
LIBRARIES = ("webpickle", "cloudpickle", "dill", "pickle")


def _first_line(exc):
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def _calls(module, item, obj):
    """(dumps_call, loads_call_factory) for one library and item."""
    if item.out_of_band:
        def dumps():
            buffers = []
            return module.dumps(obj, protocol=PROTOCOL, buffer_callback=buffers.append), buffers

        def loads_of(stream):
            data, buffers = stream
            return lambda: module.loads(data, buffers=buffers)
    else:
        def dumps():
            return module.dumps(obj, protocol=PROTOCOL), None

        def loads_of(stream):
            data = stream[0]
            return lambda: module.loads(data)
    return dumps, loads_of


def _prepare(module, item, obj, expected):
    """One library on one item: dumps once and check the round trip.

    Returns (result, dumps_call, loads_call); the calls are None unless the
    status is "ok". Anything the library refuses to pickle counts as unsupported.
    """
    dumps, loads_of = _calls(module, item, obj)
    try:
        stream = dumps()
    except Exception as exc:
        return {"status": "unsupported", "error": _first_line(exc)}, None, None
    result = {"size": len(stream[0]), "_stream": stream[0]}
    loads = loads_of(stream)
    try:
        same = _probe(item, loads()) == expected
    except Exception as exc:
        return {**result, "status": "broken", "error": "loads failed: " + _first_line(exc)}, None, None
    if not same:
        return {**result, "status": "broken", "error": "the loaded object differs from the original"}, None, None
    return {**result, "status": "ok"}, dumps, loads


def _measure_item(item, modules, settings, log):
    obj = item.make()
    expected = _probe(item, obj)
    results, dumps_calls, loads_calls = {}, {}, {}
    for name, module in modules.items():
        try:
            results[name], dumps_calls[name], loads_calls[name] = _prepare(module, item, obj, expected)
        except Exception as exc:  # a bug here should not cost the other figures
            traceback.print_exc()
            results[name] = {"status": "broken", "error": "benchmark error: " + _first_line(exc)}
    ok = [name for name, r in results.items() if r["status"] == "ok"]
    for op, calls in (("dumps", dumps_calls), ("loads", loads_calls)):
        # loads of by-value items with the collector on: they leave cyclic garbage (timing.py).
        keep_gc = op == "loads" and item.kind != corpus.DATA and item.kind != corpus.INSTANCES
        for name, stats in timing.measure({name: calls[name] for name in ok}, settings, keep_gc).items():
            results[name][op] = stats
    _mark_same_streams(results)
    for name, result in results.items():
        log(f"  {item.name:<24} {name:<12} {_brief(result)}")
    return {"name": item.name, "kind": item.kind, "description": item.description, "results": results}


def _probe(item, obj):
    return item.probe(obj) if item.probe else obj


def _versions(modules):
    versions = {"python": sys.version.split()[0], "implementation": platform.python_implementation(),
                "platform": sys.platform, "machine": platform.machine()}
    for name, module in modules.items():
        versions[name] = getattr(module, "__version__", sys.version.split()[0])
    if sys.platform == "emscripten":
        import pyodide
        versions["pyodide"] = pyodide.__version__  # pyodide_runner.mjs adds the wheel's build
    elif "webpickle" in modules:
        versions["webpickle_build"] = build_identity(modules["webpickle"]._core.__file__)
    return versions


def build_identity(path):
    """File name, modification time (UTC) and sha256 prefix of a build artefact.

    The version string does not change between builds; this tells whether the
    native extension and the Pyodide wheel measured come from the same sources.
    """
    import datetime
    import hashlib
    import os
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()[:12]
    mtime = datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc)
    return {"file": os.path.basename(path), "built": mtime.strftime("%Y-%m-%d %H:%M:%S UTC"), "sha256": digest}


def run(preset, item_filter="", libraries=LIBRARIES, log=print):
    """Measure the corpus items whose name contains item_filter (case-insensitive)."""
    settings = timing.PRESETS[preset]
    modules = {name: importlib.import_module(name) for name in libraries}
    if "dill" in modules:  # dill warns before it fails; its failure is what gets recorded
        warnings.filterwarnings("ignore", category=modules["dill"].PicklingWarning)
    items = [item for item in corpus.ITEMS if item_filter.lower() in item.name.lower()]
    if not items:
        raise SystemExit(f"no corpus item matches {item_filter!r}; names: "
                         + ", ".join(item.name for item in corpus.ITEMS))
    out = [_measure_item(item, modules, settings, log) for item in items]
    return {"preset": preset, "timing": {**vars(settings), "method": settings.describe()},
            "protocol": PROTOCOL, "versions": _versions(modules), "items": out}


def _mark_same_streams(results):
    """Note which libraries wrote byte-identical streams (their loads times then differ by noise only)."""
    streams = {name: r.pop("_stream") for name, r in results.items() if "_stream" in r}
    for name, data in streams.items():
        twins = [other for other, d in streams.items() if other != name and d == data]
        if twins:
            results[name]["same_stream_as"] = twins


def _brief(result):
    if result["status"] != "ok":
        return f"{result['status']}: {result['error']}"
    return (f"dumps {result['dumps']['median'] * 1e3:9.3f} ms  loads {result['loads']['median'] * 1e3:9.3f} ms  "
            f"{result['size']:>10,} B")
