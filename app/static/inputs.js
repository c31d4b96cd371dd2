// Reads the numbers a vector model takes from what the user typed: steps separated by ';' or
// new lines, numbers within a step by commas or spaces. For a model that takes one number per
// step, a single line "0.5 1 -1" is three steps. The grammar is static/spec.json's "inputs",
// which the server reads too (app/service/links.py parse_inputs).

import SPEC from "./spec.json" with { type: "json" };

const STEPS = new RegExp(SPEC.inputs.steps);
const NUMBERS = new RegExp(SPEC.inputs.numbers);
const TRIM = new RegExp(SPEC.inputs.trim, "g"); // "g": both ends
const NUMBER = new RegExp(SPEC.inputs.number); // no hex, no "Infinity"

export function parseSteps(typed, size) {
  const lines = typed
    .split(STEPS)
    .map((s) => s.replace(TRIM, ""))
    .filter((s) => s.length > 0);
  let steps = lines.map((line) => line.split(NUMBERS).filter((s) => s.length > 0));
  if (size === 1 && steps.length === 1) steps = steps[0].map((n) => [n]);
  return steps.map((step, t) =>
    step.map((word) => {
      const value = Number(word);
      if (!NUMBER.test(word) || !Number.isFinite(value)) {
        throw new Error(`step ${t}: "${word}" is not a number`);
      }
      return value;
    }),
  );
}
