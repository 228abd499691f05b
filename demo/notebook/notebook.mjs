// The notebook: one <section> per cell (title, Run button, editor, output),
// Run / Run all, and the state a test (or a curious reader) can inspect.
// Cells run through the kernel one at a time; Run all stops at the first
// cell that fails, as Jupyter does.

import { createEditor } from "./editor.mjs";
import { CellOutput } from "./output.mjs";

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

class Cell {
  constructor(notebook, index, { title, source }) {
    this.notebook = notebook;
    this.label = String(index + 1);
    this.state = "idle"; // idle, queued, running, ok, error
    this.ms = null;
    this.root = document.createElement("section");
    this.root.className = "cell";
    this.root.innerHTML = `<div class="cell-head"><span class="cell-label"></span><h2></h2>
      <span class="cell-time"></span><button class="run" type="button" disabled>Run</button></div>
      <div class="editor"></div><div class="output" aria-live="polite"></div>`;
    this.root.querySelector(".cell-label").textContent = `[${this.label}]`;
    this.root.querySelector("h2").textContent = title;
    this.button = this.root.querySelector(".run");
    this.button.addEventListener("click", () => notebook.run([this]));
    this.editor = createEditor(this.root.querySelector(".editor"), source, (advance) => {
      notebook.run([this]);
      if (advance) notebook.focusAfter(this);
    });
    this.output = new CellOutput(this.root.querySelector(".output"));
    this.setState("idle");
  }

  setState(state, note = "") {
    this.state = state;
    this.root.dataset.state = state;
    this.root.querySelector(".cell-time").textContent = note;
  }

  async execute(kernel) {
    this.output.clear();
    this.setState("running", "running…");
    const t0 = performance.now();
    let ok, text;
    try {
      ({ ok, text } = await kernel.run(this.editor.state.doc.toString(), this.label, this.output));
    } catch (error) {
      // The runner itself failed (not the cell's Python): a fatal Pyodide error, say.
      console.error(error);
      [ok, text] = [false, `The page's Python failed: ${error?.message ?? error}\nReload the page.`];
    }
    this.ms = performance.now() - t0;
    this.output.result(ok, text);
    this.setState(ok ? "ok" : "error", seconds(this.ms));
    return ok;
  }

  /** What the notebook's test reads. */
  snapshot() {
    return { label: this.label, state: this.state, ms: this.ms, text: this.output.root.innerText,
      ...this.output.record };
  }
}

export class Notebook {
  constructor(container, cells) {
    this.cells = cells.map((cell, i) => new Cell(this, i, cell));
    container.replaceChildren(...this.cells.map((cell) => cell.root));
    this.kernel = null;
    this.queue = Promise.resolve();
    this.running = 0; // cells queued or running
  }

  attach(kernel) {
    this.kernel = kernel;
    for (const cell of this.cells) cell.button.disabled = false;
  }

  /** Queue `cells` to run in order; resolves true if all of them succeeded. */
  run(cells) {
    if (!this.kernel) return Promise.resolve(false);
    for (const cell of cells) cell.setState("queued", "queued");
    this.running += cells.length;
    const done = this.queue.then(async () => {
      let ok = true;
      for (const cell of cells) {
        ok = ok && await cell.execute(this.kernel);
        if (!ok && cell.state === "queued") cell.setState("idle", "not run: a cell above failed");
        this.running -= 1;
      }
      return ok;
    });
    this.queue = done.catch(() => {});
    return done;
  }

  runAll() {
    return this.run(this.cells);
  }

  focusAfter(cell) {
    const next = this.cells[this.cells.indexOf(cell) + 1];
    next?.editor.focus();
  }

  get idle() {
    return this.running === 0;
  }

  snapshot() {
    return this.cells.map((cell) => cell.snapshot());
  }
}
