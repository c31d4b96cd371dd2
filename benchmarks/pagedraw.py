"""The page's first draw and redraws in Debian's Chromium against a real uvicorn, for python-chars
with 2,000 characters of Python source (2,000 × 128) and random-h256-l1-s0 with 1,000 characters
(1,000 × 256), each in its default first view (the text view for both since issue 11, the step
view before it):

- first draw: navigation to the page with the text in its URL → the run drawn (body[data-settled]
  counts finished runs; the time is taken at the animation frame after it). The Performance API
  splits it: until POST /api/run is asked (page, modules, model), the run's request (server and
  network), and from its last byte to drawn (decoding and drawing).
- typing: a character typed in the sequence box → redrawn; the page waits its debounce (200 ms)
  before it asks, so that figure is given apart. The last character is replaced, not appended,
  so that 2,000 characters stay within the page's 2,000 steps.
- pinning: a click on a cell of the f heatmap, and (where the page has one) on a character of the
  text view → the next animation frame, with the handler's own time and layout apart.

Medians of a few rounds, each first draw in a fresh context (no cache). The server is the
checkout named by --root (default: this one), so that another commit's page can be measured the
same way, for example the page before issue 11 beside this one:

    git worktree add /tmp/before 3defb9d^
    .venv/bin/python -m benchmarks.pagedraw --root /tmp/before --root .

Several checkouts are measured in one run, round by round (A, B, A, B, …), so that the load of a
shared machine weighs on them alike.

Run: .venv/bin/python -m benchmarks.pagedraw   (writes benchmarks/results/pagedraw.md)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.models import zoo  # noqa: E402
from benchmarks._common import RESULTS, write  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.servers import ROOT, start_uvicorn, stop  # noqa: E402

ROUNDS = 3  # per case and checkout: a first draw (a fresh context), a typed character, pins
PINS_PER_ROUND = 5  # clicks per round and target
DEBOUNCE_MS = 200  # the page's pause after typing before it asks (static/config.js)


def python_source(n: int) -> str:
    """n characters of the standard library's own source, in python-chars' vocabulary."""
    vocab = set(zoo.get("python-chars").vocab or "")
    return "".join(ch for ch in Path(textwrap.__file__).read_text(encoding="utf-8") if ch in vocab)[:n]


CASES = (
    ("python-chars", python_source(2000)),
    ("random-h256-l1-s0", ("The quick brown fox jumps over the lazy dog. " * 23)[:1000]),
)

# Installed before the page's own scripts: the time of the animation frame after each change of
# body[data-settled], in performance.now() milliseconds since navigation.
WATCH = """
window.__drawn = [];
new MutationObserver(() => requestAnimationFrame(() => window.__drawn.push(performance.now())))
  .observe(document, { subtree: true, attributes: true, attributeFilter: ["data-settled"] });
"""

# The first draw's phases from the Performance API: the last POST /api/run before the first draw.
PHASES = """() => {
  const drawn = window.__drawn[0];
  const runs = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/run"));
  const run = runs.filter((e) => e.responseEnd <= drawn).at(-1);
  return { drawn, asked: run.startTime, received: run.responseEnd };
}"""

# Type one character into the sequence box (replacing the last) → the next drawn run.
TYPE = """async (ch) => {
  const box = document.getElementById("sequence");
  const before = window.__drawn.length;
  box.focus();
  box.value = box.value.slice(0, -1) + ch;
  const start = performance.now();
  box.dispatchEvent(new InputEvent("input", { bubbles: true, data: ch, inputType: "insertText" }));
  while (window.__drawn.length === before) await new Promise((r) => setTimeout(r, 5));
  const runs = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/run"));
  const run = runs.filter((e) => e.startTime >= start).at(-1);
  const drawn = window.__drawn[before];
  return { total: drawn - start, asked: run ? run.startTime - start : null,
           received: run ? run.responseEnd - start : null };
}"""

# Click `count` targets (a cell of the f heatmap, or a character of the text view); per click, the
# handler with style and layout, and the time to the next animation frame.
PIN = """async ([target, count]) => {
  const times = [];
  for (let k = 0; k < count; k++) {
    let node, x, y;
    if (target === "heatmap") {
      node = document.querySelector('.panel[data-gate="f"] canvas.heat');
      const box = node.getBoundingClientRect();
      x = box.left + ((k * 37) % 97 + 0.5) / 97 * box.width;
      y = box.top + ((k * 53) % 89 + 0.5) / 89 * box.height;
    } else {
      const chars = document.querySelectorAll(".text-body .ch");
      node = chars[(k * 211 + 7) % chars.length];
      const box = node.getBoundingClientRect();
      x = box.left + box.width / 2;
      y = box.top + box.height / 2;
    }
    await new Promise((r) => requestAnimationFrame(() => r()));
    const start = performance.now();
    node.dispatchEvent(new MouseEvent("click", { clientX: x, clientY: y, bubbles: true }));
    document.body.getBoundingClientRect();
    const sync = performance.now() - start;
    await new Promise((r) => requestAnimationFrame(() => r()));
    times.push([performance.now() - start, sync]);
  }
  return times;
}"""


def serve(root: Path, data_dir: Path) -> tuple[subprocess.Popen, str]:
    """uvicorn serving root's app.main:app on 127.0.0.1."""
    return start_uvicorn(
        {"GATESCOPE_DATA_DIR": str(data_dir), "GATESCOPE_COMPUTE_DEADLINE_SECONDS": "30"}, root=root
    )


def open_page(browser: Browser, url: str) -> tuple[Any, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.add_init_script(WATCH)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.__drawn.length >= 1", timeout=120_000)
    return context, page


def one_round(browser: Browser, base: str, model: str, text: str, k: int) -> dict[str, Any]:
    """A first draw in a fresh context, then one typed character and a few pins on that page."""
    context, page = open_page(browser, f"{base}/?model={model}&text={quote(text)}")
    first = page.evaluate(PHASES)
    view = page.evaluate("document.querySelector('#view-tabs [aria-selected=true]')?.textContent ?? '?'")
    typed = page.evaluate(TYPE, "xyzw"[k % 4])
    pins = {"heatmap": page.evaluate(PIN, ["heatmap", PINS_PER_ROUND])}
    if page.locator(".text-body .ch").count():
        pins["text"] = page.evaluate(PIN, ["text", PINS_PER_ROUND])
    context.close()
    return {"view": view, "first": first, "typed": typed, "pins": pins}


def measure(browser: Browser, bases: list[str], model: str, text: str) -> list[dict[str, Any]]:
    """Per checkout, ROUNDS rounds, run A, B, A, B, …: a shared machine's drift hits them alike."""
    results: list[dict[str, Any]] = [{"first": [], "typed": [], "pins": {}} for _ in bases]
    for k in range(ROUNDS):
        for base, r in zip(bases, results, strict=True):
            one = one_round(browser, base, model, text, k)
            r["view"] = one["view"]
            r["first"].append(one["first"])
            r["typed"].append(one["typed"])
            for target, pairs in one["pins"].items():
                r["pins"].setdefault(target, []).extend(pairs)
    return results


def med(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known):.0f}" if known else "–"


def rows(model: str, text: str, r: dict[str, Any]) -> list[str]:
    f, t = r["first"], r["typed"]
    case = f"{model}, {len(text):,} chars ({r['view']} view)"
    out = [
        f"| {case} | first draw | {med([x['drawn'] for x in f])} | "
        f"{med([x['asked'] for x in f])} | {med([x['received'] - x['asked'] for x in f])} | "
        f"{med([x['drawn'] - x['received'] for x in f])} | {len(f)} |",
        f"| {case} | typing a character | {med([x['total'] for x in t])} | "
        f"{med([x['asked'] for x in t])} | "
        f"{med([None if x['asked'] is None else x['received'] - x['asked'] for x in t])} | "
        f"{med([None if x['received'] is None else x['total'] - x['received'] for x in t])} | {len(t)} |",
    ]
    for target, pairs in r["pins"].items():
        frame = [p[0] for p in pairs]
        sync = [p[1] for p in pairs]
        out.append(
            f"| {case} | pin: click a {'character' if target == 'text' else 'heatmap cell'} | "
            f"{med(frame)} | – | – | {med(sync)} (handler + layout) | {len(pairs)} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        help="a checkout to serve; repeat it to measure several, interleaved (default: this one)",
    )
    args = parser.parse_args()
    roots = [r.resolve() for r in args.root or [ROOT]]
    names = []
    for root in roots:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        names.append(f"{root} ({commit or '?'})")
    servers = [serve(root, RESULTS / f"pagedraw-data-{k}") for k, root in enumerate(roots)]
    results = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            for model, text in CASES:
                results.append((model, text, measure(browser, [url for _, url in servers], model, text)))
            browser.close()
    finally:
        for proc, _ in servers:
            stop(proc)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# The page's first draw and redraws, Chromium headless, 1280×800",
        "",
        f"Load average after (1 / 5 / 15 min): {load}. Median milliseconds over {ROUNDS} rounds "
        "per checkout, interleaved. First draw: from navigation; the run asked at, its request "
        "(server and network), then decoding and drawing to the frame after. Typing: from the "
        f"input event (the page waits {DEBOUNCE_MS} ms before it asks). Pin: from the click to "
        "the next frame.",
        "",
        "| checkout | case | event | drawn, ms | run asked at, ms | run's request, ms | "
        "then to drawn, ms | n |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for model, text, per_root in results:
        for name, r in zip(names, per_root, strict=True):
            lines += [f"| {name} {row}" for row in rows(model, text, r)]
    path = write("pagedraw.md", lines)
    print("\n".join(lines))
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
