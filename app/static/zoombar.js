// The heatmaps' zoom bar: Zoom in, Zoom out and Reset buttons, what the window shows, and an
// overview of the whole run (one gate of one layer, T × rows) with the window as a rectangle:
// drag the rectangle to pan, drag elsewhere to brush a new window, click to centre it there.

import { LUTS, paint } from "./heatmap.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class ZoomBar {
  // zoom: {by(factor), reset(), pan(dt, dr), brush(ta, tb, ra, rb), centre(t, row)}.
  constructor(zoom) {
    this.zoom = zoom;
    this.root = el("div", "zoombar");
    this.root.setAttribute("role", "group");
    this.root.setAttribute("aria-label", "Zoom the heatmaps");
    const button = (text, label, title, act) => {
      const b = el("button", "zoom-button", text);
      b.type = "button";
      b.setAttribute("aria-label", label);
      b.title = title;
      b.addEventListener("click", act);
      return b;
    };
    this.inButton = button("+ Zoom in", "Zoom in", "Zoom in (key +; ctrl + wheel or pinch over a heatmap)", () => zoom.by(0.5));
    this.outButton = button("− Zoom out", "Zoom out", "Zoom out (key −)", () => zoom.by(2));
    this.resetButton = button("Reset", "Reset zoom", "Show the whole run (key 0)", () => zoom.reset());
    this.says = el("span", "zoom-says");
    this.says.setAttribute("aria-live", "polite");
    this.overview = el("div", "overview");
    this.strip = el("canvas", "overview-strip");
    this.strip.setAttribute("aria-hidden", "true");
    this.rect = el("div", "overview-window");
    this.overview.append(this.strip, this.rect);
    this.overview.title = "The whole run: drag the frame to pan, drag elsewhere to zoom to those steps";
    this.hint = el("span", "zoom-hint", "ctrl + wheel or pinch to zoom · shift-drag to pick steps");
    this.root.append(this.inButton, this.outButton, this.resetButton, this.overview, this.says, this.hint);
    this.wireOverview();
  }

  // Paint the overview from `panel` (a Panel already drawn): all of its steps and rows.
  draw(panel) {
    this.T = panel.T;
    this.R = panel.H;
    this.strip.width = panel.T;
    this.strip.height = panel.H;
    const { lo, hi, unitHi } = panel.range;
    paint(this.strip, panel.values, lo, hi, LUTS[panel.spec.scale], panel.order, unitHi);
    this.overview.dataset.gate = panel.spec.key;
  }

  // Show window `win` (null: the whole run).
  show(win) {
    const { T, R } = this;
    const w = win ?? { t0: 0, t1: T - 1, r0: 0, r1: R - 1 };
    this.win = win;
    Object.assign(this.rect.style, {
      left: `${(w.t0 / T) * 100}%`,
      width: `${((w.t1 - w.t0 + 1) / T) * 100}%`,
      top: `${(w.r0 / R) * 100}%`,
      height: `${((w.r1 - w.r0 + 1) / R) * 100}%`,
    });
    this.root.classList.toggle("zoomed", Boolean(win));
    this.outButton.disabled = !win;
    this.resetButton.disabled = !win;
    this.says.textContent = win
      ? `steps ${w.t0}–${w.t1} of ${T}, rows ${w.r0}–${w.r1} of ${R}`
      : `all ${T} steps and ${R} rows`;
  }

  // Overview pointer: [step, row] (fractional) under a client point.
  at(event) {
    const box = this.overview.getBoundingClientRect();
    const fx = Math.max(0, Math.min(1 - 1e-9, (event.clientX - box.left) / box.width));
    const fy = Math.max(0, Math.min(1 - 1e-9, (event.clientY - box.top) / box.height));
    return [fx * this.T, fy * this.R];
  }

  wireOverview() {
    let drag = null; // {mode: "pan" | "brush", from: [t, row], last: [t, row]}
    this.overview.addEventListener("pointerdown", (event) => {
      if (!this.T) return;
      event.preventDefault();
      this.overview.setPointerCapture?.(event.pointerId);
      const p = this.at(event);
      const w = this.win;
      const inside = w && p[0] >= w.t0 && p[0] < w.t1 + 1 && p[1] >= w.r0 && p[1] < w.r1 + 1;
      drag = { mode: inside ? "pan" : "brush", from: p, last: p, moved: false };
    });
    this.overview.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const p = this.at(event);
      if (Math.abs(p[0] - drag.from[0]) >= 1 || Math.abs(p[1] - drag.from[1]) >= 1) drag.moved = true;
      if (drag.mode !== "pan") return;
      const [dt, dr] = [p[0] - drag.last[0], p[1] - drag.last[1]];
      if (Math.abs(dt) < 1 && Math.abs(dr) < 1) return;
      this.zoom.pan(Math.trunc(dt), Math.trunc(dr));
      drag.last = [drag.last[0] + Math.trunc(dt), drag.last[1] + Math.trunc(dr)];
    });
    const end = (event) => {
      if (!drag) return;
      const p = this.at(event);
      const { mode, from, moved } = drag;
      drag = null;
      if (mode === "brush" && moved) {
        this.zoom.brush(Math.floor(from[0]), Math.floor(p[0]), Math.floor(from[1]), Math.floor(p[1]));
      } else if (!moved) this.zoom.centre(p[0], p[1]);
    };
    this.overview.addEventListener("pointerup", end);
    this.overview.addEventListener("pointercancel", () => {
      drag = null;
    });
  }
}
