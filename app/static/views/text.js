// Text view: the sequence as text (line breaks and indentation kept), each character's background
// coloured by one unit's c, h or gate, as Karpathy, Johnson and Fei-Fei (2015) drew their cells.
// Up to four units are stacked to compare; hovering a character reads the units' values there and
// what the model predicts. URL keys: `units` (up to four, "58,12"), `key` (c, h, i, f, g or o),
// and the pinned cell's, whose unit is shown too. It draws the run's own numbers.

import { PANELS } from "../config.js";
import { LUTS, legendRamp } from "../heatmap.js";
import { predictsNext, topOf } from "../outputs.js";
import { el, field, num } from "./draw.js";

const MAX_UNITS = 4;
const KEYS = ["c", "h", "i", "f", "g", "o"];
const NAMES = Object.fromEntries(PANELS.map((p) => [p.key, p.name]));
const LONG = 400; // steps from which a text model's first view is this one

// The units a `units` value names, within 0..H−1, each once, four at most; null if none.
export function parseUnits(value, H) {
  if (!value) return null;
  const units = [...new Set(value.split(",").map(Number))].filter((u) => Number.isInteger(u) && u < H);
  return units.length ? units.slice(0, MAX_UNITS) : null;
}

// The unit shown when the URL names none: the card's first named unit, else the first named, else 0.
function defaultUnit(model, H) {
  const carded = model?.card?.units?.find?.((u) => (u.layer ?? 0) === 0 && u.unit < H);
  if (carded) return carded.unit;
  return Math.max(0, (model?.units ?? []).findIndex((name) => name));
}

// The ends of the colour scale of array `key` of one unit, and the scale's words: the gates on
// their fixed range; c and h on the unit's own ±(largest |value| in the run), so that 0 is white.
export function unitScale(key, column) {
  const spec = PANELS.find((p) => p.key === key);
  if (key === "c" || key === "h") {
    const most = Math.max(...column.map(Math.abs)) || 1;
    return { spec, lo: -most, hi: most, own: true };
  }
  return { spec, lo: spec.range[0], hi: spec.range[1], own: false };
}

// The colour a value gets on a scale: the heatmaps' table entry (heatmap.js's paint).
export function colourOf(v, { spec, lo, hi }) {
  const k = Math.max(0, Math.min(255, Math.round((v - lo) * (255 / (hi - lo)))));
  const lut = LUTS[spec.scale];
  return [lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2]];
}

// Dark backgrounds get white letters, light ones black (relative luminance, roughly).
const ink = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b < 120 ? "#fff" : "#000");

const shownChar = (token) => (token === "\n" ? "↵" : token === "\t" ? "⇥" : token);

export const text = {
  key: "text",
  label: "Text",
  about: "The text itself, each character coloured by one unit's value after reading it",
  first: true, // drawn first and over the whole width (main.js, style.css)
  firstFor: (model, state) =>
    model?.kind === "text" && (model.hidden_size >= 64 || (state?.text?.length ?? 0) >= LONG),
  request: () => ({}),
  render(container, ctx) {
    const { data, pinned } = ctx;
    const { H, layer, key, listed, shown } = choices(ctx);
    const values = data.layers[layer];
    const readout = el("p", "text-readout");
    readout.setAttribute("aria-live", "polite");
    readout.textContent = "Hover over a character (tap on a phone) to read the units there; click to pin it.";
    // a tap pins: the pinned step's reading stays beside the text, where a phone shows it
    if (pinned && pinned.t < data.tokens.length) readout.replaceChildren(...reading(ctx, pinned.t, shown, layer, key));
    container.append(controls(ctx, { key, listed, H }), readout);
    if (kept?.data !== data || kept.layer !== layer) kept = { data, layer, bodies: new Map() };
    for (const u of kept.bodies.keys()) if (!shown.includes(u)) kept.bodies.delete(u);
    live = { ctx, readout, shown, key, listed, layer };
    const blocks = el("div", "text-blocks");
    for (const u of shown) blocks.append(block(ctx, { u, key, values, listed, shown }));
    container.append(blocks);
  },
  // A pin that changes no unit shown, array or layer (a click on a character, or on a heatmap cell
  // of a unit shown) moves the marks and the readout in place: the 2,000 spans stay where they
  // are, unstyled and unlaid-out again (views/host.js asks this before drawing anew).
  update(container, ctx) {
    const { data, pinned } = ctx;
    const { layer, key, listed, shown } = choices(ctx);
    const same = (a, b) => a.length === b.length && a.every((v, k) => v === b[k]);
    if (!live || !container.contains(live.readout) || kept?.data !== data || live.layer !== layer) return false;
    if (live.key !== key || !same(live.shown, shown) || !same(live.listed, listed)) return false;
    live = { ...live, ctx };
    for (const u of shown) mark(kept.bodies.get(u), pinned?.t ?? null);
    if (pinned && pinned.t < data.tokens.length) live.readout.replaceChildren(...reading(ctx, pinned.t, shown, layer, key));
    else live.readout.textContent = "Hover over a character (tap on a phone) to read the units there; click to pin it.";
    return true;
  },
};

// What the state and the pin ask the view to show: the layer, the array, the units listed in the
// URL and those shown (the pinned cell's unit, a heatmap row clicked, first, without changing the
// list).
function choices(ctx) {
  const { data, model, state, pinned } = ctx;
  const H = data.hidden_size;
  const layer = pinned?.layer ?? Math.min(state.layer ?? 0, data.layers.length - 1);
  const key = KEYS.includes(state.key) ? state.key : "c";
  const listed = parseUnits(state.units, H) ?? [defaultUnit(model, H)];
  const shown = pinned && !listed.includes(pinned.unit) ? [pinned.unit, ...listed].slice(0, MAX_UNITS) : listed;
  return { H, layer, key, listed, shown };
}

// The characters' spans of the last run drawn, kept from one drawing to the next: a pin (a click
// here or on a heatmap) or a change of array moves one mark or re-colours the spans, where
// building 2,000 spans anew took 100–250 ms a click (benchmarks/pagedraw.py). A new run or layer
// builds them again. `live` is what the kept spans' listeners read: the latest drawing's.
let kept = null; // {data, layer, bodies: Map(unit -> {u, node, spans, key, marked})}
let live = null; // {ctx, readout, shown, key}

// The array, the unit by number, and the card's named units.
function controls(ctx, { key, listed, H }) {
  const box = el("div", "text-controls");
  const pick = el("select");
  pick.id = "text-key";
  for (const k of KEYS) pick.append(new Option(`${k}: ${NAMES[k]}`, k, false, k === key));
  pick.addEventListener("change", () => ctx.setView({ key: pick.value }));

  const number = el("input");
  number.id = "text-unit";
  number.type = "number";
  number.min = "0";
  number.max = String(H - 1);
  number.placeholder = `0–${H - 1}`;
  const add = el("button", null, "Add");
  add.type = "button";
  add.id = "text-add";
  const said = el("span", "help text-said");
  said.setAttribute("role", "status");
  const addUnit = (u) => {
    if (!Number.isInteger(u) || u < 0 || u >= H) {
      said.textContent = `a unit is a whole number from 0 to ${H - 1}`;
      return;
    }
    if (listed.includes(u)) return; // shown already
    if (listed.length >= MAX_UNITS) {
      said.textContent = `${MAX_UNITS} units at most: remove one first`;
      return;
    }
    ctx.setView({ units: [...listed, u].join(",") });
  };
  add.addEventListener("click", () => addUnit(number.value === "" ? Number.NaN : Number(number.value)));
  number.addEventListener("keydown", (event) => {
    if (event.key === "Enter") add.click();
  });
  const row = el("span", "text-add-row");
  row.append(number, add);
  box.append(field("Colour by", pick), field("Add unit", number, row));

  const named = (ctx.model?.units ?? []).map((name, u) => [u, name]).filter(([, name]) => name);
  if (named.length) {
    const chips = el("div", "text-named");
    chips.append(el("span", "help", "Named units:"));
    for (const [u, name] of named) {
      const chip = el("button", "unit-chip", `${u}: ${name}`);
      chip.type = "button";
      chip.dataset.unit = String(u);
      chip.setAttribute("aria-pressed", String(listed.includes(u)));
      chip.addEventListener("click", () => addUnit(u));
      chips.append(chip);
    }
    box.append(chips);
  }
  box.append(said, el("p", "help", "Or click a row of a heatmap: its unit is shown first."));
  return box;
}

// One unit's copy of the text, with its title, legend and a button to take it away.
function block(ctx, { u, key, values, listed, shown }) {
  const { model, pinned } = ctx;
  const column = values[key].map((row) => row[u]);
  const scale = unitScale(key, column);
  const root = el("section", "text-unit");
  root.dataset.unit = String(u);
  const name = model?.units?.[u];
  const head = el("div", "text-unit-head");
  const title = el("h4", null, `Unit ${u}`);
  if (name) title.append(el("span", "text-unit-name", ` — ${name}`));
  head.append(title, legend(scale, key));
  if (shown.length > 1) {
    const drop = el("button", "text-remove", "Remove");
    drop.type = "button";
    drop.setAttribute("aria-label", `Remove unit ${u}`);
    drop.addEventListener("click", () => {
      const rest = listed.filter((v) => v !== u);
      const patch = { units: rest.length ? rest.join(",") : null };
      // the pin as it is now: a pin moved in place (update) since this button was made
      if (live.ctx.pinned?.unit === u) Object.assign(patch, { layer: null, t: null, unit: null });
      live.ctx.setView(patch);
    });
    head.append(drop);
  }
  const body = textBody(ctx, u);
  if (body.key !== key) recolour(body, key, column, scale);
  mark(body, pinned?.t ?? null);
  root.append(head, body.node);
  return root;
}

// Unit u's copy of the text, uncoloured when new: one span per character, line breaks kept.
function textBody(ctx, u) {
  const known = kept.bodies.get(u);
  if (known) return known;
  const { data, model } = ctx;
  const layer = kept.layer;
  const node = el("pre", "text-body");
  node.tabIndex = 0;
  const spaced = model?.kind !== "text"; // words (or numbers) are read apart
  const spans = data.tokens.map((token, t) => {
    const span = el("span", "ch", shownChar(token));
    span.dataset.t = String(t);
    node.append(span);
    if (token === "\n") node.append("\n");
    else if (spaced) node.append(" ");
    return span;
  });
  const at = (event) => event.target.closest?.(".ch");
  node.addEventListener("pointerover", (event) => {
    const span = at(event);
    if (span) live.readout.replaceChildren(...reading(live.ctx, Number(span.dataset.t), live.shown, layer, live.key));
  });
  node.addEventListener("click", (event) => {
    const span = at(event);
    if (span) live.ctx.select(layer, Number(span.dataset.t), u);
  });
  const body = { u, node, spans, key: null, marked: null };
  kept.bodies.set(u, body);
  return body;
}

// Each character's background on the scale of array `key`, and letters that read on it.
function recolour(body, key, column, scale) {
  body.spans.forEach((span, t) => {
    const rgb = colourOf(column[t], scale);
    span.style.background = `rgb(${rgb.join(",")})`;
    span.style.color = ink(rgb);
  });
  body.node.setAttribute("aria-label", `The text coloured by unit ${body.u}'s ${key}`);
  body.key = key;
}

// The pinned character's mark moves to step t (null: none).
function mark(body, t) {
  const span = t === null ? null : (body.spans[t] ?? null);
  if (span === body.marked) return;
  body.marked?.classList.remove("pinned");
  span?.classList.add("pinned");
  body.marked = span;
}

function legend(scale, key) {
  const box = el("div", "text-legend");
  const bar = legendRamp(scale.spec, scale.lo, scale.hi);
  bar.className = "legend-bar";
  bar.setAttribute("role", "img");
  const ends = `${num(scale.lo, 2)} … ${num(scale.hi, 2)}`;
  bar.setAttribute("aria-label", `colour scale of ${key} from ${ends}`);
  const words = el("div", "legend-labels");
  words.append(el("span", null, num(scale.lo, 2)), el("span", null, num(scale.hi, 2)));
  const says = scale.own ? `${key}: this unit's own scale, ±its largest |${key}| in this run` : `${key}: its whole range`;
  box.append(bar, words, el("span", "help", says));
  return box;
}

// What a hovered step reads: the shown units' values, then the model's prediction there.
function reading(ctx, t, shown, layer, key) {
  const { data, model } = ctx;
  const values = data.layers[layer];
  const token = data.tokens[t];
  const nodes = [el("b", null, `t = ${t}, “${shownChar(token) === " " ? "␣" : shownChar(token)}”: `)];
  nodes.push(shown.map((u) => `unit ${u} ${key} = ${num(values[key][t][u], 3)}${key !== "c" ? `, c = ${num(values.c[t][u], 3)}` : ""}`).join("; "));
  const out = data.outputs;
  if (out) {
    const top = topOf(out, t, predictsNext(model) ? 5 : 1);
    const said = top.map(({ label, p }) => `${label === " " ? "␣" : label === "\n" ? "↵" : label} ${Math.round(p * 100)}%`);
    nodes.push(el("br"), `${predictsNext(model) ? "Next, it expects" : "It predicts"}: ${said.join(", ")}`);
  }
  return nodes;
}
