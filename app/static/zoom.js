// The heatmaps' window: the steps t0..t1 and the rows r0..r1 (inclusive, rows as drawn) that every
// panel shows, and how zooming, panning and brushing move it. Pure arithmetic: no page, no DOM.
// In the URL as `zoom=t0-t1,r0-r1`; absent: the whole run (not zoomed).

// Once zoomed, at most this many rows are shown, so that each is at least 8 CSS pixels tall in a
// panel of SIZES.panelHeight (220 / 24 = 9 px) and every one is labelled.
export const ZOOM_ROWS = 24;
export const MIN_STEPS = 4; // the narrowest time window
const MIN_ROWS = 4;

const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));

// The window of the URL's zoom for a run of T steps and R rows, or null (the whole run) when
// absent, unreadable or beyond the run (a shorter run resets it).
export function parseZoom(text, T, R) {
  const m = /^([0-9]{1,7})-([0-9]{1,7})(?:,([0-9]{1,7})-([0-9]{1,7}))?$/.exec(text ?? "");
  if (!m) return null;
  const [t0, t1] = [Number(m[1]), Number(m[2])];
  const [r0, r1] = m[3] === undefined ? [0, Math.min(R, ZOOM_ROWS) - 1] : [Number(m[3]), Number(m[4])];
  if (t0 > t1 || r0 > r1 || t1 >= T || r1 >= R) return null;
  return fit({ t0, t1, r0, r1 }, T, R);
}

export const writeZoom = (win) => (win ? `${win.t0}-${win.t1},${win.r0}-${win.r1}` : null);

export const whole = (T, R) => ({ t0: 0, t1: T - 1, r0: 0, r1: R - 1 });

// A window within the run, at least MIN_STEPS × MIN_ROWS (or the run), rows at most ZOOM_ROWS;
// null when it is the whole run.
export function fit(win, T, R) {
  const span = (a, b, n, least, most) => {
    const size = clamp(b - a + 1, Math.min(least, n), Math.min(most, n));
    const start = clamp(Math.round((a + b + 1 - size) / 2), 0, n - size);
    return [start, start + size - 1];
  };
  const [t0, t1] = span(win.t0, win.t1, T, MIN_STEPS, T);
  const [r0, r1] = span(win.r0, win.r1, R, MIN_ROWS, Math.min(R, ZOOM_ROWS));
  if (t0 === 0 && t1 === T - 1 && r0 === 0 && r1 === R - 1) return null;
  return { t0, t1, r0, r1 };
}

// Zoom by `factor` (< 1: in) about step `t` and row `r` (which stay where they are on screen).
// Rows jump from the whole layer to ZOOM_ROWS on the way in, and back on the way out.
export function zoomBy(win, factor, T, R, t = null, r = null) {
  const w = win ?? whole(T, R);
  const scale = (a, b, at, f) => {
    const size = b - a + 1;
    const next = Math.max(1, Math.round(size * f));
    const p = at ?? (a + b + 1) / 2;
    const start = Math.round(p - ((p - a) / size) * next);
    return [start, start + next - 1];
  };
  const [t0, t1] = scale(w.t0, w.t1, t, factor);
  let [r0, r1] = scale(w.r0, w.r1, r, factor);
  const shown = w.r1 - w.r0 + 1;
  if (factor < 1 && shown > ZOOM_ROWS) [r0, r1] = scale(w.r0, w.r1, r, ZOOM_ROWS / shown);
  if (factor > 1 && r1 - r0 + 1 > ZOOM_ROWS) {
    if (t1 - t0 + 1 >= T) return null; // out past the whole run in both: not zoomed
    [r0, r1] = [w.r0, w.r1]; // the rows stay readable while time is zoomed
  }
  return fit({ t0, t1, r0, r1 }, T, R);
}

// Move the window by dt steps and dr rows.
export function panBy(win, dt, dr, T, R) {
  if (!win) return null;
  const move = (a, b, d, n) => {
    const size = b - a + 1;
    const start = clamp(a + Math.round(d), 0, n - size);
    return [start, start + size - 1];
  };
  const [t0, t1] = move(win.t0, win.t1, dt, T);
  const [r0, r1] = move(win.r0, win.r1, dr, R);
  return fit({ t0, t1, r0, r1 }, T, R);
}

// The window a brushed rectangle asks for: its steps, and its rows when they are few enough to
// read (else the rows shown now, or the first ZOOM_ROWS).
export function brushed(ta, tb, ra, rb, win, T, R) {
  const [t0, t1] = [Math.min(ta, tb), Math.max(ta, tb)];
  let [r0, r1] = [Math.min(ra, rb), Math.max(ra, rb)];
  if (r1 - r0 + 1 > ZOOM_ROWS) [r0, r1] = win ? [win.r0, win.r1] : [0, ZOOM_ROWS - 1];
  return fit({ t0, t1, r0, r1 }, T, R);
}
