// js/remote.mjs in a real browser page (headless Chromium): the CORS
// preflight, the exposed signature headers and WebCrypto, against the server
// started with --allow-origin for the page's origin, and refused for others.
//
//   bash wasm/toolchain.sh run node --test tests/remote/test_chromium.mjs
//
// The page is served by demo/serve.py (with js/ mounted at /js/); no Pyodide
// is loaded: the payload is a hand-made pickle of (max, (3, 7), {}).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ROOT, launchChromium, startServer } from "../workers/chromium.mjs";
import { startWebpickleServer } from "./server.mjs";

const PAGE_TIMEOUT_MS = 60_000;
// PROTO 2, GLOBAL builtins.max, 3, 7, TUPLE2, EMPTY_DICT, TUPLE3, STOP
const MAX_OF_3_AND_7 = [0x80, 0x02, ...new TextEncoder().encode("cbuiltins\nmax\n"), 0x4b, 3, 0x4b, 7, 0x86, 0x7d,
  0x87, 0x2e];
const SEVEN = [0x80, 0x05, 0x4b, 0x07, 0x2e]; // the reply: webpickle.dumps(7)

let page, pageServer, browser, allowed, other;

before(async () => {
  pageServer = await startServer({ "/js/": path.join(ROOT, "js") });
  const origin = new URL(pageServer.url).origin;
  allowed = await startWebpickleServer(["--processes", "1", "--allow-origin", origin]);
  other = await startWebpickleServer(["--processes", "1", "--allow-origin", "http://127.0.0.1:1"]);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  await page.goto(new URL("/js/remote.mjs", pageServer.url).href); // any page of the origin will do
});

after(async () => {
  await browser?.close();
  await Promise.all([allowed?.stop(), other?.stop()]);
  pageServer?.child.kill();
});

/** callRemote run inside the page; resolves to {raised, payload: number[]} or {error, message}. */
function callFromPage(server, payload) {
  return page.evaluate(async ({ url, key, payload }) => {
    const { callRemote } = await import("/js/remote.mjs");
    try {
      const reply = await callRemote(url, key, Uint8Array.from(payload), { python: "3.14" });
      return { raised: reply.raised, payload: Array.from(reply.payload) };
    } catch (error) {
      return { error: error.name, message: error.message };
    }
  }, { url: server.url, key: server.key, payload });
}

test("a page of an allowed origin calls the server and verifies the reply", async () => {
  assert.deepEqual(await callFromPage(allowed, MAX_OF_3_AND_7), { raised: false, payload: SEVEN });
  const health = await page.evaluate(async (url) => (await fetch(new URL("health", url))).json(), allowed.url);
  assert.equal(health.python_minor, "3.14");
  assert.ok(await allowed.waitForEvent((e) => e.method === "OPTIONS" && e.status === 204),
    "no CORS preflight was answered");
  assert.ok(await allowed.waitForEvent((e) => e.path === "/call" && e.status === 200 && e.origin));
});

test("a page of another origin is refused by the browser and by the server", async () => {
  const outcome = await callFromPage(other, MAX_OF_3_AND_7);
  assert.equal(outcome.error, "RemoteError", JSON.stringify(outcome));
  assert.match(outcome.message, /could not reach the server/); // the browser hid /health's answer (no CORS)
  // A signed-looking POST needs a preflight, which the server refuses.
  const posted = await page.evaluate(async (url) => {
    try {
      await fetch(new URL("call", url), { method: "POST", body: "x", headers: { "X-Webpickle-Nonce": "n" } });
      return "answered";
    } catch (error) {
      return error.name;
    }
  }, other.url);
  assert.equal(posted, "TypeError");
  assert.ok(await other.waitForEvent((e) => e.event === "request" && e.status === 403),
    "the server did not refuse the preflight");
  assert.ok(!other.events().some((e) => e.path === "/call" && e.status === 200), "a call ran for a refused origin");
});
