// Train view: train a small LSTM on a task and watch it learn (views/training.js runs the
// trainings and makes the newest snapshot the page's model, so that the heatmaps and every view
// redraw from its weights). Drawn here: the buttons, the status in the API's words, what the gates
// did in words quoted from the snapshots, charts of loss and held-out accuracy (two trainings
// overlaid when forget bias 0 and 1 are compared, with the step each reached 99 %), a scrubber over
// the snapshots received and the timeline of the gates that matter (views/trainchart.js), then the
// settings (views/trainform.js). Every number shown is the API's.

import { update } from "../store.js";
import { shown } from "../shown.js";
import { el, field, num } from "./draw.js";
import { COLOURS, gateTimeline, lossCharts } from "./trainchart.js";
import { body, form, readForm } from "./trainform.js";
import { ENDED, act, begin, current, follow, life, reached, running, save, wanted } from "./training.js";

// What survives the view's redraws (host.js draws the view anew on every change).
const kept = {
  form: null, // the settings typed: {task, text, hidden, seed, fb, decay, lr, steps}
  fromLink: false, // the URL held a training's settings: offer to replay it
  unit: null, // the unit the timeline follows; null: the one the server picks (f differs most)
  els: null, // this drawing's live parts, updated in place as events come
  watch: null, // the preset's button
  rebuild: false, // the form must be drawn anew (a preset filled it): no update in place
};

life.changed = () => paint();

// Start the settings' training, or one per forget bias in `fbs`, one after the other.
function start(fbs = [kept.form.fb]) {
  kept.fromLink = false;
  kept.unit = null;
  begin(
    fbs.map((fb) => body(kept.form, fb)),
    kept.form.decay,
  );
}

export const train = {
  key: "train",
  label: "Train",
  firstOnPhone: true, // its buttons above the heatmaps they redraw (main.js, style.css)
  about: "Train an LSTM here and watch its gates learn: the page shows each snapshot of its weights",
  request: () => ({}),
  // A new snapshot redraws the page many times a second: the view is brought up to date in
  // place, so that a button is never replaced under a click and the form keeps what is typed.
  update(container, ctx) {
    if (kept.rebuild || !kept.els || !container.contains(kept.els.controls)) return false;
    life.pageModel = ctx.model;
    paint();
    return true;
  },
  render(container, ctx) {
    kept.rebuild = false;
    if (kept.form === null) {
      kept.form = readForm(ctx.state);
      kept.fromLink = ctx.state.task !== null;
    }
    life.pageModel = ctx.model;
    const note = el(
      "p",
      "help",
      "Trainings run on the server, one per address at a time; a restart of the server loses trainings in " +
        "progress (saved models stay). Closing this page stops yours.",
    );
    const live = el("div", "train-live");
    kept.els = {
      controls: el("div", "train-controls"),
      buttons: null, // built at the first paint, then updated in place
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
      kept.els.reached,
      kept.els.charts,
      kept.els.scrub.box,
      el(
        "p",
        "help",
        "The forget gate f multiplies the cell's memory at every step: near 1 it keeps it, near 0 it wipes it. " +
          "Nobody sets its weights: training does.",
      ),
      kept.els.timeline,
    );
    // what happens first (the buttons, what is measured, the charts), then the settings
    container.append(presets(), live, form(kept.form), note);
    paint();
  },
};

function presets() {
  const box = el("div", "train-presets");
  const watch = button("train-preset", "Watch the forget gate learn to close", () => {
    Object.assign(kept.form, { task: "reset-count", hidden: "8", seed: "0", fb: "1", decay: "on", lr: "", steps: "" });
    start();
    kept.rebuild = true;
    update({}, { history: "none", redraw: "pin" }); // the form anew, with the preset's settings
  });
  watch.disabled = running();
  kept.watch = watch;
  const words = el("p", "help", "reset-count, H = 8, seed 0, the recipe's settings: does f learn to close at '.' and open at letters?");
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
    life.showing = k === run.snaps.length - 1 && running() ? "newest" : run.snaps[k].step;
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
  els.charts.replaceChildren(...(life.runs.some((r) => r.snaps.length) ? lossCharts(life.runs, mark) : []));
  paintReached();
  paintScrub(run, snap);
  paintTimeline(run, mark);
  els.words.textContent = run ? words(run, snap) : "";
}

// The buttons, built once per drawing of the view.
function controlButtons() {
  const paused = () => current()?.state === "paused";
  const buttons = {
    go: button("train-start", "Start", () => start()),
    pause: button("train-pause", "Pause", () => act(paused() ? "resume" : "pause")),
    step: button("train-step", "Step", () => act("step")),
    stop: button("train-stop", "Stop", () => act("stop")),
    saveIt: button("train-save", "Save", save),
    compare: button("train-compare", "Compare forget bias 0 and 1", () => start(["0", "1"])),
    newest: button("train-newest", "Show the training", () => {
      life.showing = running() ? "newest" : (current()?.snaps.at(-1)?.step ?? null);
      follow();
      paint();
    }),
  };
  kept.els.controls.replaceChildren(...Object.values(buttons));
  return buttons;
}

function paintControls(run) {
  const live = running();
  kept.els.buttons ??= controlButtons();
  const { go, pause, step, stop, saveIt, compare, newest } = kept.els.buttons;
  go.textContent = kept.fromLink ? "Replay this training" : "Start";
  pause.textContent = run?.state === "paused" ? "Resume" : "Pause";
  if (kept.watch) kept.watch.disabled = live;
  go.disabled = compare.disabled = live || life.queue.length > 0;
  pause.disabled = step.disabled = stop.disabled = !live || run.state === "starting";
  saveIt.disabled = !run?.snaps.length;
  newest.hidden = !run?.snaps.length || shown() !== null;
  if (run) kept.els.controls.dataset.training = run.id; // the training's id, for tools and tests
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
  if (life.message) {
    const said = el("span", "error train-error", life.message);
    said.setAttribute("role", "alert");
    status.append(status.childNodes.length && parts.length ? " " : "", said);
  }
  if (life.saved) {
    const link = el("a", null, life.saved.url);
    link.href = life.saved.url;
    link.id = "train-saved";
    status.append(
      el("br"),
      `Saved step ${life.saved.step} as ${life.saved.id}: `,
      link,
      " (works after a restart; Share makes a short link to it)",
    );
  } else if (run && shown()) {
    status.append(el("br"), "A share link needs a saved model: Save first.");
  }
}

const pct = (x) => `${(100 * x).toFixed(1)} %`;

function paintReached() {
  const items = life.runs.map((run, k) => {
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
  if (document.activeElement !== range || life.showing === "newest") range.value = String(at);
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
  const pick = unitPicker(run.settings.hidden);
  pick.options[0].textContent = `the server's pick (f differs most): ${run.snaps.at(-1).unit}`;
  pick.value = kept.unit === null ? "" : String(kept.unit);
  const legend = el("ul", "train-legend");
  for (const s of series) {
    const item = el("li", null, s.label);
    item.style.setProperty("--line", s.colour);
    if (s.dash) item.classList.add("dashed");
    legend.append(item);
  }
  const choice = kept.els.pickField;
  if (box.firstChild !== choice) box.replaceChildren(choice, chart, legend);
  else {
    // the choice stays where it is (moved, it would lose the keyboard and close its menu)
    while (box.childNodes.length > 1) box.lastChild.remove();
    box.append(chart, legend);
  }
}

// The timeline's unit choice, kept across paints (a list rebuilt under an open menu would close it).
function unitPicker(hidden) {
  if (kept.els.pick?.options.length === hidden + 1) return kept.els.pick;
  const pick = el("select");
  pick.id = "train-unit";
  pick.append(new Option("the server's pick", ""));
  for (let u = 0; u < hidden; u++) pick.append(new Option(String(u), String(u)));
  pick.addEventListener("change", () => {
    kept.unit = pick.value === "" ? null : Number(pick.value);
    paint();
  });
  kept.els.pick = pick;
  kept.els.pickField = field("Unit", pick);
  return pick;
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
