// Summary and Markdown report of bench/workers/run.mjs: the median over rounds
// of each figure, the goals of issues 5 and 15 (reported as pass/FAIL, never
// asserted), the machine, the versions and the method.

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// figure -> [label, metric, field, unit, digits, goal (for webpickle only; gets
// webpickle's figure and today's start path's summary), goal text]
const FIGURES = [
  ["ready_2", "a later pool of 2 ready (snapshot in memory)", "ready_2", "seconds", "s", 2, (v) => v <= 0.6, "≤ 0.6 s"],
  ["ready_4", "a later pool of 4 ready", "ready_4", "seconds", "s", 2, (v) => v <= 1.0, "≤ 1.0 s"],
  ["first_2", "the page's first pool of 2 ready (makes the snapshot)", "first_2", "seconds", "s", 2,
    (v, old) => old.ready_2 === undefined || v <= old.ready_2, "≤ today's"],
  ["first_4", "the page's first pool of 4 ready", "first_4", "seconds", "s", 2, (v) => v <= 3.5, "≤ 3.5 s"],
  ["reload_2", "after a reload: first pool of 2 ready (cached snapshot)", "reload_2", "seconds", "s", 2, (v) => v <= 0.8, "≤ 0.8 s"],
  ["timeout_next", "next task served after a timeout", "timeout_next", "ms", "ms", 1, (v) => v <= 50, "≤ 50 ms"],
  ["cancel_next", "next task served after a cancel", "cancel_next", "ms", "ms", 1, (v) => v <= 50, "≤ 50 ms"],
  ["heap_mb", "wasm memory per worker (pool of 2)", "ready_2", "heap_mb", "MiB", 1],
  ["rt_median", "small call round trip, median", "small_calls", "median_ms", "ms", 3, (v) => v <= 0.35, "≤ 0.35 ms"],
  ["rt_p99", "small call round trip, p99", "small_calls", "p99_ms", "ms", 3],
  ["calls_per_s", "sequential calls per second", "small_calls", "calls_per_s", "/s", 0, (v) => v >= 2500, "≥ 2,500/s"],
  ["speedup", "speedup, 2 workers vs 1 (~300 ms tasks)", "speedup", "speedup", "×", 2, (v) => v >= 1.85, "≥ 1.85"],
  ["big_first", "64 MB argument delivered, first call", "big_argument", "first_ms", "ms", 1],
  ["big_median", "64 MB argument delivered, later calls (median)", "big_argument", "median_ms", "ms", 1, (v) => v < 40, "< 40 ms"],
  // Issue 16 (today's call path is the column "webpickle-uncached", over 100 items instead of 1,000).
  ["closure_posted", "map of 1,000 items closing over 8 MB on 2 workers: MB posted", "big_closure", "posted_mb", "MB", 1,
    (v) => v <= 2 * 8.39 + 1, "≤ 2 × 8 MB + the items"],
  ["closure_ratio", "its wall time over the same map closing over 8 bytes", "big_closure", "ratio", "×", 2,
    (v) => v <= 1.2, "≤ 1.2"],
  ["closure_big_s", "its wall time", "big_closure", "big_s", "s", 2],
  ["stream_growth", "imap_unordered over 1,000,000 items (chunks of 100): page memory growth", "streaming",
    "growth_mb", "MiB", 1, (v) => v < 50, "< 50 MiB"],
  ["stream_first", "items read when the first result arrived", "streaming", "first_result_after_items", "", 0,
    (v) => v < 10000, "< 10,000"],
  ["stream_total_s", "its wall time", "streaming", "total_s", "s", 1],
];

export function summarize(samples) {
  const summary = {};
  for (const [key, , metric, field] of FIGURES) {
    for (const [kind, rounds] of Object.entries(samples[metric] ?? {})) {
      const values = rounds.map((r) => r[field]).filter((v) => typeof v === "number");
      if (values.length) (summary[kind] ??= {})[key] = median(values);
    }
  }
  // Today's path has no snapshot to make: its first pool is any pool.
  const old = summary["webpickle-old"];
  if (old) for (const size of [2, 4]) old[`first_${size}`] ??= old[`ready_${size}`];
  // Issue 16's rows compare with today's call path (each call carrying its whole function).
  const uncached = summary["webpickle-uncached"];
  if (uncached) for (const key of ["closure_posted", "closure_ratio", "closure_big_s"]) (summary["webpickle-old"] ??= {})[key] = uncached[key];
  for (const [kind, [result]] of Object.entries(samples.copies ?? {})) (summary[kind] ??= {}).copies = result.copies;
  return summary;
}

/** One line for the README (bench/publish.py): webpickle's figures beside the baseline's. */
export function headline(summary) {
  const ours = summary.webpickle ?? {}, base = summary.baseline ?? {};
  const pair = (key, digits, unit) => `${format(ours[key], digits)}${unit} (baseline ${format(base[key], digits)}${unit})`;
  const old = summary["webpickle-old"] ?? {};
  const was = (key, digits, unit) => `${format(ours[key], digits)}${unit} (today's start path ${format(old[key], digits)}${unit})`;
  return `small-call round trip ${pair("rt_median", 3, " ms")}, ${pair("calls_per_s", 0, "")} sequential calls/s, ` +
    `speedup on 2 workers ${pair("speedup", 2, "×")}, 64 MB argument ${pair("big_median", 1, " ms")} ` +
    `with ${ours.copies ?? "–"} copies (baseline ${base.copies ?? "–"}); a later pool of 2 ready in ${was("ready_2", 2, " s")}, ` +
    `of 4 in ${was("ready_4", 2, " s")}, the first pool of 2 in ${format(ours.first_2, 2)} s and of 4 in ${was("first_4", 2, " s")}, ` +
    `after a reload ${was("reload_2", 2, " s")}; next task after a timeout ${was("timeout_next", 1, " ms")}.`;
}

const format = (value, digits) => (value === undefined ? "–" : value.toLocaleString("en-US",
  { minimumFractionDigits: digits, maximumFractionDigits: digits }));

export function markdown({ started, rounds, quick, machine, samples, summary }) {
  const ours = summary.webpickle ?? {};
  const old = summary["webpickle-old"] ?? {};
  const base = summary.baseline ?? {};
  const lines = [
    `# Worker pool benchmark${quick ? " (quick: for checking the harness, not for quoting)" : ""}`, "",
    `${started}; median of ${rounds} round(s), webpickle, its old start path and the baseline interleaved in the same page of one Chromium.`, "",
    "| figure | webpickle.workers | today's path (start; calls in issue 16's rows) | baseline | goal | |", "| --- | ---: | ---: | ---: | --- | --- |",
  ];
  for (const [key, label, , , unit, digits, goal, goalText] of FIGURES) {
    const verdict = goal && ours[key] !== undefined ? (goal(ours[key], old) ? "pass" : "FAIL") : "";
    lines.push(`| ${label} | ${format(ours[key], digits)} ${unit} | ${format(old[key], digits)} ${unit} | ` +
      `${format(base[key], digits)} ${unit} | ${goalText ?? ""} | ${verdict} |`);
  }
  lines.push(`| copies of a 64 MB argument | ${ours.copies ?? "–"} | | ${base.copies ?? "–"} | 2 | ${ours.copies === 2 ? "pass" : "FAIL"} |`);
  const copyNotes = (kind) => (samples.copies?.[kind]?.[0]?.where ?? []).map((w) => `  - ${w}`);
  lines.push("", "Copies of the 64 MB argument:", "", "- webpickle.workers (counted at run time):", ...copyNotes("webpickle"),
    "- baseline (by construction, see baseline_pool.py):", ...copyNotes("baseline"));
  const parts = samples.breakdown?.webpickle?.[0];
  const hops = samples.loop_hops?.webpickle?.[0];
  if (parts && hops) {
    lines.push("", "Where webpickle's small-call round trip goes (one pass, medians):", "",
      `- from Python, \`await pool.submit(add_one, 1)\`: ${format(parts.python_median_ms, 3)} ms`,
      `- from JS alone, \`await pool.call(stream)\` (messages, the worker's Python included): ${format(parts.js_median_ms, 3)} ms`,
      `- the page's Python steps: dumps ${format(parts.dumps_us, 1)} µs, loads ${format(parts.loads_us, 1)} µs`,
      `- one asyncio step in Pyodide's WebLoop: \`await asyncio.sleep(0)\` ${format(hops.sleep0_us, 0)} µs; ` +
      `a future set by call_soon ${format(hops.call_soon_future_us, 0)} µs; awaiting a resolved JS promise ${format(hops.js_promise_us, 0)} µs`);
  }
  lines.push("", "## Machine and versions", "");
  for (const [key, value] of Object.entries(machine)) {
    lines.push(`- ${key}: ${Array.isArray(value) ? value.map((v) => v.toFixed(2)).join(", ") : value}`);
  }
  lines.push("", "## Method", "",
    "- Everything is measured from Python on the page (`await pool.submit(...)`), with time.perf_counter " +
    "(performance.now, 5 µs steps on this cross-origin-isolated page). The same code (measure.py) measures both pools.",
    "- Pool ready: from creating the pool to every worker ready (Pyodide and webpickle, or cloudpickle, loaded). " +
    "\"Today's start path\" is webpickle.workers with snapshot=False and interrupt_grace=0: every worker boots " +
    "Pyodide itself and a stopped task's worker is replaced. A later pool restores the snapshot the page made " +
    "before; the first pool's in-memory snapshot is forgotten first and it skips the cache, so its first worker " +
    "makes one while the others wait; after a reload (page.reload()) the page's first pool restores the snapshot " +
    "kept in Cache Storage (today's path after a reload is measured the same way).",
    "- Next task after a timeout or a cancel: a pool of one, a task in a `while True: pass` loop stopped after " +
    "0.2 s; from the TimeoutError (or the cancel) to the result of the next `add_one(1)`.",
    "- Memory per worker: the size of its wasm memory (Pyodide's HEAP8) once ready.",
    "- Round trip: `add_one(1)` awaited one after another on a new pool of one worker, after 1 s of warm-up calls " +
    "(a new pool is slower for its first few thousand calls, while V8 optimizes the hot wasm functions); calls per second: as many such calls as fit in 2 s.",
    "- Speedup: 8 tasks spinning the CPU for 300 ms each, on a pool of 1 worker and one of 2; the ratio of wall times.",
    "- 64 MB argument: `pickle.PickleBuffer(bytearray(64 MiB))`; delivery is from just before submit() on the page " +
    "to the start of the function in the worker (performance.timeOrigin + now() on both sides). The first call " +
    "pays for fresh memory (page faults on this VM cost ~3 ms per MB); later calls reuse it.",
    "- Each figure is the median over rounds; every sample is in the JSON file.", "",
    "Goals are from issues 5 and 15 and never make the run fail. Baseline anchor numbers measured earlier on these " +
    "machines: round trip 0.7 ms, 1,200 calls/s, speedup 1.9, worker ready in about 2.3 s.");
  return `${lines.join("\n")}\n`;
}
