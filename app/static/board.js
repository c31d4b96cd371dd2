// The heatmaps: one Panel per (layer, gate), their pinned cell, the hover tooltip and the readout
// under them. Draws what it is given; main.js decides when (a new run, new rows, a new pin).

import { PANELS } from "./config.js";
import { entryName, entryTitle } from "./describe.js";
import { C_SCALES, Panel, cScale, colourRange, showToken } from "./heatmap.js";
import { printed } from "./views/draw.js";
import { wireGestures } from "./gestures.js";
import { brushed, panBy, parseZoom, writeZoom, zoomBy } from "./zoom.js";
import { ZoomBar } from "./zoombar.js";

export class Board {
  // els: {heatmaps, tooltip, selection}; onClick(l, t, u): a cell was clicked or tapped;
  // onScale(scale): the cell state's scale was chosen in its legend; onZoom(zoom): the window
  // moved (its URL value, null: the whole run).
  constructor(els, onClick, onScale = null, onZoom = () => {}) {
    this.onScale = onScale;
    this.onZoom = onZoom;
    this.els = els;
    this.win = null; // the window every panel shows (zoom.js), null: the whole run
    // one window for every panel: zoomed and panned together
    this.zoom = {
      by: (factor, t = null, row = null) => this.zoomTo(zoomBy(this.win, factor, this.T, this.R, t, row)),
      pan: (dt, dr) => this.zoomTo(panBy(this.win, dt, dr, this.T, this.R)),
      brush: (ta, tb, ra, rb) => this.zoomTo(brushed(ta, tb, ra, rb, this.win, this.T, this.R)),
      reset: () => this.zoomTo(null),
      zoomed: () => this.win !== null,
      centre: (t, row) => {
        if (!this.win) return this.zoom.by(0.5, t, row);
        const { t0, t1, r0, r1 } = this.win;
        this.zoom.pan(t - (t0 + t1 + 1) / 2, row - (r0 + r1 + 1) / 2);
      },
    };
    this.bar = new ZoomBar(this.zoom);
    els.heatmaps.before(this.bar.root);
    this.handlers = {
      hover: (l, t, u, event) => this.hover(l, t, u, event),
      leave: () => this.leave(),
      click: (l, t, u) => onClick(l, t, u),
    };
    this.frame = 0; // the animation frame a zoom waits for
    this.panels = []; // by layer, then PANELS order
    this.rows = null; // the rows' order per layer when a view sorts or cuts them, else null
    this.data = null;
    this.model = null;
  }

  // Draw every panel of run `data` of model `model`; rows: the rows' order per layer, or null;
  // scale: the cell state's (C_SCALES; robust when absent or unknown). h and the gates keep
  // their fixed ranges. zoom: the URL's window (zoom.js); one beyond this run is dropped.
  // overview: the gate the zoom bar's overview draws (of the pinned layer).
  draw(data, model, rows, scale = null, zoom = null, overview = { gate: "f", layer: 0 }) {
    const cs = scale in C_SCALES ? scale : "robust";
    const layers = data.layers;
    this.data = data;
    this.model = model;
    this.rows = rows;
    this.T = data.tokens.length;
    this.R = Math.min(...layers.map((_, l) => rows?.[l]?.length ?? data.hidden_size));
    this.win = parseZoom(zoom, this.T, this.R);
    if (writeZoom(this.win) !== zoom) this.onZoom(writeZoom(this.win)); // reset: say so in the URL
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
        wireGestures(panel, this.zoom);
        grid.append(panel.root);
        this.panels.push(panel);
        const range = spec.range === "symmetric" ? cScale(layer[spec.key], cs) : colourRange(spec, layer);
        const pick = spec.range === "symmetric" ? this.onScale : null;
        // step labels after the loop, from every frame's width read at once
        panel.draw(layer[spec.key], range, data.tokens, rows?.[l], pick, this.win, false);
      }
      this.els.heatmaps.append(section);
    });
    this.labelSteps(); // now that the frames have their widths
    const l = Math.min(overview.layer ?? 0, layers.length - 1);
    const shown = this.panels.find((p) => p.layer === l && p.spec.key === overview.gate) ?? this.panels[0];
    this.bar.draw(shown);
    this.bar.show(this.win);
  }

  // Show window `win` on every panel (null: the whole run), at most once an animation frame.
  zoomTo(win) {
    if (writeZoom(win) === writeZoom(this.win)) return;
    this.win = win;
    this.bar.show(win);
    this.onZoom(writeZoom(win));
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => {
      for (const panel of this.panels) panel.view(this.win, false);
      this.labelSteps();
    });
  }

  // Bring the window to cell (t, unit) of layer l when it lies outside (the keyboard moved there).
  follow(l, t, u) {
    if (!this.win) return;
    const panel = this.panels.find((p) => p.layer === l);
    const row = panel?.rowOf(u);
    if (row === undefined || row === null || row < 0) return;
    const { t0, t1, r0, r1 } = this.win;
    const dt = t < t0 ? t - t0 : t > t1 ? t - t1 : 0;
    const dr = row < r0 ? row - r0 : row > r1 ? row - r1 : 0;
    if (dt || dr) this.zoom.pan(dt, dr);
  }

  // Every panel's step labels: their widths read first, then the labels written, so that the
  // page is laid out once, not once per panel.
  labelSteps() {
    const widths = this.panels.map((panel) => panel.frame.clientWidth);
    this.panels.forEach((panel, k) => {
      panel.labelSteps(widths[k]);
    });
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
