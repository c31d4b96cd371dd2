// Train view: train a small LSTM on a task (POST /api/train) and watch it learn. The training's
// snapshots come as Server-Sent Events; while it trains, the page shows the newest one in place of
// its own model (shown.js: `tr-<training>-<step>`, never in the URL), so that the heatmaps and
// every view redraw from the weights as they are now, one run at a time: the next snapshot is
// asked for only once the previous one has drawn. Charts of loss and held-out accuracy, a timeline
// of the gates that matter, a scrubber over the snapshots received, a comparison of forget bias 0
// and 1, Save (a model by content hash, ?model=up-…). Closing the page closes the stream, which
// stops the training on the server. Every number shown is the API's.

import { controlTraining, getModel, saveTraining, startTraining, stopTraining } from "../api.js";
import { show, shown } from "../shown.js";
import { get, update } from "../store.js";
import { el, field, num } from "./draw.js";
import { COLOURS, accuracyPoints, gateTimeline, lossCharts } from "./trainchart.js";

const TASKS = [
  ["reset-count", "Reset count: letters since the last '.'"],
  ["bracket-depth", "Bracket depth: how deep in ( )"],
  ["recall", "Recall: the first character, at the end"],
  ["parity", "Parity: an odd number of 1s so far?"],
  ["text", "Predict the next character of a text you paste"],
];
const MIN_TEXT = 420; // characters a pasted text needs (the server's texttask says why)
const ENDED = ["finished", "stopped", "failed"];
const TARGET = 0.99; // held-out accuracy the comparison counts the steps to
const SETTLE_WAIT_MS = 15000; // a drawing that never settles does not stop the page following

// What survives the view's redraws (host.js draws the view anew on every change).
const kept = {
  form: null, // the settings typed: {task, text, hidden, seed, fb, decay, lr, steps}
  fromLink: false, // the URL held a training's settings: offer to replay it
  runs: [], // trainings of this page: [{id, label, settings, state, error, final, snaps, fill}]
  queue: [], // a comparison's trainings still to start (one per address at a time)
  source: null, // the EventSource of the training under way
  showing: null, // what the page's model is: null (its own), "newest", or a snapshot's step
  switching: false, // a snapshot is being fetched and drawn: the next waits for it
  unit: null, // the unit the timeline follows; null: the one the server picks (f differs most)
  message: null, // the latest refusal, in the API's words
  saved: null, // the answer of the latest Save
  lastTask: null, // the task of this page's previous training
  model: null, // the model info the page drew last (ctx.model)
  els: null, // this drawing's live parts, updated in place as events come
};

export const train = {
  key: "train",
  label: "Train",
  about: "Train an LSTM here and watch its gates learn: the page shows each snapshot of its weights",
  request: () => ({}),
  render(container, ctx) {
    if (kept.form === null) readForm(ctx.state);
    kept.model = ctx.model;
    const note = el(
      "p",
      "help",
      "Trainings run on the server, one per address at a time; a restart of the server loses trainings in " +
        "progress (saved models stay). Closing this page stops yours.",
    );
    const live = el("div", "train-live");
    kept.els = {
      controls: el("div", "train-controls"),
      status: el("p", "train-status"),
      words: el("p", "train-words"),
      charts: el("div", "train-charts"),
      reached: el("ul", "train-reached"),
      scrub: scrubber(),
      timeline: el("div", "train-timeline"),
    };
    kept.els.status.id = "train-status";
    kept.els.status.setAttribute("role", "status");
    live.append(
      kept.els.controls,
      kept.els.status,
      kept.els.words,
      kept.els.charts,
      kept.els.reached,
      kept.els.scrub.box,
      kept.els.timeline,
    );
    container.append(presets(), form(), live, note);
    paint();
  },
};

// --- The settings ---------------------------------------------------------------------------

function readForm(state) {
  kept.fromLink = state.task !== null;
  kept.form = {
    task: state.task ?? "reset-count",
    text: "",
    hidden: String(state.hidden ?? 8),
    seed: String(state.seed ?? 0),
    fb: state.fb ?? "1",
    decay: state.decay ?? "on",
    lr: state.lr ?? "",
    steps: state.steps === null ? "" : String(state.steps),
  };
}

function input(id, value, attrs, onValue) {
  const node = el("input");
  node.id = id;
  Object.assign(node, attrs);
  node.value = value;
  node.addEventListener("input", () => onValue(node.value));
  return node;
}

function form() {
  const f = kept.form;
  const box = el("div", "train-form");
  const task = el("select");
  task.id = "train-task";
  for (const [key, name] of TASKS) task.append(new Option(name, key, false, key === f.task));
  const text = el("textarea");
  text.id = "train-text";
  text.rows = 4;
  text.spellcheck = false;
  text.value = f.text;
  text.placeholder = `Paste a text of at least ${MIN_TEXT} characters`;
  const count = el("span", "help");
  const counted = () => {
    count.textContent = `${f.text.length} characters (at least ${MIN_TEXT})`;
  };
  counted();
  text.addEventListener("input", () => {
    f.text = text.value;
    counted();
  });
  const textBox = el("div", "train-textbox");
  textBox.append(field("Text to predict", text), count);
  textBox.hidden = f.task !== "text";
  task.addEventListener("change", () => {
    f.task = task.value;
    textBox.hidden = f.task !== "text";
  });
  const fb = el("select");
  fb.id = "train-fb";
  for (const v of ["0", "1"]) fb.append(new Option(v, v, false, v === f.fb));
  fb.addEventListener("change", () => {
    f.fb = fb.value;
  });
  const decay = el("input");
  decay.id = "train-decay";
  decay.type = "checkbox";
  decay.checked = f.decay === "on";
  decay.addEventListener("change", () => {
    f.decay = decay.checked ? "on" : "off";
  });
  const row = el("div", "train-fields");
  row.append(
    field("Hidden size H", input("train-hidden", f.hidden, { type: "number", min: 1, max: 64 }, (v) => (f.hidden = v))),
    field("Seed", input("train-seed", f.seed, { type: "number", min: 0 }, (v) => (f.seed = v))),
    field("Forget bias at start", fb),
    field("Recurrent decay (the recipe's)", decay),
    field("Learning rate", input("train-lr", f.lr, { type: "text", placeholder: "the recipe's", size: 8 }, (v) => (f.lr = v))),
    field("Steps", input("train-steps", f.steps, { type: "number", min: 1, placeholder: "the recipe's" }, (v) => (f.steps = v))),
  );
  box.append(field("Task", task), textBox, row);
  return box;
}

// A typed number as the API reads it; what is not a number goes as typed, for the API to refuse.
const number = (typed) => (typed.trim() !== "" && Number.isFinite(Number(typed)) ? Number(typed) : typed);

function body(f, fb = f.fb) {
  const out = { task: f.task, hidden: number(f.hidden), seed: number(f.seed), forget_bias: number(fb) };
  if (f.task === "text") out.text = f.text;
  if (f.decay === "off") out.recurrent_decay = 0;
  if (f.lr.trim() !== "") out.lr = number(f.lr);
  if (f.steps.trim() !== "") out.steps = number(f.steps);
  return out;
}

// --- Starting, following, stopping ------------------------------------------------------------

function presets() {
  const box = el("div", "train-presets");
  const watch = button("train-preset", "Watch the forget gate learn to close", () => {
    Object.assign(kept.form, { task: "reset-count", hidden: "8", seed: "0", fb: "1", decay: "on", lr: "", steps: "" });
    begin([kept.form.fb]);
    update({}, { history: "none", redraw: "pin" }); // the form anew, with the preset's settings
  });
  watch.disabled = running();
  const words = el(
    "p",
    "help",
    "reset-count, H = 8, seed 0, the recipe's settings. The forget gate f multiplies the cell's memory at every " +
      "step: near 1 it keeps the count, near 0 it forgets it. Nobody sets its weights: watch training close it at '.' " +
      "and open it at letters.",
  );
  box.append(watch, words);
  return box;
}

function button(id, text, onClick) {
  const b = el("button", null, text);
  b.type = "button";
  b.id = id;
  b.addEventListener("click", onClick);
  return b;
}

const current = () => kept.runs.at(-1) ?? null;
const running = () => current() !== null && !ENDED.includes(current().state);

// Start one training per forget bias in `fbs`, one after the other (a comparison has two).
function begin(fbs) {
  kept.runs = [];
  kept.queue = fbs.map((fb) => body(kept.form, fb));
  kept.saved = null;
  kept.message = null;
  kept.unit = null;
  next();
}

async function next() {
  const settings = kept.queue.shift();
  if (!settings) return;
  let answer;
  try {
    answer = await startTraining(settings);
  } catch (err) {
    kept.queue = [];
    kept.message = err.message;
    paint();
    return;
  }
  const fill = kept.lastTask !== answer.settings.task && modelTask() !== answer.settings.task;
  const run = {
    id: answer.id,
    label: `forget bias ${answer.settings.forget_bias}`,
    settings: answer.settings,
    state: answer.state,
    error: null,
    final: null,
    snaps: [],
    fill, // the page's sequence becomes the task's example when its first snapshot is shown
  };
  kept.lastTask = answer.settings.task;
  kept.runs.push(run);
  kept.showing = "newest";
  kept.fromLink = false;
  writeSettings(answer.settings);
  listen(run, answer.events);
  paint();
}

// The task of the model the page shows (a built-in task's, or a training's), if it has one.
function modelTask() {
  return shown()?.info.task ?? kept.model?.task ?? null;
}

// The training's settings into the URL (a link that replays it), without a history entry.
function writeSettings(s) {
  const lr = String(s.lr);
  update(
    {
      task: s.task,
      hidden: s.hidden,
      seed: s.seed,
      fb: s.forget_bias === 0 || s.forget_bias === 1 ? String(s.forget_bias) : null,
      decay: kept.form.decay,
      lr: /^[0-9]{1,3}([.][0-9]{1,12})?$/.test(lr) ? lr : null,
      steps: s.steps,
    },
    { history: "replace", redraw: "none" },
  );
}

function listen(run, url) {
  kept.source?.close();
  const source = new EventSource(url);
  kept.source = source;
  source.addEventListener("snapshot", (event) => {
    const snap = JSON.parse(event.data);
    if (snap.step > (run.snaps.at(-1)?.step ?? -1)) run.snaps.push(snap);
    paint();
    follow();
  });
  source.addEventListener("state", (event) => {
    const said = JSON.parse(event.data);
    run.state = said.state;
    run.error = said.error ?? null;
    run.final = said.final_accuracy ?? null;
    if (ENDED.includes(said.state)) {
      source.close(); // else the browser would open it again
      if (kept.source === source) kept.source = null;
      if (said.state === "finished") next();
      else kept.queue = [];
      if (kept.showing === "newest") kept.showing = run.snaps.at(-1)?.step ?? null;
    }
    paint();
  });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return; // the browser tries again by itself
    if (!ENDED.includes(run.state)) {
      run.state = "stopped";
      kept.message = "the training's event stream closed: the server may have restarted (trainings in progress do not survive a restart)";
    }
    paint();
  });
}

// The snapshot the page should show now, if any.
function wanted() {
  const run = current();
  if (!run || kept.showing === null) return null;
  if (kept.showing === "newest") return run.snaps.at(-1) ?? null;
  return run.snaps.find((s) => s.step === kept.showing) ?? null;
}

// Show the wanted snapshot as the page's model, one at a time: the next is asked for only once
// the page has drawn this one (main.js counts its runs in body[data-settled]).
async function follow() {
  if (kept.switching) return;
  const snap = wanted();
  if (!snap || shown()?.id === snap.model) return;
  kept.switching = true;
  const run = current();
  try {
    const info = await getModel(snap.model);
    if (wanted() !== snap && kept.showing !== "newest") throw new Moved(); // scrubbed elsewhere meanwhile
    if (run.fill) {
      run.fill = false;
      update({ text: info.example, pin: null, x: null }, { history: "replace", redraw: "none" });
    } else if (get().pin !== null || get().x !== null) {
      update({ pin: null, x: null }, { history: "replace", redraw: "none" }); // the state model's
    }
    const before = settledCount();
    show(info, () => {
      kept.showing = null; // another model was chosen: the page shows it, the training goes on
      paint();
    });
    update({}, { history: "none", redraw: "run" });
    await settledAfter(before);
  } catch (err) {
    if (!(err instanceof Moved)) {
      kept.message = err.message;
      kept.showing = null;
    }
  } finally {
    kept.switching = false;
  }
  paint();
  follow();
}

class Moved extends Error {} // the snapshot fetched is no longer the one wanted

const settledCount = () => Number(document.body.dataset.settled ?? 0);

function settledAfter(before) {
  return new Promise((resolve) => {
    const done = () => {
      observer.disconnect();
      clearTimeout(timer);
      resolve();
    };
    const observer = new MutationObserver(() => settledCount() > before && done());
    observer.observe(document.body, { attributes: true, attributeFilter: ["data-settled"] });
    const timer = setTimeout(done, SETTLE_WAIT_MS);
    if (settledCount() > before) done();
  });
}

async function act(what) {
  const run = current();
  if (!run) return;
  kept.message = null;
  try {
    if (what === "stop") {
      kept.queue = [];
      await stopTraining(run.id);
    } else await controlTraining(run.id, what);
  } catch (err) {
    kept.message = err.message;
  }
  paint();
}

async function save() {
  const run = current();
  const snap = wanted() ?? run?.snaps.at(-1);
  if (!run || !snap) return;
  kept.message = null;
  try {
    kept.saved = await saveTraining(run.id, snap.step);
  } catch (err) {
    kept.message = err.message;
    paint();
    return;
  }
  kept.showing = null;
  update({ model: kept.saved.id, pin: null, x: null }, { history: "push", redraw: "run" });
}

// --- Drawing ----------------------------------------------------------------------------------

function scrubber() {
  const box = el("div", "train-scrub");
  const range = el("input");
  range.type = "range";
  range.id = "train-scrub";
  range.min = "0";
  range.step = "1";
  const label = el("span", "help train-scrub-label");
  // the page's model changes when the scrubber is let go (or moved by keys): while it is dragged,
  // only the marks move, so that a redraw of the page never takes the scrubber from the hand
  range.addEventListener("input", () => {
    const snap = current()?.snaps[Number(range.value)];
    if (snap) label.textContent = `step ${snap.step}`;
  });
  range.addEventListener("change", () => {
    const run = current();
    const k = Number(range.value);
    if (!run?.snaps[k]) return;
    kept.showing = k === run.snaps.length - 1 && running() ? "newest" : run.snaps[k].step;
    paint();
    follow();
  });
  box.append(field("Snapshot shown", range, range), label);
  return { box, range, label };
}

function paint() {
  const els = kept.els;
  if (!els?.controls.isConnected) return;
  const run = current();
  paintControls(run);
  paintStatus(run);
  const snap = wanted();
  const mark = shown() && snap ? snap.step : null;
  els.charts.replaceChildren(...(kept.runs.some((r) => r.snaps.length) ? lossCharts(kept.runs, mark) : []));
  paintReached();
  paintScrub(run, snap);
  paintTimeline(run, mark);
  els.words.textContent = run ? words(run, snap) : "";
}

function paintControls(run) {
  const live = running();
  const paused = run?.state === "paused";
  const start = button("train-start", kept.fromLink ? "Replay this training" : "Start", () => begin([kept.form.fb]));
  const pause = button("train-pause", paused ? "Resume" : "Pause", () => act(paused ? "resume" : "pause"));
  const step = button("train-step", "Step", () => act("step"));
  const stop = button("train-stop", "Stop", () => act("stop"));
  const saveIt = button("train-save", "Save", save);
  const compare = button("train-compare", "Compare forget bias 0 and 1", () => begin(["0", "1"]));
  const newest = button("train-newest", "Show the training", () => {
    kept.showing = running() ? "newest" : (run?.snaps.at(-1)?.step ?? null);
    follow();
    paint();
  });
  start.disabled = compare.disabled = live || kept.queue.length > 0;
  pause.disabled = step.disabled = stop.disabled = !live || run.state === "starting";
  saveIt.disabled = !run?.snaps.length;
  newest.hidden = !run?.snaps.length || (shown() !== null && kept.showing === "newest");
  const focused = document.activeElement?.id;
  if (run) kept.els.controls.dataset.training = run.id; // the training's id, for tools and tests
  kept.els.controls.replaceChildren(start, pause, step, stop, saveIt, compare, newest);
  if (focused && kept.els.controls.querySelector(`#${focused}`)) document.getElementById(focused).focus();
}

function paintStatus(run) {
  const parts = [];
  if (run) {
    const last = run.snaps.at(-1);
    const of = run.settings.steps;
    parts.push(`${run.label}: ${run.state}${last ? `, step ${last.step} of ${of}` : ""}`);
    if (last) parts.push(`${num(last.seconds, 1)} s of training`);
    if (run.final !== null) parts.push(`final held-out accuracy ${pct(run.final)}`);
    if (run.error) parts.push(run.error);
    if (shown()) parts.push(`the page shows ${shown().id}`);
  }
  const status = kept.els.status;
  status.replaceChildren(parts.join(" · "));
  if (kept.message) {
    const said = el("span", "error train-error", kept.message);
    said.setAttribute("role", "alert");
    status.append(status.childNodes.length && parts.length ? " " : "", said);
  }
  if (kept.saved) {
    const link = el("a", null, kept.saved.url);
    link.href = kept.saved.url;
    link.id = "train-saved";
    status.append(
      el("br"),
      `Saved step ${kept.saved.step} as ${kept.saved.id}: `,
      link,
      " (works after a restart; Share makes a short link to it)",
    );
  } else if (run && shown()) {
    status.append(el("br"), "A share link needs a saved model: Save first.");
  }
}

const pct = (x) => `${(100 * x).toFixed(1)} %`;

// The step at which a training's held-out accuracy first reached 99 %, or null.
function reached(run) {
  return accuracyPoints(run).find(([, a]) => a >= TARGET)?.[0] ?? null;
}

function paintReached() {
  const items = kept.runs.map((run, k) => {
    const step = reached(run);
    const item = el("li");
    item.dataset.run = String(k);
    item.style.setProperty("--run", COLOURS[k % COLOURS.length]);
    const ended = ENDED.includes(run.state);
    item.textContent = `${run.label}: ${step !== null ? `99 % held-out accuracy at step ${step}` : ended ? "99 % not reached" : "99 % not reached yet"}`;
    return item;
  });
  kept.els.reached.replaceChildren(...items);
}

function paintScrub(run, snap) {
  const { box, range, label } = kept.els.scrub;
  box.hidden = !run?.snaps.length;
  if (!run?.snaps.length) return;
  range.max = String(run.snaps.length - 1);
  const at = snap ? run.snaps.indexOf(snap) : run.snaps.length - 1;
  if (document.activeElement !== range || kept.showing === "newest") range.value = String(at);
  label.textContent = `step ${run.snaps[at].step} (${run.snaps.length} snapshots received)`;
}

const gatesOf = (task) => (task === "recall" ? ["f", "i"] : ["f"]); // recall also writes: its i

function unitOf(run) {
  return kept.unit ?? run.snaps.at(-1)?.unit ?? 0;
}

function paintTimeline(run, mark) {
  const box = kept.els.timeline;
  if (!run?.snaps.length) {
    box.replaceChildren();
    return;
  }
  const unit = unitOf(run);
  const { chart, series } = gateTimeline(run, unit, gatesOf(run.settings.task), mark);
  const pick = el("select");
  pick.id = "train-unit";
  pick.append(new Option(`the server's pick (f differs most): ${run.snaps.at(-1).unit}`, "", false, kept.unit === null));
  for (let u = 0; u < run.settings.hidden; u++) pick.append(new Option(String(u), String(u), false, kept.unit === u));
  pick.addEventListener("change", () => {
    kept.unit = pick.value === "" ? null : Number(pick.value);
    paint();
  });
  const legend = el("ul", "train-legend");
  for (const s of series) {
    const item = el("li", null, s.label);
    item.style.setProperty("--line", s.colour);
    if (s.dash) item.classList.add("dashed");
    legend.append(item);
  }
  const focused = document.activeElement?.id === pick.id;
  box.replaceChildren(field("Unit", pick), chart, legend);
  if (focused) pick.focus();
}

// What the gates did, in words, quoted from the snapshots received: the first and the one shown.
function words(run, snap) {
  const first = run.snaps[0];
  if (!first) return run.state === "starting" ? "Starting the training…" : "";
  const shownSnap = snap ?? run.snaps.at(-1);
  const unit = unitOf(run);
  const conditions = Object.keys(first.gates.f);
  const value = (s, c) => num(s.gates.f[c]?.[unit], 2);
  // "At step 0, f of unit 2 at '.' is 0.61 and at a letter 0.66; by step 100: 0.13 and 0.80."
  const [c0, ...others] = conditions;
  let text = `At step ${first.step}, f of unit ${unit} ${c0} is ${value(first, c0)}`;
  for (const c of others) text += ` and ${c} ${value(first, c)}`;
  if (shownSnap !== first) {
    text += `; by step ${shownSnap.step}: ${conditions.map((c) => value(shownSnap, c)).join(" and ")}`;
  }
  text += ".";
  if (shownSnap.accuracy !== null) {
    text += ` Held-out accuracy ${pct(shownSnap.accuracy)} (measured at step ${shownSnap.accuracy_step}).`;
  }
  return text;
}
