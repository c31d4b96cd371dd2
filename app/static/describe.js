// The model's part of the page: the picker, the model's title and words, the buttons for the units
// its description names, and the sequence box's label and help. Text only, never markup.

import { showToken } from "./heatmap.js";

// The picker: the known models, `selected` chosen; an id nobody knows gets a placeholder of its
// own, so that choosing any model is a change.
export function fillPicker(select, models, selected) {
  select.replaceChildren();
  if (!models.has(selected)) {
    const option = new Option("— choose a model —", "", true, true);
    option.disabled = true;
    select.append(option);
  }
  for (const info of models.values()) {
    select.append(new Option(info.title, info.id, false, info.id === selected));
  }
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
  listUnits(els.units, info, pinUnit);
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
