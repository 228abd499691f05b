// A copy of a Pyodide folder (symbolic links) whose loadPyodide drops the
// private snapshot options and whose API has no makeMemorySnapshot(), as a
// Pyodide that stopped offering them would: the pool must fall back to a
// normal start and say why. Used by test_js_node.mjs and test_chromium.mjs.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const WRAPPER = `// Made by tests/workers/pyodide_without_snapshots.mjs.
import { loadPyodide as loadReal, version } from "./pyodide.real.mjs";
export { version };
export async function loadPyodide(options = {}) {
  const { _makeSnapshot, _loadSnapshot, ...rest } = options;
  const pyodide = await loadReal(rest);
  delete pyodide.makeMemorySnapshot;
  return pyodide;
}
`;

/** A new folder mirroring `pyodideDir` with the snapshot options removed; returns its path. */
export function pyodideWithoutSnapshots(pyodideDir) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "webpickle-pyodide-nosnap-"));
  for (const name of fs.readdirSync(pyodideDir)) {
    if (name === "pyodide.mjs") continue;
    fs.symlinkSync(path.resolve(pyodideDir, name), path.join(folder, name));
  }
  fs.symlinkSync(path.resolve(pyodideDir, "pyodide.mjs"), path.join(folder, "pyodide.real.mjs"));
  fs.writeFileSync(path.join(folder, "pyodide.mjs"), WRAPPER);
  return folder;
}
