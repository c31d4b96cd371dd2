// The output row under the heatmaps: what the model predicts after reading each step, from the
// run's `outputs` (its head's softmax) and `targets` (the task's truth, computed by the server).
// A language model (labels equal to its vocabulary) shows its five likeliest next characters and
// the probability it gave the one that came next; a classifier shows its class and whether it
// is right. One column per step in a strip that scrolls sideways; the pinned step is marked.
// Only the columns in and near the strip's view exist (a spacer stands for those before them, the
// track's width for all): 2,000 steps of 19 elements each made 38,000 of the page's 40,455
// elements, and laying them out most of its first draw and of every redraw.

import { showToken } from "./heatmap.js";
import { el } from "./views/draw.js";

const TOP = 5;
// Every column is this many CSS pixels wide with its gap (outputs.css's --out-col is 2 less), so
// that where step t lies is t × PITCH, never read from the layout.
export const PITCH = 48;
const SPARE = 6; // columns built beyond each side of the view, so that a small scroll shows no gap

// True when the model predicts its own next token: its labels are its vocabulary, in order.
export const predictsNext = (model) => Boolean(model?.labels && model.vocab && model.labels.join("") === model.vocab);

// The run's extra keys for the output row: outputs for a model with a head, targets for a task.
export function outputsRequest(model) {
  if (!model?.labels) return {};
  // only the likeliest classes: 2,000 steps × 96 characters twice would crowd out the gates
  return { include: model.task ? ["outputs", "targets"] : ["outputs"], outputs_top: TOP };
}

// The `n` likeliest labels at step t of a run's outputs, as [{k, label, p}], likeliest first:
// from outputs.top when the run asked for it, else from the whole row of probs.
export function topOf(out, t, n = TOP) {
  if (out.top) {
    return out.top.index[t].slice(0, n).map((k, j) => ({ k, label: out.labels[k], p: out.top.probs[t][j] }));
  }
  const probs = out.probs[t];
  const order = probs.map((_p, k) => k).sort((a, b) => probs[b] - probs[a]);
  return order.slice(0, n).map((k) => ({ k, label: out.labels[k], p: probs[k] }));
}

const percent = (p) => (p >= 0.995 ? "99%" : p < 0.005 ? "<1%" : `${Math.round(p * 100)}%`);

// The row names beside the strip, laid out as a step's column is so that they line up.
function keyColumn(lm) {
  const col = el("div", "out-keys");
  col.append(el("div", "out-read", "read"));
  if (lm) {
    const list = el("ol", "out-top");
    for (let k = 0; k < TOP; k++) list.append(el("li", null, k === 0 ? `top ${TOP}` : "\u00a0"));
    col.append(list, el("div", "out-next", "next"));
  } else {
    col.append(el("div", "out-class", "predicts"), el("div", "out-p", "p"), el("div", "out-mark", "right?"));
  }
  return col;
}

// One step's column: what was read, then the top five and the next character, or the class,
// its probability and whether it is right. Hover text (title) says it in words.
function stepColumn(row, t) {
  const { data, out, lm, truth } = row;
  const col = el("div", "out-step");
  col.dataset.t = String(t);
  col.append(el("div", "out-read", showToken(data.tokens[t])));
  const top = topOf(out, t, lm ? TOP : 1);
  const want = truth?.[t] ?? null;
  if (lm) {
    const list = el("ol", "out-top");
    for (const { label, p } of top) {
      // one element a line: the probability is drawn by outputs.css from data-pct
      const li = el("li", label === out.labels[want] ? "out-is-next" : null, showToken(label));
      li.dataset.label = label;
      li.dataset.prob = String(p);
      li.dataset.pct = percent(p);
      li.style.setProperty("--p", String(p));
      list.append(li);
    }
    const next = el("div", "out-next");
    if (want === null) {
      next.textContent = "—";
      next.title = "nothing came after the last character";
    } else {
      // the server's, for the right answer need not be among the top few sent
      const p = data.targets?.probs?.[t] ?? out.probs?.[t][want] ?? null;
      next.dataset.label = out.labels[want];
      next.dataset.prob = String(p);
      next.textContent = `${showToken(out.labels[want])} ${p === null ? "—" : percent(p)}`;
      next.title = `came next: ${showToken(out.labels[want])}, given ${p === null ? "—" : percent(p)}`;
    }
    col.append(list, next);
  } else {
    const guess = el("div", "out-class", out.labels[top[0].k]);
    guess.dataset.label = out.labels[top[0].k];
    guess.dataset.prob = String(top[0].p);
    guess.title = `predicts ${out.labels[top[0].k]}`;
    const mark = el("div", "out-mark");
    if (want === null) {
      mark.textContent = "—";
      mark.title = "the task asks nothing at this step";
    } else {
      const ok = top[0].k === want;
      mark.dataset.right = String(ok);
      mark.textContent = ok ? "✓" : `✗ ${out.labels[want]}`;
      mark.title = ok ? "right" : `wrong: the answer is ${out.labels[want]}`;
      mark.setAttribute("aria-label", mark.title);
    }
    col.append(guess, el("div", "out-p", percent(top[0].p)), mark);
  }
  if (t === row.pinned) col.classList.add("out-pinned");
  return col;
}

// How often the first guess was right, and the mean probability of what came: from the run,
// without building a column.
function tally(data, out, truth, lm) {
  let [right, asked, nextSum] = [0, 0, 0];
  data.tokens.forEach((_token, t) => {
    const want = truth?.[t] ?? null;
    if (want === null) return;
    asked += 1;
    if (topOf(out, t, 1)[0].k === want) right += 1;
    if (lm) nextSum += data.targets?.probs?.[t] ?? out.probs?.[t][want] ?? 0;
  });
  return { right, asked, nextSum };
}

export class OutputRow {
  // root: the row's section; onPick(t): a step's column was clicked.
  constructor(root, onPick) {
    this.root = root;
    this.onPick = onPick;
    this.pinned = null;
    this.built = new Map(); // step → its column, for the steps in and near the view
    this.range = [0, 0];
    this.viewWidth = window.innerWidth; // the strip's, from the ResizeObserver once it has one
    this.frame = 0;
    this.resizes = new ResizeObserver(([entry]) => {
      this.viewWidth = entry.contentRect.width;
      this.render();
    });
  }

  // Draw the row for run `data` of `model`; hidden when the model has no output layer.
  draw(data, model) {
    const out = data.outputs;
    this.root.hidden = !out;
    this.pinned = null;
    this.built = new Map();
    this.range = [0, 0];
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (this.strip) this.resizes.unobserve(this.strip);
    this.strip = null;
    if (!out) {
      this.root.replaceChildren();
      return;
    }
    const lm = predictsNext(model);
    const truth = data.targets?.classes ?? null;
    Object.assign(this, { data, out, lm, truth, T: data.tokens.length });
    const strip = el("div", "out-strip");
    strip.tabIndex = 0;
    strip.setAttribute("role", "group");
    strip.setAttribute("aria-label", "Predictions, one column per step: scroll sideways");
    strip.dataset.steps = String(this.T);
    strip.style.setProperty("--out-col", `${PITCH - 2}px`);
    this.track = el("div", "out-track");
    this.track.style.width = `${this.T * PITCH}px`;
    this.track.style.setProperty("--out-rows", String(lm ? TOP + 2 : 4)); // its height (outputs.css)
    this.spacer = el("div", "out-spacer");
    this.track.append(this.spacer);
    strip.append(this.track);
    // one listener for every column, built or to come
    strip.addEventListener("click", (event) => {
      const col = event.target.closest?.(".out-step");
      if (col) this.onPick(Number(col.dataset.t));
    });
    strip.addEventListener("scroll", () => this.soon());
    const { right, asked, nextSum } = tally(data, out, truth, lm);
    const head = el("h3", null, "What the model predicts");
    const about = el("p", "help out-summary");
    if (lm) {
      about.textContent =
        `Under each character read: the ${TOP} characters the model finds likeliest to come next, ` +
        "and (bottom, bold when among them) the one that came." +
        (asked ? ` Its first guess was right at ${right} of ${asked} steps; the real next character got ${percent(nextSum / asked)} on average.` : "");
    } else {
      const task = data.targets?.asks ? ` (${data.targets.asks})` : "";
      about.textContent =
        `Under each step read: the class the model predicts${task} and its probability, ✓ when it is the task's answer, ✗ and the answer when not.` +
        (truth ? ` Right at ${right} of ${asked} steps asked.` : " The truth of this model's task is not known.");
    }
    const keys = keyColumn(lm);
    keys.setAttribute("aria-hidden", "true");
    const body = el("div", "out-body");
    body.append(keys, strip);
    this.root.replaceChildren(head, about, body);
    this.strip = strip;
    this.scroll = 0;
    this.render();
    this.resizes.observe(strip);
  }

  // Build the columns in and near the view at scroll offset `left` (default: the strip's), and
  // drop the others. Never reads the layout but for scrollLeft, and only when not given it.
  render(left = null) {
    if (!this.strip) return;
    if (left === null) left = this.strip.scrollLeft;
    this.scroll = left;
    const from = Math.max(0, Math.floor(left / PITCH) - SPARE);
    const to = Math.min(this.T, Math.ceil((left + this.viewWidth) / PITCH) + SPARE);
    if (from === this.range[0] && to === this.range[1]) return;
    this.range = [from, to];
    const built = new Map();
    const columns = [];
    for (let t = from; t < to; t++) {
      const col = this.built.get(t) ?? stepColumn(this, t);
      built.set(t, col);
      columns.push(col);
    }
    this.built = built;
    this.spacer.style.width = `${from * PITCH}px`;
    this.track.replaceChildren(this.spacer, ...columns);
  }

  // Render at the next animation frame (a scroll fires many events a frame).
  soon() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  // Mark step t (or nothing) as pinned and bring it into the strip's view. Where step t lies is
  // known (t × PITCH): its column is built there first, then the strip scrolled once.
  pin(t) {
    if (this.pinned !== null) this.built.get(this.pinned)?.classList.remove("out-pinned");
    this.pinned = this.strip && t !== null && t < this.T ? t : null;
    if (this.pinned === null) return;
    const left = this.pinned * PITCH;
    const { scroll, viewWidth } = this;
    if (left < scroll || left + PITCH > scroll + viewWidth) {
      const to = Math.max(0, Math.min(left - viewWidth / 2, this.T * PITCH - viewWidth));
      this.scroll = to;
      // built and scrolled at the next frame, once the page's other writes are done: the click
      // that pinned answers at once, and setting scrollLeft now would lay the page out once more
      const { strip } = this;
      cancelAnimationFrame(this.frame);
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render(to);
        strip.scrollLeft = to;
      });
    }
    this.built.get(this.pinned)?.classList.add("out-pinned"); // a column built later marks itself
  }
}
