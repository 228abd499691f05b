// Shared helpers for the Node scripts that run Python inside Pyodide:
// finding our wheel, starting Pyodide with it, and moving files into its FS.
// Not run directly; imported by run_python_tests.mjs and cross_runtime.mjs.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const distDir = path.join(projectRoot, "build/wasm/dist");

/**
 * The wheel to test: `explicit` (from --wheel), else $WEBPICKLE_WHEEL, else
 * the single .whl in build/wasm/dist. Throws a message saying what to do.
 */
export function findWheel(explicit) {
  const chosen = explicit || process.env.WEBPICKLE_WHEEL;
  if (chosen) {
    if (!fs.existsSync(chosen)) throw new Error(`wheel ${chosen} does not exist`);
    return path.resolve(chosen);
  }
  const wheels = fs.existsSync(distDir)
    ? fs.readdirSync(distDir).filter((f) => f.endsWith(".whl"))
    : [];
  if (wheels.length === 0) {
    throw new Error(`no wheel in ${distDir}: run 'bash wasm/toolchain.sh run ./dev build-wasm' ` +
      "first, or pass --wheel PATH");
  }
  if (wheels.length > 1) {
    throw new Error(`${wheels.length} wheels in ${distDir} (${wheels.join(", ")}): ` +
      "remove the stale ones or pass --wheel PATH");
  }
  return path.join(distDir, wheels[0]);
}

/** Value of `--name VALUE` in argv, or undefined. */
export function option(argv, name) {
  const i = argv.indexOf(name);
  if (i === -1) return undefined;
  if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
  return argv[i + 1];
}

/**
 * Start a fresh Pyodide and install `wheel` into it (null: install nothing).
 * Returns { pyodide, loadMs, wheelMs } (the two timings in milliseconds).
 * `env` is passed to Python's os.environ; bytecode writing is off so nothing
 * lands in mounted host folders. `lockFileURL`: another lock file than
 * Pyodide's own (packages load by name from its folder).
 */
export async function startPyodide(wheel, { env = {}, stdout, stderr, lockFileURL } = {}) {
  const t0 = performance.now();
  const pyodide = await loadPyodide({
    ...(lockFileURL ? { lockFileURL } : {}),
    env: { PYTHONDONTWRITEBYTECODE: "1", ...env },
    stdout: stdout ?? ((line) => console.log(line)),
    stderr: stderr ?? ((line) => console.error(line)),
  });
  const t1 = performance.now();
  if (wheel === null) return { pyodide, loadMs: t1 - t0, wheelMs: 0 };  // a Pyodide without webpickle
  const failures = [];
  // loadPackage reports problems through errorCallback and resolves anyway.
  await pyodide.loadPackage(wheel, {
    messageCallback: () => {},
    errorCallback: (msg) => failures.push(msg),
  });
  if (failures.length) {
    throw new Error(`Pyodide could not install ${wheel}: ${failures.join("; ")}`);
  }
  return { pyodide, loadMs: t1 - t0, wheelMs: performance.now() - t1 };
}

/**
 * Install the test helpers into Pyodide's site-packages: the pytest shim
 * (pytest.raises(match=...) as in tests/python) and async_runner.py, which
 * awaits async test functions; then mount `testDir` at its own path.
 */
export function prepareAsyncTests(pyodide, testDir) {
  mountHostDir(pyodide, testDir);
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  for (const [file, source] of [["pytest.py", "pytest_shim.py"], ["async_runner.py", "async_runner.py"]]) {
    pyodide.FS.writeFile(`${sitePackages}/${file}`, fs.readFileSync(path.join(projectRoot, "tests/harness", source)));
  }
}

/** Make host folder `hostDir` visible at the same path inside Pyodide (NODEFS). */
export function mountHostDir(pyodide, hostDir) {
  pyodide.FS.mkdirTree(hostDir);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: hostDir }, hostDir);
}

/** Copy host folder `src` into Pyodide's in-memory FS at `dest` (skips __pycache__). */
export function copyTreeIn(pyodide, src, dest) {
  pyodide.FS.mkdirTree(dest);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    if (entry.name === "__pycache__") continue;
    const from = path.join(src, entry.name);
    const to = `${dest}/${entry.name}`;
    if (entry.isDirectory()) copyTreeIn(pyodide, from, to);
    else if (entry.isFile()) pyodide.FS.writeFile(to, fs.readFileSync(from));
  }
}

/**
 * Copy Debian's pure-Python package `name` (python3-<name> in the toolchain root) into
 * Pyodide's site-packages: for the tests of our integrations with it (joblib).
 */
export function copyDebianPackage(pyodide, name) {
  const from = path.join("/usr/lib/python3/dist-packages", name);
  if (!fs.existsSync(from)) throw new Error(`${from} is missing: run inside the toolchain root (python3-${name})`);
  copyTreeIn(pyodide, from, pyodide.runPython("import site; site.getsitepackages()[0]") + "/" + name);
}
