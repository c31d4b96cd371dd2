// The guided tour: six short steps over the hand-built counter that answer "why does
// σ(W·[h(t−1), x(t)] + b) decide what the cell state forgets?". Each step is a real view: the tour
// puts its state into the page's store (static/store.js), which main.js draws, then points at
// one element with an outlined box and a popover. The numbers it quotes are read from the page's
// pinned readout, or from the API's answer for the same view; nothing here computes LSTM math.

import { getModel } from "./api.js";
import { LINK, toQuery, whole } from "./state.js";
import { get, subscribe, update } from "./store.js";
import { $, MODEL, STEPS, TEXT, answer, el, stateOf } from "./tour-steps.js";

const SEEN = "gatescope.tour"; // localStorage: "seen" once the tour was started or declined
const PHONE = window.matchMedia("(max-width: 699px)");

// --- Driving the page through its store ------------------------------------------------------

// Resolves when the page has finished a run it started after `before` (data-settled counts them).
function drawn(before) {
  const heatmaps = $("#heatmaps");
  const done = () => Number(document.body.dataset.settled ?? 0) > before && !heatmaps.hasAttribute("aria-busy");
  return new Promise((resolve) => {
    if (done()) return resolve();
    const watch = new MutationObserver(() => done() && finish());
    const timer = setTimeout(() => finish(), 10000); // the page shows its own error meanwhile
    function finish() {
      watch.disconnect();
      clearTimeout(timer);
      resolve();
    }
    watch.observe(document.body, { attributes: true, attributeFilter: ["data-settled"] });
    watch.observe(heatmaps, { attributes: true, attributeFilter: ["aria-busy"] });
  });
}

// Show `state` (the whole state: absent keys are cleared) through the page's store, and wait
// until the page has drawn it.
async function go(state, { push = true } = {}) {
  const before = Number(document.body.dataset.settled ?? 0);
  update(whole(state), { history: push ? "push" : "replace", redraw: "run" });
  await drawn(before);
}

// --- The popover ------------------------------------------------------------------------------

let current = -1; // the step shown, -1 when the tour is off
let pop = null;
let shown = 0; // counts show() calls: a slower, older one must not draw over a newer one

function popover() {
  const box = el("div", "tour-pop");
  box.id = "tour";
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-modal", "false");
  box.setAttribute("aria-labelledby", "tour-title");
  box.setAttribute("aria-describedby", "tour-body");
  box.tabIndex = -1;
  const close = el("button", "tour-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "End the tour");
  close.addEventListener("click", () => end());
  const back = el("button", "tour-back", "Back");
  back.type = "button";
  back.addEventListener("click", () => show(current - 1));
  const next = el("button", "tour-next", "Next");
  next.type = "button";
  next.addEventListener("click", () => (current === STEPS.length - 1 ? end() : show(current + 1)));
  // the close button comes last, so that Tab from the popover reaches Back and Next first
  box.append(el("p", "tour-count"), el("h2", "tour-title"), el("div", "tour-body"), el("div", "tour-nav", back, next), close);
  // ← and → turn the pages here, rather than move the heatmaps' pinned cell
  box.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(event.key)) return;
    event.stopPropagation();
    if (event.key === "ArrowLeft") show(current - 1);
    if (event.key === "ArrowRight" && current < STEPS.length - 1) show(current + 1);
  });
  box.querySelector(".tour-title").id = "tour-title";
  box.querySelector(".tour-body").id = "tour-body";
  document.body.append(box);
  return box;
}

function unmark() {
  for (const node of document.querySelectorAll(".tour-target, .tour-also")) {
    node.classList.remove("tour-target", "tour-also");
  }
}

// Outline the step's elements: again after every run, since the page redraws its panels.
function mark() {
  unmark();
  if (current < 0) return null;
  const step = STEPS[current];
  const target = step.target();
  step.also?.()?.classList.add("tour-also");
  target?.classList.add("tour-target");
  return target;
}

// Show step k: navigate to its view, or (after: a run count) wait for the run Back or Forward began.
async function show(k, { after = null } = {}) {
  if (k < 0 || k >= STEPS.length) return;
  const mine = ++shown;
  current = k;
  pop ??= popover();
  pop.setAttribute("aria-busy", "true");
  document.body.dataset.tourStep = String(k + 1);
  const step = STEPS[k];
  const state = stateOf(step);
  const [, result, plainRun] = await Promise.all([
    after !== null ? drawn(after) : shows(state) ? Promise.resolve() : go(state),
    answer(state),
    answer({}),
  ]);
  if (mine !== shown || current !== k) return;
  const heat = $('#heatmaps .panel[data-gate="c"] canvas.heat');
  words = { run: result, plain: plainRun, T: heat?.width ?? 0, H: heat?.height ?? 0 };
  fill();
  place(mark(), { scroll: true });
  pop.focus({ preventScroll: true });
}

// The popover's words for the current step, from the numbers the page and the API show now.
let words = null; // the current step's ctx: {run, plain, T, H}

function fill() {
  const k = current;
  const step = STEPS[k];
  const { run: result, plain: plainRun } = words;
  pop.querySelector(".tour-count").textContent = `Step ${k + 1} of ${STEPS.length}`;
  pop.querySelector(".tour-title").textContent = step.title;
  let paragraphs;
  try {
    paragraphs = result && plainRun ? step.text(words) : [["The numbers for this step could not be fetched."]];
  } catch {
    paragraphs = [["The numbers for this step could not be read."]];
  }
  pop.querySelector(".tour-body").replaceChildren(...paragraphs.map((parts) => el("p", null, ...parts)));
  pop.querySelector(".tour-back").disabled = k === 0;
  pop.querySelector(".tour-next").textContent = k === STEPS.length - 1 ? "Finish" : "Next";
  pop.removeAttribute("aria-busy");
}

const shows = (state) => toQuery(get()) === toQuery(state);

// Put the popover beside the target on a wide screen, where it hides neither the target nor the
// second outlined element, or docked at the bottom on a phone; scroll the target into sight
// (above the docked popover), with the second element too when both fit.
function place(target, { scroll = false } = {}) {
  if (!pop || current < 0) return;
  const margin = 8;
  const vw = document.documentElement.clientWidth;
  const vh = window.innerHeight;
  const also = document.querySelector(".tour-also");
  const docked = PHONE.matches || !target;
  pop.classList.toggle("docked", docked);
  if (docked) {
    pop.style.left = pop.style.top = "";
    if (scroll && target) {
      target.scrollIntoView({ block: "start" }); // also scrolls a panel of its own that holds it
      const room = vh - pop.offsetHeight - 3 * margin;
      const box = target.getBoundingClientRect();
      const both = also ? union(box, also.getBoundingClientRect()) : box;
      const shown = both.height < room ? both : box;
      window.scrollBy(0, shown.top - (shown.height < room ? Math.max(margin, (room - shown.height) / 2) : margin));
    }
    return;
  }
  if (scroll) {
    const box = target.getBoundingClientRect();
    if (box.top < margin || box.bottom > vh - margin) target.scrollIntoView({ block: "center" });
  }
  const box = target.getBoundingClientRect();
  const avoid = [box, ...(also ? [also.getBoundingClientRect()] : [])];
  const w = pop.offsetWidth;
  const h = pop.offsetHeight;
  const gap = 14;
  const clampY = (y) => Math.max(margin, Math.min(vh - h - margin, y));
  const clampX = (x) => Math.max(margin, Math.min(vw - w - margin, x));
  const spots = [
    box.right + gap + w <= vw - margin && [box.right + gap, clampY(box.top)],
    box.left - gap - w >= margin && [box.left - gap - w, clampY(box.top)],
    box.bottom + gap + h <= vh - margin && [clampX(box.left), box.bottom + gap],
    box.top - gap - h >= margin && [clampX(box.left), box.top - gap - h],
    [vw - w - margin, vh - h - margin],
    [margin, vh - h - margin],
  ].filter(Boolean);
  // the first spot that covers nothing outlined, else the one that covers least
  const covered = ([x, y]) => avoid.reduce((area, r) => area + overlap(r, { left: x, top: y, right: x + w, bottom: y + h }), 0);
  const [left, top] = spots.find((spot) => covered(spot) === 0) ??
    spots.reduce((best, spot) => (covered(spot) < covered(best) ? spot : best));
  pop.style.left = `${left}px`;
  pop.style.top = `${top}px`;
}

function union(a, b) {
  const top = Math.min(a.top, b.top);
  const bottom = Math.max(a.bottom, b.bottom);
  return { top, bottom, height: bottom - top };
}

const overlap = (a, b) =>
  Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left)) *
  Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));

function start() {
  remember();
  invitation?.remove();
  invitation = null;
  show(0);
}

// End the tour where it is, without the what-ifs it added (undo): the page shows the model's own run.
function end({ undo = true } = {}) {
  if (current < 0) return;
  const step = STEPS[current];
  current = -1;
  words = null;
  shown++;
  unmark();
  const focused = pop?.contains(document.activeElement);
  pop?.remove();
  pop = null;
  delete document.body.dataset.tourStep;
  const now = get();
  const added = stateOf(step).x;
  if (undo && added && now.x === added) go({ ...now, x: null }, { push: false });
  if (focused) document.getElementById("tour-start")?.focus({ preventScroll: true }); // never from a typist
}

// --- First visit --------------------------------------------------------------------------------

function remember() {
  try {
    window.localStorage.setItem(SEEN, "seen");
  } catch {
    // storage refused (a private window): the invitation may come back, nothing worse
  }
}

function seen() {
  try {
    return window.localStorage.getItem(SEEN) !== null;
  } catch {
    return true;
  }
}

// A first visit opens the plain page: no share link, no state but the default model and example.
async function plainVisit(initial) {
  if (LINK || window.location.pathname !== "/") return false;
  const extra = Object.entries(initial).filter(([key, v]) => v !== null && key !== "model" && key !== "text");
  if (extra.length || (initial.model !== null && initial.model !== MODEL)) return false;
  if (initial.text === null) return true;
  try {
    return initial.text === (await getModel(MODEL)).example;
  } catch {
    return false;
  }
}

let invitation = null;

function invite() {
  invitation = el("aside", "tour-invite");
  invitation.setAttribute("aria-label", "Tour invitation");
  const yes = el("button", null, "Start the tour");
  yes.type = "button";
  yes.addEventListener("click", start);
  const no = el("button", "secondary", "No thanks");
  no.type = "button";
  no.addEventListener("click", () => {
    remember();
    invitation.remove();
    invitation = null;
  });
  invitation.append(
    el("p", null, el("strong", null, "New here? "), "A 1-minute tour of how the forget gate decides what to forget."),
    el("div", "tour-nav", no, yes),
  );
  $("header.top").after(invitation);
}

function wire() {
  const button = el("button", "tour-button", "Tour");
  button.type = "button";
  button.id = "tour-start";
  button.setAttribute("aria-label", "Take the guided tour: how the forget gate decides what to forget");
  button.addEventListener("click", start);
  $("header.top")?.append(button);

  // Escape ends the tour before the heatmaps' own Escape (unpin) sees it.
  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Escape" || current < 0) return;
      event.preventDefault();
      event.stopPropagation();
      end();
    },
    true,
  );
  // Back and Forward during the tour: follow to the step whose view the address shows, or end.
  subscribe((_state, { source }) => {
    if (source !== "popstate" || current < 0) return;
    const k = STEPS.findIndex((step) => shows(stateOf(step)));
    if (k >= 0) show(k, { after: Number(document.body.dataset.settled ?? 0) });
    else end();
  });
  window.addEventListener("resize", () => place(mark()));
  window.addEventListener("scroll", () => place(document.querySelector(".tour-target")), { passive: true });
  // The page rebuilds its panels on every run: outline them again. A sequence or model of the
  // learner's own ends the tour: its words would no longer describe the page.
  new MutationObserver(() => {
    if (current < 0) return;
    const now = get();
    if (now.model !== MODEL || now.text !== TEXT) end({ undo: false });
    else place(mark());
  }).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-settled"],
  });
  // A view may draw its details after the run (the step view asks the API for them): point at
  // them, and say so, once they are there.
  const body = document.getElementById("view-body");
  if (body) {
    new MutationObserver(() => {
      if (current < 0 || !words || pop?.hasAttribute("aria-busy")) return;
      const before = document.querySelector(".tour-target");
      if (STEPS[current].target() === before) return place(mark());
      fill();
      place(mark(), { scroll: true });
    }).observe(body, { childList: true });
  }
}

async function boot() {
  const initial = get(); // before main.js fills in the defaults
  wire();
  if (seen() || !(await plainVisit(initial))) return;
  await drawn(0);
  if (current < 0 && !seen()) invite();
}

boot();
