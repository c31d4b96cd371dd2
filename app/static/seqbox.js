// The sequence box: it grows with its text (up to style.css's max-height, then scrolls), and the
// pinned step is marked in it by a mirror behind the transparent textarea: the same text in the
// same font and wrapping, invisible but for the pinned step's background. Text only, never markup.

import SPEC from "./spec.json" with { type: "json" };

const STEPS = new RegExp(SPEC.inputs.steps, "g");

// [start, end) of each step of what was typed: one per character for a text model, per word
// (split on spaces) for a word model; a vector model's steps are separated by ';' or new lines,
// or (one number per step, one line) by the numbers themselves (static/inputs.js's grammar).
export function stepSpans(typed, kind, size = 1) {
  if (kind === "text") return Array.from({ length: typed.length }, (_, k) => [k, k + 1]);
  const words = (text, from) => [...text.matchAll(/[^\s,]+/g)].map((m) => [from + m.index, from + m.index + m[0].length]);
  if (kind === "words") return [...typed.matchAll(/\S+/g)].map((m) => [m.index, m.index + m[0].length]);
  const lines = [];
  let from = 0;
  for (const m of [...typed.matchAll(STEPS), { index: typed.length, 0: "" }]) {
    const line = typed.slice(from, m.index);
    if (line.trim()) lines.push([from, m.index]);
    from = m.index + m[0].length;
  }
  if (size === 1 && lines.length === 1) return words(typed.slice(...lines[0]), lines[0][0]);
  return lines.map(([a, b]) => {
    const inner = words(typed.slice(a, b), a); // the step without its surrounding spaces
    return inner.length ? [inner[0][0], inner[inner.length - 1][1]] : [a, b];
  });
}

// Fit the box's height to its text; style.css's max-height bounds it.
export function grow(box) {
  box.style.height = "auto";
  box.style.height = `${box.scrollHeight + box.offsetHeight - box.clientHeight}px`;
}

// The box's scroll offset as its scroll events last said, and the mirror's as last set: reading
// box.scrollTop or setting mirror.scrollTop after the page's DOM has changed lays the whole page
// out there and then (500 ms in a redraw of 2,000 steps), so markStep does neither when the two
// already agree.
const scrolled = new WeakMap();
const mirrored = new WeakMap();

function follow(mirror, box) {
  const top = scrolled.get(box) ?? 0;
  if (mirrored.get(mirror) === top) return;
  mirror.scrollTop = top;
  mirrored.set(mirror, top);
}

// Mirror the box's text with step t (null: none) marked; span from stepSpans.
export function markStep(mirror, box, span) {
  const text = box.value;
  if (!span) {
    mirror.replaceChildren(document.createTextNode(`${text}\n`));
  } else {
    const mark = document.createElement("mark");
    mark.textContent = text.slice(span[0], span[1]);
    mirror.replaceChildren(text.slice(0, span[0]), mark, `${text.slice(span[1])}\n`);
  }
  follow(mirror, box);
}

// Wire a box and its mirror: growing as the user types, the mirror following its scrolling.
export function wireSequence(box, mirror) {
  box.addEventListener("input", () => {
    grow(box);
    markStep(mirror, box, null); // the text moved: the old mark would point elsewhere
  });
  box.addEventListener("scroll", () => {
    scrolled.set(box, box.scrollTop); // in its own event, the layout is current
    follow(mirror, box);
  });
  window.addEventListener("resize", () => grow(box)); // a narrower box wraps into more lines
}
