// Run tests/python inside Pyodide (Node), with our wheel installed.
//
//   bash wasm/toolchain.sh run node tests/harness/run_python_tests.mjs [--wheel PATH] [-k SUBSTRING] [-v]
//
// --tests DIR runs another folder than tests/python (it is mounted too).
//
// The wheel defaults to the single .whl in build/wasm/dist ($WEBPICKLE_WHEEL
// overrides). The project's tests/ folder is mounted at its own path (NODEFS) so
// tracebacks show real file names; pytest_shim.py is installed as `pytest`;
// runner.py then runs tests/python plus check_wheel_tag.py and prints the
// closing line "N passed, N failed, N skipped". Exit status is the runner's.

import fs from "node:fs";
import path from "node:path";
import { copyTreeIn, findWheel, mountHostDir, option, projectRoot, startPyodide } from "./pyodide_node.mjs";

const DEBIAN_PACKAGING = "/usr/lib/python3/dist-packages/packaging";
const PACKAGING_DIR = "/opt/debian-packaging"; // inside Pyodide's FS

async function main(argv) {
  const wheel = findWheel(option(argv, "--wheel"));
  const keyword = option(argv, "-k");
  const testsDir = path.join(projectRoot, "tests");
  const pythonTests = path.resolve(option(argv, "--tests") ?? path.join(testsDir, "python"));
  if (!fs.existsSync(pythonTests)) throw new Error(`test folder ${pythonTests} does not exist`);
  const harness = path.join(testsDir, "harness");
  console.log(`wheel: ${wheel}`);

  const { pyodide, loadMs, wheelMs } = await startPyodide(wheel, {
    env: { WEBPICKLE_WHEEL_NAME: path.basename(wheel), WEBPICKLE_PACKAGING_DIR: PACKAGING_DIR },
  });
  console.log(`Pyodide ${pyodide.version} loaded in ${(loadMs / 1000).toFixed(2)} s, ` +
    `wheel installed in ${(wheelMs / 1000).toFixed(2)} s`);

  mountHostDir(pyodide, testsDir);
  // bench/corpus.py: test_stream_digests.py pins the streams of the benchmark corpus.
  mountHostDir(pyodide, path.join(projectRoot, "bench"));
  if (!pythonTests.startsWith(testsDir + path.sep)) mountHostDir(pyodide, pythonTests);
  // The shim becomes the module `pytest`, in site-packages like the real one.
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  pyodide.FS.writeFile(`${sitePackages}/pytest.py`, fs.readFileSync(path.join(harness, "pytest_shim.py")));
  if (fs.existsSync(DEBIAN_PACKAGING)) {
    copyTreeIn(pyodide, DEBIAN_PACKAGING, `${PACKAGING_DIR}/packaging`);
  } else {
    console.error(`warning: ${DEBIAN_PACKAGING} is missing (run inside the toolchain); ` +
      "check_wheel_tag.py will fail");
  }

  const args = [pythonTests, path.join(testsDir, "pyodide", "check_wheel_tag.py")];
  if (keyword) args.unshift("-k", keyword);
  if (argv.includes("-v")) args.unshift("-v");
  pyodide.globals.set("runner_args", pyodide.toPy(args));
  // The runner reports each test as it starts and ends, so that if Pyodide
  // dies (a fatal error such as a wasm stack overflow) we can still say which
  // test killed it and close with the counts so far.
  const progress = { current: null, passed: 0, failed: 0, skipped: 0 };
  pyodide.globals.set("on_progress", (nodeid, outcome) => {
    if (outcome === undefined || outcome === null) progress.current = nodeid;
    else { progress[outcome] += 1; progress.current = null; }
  });
  try {
    // Synchronous on purpose: a fatal error then surfaces here as an exception.
    // SystemExit (bad arguments, missing shim) becomes a message and status 2.
    return pyodide.runPython(`
import sys
sys.path.insert(0, ${JSON.stringify(harness)})
try:
    import runner
    status = runner.main(list(runner_args), on_progress)
except SystemExit as exc:
    status = exc.code if isinstance(exc.code, int) else print(exc.code, file=sys.stderr) or 2
status
`);
  } catch (err) {
    if (!err.pyodide_fatal_error || !progress.current) throw err;
    console.log(`\nFAILED ${progress.current}\nPyodide suffered a fatal error in this test ` +
      `(${String(err.message).split("\n")[0]}); the interpreter is lost, so no later test ran.`);
    console.log(`${progress.passed} passed, ${progress.failed + 1} failed, ${progress.skipped} skipped`);
    return 1;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  console.error(`run_python_tests: ${err.message}`);
  process.exitCode = 2;
}
