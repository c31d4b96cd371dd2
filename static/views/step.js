// Step inspector: the equations of the pinned step written out with the run's own numbers.
// (A first version: the full view follows.)

import { PANELS } from "../config.js";
import { el } from "./draw.js";

export const step = {
  key: "step",
  label: "Step",
  about: "Why each gate has the value it has at the pinned step",
  request: () => ({ include: ["parts"] }),
  render(container, ctx) {
    if (!ctx.pinned) {
      container.append(el("p", "help", "Click a cell of any heatmap to pin a step and a unit."));
      return;
    }
    const { layer, t, unit } = ctx.pinned;
    const list = el("ul", "equations-live");
    for (const spec of PANELS) {
      list.append(el("li", null, `${spec.key} = ${ctx.data.layers[layer][spec.key][t][unit].toFixed(4)}`));
    }
    container.append(list);
  },
};
