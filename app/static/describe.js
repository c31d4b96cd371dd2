// The model's part of the page: the picker, the model's title and words, the buttons for the units
// its description names, and the sequence box's label and help. Text only, never markup.

import { showToken } from "./heatmap.js";

// The picker: the known models, `selected` chosen; an id nobody knows gets a placeholder of its
// own, so that choosing any model is a change. A model shown in place of the state's (shown.js:
// a training's snapshot, `extra` its GET /api/models answer) is that placeholder, under its own
// title ("Training: Count with reset (at step 470 of 500)"): disabled, and with no value, so that
// its tr- id never reaches the state or the address bar.
// Models are grouped as the API says (Built by hand, Trained, Random, Yours), in their order.
const GROUPS = { "hand-built": "Built by hand", trained: "Trained", random: "Random", yours: "Yours" };

export function fillPicker(select, models, selected, extra = null) {
  select.replaceChildren();
  if (!models.has(selected)) {
    const title = extra?.id === selected ? extra.title : "— choose a model —";
    const option = new Option(title, "", true, true);
    option.disabled = true;
    select.append(option);
  }
  const groups = new Map();
  for (const info of models.values()) {
    const name = GROUPS[info.group] ?? "Other";
    if (!groups.has(name)) groups.set(name, Object.assign(document.createElement("optgroup"), { label: name }));
    groups.get(name).append(new Option(info.title, info.id, false, info.id === selected));
  }
  select.append(...groups.values());
}

// An upload's badge: the format it was read from, each step of its conversion, and what was
// measured for this very model (ONNX: the reference evaluator's difference), or that nothing was.
function describeConversion(els, read) {
  els.read.hidden = !read;
  if (!read) return;
  const m = read.measured;
  const figure = m && m.max_abs_diff !== undefined ? `largest difference ${m.max_abs_diff.toExponential(1)}` : null;
  els.readSummary.textContent = `Read from ${read.format}${figure ? ` · measured against its framework: ${figure}` : ""}`;
  const steps = read.steps.length ? read.steps : ["nothing to convert: the file holds torch.nn.LSTM's own tensors"];
  els.readSteps.replaceChildren(...steps.map((s) => Object.assign(document.createElement("li"), { textContent: s })));
  els.readMeasured.textContent = !m
    ? "Not run by its framework here: the badge above is the test suite's claim about this conversion."
    : figure
      ? `Measured for this model: ${m.reference} ran the file on a probe of ${m.steps} steps; ` +
        `Gatescope's h differs from it by at most ${m.max_abs_diff.toExponential(2)}.`
      : `Not measured: ${m.not_measured}.`;
}

// The characters a text model reads, with invisible ones made visible.
const vocabulary = (info) => Array.from(info.vocab, showToken).join(" ");

// els: the page's elements; pinUnit(u): a unit's button was clicked.
export function describe(els, info, pinUnit) {
  els.title.textContent = info.title;
  els.description.textContent = info.description;
  els.hint.textContent = info.hint;
  els.parity.hidden = !info.parity;
  els.parity.textContent = info.parity ? `✓ ${info.parity}` : "";
  describeConversion(els, info.conversion);
  listUnits(els.units, info, pinUnit);
  els.card.open = false; // a new model's card starts folded: the run is the first screen
  if (info.kind === "words") {
    els.label.textContent = "Sequence (words)";
    const shown = info.words.slice(0, 40).join(" ") + (info.words.length > 40 ? " …" : "");
    const unk = info.words.includes("<unk>") ? "; any other word is read as <unk>" : "";
    els.help.textContent = `One time step per word (split on spaces). It reads ${info.words.length} words: ${shown}${unk}`;
  } else if (info.kind === "text") {
    els.label.textContent = "Sequence (text)";
    els.help.textContent = `One time step per character. This model reads: ${vocabulary(info)}`;
  } else {
    els.label.textContent = `Sequence (${info.size} number${info.size > 1 ? "s" : ""} per step)`;
    els.help.textContent =
      info.size === 1
        ? "One number per step, separated by spaces, commas or ';'."
        : `Steps separated by ';' or new lines, each ${info.size} numbers separated by spaces or commas.`;
  }
  els.help.title = els.help.textContent; // the help is one line: its whole text on hover
}

// Buttons for the units the model's description names: one click pins that unit's row.
function listUnits(box, info, pinUnit) {
  const named = (info.units ?? []).map((name, u) => [u, name]).filter(([, name]) => name);
  box.hidden = named.length === 0;
  for (const b of box.querySelectorAll("button")) b.remove();
  for (const [u, name] of named) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "unit-chip";
    button.textContent = `unit ${u}: ${name}`;
    button.addEventListener("click", () => pinUnit(u));
    box.append(button);
  }
}

// The heading of entry `l` of a run's layers: its layer, what it reads and, where the model reads
// the sequence backwards (a bidirectional layer's second entry, or Keras's go_backwards), which way.
export function entryTitle(layers, l) {
  const backward = layers[l].direction === "backward";
  if (layers.length === 1 && !backward) return "";
  const both = layers.some((e) => e.direction === "backward") && layers.some((e) => e.direction !== "backward");
  const k = both ? Math.floor(l / 2) : l;
  const reads = k === 0 ? "reads the input" : `reads layer ${k - 1}'s h${both ? ", both directions" : ""}`;
  if (!both && !backward) return `Layer ${k} (${reads})`;
  const way = backward ? "backward (last step to first" : "forward (first step to last";
  return `Layer ${k} ${way}; ${reads})`;
}

// Short, for a readout: "layer 1 backward"; "" for a model of one forward layer.
export function entryName(layers, l) {
  return entryTitle(layers, l).split(" (")[0].toLowerCase();
}
