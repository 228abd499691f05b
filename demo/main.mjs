// Loads Pyodide and webpickle from the same server (demo/serve.py maps
// /pyodide/ to build/dist), runs the Python in #source, and shows its result.
// The outcome is also left in #output[data-state] ("done" or "error") and in
// window.demoResult, which tests/browser/test_page.mjs reads.

import { loadPyodide } from "/pyodide/pyodide.mjs";

const $ = (id) => document.getElementById(id);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function show(state, result, detail = "") {
  $("output").dataset.state = state;
  $("result").textContent = result;
  $("detail").textContent = detail;
}

async function run() {
  const t0 = performance.now();
  const pyodide = await loadPyodide({ indexURL: "/pyodide/" });
  const loadMs = performance.now() - t0;
  $("status").textContent = `Pyodide ${pyodide.version} loaded in ${seconds(loadMs)}; installing webpickle…`;

  // By name: build/dist/pyodide-lock.json has a "webpickle" entry (wasm/make_dist.py).
  const problems = [];
  await pyodide.loadPackage("webpickle", {
    messageCallback: () => {},
    errorCallback: (msg) => problems.push(msg),
  });
  if (problems.length) {
    throw new Error(`could not install webpickle (${problems.join("; ")}); ` +
      "rebuild the distribution with wasm/make_dist.py");
  }
  const version = pyodide.runPython("import webpickle; getattr(webpickle, '__version__', '?')");
  $("status").textContent = `Pyodide ${pyodide.version} loaded in ${seconds(loadMs)}, webpickle ${version}.`;

  const proxy = await pyodide.runPythonAsync($("source").textContent);
  const { size, results } = proxy.toJs({ dict_converter: Object.fromEntries });
  proxy.destroy();
  window.demoResult = { size, results, loadMs, version };
  show("done", `g(x) for x in 0…4  →  ${results.join(", ")}`,
    `The pickle is ${size} bytes. Total time ${seconds(performance.now() - t0)}.`);
}

run().catch((err) => {
  console.error(err);
  window.demoResult = { error: String(err) };
  $("status").textContent = "Something went wrong.";
  show("error", String(err.message ?? err));
});
