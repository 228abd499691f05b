"""The bench smoke stage of ./dev test fails when webpickle's round trip is
broken: bench/run.py turns a corpus item webpickle did not round-trip into
exit status 1 (webpickle_failures), whatever the other libraries did."""

import importlib.util
import pathlib
import pickle
import sys
import types

import pytest

pytestmark = pytest.mark.native_only(reason="imports bench/run.py, which drives subprocesses")

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench"


def bench_module(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_broken_round_trip_fails_the_run():
    measure, run, corpus = bench_module("measure"), bench_module("run"), bench_module("corpus")
    item = next(i for i in corpus.ITEMS if not i.out_of_band and i.probe is None)
    obj = item.make()
    # A webpickle whose loads gives something else than what was dumped.
    broken = types.SimpleNamespace(dumps=pickle.dumps, loads=lambda data, **kw: ["not", "the", "original"])
    results = {"webpickle": measure._prepare(broken, item, obj, obj)[0],
               "pickle": measure._prepare(pickle, item, obj, obj)[0]}
    assert results["webpickle"]["status"] == "broken"
    runtimes = {"native": {"items": [{"name": item.name, "results": results}]}}
    lines = run.webpickle_failures(runtimes)
    assert len(lines) == 1 and lines[0].startswith(f"native / {item.name}: webpickle broken")
    results["webpickle"] = measure._prepare(pickle, item, obj, obj)[0]
    assert run.webpickle_failures(runtimes) == []
    # Another library's refusal is a result, not a failure of the run.
    results["pickle"] = {"status": "unsupported", "error": "cannot pickle"}
    assert run.webpickle_failures(runtimes) == []
