// joblib's Parallel on Web Workers from a page (headless Chromium 156: JSPI):
// the webpickle-workers backend of webpickle.joblib, with Debian's joblib on
// the page only. Also where workers get webpickle when micropip installed it
// (an index with a sha256, an emfs: path), in a browser. Never asserts speed.
//
//   bash wasm/toolchain.sh run node --test tests/integrations/test_joblib_chromium.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, openPage } from "../workers/chromium.mjs";
import { startIntegrationServer } from "./integration_server.mjs";

const LOAD_MS = 180_000; // a cold Pyodide on 2 busy cores takes seconds; generous on purpose
const SCENARIO_MS = 300_000;
let server, browser, page, problems;

before(async () => {
  server = await startIntegrationServer();
  browser = await launchChromium();
  ({ page, problems } = await openPage(browser.context, `${server.url}integrations/joblib.html`, "window.pageReady",
    LOAD_MS));
  const ready = await page.evaluate(() => window.pageReady);
  assert.equal(ready.error, undefined, `the fixture page failed to load: ${ready.error}`);
});

after(async () => {
  await browser?.close();
  server?.stop();
});

const scenario = (name, args = []) => page.evaluate(([n, a]) => window.scenario(n, a), [name, args]);

test("Parallel()(delayed(f)(i) for i in range(100)) on four workers: results, a generator, an error", { timeout: SCENARIO_MS }, async (t) => {
  const r = await scenario("workers");
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.count, 100);
  assert.equal(r.squares_right, true, "each result is the page's own dataclass, in order");
  assert.equal(r.joblib_in_workers, false, "batches travel as plain calls");
  assert.deepEqual(r.generated, ["generator", ...Array.from({ length: 30 }, (_, i) => i ** 3)]);
  assert.deepEqual(r.raised, ["item 7 is bad", "RemoteTraceback", true]);
  t.diagnostic(`100 tasks in ${r.first_s.toFixed(2)} s (pool start-up included); 30 more in ${r.second_s.toFixed(2)} s; ` +
    `the failing run ${r.error_s.toFixed(2)} s; leaving parallel_config ${r.end_s.toFixed(2)} s`);
});

test("n_jobs=-1 is every core the browser reports", { timeout: SCENARIO_MS }, async () => {
  const r = await scenario("all_cores");
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.n_jobs, r.cores);
  assert.deepEqual(r.results, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test("entered with runPython, not runPythonAsync, the error says so", async () => {
  const r = await page.evaluate(() => window.scenarioSync("entered_synchronously"));
  assert.equal(r.error, undefined, r.error);
  assert.match(r.outcome, /works only when Python was entered asynchronously: run this code with pyodide\.runPythonAsync/);
});

test("installed from an index with a sha256 (micropip's state): workers load the recorded URL", { timeout: SCENARIO_MS }, async () => {
  const r = await scenario("installed_as", ["index"]);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.result, 5);
});

test("installed from an emfs: path: workers get the wheel as a Blob URL", { timeout: SCENARIO_MS }, async () => {
  const r = await scenario("installed_as", ["emfs"]);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.result, 5);
  assert.equal(r.published.length, 1);
  assert.match(r.published[0], /^blob:http:\/\/127\.0\.0\.1:\d+\/[\w-]+#\/webpickle-[^/]+\.whl$/);
});

test("no page errors and no failed requests", () => {
  assert.deepEqual(problems.filter((p) => !p.startsWith("console:")), []);
});
