// The explanation views under the heatmaps, in tab order: one line per view, each the name of its
// file here, which exports the view under the same name. A view is an object:
//   key     its name in the URL (?view=key); its own URL keys are static/spec.json's state keys
//   label   the tab's text
//   about   one line saying what it answers
//   request(state, model)  extra keys for POST /api/run (e.g. {include: ["parts"]}), or {}
//   render(container, ctx)  draws the view from ctx (main.js, redraw): data (the run), model,
//     state (the store's), pinned ({layer, t, unit} or null), sent (the run's body), select(l, t, u),
//     setView(patch, {rerun}) (a change through the store), refresh() (draw again once something
//     the view asked for is in)
//   update(container, ctx)  optional: bring the view's last drawing in container up to date in
//     place (a pin moved, say) and return true, or return false to be drawn anew by render
//   rows(data, state), rowKeys  optional: the heatmaps' row order per layer (or null) while the
//     view is shown, and the state keys that change it without a new run
//   firstFor(model, state), first, firstOnPhone  optional: the view that opens for such a model;
//     drawn before the heatmaps over the whole width; drawn before them on a phone only
// Views draw what the API computed; they hold no LSTM math.

const NAMES = [
  "step",
  "update",
  "memory",
  "unit",
  "weights",
  "text",
  "whatif",
  "find",
  "analyze",
  "compare",
  "train",
];

export const VIEWS = await Promise.all(NAMES.map(async (name) => (await import(`./${name}.js`))[name]));
