// Memory retention: how much of what the cell held at a start step s would still be there at each
// later step if nothing new were written, and each unit's memory span (steps until less than 1/e
// is left). Both come from the API's `retention` (the forget gates' product since s); this file
// only draws them. URL keys: `from` (s; absent: the pinned step, else 0), `spans` (list order).

import { entryName } from "../describe.js";
import { Panel, showToken } from "../heatmap.js";
import { parseSteps } from "../inputs.js";
import { el, field, printed } from "./draw.js";

const BEFORE = [0xd9, 0xd9, 0xd9]; // steps before s: nothing to follow yet (not a viridis colour)
const SHARE = {
  key: "retention",
  name: "share left",
  scale: "sequential",
  range: [0, 1],
  legend: ["0: all gone", "1: all still there"],
};
const ORDERS = [
  ["", "unit number"],
  ["short", "span, shortest first"],
  ["long", "span, longest first"],
];

// Steps of the sequence the state describes (null when it cannot tell: the run will say why).
function stepsOf(state, model) {
  if (!model) return null;
  if (model.kind === "text") return Array.from(state.text ?? "").length;
  if (model.kind === "words") return (state.text ?? "").split(/\s+/).filter(Boolean).length;
  try {
    return parseSteps(state.inputs ?? "", model.size).length;
  } catch {
    return null;
  }
}

// s: the chosen step, else the pinned one (as main.js pins: only inside the run), else 0; kept
// within the run so that a shorter sequence does not make the request fail.
function startStep(state, T, H) {
  const pinned =
    state.t !== null && state.unit !== null && (T === null || state.t < T) && (H === null || state.unit < H);
  const s = state.from ?? (pinned ? state.t : null) ?? 0;
  return T ? Math.max(0, Math.min(s, T - 1)) : s;
}

let asked = null; // the start step last rerun for, so that a mismatch cannot loop
let relabel = null; // the drawn panels' step labels, redone when the window resizes

window.addEventListener("resize", () => relabel?.());

export const memory = {
  key: "memory",
  label: "Memory",
  about: "How long each unit keeps what its cell held at a step s",
  request(state, model) {
    const T = stepsOf(state, model);
    return { include: ["retention"], retention_from: startStep(state, T, model?.hidden_size ?? null) };
  },
  render(container, ctx) {
    const { data, state } = ctx;
    const T = data.tokens.length;
    const s = startStep(state, T, data.hidden_size);
    const got = data.layers[0].retention;
    // The pinned step moved (a click on the heatmaps) while s follows it: ask for the new s once.
    if (!got || got.start !== s) {
      if (asked !== s) {
        asked = s;
        queueMicrotask(() => ctx.setView({}, { rerun: true }));
      }
      container.append(el("p", "help", `Following the cell from step ${s}…`));
      return;
    }
    asked = null;
    container.append(explanation(data, s), controls(ctx, s, T));
    const panels = [];
    data.layers.forEach((layer, l) => {
      const section = el("section", "memory-layer");
      section.dataset.layer = String(l);
      if (data.layers.length > 1) section.append(el("h4", null, `Layer ${l}`));
      const readout = el("p", "help memory-readout");
      readout.setAttribute("aria-live", "polite");
      const panel = heatmap(ctx, l, layer.retention, readout);
      panels.push(panel);
      section.append(panel.root, readout, spans(ctx, l, layer.retention));
      container.append(section);
    });
    relabel = () => {
      for (const p of panels) if (p.root.isConnected) p.labelSteps();
    };
    relabel();
  },
};

function explanation(data, s) {
  const p = el("p", "memory-about");
  p.append(
    "If nothing new were written, this much of what the cell held at step s would still be there ",
    "at step t: the forget gates f from step s + 1 to t, multiplied. ",
    `Here s = ${s}, the token “${showToken(data.tokens[s])}”.`,
  );
  return p;
}

function controls(ctx, s, T) {
  const box = el("div", "memory-controls");
  const start = el("input");
  start.type = "number";
  start.id = "memory-from";
  start.min = "0";
  start.max = String(T - 1);
  start.step = "1";
  start.value = String(s);
  start.addEventListener("change", () => {
    const v = Number(start.value);
    if (!Number.isInteger(v) || v < 0 || v > T - 1) {
      start.value = String(s);
      return;
    }
    if (v !== s) ctx.setView({ from: v }, { rerun: true });
  });
  const order = el("select");
  order.id = "memory-order";
  for (const [value, text] of ORDERS) order.append(new Option(text, value, false, value === (ctx.state.spans ?? "")));
  order.addEventListener("change", () => ctx.setView({ spans: order.value || null }));
  box.append(field("Start step s", start), field("Order spans by", order), el("p", "help", "Or click a column of the heatmap to start there."));
  return box;
}

// The retention heatmap of layer l: units × steps, viridis 0..1, grey before s.
function heatmap(ctx, l, retention, readout) {
  const { data } = ctx;
  const s = retention.start;
  const panel = new Panel(SHARE, l, {
    hover(_layer, t, u) {
      panel.cursor(t, u);
      const v = retention.survives[t][u];
      readout.textContent =
        v === null
          ? `t = ${t} “${showToken(data.tokens[t])}” is before s = ${s}: nothing to follow yet.`
          : `t = ${t} “${showToken(data.tokens[t])}”, unit ${u}: ${printed(data, v)} of c at step ${s} is still there.`;
    },
    leave() {
      panel.cursor(null, null);
      readout.textContent = hint;
    },
    click(_layer, t) {
      if (t !== s) ctx.setView({ from: t }, { rerun: true });
    },
  });
  panel.root.classList.add("retention");
  const caption = panel.root.querySelector("figcaption");
  caption.replaceChildren(
    el("b", null, "What is left of step s"),
    el("span", "about", " — one row per unit of the cell state, one column per step"),
  );
  panel.draw(retention.survives, SHARE.range, data.tokens);
  greyBefore(panel.canvas, retention.survives);
  panel.canvas.setAttribute(
    "aria-label",
    `Share of the cell state of step ${s} still there, ${entryName(data.layers, l) || "layer 0"}: ${data.tokens.length} steps by ${data.hidden_size} units`,
  );
  const title = el("div", "legend-title");
  title.append("share of c", el("sub", null, "s"), " left");
  const legend = panel.legendSlot.firstChild;
  legend.prepend(title);
  const before = el("span", "memory-before");
  before.append(el("span", "swatch"), "before s");
  panel.legendSlot.append(before);
  if (ctx.pinned?.layer === l) panel.pinAt(ctx.pinned.t, ctx.pinned.unit);
  const hint = "Hover over the heatmap to read a value; click a column to start there.";
  readout.textContent = hint;
  return panel;
}

// Steps before s have no value (null): paint them grey rather than as viridis' 0.
function greyBefore(canvas, survives) {
  const g = canvas.getContext("2d");
  const image = g.getImageData(0, 0, canvas.width, canvas.height);
  const T = canvas.width;
  survives.forEach((column, t) => {
    column.forEach((v, u) => {
      if (v !== null) return;
      const p = (u * T + t) * 4;
      image.data.set(BEFORE, p);
    });
  });
  g.putImageData(image, 0, 0);
}

function spanText(span, later) {
  if (span !== null) return `${span} step${span === 1 ? "" : "s"}`;
  if (later === 0) return "s is the last step";
  return `longer than the run (> ${later} step${later === 1 ? "" : "s"})`;
}

// Each unit's span as a bar over the steps after s: a button that pins the unit.
function spans(ctx, l, retention) {
  const { data, model, state, pinned } = ctx;
  const s = retention.start;
  const later = data.tokens.length - 1 - s;
  const box = el("div", "memory-spans");
  const heading = el("h4", null, "Memory span: steps until less than 1/e (37 %) of c");
  heading.append(el("sub", null, "s"), " is left");
  box.append(heading);
  const rank = (u) => retention.span[u] ?? Infinity;
  const units = [...retention.span.keys()];
  if (state.spans === "short") units.sort((a, b) => rank(a) - rank(b) || a - b);
  if (state.spans === "long") units.sort((a, b) => rank(b) - rank(a) || a - b);
  const list = el("ol", "span-list");
  if (units.length > 24) list.classList.add("many");
  for (const u of units) {
    const span = retention.span[u];
    const button = el("button", "span-row");
    button.type = "button";
    button.dataset.unit = String(u);
    button.dataset.span = span === null ? "" : String(span);
    const text = spanText(span, later);
    const name = model?.units?.[u] || "";
    button.setAttribute("aria-pressed", String(pinned?.layer === l && pinned?.unit === u));
    // the name says what the button shows, in its order, then what a click does (WCAG 2.5.3)
    button.setAttribute("aria-label", `unit ${u}: ${text}${name ? `, ${name}` : ""}. Pin this unit.`);
    if (span !== null) {
      const t = s + span;
      button.title = `Less than 1/e of c at step ${s} is left at step ${t} (“${showToken(data.tokens[t])}”)`;
    } else button.title = `At least 1/e of c at step ${s} is still there at the last step`;
    const bar = el("span", "span-bar");
    const fill = el("span", span === null ? "span-fill open" : "span-fill");
    fill.style.width = `${later === 0 ? 100 : ((span ?? later) / later) * 100}%`;
    bar.append(fill);
    // spaces between the parts (a grid lays out none of them) keep "unit 0" and "1 step" two words
    button.append(el("span", "span-unit", `unit ${u}`), " ", bar, " ", el("span", "span-text", text));
    if (name) button.append(" ", el("span", "span-name", name));
    button.addEventListener("click", () => ctx.select(l, pinned?.t ?? s, u));
    const item = el("li");
    item.append(button);
    list.append(item);
  }
  box.append(list);
  return box;
}
