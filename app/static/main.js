// Wires the page: controls change the state through the store (store.js), and the store's
// changes redraw the page: a new run, the heatmaps' rows, or only the pinned cell.

import { ApiError, getModel, listModels } from "./api.js";
import { Board } from "./board.js";
import { SIZES } from "./config.js";
import { describe, fillPicker } from "./describe.js";
import { csvFile, jsonFile, pngFile, save } from "./export.js";
import { parseInterventions, showBanner } from "./interventions.js";
import { cellAfterKey } from "./keys.js";
import { OutputRow, outputsRequest } from "./outputs.js";
import { cachedRun, exactRun, runBody } from "./runs.js";
import { grow, markStep, stepSpans, wireSequence } from "./seqbox.js";
import { share } from "./share.js";
import { shown } from "./shown.js";
import { DEFAULTS, LINK } from "./state.js";
import { get, subscribe, update } from "./store.js";
import { wireUpload } from "./upload.js";
import { activeView, renderViews, reorders, rowOrders } from "./views/host.js";

const $ = (id) => document.getElementById(id);
const els = {
  model: $("model"),
  sequence: $("sequence"),
  mirror: $("sequence-mirror"),
  label: $("sequence-label"),
  help: $("sequence-help"),
  error: $("error"),
  card: $("model-card"),
  title: $("model-title"),
  description: $("model-description"),
  hint: $("model-hint"),
  parity: $("model-parity"),
  read: $("model-read"),
  readSummary: $("model-read-summary"),
  readSteps: $("model-read-steps"),
  readMeasured: $("model-read-measured"),
  units: $("model-units"),
  heatmaps: $("heatmaps"),
  tooltip: $("tooltip"),
  selection: $("selection-text"),
  exports: $("export"),
  exported: $("export-status"),
  share: $("share"),
  shared: $("shared"),
  viewTabs: $("view-tabs"),
  viewAbout: $("view-about"),
  viewBody: $("view-body"),
  whatIf: $("what-if-banner"),
  outputs: $("outputs"),
  workspace: document.querySelector(".workspace"),
};

const models = new Map(); // id -> model info, listed ones first
let model = null; // info of the state's model
let drawn = null; // {data, sent}: the last /api/run answer drawn and the body that asked for it
let inflight = null; // {key, controller} of the run under way
const board = new Board(
  els,
  (l, t, u) => pinCell(l, t, u),
  (scale) => update({ scale }, { history: "push", redraw: "rows" }),
  (zoom) => update({ zoom }, { history: "replace", redraw: "none" }), // the board has drawn it
);
// a column of the output row pins its step, at the pinned unit (or the first)
const outputRow = new OutputRow(els.outputs, (t) => pinCell(get().layer ?? 0, t, get().unit ?? 0, { keep: true }));

const seqKey = (info) => (info.kind === "vector" ? "inputs" : "text"); // text: characters or words

function showError(message) {
  els.error.hidden = !message;
  els.error.textContent = message ?? "";
  els.heatmaps.classList.toggle("stale", Boolean(message));
  offerExports();
}

// The exports read data, model and state: offer them only while the heatmaps show that run.
function offerExports() {
  const ready = drawn !== null && els.error.hidden && !els.heatmaps.hasAttribute("aria-busy");
  for (const button of els.exports.querySelectorAll("button")) button.disabled = !ready;
}

// make: one of export.js's file makers; a failure is said beside the buttons. A long run came as
// float16 (runs.js), good for colours: the files of numbers (CSV, JSON) ask for it again as JSON,
// so that they hold the values the API computes, not their float16 roundings.
async function download(make) {
  try {
    let data = drawn.data;
    if (make !== pngFile && data.precision === "float16") {
      els.exported.textContent = "Fetching the exact values…";
      data = await exactRun(drawn.sent);
    }
    save(await make(data, model, get(), drawn.sent));
    els.exported.textContent = "";
  } catch (err) {
    els.exported.textContent = `The file could not be made: ${err.message}`;
  }
}

async function modelInfo(id) {
  if (!models.has(id)) models.set(id, await getModel(id));
  return models.get(id);
}

// --- Redrawing after a change of the store ---------------------------------------------------

let applying = 0; // counts runs begun: an older one that resumes late must not win

// Bring the page in line with the store's state: its model, its sequence, then its run. The model
// and the model's example fill absent keys, written with the change's history ("none" stays none).
async function apply(history) {
  const mine = ++applying;
  const wanted = get();
  let info;
  try {
    // a training's snapshot shown in place of the state's model (shown.js), else the state's
    info = shown()?.info ?? (await modelInfo(wanted.model ?? DEFAULTS.model));
  } catch (err) {
    if (mine !== applying) return;
    model = null;
    inflight?.controller.abort();
    if (wanted.model === null) update({ model: DEFAULTS.model }, { history: "none", redraw: "none" });
    fillPicker(els.model, models, get().model); // an unknown id: offer the known models beside the error
    showError(err.message);
    settled();
    return;
  }
  if (mine !== applying) return;
  model = info;
  const fills = {};
  if (get().model === null && !shown()) fills.model = model.id;
  if (get()[seqKey(model)] === null) fills[seqKey(model)] = model.example;
  update(fills, { history: history === "none" ? "none" : "replace", redraw: "none" });
  fillPicker(els.model, models, model.id, shown()?.info); // a snapshot shown: its title
  describe(els, model, (u) => pinCell(0, get().t ?? 0, u, { keep: true }));
  const typed = get()[seqKey(model)];
  if (els.sequence.value !== typed) els.sequence.value = typed;
  grow(els.sequence);
  await compute();
}

// Tests and tools wait on this: it counts the runs that have finished, drawn or refused.
function settled() {
  document.body.dataset.settled = String(Number(document.body.dataset.settled ?? 0) + 1);
}

async function compute() {
  await draw();
  settled();
}

// The run the state asks for: from the cache of runs, or from the server.
async function draw() {
  const state = get();
  showBanner(els.whatIf, state.x, () => update({ x: null }));
  let body;
  try {
    // nothing to run: say so here rather than ask the server and show its refusal
    const whatIfs = parseInterventions(state.x); // what-ifs alter the run in every view
    if (model.kind !== "vector" && state.text === "") throw new Error("the sequence is empty: type at least one character");
    body = runBody(model, {
      typed: state[seqKey(model)],
      pin: state.pin,
      whatIfs,
      extra: withIncludes(outputsRequest(model), activeView(state, model).request(state, model)),
    });
  } catch (err) {
    inflight?.controller.abort(); // whatever was asked before is stale now
    inflight = null;
    showError(err.message);
    return;
  }
  const key = JSON.stringify(body);
  if (inflight?.key !== key) {
    inflight?.controller.abort(); // a newer run takes over; the same one asked again goes on
    inflight = { key, controller: new AbortController() };
  }
  const mine = inflight;
  els.heatmaps.setAttribute("aria-busy", "true");
  offerExports();
  let data;
  try {
    data = await cachedRun(body, mine.controller.signal);
  } catch (err) {
    if (err.name === "AbortError") return; // a newer run took over
    if (inflight === mine) showError(err instanceof ApiError ? err.message : `the server could not be reached (${err.message})`);
    return;
  } finally {
    if (inflight === mine) els.heatmaps.removeAttribute("aria-busy");
  }
  if (inflight !== mine) return;
  drawn = { data, sent: body };
  showError(null);
  redrawRows();
}

// Two requests' extra keys as one: their includes joined (each once, in a fixed order).
function withIncludes(a, b) {
  const include = [...new Set([...(a.include ?? []), ...(b.include ?? [])])].sort();
  return { ...a, ...b, ...(include.length ? { include } : {}) };
}

// The heatmaps from the drawn run, in the rows' order the view asks for, then the pinned cell.
function redrawRows() {
  const state = get();
  const overview = { gate: state.gate ?? "f", layer: state.layer ?? 0 };
  board.draw(drawn.data, model, rowOrders(drawn.data, state, model), state.scale, state.zoom, overview);
  outputRow.draw(drawn.data, model);
  redrawPin();
}

// What depends on the pinned cell only: the pins, the readout and the views. A click or an arrow
// key redraws this, never the heatmaps themselves (a 1000 × 256 run must stay fluid).
function redrawPin() {
  const state = get();
  const pinned = board.pin(state);
  markPinnedStep(pinned);
  outputRow.pin(pinned?.t ?? null);
  const ctx = {
    data: drawn.data,
    model,
    state,
    pinned,
    sent: drawn.sent,
    setView,
    select: (l, t, u) => pinCell(l, t, u, { keep: true }),
    refresh: () => drawn && redrawPin(), // an answer a view asked for has come: draw it anew
  };
  renderViews(els, ctx, (key) => update({ view: key }));
  // a view that reads the text itself comes first, over the whole width (style.css); one whose
  // controls the page waits on (training) comes first on a phone, above the heatmaps
  const active = activeView(state, model);
  els.workspace.classList.toggle("text-first", active.first === true);
  els.workspace.classList.toggle("phone-first", active.firstOnPhone === true);
}

// The pinned step, marked in the sequence box when the box still holds what was run.
function markPinnedStep(pinned) {
  const ran = els.sequence.value === get()[seqKey(model)];
  const span = pinned && ran ? stepSpans(els.sequence.value, model.kind, model.size)[pinned.t] : null;
  markStep(els.mirror, els.sequence, span ?? null);
}

subscribe((_state, { redraw, history }) => {
  if (redraw === "none") return;
  els.shared.textContent = ""; // a link made before shows another view now
  if (redraw === "run") apply(history);
  else if (drawn && model && redraw === "rows") redrawRows();
  else if (drawn && model) redrawPin();
});

// --- Controls ---------------------------------------------------------------------------------

// A view changes its own keys of the state: a new history entry; a new run when the run changes.
function setView(patch, { rerun = false } = {}) {
  update(patch, { history: "push", redraw: rerun ? "run" : reorders(patch) ? "rows" : "pin" });
}

// Pin a cell, or unpin it when it is the pinned one (unless keep).
function pinCell(l, t, u, { keep = false } = {}) {
  const state = get();
  const same = !keep && state.layer === l && state.t === t && state.unit === u;
  update({ layer: same ? null : l, t: same ? null : t, unit: same ? null : u }, { history: "replace", redraw: "pin" });
}

// Zoom keys: + and − zoom the heatmaps in and out, 0 shows the whole run, shift + arrows pan.
const ZOOM_KEYS = { "+": 0.5, "=": 0.5, "-": 2, "_": 2, "−": 2 };

// The keyboard on the heatmaps (static/keys.js says where a key goes); not while typing.
function onKey(event) {
  if (!drawn || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  if (zoomKey(event)) {
    event.preventDefault();
    return;
  }
  const { data } = drawn;
  const state = get();
  const layers = data.layers.length;
  const order = board.rows?.[Math.min(state.layer ?? 0, layers - 1)] ?? null;
  const next = cellAfterKey(event.key, { T: data.tokens.length, H: data.hidden_size, layers, state, order });
  if (next === null) return;
  if (next === "unpin") pinCell(state.layer, state.t, state.unit);
  else {
    pinCell(next.l, next.t, next.u, { keep: true });
    board.follow(next.l, next.t, next.u); // a zoomed window keeps the pinned cell in sight
  }
  event.preventDefault();
}

// True when the key zoomed or panned the heatmaps.
function zoomKey(event) {
  if (event.key in ZOOM_KEYS) board.zoom.by(ZOOM_KEYS[event.key]);
  else if (event.key === "0") board.zoom.reset();
  else if (event.shiftKey && event.key.startsWith("Arrow") && board.zoom.zoomed()) {
    const { t0, t1, r0, r1 } = board.win;
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
    if (!step) return false;
    board.zoom.pan(step[0] * Math.max(1, Math.round((t1 - t0 + 1) / 4)), step[1] * Math.max(1, Math.round((r1 - r0 + 1) / 4)));
  } else return false;
  return true;
}

const FRESH = { pin: null, text: null, inputs: null, layer: null, t: null, unit: null, zoom: null };

let typingTimer = null;

function onType() {
  clearTimeout(typingTimer);
  if (!model) return; // no model to run yet: the error beside the box says why
  typingTimer = setTimeout(() => update({ [seqKey(model)]: els.sequence.value }), SIZES.debounceMs);
}

async function start() {
  els.model.addEventListener("change", () => update({ ...FRESH, model: els.model.value }));
  els.sequence.addEventListener("input", onType);
  wireSequence(els.sequence, els.mirror);
  els.share.addEventListener("click", () => share(get(), els.shared));
  $("export-png").addEventListener("click", () => download(pngFile));
  $("export-csv").addEventListener("click", () => download(csvFile));
  $("export-json").addEventListener("click", () => download(jsonFile));
  wireUpload((info) => {
    models.set(info.id, info);
    update({ ...FRESH, model: info.id });
  });
  window.addEventListener("resize", () => board.labelSteps());
  document.addEventListener("keydown", onKey);
  try {
    for (const info of await listModels()) models.set(info.id, info);
  } catch (err) {
    showError(`the list of models could not be loaded: ${err.message}`);
    return;
  }
  // a share link's page keeps its short address until the view is changed
  update({}, { history: LINK ? "none" : "replace" });
}

start();
