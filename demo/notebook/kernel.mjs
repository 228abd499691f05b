// The page's Python: one Pyodide with webpickle (both from /pyodide/, i.e.
// build/dist), the helper module `nb` for the cells, and a runner that sends
// each cell's output to that cell. Cells run one at a time, in __main__.

import { loadPyodide } from "/pyodide/pyodide.mjs";
import helperSource from "./nb.py";

const HOME = "/home/pyodide";

export class Kernel {
  /**
   * Load Pyodide and webpickle; `page` supplies what `nb` asks the page for:
   * workerCount(), remoteSession(). Progress bars and charts go to the running cell.
   */
  static async start(page) {
    const t0 = performance.now();
    const pyodide = await loadPyodide({ indexURL: "/pyodide/" });
    const t1 = performance.now();
    const problems = [];
    // By name: build/dist/pyodide-lock.json has a "webpickle" entry (wasm/make_dist.py).
    await pyodide.loadPackage("webpickle", {
      messageCallback: () => {},
      errorCallback: (message) => problems.push(message),
    });
    if (problems.length) {
      throw new Error(`could not install webpickle (${problems.join("; ")}): ` +
        "rebuild the distribution with ./dev build");
    }
    const kernel = new Kernel(pyodide, page);
    kernel.timings = { startMs: t0, pyodideMs: t1 - t0, webpickleMs: performance.now() - t1 };
    return kernel;
  }

  constructor(pyodide, page) {
    this.pyodide = pyodide;
    this.output = null; // the CellOutput of the running cell
    this.busy = Promise.resolve();
    const toOutput = (stream) => ({ batched: (line) => this.output?.write(`${line}\n`, stream) });
    pyodide.setStdout(toOutput("stdout"));
    pyodide.setStderr(toOutput("stderr"));
    pyodide.registerJsModule("_nb_page", {
      workerCount: () => page.workerCount(),
      remoteSession: () => page.remoteSession(),
      progress: (done, total) => this.output?.progress(done, total),
      chart: (pairs) => this.output?.chart(pairs), // a JS array: nb.chart converts it
    });
    pyodide.FS.writeFile(`${HOME}/nb.py`, helperSource);
    // In a scratch namespace: __main__ holds only what the cells define.
    const scratch = { globals: pyodide.toPy({}) };
    pyodide.runPython(`import sys; sys.path.insert(0, "${HOME}")`, scratch);
    this.nb = pyodide.pyimport("nb");
    this.version = pyodide.runPython("import webpickle; webpickle.__version__", scratch);
    scratch.globals.destroy();
  }

  /**
   * Run `source` as cell `label` with its output in `output` (a CellOutput);
   * resolves {ok, text}: the last expression's repr, or the error's traceback.
   * Calls queue: one cell runs at a time, as in any notebook.
   */
  run(source, label, output) {
    const result = this.busy.then(() => this.#run(source, label, output));
    this.busy = result.catch(() => {});
    return result;
  }

  async #run(source, label, output) {
    this.output = output;
    try {
      const [ok, text] = await this.nb._run_cell(source, `<cell ${label}>`);
      return { ok, text };
    } finally {
      this.output = null;
    }
  }

  /** Evaluate a Python expression in __main__ and return it as JSON data (for tests). */
  evaluate(expression) {
    return JSON.parse(this.nb._evaluate(expression));
  }
}
