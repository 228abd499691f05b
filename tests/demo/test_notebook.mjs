// The demo notebook end to end in headless Chromium (playwright-core, the
// system Chromium): start the demo as ./dev demo does (demo/serve.py --remote,
// which starts the remote server), follow the printed token URL, press Run all,
// and check what every prefilled cell shows. Never asserts speed.
//
//   bash wasm/toolchain.sh run node --test tests/demo/test_notebook.mjs
//   WEBPICKLE_UPDATE_SCREENSHOT=1 ... node tests/demo/test_notebook.mjs   # also rewrites docs/demo.png
//
// Needs ./dev build first (build/dist, build/venv with webpickle.server);
// the bundle is refreshed here (demo/build.mjs is a no-op when current).
// Screenshots go to build/screenshots/; the servers and the browser are
// stopped even on failure. Each test passes alone and in any order: the first
// to need the notebook opens it (trading the one-time token), and the test of
// stopping serve.py starts a demo of its own.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROOT, launchChromium, makeDist } from "../workers/chromium.mjs";
import { startDemo, stopDemo } from "./demo_server.mjs";

const LOAD_MS = 180_000; // a cold Pyodide on 2 busy cores takes seconds; generous on purpose
const RUN_ALL_MS = 600_000; // three Pyodide start-ups in workers, 36 simulations, a remote pool
const SHOTS = path.join(ROOT, "build/screenshots");
const UPDATE_README_SHOT = process.env.WEBPICKLE_UPDATE_SCREENSHOT === "1";

let demo; // {child, url, tokenUrl, remoteUrl, keyFile, output}
let browser, page;
const problems = []; // console errors, page errors, failed requests: there must be none
let reloading = false;

before(async () => {
  makeDist();
  execFileSync(process.execPath, [path.join(ROOT, "demo/build.mjs")], { stdio: "pipe" });
  demo = await startDemo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopDemo(demo);
});

function watch(target, where) {
  target.on("console", (msg) => { if (msg.type() === "error") problems.push(`${where} console: ${msg.text()}`); });
}

const foreignRequests = []; // anything not from the two local servers (the page must work offline)
let opened = null; // the promise of openNotebook()'s first run

/** The notebook's page, opened (with the token) by the first test that needs it; resolves its ready info. */
function notebookPage() {
  opened ??= openNotebook();
  return opened;
}

async function openNotebook() {
  browser.context.on("request", (req) => {
    const url = req.url();
    if (![demo.url, demo.remoteUrl, "blob:", "data:"].some((start) => url.startsWith(start))) {
      foreignRequests.push(url);
    }
  });
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1100, height: 900 });
  watch(page, "page");
  page.on("worker", (worker) => watch(worker, `worker ${worker.url().slice(0, 60)}`));
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    const error = req.failure()?.errorText;
    // Leaving a page aborts what it was still loading: that is the reload's doing, not a fault.
    // A map's first error cancels its calls in flight (cell 7's server.map): their fetches abort.
    const cancelledCall = error === "net::ERR_ABORTED" && req.method() === "POST" && new URL(req.url()).pathname === "/call";
    if (!(reloading && error === "net::ERR_ABORTED") && !cancelledCall) problems.push(`request failed: ${req.url()} ${error}`);
  });
  await page.goto(demo.tokenUrl);
  const ready = await (await page.waitForFunction("window.notebook?.ready", null, { timeout: LOAD_MS })).jsonValue();
  assert.equal(ready.error, undefined, `the notebook did not start: ${ready.error}`);
  return ready;
}

const describeReady = (ready) => `${(ready.readyMs / 1000).toFixed(1)} s after navigation ` +
  `(bundle ${(ready.startMs / 1000).toFixed(1)} s, Pyodide ${(ready.pyodideMs / 1000).toFixed(1)} s, ` +
  `webpickle ${(ready.webpickleMs / 1000).toFixed(1)} s)`;
const cellText = (cells, label) => cells.find((cell) => cell.label === label).text;

/** assert.match that quotes only the end of a long text (a disassembly runs to 60 kB). */
function assertShows(text, pattern, what) {
  assert.ok(pattern.test(text), `${what}: ${pattern} not found in …${JSON.stringify(text.slice(-600))}`);
}

test("the notebook runs every prefilled cell; workers and server agree with the page", {
  timeout: LOAD_MS + RUN_ALL_MS + 60_000,
}, async (t) => {
  const ready = await notebookPage();
  assert.equal(ready.remote, true, "the page did not get the remote server's key with its token");
  assert.doesNotMatch(await page.evaluate(() => location.href), /token=/, "the token stays in the address bar");
  await page.fill("#workers", "2");
  const t0 = Date.now();
  await page.click("#run-all");
  await page.waitForFunction("window.notebook.idle", null, { timeout: RUN_ALL_MS, polling: 500 });
  const runAllMs = Date.now() - t0;
  const cells = await page.evaluate(() => window.notebook.cells());
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, "notebook.png"), fullPage: true });

  // Every cell ran; only the last one, the error demo, fails, with the worker's traceback.
  const states = cells.map((cell) => `${cell.label}:${cell.state}`);
  assert.deepEqual(states, cells.map((cell, i) => `${cell.label}:${i === cells.length - 1 ? "error" : "ok"}`),
    `cell states ${states.join(" ")}; first failure:\n${cells.find((c) => c.state !== "ok")?.text}`);

  // The same 12 estimates on the page, on the workers and on the server.
  const hits = await page.evaluate(() => window.notebook.evaluate(
    "[[e.hits for e in run] for run in (serial, parallel, remote)]"));
  assert.equal(hits[0].length, 12);
  assert.deepEqual(hits[1], hits[0], "the workers' results differ from the page's");
  assert.deepEqual(hits[2], hits[0], "the server's results differ from the page's");
  const sameClass = await page.evaluate(() => window.notebook.evaluate(
    "all(type(e) is Estimate for e in parallel + remote)"));
  assert.equal(sameClass, true, "results from the workers or the server came back as another class");
  assertShows(cellText(cells, "3"), /\nTrue$/, "cell 3");
  // The first pool of the page: one worker made the snapshot, the other restored it (or both from the cache).
  assertShows(cellText(cells, "3"), /2 workers ready in \d+\.\d s \(snapshot: (1 made, 1 (restored|not used)|2 from cache);/, "cell 3");
  assertShows(cellText(cells, "4"), /\nTrue$/, "cell 4");

  // The progress bar was live (updated as results came) and reached 100%.
  const workersCell = cells.find((cell) => cell.label === "3");
  assert.deepEqual(workersCell.progress, { done: 12, total: 12, percent: 100 });
  assert.ok(workersCell.progressUpdates >= 3, `only ${workersCell.progressUpdates} progress updates`);
  assert.equal(await page.locator("section.cell >> nth=2 >> progress").evaluate((bar) => bar.value / bar.max), 1);

  // The chart has a bar per run, the stream cell a disassembly.
  assert.equal(cells.find((cell) => cell.label === "5").charts, 1);
  assert.equal(await page.locator("svg.chart rect").count(), 3);
  assertShows(cellText(cells, "6"), /^estimate_pi: \d+ bytes/, "cell 6");
  assertShows(cellText(cells, "6"), /\n\s*\d+: \.\s+STOP\nhighest protocol among opcodes = \d\n$/, "cell 6");

  // Remote errors arrive with the remote traceback, from the server and from a worker.
  const errors = cellText(cells, "7");
  const [onServer, onWorker] = errors.split("On a Web Worker:");
  // Each shows the cell's own line, which only the page had (issue 18 point 4).
  const cellLine = /File "<cell 7>", line \d+, in shaky\n\s+return 10 \/ \(3 - x\)  # fails for x == 3\n/;
  assertShows(onServer, /RemoteTraceback/, "cell 7");
  assertShows(onServer, cellLine, "cell 7");
  assertShows(onServer, /ZeroDivisionError: division by zero/, "cell 7");
  assertShows(onWorker, /RemoteTraceback/, "cell 7");
  assertShows(onWorker, cellLine, "cell 7");
  assertShows(onWorker, /ZeroDivisionError: division by zero\s*$/, "cell 7");
  assert.doesNotMatch(onWorker, /webpickle\/(_batch|_call|_pool_worker|workers)\.py/, "cell 7 shows webpickle's frames");

  assert.deepEqual(problems, []);
  assert.deepEqual(foreignRequests, [], "the notebook fetched from beyond the two local servers");
  const times = await page.evaluate(() => window.notebook.evaluate("times"));
  t.diagnostic(`page ready ${describeReady(ready)}; Run all ${(runAllMs / 1000).toFixed(1)} s; ` +
    Object.entries(times).map(([name, s]) => `${name} ${s.toFixed(2)} s`).join(", "));
  if (UPDATE_README_SHOT) await saveReadmeShot(t);
});

test("the token works once, and only with the right value; a reload keeps the key", {
  timeout: 2 * LOAD_MS + 30_000, // the page may open here (when this test runs first), then reloads
}, async (t) => {
  await notebookPage(); // the token was traded by this page
  const trade = (token) => fetch(`${demo.url}api/session`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
  });
  const again = await trade(demo.token);
  assert.equal(again.status, 403);
  assert.match((await again.json()).error, /already used/);
  const wrong = await trade("x".repeat(43));
  assert.equal(wrong.status, 403);
  assert.match((await wrong.json()).error, /wrong token/);
  const key = await page.evaluate(() => JSON.parse(sessionStorage.getItem("webpickle-demo-remote")).key);
  assert.ok(key.length >= 32);
  assert.ok(!demo.output().includes(key), "serve.py printed the key");
  assert.equal(fs.statSync(demo.keyFile).mode & 0o777, 0o600);

  // The tab kept {server, key} (sessionStorage): a reload needs no token.
  reloading = true;
  await page.reload();
  reloading = false;
  const ready = await (await page.waitForFunction("window.notebook?.ready", null, { timeout: LOAD_MS })).jsonValue();
  assert.equal(ready.remote, true, "after a reload the page lost the remote server's key");
  assert.deepEqual(problems, []);
  t.diagnostic(`reloaded page ready ${describeReady(ready)}`);
});

test("stopping serve.py stops the remote server and deletes the key file", { timeout: 150_000 }, async () => {
  const own = await startDemo(); // not the one the other tests use
  try {
    assert.equal((await fetch(new URL("/health", own.remoteUrl))).status, 200, "the remote server did not answer");
    assert.equal(fs.existsSync(own.keyFile), true);
  } finally {
    await stopDemo(own);
  }
  await assert.rejects(fetch(own.remoteUrl), /fetch failed/, "the remote server outlived serve.py");
  assert.equal(fs.existsSync(own.keyFile), false, "the key file outlived serve.py");
});

/** docs/demo.png: the toolbar over the workers, server and chart cells, as the README shows them. */
async function saveReadmeShot(t) {
  const target = path.join(ROOT, "docs/demo.png");
  fs.mkdirSync(path.dirname(target), { recursive: true });
  await page.setViewportSize({ width: 1000, height: 900 });
  // A viewport as tall as the sticky toolbar plus cells 3 (Web Workers) to 5 (the chart).
  const { top, height } = await page.evaluate(() => {
    const cells = document.querySelectorAll("section.cell");
    const header = document.querySelector("header").offsetHeight;
    const first = cells[2].getBoundingClientRect().top + window.scrollY;
    const last = cells[4].getBoundingClientRect().bottom + window.scrollY;
    return { top: first - header - 12, height: Math.ceil(last - first + header + 24) };
  });
  await page.setViewportSize({ width: 1000, height });
  await page.evaluate((y) => window.scrollTo(0, y), top);
  await page.screenshot({ path: target });
  t.diagnostic(`wrote ${path.relative(ROOT, target)}`);
}
