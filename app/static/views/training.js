// The Train view's trainings (views/train.js draws them): start one or two (forget bias 0, then 1)
// with POST /api/train, follow each one's snapshots as Server-Sent Events, pause, step, stop and
// save it. While it trains, the page shows the newest snapshot in place of its own model
// (shown.js: `tr-<training>-<step>`, never in the URL), so that the heatmaps and every view redraw
// from the weights as they are now, one run at a time: the next snapshot is asked for only once
// the page has drawn the previous one. The scrubber shows any snapshot received instead. Closing
// the page closes the stream, which stops the training on the server.

import { controlTraining, getModel, saveTraining, startTraining, stopTraining } from "../api.js";
import { show, shown } from "../shown.js";
import { get, update } from "../store.js";
import { accuracyPoints } from "./trainchart.js";

export const ENDED = ["finished", "stopped", "failed"];
const TARGET = 0.99; // held-out accuracy the comparison counts the steps to
const SETTLE_WAIT_MS = 15000; // a drawing that never settles does not stop the page following

// What lives as long as the page does.
export const life = {
  runs: [], // trainings of this page: [{id, label, settings, state, error, final, snaps, fill}]
  queue: [], // bodies of the trainings still to start (a comparison's second)
  decay: "on", // the URL's decay key for them
  source: null, // the EventSource of the training under way
  showing: null, // what the page's model is: null (its own), "newest", or a snapshot's step
  switching: false, // a snapshot is being fetched and drawn: the next waits for it
  message: null, // the latest refusal, in the API's words
  saved: null, // the answer of the latest Save
  lastTask: null, // the task of this page's previous training
  pageModel: null, // the model info the page drew last, for its task
  changed: () => {}, // the view redraws its live parts
};

export const current = () => life.runs.at(-1) ?? null;
export const running = () => current() !== null && !ENDED.includes(current().state);

// Start one training per body of POST /api/train in `bodies`, one after the other (a comparison
// has two: one training per address at a time); decay: the URL's "on" or "off" for them.
export function begin(bodies, decay) {
  life.runs = [];
  life.queue = [...bodies];
  life.decay = decay;
  life.saved = null;
  life.message = null;
  next();
}

async function next() {
  const settings = life.queue.shift();
  if (!settings) return;
  let answer;
  try {
    answer = await startTraining(settings);
  } catch (err) {
    life.queue = [];
    life.message = err.message;
    life.changed();
    return;
  }
  const fill = life.lastTask !== answer.settings.task && modelTask() !== answer.settings.task;
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
  life.lastTask = answer.settings.task;
  life.runs.push(run);
  life.showing = "newest";
  writeSettings(answer.settings);
  listen(run, answer.events);
  life.changed();
}

// The task of the model the page shows (a built-in task's, or a training's), if it has one.
function modelTask() {
  return shown()?.info.task ?? life.pageModel?.task ?? null;
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
      decay: life.decay,
      lr: /^[0-9]{1,3}([.][0-9]{1,12})?$/.test(lr) ? lr : null,
      steps: s.steps,
    },
    { history: "replace", redraw: "none" },
  );
}

function listen(run, url) {
  life.source?.close();
  const source = new EventSource(url);
  life.source = source;
  source.addEventListener("snapshot", (event) => {
    const snap = JSON.parse(event.data);
    if (snap.step > (run.snaps.at(-1)?.step ?? -1)) run.snaps.push(snap);
    life.changed();
    follow();
  });
  source.addEventListener("state", (event) => {
    const said = JSON.parse(event.data);
    run.state = said.state;
    run.error = said.error ?? null;
    run.final = said.final_accuracy ?? null;
    if (ENDED.includes(said.state)) {
      source.close(); // else the browser would open it again
      if (life.source === source) life.source = null;
      if (said.state === "finished") next();
      else life.queue = [];
      if (life.showing === "newest") life.showing = run.snaps.at(-1)?.step ?? null;
    }
    life.changed();
  });
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) return; // the browser tries again by itself
    if (!ENDED.includes(run.state)) {
      run.state = "stopped";
      life.message = "the training's event stream closed: the server may have restarted (trainings in progress do not survive a restart)";
    }
    life.changed();
  });
}

// The snapshot the page should show now, if any.
export function wanted() {
  const run = current();
  if (!run || life.showing === null) return null;
  if (life.showing === "newest") return run.snaps.at(-1) ?? null;
  return run.snaps.find((s) => s.step === life.showing) ?? null;
}

// Show the wanted snapshot as the page's model, one at a time: the next is asked for only once
// the page has drawn this one (main.js counts its runs in body[data-settled]).
export async function follow() {
  if (life.switching) return;
  const snap = wanted();
  if (!snap || shown()?.id === snap.model) return;
  life.switching = true;
  const run = current();
  try {
    const info = await getModel(snap.model);
    if (wanted() !== snap && life.showing !== "newest") throw new Moved(); // scrubbed elsewhere meanwhile
    if (run.fill) {
      run.fill = false;
      update({ text: info.example, pin: null, x: null }, { history: "replace", redraw: "none" });
    } else if (get().pin !== null || get().x !== null) {
      update({ pin: null, x: null }, { history: "replace", redraw: "none" }); // the state model's
    }
    const before = settledCount();
    show(info, () => {
      life.showing = null; // another model was chosen: the page shows it, the training goes on
      life.changed();
    });
    update({}, { history: "none", redraw: "run" });
    await settledAfter(before);
  } catch (err) {
    // following the newest, a snapshot the server let go meanwhile (it keeps a limited number,
    // thinning older ones) is passed over for the next; any other refusal is said, and ends it
    const passed = life.showing === "newest" && run.snaps.at(-1) !== snap;
    if (!(err instanceof Moved) && !passed) {
      life.message = err.message;
      life.showing = null;
    }
  } finally {
    life.switching = false;
  }
  life.changed();
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

// what: "pause", "resume", "step" or "stop".
export async function act(what) {
  const run = current();
  if (!run) return;
  life.message = null;
  try {
    if (what === "stop") {
      life.queue = [];
      await stopTraining(run.id);
    } else await controlTraining(run.id, what);
  } catch (err) {
    life.message = err.message;
  }
  life.changed();
}

// Save the snapshot shown (or the newest) as a model, and open it: ?model=up-…, a normal link.
export async function save() {
  const run = current();
  const snap = wanted() ?? run?.snaps.at(-1);
  if (!run || !snap) return;
  life.message = null;
  try {
    life.saved = await saveTraining(run.id, snap.step);
  } catch (err) {
    life.message = err.message;
    life.changed();
    return;
  }
  life.showing = null;
  update({ model: life.saved.id, pin: null, x: null }, { history: "push", redraw: "run" });
}

// The step at which a training's held-out accuracy first reached 99 %, or null.
export function reached(run) {
  return accuracyPoints(run).find(([, a]) => a >= TARGET)?.[0] ?? null;
}
