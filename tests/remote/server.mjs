// Start `python -m webpickle.server` from Node tests (run_pyodide_tests.mjs,
// test_chromium.mjs): a fresh random key in a temporary folder, a free
// loopback port, the log (stderr) in a file next to the key.

import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { projectRoot } from "../harness/pyodide_node.mjs";

const PYTHON = path.join(projectRoot, "build/venv/bin/python");
const START_TIMEOUT_MS = 120_000;

/**
 * Resolve {url, key, log(), events(), waitForEvent(predicate), stop()} once
 * the server printed its line; `args` are more command-line options (e.g.
 * ["--allow-origin", origin]). events() parses the JSON-lines log;
 * waitForEvent polls it for a record (undefined after a time limit). stop()
 * sends SIGTERM, waits, and removes the temporary folder.
 */
export async function startWebpickleServer(args = []) {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run './dev build-native' first`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-remote-"));
  const key = crypto.randomBytes(32).toString("hex");
  const keyFile = path.join(scratch, "key");
  const logFile = path.join(scratch, "server.log");
  fs.writeFileSync(keyFile, key, { mode: 0o600 });
  const child = spawn(PYTHON, ["-m", "webpickle.server", "--key-file", keyFile, "--port", "0", ...args],
    { stdio: ["ignore", "pipe", fs.openSync(logFile, "w")] });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  const stop = () => new Promise((resolve) => {
    const done = (code) => { fs.rmSync(scratch, { recursive: true, force: true }); resolve(code); };
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
    child.once("exit", done);
    child.kill("SIGTERM");
  });
  const url = await new Promise((resolve, reject) => {
    const fail = (why) => { clearTimeout(timer); reject(new Error(`${why}; its log:\n${log()}`)); };
    const timer = setTimeout(() => fail("the server did not start in time"), START_TIMEOUT_MS);
    child.once("exit", (code) => fail(`the server exited with status ${code} before listening`));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /^webpickle server listening on (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  }).catch(async (error) => { await stop(); throw error; });
  // The log's complete JSON lines, parsed (a request is logged just after its answer is sent).
  const events = () => log().split("\n").slice(0, -1).filter(Boolean).map((line) => JSON.parse(line));
  const waitForEvent = async (predicate, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events().find(predicate);
      if (found || Date.now() > deadline) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { url, key, log, events, waitForEvent, stop };
}
