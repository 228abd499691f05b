// Bundle the Web Worker pool's JavaScript for the wheel (make_wheel.py runs this).
//
//   node wasm/bundle_js.mjs OUT_DIR
//
// Writes, each self-contained (no imports to resolve, so Python can start it
// from a Blob or data: URL):
//   pool.mjs          js/bridge.mjs with js/pool.mjs and what it imports
//   worker.mjs        js/worker.mjs with js/protocol.mjs
//   python_loader.js  js/python_loader.js as it is (webpickle/_pool_js.py evaluates it)
// esbuild's output depends only on its input and options, so the wheel stays deterministic.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: node wasm/bundle_js.mjs OUT_DIR");
  process.exit(2);
}

await build({
  absWorkingDir: root,
  entryPoints: { pool: "js/bridge.mjs", worker: "js/worker.mjs" },
  outdir: outDir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["node:*"], // imported at run time, in Node only
  charset: "utf8",
  legalComments: "none",
  logLevel: "warning",
});
fs.copyFileSync(path.join(root, "js/python_loader.js"), path.join(outDir, "python_loader.js"));
