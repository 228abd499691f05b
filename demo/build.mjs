// Bundle the notebook page (demo/notebook/ + demo/cells/*.py + CodeMirror from
// node_modules) into build/demo/notebook.js with esbuild. ./dev build calls it;
// demo/serve.py serves build/demo/ at /bundle/.
//
//   bash wasm/toolchain.sh run node demo/build.mjs [--force]
//
// Incremental: nothing is done when the bundle is newer than every input
// (the sources, this script and package-lock.json). Pyodide is not bundled:
// the page imports it at run time from /pyodide/ (build/dist).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "build/demo");
const OUT_FILE = path.join(OUT_DIR, "notebook.js");
const INPUT_DIRS = ["demo/notebook", "demo/cells"].map((dir) => path.join(ROOT, dir));
const INPUT_FILES = ["demo/build.mjs", "package-lock.json"].map((file) => path.join(ROOT, file));

/** The newest modification time among the bundle's inputs, in ms. */
function newestInput() {
  const files = [...INPUT_FILES];
  for (const dir of INPUT_DIRS) {
    for (const name of fs.readdirSync(dir)) files.push(path.join(dir, name));
  }
  return Math.max(...files.map((file) => fs.statSync(file).mtimeMs));
}

function upToDate() {
  try {
    return fs.statSync(OUT_FILE).mtimeMs >= newestInput();
  } catch {
    return false; // no bundle yet
  }
}

async function bundle() {
  const t0 = performance.now();
  const result = await esbuild.build({
    entryPoints: [path.join(ROOT, "demo/notebook/main.mjs")],
    outfile: OUT_FILE,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    // The Python of the cells and of the page's helper module, as strings.
    loader: { ".py": "text" },
    // Served by demo/serve.py from build/dist; it must stay one copy, loaded once.
    external: ["/pyodide/*"],
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  });
  const bytes = result.metafile.outputs[path.relative(process.cwd(), OUT_FILE)]?.bytes ??
    fs.statSync(OUT_FILE).size;
  const ms = Math.round(performance.now() - t0);
  console.log(`demo: build/demo/notebook.js ${(bytes / 1024).toFixed(0)} KiB in ${ms} ms`);
}

if (!process.argv.includes("--force") && upToDate()) {
  console.log("demo: build/demo/notebook.js is up to date");
} else {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  await bundle();
}
