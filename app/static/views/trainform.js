// The Train view's settings (views/train.js): the task (and a pasted text for "predict the next
// character"), hidden size, seed, forget bias 0 or 1, recurrent decay on (the task's recipe's) or
// off (0), learning rate and steps; read from the URL's keys and turned into POST /api/train's body.
// What is left empty is the recipe's, which the server fills in (its answer's `settings`).

import { el, field } from "./draw.js";

const TASKS = [
  ["reset-count", "Reset count: letters since the last '.'"],
  ["bracket-depth", "Bracket depth: how deep in ( )"],
  ["recall", "Recall: the first character, at the end"],
  ["parity", "Parity: an odd number of 1s so far?"],
  ["text", "Predict the next character of a text you paste"],
];
const MIN_TEXT = 420; // characters a pasted text needs (the server's texttask says why)
// The settings a URL holds (a link that replays a training), or the defaults.
export function readForm(state) {
  return {
    task: state.task ?? "reset-count",
    text: "",
    hidden: String(state.hidden ?? 8),
    seed: String(state.seed ?? 0),
    fb: state.fb ?? "1",
    decay: state.decay ?? "on",
    lr: state.lr ?? "",
    steps: state.steps === null ? "" : String(state.steps),
  };
}

function input(id, value, attrs, onValue) {
  const node = el("input");
  node.id = id;
  Object.assign(node, attrs);
  node.value = value;
  node.addEventListener("input", () => onValue(node.value));
  return node;
}

// The settings' controls; they write into `f` as they change.
export function form(f) {
  const box = el("div", "train-form");
  const task = el("select");
  task.id = "train-task";
  for (const [key, name] of TASKS) task.append(new Option(name, key, false, key === f.task));
  const text = el("textarea");
  text.id = "train-text";
  text.rows = 4;
  text.spellcheck = false;
  text.value = f.text;
  text.placeholder = `Paste a text of at least ${MIN_TEXT} characters`;
  const count = el("span", "help");
  const counted = () => {
    count.textContent = `${f.text.length} characters (at least ${MIN_TEXT})`;
  };
  counted();
  text.addEventListener("input", () => {
    f.text = text.value;
    counted();
  });
  const textBox = el("div", "train-textbox");
  textBox.append(field("Text to predict", text), count);
  textBox.hidden = f.task !== "text";
  task.addEventListener("change", () => {
    f.task = task.value;
    textBox.hidden = f.task !== "text";
  });
  const fb = el("select");
  fb.id = "train-fb";
  for (const v of ["0", "1"]) fb.append(new Option(v, v, false, v === f.fb));
  fb.addEventListener("change", () => {
    f.fb = fb.value;
  });
  const decay = el("input");
  decay.id = "train-decay";
  decay.type = "checkbox";
  decay.checked = f.decay === "on";
  decay.addEventListener("change", () => {
    f.decay = decay.checked ? "on" : "off";
  });
  const row = el("div", "train-fields");
  row.append(
    field("Hidden size H", input("train-hidden", f.hidden, { type: "number", min: 1, max: 64 }, (v) => (f.hidden = v))),
    field("Seed", input("train-seed", f.seed, { type: "number", min: 0 }, (v) => (f.seed = v))),
    field("Forget bias at start", fb),
    field("Recurrent decay (the recipe's)", decay),
    field("Learning rate", input("train-lr", f.lr, { type: "text", placeholder: "the recipe's", size: 8 }, (v) => (f.lr = v))),
    field("Steps", input("train-steps", f.steps, { type: "number", min: 1, placeholder: "the recipe's" }, (v) => (f.steps = v))),
  );
  box.append(field("Task", task), textBox, row);
  return box;
}

// A typed number as the API reads it; what is not a number goes as typed, for the API to refuse.
const number = (typed) => (typed.trim() !== "" && Number.isFinite(Number(typed)) ? Number(typed) : typed);

// The body of POST /api/train for the settings `f`, with forget bias `fb`.
export function body(f, fb = f.fb) {
  const out = { task: f.task, hidden: number(f.hidden), seed: number(f.seed), forget_bias: number(fb) };
  if (f.task === "text") out.text = f.text;
  if (f.decay === "off") out.recurrent_decay = 0;
  if (f.lr.trim() !== "") out.lr = number(f.lr);
  if (f.steps.trim() !== "") out.steps = number(f.steps);
  return out;
}
