// The output row under the heatmaps: what the model predicts after reading each step, from the
// run's `outputs` (its head's softmax) and `targets` (the task's truth, computed by the server).
// A language model (labels equal to its vocabulary) shows its five likeliest next characters and
// the probability it gave the one that came next; a classifier shows its class and whether it
// is right. One column per step in a strip that scrolls sideways; the pinned step is marked.

import { showToken } from "./heatmap.js";
import { el } from "./views/draw.js";

const TOP = 5;

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

export class OutputRow {
  // root: the row's section; onPick(t): a step's column was clicked.
  constructor(root, onPick) {
    this.root = root;
    this.onPick = onPick;
    this.columns = [];
    this.pinned = null;
  }

  // Draw the row for run `data` of `model`; hidden when the model has no output layer.
  draw(data, model) {
    const out = data.outputs;
    this.root.hidden = !out;
    this.columns = [];
    this.pinned = null;
    if (!out) {
      this.root.replaceChildren();
      return;
    }
    const lm = predictsNext(model);
    const truth = data.targets?.classes ?? null;
    const strip = el("div", "out-strip");
    strip.tabIndex = 0;
    strip.setAttribute("role", "group");
    strip.setAttribute("aria-label", "Predictions, one column per step: scroll sideways");
    let right = 0;
    let asked = 0;
    let nextSum = 0;
    data.tokens.forEach((token, t) => {
      const col = el("div", "out-step");
      col.dataset.t = String(t);
      col.append(el("div", "out-read", showToken(token)));
      const top = topOf(out, t, lm ? TOP : 1);
      const want = truth?.[t] ?? null;
      if (want !== null) {
        asked += 1;
        if (top[0].k === want) right += 1;
      }
      if (lm) {
        const list = el("ol", "out-top");
        for (const { label, p } of top) {
          const li = el("li", label === out.labels[want] ? "out-is-next" : null);
          li.dataset.label = label;
          li.dataset.prob = String(p);
          li.style.setProperty("--p", String(p));
          li.append(el("span", "out-label", showToken(label)), el("span", "out-p", percent(p)));
          list.append(li);
        }
        col.append(list);
        const next = el("div", "out-next");
        if (want === null) next.textContent = "—";
        else {
          // the server's, for the right answer need not be among the top few sent
          const p = data.targets?.probs?.[t] ?? out.probs?.[t][want] ?? null;
          nextSum += p ?? 0;
          next.dataset.label = out.labels[want];
          next.dataset.prob = String(p);
          next.textContent = `${showToken(out.labels[want])} ${p === null ? "—" : percent(p)}`;
        }
        col.append(next);
      } else {
        const guess = el("div", "out-class", out.labels[top[0].k]);
        guess.dataset.label = out.labels[top[0].k];
        guess.dataset.prob = String(top[0].p);
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
      col.addEventListener("click", () => this.onPick(t));
      strip.append(col);
      this.columns.push(col);
    });
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
  }

  // Mark step t (or nothing) as pinned and bring it into the strip's view.
  pin(t) {
    if (this.pinned !== null) this.columns[this.pinned]?.classList.remove("out-pinned");
    this.pinned = t !== null && t < this.columns.length ? t : null;
    const col = this.pinned === null ? null : this.columns[this.pinned];
    if (!col) return;
    col.classList.add("out-pinned");
    const { strip } = this;
    const left = col.offsetLeft; // the strip is the columns' offset parent (style.css)
    if (left < strip.scrollLeft || left + col.offsetWidth > strip.scrollLeft + strip.clientWidth) {
      strip.scrollLeft = Math.max(0, left - strip.clientWidth / 2);
    }
  }
}
