// The page's state and the URL: one table drives both reading and writing the query string.

const int = {
  read: (s) => (/^\d{1,6}$/.test(s) ? Number(s) : null),
  write: (v) => String(v),
};
const str = { read: (s) => s, write: (v) => v };

// key: the query parameter; the state property has the same name. Absent means null.
export const PROPS = [
  { key: "model", type: str },
  { key: "pin", type: str }, // the model's version, as a share link pinned it
  { key: "text", type: str }, // the sequence of a text model, as typed
  { key: "inputs", type: str }, // the numbers of a vector model, as typed
  { key: "layer", type: int }, // the pinned cell: layer, time step, unit
  { key: "t", type: int },
  { key: "unit", type: int },
  { key: "view", type: str }, // the explanation view shown under the heatmaps (static/views)
  { key: "gate", type: str }, // step view: the gate its bars and curve show (f, i, g, o; absent: f)
  { key: "from", type: int }, // memory view: the step s whose cell state is followed
  { key: "spans", type: str }, // memory view: the span list's order ("short", "long"; absent: by unit)
  { key: "x", type: str }, // what-ifs applied to the run, as static/interventions.js writes them
  { key: "span", type: str }, // find view: the steps selected, "a-b" inclusive
  { key: "by", type: str }, // find view: the array ranked (f, i, g, o, c, h; absent: h)
  { key: "sort", type: str }, // find view: the heatmaps' row order ("rank", "forget", "variance"; absent: by unit)
  { key: "top", type: int }, // find view: the heatmaps show only the first k rows of that order
  { key: "model2", type: str }, // compare view: B's model (absent: A's)
  { key: "text2", type: str }, // compare view: B's sequence, as typed (absent: A's)
  { key: "x2", type: str }, // compare view: B's what-ifs, in the encoding of x
  { key: "gate2", type: str }, // compare view: the array drawn for A and B (f, i, g, o, c, h; absent: f)
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

// A share link's page (/l/<id>) carries its state in the document rather than in the query.
const linked = document.getElementById("link-state");
export const LINK = linked ? { id: linked.dataset.id, state: JSON.parse(linked.textContent) } : null;

// The state the address bar shows: a share link's, or the query string's.
export function currentState() {
  if (LINK && window.location.pathname === `/l/${LINK.id}`) return readUrl(`?${toQuery(LINK.state)}`);
  return readUrl();
}

// Write the state to the address bar: push a history entry, or replace the current one. Any
// change made on a share link's page leads to the plain page, which the query describes.
export function writeUrl(state, { push = true } = {}) {
  const url = `/?${toQuery(state)}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}
