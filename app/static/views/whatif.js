// What if? Switch the forget gate off or shut, shift its bias, or clamp one gate value, and see
// what changes downstream. The what-ifs live in the URL (x, static/interventions.js) and alter
// the main run in every view; this view fetches the model's own run beside it and draws the
// difference. The engine recomputes everything; the page only subtracts and takes maxima to show it.

import { Panel, showToken } from "../heatmap.js";
import {
  GATE_NAMES,
  GATE_RANGES,
  describe,
  everywhere,
  formatInterventions,
  parseInterventions,
  where,
} from "../interventions.js";
import { cachedRun, runBody } from "../runs.js";
import { el, num, svg } from "./draw.js";

const TOGGLES = [
  { iv: { gate: "f", value: 1 }, label: "Forget gate off (f ≡ 1)" },
  { iv: { gate: "f", value: 0 }, label: "Forget gate shut (f ≡ 0)" },
  { iv: { gate: "f", bias_add: 1 }, label: "Forget bias +1" },
];
const TOGGLES_HELP =
  "Off: the LSTM of 1997, which had no forget gate. Shut: no memory at all. Bias +1: the usual " +
  "start of training (Jozefowicz et al. 2015). Click again to switch one off.";

const same = (a, b) =>
  a.gate === b.gate && a.value === b.value && a.bias_add === b.bias_add &&
  a.t === b.t && a.unit === b.unit && a.layer === b.layer;
const at = (a, b) => a.gate === b.gate && a.t === b.t && a.unit === b.unit && a.layer === b.layer;

// Whole-run what-ifs first, then those at one place, so that a clamp at one cell wins over them
// (the API applies the list in order).
const ordered = (list) => [...list.filter(everywhere), ...list.filter((iv) => !everywhere(iv))];

const p3 = (x) => x.toPrecision(3);
const pct = (x) => `${Math.round(x * 100)} %`;
const signed = (x) => (x < 0 ? `−${p3(-x)}` : `+${p3(x)}`);
const maxAbs = (rows) => rows.reduce((m, row) => row.reduce((n, v) => Math.max(n, Math.abs(v)), m), 0);
const mean = (rows) => rows.flat().reduce((s, v) => s + v, 0) / rows.flat().length;
const minimum = (rows) => rows.reduce((m, row) => row.reduce((n, v) => Math.min(n, v), m), Infinity);
// The rows of one array over the layers a what-if touches: its layer, or every layer.
const rows = (run, iv, key) =>
  (iv.layer === undefined ? run.layers : [run.layers[iv.layer]]).flatMap((layer) => layer[key]);
const minus = (a, b) => a.map((row, t) => row.map((v, u) => v - b[t][u]));

// The model's own run, from the page's cache of runs: pinning cells re-renders the view, it must
// not refetch.
function original(ctx) {
  const typed = ctx.model.kind === "vector" ? ctx.state.inputs : ctx.state.text;
  return cachedRun(runBody(ctx.model, { typed, pin: ctx.state.pin }));
}

// The what-ifs the URL asks for (those the page is running): [] when none or unreadable.
function asked(state) {
  try {
    return parseInterventions(state.x);
  } catch {
    return [];
  }
}

function controls(ctx, list) {
  const apply = (next) => ctx.setView({ x: formatInterventions(ordered(next)) }, { rerun: true });
  const box = el("div", "whatif-controls");
  const toggles = el("div", "whatif-toggles");
  toggles.setAttribute("role", "group");
  toggles.setAttribute("aria-label", "What-ifs on the forget gate");
  for (const { iv, label } of TOGGLES) {
    const on = list.some((x) => same(x, iv));
    const button = el("button", "whatif-toggle", label);
    button.type = "button";
    button.setAttribute("aria-pressed", String(on));
    button.addEventListener("click", () => {
      // f ≡ 1 and f ≡ 0 over the whole run exclude each other: the later would hide the earlier
      const clash = (x) => iv.value !== undefined && x.value !== undefined && everywhere(x) && x.gate === iv.gate;
      const rest = list.filter((x) => !same(x, iv) && !clash(x));
      apply(on ? rest : [...rest, iv]);
    });
    toggles.append(button);
  }
  box.append(toggles, el("p", "help", TOGGLES_HELP), clamp(ctx, list, apply));
  // the others, each with its own remove button (the toggles above show their own state)
  const others = list.map((iv, n) => [iv, n]).filter(([iv]) => !TOGGLES.some((x) => same(x.iv, iv)));
  if (others.length) {
    const active = el("ul", "whatif-active");
    active.setAttribute("aria-label", "Other active what-ifs");
    others.forEach(([iv, n]) => {
      const item = el("li", null, describe(iv));
      const remove = el("button", "whatif-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", `Remove ${describe(iv)}`);
      remove.addEventListener("click", () => apply(list.filter((_, k) => k !== n)));
      item.append(remove);
      active.append(item);
    });
    box.append(active);
  }
  return box;
}

// The opposite end of the gate's range from its value now: a clamp that shows.
function opposite(gate, v) {
  if (gate === "g") return v >= 0 ? -1 : 1;
  return v >= 0.5 ? 0 : 1;
}

function clamp(ctx, list, apply) {
  const form = el("form", "whatif-clamp");
  form.noValidate = true; // the range is checked on submit, with a message that says it
  const pinned = ctx.pinned;
  const head = el("p", "whatif-clamp-head");
  head.textContent = pinned
    ? `Clamp the pinned cell (t = ${pinned.t}, unit ${pinned.unit}${ctx.data.layers.length > 1 ? `, layer ${pinned.layer}` : ""}):`
    : "Clamp one gate value: pin a cell first (click any heatmap).";
  const gate = el("select");
  gate.id = "whatif-gate";
  for (const g of ["f", "i", "g", "o"]) gate.append(new Option(GATE_NAMES[g], g));
  const gateLabel = el("label", null, "gate ");
  gateLabel.htmlFor = gate.id;
  const value = el("input");
  value.id = "whatif-value";
  value.type = "number";
  value.step = "any"; // any number in the range: 0.123 is as good a what-if as 0.1
  value.setAttribute("aria-label", "the value to clamp it to");
  const valueLabel = el("span", null, " = ");
  const button = el("button", null, "Clamp");
  button.type = "submit";
  const error = el("p", "error");
  error.hidden = true;
  const fill = () => {
    const [lo, hi] = GATE_RANGES[gate.value];
    value.min = String(lo);
    value.max = String(hi);
    if (!pinned) return;
    // the clamp already set at this cell, else the far end of the range from the value now
    const here = { gate: gate.value, t: pinned.t, unit: pinned.unit, layer: pinned.layer };
    const set = list.find((x) => at(x, here) && x.value !== undefined);
    const now = ctx.data.layers[pinned.layer][gate.value][pinned.t][pinned.unit];
    value.value = String(set ? set.value : opposite(gate.value, now));
  };
  gate.addEventListener("change", fill);
  fill();
  for (const node of [gate, value, button]) node.disabled = !pinned;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = Number(value.value);
    const [lo, hi] = GATE_RANGES[gate.value];
    if (value.value === "" || !(v >= lo && v <= hi)) {
      error.textContent = `the ${GATE_NAMES[gate.value]} takes values in [${lo}, ${hi}]`;
      error.hidden = false;
      return;
    }
    const iv = { gate: gate.value, value: v, t: pinned.t, unit: pinned.unit, layer: pinned.layer };
    apply([...list.filter((x) => !(at(x, iv) && x.value !== undefined)), iv]);
  });
  const row = el("div", "whatif-clamp-row");
  row.append(gateLabel, gate, valueLabel, value, button);
  form.append(head, row, error);
  return form;
}

// One sentence per what-if, in the learner's terms, with numbers from the two runs.
function explain(iv, now, before) {
  // whole-run numbers over the layers the what-if touches: its own, or all of them
  const pick = (run) => Object.fromEntries(["f", "c", "h"].map((k) => [k, rows(run, iv, k)]));
  const [a, b] = [pick(now), pick(before)];
  const c = `largest |c| before and after: ${p3(maxAbs(b.c))} → ${p3(maxAbs(a.c))}`;
  if (everywhere(iv) && iv.gate === "f" && iv.value === 1) {
    return `Forget gate off (f ≡ 1): nothing is ever forgotten, so c adds up every write i ⊙ g and ` +
      `can grow without bound; ${c}. h = o ⊙ tanh(c) stays within ±1 (largest |h| ${p3(maxAbs(b.h))} → ` +
      `${p3(maxAbs(a.h))}): once tanh saturates, h cannot tell a large c from a larger one. This is ` +
      "the LSTM of 1997, before Gers, Schmidhuber and Cummins (2000) added the forget gate.";
  }
  if (everywhere(iv) && iv.gate === "f" && iv.value === 0) {
    return `Forget gate shut (f ≡ 0): nothing is kept from one step to the next; each cell state is only ` +
      `what its own step writes, i ⊙ g, so |c| stays below 1; ${c}. Without memory no count can build up.`;
  }
  if (everywhere(iv) && iv.gate === "f" && iv.bias_add !== undefined) {
    const shift = `${iv.bias_add < 0 ? "−" : "+"}${Math.abs(iv.bias_add)}`;
    return `Forget bias ${shift}: every pre-activation of f moves by ${shift} (+1 is how Jozefowicz et al. ` +
      `2015 start training); mean f ${p3(mean(b.f))} → ${p3(mean(a.f))}, lowest f ` +
      `${p3(minimum(b.f))} → ${p3(minimum(a.f))}. A shift barely moves an f that was firmly 0 or 1; it ` +
      `matters where f was unsure, near 0.5; ${c}.`;
  }
  if (iv.value !== undefined && iv.t !== undefined && iv.unit !== undefined) {
    const { gate, t, unit: u } = iv;
    const [a, b] = [now.layers[iv.layer ?? 0], before.layers[iv.layer ?? 0]];
    const was = b[gate][t][u];
    const effect = {
      f: `the cell keeps ${pct(iv.value)} of c(t−1) there instead of ${pct(was)}`,
      i: `the cell writes ${pct(iv.value)} of g there instead of ${pct(was)}`,
      o: `h lets out ${pct(iv.value)} of tanh(c) there instead of ${pct(was)}; c changes only later, through h, if at all`,
      g: "the value offered for writing there changes",
    }[gate];
    const dc = minus(a.c, b.c);
    const last = a.c.length - 1;
    // where less than 1 % of the change is left in this unit (a reset), if that happens
    const start = Math.abs(dc[t][u]);
    const gone = start > 0 ? dc.findIndex((row, k) => k > t && Math.abs(row[u]) < 0.01 * start) : -1;
    const fate = gone > 0
      ? `less than 1 % of it is left by t = ${gone}${a.f[gone][u] < 0.01 ? ", where f wipes the cell" : ""}`
      : `it is still ${signed(dc[last][u])} at the last step, t = ${last}`;
    return `${gate} = ${iv.value}${where(iv)} (it was ${num(was)}): ${effect}. Δc of unit ${u} is ` +
      `${signed(dc[t][u])} at t = ${t}; ${fate}; largest |Δc| anywhere ${p3(maxAbs(dc))}.`;
  }
  return `${describe(iv)}: largest |Δc| ${p3(maxAbs(minus(a.c, b.c)))}, largest |Δh| ` +
    `${p3(maxAbs(minus(a.h, b.h)))}; ${c}.`;
}


// The largest |c| at each step, in both runs: a memory that runs away climbs, one that resets falls back.
function growth(now, before, l, prefix) {
  const [width, height] = [320, 150];
  const m = { left: 40, right: 10, top: 10, bottom: 34 };
  const mine = now.layers[l].c.map((row) => maxAbs([row]));
  const own = before.layers[l].c.map((row) => maxAbs([row]));
  const T = mine.length;
  const top = Math.max(...mine, ...own) || 1;
  const X = (t) => m.left + (T > 1 ? (t / (T - 1)) * (width - m.left - m.right) : 0);
  const Y = (v) => height - m.bottom - (v / top) * (height - m.top - m.bottom);
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "whatif-growth", role: "img",
    "aria-label": `largest |c| at each step: the model's own run up to ${p3(Math.max(...own))}, ` +
      `with the what-ifs up to ${p3(Math.max(...mine))}`,
  });
  const line = (values, cls) =>
    svg("polyline", { points: values.map((v, t) => `${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join(" "), class: cls });
  chart.append(
    svg("line", { x1: m.left, x2: width - m.right, y1: Y(0), y2: Y(0), class: "axis" }),
    svg("line", { x1: m.left, x2: m.left, y1: Y(0), y2: m.top, class: "axis" }),
    svg("text", { x: m.left - 4, y: Y(top) + 4, "text-anchor": "end" }, p3(top)),
    svg("text", { x: m.left - 4, y: Y(0) + 4, "text-anchor": "end" }, "0"),
    svg("text", { x: X(0), y: height - m.bottom + 13, "text-anchor": "middle" }, "0"),
    svg("text", { x: X(T - 1), y: height - m.bottom + 13, "text-anchor": "middle" }, String(T - 1)),
    svg("text", { x: m.left + (width - m.left - m.right) / 2, y: height - 4, "text-anchor": "middle", class: "title" }, "step t"),
    svg("text", { x: 12, y: m.top + (height - m.top - m.bottom) / 2, "text-anchor": "middle", class: "title",
      transform: `rotate(-90 12 ${m.top + (height - m.top - m.bottom) / 2})` }, "largest |c|"),
    line(own, "own"),
    line(mine, "mine"),
  );
  const figure = el("figure", "whatif-growth-figure");
  const key = el("figcaption", "whatif-key");
  key.append(prefix, el("span", "own", "model's own run"), el("span", "mine", "with the what-ifs"));
  figure.append(chart, key);
  return figure;
}

const DIFFS = [
  { key: "c", name: "change in the cell state", about: "c with the what-ifs − c of the model's own run" },
  { key: "h", name: "change in the hidden state", about: "h with the what-ifs − h of the model's own run" },
];

// Δc and Δh heatmaps per layer, on the page's blue-red scale centred on 0 (white: unchanged).
function differences(ctx, now, before, readout) {
  const box = el("div", "whatif-diffs");
  const panels = [];
  now.layers.forEach((layer, l) => {
    if (now.layers.length > 1) box.append(el("h4", null, `Layer ${l}`));
    for (const { key, name, about } of DIFFS) {
      const delta = minus(layer[key], before.layers[l][key]);
      const most = maxAbs(delta);
      const range = most > 0 ? [-most, most] : [-1, 1];
      const spec = { key: `Δ${key}`, name, about, scale: "diverging", range, legend: null };
      const panel = new Panel(spec, l, {
        hover: (pl, t, u) => readout(pl, t, u, key),
        leave: () => readout(null),
        click: (pl, t, u) => ctx.select(pl, t, u),
      });
      panel.draw(delta, range, now.tokens);
      const p = ctx.pinned;
      panel.pinAt(p && p.layer === l ? p.t : null, p && p.layer === l ? p.unit : null);
      const summary = el("p", "whatif-max");
      summary.dataset.gate = key;
      summary.textContent = most > 0 ? `max |Δ${key}| = ${p3(most)}` : `${key} is unchanged everywhere`;
      panel.root.append(summary);
      box.append(panel.root);
      panels.push(panel);
    }
  });
  return { box, panels };
}

function compare(ctx, section, list) {
  const now = ctx.data;
  section.append(el("p", "help", "Comparing with the model's own run…"));
  original(ctx).then(
    (before) => {
      if (!section.isConnected || ctx.data !== now) return; // a newer render took over
      const hover = el("p", "whatif-hover help", "Hover over a difference to read both runs.");
      const readout = (l, t, u, key) => {
        if (l === null) {
          hover.textContent = "Hover over a difference to read both runs.";
          return;
        }
        const [a, b] = [now.layers[l][key][t][u], before.layers[l][key][t][u]];
        hover.textContent = `t = ${t}, token “${showToken(now.tokens[t])}”, unit ${u}: ${key} ` +
          `${b.toFixed(4)} → ${a.toFixed(4)} (Δ ${signed(a - b)})`;
      };
      const sentences = el("ul", "whatif-effects");
      for (const iv of list) sentences.append(el("li", null, explain(iv, now, before)));
      if (list.length > 1) {
        sentences.append(el("li", "help", "The numbers compare the run with all of these at once " +
          "against the model's own run: remove the others to see one alone."));
      }
      const { box, panels } = differences(ctx, now, before, readout);
      const charts = now.layers.map((_, l) => growth(now, before, l, now.layers.length > 1 ? `Layer ${l}: ` : ""));
      section.replaceChildren(el("h4", null, "What changed"), ...charts, sentences, box, hover);
      for (const panel of panels) panel.labelSteps(); // now that the frames have widths
      section.dataset.ready = "true";
    },
    (err) => {
      if (!section.isConnected) return;
      section.replaceChildren(el("p", "error", `The model's own run could not be fetched: ${err.message}`));
    },
  );
}

export const whatif = {
  key: "whatif",
  label: "What if?",
  about: "Switch the forget gate off, shut it, shift its bias or clamp one value, and see what changes",
  request: () => ({}),
  render(container, ctx) {
    const list = asked(ctx.state);
    container.append(controls(ctx, list));
    // What the drawn run applied: the API's echo, so that numbers and heatmaps always agree.
    const applied = ctx.data.interventions ?? [];
    const section = el("section", "whatif-compare");
    section.setAttribute("aria-label", "What changed against the model's own run");
    container.append(section);
    if (applied.length === 0) {
      section.append(el("p", "help", "Choose a what-if above: the heatmaps will show the altered run, " +
        "and this tab what changed against the model's own run."));
      return;
    }
    compare(ctx, section, applied);
  },
};
