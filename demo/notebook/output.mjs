// What shows under a cell: printed text (stdout, stderr), a live progress
// bar, a chart, and the cell's value or its traceback, in the order they came.
// Each also leaves a trace in `record` for the notebook's test.

import { barChart } from "./chart.mjs";

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

export class CellOutput {
  constructor(parent) {
    this.root = parent;
    this.clear();
  }

  clear() {
    this.root.replaceChildren();
    this.bar = null;
    this.record = { progress: null, progressUpdates: 0, charts: 0 };
  }

  /** Append printed text; consecutive writes to one stream share one block. */
  write(text, stream) {
    const last = this.root.lastElementChild;
    if (last?.dataset.stream === stream) {
      last.textContent += text;
      return;
    }
    const block = el("pre", `out ${stream}`, text);
    block.dataset.stream = stream;
    this.root.append(block);
  }

  /** The cell's value (a repr) or its traceback. */
  result(ok, text) {
    if (text === undefined || text === null) return;
    this.root.append(el("pre", ok ? "out value" : "out traceback", text));
  }

  progress(done, total) {
    if (!this.bar) {
      this.bar = {
        box: el("div", "progress"),
        meter: el("progress"),
        label: el("span", "progress-label"),
      };
      this.bar.box.append(this.bar.meter, this.bar.label);
      this.root.append(this.bar.box);
    }
    const { meter, label } = this.bar;
    meter.max = Math.max(total, 1);
    meter.value = done;
    const percent = total ? Math.round((100 * done) / total) : 100;
    label.textContent = `${done} / ${total} (${percent}%)`;
    this.record.progress = { done, total, percent };
    this.record.progressUpdates += 1;
  }

  /** pairs: [[label, seconds], ...] */
  chart(pairs) {
    this.root.append(barChart(pairs));
    this.record.charts += 1;
  }
}
