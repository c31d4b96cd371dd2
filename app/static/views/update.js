// Cell update: at the pinned step, per unit, what the cell kept of c_{t−1} (f ⊙ c_{t−1}), what it
// wrote (i ⊙ g) and the new c_t, all three as the API computed them (include "update").

import { VIRIDIS } from "../config.js";
import { showToken } from "../heatmap.js";
import { el } from "./draw.js";
import { withStep } from "./stepdata.js";
import { equation, number as printed, sym, value as shown } from "./step.js";
import { legend, unitBars } from "./unitbars.js";

const KEPT = VIRIDIS[3];
const WRITTEN = VIRIDIS[8];
const WIPED = 0.1; // f below this wipes most of a coordinate; above 1 − WIPED keeps most of it

const number = (key, value, colour) =>
  printed(key, typeof value === "string" ? value : shown(value), colour);

// The pinned unit's update in words and numbers: kept, written and the new c.
function pinnedSums(layer, t, u) {
  const { kept, written } = layer.update;
  const cPrev = t > 0 ? number("c_prev", layer.c[t - 1][u]) : number("c_prev", "0");
  const list = el("ol", "update-sums");
  list.append(
    equation("kept", [
      [el("b", null, "kept")],
      [sym("f", "t"), " ⊙ ", sym("c", "t−1")],
      [number("f", layer.f[t][u]), " × ", cPrev],
      [number("kept", kept[t][u], KEPT)],
    ], t === 0 ? "(c₋₁ = 0: the run starts from an empty cell)" : null),
    equation("written", [
      [el("b", null, "written")],
      [sym("i", "t"), " ⊙ ", sym("g", "t")],
      [number("i", layer.i[t][u]), " × ", number("g", layer.g[t][u])],
      [number("written", written[t][u], WRITTEN)],
    ]),
    equation("new", [
      [el("b", null, "new "), sym("c", "t")],
      ["kept + written"],
      [number("kept", kept[t][u], KEPT), " + ", number("written", written[t][u], WRITTEN)],
      [number("c", layer.c[t][u])],
    ]),
  );
  return list;
}

// How many units this step mostly kept, and how many it mostly wiped: read off f as the API gave it.
function tally(layer, t) {
  const f = layer.f[t];
  const wiped = f.filter((v) => v < WIPED).length;
  const kept = f.filter((v) => v > 1 - WIPED).length;
  const partly = f.length - wiped - kept;
  return `At this step f keeps most of ${kept} of the ${f.length} coordinates (f > ${1 - WIPED}) and wipes `
    + `most of ${wiped} (f < ${WIPED})${partly ? `; ${partly} are partly kept` : ""}.`;
}

export const update = {
  key: "update",
  label: "Cell update",
  about: "What the pinned step kept of the cell state, what it wrote, and the new c",
  request: () => ({}), // the pinned step's details come from POST /api/step (stepdata.js)
  render(container, ctx) {
    if (!ctx.pinned) {
      container.append(el("p", "view-empty",
        "Click a cell of any heatmap to pin a time step: this tab then shows, unit by unit, what that "
        + "step kept of the cell state, what it wrote, and the new c."));
      return;
    }
    const data = withStep(ctx);
    if (!data || data.error) {
      container.append(el("p", "help", data ? `The step could not be explained: ${data.error}` : "Asking the server for the cell update…"));
      return;
    }
    ctx = { ...ctx, data };
    const { model } = ctx;
    const { layer: l, t, unit } = ctx.pinned;
    const layer = data.layers[l];
    const names = l === 0 && model?.units?.length ? model.units : null;
    const width = Math.max(280, Math.floor(container.clientWidth || 340) - 4);
    const H = data.hidden_size;
    const name = names?.[unit] ? ` (${names[unit]})` : "";
    const where = data.layers.length > 1 ? `, layer ${l}` : "";
    const root = el("div", "update-view");
    const intro = el("p", "update-intro");
    intro.append(
      "The cell state is a vector: one number per unit, one bar below. ",
      el("b", null, "f decides how much of each coordinate is kept"),
      ": f = 1 keeps it whole, f = 0 wipes it. Then i ⊙ g is written on top: ",
      sym("c", "t"), " = ", sym("f", "t"), " ⊙ ", sym("c", "t−1"), " + ", sym("i", "t"), " ⊙ ", sym("g", "t"), ".",
    );
    root.append(
      el("p", "view-head", `t = ${t}, token “${showToken(data.tokens[t])}”${where}`),
      intro,
      el("p", "help", tally(layer, t)),
      el("p", "view-subhead", `Unit ${unit}${name}:`),
      pinnedSums(layer, t, unit),
      legend([
        { colour: KEPT, label: "kept f ⊙ cₜ₋₁" },
        { colour: WRITTEN, label: "written i ⊙ g" },
        { colour: "#111", label: "new cₜ", kind: "line" },
        { colour: "#111", label: t > 0 ? "old cₜ₋₁" : "old c₋₁ = 0", kind: "ring" },
      ]),
      unitBars({
        id: "update-bars", H, width, selected: unit, names,
        title: `Cell update at t = ${t}`,
        axisLabel: "cell state value",
        segments: [
          { key: "kept", label: "kept", colour: KEPT, value: (u) => layer.update.kept[t][u] },
          { key: "written", label: "written", colour: WRITTEN, value: (u) => layer.update.written[t][u] },
        ],
        markers: [
          { key: "c_prev", label: "old c", kind: "ring", value: (u) => (t > 0 ? layer.c[t - 1][u] : 0) },
          { key: "c", label: "new c", kind: "total", value: (u) => layer.c[t][u] },
        ],
        onPick: (u) => ctx.select(l, t, u),
      }),
      el("p", "help", "Where the kept bar is shorter than the ring, f forgot part of the old value. "
        + "Click a bar to pin its unit; pin another step on the heatmaps."),
    );
    container.append(root);
  },
};
