// Benchmark the worker pool in headless Chromium against today's start path
// (no snapshot, no interrupts) and the baseline (cloudpickle + bare
// postMessage), in the same browser and page, rounds interleaved. Writes bench/results/workers.{json,md}; goals are reported,
// never asserted.
//
//   bash wasm/toolchain.sh run node bench/workers/run.mjs [--rounds 3] [--quick] [--output PREFIX] [--only M1,M2]
//
// About 4 minutes with 3 rounds on 2 cores (--quick: 1 round, fewer calls,
// to check the harness, not figures to quote). Uses the wheel in
// build/wasm/dist (refreshed into build/dist first): build it before.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, launchChromium, makeDist, openPage, startServer } from "../../tests/workers/chromium.mjs";
import { option } from "../../tests/harness/pyodide_node.mjs";
import { headline, markdown, summarize } from "./report.mjs";

const CLOUDPICKLE = "/usr/lib/python3/dist-packages/cloudpickle";
const ALL = ["webpickle", "webpickle-old", "baseline"];
const OURS = ["webpickle", "webpickle-old"];
const MEASURE_TIMEOUT_MS = 180_000; // the slowest measurement takes about 30 s

// [metric, measure.py function, its arguments, the kinds measured]
function plan(quick) {
  return [
    ["ready_2", "ready", [2], ALL], // webpickle: a later pool, restoring the page's snapshot
    ["ready_4", "ready", [4], ALL],
    ["first_2", "first_ready", [2], ["webpickle"]], // the page's first pool makes the snapshot
    ["first_4", "first_ready", [4], ["webpickle"]],
    ["timeout_next", "after_stop", ["timeout"], OURS],
    ["cancel_next", "after_stop", ["cancel"], OURS],
    ["small_calls", "small_calls", quick ? [300, 0.5] : [2000, 2.0], [...ALL, "webpickle-uncached"]],
    ["speedup", "speedup", quick ? [0.3, 4] : [0.3, 8], ["webpickle", "baseline"]],
    ["big_argument", "big_argument", quick ? [64, 2] : [64, 5], ["webpickle", "baseline"]],
    // Issue 16: a function sent once per worker, beside today's whole call per item (100 items:
    // today's path posts 8 MB per item), and a long iterable streamed.
    ["big_closure", "big_closure", quick ? [100, 8] : [1000, 8], ["webpickle"]],
    ["big_closure", "big_closure", [100, 8], ["webpickle-uncached"]],
    ["streaming", "streaming", quick ? [100_000, 100] : [1_000_000, 100], ["webpickle"]],
  ];
}

/** Reload the page and wait for its Pyodide; the snapshot in Cache Storage stays. */
async function reload(page) {
  await page.reload();
  const handle = await page.waitForFunction("window.benchReady", null, { timeout: 180_000 });
  const ready = await handle.jsonValue();
  if (ready.error) throw new Error(`the benchmark page failed to reload: ${ready.error}`);
}

function machine(chromiumVersion, loadAtStart) {
  const wheels = fs.readdirSync(path.join(ROOT, "build/wasm/dist")).filter((f) => f.endsWith(".whl"));
  const pyodide = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/pyodide/package.json"), "utf8"));
  return {
    cpu: os.cpus()[0]?.model ?? "unknown", cores: os.availableParallelism(), memory_gb: Math.round(os.totalmem() / 2 ** 30),
    load_average_at_start: loadAtStart, load_average_at_end: os.loadavg(), kernel: `${os.type()} ${os.release()}`, chromium: chromiumVersion,
    node: process.version, pyodide: pyodide.version, wheel: wheels[0], cloudpickle: "3.1.2 (Debian's files)",
  };
}

async function main(argv) {
  const quick = argv.includes("--quick");
  // --only m1,m2: just these metrics of the plan, and reload_2 if named (no breakdown or copies): to check a change.
  const only = option(argv, "--only")?.split(",");
  const rounds = Number(option(argv, "--rounds") ?? (quick ? 1 : 3));
  const prefix = option(argv, "--output") ?? path.join(ROOT, "bench/results", quick ? "workers-quick" : "workers");
  if (!fs.existsSync(CLOUDPICKLE)) throw new Error(`${CLOUDPICKLE} is missing: run inside the toolchain (wasm/toolchain.sh run ...)`);
  makeDist();
  const server = await startServer({ "/bench/": path.join(ROOT, "bench/workers"), "/cloudpickle/": CLOUDPICKLE });
  const browser = await launchChromium();
  const started = new Date();
  const loadAtStart = os.loadavg(); // other work on the machine shows in every figure: report it
  const samples = {}; // metric -> kind -> [result of each round]
  try {
    const { page, ready } = await openPage(browser.context, `${server.url}bench/bench.html`, "window.benchReady", 180_000);
    if (ready.error) throw new Error(`the benchmark page failed to load: ${ready.error}`);
    const measure = async (metric, name, kind, args, label) => {
      const result = await withTimeout(page.evaluate(([n, k, a]) => window.measure(n, k, a), [name, kind, args]),
        MEASURE_TIMEOUT_MS, `${name}(${kind})`);
      if (result.error) throw new Error(`${name}(${kind}) failed: ${result.error}`);
      if (metric) ((samples[metric] ??= {})[kind] ??= []).push(result);
      console.log(`${label} ${(metric ?? "warm-up").padEnd(12)} ${kind.padEnd(13)} ${brief(result)}`);
    };
    // The page's first pool makes the snapshot (and caches it): not a sample of a later pool.
    await measure(null, "ready", "webpickle", [1], "before the rounds");
    for (let round = 0; round < rounds; round++) {
      for (const [metric, name, args, kinds] of plan(quick).filter(([m]) => !only || only.includes(m))) {
        // Alternate who goes first, so that none always gets the warmer (or busier) slot.
        const order = (round % 2 === 0) ? kinds : [...kinds].reverse();
        for (const kind of order) await measure(metric, name, kind, args, `round ${round + 1}/${rounds}`);
      }
    }
    // A reload keeps only what is in Cache Storage: the page's first pool restores the cached snapshot.
    for (let round = 0; round < (!only || only.includes("reload_2") ? rounds : 0); round++) {
      for (const kind of round % 2 === 0 ? OURS : [...OURS].reverse()) {
        await reload(page);
        await measure("reload_2", "ready", kind, [2], `reload ${round + 1}/${rounds}`);
      }
    }
    // Where webpickle's round trip goes: JS alone, Python's steps, one asyncio hop.
    for (const name of only ? [] : ["breakdown", "loop_hops"]) {
      const result = await page.evaluate(([n]) => window.measure(n, "webpickle", []), [name]);
      if (result.error) throw new Error(`${name} failed: ${result.error}`);
      samples[name] = { webpickle: [result] };
      console.log(`${name.padEnd(12)} ${brief(result)}`);
    }
    for (const kind of only ? [] : ["webpickle", "baseline"]) {
      const result = await page.evaluate(([k]) => window.measure("copies", k, [64]), [kind]);
      if (result.error) throw new Error(`copies(${kind}) failed: ${result.error}`);
      ((samples.copies ??= {})[kind] ??= []).push(result);
    }
  } finally {
    await browser.close();
    server.child.kill("SIGTERM");
  }
  const chromiumVersion = execFileSync("/usr/bin/chromium", ["--version"]).toString().trim();
  const results = { started: started.toISOString(), rounds, quick, machine: machine(chromiumVersion, loadAtStart), samples,
    summary: summarize(samples) };
  results.headline = headline(results.summary);
  fs.mkdirSync(path.dirname(prefix), { recursive: true });
  fs.writeFileSync(`${prefix}.json`, JSON.stringify(results, null, 1));
  fs.writeFileSync(`${prefix}.md`, markdown(results));
  console.log(`\n${markdown(results)}\nwrote ${prefix}.json and ${prefix}.md`);
}

/** `promise`, or an error saying which measurement hung. */
function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms / 1000} s (a hung pool?)`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function brief(result) {
  const numbers = Object.entries(result).filter(([, v]) => typeof v === "number")
    .map(([k, v]) => `${k}=${v.toFixed(3)}`);
  return [...numbers, ...(result.uses ? [`(${result.uses.join(", ")})`] : [])].join(" ");
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`bench/workers/run.mjs: ${error?.message ?? error}`);
  process.exit(1);
});
