// A horizontal bar chart of wall-clock times in plain SVG: one bar per
// label, scaled to the slowest, the seconds printed at the end of each bar.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 30; // px per bar
const LABEL_WIDTH = 170;
const BAR_WIDTH = 360;
const COLORS = ["#8a6d3b", "#2f6fb0", "#2e8540", "#7b4fa0", "#b0452f"];

function node(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

/** pairs: [[label, seconds], ...] -> an <svg> element. */
export function barChart(pairs) {
  const slowest = Math.max(...pairs.map(([, seconds]) => seconds), 1e-9);
  const width = LABEL_WIDTH + BAR_WIDTH + 70;
  const height = ROW * pairs.length + 24;
  const svg = node("svg", {
    class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": pairs.map(([label, s]) => `${label}: ${s.toFixed(2)} s`).join(", "),
  });
  pairs.forEach(([label, seconds], i) => {
    const y = i * ROW + 4;
    const length = Math.max(2, (BAR_WIDTH * seconds) / slowest);
    svg.append(
      node("text", { x: LABEL_WIDTH - 8, y: y + 16, "text-anchor": "end", class: "chart-label" }, label),
      node("rect", { x: LABEL_WIDTH, y, width: length, height: ROW - 8, rx: 3, fill: COLORS[i % COLORS.length] }),
      node("text", { x: LABEL_WIDTH + length + 6, y: y + 16, class: "chart-value" }, `${seconds.toFixed(2)} s`),
    );
  });
  svg.append(node("text", { x: LABEL_WIDTH, y: height - 4, class: "chart-note" },
    "wall-clock seconds for the same calls; shorter is faster"));
  return svg;
}
