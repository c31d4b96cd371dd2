// Unit inspector: one unit's six values over the run as line charts, tokens on the time axis.
// The gates f, i, o (in 0..1) share one chart; the candidate g, cell c and hidden h another.
// It draws the run's own numbers and asks nothing extra of the API. URL keys: `unit` and
// `layer` (the pinned cell's, or the unit picked here when nothing is pinned).

import { PANELS } from "../config.js";
import { showToken, stepLabels } from "../heatmap.js";
import { el, field, num, svg, unitOptions } from "./draw.js";

// Okabe–Ito colours (told apart with any colour vision) and a dash pattern per line, so that
// the lines differ even in grey.
const GATES = [
  { key: "f", colour: "#0072b2", dash: "" },
  { key: "i", colour: "#d55e00", dash: "7 4" },
  { key: "o", colour: "#009e73", dash: "2 3" },
];
const VALUES = [
  { key: "c", colour: "#000000", dash: "" },
  { key: "h", colour: "#cc79a7", dash: "7 4" },
  { key: "g", colour: "#e69f00", dash: "2 3" },
];
const NAMES = Object.fromEntries(PANELS.map((p) => [p.key, p.name]));
const HEIGHT = 170; // SVG pixels of a chart
const M = { left: 50, right: 10, top: 10, bottom: 40 }; // room for the axes
const CHAR = 6.6; // SVG pixels of a monospace character at the axis' font size

let redraw = null; // the drawn charts, redone at the new width when the window resizes
window.addEventListener("resize", () => redraw?.());

export const unit = {
  key: "unit",
  label: "Unit",
  about: "One unit's gates and states over the whole run",
  request: () => ({}),
  render(container, ctx) {
    const { data, model, state, pinned } = ctx;
    const L = data.layers.length;
    const H = data.hidden_size;
    const layer = pinned?.layer ?? Math.min(state.layer ?? 0, L - 1);
    const named = (model?.units ?? []).findIndex((name) => name);
    const u = pinned?.unit ?? (state.unit !== null && state.unit < H ? state.unit : Math.max(named, 0));
    container.append(picker(ctx, layer, u, L, H));
    const name = model?.units?.[u];
    const title = el("p", "unit-title");
    title.append(el("b", null, `Unit ${u}${L > 1 ? `, layer ${layer}` : ""}`), name ? ` — ${name}` : "");
    container.append(
      title,
      el("p", "help", pinned
        ? `The pinned step, t = ${pinned.t}, is marked in pink. Hover over a chart to read another step; click to pin it.`
        : "Hover over a chart to read a step; click to pin it."),
    );
    const values = data.layers[layer];
    const most = roundUp(Math.max(1, ...values.c.map((row) => Math.abs(row[u]))));
    const charts = el("div", "unit-charts");
    container.append(charts);
    const draw = () => {
      const width = Math.max(260, charts.clientWidth || 320);
      const shared = { ctx, layer, u, width, tokens: data.tokens, pinnedT: pinned?.layer === layer ? pinned.t : null };
      const gates = chart({ ...shared, id: "gates", title: "Gates: how far each is open",
        yTitle: "0 shut … 1 open", series: GATES, values, lo: 0, hi: 1, ticks: [0, 0.5, 1] });
      const cells = chart({ ...shared, id: "values", title: "What is written, held and shown",
        yTitle: "value", series: VALUES, values, lo: -most, hi: most,
        ticks: [-most, -most / 2, 0, most / 2, most] });
      // One cursor for both: a step read on one chart is read on the other too.
      const both = [gates, cells];
      for (const c of both) {
        c.onCursor = (t) => {
          for (const o of both) o.cursor(t);
        };
      }
      charts.replaceChildren(gates.root, cells.root);
      for (const c of both) c.cursor(shared.pinnedT);
    };
    draw();
    redraw = () => charts.isConnected && draw();
  },
};

// The unit (and layer) shown: picking one pins it at the pinned step, or just shows it.
function picker(ctx, layer, u, L, H) {
  const box = el("div", "unit-picker");
  const choose = (l, v) => {
    if (ctx.pinned) ctx.select(l, ctx.pinned.t, v);
    else ctx.setView({ layer: l, unit: v });
  };
  const units = el("select");
  units.id = "unit-pick";
  unitOptions(units, ctx.model, H, u);
  units.addEventListener("change", () => choose(layer, Number(units.value)));
  box.append(field("Unit to inspect", units));
  if (L > 1) {
    const layers = el("select");
    layers.id = "unit-layer";
    for (let l = 0; l < L; l++) layers.append(new Option(String(l), String(l), false, l === layer));
    layers.addEventListener("change", () => choose(Number(layers.value), u));
    box.append(field("Layer", layers));
  }
  return box;
}

// The value axis' end for a cell state that reaches m (at least 1): a whole number up to 10,
// then 20, 50, 100, …
function roundUp(m) {
  if (m <= 10) return Math.ceil(m);
  for (let p = 10; ; p *= 10) for (const b of [1, 2, 5]) if (b * p >= m) return b * p;
}

const tickText = (v) => (Number.isInteger(v) ? String(v) : v.toPrecision(2)).replace("-", "−");

// One line chart: series over the steps, its legend showing the values at the cursor's step.
function chart({ ctx, layer, u, width, tokens, pinnedT, id, title, yTitle, series, values, lo, hi, ticks }) {
  const T = tokens.length;
  const pw = width - M.left - M.right;
  const ph = HEIGHT - M.top - M.bottom;
  const cell = pw / T;
  const x = (t) => M.left + (t + 0.5) * cell;
  const y = (v) => M.top + ((hi - v) / (hi - lo)) * ph;

  const root = el("figure", "unit-chart");
  root.dataset.chart = id;
  root.append(el("figcaption", null, title));
  const legend = el("ul", "unit-legend");
  const readings = {};
  for (const s of series) {
    const item = el("li");
    item.dataset.key = s.key;
    const swatch = svg("svg", { width: 30, height: 10, "aria-hidden": "true" });
    swatch.append(svg("line", { x1: 1, y1: 5, x2: 29, y2: 5, stroke: s.colour, "stroke-width": 2.5,
      "stroke-dasharray": s.dash }));
    readings[s.key] = el("span", "unit-value", "");
    item.append(swatch, el("b", null, s.key), ` ${NAMES[s.key]} `, readings[s.key]);
    legend.append(item);
  }
  const at = el("p", "unit-at help");
  root.append(legend, at);

  const plot = svg("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, class: "unit-plot" });
  plot.setAttribute("role", "img");
  plot.setAttribute("aria-label", `${title}: ${series.map((s) => NAMES[s.key]).join(", ")} of unit ${u} over ${T} steps`);
  root.append(plot);

  // Axes: value ticks with grid lines, the y title, then tokens and step numbers under the steps.
  for (const v of ticks) {
    plot.append(svg("line", { x1: M.left, x2: M.left + pw, y1: y(v), y2: y(v), class: v === 0 ? "zero" : "grid" }));
    plot.append(svg("text", { x: M.left - 4, y: y(v) + 3.5, "text-anchor": "end", class: "ytick" }, tickText(v)));
  }
  plot.append(svg("text", { class: "axis-title", "text-anchor": "middle",
    transform: `translate(11 ${M.top + ph / 2}) rotate(-90)` }, yTitle));
  const numbers = stepLabels(tokens, cell, () => false).ticks;
  const dense = stepLabels(tokens, cell, (text) => text.length * CHAR <= cell).numbers;
  const tokenTicks = dense ? numbers.map(([t]) => [t, showToken(tokens[t])]) : tokens.map((tok, t) => [t, showToken(tok)]);
  const row1 = M.top + ph + 14;
  const row2 = row1 + 14;
  plot.append(svg("text", { x: M.left - 8, y: row1, "text-anchor": "end", class: "axis-title" }, "token"));
  plot.append(svg("text", { x: M.left - 8, y: row2, "text-anchor": "end", class: "axis-title" }, "step"));
  for (const [t, text] of tokenTicks) {
    const label = svg("text", { x: x(t), y: row1, "text-anchor": "middle", class: "token" }, text);
    label.dataset.t = String(t);
    plot.append(label);
  }
  for (const [t, text] of numbers) {
    plot.append(svg("text", { x: x(t), y: row2, "text-anchor": "middle", class: "tick" }, text));
  }
  plot.append(svg("rect", { x: M.left, y: M.top, width: pw, height: ph, class: "plot-box" }));

  if (pinnedT !== null) {
    plot.append(svg("line", { x1: x(pinnedT), x2: x(pinnedT), y1: M.top, y2: M.top + ph, class: "pinned-step" }));
  }
  const cursorLine = svg("line", { y1: M.top, y2: M.top + ph, class: "cursor-step", visibility: "hidden" });
  plot.append(cursorLine);
  for (const s of series) {
    const points = values[s.key].map((row, t) => `${x(t).toFixed(2)},${y(row[u]).toFixed(2)}`).join(" ");
    const line = svg("polyline", { points, fill: "none", stroke: s.colour, "stroke-width": 2,
      "stroke-dasharray": s.dash, "stroke-linejoin": "round" });
    line.dataset.key = s.key;
    plot.append(line);
    if (cell >= 10) {
      for (let t = 0; t < T; t++) {
        plot.append(svg("circle", { cx: x(t), cy: y(values[s.key][t][u]), r: 2.2, fill: s.colour }));
      }
    }
  }

  const api = { root, onCursor: null, current: null };
  api.cursor = (t) => {
    api.current = t;
    cursorLine.setAttribute("visibility", t === null ? "hidden" : "visible");
    if (t !== null) {
      cursorLine.setAttribute("x1", x(t));
      cursorLine.setAttribute("x2", x(t));
    }
    for (const s of series) readings[s.key].textContent = t === null ? "" : `= ${num(values[s.key][t][u])}`;
    at.textContent = t === null ? "Hover over the chart to read a step." : `t = ${t}, token “${showToken(tokens[t])}”`;
  };
  const stepAt = (event) => {
    const box = plot.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * width; // SVG units, whatever the CSS scale
    return Math.max(0, Math.min(T - 1, Math.floor((px - M.left) / cell)));
  };
  plot.addEventListener("pointermove", (e) => api.onCursor?.(stepAt(e)));
  plot.addEventListener("pointerleave", () => api.onCursor?.(pinnedT));
  plot.addEventListener("click", (e) => ctx.select(layer, stepAt(e), u));
  return api;
}
