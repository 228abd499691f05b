// The notebook page's entry point (bundled into build/demo/notebook.js):
//   1. start loading Pyodide + webpickle (seconds: it downloads and compiles);
//   2. meanwhile trade the URL's one-time token for the remote server's URL and
//      key, and draw the cells, so the reader can read them while Python loads;
//   3. once Python is ready, enable Run / Run all.
// window.notebook exposes the state for tests/demo/test_notebook.mjs:
// ready ({readyMs, startMs, pyodideMs, webpickleMs, version, remote} or {error}),
// idle, cells(), runAll(), evaluate(expression).

import { CELLS } from "./cells.mjs";
import { Kernel } from "./kernel.mjs";
import { Notebook } from "./notebook.mjs";
import { remoteSession } from "./session.mjs";

const $ = (id) => document.getElementById(id);
const MAX_WORKERS = 8;

function workerCount() {
  const box = $("workers");
  const n = Number.parseInt(box.value, 10);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new RangeError(`the Web Workers box holds ${JSON.stringify(box.value)}: ` +
      `set it to a whole number from 1 to ${MAX_WORKERS}`);
  }
  return n;
}

function setUpToolbar(notebook) {
  const box = $("workers");
  box.max = String(MAX_WORKERS);
  // More workers than cores only adds start-up time; 4 keeps memory modest.
  box.value = String(Math.min(navigator.hardwareConcurrency || 2, 4));
  $("run-all").addEventListener("click", () => notebook.runAll());
}

async function start() {
  // Python first: its download and compilation go on while the editors are built.
  let remote = null; // cells run only after it is set, below
  const starting = Kernel.start({ workerCount, remoteSession: () => remote });
  const session = remoteSession();
  const notebook = new Notebook($("cells"), CELLS);
  setUpToolbar(notebook);
  window.notebook = {
    ready: null,
    get idle() { return notebook.idle; },
    cells: () => notebook.snapshot(),
    runAll: () => notebook.runAll(),
    evaluate: (expression) => notebook.kernel.evaluate(expression),
  };
  $("status").textContent = "Loading Pyodide and webpickle…";
  const kernel = await starting;
  remote = await session;
  notebook.attach(kernel);
  $("run-all").disabled = false;
  const readyMs = performance.now(); // since the navigation started
  const serverNote = remote.problem ? "no remote server (see cell 4)" : `remote server ${remote.server}`;
  $("status").textContent = `Pyodide ${kernel.pyodide.version}, webpickle ${kernel.version}: ` +
    `ready in ${(readyMs / 1000).toFixed(1)} s; ${serverNote}.`;
  window.notebook.ready = { readyMs, ...kernel.timings, version: kernel.version, remote: !remote.problem };
}

start().catch((error) => {
  console.error(error);
  $("status").textContent = `The page could not start: ${error?.message ?? error}`;
  $("status").dataset.state = "error";
  if (window.notebook) window.notebook.ready = { error: String(error?.message ?? error) };
});
