// Start and stop the demo as ./dev demo runs it once built:
// `python3 demo/serve.py --remote` (plus --port 0 --no-browser here), and read
// what it prints: the page URL, the URL with the one-time token, the remote
// server's URL and its key file. Used by tests/demo/test_notebook.mjs.

import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "../workers/chromium.mjs";

const START_MS = 90_000; // the remote server starts a process pool first

/** Resolve {child, url, token, tokenUrl, remoteUrl, keyFile, output()}. */
export function startDemo() {
  const child = spawn("python3", [path.join(ROOT, "demo/serve.py"), "--remote", "--port", "0", "--no-browser"],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const output = () => log;
  child.stderr.on("data", (chunk) => { log += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`serve.py --remote printed no token URL in ${START_MS / 1000} s:\n${log}`));
    }, START_MS);
    child.stdout.on("data", (chunk) => {
      log += chunk;
      const opened = /^open (http:\S+#token=(\S+))$/m.exec(log);
      if (!opened) return;
      clearTimeout(timer);
      const remote = /^remote server at (http:\S+) \(key in (\S+),/m.exec(log);
      if (!remote) {
        child.kill("SIGTERM");
        reject(new Error(`serve.py could not start the remote server:\n${log}`));
        return;
      }
      resolve({
        child, output, url: /serving at (http:\S+)/.exec(log)[1], tokenUrl: opened[1], token: opened[2],
        remoteUrl: remote[1], keyFile: path.join(ROOT, remote[2]),
      });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve.py exited with ${code} before printing its URL:\n${log}`));
    });
  });
}

/** SIGTERM serve.py (it stops the remote server on its way out) and wait for it to exit. */
export async function stopDemo(demo) {
  const child = demo?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}
