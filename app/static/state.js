// The page's state and the URL: static/spec.json's state keys drive both reading and writing the
// query string (the server's share links take the same keys, app/service/links.py).

import SPEC from "./spec.json" with { type: "json" };

// How a key's value is read from the query and written back; a value that cannot be read, or an
// integer outside the spec's range for its key (as a share link would refuse it), is absent.
function typeOf(k) {
  if (k.type === "string") return { read: (s) => s, write: (v) => v };
  const [low, high] = [k.minimum ?? 0, k.maximum ?? Number.MAX_SAFE_INTEGER];
  const read = (s) => (/^[0-9]{1,16}$/.test(s) && Number(s) >= low && Number(s) <= high ? Number(s) : null);
  return { read, write: (v) => String(v) };
}

// key: the query parameter; the state property has the same name. Absent means null.
export const PROPS = SPEC.state.keys.map((k) => ({ key: k.key, type: typeOf(k) }));

// What the page shows for a key that is absent, where the spec names one (model, gate, by, gate2).
export const DEFAULTS = Object.fromEntries(
  SPEC.state.keys.filter((k) => k.default !== undefined).map((k) => [k.key, k.default]),
);

// Every key of the state, null where `partial` has none: a whole state, to replace another.
export function whole(partial = {}) {
  return Object.fromEntries(PROPS.map(({ key }) => [key, partial[key] ?? null]));
}

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
