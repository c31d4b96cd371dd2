// The pinned step's parts and cell update, asked of POST /api/step: a small answer however long
// the run (its T × H parts would exceed the answer limit at 1000 × 256, and the main run need not
// carry them). Answers are kept per (run, layer, step), so moving back to a step costs nothing.

import { explainStep } from "../api.js";

const kept = new Map(); // key -> answer (or {error})
const LIMIT = 64;
let asking = null;

// The run's data with the pinned layer's `parts`, `update` and the `gate_curve` filled in for the
// pinned step only (indexed by t, as the run's arrays are), or null while the server is asked;
// ctx.refresh() draws the view again once the answer is in.
export function withStep(ctx) {
  const { layer, t } = ctx.pinned;
  const key = JSON.stringify([ctx.sent, layer, t]);
  const answer = kept.get(key);
  if (answer === undefined) {
    if (asking !== key) {
      asking = key;
      explainStep({ ...ctx.sent, include: undefined, t, layer })
        .then((a) => a, (err) => ({ error: err.message }))
        .then((a) => {
          if (kept.size >= LIMIT) kept.clear();
          kept.set(key, a);
          if (asking === key) ctx.refresh();
        });
    }
    return null;
  }
  if (answer.error) return { error: answer.error };
  const at = (row) => ({ [t]: row });
  const parts = {};
  for (const [g, p] of Object.entries(answer.gates)) {
    parts[g] = { input: at(p.input), recurrent: at(p.recurrent), bias: p.bias, pre: at(p.pre) };
    if (p.shift.some((v) => v !== 0)) parts[g].shift = at(p.shift);
  }
  const layers = ctx.data.layers.map((L, k) =>
    k === layer ? { ...L, parts, update: { kept: at(answer.kept), written: at(answer.written) } } : L,
  );
  return { ...ctx.data, layers, gate_curve: answer.gate_curve };
}
