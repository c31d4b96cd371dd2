// One heatmap panel: a T × H canvas (one pixel per value, scaled by CSS), its axes, legend and
// crosshair. It draws what it is given and reports where the pointer is; it never fetches.
// The colour tables, painting and label rules are exported so that export.js draws the same.

import { BLUE_RED, SIZES, TOKEN_SHOWN, VIRIDIS } from "./config.js";
import { C_SCALES, clippedCells } from "./cscale.js";

export { C_SCALES, OUTLIER, cScale, clippedCells, colourRange } from "./cscale.js";

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
// win (optional, zoom.js): only steps t0..t1 of rows r0..r1, pixel (t − t0, row − r0); the
// canvas must be that size. Painting only the window keeps a zoom into 2,000 × 128 fast.
export function paint(canvas, values, lo, hi, colours, rows = null, unitHi = null, win = null) {
  const R = rows ? rows.length : values[0].length;
  const { t0, t1, r0, r1 } = win ?? { t0: 0, t1: values.length - 1, r0: 0, r1: R - 1 };
  const T = t1 - t0 + 1;
  const H = r1 - r0 + 1;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(T, H);
  const px = image.data;
  for (let row = 0; row < H; row++) {
    const u = rows ? rows[row + r0] : row + r0;
    const [a, b] = unitHi ? [-unitHi[u], unitHi[u]] : [lo, hi];
    const scale = 255 / (b - a);
    for (let t = 0; t < T; t++) {
      const k = Math.max(0, Math.min(255, Math.round((values[t + t0][u] - a) * scale)));
      const p = (row * T + t) * 4;
      px[p] = colours[k * 3];
      px[p + 1] = colours[k * 3 + 1];
      px[p + 2] = colours[k * 3 + 2];
      px[p + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
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
// else step numbers every few steps. first: the step of the first column (a zoomed window's t0):
// t stays the column, the numbers are the steps.
export function stepLabels(tokens, cell, fits = () => true, first = 0) {
  const T = tokens.length;
  const shown = tokens.map(showToken);
  if (cell >= SIZES.minLabelWidth && shown.every(fits)) {
    return { ticks: shown.map((text, t) => [t, text]), numbers: false };
  }
  const every = labelEvery(cell, first + T);
  const ticks = [];
  for (let t = (every - (first % every)) % every; t < T; t += every) ticks.push([t, String(first + t)]);
  return { ticks, numbers: true };
}

// CSS pixels per unit row: the panel aims at SIZES.panelHeight, in whole pixels.
export const rowHeightFor = (H) =>
  Math.max(1, Math.min(SIZES.maxRowHeight, Math.floor(SIZES.panelHeight / H)));

// The rows labelled beside H rows `rowHeight` pixels tall: every one from 8 px (a zoomed window),
// else every 2nd, 4th, 8th, … row, as often as labels 12 px apart allow, and the last row (in
// place of the one before it when they would touch). 128 rows of 1 px: 0, 16, …, 112, 127.
export const LABEL_GAP = 12;
export function unitTicks(H, rowHeight) {
  if (rowHeight >= 8) return [...Array(H).keys()];
  let every = 2;
  while (every * rowHeight < LABEL_GAP) every *= 2;
  const rows = [];
  for (let row = 0; row < H; row += every) rows.push(row);
  if (rows[rows.length - 1] !== H - 1) {
    if ((H - 1 - rows[rows.length - 1]) * rowHeight < LABEL_GAP && rows.length > 1) rows.pop();
    rows.push(H - 1);
  }
  return rows;
}

export class Panel {
  // spec: an entry of config PANELS; layer: its layer index; handlers: {hover, leave, click, and
  // zoom's (gestures.js): wheel, pinch, brush}.
  constructor(spec, layer, handlers) {
    this.spec = spec;
    this.layer = layer;
    this.win = null; // the window shown (zoom.js), null: the whole run
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
    this.brush = el("div", "brush");
    for (const node of [this.vline, this.hline, this.pin, this.brush]) node.hidden = true;
    // the cells a robust scale clips: a dot in each, on a canvas of 3 × 3 pixels per cell
    this.marks = el("canvas", "clips");
    this.marks.hidden = true;
    this.marks.setAttribute("aria-hidden", "true"); // marks on the heatmap, which has the name
    this.frame.append(this.canvas, this.marks, this.vline, this.hline, this.pin, this.brush);
    this.yaxis = el("div", "yaxis");
    this.xaxis = el("div", "xaxis");
    // A 2 × 2 grid: unit labels beside the heatmap only, step labels under it only, so both
    // line up with the cells whatever the width.
    this.plot = el("div", "plot");
    this.plot.append(this.yaxis, this.frame, el("div"), this.xaxis);
    this.legendSlot = el("div", "legend-slot");
    this.root.append(caption, this.plot, this.legendSlot);

    const at = (event) => {
      const [t, row] = this.cellAt(event.clientX, event.clientY).map(Math.floor);
      return [t, this.order ? this.order[row] : row]; // the true unit
    };
    this.canvas.addEventListener("pointermove", (e) => handlers.hover(this.layer, ...at(e), e));
    this.canvas.addEventListener("pointerleave", () => handlers.leave());
    this.canvas.addEventListener("click", (e) => {
      if (!this.swallow) handlers.click(this.layer, ...at(e));
      this.swallow = false;
    });
  }

  // The step and row (fractional, within the window) under client point (x, y).
  cellAt(x, y) {
    const box = this.canvas.getBoundingClientRect();
    const { t0, t1, r0, r1 } = this.shown();
    const fx = Math.max(0, Math.min(1 - 1e-9, (x - box.left) / box.width));
    const fy = Math.max(0, Math.min(1 - 1e-9, (y - box.top) / box.height));
    return [t0 + fx * (t1 - t0 + 1), r0 + fy * (r1 - r0 + 1)];
  }

  // The window drawn: this.win, or the whole run.
  shown() {
    return this.win ?? { t0: 0, t1: this.T - 1, r0: 0, r1: this.H - 1 };
  }

  // values: T × H nested arrays; range: [lo, hi], or the cell state's cScale (heatmap.js);
  // tokens: T labels; order (optional): the units drawn as rows, top to bottom (row k is unit
  // order[k]; units left out are not drawn); pick(scale): the legend offers the choice of scale;
  // win: the window shown (zoom.js), null: all of it; steps: false leaves the step labels to the
  // caller, as view() does.
  draw(values, range, tokens, order = null, pick = null, win = null, steps = true) {
    this.values = values;
    this.T = values.length;
    this.order = order;
    this.H = order ? order.length : values[0].length; // rows drawn
    this.tokens = tokens;
    const scaled = Array.isArray(range) ? null : range;
    const [lo, hi] = scaled ? [scaled.lo, scaled.hi] : range;
    this.range = { lo, hi, unitHi: scaled?.unitHi ?? null };
    this.clipped = scaled ? clippedCells(values, scaled, order) : [];
    this.root.dataset.clipped = String(this.clipped.length);
    const rows = order ? `${this.H} of ${values[0].length} units, in the order chosen` : `${this.H} units`;
    this.about = `${this.spec.name}, layer ${this.layer}: ${this.T} time steps by ${rows}`;
    this.canvas.setAttribute("role", "img");
    const says = scaled ? { scale: scaled.scale, clipped: this.clipped.length } : null;
    this.legendSlot.replaceChildren(legend(this.spec, lo, hi, says, pick));
    this.view(win, steps);
  }

  // Show window `win` (null: the whole run): paint only its cells, label its rows and steps.
  // steps: false leaves the step labels to the caller (board.js labels every panel's after
  // reading all their widths at once: one layout, not one per panel).
  view(win, steps = true) {
    this.win = win;
    const { t0, t1, r0, r1 } = this.shown();
    const [T, H] = [t1 - t0 + 1, r1 - r0 + 1];
    this.canvas.width = T;
    this.canvas.height = H;
    const { lo, hi, unitHi } = this.range;
    paint(this.canvas, this.values, lo, hi, LUTS[this.spec.scale], this.order, unitHi, win);
    this.markClipped(this.clipped.filter(([t, row]) => t >= t0 && t <= t1 && row >= r0 && row <= r1));
    const part = win ? `; steps ${t0}–${t1} and rows ${r0}–${r1} shown` : "";
    this.canvas.setAttribute("aria-label", this.about + part);
    this.root.dataset.window = win ? `${t0}-${t1},${r0}-${r1}` : "";
    const rowHeight = rowHeightFor(H);
    // zoomed, the panel takes its column's width: the window's cells grow instead
    this.plot.style.maxWidth = win ? "" : `${SIZES.yAxisWidth + T * SIZES.maxCellWidth}px`;
    this.frame.style.height = `${H * rowHeight}px`;
    this.rowHeight = rowHeight;
    this.labelUnits();
    if (steps) this.labelSteps();
    this.cursor(...(this.cursorAt ?? [null, null]));
    this.pinAt(...(this.pinnedAt ?? [null, null]));
  }

  // A white dot at the centre of every clipped cell (steps and rows of the run, within the
  // window): its colour says "at least this far".
  markClipped(cells) {
    this.marks.hidden = cells.length === 0;
    if (!cells.length) return;
    const { t0, t1, r0, r1 } = this.shown();
    this.marks.width = (t1 - t0 + 1) * 3;
    this.marks.height = (r1 - r0 + 1) * 3;
    const ctx = this.marks.getContext("2d");
    ctx.fillStyle = "#ffffff";
    for (const [t, row] of cells) ctx.fillRect((t - t0) * 3 + 1, (row - r0) * 3 + 1, 1, 1);
  }

  labelUnits() {
    const { r0, r1 } = this.shown();
    const H = r1 - r0 + 1;
    this.yaxis.replaceChildren();
    this.yaxis.classList.toggle("dense", this.rowHeight < 12);
    if (H * this.rowHeight >= 48) this.yaxis.append(el("span", "axis-title", "unit")); // room to stand
    for (const k of unitTicks(H, this.rowHeight)) {
      const row = r0 + k;
      const tick = el("span", "tick", String(this.order ? this.order[row] : row));
      tick.style.top = `${((k + 0.5) / H) * 100}%`;
      this.yaxis.append(tick);
    }
  }

  // Tokens under their columns when they fit, else step numbers every few steps. frameWidth: the
  // frame's width in CSS pixels, when the caller has read it.
  labelSteps(frameWidth = this.frame.clientWidth) {
    const { t0, t1 } = this.shown();
    const T = t1 - t0 + 1;
    const width = frameWidth || T * SIZES.maxCellWidth;
    const { ticks, numbers } = stepLabels(this.tokens.slice(t0, t1 + 1), width / T, undefined, t0);
    this.xaxis.replaceChildren();
    this.xaxis.classList.toggle("numbers", numbers);
    for (const [t, text] of ticks) {
      const tick = el("span", "tick", text);
      tick.style.left = `${((t + 0.5) / T) * 100}%`;
      this.xaxis.append(tick);
    }
  }

  // The row unit u is drawn in: u itself, or its place in the order (-1: not drawn).
  rowOf(u) {
    return u === null || !this.order ? u : this.order.indexOf(u);
  }

  // An overlay at step t and row `row` of the run (null: all), within the window; hidden outside it.
  place(node, t, row) {
    const { t0, t1, r0, r1 } = this.shown();
    const out = (t !== null && (t < t0 || t > t1)) || (row !== null && (row < r0 || row > r1));
    if (out) node.hidden = true;
    else place(node, t === null ? null : t - t0, row === null ? null : row - r0, t1 - t0 + 1, r1 - r0 + 1);
  }

  // The crosshair: a column at t on every panel, and a row at unit u (null: none) on this layer's.
  cursor(t, u) {
    this.cursorAt = [t, u];
    const row = this.rowOf(u);
    this.place(this.vline, t, null);
    this.place(this.hline, null, row === -1 ? null : row);
  }

  // The pin at step t of unit u; hidden when that unit's row is filtered out.
  pinAt(t, u) {
    this.pinnedAt = [t, u];
    const row = this.rowOf(u);
    if (row === -1 || t === null || u === null) this.pin.hidden = true;
    else this.place(this.pin, t, row);
  }

  // The rectangle being brushed, steps ta..tb and rows ra..rb of the run (null: none).
  brushAt(ta, tb, ra, rb) {
    if (ta === null) {
      this.brush.hidden = true;
      return;
    }
    const { t0, t1, r0, r1 } = this.shown();
    const [T, H] = [t1 - t0 + 1, r1 - r0 + 1];
    Object.assign(this.brush.style, {
      left: `${((Math.min(ta, tb) - t0) / T) * 100}%`,
      width: `${((Math.abs(tb - ta) + 1) / T) * 100}%`,
      top: `${((Math.min(ra, rb) - r0) / H) * 100}%`,
      height: `${((Math.abs(rb - ra) + 1) / H) * 100}%`,
    });
    this.brush.hidden = false;
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
