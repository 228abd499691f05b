// The worker pool in headless Chromium: Python's WorkerPool on a page and
// inside a worker (nested pools), a hung task with a timeout, a crashing
// worker, 1,000 tasks, the copies of a 64 MB argument, and the JS API used
// directly. Never asserts speed.
//
//   bash wasm/toolchain.sh run node --test tests/workers/test_chromium.mjs
//
// Serves build/dist (refreshed first from the wheel in build/wasm/dist: run
// ./dev build-wasm after changing src/webpickle), tests/workers/fixtures and js/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { ROOT, launchChromium, makeDist, openPage, startServer } from "./chromium.mjs";

const LOAD_MS = 180_000; // a cold Pyodide on 2 busy cores takes seconds; generous on purpose
const SCENARIO_MS = 300_000;
let server, browser, page, problems;

before(async () => {
  makeDist();
  server = await startServer({ "/workers/": path.join(ROOT, "tests/workers/fixtures"), "/js/": path.join(ROOT, "js") });
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser.context, `${server.url}workers/page.html`, "window.pageReady", LOAD_MS));
  const ready = await page.evaluate(() => window.pageReady);
  assert.equal(ready.error, undefined, `the fixture page failed to load: ${ready.error}`);
});

after(async () => {
  await browser?.close();
  if (server?.child.exitCode === null) server.child.kill("SIGTERM");
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
  t.diagnostic(`workers ready in ${result.ready_s.map((s) => s.toFixed(2)).join(" s, ")} s`);
});

test("nested: Python inside a worker runs its own pool", { timeout: SCENARIO_MS }, async () => {
  checkBasics(await scenarioInWorker("basics"), true);
});

test("a hung task times out; the replacement worker serves the next task", { timeout: SCENARIO_MS }, async (t) => {
  const result = await scenario("hung_task");
  assert.equal(result.error, undefined, result.error);
  assert.match(result.outcome, /^TimeoutError: the task ran past its 2000 ms timeout/);
  assert.equal(result.after, "served by the replacement");
  t.diagnostic(`timed out after ${result.elapsed_s.toFixed(2)} s`);
});

test("a crashing worker fails only its task and is replaced", { timeout: SCENARIO_MS }, async () => {
  const result = await scenario("crash");
  assert.equal(result.error, undefined, result.error);
  assert.match(result.outcome, /^WorkerCrashedError: worker 0 died while running the task/);
  assert.equal(result.after, 3);
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

test("no page errors and no failed requests", () => {
  assert.deepEqual(problems.filter((p) => !p.startsWith("console:")), []);
});
