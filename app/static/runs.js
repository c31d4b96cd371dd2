// Runs: the body of POST /api/run made in one place (runBody), and one cache of answers keyed by
// that body (cachedRun), shared by the heatmaps, the views and the tour. A run the page shows
// again (Back, a view's baseline that equals the main run, a tour step seen before) costs nothing.
// Large runs come in the compact encoding (compact.js), decoded into the JSON's shape.

import { run } from "./api.js";
import { parseSteps } from "./inputs.js";

// The body of a run of model `info` ({id, kind, size}): typed is the sequence as typed (text, or
// numbers that parseSteps reads, which throws an Error in words); whatIfs, a list of interventions;
// extra, keys a view adds (e.g. {include: ["parts"]}). Keys in one order, so that equal runs have
// equal bodies.
export function runBody(info, { typed, pin = null, whatIfs = [], extra = {} }) {
  const body = { model: info.id };
  if (pin) body.pin = pin;
  Object.assign(body, extra);
  if (whatIfs.length) body.interventions = whatIfs;
  if (info.kind !== "vector") body.text = typed; // characters or words
  else body.inputs = parseSteps(typed, info.size);
  // Not a key of the body (JSON.stringify skips it): how to ask for the answer.
  Object.defineProperty(body, "compact", { value: values(info, body) >= COMPACT_FROM });
  return body;
}

// From this many numbers in the gates and states (T × H × entries × 6), a run is asked in the
// compact encoding (float16, a fifth of the bytes: 2,000 steps × 128 units is 16.6 MB of JSON,
// 3.1 MB compact). Below it, about half a megabyte of JSON, the numbers the views print come exact.
export const COMPACT_FROM = 50_000;

function values(info, body) {
  if (!info.hidden_size) return 0; // a model the page knows only by id: ask for JSON
  const steps = body.inputs?.length ?? (info.kind === "words" ? body.text.split(/\s+/).filter(Boolean).length : body.text.length);
  return steps * info.hidden_size * (info.layers ?? 1) * (info.directions ?? 1) * 6;
}

// The answer to `body` in JSON, whatever its size: for the files of numbers a long run exports
// (its heatmaps came float16). Not kept: a download asks once.
export const exactRun = (body) => run(body);

// A few answers at most: a run of 1000 steps × 256 units is tens of megabytes in the page.
const LIMIT = 4;
// JSON of the body -> {answer, controller, waiting}, the most recently used last. `waiting` counts
// the callers still waiting for the answer; the request is aborted only when the last has left.
const kept = new Map();

// The answer to `body`, asked once however many ask. signal (optional) aborts this caller's wait:
// its promise rejects with an AbortError, the others' do not, and the request itself is aborted
// (so that the server may drop it) once nobody waits for it. A refusal or an abort is not kept:
// asking again asks the server again.
export function cachedRun(body, signal) {
  const key = JSON.stringify(body);
  let entry = kept.get(key);
  if (entry) {
    kept.delete(key);
  } else {
    const controller = new AbortController();
    entry = { answer: run(body, controller.signal, body.compact === true), controller, waiting: 0 };
    const mine = entry;
    entry.answer.catch(() => kept.get(key) === mine && kept.delete(key));
    if (kept.size >= LIMIT) kept.delete(kept.keys().next().value);
  }
  kept.set(key, entry);
  return waitFor(entry, signal);
}

function waitFor(entry, signal) {
  entry.waiting += 1;
  return new Promise((resolve, reject) => {
    let waiting = true;
    const leave = () => {
      if (!waiting) return false; // left already: by an abort, or when the answer came
      waiting = false;
      entry.waiting -= 1;
      signal?.removeEventListener("abort", abort);
      return true;
    };
    const abort = () => {
      if (!leave()) return;
      if (entry.waiting === 0) entry.controller.abort(); // nobody waits now; a settled request ignores it
      reject(new DOMException("the run was no longer wanted", "AbortError"));
    };
    if (signal?.aborted) {
      abort();
      return;
    }
    signal?.addEventListener("abort", abort, { once: true });
    entry.answer.then(
      (answer) => leave() && resolve(answer),
      (err) => leave() && reject(err),
    );
  });
}
