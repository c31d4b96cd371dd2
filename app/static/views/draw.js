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

// A control with its label, as the views lay them out: <span class="field"><label>…</label>…</span>.
// The label is for the control (by its id); `beside` is what follows it (the control, or a row
// that holds it).
export function field(labelText, control, beside = control) {
  const label = el("label", null, labelText);
  label.htmlFor = control.id;
  const box = el("span", "field");
  box.append(label, beside);
  return box;
}

// A unit picker's options: each unit by number, and the card's name for it where it has one.
export function unitOptions(select, model, H, chosen) {
  for (let k = 0; k < H; k++) {
    const name = model?.units?.[k];
    select.append(new Option(name ? `${k}: ${name}` : String(k), String(k), false, k === chosen));
  }
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
