// The page's one store: every change of the view state passes through update(), which writes the
// address bar (the only place that does) and tells the subscribers what to redraw. Back and Forward
// feed the store too. main.js draws; the tour and the views change the state only through here.
//
//   get()                      the current state (the keys of static/spec.json's state)
//   update(changes, options)   merge changes in; options:
//     history  "push" (a new history entry), "replace" (rewrite the current one), "none"
//     redraw   "run" (run again and draw everything), "rows" (the heatmaps' rows only, same run),
//              "pin" (the pinned cell, readout and view), "none"
//   subscribe(fn)              fn(state, {redraw, history, changes, source}) after each change;
//                              source: "update" or "popstate". Returns a function that unsubscribes.

import { currentState, toQuery } from "./state.js";

let state = currentState();
const subscribers = new Set();

export const get = () => state;

export function subscribe(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

export function update(changes, { history = "push", redraw = "run" } = {}) {
  state = { ...state, ...changes };
  writeUrl(history);
  tell({ redraw, history, changes, source: "update" });
}

function tell(how) {
  for (const fn of [...subscribers]) fn(state, how);
}

// Any change made on a share link's page leads to the plain page, which the query describes.
function writeUrl(history) {
  if (history === "none") return;
  const url = `/?${toQuery(state)}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (history === "push") window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}

window.addEventListener("popstate", () => {
  state = currentState();
  tell({ redraw: "run", history: "none", changes: state, source: "popstate" });
});
