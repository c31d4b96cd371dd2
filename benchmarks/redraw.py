"""How long the page takes to answer a click (pin a cell) and a hover on a 1,000-step, 256-unit
run, in Debian's Chromium against a real uvicorn: from the event to the next animation frame
(the event handler, then style, layout and paint of that frame). One frame at 60 Hz is 16.7 ms."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import RESULTS  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.servers import start_uvicorn, stop  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. " * 23)[:1000]
MODEL = "random-h256-l1-s0"
ROUNDS = 60

# Dispatch `count` events at cells spread over the f heatmap; per event, time from dispatch to the
# next animation frame. Runs inside the page.
MEASURE = """async ([kind, count]) => {
  const canvas = document.querySelector('.panel[data-gate="f"] canvas.heat');
  const box = canvas.getBoundingClientRect();
  const times = [];
  for (let k = 0; k < count; k++) {
    const x = box.left + ((k * 37) % 97 + 0.5) / 97 * box.width;
    const y = box.top + ((k * 53) % 89 + 0.5) / 89 * box.height;
    const event = kind === "click"
      ? new MouseEvent("click", { clientX: x, clientY: y, bubbles: true })
      : new PointerEvent("pointermove", { clientX: x, clientY: y, bubbles: true });
    await new Promise((r) => requestAnimationFrame(() => r()));  // start at a frame's beginning
    const start = performance.now();
    canvas.dispatchEvent(event);
    document.body.getBoundingClientRect();  // style and layout now, to time them with the handler
    const sync = performance.now() - start;
    await new Promise((r) => requestAnimationFrame(() => r()));
    times.push([performance.now() - start, sync]);
  }
  return times;
}"""


VIEWS = ("step", "update", "memory", "unit", "whatif", "find")


def main() -> None:
    proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": str(RESULTS / "redraw-data")})
    lines = [
        f"# Redraw on a {len(TEXT)}-step, 256-unit run ({MODEL}), Chromium headless",
        "",
        "Handler + layout: the event's own work, then style and layout. To the next frame: from "
        "the event to the next animation frame (one frame at 60 Hz is 16.7 ms), which includes "
        "any answer from the server that lands before it (the step and update views ask "
        "POST /api/step for the pinned step).",
        "",
        "| view | event | handler + layout, median ms | to the next frame, median ms | 90th "
        "percentile ms | max ms | events |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            for view in VIEWS:
                page.goto(f"{url}/?model={MODEL}&text={quote(TEXT)}&view={view}&span=100-120")
                page.wait_for_function("Number(document.body.dataset.settled ?? 0) >= 1", timeout=60_000)
                for kind in ("pointermove", "click"):
                    pairs = page.evaluate(MEASURE, [kind, ROUNDS])
                    times, sync = [p[0] for p in pairs], [p[1] for p in pairs]
                    q = statistics.quantiles(times, n=10)
                    lines.append(
                        f"| {view} | {kind} | {statistics.median(sync):.1f} | "
                        f"{statistics.median(times):.1f} | {q[-1]:.1f} | {max(times):.1f} "
                        f"| {len(times)} |"
                    )
            browser.close()
    finally:
        stop(proc)
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "redraw.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
