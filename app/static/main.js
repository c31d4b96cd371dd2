// Wires the page: controls change the state, the state writes the URL and redraws.

import { ApiError, getModel, listModels, run } from "./api.js";
import { PANELS, SIZES } from "./config.js";
import { csvFile, jsonFile, pngFile, save } from "./export.js";
import { Panel, colourRange, showToken } from "./heatmap.js";
import { parseSteps } from "./inputs.js";
import { parseInterventions, showBanner } from "./interventions.js";
import { cellAfterKey } from "./keys.js";
import { share } from "./share.js";
import { LINK, currentState, writeUrl } from "./state.js";
import { wireUpload } from "./upload.js";
import { VIEWS } from "./views/index.js";
import { reorders, rowOrders } from "./views/find.js";

const $ = (id) => document.getElementById(id);
const els = {
  model: $("model"),
  sequence: $("sequence"),
  label: $("sequence-label"),
  help: $("sequence-help"),
  error: $("error"),
  title: $("model-title"),
  description: $("model-description"),
  hint: $("model-hint"),
  parity: $("model-parity"),
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
};

const DEFAULT_MODEL = "counter";
let models = new Map(); // id -> model info, listed ones first
let state = null; // what the URL says
let model = null; // info of state.model
let data = null; // the last /api/run answer drawn
let sent = null; // the body that asked for it
let panels = []; // Panel objects, by layer then PANELS order
let inflight = null; // AbortController of the run under way
let typingTimer = null;

const seqKey = (info) => (info.kind === "text" ? "text" : "inputs");

function showError(message) {
  els.error.hidden = !message;
  els.error.textContent = message ?? "";
  els.heatmaps.classList.toggle("stale", Boolean(message));
  offerExports();
}

// The exports read data, model and state: offer them only while the heatmaps show that run.
function offerExports() {
  const ready = data !== null && els.error.hidden && !els.heatmaps.hasAttribute("aria-busy");
  for (const button of els.exports.querySelectorAll("button")) button.disabled = !ready;
}

// make: one of export.js's file makers; a failure is said beside the buttons.
async function download(make) {
  try {
    save(await make(data, model, state, sent));
    els.exported.textContent = "";
  } catch (err) {
    els.exported.textContent = `The file could not be made: ${err.message}`;
  }
}

async function modelInfo(id) {
  if (!models.has(id)) models.set(id, await getModel(id));
  return models.get(id);
}

function fillPicker(selected) {
  els.model.replaceChildren();
  if (!models.has(selected)) {
    // An id nobody knows: say so in the picker too, so that choosing any model is a change.
    const option = new Option("— choose a model —", "", true, true);
    option.disabled = true;
    els.model.append(option);
  }
  for (const info of models.values()) {
    const option = new Option(info.title, info.id, false, info.id === selected);
    els.model.append(option);
  }
}

// The characters a text model reads, with invisible ones made visible.
function vocabulary(info) {
  return Array.from(info.vocab, showToken).join(" ");
}

function describe(info) {
  els.title.textContent = info.title;
  els.description.textContent = info.description;
  els.hint.textContent = info.hint;
  els.parity.hidden = !info.parity;
  els.parity.textContent = info.parity ? `✓ ${info.parity}` : "";
  listUnits(info);
  if (info.kind === "text") {
    els.label.textContent = "Sequence (text)";
    els.help.textContent = `One time step per character. This model reads: ${vocabulary(info)}`;
  } else {
    els.label.textContent = `Sequence (${info.size} number${info.size > 1 ? "s" : ""} per step)`;
    els.help.textContent =
      info.size === 1
        ? "One number per step, separated by spaces, commas or ';'."
        : `Steps separated by ';' or new lines, each ${info.size} numbers separated by spaces or commas.`;
  }
}

// Buttons for the units the model's description names: one click pins that unit's row.
function listUnits(info) {
  const named = (info.units ?? []).map((name, u) => [u, name]).filter(([, name]) => name);
  els.units.hidden = named.length === 0;
  els.units.querySelectorAll("button").forEach((b) => b.remove());
  for (const [u, name] of named) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "unit-chip";
    button.textContent = `unit ${u}: ${name}`;
    button.addEventListener("click", () => click(0, state.t ?? 0, u, { keep: true }));
    els.units.append(button);
  }
}

// Bring the page in line with `next` (a state read from the URL or made by a control).
let applying = 0; // counts apply() calls: an older one that resumes late must not win

async function apply(next, { push = false, replace = false } = {}) {
  const mine = ++applying;
  els.shared.textContent = ""; // a link made before shows another view now
  const wanted = { ...next, model: next.model ?? DEFAULT_MODEL };
  let info;
  try {
    info = await modelInfo(wanted.model);
  } catch (err) {
    if (mine !== applying) return;
    state = wanted;
    model = null;
    inflight?.abort();
    fillPicker(state.model); // an unknown id: offer the known models beside the error
    showError(err.message);
    settled();
    return;
  }
  if (mine !== applying) return;
  state = wanted;
  model = info;
  if (state[seqKey(model)] === null) state[seqKey(model)] = model.example;
  fillPicker(model.id);
  describe(model);
  if (els.sequence.value !== state[seqKey(model)]) els.sequence.value = state[seqKey(model)];
  if (push || replace) writeUrl(state, { push });
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

async function draw() {
  inflight?.abort(); // whatever was asked before is stale now, even if this ask fails
  const body = { model: model.id };
  showBanner(els.whatIf, state.x, () => setView({ x: null }, { rerun: true }));
  try {
    if (state.pin) body.pin = state.pin;
    Object.assign(body, activeView().request(state, model));
    if (state.x) body.interventions = parseInterventions(state.x); // what-ifs alter the run in every view
    if (model.kind === "text") {
      // nothing to run: say so here rather than ask the server and show its refusal
      if (state.text === "") throw new Error("the sequence is empty: type at least one character");
      body.text = state.text;
    } else body.inputs = parseSteps(state.inputs, model.size);
  } catch (err) {
    showError(err.message);
    return;
  }
  const mine = new AbortController();
  inflight = mine;
  els.heatmaps.setAttribute("aria-busy", "true");
  offerExports();
  try {
    data = await run(body, mine.signal);
    sent = body;
  } catch (err) {
    if (err.name === "AbortError") return; // a newer run took over
    showError(err instanceof ApiError ? err.message : `the server could not be reached (${err.message})`);
    return;
  } finally {
    if (inflight === mine) els.heatmaps.removeAttribute("aria-busy");
  }
  showError(null);
  render();
}

function render() {
  const layers = data.layers;
  const T = data.tokens.length;
  const handlers = { hover, leave, click };
  els.heatmaps.replaceChildren();
  panels = [];
  const orders = rowOrders(data, state); // the rows' order per layer (views/find.js), or null
  rows = orders;
  layers.forEach((layer, l) => {
    const section = document.createElement("section");
    section.className = "layer";
    const heading = document.createElement("h3");
    heading.textContent =
      layers.length > 1 ? `Layer ${l}${l === 0 ? " (reads the input)" : ` (reads layer ${l - 1}'s h)`}` : "";
    if (heading.textContent) section.append(heading);
    const grid = document.createElement("div");
    grid.className = "grid";
    section.append(grid);
    for (const spec of PANELS) {
      const panel = new Panel(spec, l, handlers);
      grid.append(panel.root);
      panels.push(panel);
      panel.draw(layer[spec.key], colourRange(spec, layer), data.tokens, orders?.[l]);
    }
    els.heatmaps.append(section);
  });
  for (const panel of panels) panel.labelSteps(); // now that the frames have their widths
  select();
}

// What depends on the pinned cell only: the pins, the readout and the views. A click or an arrow
// key redraws this, never the heatmaps themselves (a 1000 × 256 run must stay fluid).
function select() {
  const layers = data.layers;
  const T = data.tokens.length;
  const pinned = state.t !== null && state.unit !== null && state.t < T && state.unit < data.hidden_size;
  const pinLayer = pinned ? Math.min(state.layer ?? 0, layers.length - 1) : null;
  for (const panel of panels) {
    panel.pinAt(pinned && panel.layer === pinLayer ? state.t : null, pinned && panel.layer === pinLayer ? state.unit : null);
  }
  els.selection.replaceChildren(
    ...(pinned
      ? readout(pinLayer, state.t, state.unit, "Pinned: ")
      : [document.createTextNode("Hover over a heatmap to read its values; click or tap a cell to pin it.")]),
  );
  renderViews(pinned ? { layer: pinLayer, t: state.t, unit: state.unit } : null);
}

let rows = null; // the heatmaps' row order per layer when the Find view sorts or cuts them
let keyboardAt = null; // the id of the view's element that had the keyboard

const activeView = () => VIEWS.find((v) => v.key === state?.view) ?? VIEWS[0];

// The tabs, and the active view drawn from this run; pinned: {layer, t, unit} or null.
function renderViews(pinned) {
  const active = activeView();
  els.viewTabs.replaceChildren(
    ...VIEWS.map((view) => {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.id = `tab-${view.key}`;
      tab.textContent = view.label;
      tab.setAttribute("aria-selected", String(view === active));
      tab.addEventListener("click", () => setView({ view: view.key }, { rerun: true }));
      return tab;
    }),
  );
  els.viewAbout.textContent = active.about;
  // a view is drawn anew on every change: keep the keyboard where it was, even across a drawing
  // that waits for the server (the element comes back once the answer is in)
  if (els.viewBody.contains(document.activeElement) && document.activeElement.id) {
    keyboardAt = document.activeElement.id;
  } else if (document.activeElement !== document.body) {
    keyboardAt = null; // the keyboard went elsewhere: leave it there
  }
  els.viewBody.replaceChildren();
  els.viewBody.setAttribute("aria-labelledby", `tab-${active.key}`);
  active.render(els.viewBody, {
    data, model, state, pinned, sent, setView,
    select: (l, t, u) => click(l, t, u, { keep: true }),
    refresh: () => data && select(), // an answer a view asked for has come: draw it anew
  });
  const back = keyboardAt && document.getElementById(keyboardAt);
  if (back && els.viewBody.contains(back)) back.focus();
}

// A view changes its own keys of the state: written to the URL; rerun when the run must change.
function setView(patch, { rerun = false } = {}) {
  state = { ...state, ...patch };
  writeUrl(state, { push: true });
  els.shared.textContent = "";
  if (rerun) compute();
  else if (reorders(patch)) render(); // the heatmaps' rows change, not the run
  else select();
}

// The values at (layer, t, unit) as DOM nodes: written as text, never as markup.
function readout(l, t, u, prefix = "") {
  const name = model.units?.[u] ? ` (${model.units[u]})` : "";
  const head = document.createElement("div");
  head.className = "readout-head";
  const layerText = data.layers.length > 1 ? `, layer ${l}` : "";
  head.textContent = `${prefix}t = ${t}, token “${showToken(data.tokens[t])}”, unit ${u}${name}${layerText}`;
  const table = document.createElement("dl");
  table.className = "readout";
  for (const spec of PANELS) {
    const dt = document.createElement("dt");
    dt.textContent = spec.key;
    dt.title = spec.name;
    const dd = document.createElement("dd");
    dd.textContent = data.layers[l][spec.key][t][u].toFixed(4);
    dd.dataset.gate = spec.key;
    table.append(dt, dd);
  }
  return [head, table];
}

function hover(l, t, u, event) {
  for (const panel of panels) panel.cursor(t, panel.layer === l ? u : null);
  els.tooltip.replaceChildren(...readout(l, t, u));
  els.tooltip.hidden = false;
  const pad = 14;
  const box = els.tooltip.getBoundingClientRect();
  const x = Math.min(event.clientX + pad, window.innerWidth - box.width - 4);
  const y = event.clientY + pad + box.height > window.innerHeight ? event.clientY - box.height - pad : event.clientY + pad;
  els.tooltip.style.left = `${Math.max(4, x)}px`;
  els.tooltip.style.top = `${Math.max(4, y)}px`;
}

function leave() {
  for (const panel of panels) panel.cursor(null, null);
  els.tooltip.hidden = true;
}

function click(l, t, u, { keep = false } = {}) {
  const same = !keep && state.layer === l && state.t === t && state.unit === u;
  state = { ...state, layer: same ? null : l, t: same ? null : t, unit: same ? null : u };
  writeUrl(state, { push: false });
  els.shared.textContent = "";
  select();
}

// The keyboard on the heatmaps (static/keys.js says where a key goes); not while typing.
function onKey(event) {
  if (!data || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  const T = data.tokens.length;
  const layers = data.layers.length;
  const order = rows?.[Math.min(state.layer ?? 0, layers - 1)] ?? null;
  const next = cellAfterKey(event.key, { T, H: data.hidden_size, layers, state, order });
  if (next === null) return;
  if (next === "unpin") click(state.layer, state.t, state.unit);
  else click(next.l, next.t, next.u, { keep: true });
  event.preventDefault();
}

const FRESH = { pin: null, text: null, inputs: null, layer: null, t: null, unit: null };

function onModelChange() {
  apply({ ...FRESH, model: els.model.value }, { push: true });
}

function onType() {
  clearTimeout(typingTimer);
  if (!model) return; // no model to run yet: the error beside the box says why
  typingTimer = setTimeout(() => {
    const next = { ...state, [seqKey(model)]: els.sequence.value };
    apply(next, { push: true });
  }, SIZES.debounceMs);
}


async function start() {
  els.model.addEventListener("change", onModelChange);
  els.sequence.addEventListener("input", onType);
  els.share.addEventListener("click", () => share(state, els.shared));
  $("export-png").addEventListener("click", () => download(pngFile));
  $("export-csv").addEventListener("click", () => download(csvFile));
  $("export-json").addEventListener("click", () => download(jsonFile));
  wireUpload((info) => {
    models.set(info.id, info);
    apply({ ...FRESH, model: info.id }, { push: true });
  });
  window.addEventListener("popstate", () => apply(currentState()));
  window.addEventListener("resize", () => panels.forEach((p) => p.labelSteps()));
  document.addEventListener("keydown", onKey);
  try {
    for (const info of await listModels()) models.set(info.id, info);
  } catch (err) {
    showError(`the list of models could not be loaded: ${err.message}`);
    return;
  }
  // a share link's page keeps its short address until the view is changed
  await apply(currentState(), { replace: !LINK });
}

start();
