// Step inspector: the six equations of the pinned step written out with the run's own numbers,
// then, for every unit, what made one gate's pre-activation (the token, the memory or the bias),
// where each unit sits on the gate's curve, and each gate's values over the whole sequence.

import { VIRIDIS } from "../config.js";
import { entryName } from "../describe.js";
import { showToken } from "../heatmap.js";
import { DEFAULTS } from "../state.js";
import { el, num } from "./draw.js";
import { withStep } from "./stepdata.js";
import { activationName, clampAt, gateCurve, gateHistograms } from "./stepcharts.js";
import { legend, unitBars } from "./unitbars.js";

const GATES = [
  { key: "f", name: "forget gate" },
  { key: "i", name: "input gate" },
  { key: "g", name: "candidate" },
  { key: "o", name: "output gate" },
];
const PARTS = [
  { key: "input", colour: VIRIDIS[1], words: "input part W·xₜ (the token)" },
  { key: "recurrent", colour: VIRIDIS[5], words: "recurrent part U·hₜ₋₁ (the memory)" },
  { key: "bias", colour: VIRIDIS[9], words: "bias b" },
  { key: "shift", colour: "#8c96a0", words: "what-if shift Δ" },
];
const PART_DIGITS = 3;
const VALUE_DIGITS = 4;

// A gate or cell value: 4 decimals, or 3 significant digits when those would read 0.0000 or
// nearly so (f = 0.0000454 × c = 8 = 0.000363 then adds up on the page, as it does in the run).
export const value = (x) =>
  (x !== 0 && Math.abs(x) < 5e-4 ? x.toPrecision(3) : num(x, VALUE_DIGITS)).replaceAll("-", "−");

// The gate the bars and the curve show: the URL's, when it names one.
const chosenGate = (state) => (GATES.some((g) => g.key === state.gate) ? state.gate : DEFAULTS.gate);

// A symbol with a subscript, e.g. sym("f", "t") for f_t.
export function sym(base, sub) {
  const node = el("span", "sym", base);
  node.append(el("sub", null, sub));
  return node;
}

// A printed number the tests and readers can find: data-num says which quantity it is.
export function number(key, text, colour) {
  const node = el("span", "num", text);
  node.dataset.num = key;
  if (colour) node.style.setProperty("--under", colour);
  return node;
}

// One equation: chunks joined by " = ", each kept whole when the line wraps.
export function equation(key, chunks, note) {
  const line = el("li", "eq");
  line.dataset.eq = key;
  chunks.forEach((chunk, k) => {
    const span = el("span", "eq-chunk");
    if (k > 0) {
      line.append(" "); // a place to wrap: between chunks, never inside one
      span.append("= ");
    }
    span.append(...chunk);
    line.append(span);
  });
  if (note) line.append(el("span", "eq-note", note));
  return line;
}

const signed = (v, first) => (first ? num(v, PART_DIGITS) : `${v < 0 ? "−" : "+"} ${num(Math.abs(v), PART_DIGITS)}`);

// The step a layer read just before t: t − 1, or t + 1 for a backward entry (read last to first).
const before = (layer) => (layer.direction === "backward" ? "t+1" : "t−1");

function gateEquation(data, layer, g, l, t, u) {
  const parts = layer.parts[g];
  const act = activationName(data, g);
  const shifted = Boolean(parts.shift);
  const terms = [
    ["input", parts.input[t][u], [sym("W", g), sym("x", "t")]],
    ["recurrent", parts.recurrent[t][u], [sym("U", g), sym("h", before(layer))]],
    ["bias", parts.bias[u], [sym("b", g)]],
    ...(shifted ? [["shift", parts.shift[t][u], [sym("Δ", g)]]] : []),
  ];
  const colour = (key) => PARTS.find((p) => p.key === key).colour;
  const formula = [`${act}(`];
  const numbers = [`${act}(`];
  terms.forEach(([key, value, symbols], k) => {
    formula.push(...(k > 0 ? [" + "] : []), ...symbols);
    numbers.push(...(k > 0 ? [" "] : []), number(key, signed(value, k === 0), colour(key)));
  });
  formula.push(")");
  numbers.push(")");
  const clamp = clampAt(data, g, l, t, u);
  const shown = number("value", value(layer[g][t][u]));
  const result = clamp === null ? [shown] : ["clamped to ", shown];
  return equation(g, [[sym(g, "t")], formula, numbers, [`${act}(`, number("pre", num(parts.pre[t][u], PART_DIGITS)), ")"], result],
    clamp === null ? null : "(a what-if replaced the gate's value)");
}

function equations(data, l, t, u) {
  const layer = data.layers[l];
  const list = el("ol", "equations-live");
  for (const g of ["f", "i", "g", "o"]) list.append(gateEquation(data, layer, g, l, t, u));
  const v = (key, x) => number(key, value(x));
  const backward = layer.direction === "backward";
  const first = backward ? t === data.tokens.length - 1 : t === 0; // the first step this entry read
  const cPrev = first ? number("c_prev", "0") : v("c_prev", layer.c[backward ? t + 1 : t - 1][u]);
  const empty = backward
    ? "(this backward entry reads the last step first, from an empty cell)"
    : "(c₋₁ = 0: the run starts from an empty cell)";
  list.append(
    equation("c", [
      [sym("c", "t")],
      [sym("f", "t"), " ⊙ ", sym("c", before(layer)), " + ", sym("i", "t"), " ⊙ ", sym("g", "t")],
      [v("f", layer.f[t][u]), " × ", cPrev, " + ", v("i", layer.i[t][u]), " × ", v("g", layer.g[t][u])],
      [v("value", layer.c[t][u])],
    ], first ? empty : null),
    equation("h", [
      [sym("h", "t")],
      [sym("o", "t"), " ⊙ tanh(", sym("c", "t"), ")"],
      [v("o", layer.o[t][u]), " × tanh(", v("c", layer.c[t][u]), ")"],
      [v("value", layer.h[t][u])],
    ]),
  );
  return list;
}

function gatePicker(ctx, gate) {
  const field = el("div", "view-field");
  const label = el("label", null, "Gate the charts below show");
  label.htmlFor = "step-gate";
  const select = el("select");
  select.id = "step-gate";
  for (const g of GATES) select.append(new Option(`${g.key} — ${g.name}`, g.key, false, g.key === gate));
  select.addEventListener("change", () => {
    ctx.setView({ gate: select.value });
    document.getElementById("step-gate")?.focus(); // drawn anew: keep the keyboard here
  });
  field.append(label, select);
  return field;
}

function partBars(ctx, width, gate, names) {
  const { layer: l, t, unit } = ctx.pinned;
  const parts = ctx.data.layers[l].parts[gate];
  const used = PARTS.filter((p) => p.key !== "shift" || parts.shift);
  const box = el("section", "step-block");
  box.append(
    el("h4", null, `What set each unit's ${gate} at t = ${t}: the token, the memory or the bias?`),
    el("p", "help", `Each bar is one unit's pre-activation z = input + recurrent + bias, split into its parts; `
      + "the black tick is z itself. Click a bar to pin that unit."),
    legend([...used.map((p) => ({ colour: p.colour, label: p.words })), { colour: "#111", label: "total z", kind: "line" }]),
    unitBars({
      id: "step-bars", H: ctx.data.hidden_size, width, selected: unit, names,
      title: `Parts of ${gate}'s pre-activation at t = ${t}`,
      axisLabel: `pre-activation z of ${gate}`,
      segments: used.map((p) => ({
        key: p.key, label: p.key, colour: p.colour,
        value: p.key === "bias" ? (u) => parts.bias[u] : (u) => parts[p.key][t][u],
      })),
      markers: [{ key: "pre", label: "z", kind: "total", value: (u) => parts.pre[t][u] }],
      onPick: (u) => ctx.select(l, t, u),
    }),
  );
  return box;
}

export const step = {
  key: "step",
  label: "Step",
  about: "Why each gate has the value it has at the pinned step",
  request: () => ({}), // the pinned step's details come from POST /api/step (stepdata.js)
  render(container, ctx) {
    if (!ctx.pinned) {
      container.append(el("p", "view-empty",
        "Click a cell of any heatmap to pin a time step and a unit: this tab then writes out the "
        + "six equations of that step with the run's own numbers."));
      return;
    }
    const data = withStep(ctx);
    if (!data || data.error) {
      container.append(el("p", "help", data ? `The step could not be explained: ${data.error}` : "Asking the server for the gates' parts…"));
      return;
    }
    ctx = { ...ctx, data };
    const { model } = ctx;
    const { layer: l, t, unit } = ctx.pinned;
    const gate = chosenGate(ctx.state);
    const names = l === 0 && model?.units?.length ? model.units : null;
    const width = Math.max(280, Math.floor(container.clientWidth || 340) - 4);
    const root = el("div", "step-view");
    const name = names?.[unit] ? ` (${names[unit]})` : "";
    const entry = entryName(data.layers, l);
    const where = entry ? `, ${entry}` : "";
    root.append(
      el("p", "view-head", `t = ${t}, token “${showToken(data.tokens[t])}”, unit ${unit}${name}${where}`),
      equations(data, l, t, unit),
      legend(PARTS.filter((p) => p.key !== "shift" || Object.values(data.layers[l].parts).some((q) => q.shift))
        .map((p) => ({ colour: p.colour, label: p.words, kind: "under" }))),
      gatePicker(ctx, gate),
      partBars(ctx, width, gate, names),
      gateCurve(ctx, width, gate),
      gateHistograms(ctx, width),
    );
    container.append(root);
  },
};
