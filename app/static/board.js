// The heatmaps: one Panel per (layer, gate), their pinned cell, the hover tooltip and the readout
// under them. Draws what it is given; main.js decides when (a new run, new rows, a new pin).

import { PANELS } from "./config.js";
import { entryName, entryTitle } from "./describe.js";
import { C_SCALES, Panel, cScale, colourRange, showToken } from "./heatmap.js";
import { printed } from "./views/draw.js";


export class Board {
  // els: {heatmaps, tooltip, selection}; onClick(l, t, u): a cell was clicked or tapped;
  // onScale(scale): the cell state's scale was chosen in its legend.
  constructor(els, onClick, onScale = null) {
    this.onScale = onScale;
    this.els = els;
    this.handlers = {
      hover: (l, t, u, event) => this.hover(l, t, u, event),
      leave: () => this.leave(),
      click: (l, t, u) => onClick(l, t, u),
    };
    this.panels = []; // by layer, then PANELS order
    this.rows = null; // the rows' order per layer when a view sorts or cuts them, else null
    this.data = null;
    this.model = null;
  }

  // Draw every panel of run `data` of model `model`; rows: the rows' order per layer, or null;
  // scale: the cell state's (C_SCALES; robust when absent or unknown). h and the gates keep
  // their fixed ranges.
  draw(data, model, rows, scale = null) {
    const cs = scale in C_SCALES ? scale : "robust";
    const layers = data.layers;
    this.data = data;
    this.model = model;
    this.rows = rows;
    this.els.heatmaps.replaceChildren();
    this.panels = [];
    layers.forEach((layer, l) => {
      const section = document.createElement("section");
      section.className = "layer";
      const heading = document.createElement("h3");
      heading.textContent = entryTitle(layers, l);
      if (heading.textContent) section.append(heading);
      const grid = document.createElement("div");
      grid.className = "grid";
      section.append(grid);
      for (const spec of PANELS) {
        const panel = new Panel(spec, l, this.handlers);
        grid.append(panel.root);
        this.panels.push(panel);
        const range = spec.range === "symmetric" ? cScale(layer[spec.key], cs) : colourRange(spec, layer);
        panel.draw(layer[spec.key], range, data.tokens, rows?.[l], spec.range === "symmetric" ? this.onScale : null);
      }
      this.els.heatmaps.append(section);
    });
    this.labelSteps(); // now that the frames have their widths
  }

  labelSteps() {
    for (const panel of this.panels) panel.labelSteps();
  }

  // Mark the state's pinned cell and write the readout: {layer, t, unit} when one is pinned
  // within this run, else null.
  pin(state) {
    const { data } = this;
    const T = data.tokens.length;
    const pinned = state.t !== null && state.unit !== null && state.t < T && state.unit < data.hidden_size;
    const layer = pinned ? Math.min(state.layer ?? 0, data.layers.length - 1) : null;
    for (const panel of this.panels) {
      const here = pinned && panel.layer === layer;
      panel.pinAt(here ? state.t : null, here ? state.unit : null);
    }
    this.els.selection.parentElement?.classList.toggle("pinned", pinned);
    this.els.selection.replaceChildren(
      ...(pinned
        ? this.readout(layer, state.t, state.unit, "Pinned: ")
        : [document.createTextNode("Hover over a heatmap to read its values; click or tap a cell to pin it.")]),
    );
    return pinned ? { layer, t: state.t, unit: state.unit } : null;
  }

  // The values at (layer, t, unit) as DOM nodes: written as text, never as markup.
  readout(l, t, u, prefix = "") {
    const { data, model } = this;
    const name = model.units?.[u] ? ` (${model.units[u]})` : "";
    const head = document.createElement("div");
    head.className = "readout-head";
    const entry = entryName(data.layers, l);
    const layerText = entry ? `, ${entry}` : "";
    head.textContent = `${prefix}t = ${t}, token “${showToken(data.tokens[t])}”, unit ${u}${name}${layerText}`;
    const table = document.createElement("dl");
    table.className = "readout";
    for (const spec of PANELS) {
      const dt = document.createElement("dt");
      dt.textContent = spec.key;
      dt.title = spec.name;
      const dd = document.createElement("dd");
      dd.textContent = printed(data, data.layers[l][spec.key][t][u]);
      dd.dataset.gate = spec.key;
      table.append(dt, dd);
    }
    if (data.precision !== "float16") return [head, table];
    const note = document.createElement("p");
    note.className = "readout-note";
    note.textContent = "3 significant digits: this long run came as float16; the step view shows exact values.";
    return [head, table, note];
  }

  hover(l, t, u, event) {
    const { tooltip } = this.els;
    for (const panel of this.panels) panel.cursor(t, panel.layer === l ? u : null);
    tooltip.replaceChildren(...this.readout(l, t, u));
    tooltip.hidden = false;
    const pad = 14;
    const box = tooltip.getBoundingClientRect();
    const x = Math.min(event.clientX + pad, window.innerWidth - box.width - 4);
    const y =
      event.clientY + pad + box.height > window.innerHeight ? event.clientY - box.height - pad : event.clientY + pad;
    tooltip.style.left = `${Math.max(4, x)}px`;
    tooltip.style.top = `${Math.max(4, y)}px`;
  }

  leave() {
    for (const panel of this.panels) panel.cursor(null, null);
    this.els.tooltip.hidden = true;
  }
}
