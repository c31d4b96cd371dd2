// Small DOM and SVG helpers for the views: elements are built with text, never with markup.

const SVG = "http://www.w3.org/2000/svg";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A value of run `data` as the views print it: 4 decimals when the run came exact; from a float16
// run (relative error up to 2^-12 ≈ 2.4e-4), 3 significant digits, the most it keeps to within a
// quarter of the last one.
export function printed(data, x) {
  return data.precision === "float16" ? Number(x.toPrecision(3)).toString() : x.toFixed(4);
}

// A number as the views print it: 4 significant decimals, a true minus sign.
export function num(x, digits = 4) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  return x.toFixed(digits).replace("-", "−");
}
