// Run tests/remote/pyodide/pyodide_cases.py inside Pyodide under Node against a
// native webpickle server that this script starts on loopback.
//
//   bash wasm/toolchain.sh run node tests/remote/run_pyodide_tests.mjs [--wheel PATH] [-k SUBSTRING]
//
// The server is build/venv/bin/python -m webpickle.server (./dev build-native);
// the client is the webpickle wheel (./dev build-wasm; rebuild it after changing
// src/webpickle). Each test_* coroutine is awaited with a time limit; the last
// line is "N passed, N failed"; exit status 1 on any failure.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { findWheel, mountHostDir, option, projectRoot, startPyodide } from "../pyodide/pyodide_node.mjs";

const HERE = path.join(projectRoot, "tests/remote/pyodide");
const PYTHON = path.join(projectRoot, "build/venv/bin/python");
const TEST_TIMEOUT_S = 120;
const SERVER_START_TIMEOUT_MS = 120_000;

const RUNNER = `
import asyncio, builtins, importlib, sys, time, traceback
builtins.SERVER_URL, builtins.KEY = SERVER_URL, KEY
sys.path.insert(0, HERE)
async def run_all(keyword):
    passed = failed = 0
    module = importlib.import_module("pyodide_cases")
    for name, function in [(n, f) for n, f in vars(module).items() if n.startswith("test_") and callable(f)]:
        if keyword and keyword not in name:
            continue
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(function(), TIMEOUT)
            passed += 1
            print(f"ok      {name} ({time.perf_counter() - t0:.1f} s)", flush=True)
        except BaseException as exc:
            failed += 1
            print(f"FAILED  {name} ({time.perf_counter() - t0:.1f} s)", flush=True)
            traceback.print_exception(exc)
    print(f"{passed} passed, {failed} failed", flush=True)
    return failed
await run_all(KEYWORD)
`;

/**
 * Start the server on a free loopback port, its log (stderr) into logFile;
 * resolves to {url, stop()} once it printed its line.
 */
function startServer(keyFile, logFile) {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run './dev build-native' first`);
  const child = spawn(PYTHON, ["-m", "webpickle.server", "--key-file", keyFile, "--port", "0", "--processes", "2"],
    { stdio: ["ignore", "pipe", fs.openSync(logFile, "w")] });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start in time")), SERVER_START_TIMEOUT_MS);
    child.once("exit", (code) => reject(new Error(`the server exited with status ${code} before listening`)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /^webpickle server listening on (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1], stop });
      }
    });
  });
}

async function main(argv) {
  const wheel = findWheel(option(argv, "--wheel"));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-remote-"));
  const key = `pyodide-remote-test-${Math.random().toString(16).slice(2)}-key`;
  const keyFile = path.join(scratch, "key");
  fs.writeFileSync(keyFile, key, { mode: 0o600 });
  const logFile = path.join(scratch, "server.log");
  const server = await startServer(keyFile, logFile).catch((error) => {
    throw new Error(`${error.message}; its log:\n${fs.readFileSync(logFile, "utf8")}`);
  });
  let failed = true;
  try {
    console.log(`server: ${server.url}; wheel: ${wheel}`);
    const { pyodide, loadMs } = await startPyodide(wheel);
    console.log(`Pyodide ${pyodide.version} loaded in ${(loadMs / 1000).toFixed(2)} s`);
    mountHostDir(pyodide, HERE);
    const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
    pyodide.FS.writeFile(`${sitePackages}/pytest.py`,
      fs.readFileSync(path.join(projectRoot, "tests/pyodide/pytest_shim.py")));
    for (const [name, value] of Object.entries({ HERE, SERVER_URL: server.url, KEY: key,
      KEYWORD: option(argv, "-k") ?? "", TIMEOUT: TEST_TIMEOUT_S })) {
      pyodide.globals.set(name, value);
    }
    failed = Boolean(await pyodide.runPythonAsync(RUNNER));
    return failed ? 1 : 0;
  } finally {
    await server.stop();
    if (failed) console.error(`server log (JSON lines):\n${fs.readFileSync(logFile, "utf8").slice(-8000)}`);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    console.error(String(error?.stack ?? error).slice(0, 4000));
    process.exit(2);
  });
