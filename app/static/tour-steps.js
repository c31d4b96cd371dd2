// The guided tour's content: its model and sentence, and six steps, each a view of the page
// (extra URL state), what it points at, and its words, quoting the page's readout or the API's
// answer for the same view. static/tour.js drives the page and places the popover.

import { parseInterventions } from "./interventions.js";
import { cachedRun, runBody } from "./runs.js";

export const MODEL = "counter";
export const TEXT = "a banana. an apple.";

export const $ = (selector) => document.querySelector(selector);
export const panel = (gate) => $(`#heatmaps .panel[data-layer="0"][data-gate="${gate}"]`);
const views = (key) => (document.getElementById(`tab-${key}`) ? $("section.views") : null);

export function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

// x with a subscript: sub("h", "t−1").
const sub = (base, index) => el("span", "tour-var", base, el("sub", null, index));
// A number in the text: `text` as the page or the API wrote it; `source` says which (for tests).
const num = (text, source) => {
  const node = el("b", "tour-num", text);
  node.dataset.source = source;
  return node;
};
const signed = (x, digits = 2) => {
  const text = Math.abs(x).toFixed(digits);
  return Number(text) === 0 ? text : `${x < 0 ? "−" : "+"}${text}`;
};
export const plain = (x, digits = 4) => x.toFixed(digits).replace("-", "−");

// The pinned readout's value of one gate, exactly as the page shows it.
function readout(gate) {
  const dd = $(`#selection-text dd[data-gate="${gate}"]`);
  const node = num(dd ? dd.textContent : "—", "readout");
  node.dataset.gate = gate;
  return node;
}

// The API's answer for a step's view, with the pre-activation parts (from the page's cache of
// runs: one request per view), or null when it cannot be had.
export function answer(state) {
  const body = runBody(
    { id: MODEL, kind: "text" },
    { typed: TEXT, whatIfs: state.x ? parseInterventions(state.x) : [], extra: { include: ["parts"] } },
  );
  return cachedRun(body).catch(() => null);
}

const heading = (d) => `after “${TEXT.slice(0, d.t + 1)}”`;

// Terms of a sum as nodes: "−20.00 (from x) + 0.00 (from h) + 10.00 (bias)". terms: [value, words].
function sum(terms) {
  return terms.flatMap(([value, words], k) => {
    const text = Math.abs(value).toFixed(2);
    const negative = value < 0 && Number(text) !== 0;
    const op = k === 0 ? [] : [negative ? " − " : " + "];
    return [...op, num(k === 0 && negative ? `−${text}` : text, "api"), " (", ...words, ")"];
  });
}

// Each step: its view (extra state keys), what it points at (target, and a second element
// outlined more lightly), and its words as paragraphs of strings and nodes. ctx: {run, plain
// (the run without what-ifs), T, H}.
export const STEPS = [
  {
    title: "The cell state is a vector",
    view: { t: 7, unit: 0 },
    target: () => panel("c"),
    text: (ctx) => [
      ["This is the cell state c, the LSTM's memory. At each step it is a list of H = ", String(ctx.H),
        " numbers, one per unit: a vector, not a matrix. The heatmap is a grid only because it puts the ",
        String(ctx.T), " steps side by side: one column per step, one row per unit."],
      ["Unit 0 counts the a's of the current sentence: ", heading({ t: 7 }), ", the pinned cell (pink square) holds c = ",
        readout("c"), ", about 4."],
    ],
  },
  {
    title: "f near 1 keeps, f near 0 wipes",
    view: { t: 8, unit: 0 },
    target: () => panel("f"),
    also: () => panel("c"),
    text: (ctx) => [
      ["The forget gate f is a vector too: one number between 0 and 1 per unit. The cell keeps f times what it held: ",
        sub("c", "t"), " = ", sub("f", "t"), " ⊙ ", sub("c", "t−1"), " + (what is written)."],
      ["At a letter f = ", num(plain(ctx.run.layers[0].f[7][0]), "api"), " (yellow): keep. At the '.', unit 0's f = ",
        readout("f"), " (dark purple): the ", num(plain(ctx.run.layers[0].c[7][0]), "api"),
        " it held is wiped, and c = ", readout("c"), " (a white column in the cell-state heatmap)."],
    ],
  },
  {
    title: "One dial per unit",
    view: { t: 8, unit: 3 },
    target: () => $("#selection-text"),
    also: () => panel("f"),
    text: () => [
      ["⊙ multiplies unit by unit. At the same '.', unit 3 (it counts sentences) has f = ", readout("f"),
        ": it keeps its count and adds this '.', so c = ", readout("c"), "."],
      ["One step, four dials: units 0 to 2 forget, unit 3 remembers. Click any cell to read its numbers here."],
    ],
  },
  {
    title: "Who sets f: a one-layer network",
    view: () => ({ t: 8, unit: 0, view: views("step") ? "step" : null }),
    target: () => views("step") ?? openEquations(),
    text: (ctx) => {
      const p = ctx.run.layers[0].parts?.f;
      const [input, recurrent, bias, pre] = p
        ? [p.input[8][0], p.recurrent[8][0], p.bias[0], p.pre[8][0]]
        : [NaN, NaN, NaN, NaN];
      return [
        [sub("f", "t"), " = σ(", sub("W", "f"), sub("x", "t"), " + ", sub("U", "f"), sub("h", "t−1"), " + ",
          sub("b", "f"), ") is a one-layer neural network: put ", sub("h", "t−1"), " and ", sub("x", "t"),
          " side by side, multiply by one weight matrix, add a bias. That gives one score per unit."],
        ["Unit 0 at the '.': ", ...sum([[input, ["from ", sub("x", "t")]], [recurrent, ["from ", sub("h", "t−1")]],
          [bias, ["bias"]]]), " = ", num(signed(pre), "api"),
          ", and σ turns that score into f = ", readout("f"), " (", num(ctx.run.layers[0].f[8][0].toPrecision(3), "api"),
          " unrounded: σ never quite reaches 0). At a letter the ", sub("x", "t"),
          " part is 0, the score +10, and f ≈ 1."],
        ["Why both? What to forget can depend on what is read now (a '.') and on what the memory holds (",
          sub("h", "t−1"), "). This hand-built counter only needs ", sub("x", "t"), "; trained LSTMs use both."],
      ];
    },
  },
  {
    title: "Why a sigmoid: a dial, not a switch",
    view: () => ({ t: 7, unit: 1, x: "fb-10", view: views("step") ? "step" : null }),
    target: () => curve() ?? panel("f"),
    also: () => (curve() ? panel("f") : $("#selection-text")),
    text: (ctx) => {
      const p = ctx.run.layers[0].parts?.f;
      return [
        ["A score can be any number; σ squashes it into (0, 1): very negative gives almost 0 (wipe), very positive almost 1 (keep), and in between it keeps a share.",
          curve() ? " The outlined curve is σ." : ""],
        ["Here the tour lowered f's bias by 10 (a what-if): at a letter the score is ",
          num(p ? signed(p.pre[7][1]) : "—", "api"), ", so f = ", readout("f"),
          " and each step keeps half. Unit 1 (it counts characters) stalls at c = ", readout("c"), " instead of ",
          num(plain(ctx.plain.layers[0].c[7][1]), "api"), "."],
        ["Smooth also means learnable: gradient descent nudges W, U and b a little at a time; an on/off switch would give it no slope to follow."],
      ];
    },
  },
  {
    title: "Your turn",
    view: () => ({ t: 8, unit: 0, x: "f1", view: views("whatif") ? "whatif" : null }),
    target: () => views("whatif") ?? visible($("#what-if-banner")) ?? panel("c"),
    also: () => $("#sequence"),
    text: (ctx) => [
      ["The forget gate is now off (f ≡ 1, as in the first LSTM of 1997). At the '.', f = ", readout("f"),
        " and unit 0 keeps c = ", readout("c"), ": the next sentence's a's pile on top, c = ",
        num(plain(ctx.run.layers[0].c[ctx.T - 1][0]), "api"), " at the end. Without a gate that can close, the memory cannot reset."],
      ["Your turn: type a sentence in the Sequence box at the top, or click any cell. Ending the tour removes its what-ifs."],
    ],
  },
];

// The step view's gate curve (static/views/step.js), when that view shows one.
const curve = () => $("section.views .curve-svg")?.closest(".step-block") ?? null;
const visible = (node) => (node && !node.hidden ? node : null);

function openEquations() {
  const details = $("details.equations");
  if (details) details.open = true;
  return details;
}

export const stateOf = (step) => ({
  model: MODEL,
  text: TEXT,
  layer: 0,
  ...(typeof step.view === "function" ? step.view() : step.view),
});

