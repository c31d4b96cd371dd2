// The explanation views under the heatmaps, in tab order. A view is an object:
//   key     its name in the URL (?view=key)
//   label   the tab's text
//   about   one line saying what it answers
//   request(state, model)  extra keys for POST /api/run (e.g. {include: ["parts"]}), or {}
//   render(container, ctx)  draws the view from ctx (main.js, renderViews): data (the run), model,
//     state (the URL), pinned ({layer, t, unit} or null), sent (the run's body), select(l, t, u),
//     setView(patch, {rerun}), refresh() (draw again once something the view asked for is in)
// Views draw what the API computed; they hold no LSTM math.

import { compare } from "./compare.js";
import { find } from "./find.js";
import { memory } from "./memory.js";
import { step } from "./step.js";
import { unit } from "./unit.js";
import { update } from "./update.js";
import { whatif } from "./whatif.js";

export const VIEWS = [step, update, memory, unit, whatif, find, compare];
