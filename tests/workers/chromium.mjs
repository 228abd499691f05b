// Helpers for driving headless Chromium against demo/serve.py, shared by
// tests/workers/test_chromium.mjs and bench/workers/run.mjs (the same recipe
// as tests/browser/test_page.mjs: the system Chromium, a throwaway profile,
// never a downloaded browser). Not run directly.

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run", "--disable-sync"];

/** Refresh build/dist (wasm/make_dist.py is idempotent) so it serves the current wheel. */
export function makeDist() {
  try {
    execFileSync("python3", [path.join(ROOT, "wasm/make_dist.py")], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`wasm/make_dist.py failed:\n${err.stderr || err.stdout || err.message}`);
  }
}

/** Start demo/serve.py on a free port with extra `mounts` ({"/prefix/": folder}); resolve {child, url}. */
export function startServer(mounts) {
  const args = [path.join(ROOT, "demo/serve.py"), "--port", "0"];
  for (const [prefix, folder] of Object.entries(mounts)) args.push("--mount", `${prefix}=${folder}`);
  const child = spawn("python3", args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk) => { log += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve.py printed no URL in 15 s:\n${log}`)), 15_000);
    child.stdout.on("data", (chunk) => {
      log += chunk;
      const match = /serving at (http:\S+)/.exec(log);
      if (match) { clearTimeout(timer); resolve({ child, url: match[1] }); }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.py exited with ${code} before serving:\n${log}`));
    });
  });
}

/** Launch Chromium on a fresh profile; resolve {context, close()}. */
export async function launchChromium() {
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-chromium-"));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true,
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profileDir, { recursive: true, force: true });
  };
  return { context, close };
}

/**
 * Open `url`, wait for `readyExpr` to be truthy in the page; resolve {page, ready, problems}.
 * `problems` collects console errors, page errors and failed requests from then on.
 */
export async function openPage(context, url, readyExpr, timeoutMs) {
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  await page.goto(url);
  const handle = await page.waitForFunction(readyExpr, null, { timeout: timeoutMs });
  return { page, ready: await handle.jsonValue(), problems };
}
