// Zooming a heatmap panel by hand: ctrl/⌘ + wheel zooms about the pointer (plain wheel scrolls
// the page as ever), shift + wheel or a sideways wheel pans time once zoomed, two fingers pinch
// and pan, and a shift-drag brushes the steps and rows to zoom to. Says what was asked to `zoom`
// (board.js); knows nothing of the window's rules (zoom.js).

const WHEEL_RATE = 0.0015; // a wheel notch (deltaY 100) zooms by e^0.15 ≈ 1.16

// panel: a heatmap.js Panel; zoom: {by(factor, t, row), pan(dt, dr), brush(ta, tb, ra, rb),
// zoomed()}: t and row fractional, in the run's steps and rows.
export function wireGestures(panel, zoom) {
  const { canvas } = panel;
  canvas.addEventListener(
    "wheel",
    (event) => {
      const [t, row] = panel.cellAt(event.clientX, event.clientY);
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        zoom.by(Math.exp(event.deltaY * WHEEL_RATE), t, row);
        return;
      }
      const sideways = event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY);
      if (!sideways || !zoom.zoomed()) return; // the page scrolls
      event.preventDefault();
      const { t0, t1 } = panel.shown();
      const delta = event.deltaX || event.deltaY;
      zoom.pan((delta / canvas.getBoundingClientRect().width) * (t1 - t0 + 1), 0);
    },
    { passive: false },
  );

  const touches = new Map(); // pointerId -> [x, y] of the fingers down
  let pinch = null; // {span, mid} when two fingers started
  let brush = null; // [t, row] where a shift-drag started
  const spread = () => {
    const [[ax, ay], [bx, by]] = [...touches.values()];
    return { span: Math.hypot(bx - ax, by - ay), mid: [(ax + bx) / 2, (ay + by) / 2] };
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (event.isPrimary) panel.swallow = false; // a new gesture: its click counts unless it brushes
    if (event.pointerType === "touch") {
      touches.set(event.pointerId, [event.clientX, event.clientY]);
      if (touches.size === 2) {
        pinch = spread();
        panel.swallow = true; // a pinch is no tap
      }
      return;
    }
    if (!event.shiftKey || event.button !== 0) return;
    event.preventDefault(); // no text selection
    canvas.setPointerCapture?.(event.pointerId);
    brush = panel.cellAt(event.clientX, event.clientY).map(Math.floor);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (touches.has(event.pointerId)) {
      touches.set(event.pointerId, [event.clientX, event.clientY]);
      if (!pinch || touches.size !== 2) return;
      const now = spread();
      const box = canvas.getBoundingClientRect();
      const { t0, t1, r0, r1 } = panel.shown();
      const [t, row] = panel.cellAt(...now.mid);
      if (pinch.span > 0 && now.span > 0 && Math.abs(now.span / pinch.span - 1) > 0.02) {
        zoom.by(pinch.span / now.span, t, row);
      } else {
        const dx = ((pinch.mid[0] - now.mid[0]) / box.width) * (t1 - t0 + 1);
        const dy = ((pinch.mid[1] - now.mid[1]) / box.height) * (r1 - r0 + 1);
        if (Math.abs(dx) >= 1 || Math.abs(dy) >= 1) zoom.pan(dx, dy);
        else return;
      }
      pinch = now;
      return;
    }
    if (!brush) return;
    const [t, row] = panel.cellAt(event.clientX, event.clientY).map(Math.floor);
    panel.brushAt(brush[0], t, brush[1], row);
  });
  const lift = (event) => {
    if (touches.delete(event.pointerId) && touches.size < 2) pinch = null;
    if (!brush) return;
    const [t, row] = panel.cellAt(event.clientX, event.clientY).map(Math.floor);
    const [ta, ra] = brush;
    brush = null;
    panel.brushAt(null);
    if (t === ta && row === ra) return; // a shift-click: an ordinary click
    panel.swallow = true; // the click that ends a brush pins nothing
    zoom.brush(ta, t, ra, row);
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
}
