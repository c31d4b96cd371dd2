// Find units by pattern (as LSTMVis does for hidden states, here for any gate): select a span of
// steps, rank the units of one array by how much more active they are inside the span than
// outside it, and sort or filter the heatmaps' rows by that rank, by mean f or by variance.
// Means and variances of the API's arrays, nothing more: no LSTM math.

import { PANELS } from "../config.js";
import { entryName } from "../describe.js";
import { showToken, stepLabels } from "../heatmap.js";
import { DEFAULTS } from "../state.js";
import { el, num } from "./draw.js";

const ARRAYS = PANELS.map((spec) => spec.key); // f, i, g, o, c, h
const LISTED = 10; // units in the ranking list, unless top asks for fewer (or up to MAX_LISTED more)
const MAX_LISTED = 20;

// The orders the rows can take, each highest first; "" keeps the units' own order.
const SORTS = {
  "": "unit number",
  rank: "span score",
  forget: "mean forget value f",
  variance: "variance",
};

// The state's keys this view reads; a change to any of them can change the heatmaps' rows.
const KEYS = ["span", "by", "sort", "top", "view"];

const byOf = (state) => (ARRAYS.includes(state.by) ? state.by : DEFAULTS.by);
const sortOf = (state) => (state.sort in SORTS ? state.sort : "");
const topOf = (state) => (Number.isInteger(state.top) && state.top >= 1 ? state.top : null);

// "a-b" (inclusive steps, either order) as [first, last] within 0..T-1, or null.
export function parseSpan(text, T) {
  const m = /^(\d{1,6})-(\d{1,6})$/.exec(text ?? "");
  if (!m || T < 1) return null;
  const [a, b] = [Number(m[1]), Number(m[2])].sort((x, y) => x - y);
  if (a > T - 1) return null;
  return [a, Math.min(b, T - 1)];
}

// One pass over a layer's `by` array (and f): per unit, the span score (mean inside − mean outside;
// the mean inside alone when the span covers every step), the mean of f and the variance of `by`.
function measure(layer, by, span) {
  const X = layer[by];
  const F = layer.f;
  const T = X.length;
  const H = X[0].length;
  const shift = Float64Array.from(X[0]); // variance about the first value: no cancellation
  const sumIn = new Float64Array(H);
  const sum = new Float64Array(H);
  const sumSq = new Float64Array(H);
  const sumF = new Float64Array(H);
  const [a, b] = span ?? [T, T];
  for (let t = 0; t < T; t++) {
    const row = X[t];
    const frow = F[t];
    const inside = t >= a && t <= b;
    for (let u = 0; u < H; u++) {
      const v = row[u];
      const d = v - shift[u];
      sum[u] += d;
      sumSq[u] += d * d;
      sumF[u] += frow[u];
      if (inside) sumIn[u] += v;
    }
  }
  const nIn = span ? b - a + 1 : 0;
  const nOut = T - nIn;
  const score = new Float64Array(H);
  const meanF = new Float64Array(H);
  const variance = new Float64Array(H);
  for (let u = 0; u < H; u++) {
    const total = sum[u] + shift[u] * T;
    if (span) score[u] = nOut > 0 ? sumIn[u] / nIn - (total - sumIn[u]) / nOut : sumIn[u] / nIn;
    meanF[u] = sumF[u] / T;
    variance[u] = Math.max(0, sumSq[u] / T - (sum[u] / T) ** 2);
  }
  return { score: span ? score : null, meanF, variance, H, whole: span !== null && nOut === 0 };
}

// Units from highest to lowest value; ties keep the lower unit first.
const ranked = (values) => Array.from(values.keys()).sort((p, q) => values[q] - values[p] || p - q);

// measure() of one layer, done once per answer, array and span.
const memo = new WeakMap(); // data -> Map("layer|by|span" -> measure)
function statsOf(data, l, by, span) {
  if (!memo.has(data)) memo.set(data, new Map());
  const known = memo.get(data);
  const key = `${l}|${by}|${span}`;
  if (!known.has(key)) known.set(key, measure(data.layers[l], by, span));
  return known.get(key);
}

// The heatmaps' rows for every layer (each ranked by its own numbers), or null: every unit in its
// own order. Applies while this view is shown; its keys stay in the URL when another is.
export function rowOrders(data, state) {
  if (state.view !== find.key) return null;
  const sort = sortOf(state);
  const top = topOf(state);
  if (!sort && !top) return null;
  const T = data.tokens.length;
  const span = parseSpan(state.span, T);
  return data.layers.map((_, l) => {
    const stats = statsOf(data, l, byOf(state), span);
    const values = { rank: stats.score, forget: stats.meanF, variance: stats.variance }[sort];
    const order = values ? ranked(values) : [...Array(stats.H).keys()];
    return top ? order.slice(0, top) : order;
  });
}

// Keyboard users type the span; re-rendering replaces the controls, so focus returns by id.
let refocus = null;

// Change the view's state once the browser has moved focus (Tab fires "change" first), and give
// focus back, after the redraw, to the control that has it then (or to `fallback`).
function later(ctx, patch, fallback = null) {
  setTimeout(() => {
    const now = document.activeElement;
    refocus = now?.id && now.closest?.(".view-body") && !now.disabled ? now.id : fallback;
    ctx.setView(patch);
  });
}

export const find = {
  key: "find",
  label: "Find units",
  about: "Which units are more active over a span of steps than elsewhere; sort and filter the heatmaps' rows",
  request: () => ({}),
  rows: rowOrders, // the heatmaps' rows follow this view's order
  rowKeys: KEYS,
  render(container, ctx) {
    const { data, state } = ctx;
    const T = data.tokens.length;
    const H = data.hidden_size;
    const l = ctx.pinned?.layer ?? 0;
    const by = byOf(state);
    const span = parseSpan(state.span, T);
    const stats = statsOf(data, l, by, span);
    const entry = entryName(data.layers, l);
    const layerText = entry ? ` (${entry})` : "";

    const explain = el("p", "find-explain");
    if (!span) explain.textContent = "Select a span of steps: drag across the tokens below, or type its first and last step.";
    else if (stats.whole) explain.textContent = `The span covers every step: units ranked by their mean ${by}${layerText}.`;
    else {
      const read = span[1] - span[0] < 24 ? ` (“${data.tokens.slice(span[0], span[1] + 1).map(showToken).join("")}”)` : "";
      explain.textContent = `Units ranked by how much more active their ${by} is inside steps ${span[0]}–${span[1]}${read} than elsewhere${layerText}.`;
    }
    container.append(explain);

    container.append(strip(data.tokens, span, (a, b) => ctx.setView({ span: `${a}-${b}` })));
    container.append(controls(ctx, T, H, span, by));
    if (span) container.append(ranking(ctx, stats, l, by, span));
    if (refocus) {
      container.querySelector(`#${refocus}`)?.focus();
      refocus = null;
    }
  },
};

// The sequence's tokens, one cell per step: press and drag to select a span.
function strip(tokens, span, choose) {
  const T = tokens.length;
  const box = el("div", "find-strip-box");
  const label = el("div", "find-strip-label", "Steps: press and drag across them to select a span");
  label.id = "find-strip-label";
  const bar = el("div", "find-strip");
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-labelledby", "find-strip-label");
  const mark = el("div", "find-span");
  const cells = el("div", "find-cells");
  bar.append(mark, cells);
  box.append(label, bar);

  const show = (a, b) => {
    mark.hidden = a === null;
    if (a === null) return;
    mark.style.left = `${(a / T) * 100}%`;
    mark.style.width = `${((b - a + 1) / T) * 100}%`;
  };
  show(...(span ?? [null, null]));

  // Tokens when they fit, else step numbers every few steps (as under the heatmaps); laid out
  // once the strip has its width.
  requestAnimationFrame(() => {
    const { ticks, numbers } = stepLabels(tokens, (bar.clientWidth || T * 16) / T);
    cells.classList.toggle("numbers", numbers);
    cells.replaceChildren(
      ...ticks.map(([t, text]) => {
        const tick = el("span", "find-token", text);
        tick.style.left = `${((t + 0.5) / T) * 100}%`;
        return tick;
      }),
    );
  });

  const at = (event) => {
    const rect = bar.getBoundingClientRect();
    return Math.max(0, Math.min(T - 1, Math.floor(((event.clientX - rect.left) / rect.width) * T)));
  };
  let from = null;
  bar.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    from = at(event);
    bar.setPointerCapture(event.pointerId);
    show(from, from);
    event.preventDefault();
  });
  bar.addEventListener("pointermove", (event) => {
    if (from === null) return;
    const t = at(event);
    show(Math.min(from, t), Math.max(from, t));
  });
  bar.addEventListener("pointerup", (event) => {
    if (from === null) return;
    const t = at(event);
    const [a, b] = [Math.min(from, t), Math.max(from, t)];
    from = null;
    choose(a, b);
  });
  bar.addEventListener("pointercancel", () => {
    from = null;
    show(...(span ?? [null, null]));
  });
  return box;
}

function field(labelText, input) {
  const wrap = el("div", "find-field");
  const label = el("label", null, labelText);
  label.htmlFor = input.id;
  wrap.append(label, input);
  return wrap;
}

function numberInput(id, value, min, max) {
  const input = el("input");
  input.type = "number";
  input.id = id;
  input.min = String(min);
  input.max = String(max);
  input.step = "1";
  input.value = value === null ? "" : String(value);
  return input;
}

function select(id, options, value) {
  const box = el("select");
  box.id = id;
  for (const [key, text] of options) box.append(new Option(text, key, false, key === value));
  return box;
}

// The span typed (the keyboard's way to select it), the array ranked, the rows' order and count.
function controls(ctx, T, H, span, by) {
  const { state } = ctx;
  const form = el("div", "find-controls");
  const from = numberInput("find-from", span?.[0] ?? null, 0, T - 1);
  const to = numberInput("find-to", span?.[1] ?? null, 0, T - 1);
  const typed = (event) => {
    const a = from.value === "" ? Number(to.value) : Number(from.value);
    const b = to.value === "" ? a : Number(to.value);
    if (from.value === "" && to.value === "") return;
    if (![a, b].every((x) => Number.isInteger(x) && x >= 0)) return;
    later(ctx, { span: `${Math.min(a, b)}-${Math.max(a, b)}` }, event.target.id);
  };
  from.addEventListener("change", typed);
  to.addEventListener("change", typed);
  const clear = el("button", "find-clear", "Clear span");
  clear.type = "button";
  clear.disabled = !span;
  clear.addEventListener("click", () => later(ctx, { span: null }, "find-from"));

  const names = Object.fromEntries(PANELS.map((spec) => [spec.key, `${spec.key}: ${spec.name}`]));
  const byBox = select("find-by", ARRAYS.map((key) => [key, names[key]]), by);
  byBox.addEventListener("change", () => later(ctx, { by: byBox.value === DEFAULTS.by ? null : byBox.value }, "find-by"));

  const sortBox = select(
    "find-sort",
    Object.entries(SORTS).map(([key, text]) => [key, key === "variance" ? `variance of ${by}` : text]),
    sortOf(state),
  );
  sortBox.addEventListener("change", () => later(ctx, { sort: sortBox.value || null }, "find-sort"));

  const top = numberInput("find-top", topOf(state), 1, H);
  top.placeholder = `all ${H}`;
  top.addEventListener("change", () => {
    const k = Number(top.value);
    later(ctx, { top: top.value !== "" && Number.isInteger(k) && k >= 1 ? k : null }, "find-top");
  });

  const spanRow = el("div", "find-row");
  spanRow.append(field("from step", from), field("to step", to), clear);
  const rowsRow = el("div", "find-row");
  rowsRow.append(field("rank by", byBox), field("order heatmap rows by", sortBox), field("rows shown (top k)", top));
  form.append(spanRow, rowsRow);
  const sort = sortOf(state);
  if (sort === "rank" && !span) form.append(el("p", "help", "Select a span to order the rows by its score."));
  else if (sort || topOf(state)) {
    const shown = topOf(state) ? `the top ${Math.min(topOf(state), H)} of ${H} units` : `all ${H} units`;
    const what = sort === "rank" ? "span score" : sort === "forget" ? "mean f" : sort === "variance" ? `variance of ${by}` : "unit number";
    form.append(el("p", "help", `The heatmaps show ${shown}, highest ${what} first; the unit numbers beside the rows follow.`));
  }
  return form;
}

// The best units of the span: score, a bar from zero, the unit's name; a click pins the unit.
function ranking(ctx, stats, l, by, span) {
  const H = stats.H;
  const top = topOf(ctx.state);
  const n = Math.min(H, top ? Math.min(top, MAX_LISTED) : LISTED);
  const order = ranked(stats.score).slice(0, n);
  const most = Math.max(1e-12, ...order.map((u) => Math.abs(stats.score[u])));
  const digits = Math.min(8, Math.max(3, Math.ceil(-Math.log10(most)) + 2)); // tiny scores keep 3 figures
  const box = el("div", "find-ranking");
  const head = el("div", "find-head");
  head.append(
    el("span", null, "unit"),
    el("span", null, stats.whole ? `mean ${by} (bar: red above 0, blue below)` : `score: mean ${by} inside − outside (red: higher inside, blue: lower)`),
  );
  const list = el("ol", "find-list");
  list.setAttribute("aria-label", `The ${n} units whose ${by} is most active in steps ${span[0]}–${span[1]}`);
  const pinnedUnit = ctx.pinned?.layer === l ? ctx.pinned.unit : null;
  for (const u of order) {
    const score = stats.score[u];
    const name = l === 0 ? (ctx.model?.units?.[u] ?? "") : ""; // the model's names are layer 0's units
    const item = el("li");
    const button = el("button", "find-unit");
    button.type = "button";
    button.id = `find-unit-${u}`;
    button.dataset.unit = String(u);
    button.setAttribute("aria-pressed", String(u === pinnedUnit));
    button.setAttribute("aria-label", `unit ${u}, score ${num(score, digits)}${name ? `, ${name}` : ""}: pin it`);
    const bar = el("span", "find-bar");
    const fill = el("span", score >= 0 ? "find-fill up" : "find-fill down");
    fill.style.width = `${(Math.abs(score) / most) * 50}%`;
    bar.append(fill);
    button.append(el("span", "find-u", `unit ${u}`), bar, el("span", "find-score", num(score, digits)), el("span", "find-name", name));
    button.addEventListener("click", () => {
      refocus = button.id;
      ctx.select(l, ctx.pinned?.t ?? span[0], u);
    });
    item.append(button);
    list.append(item);
  }
  box.append(head, list);
  if (n < H) box.append(el("p", "help", `${H - n} more unit${H - n > 1 ? "s" : ""} rank below.`));
  return box;
}
