// Colours, labels and sizes: everything the drawing code looks up, nothing it computes.

import SPEC from "./spec.json" with { type: "json" };

// The colour stops and the panels are static/spec.json's, which the server's preview reads too.
export const VIRIDIS = SPEC.colours.sequential; // Viridis: for the gates, whose values lie in (0, 1)
export const BLUE_RED = SPEC.colours.diverging; // RdBu reversed: blue below 0, white at 0, red above

// One entry per heatmap, in the order drawn. `range`: fixed ends of the colour scale, or
// "symmetric" for the cell state, which is unbounded: ±(largest |c| in the layer, at least 1).
export const PANELS = SPEC.panels.list;

export const SIZES = {
  maxCellWidth: 28, // CSS pixels per time step at most
  yAxisWidth: 34, // CSS pixels of the unit labels; style.css's .plot uses the same
  panelHeight: 220, // CSS pixels a heatmap aims for; rows are at least 1 and at most maxRowHeight
  maxRowHeight: 18,
  minLabelWidth: 7, // below this many CSS pixels per step, tokens are labelled every few steps
  debounceMs: 200,
};

// How tokens are shown: invisible characters get a visible stand-in.
export const TOKEN_SHOWN = { " ": "␣", "\n": "⏎", "\t": "⇥" };
