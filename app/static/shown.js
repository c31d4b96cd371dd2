// The model the page shows in place of its state's `model`: a training's snapshot
// (tr-<training>-<step>, views/train.js), which lives only while the server keeps its training.
// It never enters the state, so the address bar, Back and Forward and share links keep the
// state's model (a share link would refuse a snapshot: it must be saved first). It ends when the
// state's model changes (a model chosen, a saved one opened) or on Back and Forward, and then
// tells whoever showed it.

import { subscribe } from "./store.js";

let current = null; // {id, info, ended}: the snapshot's model id, its GET /api/models answer

export const shown = () => current;

// info: GET /api/models/{tr-…}'s answer, or null to end; ended(): called when something else ends it.
export function show(info, ended = () => {}) {
  current = info ? { id: info.id, info, ended } : null;
}

// Subscribed before main.js is (the views load first), so that main.js's redraw already sees it gone.
subscribe((_state, { changes, source }) => {
  if (!current || (source !== "popstate" && !("model" in changes))) return;
  const { ended } = current;
  current = null;
  ended();
});
