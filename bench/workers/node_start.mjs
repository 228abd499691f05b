// Start-up and stopping of the worker pool in Node (worker_threads), through
// the JS API: pools starting from a memory snapshot beside today's start path
// (snapshot: false, interruptGrace: 0), rounds interleaved. Writes
// PREFIX.{json,md}; goals are reported, never asserted.
//
//   bash wasm/toolchain.sh run node bench/workers/node_start.mjs [--rounds 3] [--quick] [--output PREFIX]
//
// Uses the wheel in build/wasm/dist and Pyodide from node_modules.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkerPool } from "../../js/pool.mjs";
import { forgetSnapshotsInMemory } from "../../js/snapshot.mjs";
import { findWheel, option, projectRoot } from "../../tests/harness/pyodide_node.mjs";

const PYODIDE = path.join(projectRoot, "node_modules/pyodide/");
const NEW = "webpickle";
const OLD = "webpickle-old";
const OPTIONS = { [NEW]: {}, [OLD]: { snapshot: false, interruptGrace: 0 } };

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const stream = (expr) => new Uint8Array(execFileSync("python3", ["-c",
  `import pickle, sys\nsys.stdout.buffer.write(pickle.dumps(${expr}, protocol=5))`]));

/** Seconds until a pool of `size` is ready; with its workers' wasm memory and how they started. */
async function ready(kind, size, extra = {}) {
  const t0 = performance.now();
  const pool = await WorkerPool.start({ indexURL: PYODIDE, wheelURL: findWheel(), size, snapshotCache: false,
    ...OPTIONS[kind], ...extra });
  const seconds = (performance.now() - t0) / 1000;
  const { workers } = pool.stats;
  pool.terminate();
  return { seconds, heap_mb: median(workers.map((w) => w.heapBytes)) / 2 ** 20, uses: workers.map((w) => w.snapshot) };
}

/** Milliseconds from a stopped task's TimeoutError (or abort) to the next task's reply, on a pool of one. */
async function afterStop(kind, how, loop, small) {
  const pool = await WorkerPool.start({ indexURL: PYODIDE, wheelURL: findWheel(), size: 1, snapshotCache: false,
    ...OPTIONS[kind] });
  try {
    await pool.call(small);
    if (how === "timeout") {
      await pool.call(loop, { timeout: 200 }).catch(() => {});
    } else {
      const controller = new AbortController();
      const running = pool.call(loop, { signal: controller.signal }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 200));
      controller.abort();
      await running;
    }
    const t0 = performance.now();
    await pool.call(small);
    return { ms: performance.now() - t0 };
  } finally {
    pool.terminate();
  }
}

// [metric, label, unit, field, digits, goal for webpickle, goal text]
const FIGURES = [
  ["first_2", "first pool of 2 ready (makes the snapshot)", "s", "seconds", 2],
  ["first_4", "first pool of 4 ready", "s", "seconds", 2, (v) => v <= 3.5, "≤ 3.5 s"],
  ["ready_2", "a later pool of 2 ready", "s", "seconds", 2, (v) => v <= 0.6, "≤ 0.6 s"],
  ["ready_4", "a later pool of 4 ready", "s", "seconds", 2, (v) => v <= 1.0, "≤ 1.0 s"],
  ["cached_2", "a new process's first pool of 2 (snapshot from a cache directory)", "s", "seconds", 2, (v) => v <= 0.8, "≤ 0.8 s"],
  ["timeout_next", "next task served after a timeout", "ms", "ms", 1, (v) => v <= 50, "≤ 50 ms"],
  ["cancel_next", "next task served after an abort", "ms", "ms", 1, (v) => v <= 50, "≤ 50 ms"],
  ["heap_mb", "wasm memory per worker", "MiB", "heap_mb", 1],
];

async function main(argv) {
  const quick = argv.includes("--quick");
  const rounds = Number(option(argv, "--rounds") ?? (quick ? 1 : 3));
  const prefix = option(argv, "--output") ?? path.join(projectRoot, "bench/results", quick ? "workers-node-quick" : "workers-node");
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-bench-snapshots-"));
  const loop = stream("(exec, ('while True: pass',), {})");
  const small = stream("(abs, (-1,), {})");
  const samples = {}; // metric -> kind -> [result]
  const record = (metric, kind, result) => {
    ((samples[metric] ??= {})[kind] ??= []).push(result);
    const numbers = Object.entries(result).filter(([, v]) => typeof v === "number").map(([k, v]) => `${k}=${v.toFixed(3)}`);
    console.log(`${metric.padEnd(13)} ${kind.padEnd(13)} ${numbers.join(" ")} ${result.uses ? `(${result.uses.join(", ")})` : ""}`);
  };
  const started = new Date();
  const loadAtStart = os.loadavg();
  try {
    for (let round = 0; round < rounds; round++) {
      const kinds = round % 2 === 0 ? [NEW, OLD] : [OLD, NEW];
      for (const size of [2, 4]) {
        forgetSnapshotsInMemory(); // a first pool: its first worker makes the snapshot
        record(`first_${size}`, NEW, await ready(NEW, size));
      }
      for (const size of [2, 4]) for (const kind of kinds) record(`ready_${size}`, kind, await ready(kind, size));
      // A new process: nothing in memory, the snapshot in the cache directory (written by a first pool here).
      if (round === 0) {
        forgetSnapshotsInMemory();
        await ready(NEW, 1, { snapshotCache: cacheDir });
        while (!fs.readdirSync(cacheDir).some((f) => f.endsWith(".bin"))) await new Promise((r) => setTimeout(r, 20));
      }
      forgetSnapshotsInMemory();
      record("cached_2", NEW, await ready(NEW, 2, { snapshotCache: cacheDir }));
      for (const how of ["timeout", "cancel"]) for (const kind of kinds) record(`${how}_next`, kind, await afterStop(kind, how, loop, small));
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  const summary = {};
  for (const [metric, , , field] of FIGURES) {
    const source = metric === "heap_mb" ? "ready_2" : metric;
    for (const [kind, results] of Object.entries(samples[source] ?? {})) (summary[kind] ??= {})[metric] = median(results.map((r) => r[field]));
  }
  summary[OLD].first_2 = summary[OLD].ready_2; // today's path has no snapshot to make
  summary[OLD].first_4 = summary[OLD].ready_4;
  summary[OLD].cached_2 = summary[OLD].ready_2;
  const machine = { cpu: os.cpus()[0]?.model ?? "unknown", cores: os.availableParallelism(),
    load_average_at_start: loadAtStart, load_average_at_end: os.loadavg(), node: process.version,
    pyodide: JSON.parse(fs.readFileSync(path.join(PYODIDE, "package.json"), "utf8")).version, wheel: path.basename(findWheel()) };
  const results = { started: started.toISOString(), rounds, quick, machine, samples, summary };
  results.headline = headline(summary);
  fs.mkdirSync(path.dirname(prefix), { recursive: true });
  fs.writeFileSync(`${prefix}.json`, JSON.stringify(results, null, 1));
  fs.writeFileSync(`${prefix}.md`, markdown(results));
  console.log(`\n${markdown(results)}\nwrote ${prefix}.json and ${prefix}.md`);
}

const format = (value, digits) => (value === undefined ? "–" : value.toFixed(digits));

function headline(summary) {
  const ours = summary[NEW], old = summary[OLD];
  const pair = (key, digits, unit) => `${format(ours[key], digits)}${unit} (today ${format(old[key], digits)}${unit})`;
  return `a later pool of 2 ready in ${pair("ready_2", 2, " s")}, of 4 in ${pair("ready_4", 2, " s")}; ` +
    `the first pool of 4 in ${pair("first_4", 2, " s")}; next task after a timeout ${pair("timeout_next", 1, " ms")}.`;
}

function markdown({ started, rounds, quick, machine, summary }) {
  const ours = summary[NEW], old = summary[OLD];
  const lines = [`# Worker pool start-up in Node${quick ? " (quick: for checking the harness, not for quoting)" : ""}`, "",
    `${started}; median of ${rounds} round(s), worker_threads through js/pool.mjs.`, "",
    "| figure | with snapshot and interrupts | today's start path | goal | |", "| --- | ---: | ---: | --- | --- |"];
  for (const [metric, label, unit, , digits, goal, goalText] of FIGURES) {
    const verdict = goal && ours[metric] !== undefined ? (goal(ours[metric]) ? "pass" : "FAIL") : "";
    lines.push(`| ${label} | ${format(ours[metric], digits)} ${unit} | ${format(old[metric], digits)} ${unit} | ${goalText ?? ""} | ${verdict} |`);
  }
  lines.push("", "## Machine and versions", "");
  for (const [key, value] of Object.entries(machine)) {
    lines.push(`- ${key}: ${Array.isArray(value) ? value.map((v) => v.toFixed(2)).join(", ") : value}`);
  }
  lines.push("", "## Method", "",
    "- Pool ready: from WorkerPool.start() to every worker ready. Today's start path: snapshot: false and " +
    "interruptGrace: 0 (every worker boots Pyodide; a stopped task's worker is replaced). A first pool starts " +
    "after forgetSnapshotsInMemory(); a later one restores the snapshot this process made; the cache figure " +
    "forgets it too and reads it from a cache directory (today's path has no cache: its figure is its later pool's).",
    "- Next task: a pool of one, a `while True: pass` task stopped after 200 ms, then the time to the reply of `abs(-1)`.",
    "- Memory: each worker's wasm memory (Pyodide's HEAP8) once ready.",
    "- Goals are issue 15's and never make the run fail.");
  return `${lines.join("\n")}\n`;
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`bench/workers/node_start.mjs: ${error?.stack ?? error}`);
  process.exit(1);
});
