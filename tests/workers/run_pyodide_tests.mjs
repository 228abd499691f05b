// Run tests/workers/test_*.py inside Pyodide under Node, with real workers
// (Node worker threads, each with its own Pyodide and our wheel).
//
//   bash wasm/toolchain.sh run node tests/workers/run_pyodide_tests.mjs [--wheel PATH] [-k SUBSTRING]
//
// The tests are async functions (the pool is asyncio-based), which the
// synchronous tests/pyodide runner cannot await, hence this small runner:
// each test_* coroutine is awaited with a time limit, failures print their
// traceback, and the last line is "N passed, N failed". Exit status 1 on any
// failure. The wheel defaults to the one in build/wasm/dist; rebuild it
// (./dev build-wasm) after changing src/webpickle, since workers install it.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { copyDebianPackage, findWheel, option, prepareAsyncTests, projectRoot, startPyodide } from "../harness/pyodide_node.mjs";

const HERE = path.join(projectRoot, "tests/workers");
const TEST_TIMEOUT_S = 180; // worker start-up is a few seconds on 2 busy cores; generous on purpose

const RUNNER = `
import async_runner
await async_runner.run_all(HERE, MODULES, KEYWORD, TIMEOUT)
`;

async function main(argv) {
  const wheel = findWheel(option(argv, "--wheel"));
  console.log(`wheel: ${wheel}`);
  // test_pool_sources.py: this Pyodide's lock file names a package its workers can load by
  // name, and the index is a Pyodide distribution its pools can take as index_url.
  const index = packageIndex();
  const { pyodide, loadMs } = await startPyodide(wheel, {
    lockFileURL: path.join(index, "pyodide-lock.json"), env: { WEBPICKLE_TEST_PACKAGE_INDEX: index } });
  console.log(`Pyodide ${pyodide.version} loaded in ${(loadMs / 1000).toFixed(2)} s`);
  prepareAsyncTests(pyodide, HERE);
  copyDebianPackage(pyodide, "joblib"); // for test_pool_via_joblib.py: in this Pyodide only, workers get none
  const modules = fs.readdirSync(HERE).filter((f) => /^test_.*\.py$/.test(f)).map((f) => f.slice(0, -3)).sort();
  pyodide.globals.set("HERE", HERE);
  pyodide.globals.set("MODULES", pyodide.toPy(modules));
  pyodide.globals.set("KEYWORD", option(argv, "-k") ?? "");
  pyodide.globals.set("TIMEOUT", TEST_TIMEOUT_S);
  const failed = await pyodide.runPythonAsync(RUNNER);
  return failed ? 1 : 0;
}

/** A fresh folder made by fixtures/package_index.py (removed when this process exits). */
function packageIndex() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-package-index-"));
  process.on("exit", () => fs.rmSync(folder, { recursive: true, force: true }));
  try {
    execFileSync("python3", [path.join(HERE, "fixtures/package_index.py"), folder], { stdio: "pipe" });
  } catch (err) {
    throw new Error(`tests/workers/fixtures/package_index.py failed:\n${err.stderr || err.message}`);
  }
  return folder;
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status), // workers of a failed test may still run: exit anyway
  (error) => {
    console.error(String(error?.message ?? error).slice(0, 4000));
    process.exit(2);
  });
