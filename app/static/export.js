// Exports: turns the run the page holds (the /api/run answer, the model's info and the state)
// into files: a PNG of every heatmap for a slide, a CSV of every value, the JSON answer. It
// holds no LSTM math: the values are the API's, and the colours, ranges and labels come from
// heatmap.js, so the image shows exactly what the page draws.

import { PANELS, SIZES } from "./config.js";
import { entryTitle } from "./describe.js";
import {
  LUTS, cScale, clippedCells, colourRange, legendRamp, legendWords, paint, rowHeightFor, showToken, stepLabels, unitTicks,
} from "./heatmap.js";

const SCALE = 2; // device pixels per CSS pixel: sharp when a slide enlarges it
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const MONO = 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace';
const INK = "#1b1f24";
const MUTED = "#5b6470";
const EDGE = "#999999";

// The image's layout, in CSS pixels. A panel stacks, top to bottom: caption, about line, gap,
// heatmap, step labels, axis title, gap, legend bar, legend words.
const BOX = {
  margin: 24, header: 86, layerHead: 30, layerGap: 18,
  caption: 24, about: 18, gap: 6, xaxis: 18, xtitle: 16, legendBar: 10, legendWords: 18,
  minPanel: 360, colGap: 32, rowGap: 22, legendMax: 260,
};

// Heatmap width for T steps: the page's widest cells while they fit in a column the page's
// size, then wider (to WIDE px) so that tokens stay readable, then thinner cells.
const WIDE = 900;
const heatTarget = (T) => Math.min(T * SIZES.maxCellWidth, Math.max(560, Math.min(T * 12, WIDE)));
const STEP_FONT = `12px ${MONO}`;

// CSS pixels per step: heatTarget's, or wider when that lets every token stand under its
// column (the numbers of a vector model) within WIDE.
function cellWidth(tokens) {
  const T = tokens.length;
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = STEP_FONT;
  const widest = Math.max(...tokens.map((token) => ctx.measureText(showToken(token)).width));
  const cell = heatTarget(T) / T;
  return widest + 4 > cell && T * (widest + 4) <= WIDE ? widest + 4 : cell;
}

const seqOf = (model, state) => (model.kind === "vector" ? state.inputs : state.text) ?? "";

// Where everything goes, in CSS pixels (the canvas has `scale` device pixels per CSS pixel).
// Cells are whole device pixels wide and tall, so that every cell keeps its colour exactly.
export function pngLayout(data) {
  const T = data.tokens.length;
  const H = data.hidden_size;
  const L = data.layers.length;
  const cell = Math.max(1, Math.floor(SCALE * cellWidth(data.tokens))) / SCALE;
  const rowHeight = rowHeightFor(H);
  const w = T * cell;
  const h = H * rowHeight;
  const panelW = Math.max(SIZES.yAxisWidth + w, BOX.minPanel);
  const panelH = BOX.caption + BOX.about + BOX.gap + h + BOX.xaxis + BOX.xtitle + BOX.gap
    + BOX.legendBar + BOX.legendWords;
  const width = 2 * BOX.margin + 2 * panelW + BOX.colGap;
  const layers = [];
  const panels = [];
  let y = BOX.margin + BOX.header;
  for (let l = 0; l < L; l++) {
    if (entryTitle(data.layers, l)) {
      layers.push({ layer: l, y });
      y += BOX.layerHead;
    }
    PANELS.forEach((spec, k) => {
      const x = BOX.margin + (k % 2) * (panelW + BOX.colGap);
      const top = y + Math.floor(k / 2) * (panelH + BOX.rowGap);
      const heat = { x: x + SIZES.yAxisWidth, y: top + BOX.caption + BOX.about + BOX.gap, w, h };
      const legend = {
        x: heat.x, y: heat.y + h + BOX.xaxis + BOX.xtitle + BOX.gap,
        w: Math.min(BOX.legendMax, panelW - SIZES.yAxisWidth), h: BOX.legendBar,
      };
      panels.push({ layer: l, key: spec.key, x, y: top, w: panelW, h: panelH, heat, legend });
    });
    y += 3 * panelH + 2 * BOX.rowGap + (l < L - 1 ? BOX.layerGap : 0);
  }
  return { scale: SCALE, width, height: y + BOX.margin, cell, rowHeight, layers, panels };
}

// Text cut with an ellipsis to fit `width` in the context's current font.
function fit(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let chars = Array.from(text);
  while (chars.length > 1 && ctx.measureText(`${chars.join("")}…`).width > width) {
    chars = chars.slice(0, Math.max(1, Math.floor(chars.length * 0.9)));
  }
  return `${chars.join("")}…`;
}

function write(ctx, text, x, y, { font, colour = INK, align = "left", baseline = "middle" } = {}) {
  ctx.font = font;
  ctx.fillStyle = colour;
  ctx.textAlign = align;
  ctx.textBaseline = baseline;
  ctx.fillText(text, x, y);
}

// A 1 device pixel frame just outside a rectangle, never over its cells.
function frame(ctx, x, y, w, h, scale) {
  const px = 1 / scale;
  ctx.strokeStyle = EDGE;
  ctx.lineWidth = px;
  ctx.strokeRect(x - px / 2, y - px / 2, w + px, h + px);
}

function header(ctx, box, data, model, state) {
  const right = box.width - BOX.margin;
  const top = BOX.margin;
  const T = data.tokens.length;
  const L = data.layers.length;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  write(ctx, "Gatescope", right, top + 13, { font: `600 13px ${FONT}`, colour: MUTED, align: "right" });
  ctx.font = `700 22px ${FONT}`;
  write(ctx, fit(ctx, model.title ?? data.model, right - BOX.margin - 90), BOX.margin, top + 13,
    { font: ctx.font });
  const about = [`model ${data.model}`, plural(T, "time step"), `H = ${data.hidden_size} units`];
  const both = data.layers.some((e) => e.direction === "backward") && data.layers.some((e) => e.direction !== "backward");
  const layerCount = both ? L / 2 : L;
  if (layerCount > 1) about.push(plural(layerCount, "layer"));
  if (both) about.push("both directions");
  write(ctx, about.join("  ·  "), BOX.margin, top + 38, { font: `14px ${FONT}`, colour: MUTED });
  const shown =
    model.kind === "vector" ? seqOf(model, state) : data.tokens.map(showToken).join(model.kind === "words" ? " " : "");
  ctx.font = `14px ${MONO}`;
  const label = model.kind === "vector" ? "inputs " : "text ";
  write(ctx, label, BOX.margin, top + 60, { font: `14px ${FONT}`, colour: MUTED });
  const at = BOX.margin + ctx.measureText(label).width;
  ctx.font = `14px ${MONO}`;
  write(ctx, fit(ctx, `“${shown}”`, right - at), at, top + 60, { font: ctx.font });
}

// The page's mark of a clipped cell (heatmap.js markClipped): a white dot in its middle third,
// in whole device pixels (at least one), so that a 1-pixel row keeps a visible dot.
function dotClipped(ctx, box, heat, cells) {
  const { scale } = box;
  const [w, h] = [box.cell * scale, box.rowHeight * scale]; // a cell, in device pixels
  const [dw, dh] = [Math.max(1, Math.round(w / 3)), Math.max(1, Math.round(h / 3))];
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#ffffff";
  for (const [t, u] of cells) {
    const x = Math.round(heat.x * scale + (t + 0.5) * w - dw / 2);
    const y = Math.round(heat.y * scale + (u + 0.5) * h - dh / 2);
    ctx.fillRect(x, y, dw, dh);
  }
  ctx.restore();
}

// reads: what a step's label is ("token", "input"), for the axis title.
function drawPanel(ctx, box, place, spec, values, range, tokens, reads) {
  const { x, y, heat, legend } = place;
  const scaled = Array.isArray(range) ? null : range; // the cell state's cScale
  const [lo, hi] = scaled ? [scaled.lo, scaled.hi] : range;
  const T = values.length;
  const H = values[0].length;
  // caption: the gate's letter and name, then what it does
  ctx.font = `700 18px ${MONO}`;
  const letter = ctx.measureText(spec.key).width;
  write(ctx, spec.key, x, y + 12, { font: ctx.font });
  write(ctx, spec.name, x + letter + 8, y + 12, { font: `600 15px ${FONT}` });
  ctx.font = `12.5px ${FONT}`;
  write(ctx, fit(ctx, spec.about, place.w), x, y + BOX.caption + 8, { font: ctx.font, colour: MUTED });

  // the heatmap: the page's T × H canvas, each value a block of whole device pixels
  const cells = document.createElement("canvas");
  cells.width = T;
  cells.height = H;
  paint(cells, values, lo, hi, LUTS[spec.scale], null, scaled?.unitHi);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, heat.x, heat.y, heat.w, heat.h);
  if (scaled) dotClipped(ctx, box, heat, clippedCells(values, scaled));
  frame(ctx, heat.x, heat.y, heat.w, heat.h, box.scale);

  // units beside their rows, as the page labels them
  for (const u of unitTicks(H, box.rowHeight)) {
    write(ctx, String(u), heat.x - 5, heat.y + (u + 0.5) * box.rowHeight,
      { font: `11px ${FONT}`, colour: MUTED, align: "right" });
  }
  if (heat.h >= 48) {
    ctx.save();
    ctx.translate(x + 6, heat.y + heat.h / 2);
    ctx.rotate(-Math.PI / 2);
    write(ctx, "unit", 0, 0, { font: `11px ${FONT}`, colour: MUTED, align: "center" });
    ctx.restore();
  }

  // steps under their columns: tokens when every one fits its cell, else numbers every few steps
  ctx.font = STEP_FONT;
  const { ticks, numbers } = stepLabels(tokens, box.cell, (text) => ctx.measureText(text).width <= box.cell - 1);
  for (const [t, text] of ticks) {
    write(ctx, text, heat.x + (t + 0.5) * box.cell, heat.y + heat.h + 3,
      { font: STEP_FONT, colour: numbers ? MUTED : INK, align: "center", baseline: "top" });
  }
  const xtitle = numbers ? "time step t" : `time step t (${reads} read)`;
  write(ctx, xtitle, heat.x + heat.w / 2, heat.y + heat.h + BOX.xaxis + 8,
    { font: `11px ${FONT}`, colour: MUTED, align: "center" });

  // the legend: the page's colour bar, stretched, with its words at its ends (and middle)
  ctx.drawImage(legendRamp(spec, lo, hi), legend.x, legend.y, legend.w, legend.h);
  frame(ctx, legend.x, legend.y, legend.w, legend.h, box.scale);
  const words = scaled?.scale === "unit" ? ["−its largest", "0", "+its largest"] : legendWords(spec, lo, hi);
  words.forEach((word, k) => {
    const align = k === 0 ? "left" : k === words.length - 1 ? "right" : "center";
    write(ctx, word, legend.x + (legend.w * k) / (words.length - 1), legend.y + legend.h + 3,
      { font: `11.5px ${FONT}`, colour: MUTED, align, baseline: "top" });
  });
}

// A file name from the model and the first characters of the sequence, safe on any system.
function fileName(data, sequence, ext) {
  const slug = (text, n) => text.slice(0, n).replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return `${["gatescope", slug(data.model, 40), slug(sequence, 24)].filter(Boolean).join("-")}.${ext}`;
}

// One image of every panel of every layer, in the page's order, on white, at SCALE × resolution.
export async function pngFile(data, model, state) {
  const box = pngLayout(data);
  const canvas = document.createElement("canvas");
  canvas.width = box.width * box.scale;
  canvas.height = box.height * box.scale;
  const ctx = canvas.getContext("2d");
  ctx.scale(box.scale, box.scale);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, box.width, box.height);
  header(ctx, box, data, model, state);
  for (const { layer, y } of box.layers) {
    const words = entryTitle(data.layers, layer);
    write(ctx, words, BOX.margin, y + 13, { font: `700 16px ${FONT}` });
  }
  const reads = model.kind === "vector" ? "input" : "token";
  // c on the page's scale (state.scale, robust when absent), the others on their fixed ranges
  const ranges = data.layers.map((layer) =>
    PANELS.map((spec) => (spec.range === "symmetric" ? cScale(layer[spec.key], state?.scale ?? "robust") : colourRange(spec, layer))),
  );
  box.panels.forEach((place, n) => {
    const k = n % PANELS.length;
    const values = data.layers[place.layer][place.key];
    drawPanel(ctx, box, place, PANELS[k], values, ranges[place.layer][k], data.tokens, reads);
  });
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  if (!blob) throw new Error(`this browser cannot encode an image of ${canvas.width} × ${canvas.height} pixels`);
  return { name: fileName(data, seqOf(model, state), "png"), blob };
}

// RFC 4180: a field with a comma, a quote or a line break (or spaces at its ends) is quoted,
// its quotes doubled.
const field = (text) => (/[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

// One row per (layer, gate, t, unit), values as the API sent them (String(x) round-trips).
export function csvFile(data, model, state) {
  const parts = ["layer,gate,t,token,unit,value\r\n"];
  const tokens = data.tokens.map(field);
  data.layers.forEach((layer, l) => {
    for (const { key } of PANELS) {
      layer[key].forEach((column, t) => {
        let rows = "";
        column.forEach((value, u) => {
          rows += `${l},${key},${t},${tokens[t]},${u},${String(value)}\r\n`;
        });
        parts.push(rows);
      });
    }
  });
  return { name: fileName(data, seqOf(model, state), "csv"), blob: new Blob(parts, { type: "text/csv" }) };
}

// The answer as the API gave it, with what was sent to POST /api/run to get it (sent: that body).
export function jsonFile(data, model, state, sent) {
  const sequence = seqOf(model, state);
  const request = sent ?? { model: data.model };
  const file = { model: data.model, sequence, request, page: window.location.href, answer: data };
  const blob = new Blob([`${JSON.stringify(file)}\n`], { type: "application/json" });
  return { name: fileName(data, sequence, "json"), blob };
}

// Hand a file to the browser as a download.
export function save({ name, blob }) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
