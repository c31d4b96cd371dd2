// The explanation views under the heatmaps, in tab order. A view is an object:
//   key     its name in the URL (?view=key)
//   label   the tab's text
//   about   one line saying what it answers
//   request(state, model)  extra keys for POST /api/run (e.g. {include: ["parts"]}), or {}
//   render(container, ctx)  draws the view from ctx (see main.js, viewContext)
// Views draw what the API computed; they hold no LSTM math.

import { compare } from "./compare.js";
import { find } from "./find.js";
import { memory } from "./memory.js";
import { step } from "./step.js";
import { unit } from "./unit.js";
import { update } from "./update.js";
import { whatif } from "./whatif.js";

export const VIEWS = [step, update, memory, unit, whatif, find, compare];
