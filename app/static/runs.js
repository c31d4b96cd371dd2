// Runs: the body of POST /api/run made in one place (runBody), and one cache of answers keyed by
// that body (cachedRun), shared by the heatmaps, the views and the tour. A run the page shows
// again (Back, a view's baseline that equals the main run, a tour step seen before) costs nothing.

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
  if (info.kind === "text") body.text = typed;
  else body.inputs = parseSteps(typed, info.size);
  return body;
}

// A few answers at most: a run of 1000 steps × 256 units is tens of megabytes in the page.
const LIMIT = 4;
const kept = new Map(); // JSON of the body -> promise of the answer, the most recently used last

// The answer to `body`, asked once; signal (optional) aborts the request while it is the only one
// that asked. A refusal or an abort is not kept: asking again asks the server again.
export function cachedRun(body, signal) {
  const key = JSON.stringify(body);
  let answer = kept.get(key);
  if (answer) {
    kept.delete(key);
  } else {
    answer = run(body, signal);
    answer.catch(() => kept.get(key) === answer && kept.delete(key));
    if (kept.size >= LIMIT) kept.delete(kept.keys().next().value);
  }
  kept.set(key, answer);
  return answer;
}
