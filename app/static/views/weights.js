// Weights view: what a gate listens to. For the pinned unit (or the one picked here) and one gate,
// its row of W (one bar per input, labelled by character for a text model), its row of U (one bar
// per unit of h) and its bias; then the whole gate as an H × (I + H + 1) heatmap, W | U | b, with
// that unit's row outlined. URL keys: `wgate` (i, f, g, o) and `worder` (size or input); the unit
// and layer are the pinned cell's. It draws GET /api/models/{id}/weights, fetched once per gate.

import { getWeights } from "../api.js";
import { PANELS } from "../config.js";
import { LUTS, legendRamp, paint, showToken } from "../heatmap.js";
import { DEFAULTS } from "../state.js";
import { el, field, num, svg, unitOptions } from "./draw.js";

const GATES = ["f", "i", "g", "o"];
const NAMES = Object.fromEntries(PANELS.map((p) => [p.key, p.name]));
const DIVERGING = PANELS.find((p) => p.scale === "diverging");
const BAR = { row: 18, label: 46, value: 50, width: 300 }; // SVG units of one bar chart

const answers = new Map(); // "model|gate|layer" → the API's answer, or a Promise while it comes

const gateOf = (state) => (GATES.includes(state.wgate) ? state.wgate : DEFAULTS.wgate);
const orderOf = (state) => (state.worder === "input" ? "input" : "size");

// One gate of one entry: cached, fetched once; `done` is called when a fetch ends.
function weightsOf(model, gate, layer, done) {
  const key = `${model.id}|${gate}|${layer}`;
  const known = answers.get(key);
  if (known && !(known instanceof Promise)) {
    if (known.error) answers.delete(key); // shown once; the next drawing asks again (a busy server)
    return known;
  }
  if (!known) {
    const asked = getWeights(model.id, gate, layer)
      .then(
        (body) => answers.set(key, body),
        (err) => answers.set(key, { error: err.message }),
      )
      .finally(done);
    answers.set(key, asked);
  }
  return null;
}

// The label of W's column j: the character shown as the heatmaps show tokens.
const inputLabel = (label) => (label.length === 1 ? showToken(label) : label);

export const weights = {
  key: "weights",
  label: "Weights",
  about: "What a gate listens to: the unit's weights on the input, on the last h, and its bias",
  first: true, // wide figures: drawn first and over the whole width, as the text view is
  request: () => ({}),
  render(container, ctx) {
    const { data, model, state, pinned } = ctx;
    const L = data.layers.length;
    const H = data.hidden_size;
    const layer = pinned?.layer ?? Math.min(state.layer ?? 0, L - 1);
    const u = pinned?.unit ?? (state.unit !== null && state.unit < H ? state.unit : 0);
    const gate = gateOf(state);
    container.append(controls(ctx, { gate, layer, u, H, L }));
    const answer = weightsOf(model, gate, layer, () => ctx.refresh());
    if (!answer) {
      container.append(el("p", "help weights-wait", "Loading the weights…"));
      return;
    }
    if (answer.error) {
      const said = el("p", "error weights-error", `The weights could not be loaded: ${answer.error}`);
      said.setAttribute("role", "alert");
      container.append(said);
      return;
    }
    const entry = answer.layers[0];
    const { W, U, b } = entry.gates[gate];
    const inputs = entry.inputs.map(inputLabel);
    const order = orderOf(state);
    const most = Math.max(...W.flat().map(Math.abs), ...U.flat().map(Math.abs), ...b.map(Math.abs)) || 1;
    const wMost = Math.max(...W[u].map(Math.abs), Math.abs(b[u])) || 1; // this unit's W and b, one scale
    const name = model?.units?.[u];
    const title = el("h4", "weights-title", `Unit ${u}${name ? ` — ${name}` : ""}: ${gate}, the ${NAMES[gate]}`);
    const equation = el(
      "p",
      "help",
      `${gate}ₜ[${u}] = ${gate === "g" ? "tanh" : "σ"}(W row · xₜ + U row · hₜ₋₁ + b): ` +
        "a long bar to the right pushes the gate up when that input is on, to the left pushes it down.",
    );
    const bars = el("div", "weights-bars");
    bars.append(
      barChart({ id: "W", title: `W: one bar per input (${inputs.length})`, labels: inputs, values: W[u], order, most: wMost }),
      // U's weights are often a tenth of W's (h is in (−1, 1), x one-hot): their own scale
      barChart({
        id: "U",
        title: `U: one bar per unit of h (${H}), on its own scale`,
        labels: Array.from({ length: H }, (_, k) => `h${k}`),
        values: U[u],
        order,
        most: Math.max(...U[u].map(Math.abs)) || 1,
      }),
      barChart({ id: "b", title: "b: the bias (b_ih + b_hh), on W's scale", labels: ["b"], values: [b[u]], order, most: wMost }),
    );
    const cols = inputs.length + H + 1;
    const labelled = (container.clientWidth || 320) / cols >= 9; // room for a character a column
    container.append(title, equation, bars, gateMap(ctx, { W, U, b, inputs, u, H, layer, gate, most, labelled }));
  },
};

// The gate, the order of the bars, and the unit.
function controls(ctx, { gate, layer, u, H, L }) {
  const box = el("div", "weights-controls");
  const pick = el("select");
  pick.id = "weights-gate";
  for (const g of GATES) pick.append(new Option(`${g}: ${NAMES[g]}`, g, false, g === gate));
  pick.addEventListener("change", () => ctx.setView({ wgate: pick.value }));

  const units = el("select");
  units.id = "weights-unit";
  unitOptions(units, ctx.model, H, u);
  units.addEventListener("change", () => pickUnit(ctx, layer, Number(units.value)));

  const byInput = el("input");
  byInput.type = "checkbox";
  byInput.id = "weights-order";
  byInput.checked = orderOf(ctx.state) === "input";
  byInput.addEventListener("change", () => ctx.setView({ worder: byInput.checked ? "input" : null }));
  const orderLabel = el("label", null, "Inputs in their own order (else by size)");
  orderLabel.htmlFor = byInput.id;
  const orderField = el("span", "field weights-check");
  orderField.append(byInput, orderLabel);

  box.append(field("Gate", pick), field("Unit", units), orderField);
  if (L > 1) box.append(el("span", "help", `layer entry ${layer} (pin a cell of another layer to change it)`));
  return box;
}

// Picking a unit pins it at the pinned step, or just names it, as the unit view does.
function pickUnit(ctx, layer, unit) {
  if (ctx.pinned) ctx.select(layer, ctx.pinned.t, unit);
  else ctx.setView({ layer, unit });
}

// Horizontal bars from a zero line, one per label, longest first (or in the labels' order), all
// on one scale ±most so that W, U and b compare.
function barChart({ id, title, labels, values, order, most }) {
  const box = el("section", "weights-chart");
  box.dataset.chart = id;
  box.append(el("h5", null, title));
  const rows = labels.map((label, k) => ({ label, k, v: values[k] }));
  if (order === "size") rows.sort((a, z) => Math.abs(z.v) - Math.abs(a.v) || a.k - z.k);
  const plotW = BAR.width - BAR.label - BAR.value;
  const zero = BAR.label + plotW / 2;
  const half = plotW / 2;
  const height = rows.length * BAR.row + 4;
  const plot = svg("svg", { viewBox: `0 0 ${BAR.width} ${height}`, class: "weights-plot", role: "img" });
  plot.setAttribute("aria-label", `${title}: ${rows.slice(0, 3).map((r) => `${r.label} ${num(r.v, 2)}`).join(", ")}…`);
  plot.style.maxHeight = `${height * 1.2}px`;
  plot.append(svg("line", { x1: zero, x2: zero, y1: 0, y2: height, class: "weights-zero" }));
  rows.forEach(({ label, k, v }, row) => {
    const y = 2 + row * BAR.row;
    const w = (Math.abs(v) / most) * half;
    const g = svg("g", { class: "weights-bar" });
    g.dataset.label = label;
    g.dataset.k = String(k);
    g.append(svg("title", {}, `${label}: ${v}`));
    g.append(svg("text", { x: BAR.label - 4, y: y + BAR.row * 0.7, class: "weights-label" }, label));
    g.append(
      svg("rect", {
        x: v < 0 ? zero - w : zero,
        y: y + 2,
        width: Math.max(w, 0.5),
        height: BAR.row - 4,
        class: v < 0 ? "neg" : "pos",
      }),
    );
    g.append(svg("text", { x: BAR.width - 2, y: y + BAR.row * 0.7, class: "weights-value" }, num(v, 2)));
    plot.append(g);
  });
  const scroll = el("div", "weights-scroll");
  // a long chart scrolls: focusable so that a keyboard can scroll it too, named for what it holds
  scroll.tabIndex = 0;
  scroll.setAttribute("role", "region");
  scroll.setAttribute("aria-label", `${title}: scroll for every bar`);
  scroll.append(plot);
  box.append(scroll);
  return box;
}

// The whole gate: row u is unit u's weights, columns W's inputs, then U's units of h, then b.
function gateMap(ctx, { W, U, b, inputs, u, H, layer, gate, most, labelled }) {
  const I = inputs.length;
  const cols = I + H + 1;
  const box = el("section", "weights-map");
  box.append(el("h5", null, `The whole gate ${gate}: ${H} units × (${I} inputs + ${H} units of h + 1 bias)`));
  const rows = Array.from({ length: cols }, (_, j) =>
    Array.from({ length: H }, (_, k) => (j < I ? W[k][j] : j < I + H ? U[k][j - I] : b[k])),
  );
  const canvas = el("canvas", "weights-heat");
  canvas.width = cols;
  canvas.height = H;
  paint(canvas, rows, -most, most, LUTS[DIVERGING.scale]);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `gate ${gate}'s weights, ${H} rows by ${cols} columns; unit ${u}'s row outlined`);

  const frame = el("div", "weights-frame");
  // rows at least 12 px for a few units, 4 px for many: a row is aimed at with the pointer
  frame.style.height = `${H * (H <= 32 ? 12 : 4)}px`;
  const outline = el("div", "weights-row-outline");
  outline.style.top = `${(u / H) * 100}%`;
  outline.style.height = `${100 / H}%`;
  // the three blocks' bounds, so that W | U | b read apart
  const groups = el("div", "weights-groups");
  for (const [name, from, n] of [
    ["W (inputs)", 0, I],
    ["U (h)", I, H],
    ["b", I + H, 1],
  ]) {
    const g = el("span", "weights-group", name);
    g.style.left = `${(from / cols) * 100}%`;
    g.style.width = `${(n / cols) * 100}%`;
    groups.append(g);
    if (from > 0) {
      const line = el("div", "weights-split");
      line.style.left = `${(from / cols) * 100}%`;
      frame.append(line);
    }
  }
  frame.append(canvas, outline);

  // unit labels on the left: every unit when few, else every 16th and the outlined one
  const axis = el("div", "weights-units");
  const every = H <= 32 ? 1 : 16;
  for (let k = 0; k < H; k++) {
    if (k % every !== 0 && k !== u) continue;
    const tick = el("span", k === u ? "weights-unit here" : "weights-unit", String(k));
    tick.style.top = `${((k + 0.5) / H) * 100}%`;
    axis.append(tick);
  }
  // input labels under W's columns, where they fit (≥ 9 px a column; else the readout names them)
  const under = el("div", "weights-inputs");
  if (labelled) inputs.forEach((label, j) => {
    const tick = el("span", "weights-input", label);
    tick.style.left = `${((j + 0.5) / cols) * 100}%`;
    under.append(tick);
  });

  const readout = el("p", "weights-readout", "Hover over the gate to read a weight; click a row to pin its unit.");
  readout.setAttribute("aria-live", "polite");
  const cell = (event) => {
    const box2 = canvas.getBoundingClientRect();
    const j = Math.floor(((event.clientX - box2.left) / box2.width) * cols);
    const k = Math.floor(((event.clientY - box2.top) / box2.height) * H);
    return j >= 0 && j < cols && k >= 0 && k < H ? { j, k } : null;
  };
  frame.addEventListener("pointermove", (event) => {
    const at = cell(event);
    if (!at) return;
    const { j, k } = at;
    const what = j < I ? `W, input ${inputs[j]}` : j < I + H ? `U, h${j - I}` : "b";
    readout.textContent = `unit ${k}, ${what}: ${num(rows[j][k], 4)}`;
  });
  frame.addEventListener("click", (event) => {
    const at = cell(event);
    if (at) pickUnit(ctx, layer, at.k);
  });

  const grid = el("div", "weights-grid");
  grid.style.setProperty("--cols-px", `${cols * 28}px`); // no wider than 28 px a column
  grid.append(el("span"), groups, axis, frame, el("span"), under);
  const key = el("div", "weights-legend");
  const bar = legendRamp(DIVERGING, -most, most);
  bar.className = "legend-bar";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", `colour scale from ${num(-most, 2)} to ${num(most, 2)}`);
  const words = el("div", "legend-labels");
  words.append(el("span", null, num(-most, 2)), el("span", null, "0"), el("span", null, num(most, 2)));
  key.append(bar, words, el("span", "help", "one scale for the whole gate: ± its largest |weight|"));
  box.append(grid, key, readout);
  return box;
}
