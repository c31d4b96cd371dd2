// One horizontal bar per hidden unit, for the step and cell-update views: signed segments stacked
// away from zero (positive parts to the right, negative to the left), markers for totals, and a
// pinned unit that a click or the arrow keys move. Draws the numbers it is given, nothing more.

import { el, svg } from "./draw.js";

const PIN = "#ff2fb9"; // the heatmaps' pin colour, so the pinned unit reads the same everywhere

// About `count` round tick values from lo to hi: steps of 1, 2 or 5 × 10^k.
export function niceTicks(lo, hi, count = 5) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw * 0.999);
  const ticks = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

// A tick's text: as short as it can be, with a true minus sign.
export const tickText = (v) => String(Number(v.toPrecision(4))).replace("-", "−");

export const linear = ([d0, d1], [r0, r1]) => (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);

// A legend as HTML: swatches (kind "box", "line" or "ring") with their words.
export function legend(items) {
  const box = el("div", "chart-legend");
  for (const { colour, label, kind = "box" } of items) {
    const item = el("span", "chart-legend-item");
    const swatch = el("span", `swatch ${kind}`);
    swatch.style.setProperty("--swatch", colour);
    item.append(swatch, label);
    box.append(item);
  }
  return box;
}

// Units labelled beside rows `rowH` pixels tall: every k-th, k in 1, 2, 5, 10, 20, …, so that
// labels stand at least 12 pixels apart.
function labelEvery(rowH) {
  for (let p = 1; ; p *= 10) for (const b of [1, 2, 5]) if (b * p * rowH >= 12) return b * p;
}

// opts:
//   H, width                  units and the drawing's width in CSS pixels
//   segments  [{key, label, colour, value: (u) => number}]   stacked in this order
//   markers   [{key, label, value: (u) => number, kind: "total" | "ring"}]
//   selected  the pinned unit (highlighted and always labelled), or null
//   names     a unit's name or "" (written above its bar while rows are few), or null
//   axisLabel the x axis' words; title: the chart's accessible name
//   onPick(u) pin unit u
export function unitBars({ H, width, segments, markers, selected, names, axisLabel, title, onPick, id }) {
  const named = names && H <= 16 && names.some(Boolean);
  const rowH = named ? 30 : Math.max(3, Math.min(16, Math.floor(480 / H)));
  const barH = named ? 12 : Math.max(2, Math.round(rowH * 0.72));
  const thin = rowH < 6; // markers shrink so that hundreds of rows stay readable
  const barTop = named ? 15 : (rowH - barH) / 2; // where a bar starts within its row
  const left = 40;
  const right = 10;
  const top = 4;
  const plotH = H * rowH;
  const height = top + plotH + 38;

  // the extent: every stacked end and every marker, and zero
  let lo = 0;
  let hi = 0;
  for (let u = 0; u < H; u++) {
    let pos = 0;
    let neg = 0;
    for (const s of segments) {
      const v = s.value(u);
      if (v > 0) pos += v;
      else neg += v;
    }
    lo = Math.min(lo, neg, ...markers.map((m) => m.value(u)));
    hi = Math.max(hi, pos, ...markers.map((m) => m.value(u)));
  }
  if (hi - lo < 1e-9) hi = lo + 1;
  const pad = (hi - lo) * 0.04;
  const ticks = niceTicks(lo - pad, hi + pad, Math.max(3, Math.floor((width - left) / 70)));
  const domain = [Math.min(lo - pad, ticks[0]), Math.max(hi + pad, ticks[ticks.length - 1])];
  const x = linear(domain, [left, width - right]);
  const rowY = (u) => top + u * rowH;

  const root = svg("svg", {
    width, height, viewBox: `0 0 ${width} ${height}`, class: thin ? "unitbars-svg thin" : "unitbars-svg", id,
    tabindex: 0, role: "slider", "aria-label": `${title}: one bar per unit; up and down arrows pin another unit`,
    "aria-valuemin": 0, "aria-valuemax": H - 1,
  });
  if (selected !== null) {
    root.setAttribute("aria-valuenow", selected);
    root.setAttribute("aria-valuetext", `unit ${selected}${names?.[selected] ? `, ${names[selected]}` : ""}`);
  }

  // grid and axis
  const axis = svg("g", { class: "axis" });
  for (const v of ticks) {
    const gx = x(v);
    axis.append(
      svg("line", { x1: gx, x2: gx, y1: top, y2: top + plotH, class: v === 0 ? "zero" : "grid" }),
      svg("text", { x: gx, y: top + plotH + 14, "text-anchor": "middle" }, tickText(v)),
    );
  }
  axis.append(
    svg("text", { x: left + (width - left - right) / 2, y: top + plotH + 32, "text-anchor": "middle", class: "axis-title" }, axisLabel),
    svg("text", { x: 4, y: top + plotH + 14, class: "axis-title" }, "unit"),
  );
  root.append(axis);

  if (selected !== null && selected < H) {
    root.append(svg("rect", { x: 0, y: rowY(selected), width, height: rowH, class: "pinned-row", fill: PIN }));
  }

  // the bars: one path per segment kind, so that 256 units stay a handful of nodes
  const x0 = x(0);
  for (const [k, s] of segments.entries()) {
    let d = "";
    for (let u = 0; u < H; u++) {
      // where this segment starts: after the earlier segments of the same sign
      let before = 0;
      const v = s.value(u);
      for (let j = 0; j < k; j++) {
        const w = segments[j].value(u);
        if (Math.sign(w) === Math.sign(v)) before += w;
      }
      const a = x(before);
      const b = x(before + v);
      const w = Math.abs(b - a);
      if (w < 0.01) continue;
      d += `M${Math.min(a, b).toFixed(2)} ${(rowY(u) + barTop).toFixed(2)}h${w.toFixed(2)}v${barH}h${(-w).toFixed(2)}z`;
    }
    root.append(svg("path", { d, fill: s.colour, class: `seg seg-${s.key}` }));
  }
  root.append(svg("line", { x1: x0, x2: x0, y1: top, y2: top + plotH, class: "zero" }));

  for (const m of markers) {
    let d = "";
    for (let u = 0; u < H; u++) {
      const mx = x(m.value(u)).toFixed(2);
      if (m.kind === "ring") {
        const r = Math.max(1.5, Math.min(4, barH * 0.4));
        const cy = rowY(u) + barTop + barH / 2;
        d += `M${(Number(mx) - r).toFixed(2)} ${cy.toFixed(2)}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
      } else {
        const out = thin ? 1 : 2;
        d += `M${mx} ${(rowY(u) + barTop - out).toFixed(2)}v${barH + 2 * out}`;
      }
    }
    root.append(svg("path", { d, class: `marker marker-${m.kind} marker-${m.key}` }));
  }

  // unit numbers (every k-th, and the pinned one), names above the bars while rows are few
  const every = named ? 1 : labelEvery(rowH);
  const labels = svg("g", { class: "unit-labels" });
  for (let u = 0; u < H; u++) {
    const isPinned = u === selected;
    if (!isPinned && u % every !== 0) continue;
    if (!isPinned && selected !== null && Math.abs(u - selected) * rowH < 11) continue; // room for the pinned one
    const at = { x: left - 6, y: rowY(u) + barTop + barH / 2 + 4, "text-anchor": "end" };
    labels.append(svg("text", isPinned ? { ...at, class: "pinned" } : at, String(u)));
    if (named && names[u]) {
      const room = Math.floor((width - left - right) / 6.2);
      const name = names[u].length > room ? `${names[u].slice(0, room - 1)}…` : names[u];
      labels.append(svg("text", { x: left, y: rowY(u) + 11, class: "unit-name" }, name));
    }
  }
  root.append(labels);

  // hit areas: a row each, with its numbers as a tooltip
  const hits = svg("g", { class: "hits" });
  for (let u = 0; u < H; u++) {
    const hit = svg("rect", { x: 0, y: rowY(u), width, height: rowH, fill: "transparent" });
    const parts = segments.map((s) => `${s.label} ${tickText(s.value(u))}`);
    const marks = markers.map((m) => `${m.label} ${tickText(m.value(u))}`);
    hit.append(svg("title", {}, `unit ${u}${names?.[u] ? ` (${names[u]})` : ""}: ${[...parts, ...marks].join(", ")}`));
    hits.append(hit);
  }
  root.append(hits);

  root.addEventListener("click", (event) => {
    const box = root.getBoundingClientRect();
    const y = ((event.clientY - box.top) / box.height) * height;
    const u = Math.floor((y - top) / rowH);
    if (u >= 0 && u < H) onPick(u);
  });
  // ↑/↓ (and Page Up/Down, Home, End) pin another unit here; ← and → go on to the page, which
  // moves the pinned step. Either way the view is drawn anew: keep the keyboard on these bars.
  const refocus = () => document.getElementById(id)?.focus();
  root.addEventListener("keydown", (event) => {
    const now = selected ?? 0;
    const jump = Math.max(1, Math.round(H / 10));
    const to = { ArrowDown: now + 1, ArrowUp: now - 1, PageDown: now + jump, PageUp: now - jump, Home: 0, End: H - 1 }[event.key];
    if (to === undefined) {
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") setTimeout(refocus); // after the page redrew
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    onPick(Math.max(0, Math.min(H - 1, to)));
    refocus();
  });
  return root;
}
