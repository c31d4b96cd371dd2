// Talks to the JSON API; knows nothing of the page. Runs come in the compact encoding (compact.js).

import { MEDIA_TYPE, decodeRun } from "./compact.js";

export class ApiError extends Error {
  constructor(message, body) {
    super(message);
    this.body = body;
  }
}

// A busy server (503, every compute slot taken) says when to come back: the page waits that long,
// at most BUSY_WAIT_MAX seconds, and asks again, BUSY_TRIES times in all, unless the caller has
// given up (its signal aborts the wait too). Other errors are answered at once.
const BUSY_TRIES = 4;
const BUSY_WAIT_MAX = 5;

function pause(seconds, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * 1000);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function request(url, options = {}) {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url, options);
    if (response.status !== 503 || attempt === BUSY_TRIES) return answer(response);
    const seconds = Number(response.headers.get("Retry-After"));
    await pause(Math.min(BUSY_WAIT_MAX, seconds > 0 ? seconds : 1), options.signal);
  }
}

async function answer(response) {
  let body = null;
  if (response.ok && response.headers.get("Content-Type")?.startsWith(MEDIA_TYPE)) {
    return decodeRun(await response.arrayBuffer()); // a refusal is JSON whatever was asked
  }
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered ${response.status} without JSON`, null);
  }
  if (!response.ok) {
    throw new ApiError(body && typeof body.error === "string" ? body.error : `error ${response.status}`, body);
  }
  return body;
}

export const listModels = () => request("/api/models").then((b) => b.models);

export const getModel = (id) => request(`/api/models/${encodeURIComponent(id)}`);

// body: {model, text} or {model, inputs}; signal: an AbortSignal so that a newer run cancels this one.
// compact: ask for the compact encoding (float16 arrays, a fifth of the JSON's bytes); the answer is
// decoded into the JSON's shape, its `precision` "float16" (exact numbers come from /api/step).
export function run(body, signal, compact = false) {
  const accept = compact ? `${MEDIA_TYPE}, application/json;q=0.5` : "application/json";
  return request("/api/run", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: accept },
    body: JSON.stringify(body),
    signal,
  });
}

// body: a run's body with the step `t` and `layer` to explain; answers POST /api/step's JSON.
export const explainStep = (body) =>
  request("/api/step", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });

// state: the page's view state (its query keys); answers {id, url, created, state}.
export const createLink = (state) =>
  request("/api/links", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(state),
  });

// form: FormData with the file under "weights" and the description fields.
export const uploadModel = (form) => request("/api/models", { method: "POST", body: form });

// One gate of one layer entry's weights (GET /api/models/{id}/weights?gate=&layer=), as JSON.
export const getWeights = (id, gate, layer) =>
  request(`/api/models/${encodeURIComponent(id)}/weights?gate=${encodeURIComponent(gate)}&layer=${layer}`);

// body: {model, text, patterns}; answers POST /api/analyze's JSON (a long text summarised per unit).
export const analyzeText = (body) =>
  request("/api/analyze", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });

// Trainings (POST /api/train and its sub-resources). settings: {task, hidden, seed, steps, lr,
// forget_bias, recurrent_decay, …}, left-out ones the task's recipe's; answers {id, state,
// settings, events}, the events' URL to open as an EventSource.
const json = (method, body) => ({
  method,
  headers: { "Content-Type": "application/json" },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

export const startTraining = (settings) => request("/api/train", json("POST", settings));

export const trainingState = (id) => request(`/api/train/${encodeURIComponent(id)}`);

// action: "pause", "resume" or "step" (one training step, then paused).
export const controlTraining = (id, action) => request(`/api/train/${encodeURIComponent(id)}/${action}`, json("POST"));

export const stopTraining = (id) => request(`/api/train/${encodeURIComponent(id)}`, { method: "DELETE" });

// step: the snapshot to keep (null: the newest); answers {id: "up-…", url, created, step, model}.
export const saveTraining = (id, step) =>
  request(`/api/train/${encodeURIComponent(id)}/model`, json("POST", step === null ? undefined : { step }));
