// The Train view's charts, as SVG from a training's snapshots (the event stream's, views/train.js):
// loss and held-out accuracy over steps, one line per training (two when forget biases are
// compared), and the timeline of the gates that matter for the task. They draw what the API sent.

import { svg } from "./draw.js";

export const COLOURS = ["#1f6fb2", "#d9730d"]; // one per training drawn (a comparison has two)
const CONDITION_COLOURS = ["#b2182b", "#2166ac", "#5aa02c", "#7b3294"];
const W = 320;
const PAD = { left: 38, right: 8, top: 16, bottom: 18 };

// One panel: lines over steps 0..xMax, y from yMin to yMax (log: a log10 scale), the step `mark`
// (the snapshot shown) as a vertical line. series: [{points: [[step, y]], colour, dash, key, label}].
function panel({ title, height, xMax, yMin, yMax, log = false, ticks, series, mark, legend = false }) {
  const root = svg("svg", { viewBox: `0 0 ${W} ${height}`, class: "train-chart", role: "img" });
  root.setAttribute("aria-label", title);
  const inner = { w: W - PAD.left - PAD.right, h: height - PAD.top - PAD.bottom };
  const f = (y) => (log ? Math.log10(Math.max(y, 10 ** yMin)) : y);
  const x = (s) => PAD.left + (inner.w * s) / Math.max(1, xMax);
  const y = (v) => PAD.top + inner.h * (1 - (f(v) - yMin) / (yMax - yMin || 1));
  root.append(svg("text", { x: 0, y: 11, class: "train-chart-title" }, title));
  if (legend) {
    // which colour is which training, at the title's right, the last label ending at the edge
    const labels = svg("text", { x: W - PAD.right, y: 11, class: "train-chart-title", "text-anchor": "end" });
    for (const s of series) labels.append(svg("tspan", { fill: s.colour, dx: 6 }, `— ${s.label.split(", ").at(-1)}`));
    root.append(labels);
  }
  for (const tick of ticks) {
    const ty = y(tick.value);
    root.append(
      svg("line", { x1: PAD.left, x2: W - PAD.right, y1: ty, y2: ty, class: "train-grid" }),
      svg("text", { x: PAD.left - 4, y: ty + 3, class: "train-tick", "text-anchor": "end" }, tick.label),
    );
  }
  const base = PAD.top + inner.h;
  root.append(
    svg("text", { x: PAD.left, y: height - 4, class: "train-tick" }, "0"),
    svg("text", { x: W - PAD.right, y: height - 4, class: "train-tick", "text-anchor": "end" }, `step ${xMax}`),
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: base, y2: base, class: "train-axis" }),
  );
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map(([sx, sy], k) => `${k ? "L" : "M"}${x(sx).toFixed(1)},${y(sy).toFixed(1)}`).join("");
    const line = svg("path", { d, class: "train-line", stroke: s.colour, "data-series": s.key });
    line.dataset.points = String(s.points.length);
    if (s.dash) line.setAttribute("stroke-dasharray", s.dash);
    line.append(svg("title", {}, s.label));
    root.append(line);
  }
  if (mark !== null && mark !== undefined) {
    root.append(svg("line", { x1: x(mark), x2: x(mark), y1: PAD.top, y2: base, class: "train-mark" }));
  }
  return root;
}

// The steps axis grows with the trainings (the first few hundred steps are where a gate learns:
// an axis of all 4000 from the start would squeeze them into a sliver): up to the furthest step
// received, rounded up to 1, 2 or 5 × 10^k, never past the steps asked for.
function xMaxOf(runs) {
  const furthest = Math.max(50, ...runs.map((r) => r.snaps.at(-1)?.step ?? 0));
  const asked = Math.max(1, ...runs.map((r) => r.settings?.steps ?? 1));
  const decade = 10 ** Math.floor(Math.log10(furthest));
  const nice = [1, 2, 5, 10].map((m) => m * decade).find((v) => v >= furthest);
  return Math.min(nice, asked);
}

// The loss (mean since the previous snapshot; log scale) and the held-out accuracy (measured every
// 50 steps and at the end), each training a colour.
export function lossCharts(runs, mark) {
  const xMax = xMaxOf(runs);
  const losses = runs.flatMap((r) => r.snaps.map((s) => s.loss).filter((v) => v !== null && v > 0));
  const [low, high] = losses.length ? [Math.min(...losses), Math.max(...losses)] : [0.01, 1];
  const yMin = Math.floor(Math.log10(low));
  const yMax = Math.max(yMin + 1, Math.ceil(Math.log10(high)));
  const decades = [];
  for (let e = yMin; e <= yMax; e++) decades.push({ value: 10 ** e, label: String(10 ** e) });
  const loss = panel({
    title: "Loss (cross-entropy, log scale)",
    height: 120,
    xMax,
    yMin,
    yMax,
    log: true,
    ticks: decades,
    mark,
    legend: runs.length > 1,
    series: runs.map((r, k) => ({
      key: `loss-${k}`,
      colour: COLOURS[k % COLOURS.length],
      label: `loss, ${r.label}`,
      points: r.snaps.filter((s) => s.loss !== null && s.loss > 0).map((s) => [s.step, s.loss]),
    })),
  });
  const accuracy = panel({
    title: "Held-out accuracy",
    height: 110,
    xMax,
    yMin: 0,
    yMax: 1,
    ticks: [0, 0.5, 0.99].map((v) => ({ value: v, label: v === 0.99 ? "99 %" : `${v * 100} %` })),
    mark,
    series: runs.map((r, k) => ({
      key: `accuracy-${k}`,
      colour: COLOURS[k % COLOURS.length],
      label: `held-out accuracy, ${r.label}`,
      points: accuracyPoints(r),
    })),
  });
  return [loss, accuracy];
}

// (step measured, accuracy), once per measurement (a snapshot repeats the latest one).
export function accuracyPoints(run) {
  const points = [];
  for (const s of run.snaps) {
    if (s.accuracy === null || s.accuracy_step === null) continue;
    if (points.at(-1)?.[0] !== s.accuracy_step) points.push([s.accuracy_step, s.accuracy]);
  }
  return points;
}

// The gates that matter for unit `unit`: one line per gate and condition (f solid, i dashed), from
// each snapshot's means over the task's probe batch.
export function gateTimeline(run, unit, gates, mark) {
  const first = run.snaps[0]?.gates ?? {};
  const series = [];
  for (const gate of gates) {
    Object.keys(first[gate] ?? {}).forEach((condition, k) => {
      series.push({
        key: `${gate}-${k}`,
        colour: CONDITION_COLOURS[k % CONDITION_COLOURS.length],
        dash: gate === "f" ? null : "4 3",
        label: `${gate} of unit ${unit} ${condition}`,
        points: run.snaps.filter((s) => s.gates?.[gate]?.[condition]).map((s) => [s.step, s.gates[gate][condition][unit]]),
      });
    });
  }
  const chart = panel({
    title: `Gates of unit ${unit} over training`,
    height: 120,
    xMax: xMaxOf([run]),
    yMin: 0,
    yMax: 1,
    ticks: [0, 0.5, 1].map((v) => ({ value: v, label: String(v) })),
    mark,
    series,
  });
  return { chart, series };
}
