// Reads the numbers a vector model takes from what the user typed: steps separated by ';' or
// new lines, numbers within a step by commas or spaces. For a model that takes one number per
// step, a single line "0.5 1 -1" is three steps.

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i; // no hex, no "Infinity"

export function parseSteps(typed, size) {
  const lines = typed.split(/[;\n]/).map((s) => s.trim()).filter((s) => s.length > 0);
  let steps = lines.map((line) => line.split(/[\s,]+/).filter((s) => s.length > 0));
  if (size === 1 && steps.length === 1) steps = steps[0].map((n) => [n]);
  return steps.map((step, t) =>
    step.map((word) => {
      const value = Number(word);
      if (!DECIMAL.test(word) || !Number.isFinite(value)) {
        throw new Error(`step ${t}: "${word}" is not a number`);
      }
      return value;
    }),
  );
}
