// Analyze view, for character models: a long text (pasted or read from a file, up to the server's
// limit) summarised by POST /api/analyze, drawn as Karpathy, Johnson and Fei-Fei's (2015) Figure 3
// (one dot per unit: the share of steps its gate is left-saturated, below 0.1, against the share
// right-saturated, above 0.9; one plot per gate f, i, o) and the units' correlations with the
// text's labels, ranked. Clicking a unit pins it, so the Text view shows it, and shows here the
// passages where its h is largest, coloured as the Text view colours it. URL keys: `patterns`
// (the regular expressions, a JSON list) and the pinned `unit`. The text stays out of the URL (too
// long); it and the answer live here for as long as the page does.

import { ApiError, analyzeText } from "../api.js";
import { el, num, svg } from "./draw.js";
import { colourOf, unitScale } from "./text.js";

const PATTERNS = 3; // pattern inputs shown (the server takes up to GATESCOPE_MAX_PATTERNS)
const MAX_CHARS = 200000; // the server's default GATESCOPE_MAX_ANALYZE_STEPS; it says if it has another
const GATES = [
  { key: "f", name: "forget gate f" },
  { key: "i", name: "input gate i" },
  { key: "o", name: "output gate o" },
];
const P = { size: 200, pad: 34, right: 8 }; // a plot's SVG square and its margins
const PLOT = P.size - P.pad - P.right;

// What survives the view's redraws: the text and patterns typed, the run in flight, its answer.
const kept = { text: null, patterns: Array(PATTERNS).fill(""), busy: null, answer: null, error: null, timer: null };

export const analyze = {
  key: "analyze",
  label: "Analyze",
  about: "A long text summarised per unit: how often each gate saturates, and what each unit follows",
  first: true, // wide figures: drawn first and over the whole width, as the text view is
  request: () => ({}),
  render(container, ctx) {
    const { model } = ctx;
    if (model?.kind !== "text") {
      container.append(
        el("p", "help", "An analysis reads a text character by character: choose a character model (python-chars, say)."),
      );
      return;
    }
    if (kept.text === null) {
      kept.text = ctx.state.text ?? model.example ?? "";
      kept.patterns = patternsOf(ctx.state.patterns);
    }
    container.append(form(ctx));
    if (kept.answer && kept.answer.model === model.id) container.append(results(ctx, kept.answer));
  },
};

// The pattern inputs from the URL's `patterns` (a JSON list of strings); unreadable: none.
function patternsOf(value) {
  let list = [];
  try {
    list = JSON.parse(value ?? "[]");
  } catch {
    list = [];
  }
  const strings = Array.isArray(list) ? list.filter((p) => typeof p === "string" && p !== "") : [];
  return Array.from({ length: PATTERNS }, (_, k) => strings[k] ?? "");
}

// The text, the patterns, Run, and what the server said.
function form(ctx) {
  const box = el("div", "analyze-form");
  const area = el("textarea");
  area.id = "analyze-text";
  area.rows = 8;
  area.spellcheck = false;
  area.value = kept.text;
  const count = el("span", "help analyze-count");
  const counted = () => {
    count.textContent = `${area.value.length.toLocaleString("en")} of at most ${MAX_CHARS.toLocaleString("en")} characters`;
  };
  counted();
  area.addEventListener("input", () => {
    kept.text = area.value;
    counted();
  });
  const areaLabel = el("label", null, "Text to analyze (paste it, or read a file)");
  areaLabel.htmlFor = area.id;

  const file = el("input");
  file.type = "file";
  file.id = "analyze-file";
  file.accept = ".py,.txt,.md,text/*";
  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    kept.text = await chosen.text();
    area.value = kept.text;
    counted();
  });
  const fileLabel = el("label", "help", "File:");
  fileLabel.htmlFor = file.id;
  const useSeq = el("button", "analyze-use", "Use the sequence above");
  useSeq.type = "button";
  useSeq.addEventListener("click", () => {
    kept.text = ctx.state.text ?? "";
    area.value = kept.text;
    counted();
  });
  const sources = el("div", "analyze-sources");
  sources.append(fileLabel, file, useSeq);

  const patterns = el("fieldset", "analyze-patterns");
  patterns.append(el("legend", null, "Regular expressions: each is a label, 1 inside its matches (optional)"));
  const bad = kept.error?.loc?.[0] === "patterns" ? kept.error.loc[1] : null;
  for (let k = 0; k < PATTERNS; k++) {
    const input = el("input");
    input.id = `analyze-pattern-${k}`;
    input.type = "text";
    input.spellcheck = false;
    input.placeholder = ["\\bself\\b", "#.*", "\"[^\"]*\""][k];
    input.value = kept.patterns[k];
    input.setAttribute("aria-label", `pattern ${k}`);
    if (bad === k) input.setAttribute("aria-invalid", "true");
    input.addEventListener("input", () => {
      kept.patterns[k] = input.value;
    });
    patterns.append(input);
  }

  const go = el("button", "analyze-run", "Run the analysis");
  go.type = "button";
  go.id = "analyze-run";
  go.disabled = kept.busy !== null;
  go.addEventListener("click", () => start(ctx));
  const status = el("span", "analyze-status");
  status.id = "analyze-status";
  status.setAttribute("role", "status");
  if (kept.busy) status.textContent = busyWords();
  const row = el("div", "analyze-go");
  row.append(go, status);
  box.append(areaLabel, area, count, sources, patterns, row);
  if (kept.error) {
    const said = el("p", "error analyze-error", kept.error.message);
    said.setAttribute("role", "alert");
    box.append(said);
  }
  return box;
}

const busyWords = () => `computing… ${((performance.now() - kept.busy.started) / 1000).toFixed(1)} s`;

// POST /api/analyze; no progress comes from the server, so the status counts the seconds.
async function start(ctx) {
  if (kept.busy) return;
  const body = {
    model: ctx.model.id,
    text: kept.text ?? "",
    patterns: kept.patterns.filter((p) => p !== ""),
  };
  // a refusal's loc counts the patterns sent, so map it back to the inputs they came from
  const inputOf = kept.patterns.map((p, k) => (p !== "" ? k : null)).filter((k) => k !== null);
  const inUrl = body.patterns.length ? JSON.stringify(body.patterns) : null;
  if (inUrl !== (ctx.state.patterns ?? null)) ctx.setView({ patterns: inUrl });
  kept.busy = { started: performance.now() };
  kept.error = null;
  ctx.refresh();
  kept.timer = setInterval(() => {
    const status = document.getElementById("analyze-status");
    if (status && kept.busy) status.textContent = busyWords();
  }, 100);
  try {
    const answer = await analyzeText(body);
    answer.text = body.text; // the passages are cut from the text analysed, whatever is typed next
    kept.answer = answer;
  } catch (err) {
    const loc = err.body?.loc ?? null;
    const mapped = loc?.[0] === "patterns" && Number.isInteger(loc[1]) ? ["patterns", inputOf[loc[1]]] : loc;
    kept.error = {
      message: err instanceof ApiError ? `Refused: ${err.message}` : `the server could not be reached (${err.message})`,
      loc: mapped,
    };
  } finally {
    clearInterval(kept.timer);
    const took = (performance.now() - kept.busy.started) / 1000;
    kept.busy = null;
    if (kept.answer && !kept.error) kept.answer.took = took;
    ctx.refresh();
  }
}

// The figure and the table of one layer entry: the pinned cell's, else the state's, else 0.
function results(ctx, answer) {
  const { pinned, state } = ctx;
  const L = answer.layers.length;
  const layer = Math.min(pinned?.layer ?? state.layer ?? 0, L - 1);
  const entry = answer.layers[layer];
  const H = entry.saturation.f.left.length;
  const chosen = pinned?.unit ?? state.unit ?? null;
  const box = el("section", "analyze-results");
  const took = answer.took ? `, in ${answer.took.toFixed(2)} s` : "";
  box.append(
    el("h4", null, `${answer.steps.toLocaleString("en")} characters read by ${answer.model}${L > 1 ? `, layer entry ${layer}` : ""}${took}`),
    el(
      "p",
      "help",
      "Each dot is a unit: how often its gate is below 0.1 (left-saturated, across) and above 0.9 " +
        "(right-saturated, up), as in Karpathy, Johnson and Fei-Fei (2015), Figure 3. Click a dot or a row to pin its unit.",
    ),
  );
  const plots = el("div", "analyze-plots");
  for (const gate of GATES) plots.append(figure(ctx, { gate, entry, H, layer, chosen }));
  box.append(plots, table(ctx, { entry, layer, chosen }));
  if (entry.passages) box.append(passages(ctx, { answer, entry, chosen }));
  if (answer.skipped?.length) {
    const list = el("ul", "help analyze-skipped");
    for (const why of answer.skipped) list.append(el("li", null, why));
    box.append(el("h5", null, "Labels left out"), list);
  }
  return box;
}

// Pin unit u at the pinned step (or step 0): the Text view then shows it first.
function pin(ctx, layer, u) {
  ctx.select(layer, ctx.pinned?.t ?? (ctx.state.t !== null && ctx.state.t < ctx.data.tokens.length ? ctx.state.t : 0), u);
}

function figure(ctx, { gate, entry, H, layer, chosen }) {
  const { left, right } = entry.saturation[gate.key];
  const box = el("figure", "analyze-figure");
  box.dataset.gate = gate.key;
  const plot = svg("svg", { viewBox: `0 0 ${P.size} ${P.size}`, class: "analyze-plot", role: "group" });
  plot.setAttribute("aria-label", `${gate.name}: left- against right-saturated share, one dot per unit`);
  const x = (v) => P.pad + v * PLOT;
  const y = (v) => P.right + (1 - v) * PLOT;
  plot.append(svg("rect", { x: x(0), y: y(1), width: PLOT, height: PLOT, class: "analyze-frame" }));
  // the diagonal: units above it are more often open than shut
  plot.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "analyze-diagonal" }));
  for (const v of [0, 0.5, 1]) {
    plot.append(svg("text", { x: x(v), y: y(0) + 12, class: "analyze-tick", "text-anchor": "middle" }, String(v)));
    plot.append(svg("text", { x: x(0) - 4, y: y(v) + 3, class: "analyze-tick", "text-anchor": "end" }, String(v)));
  }
  plot.append(svg("text", { x: x(0.5), y: P.size - 2, class: "analyze-axis", "text-anchor": "middle" }, "share < 0.1"));
  plot.append(
    svg("text", { x: 10, y: y(0.5), class: "analyze-axis", "text-anchor": "middle", transform: `rotate(-90 10 ${y(0.5)})` }, "share > 0.9"),
  );
  for (let u = 0; u < H; u++) {
    const dot = svg("circle", { cx: x(left[u]), cy: y(right[u]), r: u === chosen ? 5 : 3, class: u === chosen ? "analyze-dot chosen" : "analyze-dot" });
    dot.dataset.unit = String(u);
    dot.append(svg("title", {}, `unit ${u}: ${gate.key} < 0.1 for ${pct(left[u])}, > 0.9 for ${pct(right[u])} of the steps`));
    dot.addEventListener("click", () => pin(ctx, layer, u));
    plot.append(dot);
  }
  box.append(plot, el("figcaption", null, gate.name));
  return box;
}

const pct = (v) => `${(v * 100).toFixed(1)} %`;

function table(ctx, { entry, layer, chosen }) {
  const box = el("div", "analyze-table-box");
  const t = el("table", "analyze-table");
  t.append(el("caption", null, "Units whose c or h follows a label, strongest first (Pearson's r)"));
  const head = el("tr");
  for (const name of ["#", "unit", "c/h", "label", "r"]) {
    const th = el("th", null, name);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  entry.correlations.forEach((row, k) => {
    const tr = el("tr", row.unit === chosen ? "chosen" : null);
    tr.dataset.unit = String(row.unit);
    const unitCell = el("td");
    const button = el("button", "analyze-unit", String(row.unit));
    button.type = "button";
    button.setAttribute("aria-label", `pin unit ${row.unit}`);
    button.addEventListener("click", () => pin(ctx, layer, row.unit));
    unitCell.append(button);
    tr.append(el("td", null, String(k + 1)), unitCell, el("td", null, row.array), el("td", null, row.label), el("td", "num", num(row.r, 2)));
    body.append(tr);
  });
  t.append(thead, body);
  box.append(t);
  return box;
}

// Dark backgrounds get white letters, light ones black (as text.js's ink).
const ink = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b < 120 ? "#fff" : "#000");
const shownChar = (ch) => (ch === "\n" ? "↵" : ch === "\t" ? "⇥" : ch);

// The chosen unit's passages: where its |h| peaks, each character coloured by h after reading it,
// on one scale for all of them (±the unit's largest |h|, as the Text view's own scale of h).
function passages(ctx, { answer, entry, chosen }) {
  const box = el("section", "analyze-passages");
  box.id = "analyze-passages";
  const of = chosen === null ? null : entry.passages.find((p) => p.unit === chosen);
  if (!of) {
    box.append(el("p", "help", "Click a dot or a row: the passages where that unit's h is largest are shown here."));
    return box;
  }
  box.dataset.unit = String(chosen);
  const name = ctx.model?.units?.[chosen];
  box.append(el("h5", null, `Unit ${chosen}${name ? ` (${name})` : ""}: the ${of.windows.length} passages where its |h| is largest`));
  const scale = unitScale("h", of.windows.flatMap((w) => w.values));
  const readout = el("p", "help analyze-passage-readout");
  readout.setAttribute("aria-live", "polite");
  readout.textContent = `Blue is h below 0, red above, white 0, on ±${num(scale.hi, 3)}. Hover over a character (tap on a phone) to read h there; the peak is outlined.`;
  box.append(readout);
  of.windows.forEach((w, k) => {
    const pre = el("pre", "analyze-passage");
    pre.tabIndex = 0;
    pre.dataset.peak = String(w.peak);
    pre.setAttribute("aria-label", `passage ${k + 1}: characters ${w.start} to ${w.end - 1}, h peaks at ${w.peak}`);
    for (let t = w.start; t < w.end; t++) {
      const ch = answer.text[t];
      const span = el("span", t === w.peak ? "ch peak" : "ch", shownChar(ch));
      const rgb = colourOf(w.values[t - w.start], scale);
      span.style.background = `rgb(${rgb.join(",")})`;
      span.style.color = ink(rgb);
      span.dataset.t = String(t);
      pre.append(span);
      if (ch === "\n") pre.append("\n");
    }
    pre.addEventListener("pointerover", (event) => {
      const span = event.target.closest?.(".ch");
      if (!span) return;
      const t = Number(span.dataset.t);
      const ch = shownChar(answer.text[t]);
      readout.textContent = `t = ${t}, “${ch === " " ? "␣" : ch}”: unit ${chosen} h = ${num(w.values[t - w.start], 3)}`;
    });
    box.append(pre);
  });
  return box;
}
