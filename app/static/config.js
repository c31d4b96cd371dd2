// Colours, labels and sizes: everything the drawing code looks up, nothing it computes.

// Viridis (sequential, colour-blind safe) at 0, 0.1, …, 1: for the gates, whose values lie in (0, 1).
export const VIRIDIS = [
  "#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
  "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725",
];

// ColorBrewer RdBu reversed (diverging, colour-blind safe): blue below 0, white at 0, red above.
export const BLUE_RED = [
  "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
  "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f",
];

// One entry per heatmap, in the order drawn. `range`: fixed ends of the colour scale, or
// "symmetric" for the cell state, which is unbounded: ±(largest |c| in the layer, at least 1).
export const PANELS = [
  { key: "f", name: "forget gate", scale: "sequential", range: [0, 1],
    legend: ["0: forget", "1: keep"], about: "1 keeps the cell's value, 0 wipes it" },
  { key: "i", name: "input gate", scale: "sequential", range: [0, 1],
    legend: ["0: write nothing", "1: write g"], about: "how much of the candidate g is written" },
  { key: "g", name: "candidate", scale: "diverging", range: [-1, 1],
    legend: ["−1", "0", "+1"], about: "the value that could be written into the cell" },
  { key: "o", name: "output gate", scale: "sequential", range: [0, 1],
    legend: ["0: hide", "1: show"], about: "how much of tanh(c) is let out as h" },
  { key: "c", name: "cell state", scale: "diverging", range: "symmetric",
    legend: null, about: "the memory: f ⊙ c(t−1) + i ⊙ g" },
  { key: "h", name: "hidden state", scale: "diverging", range: [-1, 1],
    legend: ["−1", "0", "+1"], about: "o ⊙ tanh(c): what the next step and layer see" },
];

export const SIZES = {
  maxCellWidth: 28, // CSS pixels per time step at most
  yAxisWidth: 34, // CSS pixels of the unit labels; style.css's .plot uses the same
  panelHeight: 220, // CSS pixels a heatmap aims for; rows are at least 1 and at most maxRowHeight
  maxRowHeight: 18,
  minLabelWidth: 9, // below this many CSS pixels per step, tokens are labelled every few steps
  debounceMs: 200,
};

// How tokens are shown: invisible characters get a visible stand-in.
export const TOKEN_SHOWN = { " ": "␣", "\n": "⏎", "\t": "⇥" };
