// Compare: the page's run (A: its model, sequence and what-ifs) above a second run (B: its own
// model, sequence and what-ifs, URL keys model2, text2, x2), one array of both drawn with locked
// axes: the same colour range, the same width per step, steps aligned at t. Hovering a cell of
// either shows both values and their difference; clicking pins the cell for A. The engine computes
// both runs; the page only draws them and subtracts two numbers for the readout.

import { getModel, listModels } from "../api.js";
import { PANELS, SIZES } from "../config.js";
import { entryName } from "../describe.js";
import { colourRange, Panel, showToken } from "../heatmap.js";
import { describe, parseInterventions } from "../interventions.js";
import { cachedRun, runBody } from "../runs.js";
import { DEFAULTS } from "../state.js";
import { el, printed } from "./draw.js";

const TOGGLES = [
  { code: "f1", label: "B: forget gate off (f ≡ 1)" },
  { code: "f0", label: "B: forget gate shut (f ≡ 0)" },
  { code: "fb1", label: "B: forget bias +1" },
];
const ARRAYS = PANELS.map((p) => p.key); // f, i, g, o, c, h
const HINT = "Hover over either heatmap to read A and B at the same step and unit.";

const signed = (x) => (x < 0 ? `−${(-x).toFixed(4)}` : `+${x.toFixed(4)}`);

// The listed models (fetched once) and each model's info (fetched once per id).
let listed = null;
const infos = new Map();
const modelList = () => (listed ??= listModels().catch(() => []));
const infoOf = (id) => {
  if (!infos.has(id)) infos.set(id, getModel(id).catch((err) => { infos.delete(id); throw err; }));
  return infos.get(id);
};

// A's sequence as typed: the text or numbers the page ran (its sent body), else the state's.
function sequenceA(ctx) {
  if (ctx.model.kind !== "vector") return ctx.sent?.text ?? ctx.state.text ?? ctx.model.example ?? "";
  return ctx.state.inputs ?? ctx.model.example ?? "";
}

// B's what-ifs as a list, or an Error that says why they cannot be read.
function whatIfsB(state) {
  try {
    return parseInterventions(state.x2);
  } catch (err) {
    return new Error(err.message.replace(/^x:/, "x2:"));
  }
}

// The body of B's run from the state and B's model info; throws an Error in words when it cannot be made.
function bodyB(ctx, infoB, list) {
  const sameKind = infoB.kind === ctx.model.kind;
  const typed = ctx.state.text2 ?? (sameKind ? sequenceA(ctx) : infoB.example);
  const pin = infoB.id === ctx.model.id ? ctx.state.pin : null;
  return runBody(infoB, { typed, pin, whatIfs: list });
}

function controls(ctx, infoB, models, list) {
  const box = el("div", "compare-controls");
  // B's model
  const pick = el("select");
  pick.id = "compare-model";
  const ids = new Set();
  for (const m of models) {
    pick.append(new Option(m.title, m.id, false, m.id === infoB.id));
    ids.add(m.id);
  }
  if (!ids.has(infoB.id)) pick.append(new Option(infoB.title ?? infoB.id, infoB.id, false, true));
  const pickLabel = el("label", null, "B's model ");
  pickLabel.htmlFor = pick.id;
  pick.addEventListener("change", () => {
    ctx.setView({ model2: pick.value === ctx.model.id ? null : pick.value });
  });
  // B's sequence
  const form = el("form", "compare-seq");
  const seq = el("input");
  seq.id = "compare-text";
  seq.type = "text";
  seq.spellcheck = false;
  seq.autocomplete = "off";
  seq.value = ctx.state.text2 ?? (infoB.kind === ctx.model.kind ? sequenceA(ctx) : infoB.example ?? "");
  const seqLabel = el("label", null, "B's sequence ");
  seqLabel.htmlFor = seq.id;
  const go = el("button", null, "Run B");
  go.type = "submit";
  const same = el("button", "compare-same", "Same as A");
  same.type = "button";
  same.setAttribute("aria-label", "B's sequence: the same as A's");
  same.addEventListener("click", () => ctx.setView({ text2: null }));
  form.append(seqLabel, seq, go, same);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.setView({ text2: seq.value });
  });
  const row = el("div", "compare-row");
  row.append(pickLabel, pick);
  // B's what-ifs
  const toggles = el("div", "compare-toggles");
  toggles.setAttribute("role", "group");
  toggles.setAttribute("aria-label", "What-ifs on B's forget gate");
  const codes = (ctx.state.x2 ?? "").split("_").filter(Boolean);
  for (const { code, label } of TOGGLES) {
    const on = codes.includes(code);
    const button = el("button", "whatif-toggle", label);
    button.type = "button";
    button.setAttribute("aria-pressed", String(on));
    button.addEventListener("click", () => {
      // f ≡ 1 and f ≡ 0 exclude each other
      const clash = (c) => (code === "f1" && c === "f0") || (code === "f0" && c === "f1");
      const rest = codes.filter((c) => c !== code && !clash(c));
      const next = on ? rest : [...rest, code];
      ctx.setView({ x2: next.length ? next.join("_") : null });
    });
    toggles.append(button);
  }
  box.append(row, form, toggles);
  if (!(list instanceof Error) && list.length) {
    box.append(el("p", "help", `B's what-ifs: ${list.map(describe).join("; ")}.`));
  }
  return box;
}

// The array picker: which of f, i, g, o, c, h both heatmaps show.
function arrayPicker(ctx, key) {
  const pick = el("select");
  pick.id = "compare-gate";
  for (const spec of PANELS) pick.append(new Option(`${spec.key}: ${spec.name}`, spec.key, false, spec.key === key));
  const label = el("label", null, "Show ");
  label.htmlFor = pick.id;
  pick.addEventListener("change", () => ctx.setView({ gate2: pick.value === DEFAULTS.gate2 ? null : pick.value }));
  const row = el("div", "compare-row");
  row.append(label, pick);
  return row;
}

// Differences that make units or steps not comparable one to one, in words.
function caveats(ctx, infoB, b) {
  const out = [];
  const a = ctx.data;
  if (a.hidden_size !== b.hidden_size) {
    out.push(`A has ${a.hidden_size} hidden units and B has ${b.hidden_size}: unit numbers are not ` +
      "comparable one to one (unit 3 of A need not do what unit 3 of B does).");
  } else if (infoB.id !== ctx.model.id) {
    out.push("A and B are different models: unit u of one need not do what unit u of the other does.");
  }
  if (ctx.model.kind !== infoB.kind) {
    out.push(`A reads ${ctx.model.kind === "vector" ? "numbers" : ctx.model.kind} and B reads ` +
      `${infoB.kind === "vector" ? "numbers" : infoB.kind}: their inputs differ in kind.`);
  } else if (ctx.model.vocab && infoB.vocab && ctx.model.vocab !== infoB.vocab) {
    out.push("A and B read different vocabularies (different characters, or the same ones in another order).");
  }
  if (a.layers.length !== b.layers.length) {
    out.push(`A has ${a.layers.length} layers and B has ${b.layers.length}.`);
  }
  if (a.tokens.length !== b.tokens.length) {
    const [short, T] = a.tokens.length < b.tokens.length ? ["A", a.tokens.length] : ["B", b.tokens.length];
    out.push(`A has ${a.tokens.length} steps and B has ${b.tokens.length}: ${short} ends at t = ${T - 1}.`);
  }
  return out;
}

function draw(ctx, section, infoB, b, key, list) {
  const a = ctx.data;
  const spec = PANELS.find((p) => p.key === key);
  const p = ctx.pinned;
  const layer = Math.min(p ? p.layer : 0, a.layers.length - 1);
  const layerB = Math.min(layer, b.layers.length - 1);
  const [A, B] = [a.layers[layer][key], b.layers[layerB][key]];
  // one colour range for both: a gate's fixed range, or the larger of the two symmetric ranges for c
  const [ra, rb] = [colourRange(spec, a.layers[layer]), colourRange(spec, b.layers[layerB])];
  const range = [Math.min(ra[0], rb[0]), Math.max(ra[1], rb[1])];
  const Tmax = Math.max(A.length, B.length);

  const hover = el("p", "compare-hover", HINT);
  hover.setAttribute("aria-live", "polite");
  let panels = [];
  const read = (t, u) => {
    const va = t < A.length && u < A[0].length ? A[t][u] : null;
    const vb = t < B.length && u < B[0].length ? B[t][u] : null;
    for (const panel of panels) panel.cursor(t < panel.T ? t : null, u < panel.H ? u : null);
    const part = (name, run, v) => {
      const span = el("span", `compare-read-${name}`);
      span.dataset.run = name;
      span.textContent = v === null
        ? `${name}: no such cell`
        : `${name} (“${showToken(run.tokens[t])}”): ${key} = ${printed(run, v).replace("-", "−")}`;
      return span;
    };
    const diff = el("span", "compare-read-diff");
    const rounded = a.precision === "float16" || b.precision === "float16";
    const d = vb - va;
    diff.textContent = va === null || vb === null ? "" : `B − A = ${rounded ? `${d < 0 ? "−" : "+"}${printed({ precision: "float16" }, Math.abs(d))}` : signed(d)}`;
    hover.replaceChildren(`t = ${t}, unit ${u}: `, part("A", a, va), " · ", part("B", b, vb),
      ...(diff.textContent ? [" · ", diff] : []));
  };
  const leave = () => {
    hover.textContent = HINT;
    for (const panel of panels) panel.cursor(null, null);
  };
  const make = (name, title, values, tokens, l, onClick) => {
    const panelSpec = { ...spec, key: `${name}: ${key}`, about: title };
    const panel = new Panel(panelSpec, l, {
      hover: (_, t, u) => read(t, u),
      leave,
      click: onClick,
    });
    panel.root.dataset.gate = key;
    panel.root.dataset.run = name;
    panel.root.classList.add("compare-panel");
    panel.draw(values, range, tokens);
    // locked width per step: the shorter run takes T/Tmax of the longer's width, and ends there
    const share = values.length / Tmax;
    panel.plot.style.maxWidth = `${SIZES.yAxisWidth + values.length * SIZES.maxCellWidth}px`;
    panel.plot.style.width = `calc(${SIZES.yAxisWidth}px + (100% - ${SIZES.yAxisWidth}px) * ${share})`;
    return panel;
  };
  const layerWords = (l, layers) => (entryName(layers, l) ? `, ${entryName(layers, l)}` : "");
  const pa = make("A", `the page's run${layerWords(layer, a.layers)}`, A, a.tokens, layer,
    (l, t, u) => ctx.select(l, t, u));
  const pb = make("B", `${infoB.title ?? infoB.id}${list.length ? ` with ${list.map(describe).join("; ")}` : ""}${layerWords(layerB, b.layers)}`, B, b.tokens, layerB,
    (_, t, u) => { if (t < A.length && u < A[0].length) ctx.select(layer, t, u); });
  pa.pinAt(p ? p.t : null, p ? p.unit : null);
  if (p && p.t < B.length && p.unit < B[0].length) pb.pinAt(p.t, p.unit);
  panels = [pa, pb];
  const notes = caveats(ctx, infoB, b);
  const noteList = el("ul", "compare-notes");
  for (const note of notes) noteList.append(el("li", null, note));
  section.replaceChildren(...(notes.length ? [noteList] : []), pa.root, pb.root, hover);
  pa.labelSteps();
  pb.labelSteps();
  section.dataset.ready = "true";
}

export const compare = {
  key: "compare",
  label: "Compare",
  about: "Two sequences, or one under two models or what-ifs, side by side on the same axes",
  request: () => ({}),
  render(container, ctx) {
    const key = ARRAYS.includes(ctx.state.gate2) ? ctx.state.gate2 : DEFAULTS.gate2;
    const wrap = el("div", "compare");
    const head = el("p", "help", "A is the run above (the page's model, sequence and what-ifs). " +
      "Choose B below: another sequence, another model, or what-ifs of its own.");
    const top = el("div");
    const section = el("section", "compare-runs");
    section.setAttribute("aria-label", "A and B on the same axes");
    section.append(el("p", "help", "Running B…"));
    wrap.append(head, top, arrayPicker(ctx, key), section);
    container.append(wrap);
    const data = ctx.data;
    const idB = ctx.state.model2 ?? ctx.model.id;
    const list = whatIfsB(ctx.state);
    const fail = (message) => {
      if (!section.isConnected) return;
      section.replaceChildren(el("p", "error", message));
      section.dataset.ready = "error";
    };
    Promise.all([modelList(), idB === ctx.model.id ? ctx.model : infoOf(idB)]).then(
      ([models, infoB]) => {
        if (!wrap.isConnected || ctx.data !== data) return; // a newer render took over
        top.replaceChildren(controls(ctx, infoB, models, list));
        if (list instanceof Error) return fail(`B's what-ifs cannot be read: ${list.message}`);
        let body;
        try {
          body = bodyB(ctx, infoB, list);
        } catch (err) {
          return fail(`B's sequence cannot be read: ${err.message}`);
        }
        cachedRun(body).then(
          (b) => {
            if (!section.isConnected || ctx.data !== data) return;
            draw(ctx, section, infoB, b, key, list);
          },
          (err) => fail(`B could not be run: ${err.message}`),
        );
      },
      (err) => {
        if (!wrap.isConnected) return;
        modelList().then((models) => top.replaceChildren(controls(ctx, ctx.model, models, list)));
        fail(`B's model “${idB}” could not be found: ${err.message}`);
      },
    );
  },
};
