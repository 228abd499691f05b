"""The benchmark parts that run as their own programs, so that `./dev bench`
is one command for everything: the worker pool in Chromium and its start-up in
Node (bench/workers/) and the remote-execution load test and big-closure map (bench/remote/). Each writes PREFIX.json
and PREFIX.md; run.py embeds both in its own report."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def _workers(prefix, quick):
    return ["node", str(BENCH / "workers/run.mjs"), "--output", str(prefix), *(["--quick"] if quick else [])]


def _workers_node(prefix, quick):
    return ["node", str(BENCH / "workers/node_start.mjs"), "--output", str(prefix), *(["--quick"] if quick else [])]


def _remote(prefix, quick):
    return [sys.executable, str(BENCH / "remote/load_test.py"), "--output", str(prefix),
            *(["--quick"] if quick else [])]


def _remote_closure(prefix, quick):
    return [sys.executable, str(BENCH / "remote/big_closure.py"), "--output", str(prefix),
            *(["--quick"] if quick else [])]


# name -> (title, command builder); the order is the report's.
PARTS = {
    "workers": ("Worker pool in Chromium", _workers),
    "workers-node": ("Worker pool start-up in Node", _workers_node),
    "remote": ("Remote execution load test", _remote),
    "remote-closure": ("Remote map over a big closure", _remote_closure),
}


def _demote(markdown):
    """Headings one level down, so a part's report nests under the main one."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def run(name, output, quick):
    """Run one part; return {"title", "markdown", "results"} or {"title", "markdown", "error"}."""
    title, command = PARTS[name]
    prefix = output.with_name(f"{output.name}-{name}")
    print(f"== {title}", flush=True)
    status = subprocess.run(command(prefix, quick), cwd=BENCH.parent).returncode
    md, js = Path(f"{prefix}.md"), Path(f"{prefix}.json")
    if status != 0 or not md.exists() or not js.exists():
        error = f"{' '.join(command(prefix, quick)[:2])} exited with status {status} (its message is above)"
        return {"title": title, "error": error, "markdown": f"## {title}\n\n**Not measured**: {error}\n"}
    return {"title": title, "results": json.loads(js.read_text()), "markdown": _demote(md.read_text())}
