// Run bench/measure.py inside Pyodide under Node, with our wheel installed
// and Debian's pure-Python cloudpickle and dill copied into site-packages.
//
//   node bench/pyodide_runner.mjs --out FILE [--preset pyodide|quick-pyodide]
//                                 [-k SUBSTRING] [--libs a,b] [--wheel PATH]
//
// Started by bench/run.py (run inside the toolchain, where Debian's packages
// live). Progress lines go to stdout; the results, as JSON, to --out.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findWheel, mountHostDir, copyTreeIn, option, startPyodide } from "../tests/harness/pyodide_node.mjs";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const DIST_PACKAGES = "/usr/lib/python3/dist-packages";
// Pure Python, no dependencies outside the stdlib (dill's extras are optional):
// the package folders plus their .dist-info, so metadata reads as installed.
const COPIED = ["cloudpickle", "cloudpickle-3.1.2.dist-info", "dill", "dill-0.4.1.dist-info"];

async function main(argv) {
  const out = option(argv, "--out");
  if (!out) throw new Error("--out FILE is required (bench/run.py passes it)");
  const preset = option(argv, "--preset") ?? "pyodide";
  const filter = option(argv, "-k") ?? "";
  const libs = (option(argv, "--libs") ?? "webpickle,cloudpickle,dill,pickle").split(",");
  const wheel = findWheel(option(argv, "--wheel"));

  const { pyodide, loadMs, wheelMs } = await startPyodide(wheel);
  console.log(`Pyodide ${pyodide.version} started in ${(loadMs / 1000).toFixed(1)} s, ` +
    `${path.basename(wheel)} installed in ${(wheelMs / 1000).toFixed(1)} s`);
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  for (const name of COPIED) {
    const from = path.join(DIST_PACKAGES, name);
    if (!fs.existsSync(from)) {
      throw new Error(`${from} is missing: run through './dev bench' (inside the toolchain), ` +
        "where Debian's python3-cloudpickle and python3-dill are installed");
    }
    copyTreeIn(pyodide, from, `${sitePackages}/${name}`);
  }
  mountHostDir(pyodide, benchDir);

  pyodide.globals.set("bench_args", pyodide.toPy({ preset, filter, libs, benchDir }));
  const json = await pyodide.runPythonAsync(`
import json, sys
args = bench_args
sys.path.insert(0, args["benchDir"])
import measure
json.dumps(measure.run(args["preset"], args["filter"], tuple(args["libs"])))
`);
  const results = JSON.parse(json);
  results.versions.node = process.versions.node;
  results.versions.wheel = path.basename(wheel);
  // Same shape as measure.build_identity natively: which build was measured.
  const built = fs.statSync(wheel).mtime.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  const sha256 = createHash("sha256").update(fs.readFileSync(wheel)).digest("hex").slice(0, 12);
  results.versions.webpickle_build = { file: path.basename(wheel), built, sha256 };
  fs.writeFileSync(out, JSON.stringify(results, null, 1));
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  console.error(`pyodide_runner: ${err.message}`);
  process.exitCode = 2;
}
