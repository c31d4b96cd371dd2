// The keyboard on the heatmaps: where a key moves the pinned cell. ←/→ a step, ↑/↓ a row (the
// rows as drawn: sorted or cut by the Find view when `order` is given), Home/End the first and
// last step, Escape unpins. Knows nothing of the page: main.js applies the answer.

const MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));

// key: KeyboardEvent.key; T, H, layers: the run's size; state: the page's; order: the rows of the
// pinned layer as drawn, or null. Answers {l, t, u} to pin, "unpin", or null for a key not ours.
export function cellAfterKey(key, { T, H, layers, state, order }) {
  const l = Math.min(state.layer ?? 0, layers - 1);
  const pinned = state.t !== null && state.unit !== null;
  if (key === "Escape") return pinned ? "unpin" : null;
  const t = pinned ? state.t : 0;
  const u = pinned ? state.unit : (order?.[0] ?? 0);
  if (key === "Home" || key === "End") return { l, t: key === "Home" ? 0 : T - 1, u };
  if (!(key in MOVES)) return null;
  if (!pinned) return { l, t, u }; // the first key pins the first cell drawn
  const [dt, du] = MOVES[key];
  if (!order) return { l, t: clamp(t + dt, 0, T - 1), u: clamp(u + du, 0, H - 1) };
  const row = order.indexOf(u);
  return { l, t: clamp(t + dt, 0, T - 1), u: order[row < 0 ? 0 : clamp(row + du, 0, order.length - 1)] };
}
