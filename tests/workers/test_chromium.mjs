// The worker pool in headless Chromium: Python's WorkerPool on a page and
// inside a worker (nested pools), a hung task with a timeout, a crashing
// worker, 1,000 tasks, the copies of a 64 MB argument, and the JS API used
// directly. Never asserts speed.
//
//   bash wasm/toolchain.sh run node --test tests/workers/test_chromium.mjs
//
// Serves build/dist (refreshed first from the wheel in build/wasm/dist: run
// ./dev build-wasm after changing src/webpickle), tests/workers/fixtures and js/.

import { after, afterEach, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import fs from "node:fs";
import { ROOT, launchChromium, makeDist, openPage, startServer } from "./chromium.mjs";
import { pyodideWithoutSnapshots } from "./pyodide_without_snapshots.mjs";

const LOAD_MS = 180_000; // a cold Pyodide on 2 busy cores takes seconds; generous on purpose
const SCENARIO_MS = 300_000;
let server, browser, page, problems, noSnapshots;
let consoleBeforeTests; // console errors logged while the page loaded

before(async () => {
  makeDist();
  noSnapshots = pyodideWithoutSnapshots(path.join(ROOT, "build/dist"));
  server = await startServer({ "/workers/": path.join(ROOT, "tests/workers/fixtures"), "/js/": path.join(ROOT, "js"),
    "/pyodide-without-snapshots/": noSnapshots });
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser.context, `${server.url}workers/page.html`, "window.pageReady", LOAD_MS));
  const ready = await page.evaluate(() => window.pageReady);
  assert.equal(ready.error, undefined, `the fixture page failed to load: ${ready.error}`);
  consoleBeforeTests = consoleErrorsSince(0);
});

after(async () => {
  if (noSnapshots) fs.rmSync(noSnapshots, { recursive: true, force: true });
  await browser?.close();
  if (server?.child.exitCode === null) server.child.kill("SIGTERM");
});

// Console errors (the page's and its workers') fail the test they came in, except those a
// test causes on purpose: each named exactly here, with why it is expected.
const WORKER_ABORTED = {
  why: "the scenario aborts a worker's runtime (faulthandler._sigabrt): Emscripten's abort() prints Aborted() " +
    "and Pyodide its fatal-error report, with the wasm trap abort() ends in, in that worker's console",
  texts: [
    /^Aborted\(\)$/,
    /^Pyodide has suffered a fatal error\. Please report this to the Pyodide maintainers\.$/,
    /^The cause of the fatal error was:$/,
    /^RuntimeError: unreachable\n\s+at \S+pyodide\.asm\.wasm:wasm-function\[\d+\]:0x[0-9a-f]+\n\s+at abort \(/,
  ],
};
const EXPECTED_CONSOLE_ERRORS = { "a crashing worker fails only its task and is replaced": WORKER_ABORTED };

let consoleMark = 0; // problems logged before the current test
const consoleErrorsSince = (mark) => problems.slice(mark).filter((p) => p.startsWith("console: "))
  .map((p) => p.slice("console: ".length));
beforeEach(() => { consoleMark = problems.length; });
afterEach((t) => {
  const expected = EXPECTED_CONSOLE_ERRORS[t.name]?.texts ?? [];
  const unexpected = consoleErrorsSince(consoleMark).filter((text) => !expected.some((pattern) => pattern.test(text)));
  assert.deepEqual(unexpected, [], `console errors during "${t.name}"`);
});

const scenario = (name) => page.evaluate((n) => window.scenario(n), name);
const scenarioInWorker = (name) => page.evaluate((n) => window.scenarioInWorker(n), name);

function checkBasics(result, inWorker) {
  assert.equal(result.error, undefined, result.error);
  assert.deepEqual(result.point, ["Point", 2, 4]);
  assert.deepEqual(result.squares, [0, 1, 4, 9, 16, 25, 36, 49]);
  assert.deepEqual(result.raised, ["item 7", true]);
  assert.equal(result.ready_s.length, 2);
  assert.equal(result.in_worker, inWorker);
}

test("a page's Python runs functions by value in a pool of two workers", { timeout: SCENARIO_MS }, async (t) => {
  const result = await scenario("basics");
  checkBasics(result, false);
  // The page's first pool makes the snapshot; its second worker boots beside (2 cores) or restores it.
  assert.equal(result.snapshot[0], "made");
  assert.ok(["not used", "restored"].includes(result.snapshot[1]), result.snapshot.join());
  t.diagnostic(`workers ready in ${result.ready_s.map((s) => s.toFixed(2)).join(" s, ")} s`);
});

test("nested: Python inside a worker runs its own pool", { timeout: SCENARIO_MS }, async () => {
  const result = await scenarioInWorker("basics");
  checkBasics(result, true);
  // The worker's own pool finds the page's snapshot in Cache Storage.
  assert.deepEqual(result.snapshot, ["from cache", "from cache"]);
});

test("a hung task times out or is cancelled: interrupted, the same worker serves the next task", { timeout: SCENARIO_MS }, async (t) => {
  const result = await scenario("hung_task");
  assert.equal(result.error, undefined, result.error);
  assert.equal(result.interrupt, true, "the fixture page is cross-origin isolated: workers get interrupt buffers");
  assert.match(result.outcome, /^TimeoutError: the task ran past its 2000 ms timeout; worker 0 was interrupted/);
  assert.equal(result.after, "served");
  assert.equal(result.cancelled, "served after a cancel");
  assert.equal(result.replaced, false);
  t.diagnostic(`timed out after ${result.elapsed_s.toFixed(2)} s; next task served ${(result.next_s * 1000).toFixed(1)} ms later`);
});

test("interrupts arriving as tasks end reach no later task", { timeout: SCENARIO_MS }, async (t) => {
  const result = await scenario("interrupts_as_tasks_end");
  assert.equal(result.error, undefined, result.error);
  assert.equal(result.stray_interrupt_at, undefined, "a later task got the interrupt");
  assert.equal(result.replaced, false);
  assert.ok(result.timed_out > 0, JSON.stringify(result));
  t.diagnostic(`${result.timed_out} interrupted, ${result.finished} finished first`);
});

test("a task stuck in C code costs its worker after the grace period; the replacement restores the snapshot", { timeout: SCENARIO_MS }, async () => {
  const result = await scenario("stuck_in_c");
  assert.equal(result.error, undefined, result.error);
  assert.deepEqual([result.outcome, result.after, result.replaced, result.snapshot], ["TimeoutError", 3, true, "restored"]);
});

test("pools start from one snapshot: made by the first worker, restored by the others and by later pools", { timeout: SCENARIO_MS }, async (t) => {
  const { error, first, second } = await scenario("snapshot_pools");
  assert.equal(error, undefined, error);
  // Earlier tests made it already: both pools restore (from memory, or from the cache on a rerun).
  for (const { stats } of [first, second]) {
    assert.ok(["restored", "from cache"].includes(stats.snapshot.use), JSON.stringify(stats.snapshot));
    assert.ok(stats.workers.every((w) => w.snapshot === stats.snapshot.use && w.heap_bytes > 0), JSON.stringify(stats.workers));
  }
  t.diagnostic(`pools of 2 ready in ${first.ready_s.toFixed(2)} s and ${second.ready_s.toFixed(2)} s`);
});

test("eight workers from one snapshot draw different random numbers", { timeout: SCENARIO_MS }, async () => {
  const { error, draws, tokens, uses } = await scenario("eight_random");
  assert.equal(error, undefined, error);
  assert.ok(uses.every((u) => u === "restored" || u === "from cache"), uses.join());
  assert.equal(new Set(draws).size, 8, `the same draws: ${draws}`);
  assert.equal(new Set(tokens).size, 8);
});

test("a crashing worker fails only its task and is replaced", { timeout: SCENARIO_MS }, async () => {
  const result = await scenario("crash");
  assert.equal(result.error, undefined, result.error);
  assert.match(result.outcome, /^WorkerCrashedError: worker 0 died while running the task/);
  assert.equal(result.after, 3);
});

test("a function is posted once per worker, again after an eviction; items are read lazily", { timeout: SCENARIO_MS }, async () => {
  const result = await scenario("send_once");
  assert.equal(result.error, undefined, result.error);
  assert.equal(result.mapped_right, true);
  assert.equal(result.map_functions, 1, "one worker: the function's stream posted once for 30 calls");
  assert.equal(result.map_function_bytes, result.stream_bytes);
  assert.ok(result.map_payload_bytes < 30 * 200, `the calls carried ${result.map_payload_bytes} bytes of arguments`);
  assert.deepEqual(result.evicting, [700_001, 700_000]);
  assert.equal(result.misses, 1, "the evicted function was asked for again once");
  assert.ok(result.read_for_20 <= 20 + 2, `${result.read_for_20} items read for 20 results`);
  assert.equal(result.raised, "item 7");
  assert.ok(result.read_before_error <= 7 + 1 + 2, `${result.read_before_error} items read before the error stopped it`);
});

test("1,000 tasks: none is lost", { timeout: SCENARIO_MS }, async () => {
  const result = await scenario("thousand");
  assert.equal(result.error, undefined, result.error);
  assert.deepEqual(result, {
    outcomes: 1000, results: 900, errors: 100,
    results_right: true, mapped_right: true, unordered_right: true,
  });
});

test("a 64 MB argument: one copy out of the page's memory, a transfer, one copy in", { timeout: SCENARIO_MS }, async (t) => {
  const r = await scenario("copies_64mb");
  const size = 64 << 20;
  assert.equal(r.error, undefined, r.error);
  assert.deepEqual(r.received, [size, 1, 2]);
  assert.equal(r.page_copies_out, 1);
  assert.equal(r.page_bytes_out, size);
  assert.deepEqual(r.sender_detached, [true], "transferred, so the page's ArrayBuffer is detached");
  assert.ok(r.page_python_peak < size / 2, `Python on the page copied the argument (${r.page_python_peak} B traced)`);
  assert.equal(r.worker_copies_in, 1);
  assert.equal(r.worker_bytes_in, size);
  // The one copy into the worker shows in its traced peak; a second would double it.
  assert.ok(r.worker_python_peak >= size && r.worker_python_peak < 2 * size,
    `the worker traced ${r.worker_python_peak} B: not exactly one copy of ${size} B`);
  // The same, seen by watching JavaScript on both sides (copy_recorder.py), apart from webpickle's counters:
  // one copy out of the page's memory, one into the worker's; the buffer transferred there and sent home.
  assert.deepEqual(r.page_copies_seen, [["set", size]], "copies of the argument on the page");
  assert.deepEqual(r.page_transfers_seen, [[size, true]], "the argument's buffer posted to the worker");
  assert.deepEqual(r.worker_copies_seen, [["set", size]], "copies of the argument in the worker");
  assert.deepEqual(r.worker_transfers_seen, [[size, true]], "the argument's buffer sent home as a spare");
  t.diagnostic(`copies: page→JS ${r.page_copies_out}, JS→worker ${r.worker_copies_in}; ` +
    `Python peaks: page ${r.page_python_peak} B, worker ${r.worker_python_peak} B`);
});

test("the JS API, used directly from a page", { timeout: SCENARIO_MS }, async () => {
  const python = (code, input) => execFileSync("python3", ["-c", code], { input });
  const payload = [...python("import pickle, sys; sys.stdout.buffer.write(pickle.dumps((pow, (2, 10), {}), protocol=5))")];
  // A CPU loop, so the timeout always fires first (a 0 ms timeout raced a fast reply).
  const endless = [...python("import pickle, sys; sys.stdout.buffer.write(pickle.dumps((exec, ('while True: pass',), {}), protocol=5))")];
  const reply = await page.evaluate(async ([bytes, loop]) => {
    const { WorkerPool } = await import("/js/pool.mjs");
    const pool = await WorkerPool.start({ size: 1, indexURL: "/pyodide/" });
    try {
      const { payload: out, raised } = await pool.call(new Uint8Array(bytes));
      let timeout;
      await pool.call(new Uint8Array(loop), { timeout: 300 }).catch((e) => { timeout = { name: e.name, message: e.message }; });
      return { out: [...out], raised, timeout, workers: pool.workers.length };
    } finally {
      pool.terminate();
    }
  }, [payload, endless]);
  assert.equal(reply.raised, false);
  assert.equal(python("import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()))", Buffer.from(reply.out)).toString().trim(), "1024");
  assert.equal(reply.timeout?.name, "TimeoutError", `the looping call was not stopped: ${JSON.stringify(reply.timeout)}`);
  assert.equal(reply.workers, 1);
});

test("a Pyodide without the snapshot options: workers start as before and the stats say why", { timeout: SCENARIO_MS }, async () => {
  const { error, stats, result } = await page.evaluate(() => window.scenario("without_snapshot_options", ["/pyodide-without-snapshots/"]));
  assert.equal(error, undefined, error);
  assert.equal(result, 4);
  assert.equal(stats.snapshot.use, "not used");
  assert.match(stats.snapshot.reason, /this Pyodide has no makeMemorySnapshot\(\)/);
});

async function reload() {
  await page.reload();
  await page.waitForFunction("window.pageReady", null, { timeout: LOAD_MS });
}

test("after a reload, pools restore the snapshot kept in Cache Storage; a corrupt entry is made again", { timeout: SCENARIO_MS }, async (t) => {
  await reload();
  const cached = await scenario("snapshot_pools");
  assert.equal(cached.error, undefined, cached.error);
  assert.equal(cached.first.stats.snapshot.use, "from cache");
  t.diagnostic(`after a reload, a pool of 2 from the cache ready in ${cached.first.ready_s.toFixed(2)} s`);
  const flipped = await page.evaluate(async () => {
    const cache = await caches.open("webpickle-snapshots");
    const keys = await cache.keys();
    const body = new Uint8Array(await (await cache.match(keys[0])).arrayBuffer());
    body[body.length >> 1] ^= 0xff;
    await cache.put(keys[0], new Response(body));
    return keys.length;
  });
  assert.equal(flipped, 1, "one entry: older ones are evicted");
  await reload();
  const rebuilt = await scenario("snapshot_pools");
  assert.equal(rebuilt.error, undefined, rebuilt.error);
  assert.equal(rebuilt.first.stats.snapshot.use, "made", "the corrupt entry was not loaded");
  assert.equal(rebuilt.second.stats.snapshot.use, "restored");
});

test("no page errors, no failed requests, no console errors while the page loaded", () => {
  assert.deepEqual(problems.filter((p) => !p.startsWith("console: ")), []);
  assert.deepEqual(consoleBeforeTests, []);
});
