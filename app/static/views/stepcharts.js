// The step inspector's two charts of saturation: every unit's pre-activation as a point on the
// gate's curve at the pinned step, and each gate's values over the whole sequence as histograms.
// The curve is the run's own (gate_curve: sigmoid or hard sigmoid); points are (z, value) pairs
// from the API, so a clamped gate shows up off the curve.

import { LUTS } from "../heatmap.js";
import { el, num, svg } from "./draw.js";
import { legend, linear, niceTicks, tickText } from "./unitbars.js";

const PIN = "#ff2fb9";
const SATURATED = 0.01; // within this of an end, a gate counts as saturated in the caption

// The value a clamp set at (gate, layer, t, unit), or null; of two clamps the later one wins.
export function clampAt(data, gate, l, t, u) {
  let value = null;
  for (const iv of data.interventions ?? []) {
    if (iv.gate !== gate || iv.value === undefined || iv.value === null) continue;
    if ((iv.t ?? t) === t && (iv.unit ?? u) === u && (iv.layer ?? l) === l) value = iv.value;
  }
  return value;
}

// The name of a gate's activation, as the run reports it: i, f and o's, or tanh for g.
export const activationName = (data, gate) =>
  gate === "g" ? "tanh" : data.gate_curve?.activation?.startsWith("hard_sigmoid") ? "hard σ" : "σ";

const RANGES = { i: [0, 1], f: [0, 1], o: [0, 1], g: [-1, 1] };
const NAMES = { f: "forget gate", i: "input gate", g: "candidate", o: "output gate" };

function frame(width, height, label) {
  return svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
}

export function gateCurve(ctx, width, gate) {
  const { data } = ctx;
  const { layer: l, t, unit } = ctx.pinned;
  const layer = data.layers[l];
  const z = layer.parts[gate].pre[t];
  const y = layer[gate][t];
  const H = z.length;
  const curve = gate === "g" ? null : data.gate_curve;
  const act = activationName(data, gate);
  const [ylo, yhi] = RANGES[gate];

  const box = el("section", "step-block");
  box.append(el("h4", null, `Where the units sit on ${act} at t = ${t}`));
  const height = 210;
  const m = { left: 44, right: 10, top: 10, bottom: 38 };
  const zlo = Math.min(curve ? curve.z[0] : -3, ...z);
  const zhi = Math.max(curve ? curve.z[curve.z.length - 1] : 3, ...z);
  const ticks = niceTicks(zlo, zhi, Math.max(3, Math.floor((width - m.left) / 60)));
  const X = linear([Math.min(zlo, ticks[0]), Math.max(zhi, ticks[ticks.length - 1])], [m.left, width - m.right]);
  const Y = linear([ylo, yhi], [height - m.bottom, m.top]);
  const plot = frame(width, height, `${gate} against its pre-activation z for the ${H} units at step ${t}`);
  plot.classList.add("curve-svg");

  const axis = svg("g", { class: "axis" });
  for (const v of ticks) {
    axis.append(
      svg("line", { x1: X(v), x2: X(v), y1: m.top, y2: height - m.bottom, class: v === 0 ? "zero" : "grid" }),
      svg("text", { x: X(v), y: height - m.bottom + 14, "text-anchor": "middle" }, tickText(v)),
    );
  }
  for (const v of gate === "g" ? [-1, 0, 1] : [0, 0.5, 1]) {
    axis.append(
      svg("line", { x1: m.left, x2: width - m.right, y1: Y(v), y2: Y(v), class: v === (ylo + yhi) / 2 ? "grid" : "end" }),
      svg("text", { x: m.left - 5, y: Y(v) + 4, "text-anchor": "end" }, tickText(v)),
    );
  }
  axis.append(
    svg("text", { x: m.left + (width - m.left - m.right) / 2, y: height - 4, "text-anchor": "middle", class: "axis-title" },
      "pre-activation z"),
    svg("text", { x: 12, y: m.top + (height - m.top - m.bottom) / 2, "text-anchor": "middle", class: "axis-title",
      transform: `rotate(-90 12 ${m.top + (height - m.top - m.bottom) / 2})` }, "gate value"),
  );
  plot.append(axis);

  if (curve) {
    const points = curve.z.map((zz, k) => `${X(zz).toFixed(1)},${Y(curve.y[k]).toFixed(1)}`).join(" ");
    plot.append(svg("polyline", { points, class: "curve" }));
  }

  // the units: one path of dots, clamped ones as squares (off the curve), the pinned one on top
  let dots = "";
  let squares = "";
  const r = H > 64 ? 2.2 : 3.5;
  for (let u = 0; u < H; u++) {
    const px = X(z[u]);
    const py = Y(y[u]);
    if (clampAt(data, gate, l, t, u) !== null) squares += `M${(px - r).toFixed(1)} ${(py - r).toFixed(1)}h${2 * r}v${2 * r}h${-2 * r}z`;
    else dots += `M${(px - r).toFixed(1)} ${py.toFixed(1)}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
  }
  plot.append(svg("path", { d: dots, class: "dots" }), svg("path", { d: squares, class: "dots clamped" }));
  const px = X(z[unit]);
  const py = Y(y[unit]);
  plot.append(
    svg("circle", { cx: px, cy: py, r: 6, fill: "none", stroke: PIN, "stroke-width": 3, class: "pinned-dot" }),
    svg("text", { x: px + (px > width / 2 ? -9 : 9), y: py + (py < height / 2 ? 16 : -9), class: "pinned",
      "text-anchor": px > width / 2 ? "end" : "start" }, `unit ${unit}`),
  );

  const items = [
    ...(curve ? [{ colour: "#555", label: `${act}(z), the curve every gate value lies on`, kind: "line" }] : []),
    { colour: "#1b1f24", label: "a unit at this step", kind: "dot" },
    { colour: PIN, label: `unit ${unit} (pinned)`, kind: "ring" },
  ];
  if (squares) items.push({ colour: "#1b1f24", label: "clamped by a what-if (off the curve)", kind: "square" });
  const low = y.filter((v) => v < ylo + SATURATED * (yhi - ylo)).length;
  const high = y.filter((v) => v > yhi - SATURATED * (yhi - ylo)).length;
  const ends = gate === "g" ? ["−1", "+1"] : ["0", "1"];
  box.append(
    plot,
    legend(items),
    el("p", "help",
      `Saturated (within ${num(SATURATED * (yhi - ylo), 2)} of an end): ${high} of ${H} units near ${ends[1]}, `
      + `${low} near ${ends[0]}. There ${act} is flat, so a nudge to z barely moves ${gate}.`
      + (gate === "g" ? " (g lies on tanh(z), from −1 to 1.)" : "")),
  );
  return box;
}

const BINS = 20;

function histogram(values, gate, width, pinnedValue) {
  const [lo, hi] = RANGES[gate];
  const counts = new Array(BINS).fill(0);
  let n = 0;
  for (const row of values) {
    for (const v of row) {
      const k = Math.min(BINS - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * BINS)));
      counts[k] += 1;
      n += 1;
    }
  }
  const most = Math.max(1, ...counts);
  const height = 118;
  const m = { left: 36, right: 6, top: 24, bottom: 30 };
  const X = linear([lo, hi], [m.left, width - m.right]);
  const Y = linear([0, most], [height - m.bottom, m.top]);
  const plot = frame(width, height, `histogram of ${gate} over the whole sequence: ${n} values in ${BINS} bins from ${lo} to ${hi}`);
  plot.classList.add("hist-svg");
  plot.dataset.gate = gate;
  plot.dataset.counts = counts.join(" ");
  const lut = LUTS[gate === "g" ? "diverging" : "sequential"];
  counts.forEach((count, k) => {
    if (!count) return;
    const c = Math.round(((k + 0.5) / BINS) * 255) * 3;
    const x0 = X(lo + ((hi - lo) * k) / BINS);
    const x1 = X(lo + ((hi - lo) * (k + 1)) / BINS);
    plot.append(svg("rect", {
      x: x0 + 0.5, y: Y(count), width: Math.max(0.5, x1 - x0 - 1), height: Math.max(0.5, Y(0) - Y(count)),
      fill: `rgb(${lut[c]},${lut[c + 1]},${lut[c + 2]})`, stroke: "#666", "stroke-width": 0.5,
    }));
  });
  const axis = svg("g", { class: "axis" });
  axis.append(
    svg("line", { x1: m.left, x2: width - m.right, y1: Y(0), y2: Y(0), class: "zero" }),
    svg("line", { x1: m.left, x2: m.left, y1: Y(0), y2: m.top, class: "zero" }),
    svg("text", { x: m.left - 4, y: Y(most) + 4, "text-anchor": "end" }, most >= 10000 ? `${Math.round(most / 1000)}k` : String(most)),
    svg("text", { x: m.left - 4, y: Y(0) + 3, "text-anchor": "end" }, "0"),
    svg("text", { x: X(lo), y: height - m.bottom + 13, "text-anchor": "start" }, tickText(lo)),
    svg("text", { x: X(hi), y: height - m.bottom + 13, "text-anchor": "end" }, tickText(hi)),
    svg("text", { x: m.left + (width - m.left - m.right) / 2, y: height - 4, "text-anchor": "middle", class: "axis-title" },
      `${gate} value`),
    svg("text", { x: 2, y: 11, class: "hist-title" }, `${gate} ${NAMES[gate]}`),
  );
  if (gate === "g") axis.append(svg("text", { x: X(0), y: height - m.bottom + 13, "text-anchor": "middle" }, "0"));
  const px = X(pinnedValue);
  axis.append(
    svg("line", { x1: px, x2: px, y1: m.top, y2: Y(0), stroke: PIN, "stroke-width": 1.5, "stroke-dasharray": "3 2" }),
    svg("path", { d: `M${px} ${m.top}l-4 -6h8z`, fill: PIN, class: "pinned-mark" }),
    svg("text", { x: 9, y: m.top + (Y(0) - m.top) / 2, "text-anchor": "middle", class: "axis-title",
      transform: `rotate(-90 9 ${m.top + (Y(0) - m.top) / 2})` }, "count"),
  );
  plot.append(axis);
  return plot;
}

export function gateHistograms(ctx, width) {
  const { layer: l, t, unit } = ctx.pinned;
  const layer = ctx.data.layers[l];
  const T = ctx.data.tokens.length;
  const box = el("section", "step-block");
  box.append(
    el("h4", null, "Each gate over the whole sequence"),
    el("p", "help", `All ${T} steps × ${ctx.data.hidden_size} units, in ${BINS} bins. Values piled at the ends are `
      + "saturated: the gate is fully shut or fully open there. The dashed line ▼ marks the pinned cell."),
  );
  const grid = el("div", "hist-grid");
  const each = Math.floor((width - 8) / 2);
  for (const gate of ["f", "i", "g", "o"]) grid.append(histogram(layer[gate], gate, each, layer[gate][t][unit]));
  box.append(grid);
  return box;
}
