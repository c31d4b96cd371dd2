// One heatmap panel: a T × H canvas (one pixel per value, scaled by CSS), its axes, legend and
// crosshair. It draws what it is given and reports where the pointer is; it never fetches.
// The colour tables, painting and label rules are exported so that export.js draws the same.

import { BLUE_RED, SIZES, TOKEN_SHOWN, VIRIDIS } from "./config.js";

function lut(stops, n = 256) {
  const rgb = stops.map((hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16)));
  const out = new Uint8ClampedArray(n * 3);
  for (let k = 0; k < n; k++) {
    const x = (k / (n - 1)) * (rgb.length - 1);
    const j = Math.min(Math.floor(x), rgb.length - 2);
    const w = x - j;
    for (let ch = 0; ch < 3; ch++) out[k * 3 + ch] = Math.round(rgb[j][ch] * (1 - w) + rgb[j + 1][ch] * w);
  }
  return out;
}

// 256 RGB triples per scale, by PANELS' `scale`.
export const LUTS = { sequential: lut(VIRIDIS), diverging: lut(BLUE_RED) };

export const showToken = (token) => TOKEN_SHOWN[token] ?? token;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Paint T × H values into a T × H canvas (pixel (t, u) is values[t][u]), through a LUTS table.
// rows (optional): the units to draw, in order: pixel (t, k) is then values[t][rows[k]].
// unitHi (optional): unit u's own scale, ±unitHi[u], in place of lo..hi ("unit" scale of c).
export function paint(canvas, values, lo, hi, colours, rows = null, unitHi = null) {
  const T = values.length;
  const H = rows ? rows.length : values[0].length;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(T, H);
  const px = image.data;
  for (let row = 0; row < H; row++) {
    const u = rows ? rows[row] : row;
    const [a, b] = unitHi ? [-unitHi[u], unitHi[u]] : [lo, hi];
    const scale = 255 / (b - a);
    for (let t = 0; t < T; t++) {
      const k = Math.max(0, Math.min(255, Math.round((values[t][u] - a) * scale)));
      const p = (row * T + t) * 4;
      px[p] = colours[k * 3];
      px[p + 1] = colours[k * 3 + 1];
      px[p + 2] = colours[k * 3 + 2];
      px[p + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

// The ends of a panel's colour scale: its fixed range, or for "symmetric" (the cell state, which
// is unbounded) ±(largest |value| in the layer, at least 1), so that 0 is always white.
export function colourRange(spec, layer) {
  if (spec.range !== "symmetric") return spec.range;
  const most = Math.max(1, ...layer[spec.key].map((row) => Math.max(...row.map(Math.abs))));
  return [-most, most];
}

// The scales the cell state can be drawn on (URL key `scale`); robust unless the URL says.
export const C_SCALES = {
  robust: "robust: ±the 99th percentile of |c|, outlying units left out; cells beyond it clipped (dotted)",
  unit: "per unit: each row on its own ±largest |c|",
  fixed: "the layer's whole range: ±its largest |c| (at least 1)",
};
export const OUTLIER = 3; // a unit whose 99th-percentile |c| is over 3 × the median unit's is an outlier

// The q-quantile of ascending numbers, linearly interpolated (numpy's default).
function quantile(sorted, q) {
  const x = (sorted.length - 1) * q;
  const j = Math.floor(x);
  return j + 1 < sorted.length ? sorted[j] + (sorted[j + 1] - sorted[j]) * (x - j) : sorted[j];
}

// The colour scale of a symmetric panel (c) on `scale`: {lo, hi, unitHi, scale}. robust: each
// unit's 99th percentile of |c| over the steps; units more than OUTLIER × the median of those are
// left out, and the largest of the rest is the range, so that one unit of |c| = 9 cannot wash out
// units that stay within ±1 (its cells are clipped and marked). unit: ±each unit's own largest |c|.
// fixed: today's ±(largest |c| in the layer, at least 1). Presentation only: no LSTM math.
export function cScale(values, scale = "robust") {
  if (scale === "fixed") {
    const [lo, hi] = colourRange({ range: "symmetric", key: "v" }, { v: values });
    return { lo, hi, unitHi: null, scale };
  }
  const H = values[0].length;
  const peaks = [];
  const p99 = [];
  for (let u = 0; u < H; u++) {
    const column = values.map((row) => Math.abs(row[u])).sort((a, b) => a - b);
    peaks.push(column[column.length - 1]);
    p99.push(quantile(column, 0.99));
  }
  if (scale === "unit") {
    return { lo: -1, hi: 1, unitHi: peaks.map((m) => m || 1), scale };
  }
  const median = quantile([...p99].sort((a, b) => a - b), 0.5);
  const kept = p99.filter((m) => m <= OUTLIER * median);
  const most = Math.max(...(kept.length ? kept : p99));
  const hi = most > 0 ? most : 1;
  return { lo: -hi, hi, unitHi: null, scale: "robust" };
}

// The cells beyond a scale, as [t, row] pairs (rows in the order drawn).
export function clippedCells(values, { lo, hi, unitHi }, rows = null) {
  const out = [];
  const H = rows ? rows.length : values[0].length;
  for (let row = 0; row < H; row++) {
    const u = rows ? rows[row] : row;
    const [a, b] = unitHi ? [-unitHi[u], unitHi[u]] : [lo, hi];
    for (let t = 0; t < values.length; t++) {
      const v = values[t][u];
      if (v > b || v < a) out.push([t, row]);
    }
  }
  return out;
}

// The legend's colour bar: a 256 × 1 canvas from lo to hi, to be stretched.
export function legendRamp(spec, lo, hi) {
  const bar = document.createElement("canvas");
  bar.width = 256;
  bar.height = 1;
  const ramp = Array.from({ length: 256 }, (_, k) => [lo + ((hi - lo) * k) / 255]);
  paint(bar, ramp, lo, hi, LUTS[spec.scale]);
  return bar;
}

// The words under the bar, spread from its left end to its right end.
export const legendWords = (spec, lo, hi) =>
  spec.legend ?? [`${lo.toPrecision(3)}`, "0", `+${hi.toPrecision(3)}`];

// scaled (optional): the cell state's {scale, clipped}; pick(scale): the choice of scale, whose
// select sits in the legend (only where the page offers it).
function legend(spec, lo, hi, scaled = null, pick = null) {
  const box = el("div", "legend");
  const bar = legendRamp(spec, lo, hi);
  bar.className = "legend-bar";
  bar.setAttribute("role", "img");
  const unit = scaled?.scale === "unit";
  const words = unit ? ["−its largest", "0", "+its largest"] : legendWords(spec, lo, hi);
  bar.setAttribute("aria-label", `colour scale from ${words[0]} to ${words[words.length - 1]}`);
  const labels = el("div", "legend-labels");
  for (const word of words) labels.append(el("span", "", word));
  box.append(bar, labels);
  if (!scaled) return box;
  box.dataset.scale = scaled.scale;
  const says = el("div", "legend-scale");
  if (pick) {
    const select = el("select", "scale-pick");
    select.setAttribute("aria-label", "Colour scale of c");
    for (const key of Object.keys(C_SCALES)) select.append(new Option(key, key, false, key === scaled.scale));
    select.addEventListener("change", () => pick(select.value));
    says.append(select, " ");
  }
  const clipped = scaled.clipped ? `; ${scaled.clipped} clipped` : "";
  says.append(el("span", "legend-says", `${C_SCALES[scaled.scale]}${clipped}`));
  box.append(says);
  return box;
}

// A readable step between labels: 1, 2, 5, 10, 20, 50, … steps, wide enough for the
// labels themselves (digits × about 7 px, plus a gap).
function labelEvery(cellWidth, T) {
  const need = (String(T).length * 7 + 8) / Math.max(cellWidth, 1e-6);
  for (let p = 1; p <= 1e6; p *= 10) {
    for (const base of [1, 2, 5]) if (base * p >= need) return base * p;
  }
  return 1e6;
}

// The labels under T columns `cell` pixels wide: [t, text] pairs, and whether they are step
// numbers. Tokens when they fit (`fits(shown)`, when given, can say a wide token does not),
// else step numbers every few steps.
export function stepLabels(tokens, cell, fits = () => true) {
  const T = tokens.length;
  const shown = tokens.map(showToken);
  if (cell >= SIZES.minLabelWidth && shown.every(fits)) {
    return { ticks: shown.map((text, t) => [t, text]), numbers: false };
  }
  const every = labelEvery(cell, T);
  const ticks = [];
  for (let t = 0; t < T; t += every) ticks.push([t, String(t)]);
  return { ticks, numbers: true };
}

// CSS pixels per unit row: the panel aims at SIZES.panelHeight, in whole pixels.
export const rowHeightFor = (H) =>
  Math.max(1, Math.min(SIZES.maxRowHeight, Math.floor(SIZES.panelHeight / H)));

// The units labelled beside rows `rowHeight` pixels tall: every one when there is room, else the ends.
export const unitTicks = (H, rowHeight) =>
  [...new Set(rowHeight >= 10 ? [...Array(H).keys()] : [0, H - 1])];

export class Panel {
  // spec: an entry of config PANELS; layer: its layer index; handlers: {hover, leave, click}.
  constructor(spec, layer, handlers) {
    this.spec = spec;
    this.layer = layer;
    this.root = el("figure", "panel");
    this.root.dataset.gate = spec.key;
    this.root.dataset.layer = String(layer);
    const caption = el("figcaption");
    caption.append(el("b", "gate", spec.key), ` ${spec.name}`, el("span", "about", ` — ${spec.about}`));
    this.canvas = el("canvas", "heat");
    this.frame = el("div", "frame");
    this.vline = el("div", "cross v");
    this.hline = el("div", "cross h");
    this.pin = el("div", "pin");
    for (const node of [this.vline, this.hline, this.pin]) node.hidden = true;
    // the cells a robust scale clips: a dot in each, on a canvas of 3 × 3 pixels per cell
    this.marks = el("canvas", "clips");
    this.marks.hidden = true;
    this.marks.setAttribute("aria-hidden", "true"); // marks on the heatmap, which has the name
    this.frame.append(this.canvas, this.marks, this.vline, this.hline, this.pin);
    this.yaxis = el("div", "yaxis");
    this.xaxis = el("div", "xaxis");
    // A 2 × 2 grid: unit labels beside the heatmap only, step labels under it only, so both
    // line up with the cells whatever the width.
    this.plot = el("div", "plot");
    this.plot.append(this.yaxis, this.frame, el("div"), this.xaxis);
    this.legendSlot = el("div", "legend-slot");
    this.root.append(caption, this.plot, this.legendSlot);

    const at = (event) => {
      const box = this.canvas.getBoundingClientRect();
      const t = Math.floor(((event.clientX - box.left) / box.width) * this.T);
      const row = Math.max(0, Math.min(this.H - 1, Math.floor(((event.clientY - box.top) / box.height) * this.H)));
      return [Math.max(0, Math.min(this.T - 1, t)), this.order ? this.order[row] : row]; // the true unit
    };
    this.canvas.addEventListener("pointermove", (e) => handlers.hover(this.layer, ...at(e), e));
    this.canvas.addEventListener("pointerleave", () => handlers.leave());
    this.canvas.addEventListener("click", (e) => handlers.click(this.layer, ...at(e)));
  }

  // values: T × H nested arrays; range: [lo, hi], or the cell state's cScale (heatmap.js);
  // tokens: T labels; order (optional): the units drawn as rows, top to bottom (row k is unit
  // order[k]; units left out are not drawn); pick(scale): the legend offers the choice of scale.
  draw(values, range, tokens, order = null, pick = null) {
    this.T = values.length;
    this.order = order;
    this.H = order ? order.length : values[0].length; // rows drawn
    this.tokens = tokens;
    this.canvas.width = this.T;
    this.canvas.height = this.H;
    const scaled = Array.isArray(range) ? null : range;
    const [lo, hi] = scaled ? [scaled.lo, scaled.hi] : range;
    paint(this.canvas, values, lo, hi, LUTS[this.spec.scale], order, scaled?.unitHi);
    const clipped = scaled ? clippedCells(values, scaled, order) : [];
    this.markClipped(clipped);
    this.canvas.setAttribute("role", "img");
    const rows = order ? `${this.H} of ${values[0].length} units, in the order chosen` : `${this.H} units`;
    this.canvas.setAttribute("aria-label", `${this.spec.name}, layer ${this.layer}: ${this.T} time steps by ${rows}`);
    const rowHeight = rowHeightFor(this.H);
    this.plot.style.maxWidth = `${SIZES.yAxisWidth + this.T * SIZES.maxCellWidth}px`;
    this.frame.style.height = `${this.H * rowHeight}px`;
    this.rowHeight = rowHeight;
    const says = scaled ? { scale: scaled.scale, clipped: clipped.length } : null;
    this.legendSlot.replaceChildren(legend(this.spec, lo, hi, says, pick));
    this.labelUnits();
    this.labelSteps();
  }

  // A white dot at the centre of every clipped cell: its colour says "at least this far".
  markClipped(cells) {
    this.root.dataset.clipped = String(cells.length);
    this.marks.hidden = cells.length === 0;
    if (!cells.length) return;
    this.marks.width = this.T * 3;
    this.marks.height = this.H * 3;
    const ctx = this.marks.getContext("2d");
    ctx.fillStyle = "#ffffff";
    for (const [t, row] of cells) ctx.fillRect(t * 3 + 1, row * 3 + 1, 1, 1);
  }

  labelUnits() {
    this.yaxis.replaceChildren();
    if (this.H * this.rowHeight >= 48) this.yaxis.append(el("span", "axis-title", "unit")); // room to stand
    for (const row of unitTicks(this.H, this.rowHeight)) {
      const tick = el("span", "tick", String(this.order ? this.order[row] : row));
      tick.style.top = `${((row + 0.5) / this.H) * 100}%`;
      this.yaxis.append(tick);
    }
  }

  // Tokens under their columns when they fit, else step numbers every few steps.
  labelSteps() {
    const width = this.frame.clientWidth || this.T * SIZES.maxCellWidth;
    const { ticks, numbers } = stepLabels(this.tokens, width / this.T);
    this.xaxis.replaceChildren();
    this.xaxis.classList.toggle("numbers", numbers);
    for (const [t, text] of ticks) {
      const tick = el("span", "tick", text);
      tick.style.left = `${((t + 0.5) / this.T) * 100}%`;
      this.xaxis.append(tick);
    }
  }

  // The row unit u is drawn in: u itself, or its place in the order (-1: not drawn).
  rowOf(u) {
    return u === null || !this.order ? u : this.order.indexOf(u);
  }

  // The crosshair: a column at t on every panel, and a row at unit u (null: none) on this layer's.
  cursor(t, u) {
    const row = this.rowOf(u);
    place(this.vline, t, null, this.T, this.H);
    place(this.hline, null, row === -1 ? null : row, this.T, this.H);
  }

  // The pin at step t of unit u; hidden when that unit's row is filtered out.
  pinAt(t, u) {
    const row = this.rowOf(u);
    if (row === -1) place(this.pin, null, null, this.T, this.H);
    else place(this.pin, t, row, this.T, this.H);
  }
}

// Position an overlay over column t and/or row u, in percentages so it follows CSS scaling.
function place(node, t, u, T, H) {
  if (t === null && u === null) {
    node.hidden = true;
    return;
  }
  node.hidden = false;
  node.style.left = t === null ? "0" : `${(t / T) * 100}%`;
  node.style.width = t === null ? "100%" : `${100 / T}%`;
  node.style.top = u === null ? "0" : `${(u / H) * 100}%`;
  node.style.height = u === null ? "100%" : `${100 / H}%`;
}
