// Browser tests: the demo notebook (opened without a token: no remote server)
// and a Web Worker load Pyodide + webpickle from demo/serve.py in headless
// Chromium (playwright-core, the system Chromium); the server's MIME types and
// headers. tests/demo/test_notebook.mjs runs the whole notebook.
//
//   bash wasm/toolchain.sh run node --test tests/browser/test_page.mjs
//
// It first runs wasm/make_dist.py (idempotent) so build/dist holds the current
// wheel ($WEBPICKLE_WHEEL or the one in build/wasm/dist), and demo/build.mjs
// (a no-op when current). Screenshots go to build/screenshots/. The server and
// the browser are stopped even on failure.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer as startDemoServer } from "../workers/chromium.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SHOTS = path.join(ROOT, "build/screenshots");
const LOAD_TIMEOUT_MS = 120_000; // Pyodide in a cold headless Chromium takes a few seconds
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run", "--disable-sync"];

let server; // the serve.py child process
let baseUrl; // http://127.0.0.1:PORT/
let context; // a Chromium BrowserContext on a throwaway profile
let profileDir; // a fresh, throwaway Chromium profile


before(async () => {
  try {
    execFileSync("python3", [path.join(ROOT, "wasm/make_dist.py")], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`wasm/make_dist.py failed:\n${err.stderr || err.stdout || err.message}`);
  }
  execFileSync(process.execPath, [path.join(ROOT, "demo/build.mjs")], { stdio: "pipe" });
  ({ child: server, url: baseUrl } = await startDemoServer({ "/fixtures/": path.join(ROOT, "tests/browser/fixtures") }));
  profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 900, height: 700 },
  });
});

after(async () => {
  await context?.close().catch(() => {});
  if (server && server.exitCode === null) server.kill("SIGTERM");
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
});

/**
 * Open `url` in a new tab, wait until `readyExpr` (evaluated in the page) is
 * truthy, save a screenshot, and return {value, problems}: the expression's
 * value and every console error, page error and failed request seen.
 */
async function openAndWait(url, readyExpr, shotName) {
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on("response", (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`); });
  try {
    await page.goto(url);
    const handle = await page.waitForFunction(readyExpr, null, { timeout: LOAD_TIMEOUT_MS });
    return { value: await handle.jsonValue(), problems };
  } finally {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, shotName), fullPage: true }).catch(() => {});
    await page.close();
  }
}

test("the notebook starts without a token and runs its first cell", { timeout: LOAD_TIMEOUT_MS + 60_000 }, async (t) => {
  const runFirstCell = `(() => {
    const nb = window.notebook;
    if (!nb?.ready) return false;
    if (nb.ready.error) return nb.ready;
    if (!nb.started) { nb.started = true; document.querySelector("section.cell button.run").click(); }
    const [first] = nb.cells();
    return ["ok", "error"].includes(first.state) && nb.idle && { ...nb.ready, first };
  })()`;
  const { value, problems } = await openAndWait(baseUrl, runFirstCell, "notebook-first-cell.png");
  assert.equal(value.error, undefined, `the page reported: ${value.error}`);
  assert.equal(value.remote, false); // no token, no key: the server cell would say so
  assert.equal(value.first.state, "ok", value.first.text);
  assert.match(value.first.text, /^Estimate\(seed=0, hits=\d+, darts=400000\)$/);
  assert.deepEqual(problems, []);
  t.diagnostic(`notebook ready ${(value.readyMs / 1000).toFixed(2)} s after navigation; ` +
    `webpickle ${value.version}; cell 1 ran in ${value.first.ms.toFixed(0)} ms`);
});

test("webpickle loads and round-trips a lambda in a Web Worker", { timeout: LOAD_TIMEOUT_MS + 30_000 }, async (t) => {
  const { value, problems } = await openAndWait(`${baseUrl}fixtures/worker.html`,
    "window.workerResult", "worker.png");
  assert.ok(value.ok, `the worker reported: ${JSON.stringify(value.error)}`);
  assert.deepEqual(value.results, [100, 105, 110]); // x * 5 + 100
  assert.deepEqual(problems, []);
  t.diagnostic(`Pyodide loaded in a Chromium worker in ${(value.loadMs / 1000).toFixed(2)} s`);
});

test("the server sends the headers Pyodide needs", async () => {
  const wasm = await fetch(`${baseUrl}pyodide/pyodide.asm.wasm`, { method: "HEAD" });
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get("content-type"), "application/wasm");
  assert.equal(wasm.headers.get("cross-origin-opener-policy"), "same-origin");
  assert.equal(wasm.headers.get("cross-origin-embedder-policy"), "require-corp");
  const page = await fetch(baseUrl, { method: "HEAD" });
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  const bundle = await fetch(`${baseUrl}bundle/notebook.js`, { method: "HEAD" });
  assert.equal(bundle.status, 200);
  assert.equal(bundle.headers.get("content-type"), "text/javascript");
  assert.equal(bundle.headers.get("cross-origin-resource-policy"), "same-origin");
  // Started without --remote: no token to trade, and the answer says how to get one.
  const session = await fetch(`${baseUrl}api/session`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  assert.equal(session.status, 404);
  assert.match((await session.json()).error, /\.\/dev demo/);
  const lock = await (await fetch(`${baseUrl}pyodide/pyodide-lock.json`)).json();
  const entry = lock.packages.webpickle;
  assert.ok(entry, "build/dist/pyodide-lock.json has no webpickle entry");
  const whl = await fetch(`${baseUrl}pyodide/${entry.file_name}`, { method: "HEAD" });
  assert.equal(whl.status, 200);
  assert.equal(whl.headers.get("content-type"), "application/octet-stream");
  const outside = await fetch(`${baseUrl}..%2f..%2fpackage.json`);
  assert.equal(outside.status, 404, "the server must not serve files outside its folders");
});
