// A PyScript page (@pyscript/core 0.7.31 from npm) whose <script type="py"> uses
// WorkerPool and RemoteExecutor, in headless Chromium: PyScript's interpreter is
// our self-hosted Pyodide (build/dist) and webpickle is loaded from its lock file.
// Every request the page makes must go to the page's own server or to the remote
// server the test starts: the page works offline.
//
//   bash wasm/toolchain.sh run node --test tests/integrations/test_pyscript.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchChromium } from "../workers/chromium.mjs";
import { startWebpickleServer } from "../remote/server.mjs";
import { startIntegrationServer } from "./integration_server.mjs";

const PAGE_MS = 240_000; // PyScript, a cold Pyodide and two workers on 2 busy cores; generous on purpose
let pageServer, remote, browser;

before(async () => {
  pageServer = await startIntegrationServer();
  remote = await startWebpickleServer(["--processes", "1", "--allow-origin", new URL(pageServer.url).origin]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await remote?.stop();
  pageServer?.stop();
});

test("a PyScript page maps a function and a dataclass on Web Workers, on the server and with joblib", { timeout: PAGE_MS }, async (t) => {
  const page = await browser.context.newPage();
  const problems = [], requests = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on("request", (req) => requests.push(req.url()));
  const fragment = new URLSearchParams({ url: remote.url, key: remote.key, joblib: "/scratch/joblib.zip" });
  const t0 = Date.now();
  await page.goto(`${pageServer.url}integrations/pyscript.html#${fragment}`);
  const handle = await page.waitForFunction(() => window.pyscriptResult, null, { timeout: PAGE_MS });
  const result = JSON.parse(await handle.jsonValue());
  t.diagnostic(`PyScript page done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(result.error, undefined, result.error);
  assert.deepEqual(result, { workers: true, server: true, joblib: true });
  assert.match(await page.textContent("#out"), /on Web Workers: \[Reading\(sensor='s0', value=0\.0\)/);
  assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true,
    "PyScript's files load under the cross-origin isolation headers");
  const origins = new Set(requests.filter((u) => /^https?:/.test(u)).map((u) => new URL(u).origin));
  assert.deepEqual([...origins].sort(), [new URL(pageServer.url).origin, new URL(remote.url).origin].sort(),
    "the page fetched from somewhere else");
  assert.deepEqual(problems, []);
});
