// Run tests/remote/pyodide/pyodide_cases.py inside Pyodide under Node against a
// native webpickle server that this script starts on loopback.
//
//   bash wasm/toolchain.sh run node tests/remote/run_pyodide_tests.mjs [--wheel PATH] [-k SUBSTRING]
//
// The server is build/venv/bin/python -m webpickle.server (./dev build-native);
// the client is the webpickle wheel (./dev build-wasm; rebuild it after changing
// src/webpickle). Each test_* coroutine is awaited with a time limit; the last
// line is "N passed, N failed"; exit status 1 on any failure.

import path from "node:path";
import { copyDebianPackage, findWheel, option, prepareAsyncTests, projectRoot, startPyodide } from "../harness/pyodide_node.mjs";
import { startWebpickleServer } from "./server.mjs";

const HERE = path.join(projectRoot, "tests/remote/pyodide");
const TEST_TIMEOUT_S = 120;

const RUNNER = `
import builtins
builtins.SERVER_URL, builtins.KEY = SERVER_URL, KEY
import async_runner
await async_runner.run_all(HERE, MODULES, KEYWORD, TIMEOUT)
`;

async function main(argv) {
  const wheel = findWheel(option(argv, "--wheel"));
  const server = await startWebpickleServer(["--processes", "2"]);
  let failed = true;
  try {
    console.log(`server: ${server.url}; wheel: ${wheel}`);
    const { pyodide, loadMs } = await startPyodide(wheel);
    console.log(`Pyodide ${pyodide.version} loaded in ${(loadMs / 1000).toFixed(2)} s`);
    prepareAsyncTests(pyodide, HERE);
    copyDebianPackage(pyodide, "joblib"); // for joblib_cases.py (the calls it sends need no joblib)
    pyodide.globals.set("MODULES", pyodide.toPy(["pyodide_cases", "joblib_cases"]));
    for (const [name, value] of Object.entries({ HERE, SERVER_URL: server.url, KEY: server.key,
      KEYWORD: option(argv, "-k") ?? "", TIMEOUT: TEST_TIMEOUT_S })) {
      pyodide.globals.set(name, value);
    }
    failed = Boolean(await pyodide.runPythonAsync(RUNNER));
    return failed ? 1 : 0;
  } finally {
    if (failed) console.error(`server log (JSON lines):\n${server.log().slice(-8000)}`);
    await server.stop();
  }
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    console.error(String(error?.stack ?? error).slice(0, 4000));
    process.exit(2);
  });
