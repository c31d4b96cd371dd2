// What-ifs in the URL: the list of interventions POST /api/run takes, written in one query key
// (x) with only characters a URL never escapes (letters, digits, ".", "-", "_"):
//
//   f1          f ≡ 1 at every step, unit and layer (the forget gate off)
//   f0          f ≡ 0 (no memory at all)
//   fb1         f's pre-activation + 1 (the forget bias of Jozefowicz et al. 2015); fb-0.5 lowers it
//   f0.2t5u3l0  f = 0.2 at step 5, unit 3, layer 0 only; t, u and l are each optional, in that order
//   f1_ib-1     several, applied in order, joined by "_"
//
// static/spec.json holds the grammar, the gates' ranges and the bounds; the server reads the same
// file (app/service/whatifs.py) and refuses with the same words.

import SPEC from "./spec.json" with { type: "json" };

const { gates, maxBiasAdd: MAX_BIAS_ADD, max: MAX_ITEMS, join: JOIN } = SPEC.whatifs;
export const GATE_NAMES = Object.fromEntries(Object.entries(gates).map(([g, v]) => [g, v.name]));
export const GATE_RANGES = Object.fromEntries(Object.entries(gates).map(([g, v]) => [g, v.range]));
const ITEM = new RegExp(SPEC.whatifs.item);
export const GRAMMAR = SPEC.whatifs.grammar;

// "f1_fb1" -> [{gate: "f", value: 1}, {gate: "f", bias_add: 1}]; "" -> []. Throws an Error that
// names the key and the item at fault.
export function parseInterventions(text) {
  if (text === null || text === undefined || text === "") return [];
  const items = text.split(JOIN);
  if (items.length > MAX_ITEMS) throw new Error(`x: ${items.length} what-ifs; at most ${MAX_ITEMS}`);
  return items.map((item, n) => {
    const m = ITEM.exec(item);
    if (!m) throw new Error(`x: what-if ${n + 1}, "${item}", cannot be read: ${GRAMMAR}`);
    const [, gate, bias, number, t, unit, layer] = m;
    const v = Number(number);
    const iv = { gate };
    if (bias) {
      if (!(Math.abs(v) <= MAX_BIAS_ADD)) {
        throw new Error(`x: "${item}": a shift of the pre-activation lies within ±${MAX_BIAS_ADD}; ${number} is outside it`);
      }
      iv.bias_add = v;
    } else {
      const [lo, hi] = GATE_RANGES[gate];
      if (!(v >= lo && v <= hi)) {
        throw new Error(`x: "${item}": the ${GATE_NAMES[gate]} takes values in [${lo}, ${hi}]; ${number} is outside it`);
      }
      iv.value = v;
    }
    if (t !== undefined) iv.t = Number(t);
    if (unit !== undefined) iv.unit = Number(unit);
    if (layer !== undefined) iv.layer = Number(layer);
    return iv;
  });
}

// The inverse: a list of interventions (as the API takes them) -> "f1_fb1", or null for none.
export function formatInterventions(list) {
  if (!list || list.length === 0) return null;
  return list
    .map((iv) => {
      const number = iv.bias_add !== undefined && iv.bias_add !== null ? `b${iv.bias_add}` : `${iv.value}`;
      const at = [["t", iv.t], ["u", iv.unit], ["l", iv.layer]]
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}${v}`)
        .join("");
      return `${iv.gate}${number}${at}`;
    })
    .join(JOIN);
}

export const everywhere = (iv) => [iv.t, iv.unit, iv.layer].every((v) => v === undefined || v === null);

const signed = (x) => (x < 0 ? `− ${-x}` : `+ ${x}`);

// Where an intervention applies, in words: "" for everywhere, else " at t = 5, unit 3, layer 0".
export function where(iv) {
  const parts = [];
  if (iv.t !== undefined && iv.t !== null) parts.push(`t = ${iv.t}`);
  if (iv.unit !== undefined && iv.unit !== null) parts.push(`unit ${iv.unit}`);
  if (iv.layer !== undefined && iv.layer !== null) parts.push(`layer ${iv.layer}`);
  return parts.length ? ` at ${parts.join(", ")}` : "";
}

// One intervention in a learner's words: "f ≡ 1 (forget gate off)", "f = 0.2 at t = 5, unit 3".
export function describe(iv) {
  if (iv.bias_add !== undefined && iv.bias_add !== null) {
    return `${iv.gate}'s bias ${signed(iv.bias_add)}${where(iv)}`;
  }
  if (everywhere(iv)) {
    const named = iv.gate === "f" && iv.value === 1 ? " (forget gate off)" : iv.gate === "f" && iv.value === 0 ? " (forget gate shut)" : "";
    return `${iv.gate} ≡ ${iv.value}${named}`;
  }
  return `${iv.gate} = ${iv.value}${where(iv)}`;
}

// The banner above the heatmaps while what-ifs are active, so that altered heatmaps never pass
// for the model's own. text: the state's x (possibly unreadable); remove(): drop them all.
export function showBanner(node, text, remove) {
  node.replaceChildren();
  node.hidden = !text;
  if (!text) return;
  const words = document.createElement("p");
  const strong = document.createElement("strong");
  strong.textContent = "What if? ";
  let list;
  try {
    list = parseInterventions(text);
  } catch {
    list = null;
  }
  words.append(
    strong,
    list
      ? `These heatmaps show an altered run, not the model's own: ${list.map(describe).join("; ")}. ` +
          "The What if? tab compares it with the original."
      : "The what-ifs in the address cannot be read (see the message above).",
  );
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Remove";
  button.setAttribute("aria-label", "Remove the what-ifs and show the model's own run");
  button.addEventListener("click", remove);
  node.append(words, button);
}
