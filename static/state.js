// The page's state and the URL: one table drives both reading and writing the query string.

const int = {
  read: (s) => (/^\d{1,6}$/.test(s) ? Number(s) : null),
  write: (v) => String(v),
};
const str = { read: (s) => s, write: (v) => v };

// key: the query parameter; the state property has the same name. Absent means null.
export const PROPS = [
  { key: "model", type: str },
  { key: "text", type: str }, // the sequence of a text model, as typed
  { key: "inputs", type: str }, // the numbers of a vector model, as typed
  { key: "layer", type: int }, // the pinned cell: layer, time step, unit
  { key: "t", type: int },
  { key: "unit", type: int },
];

export function readUrl(search = window.location.search) {
  const params = new URLSearchParams(search);
  const state = {};
  for (const { key, type } of PROPS) {
    state[key] = params.has(key) ? type.read(params.get(key)) : null;
  }
  return state;
}

export function toQuery(state) {
  const params = new URLSearchParams();
  for (const { key, type } of PROPS) {
    if (state[key] !== null && state[key] !== undefined) params.set(key, type.write(state[key]));
  }
  return params.toString();
}

// Write the state to the address bar: push a history entry, or replace the current one.
export function writeUrl(state, { push = true } = {}) {
  const url = `${window.location.pathname}?${toQuery(state)}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}
