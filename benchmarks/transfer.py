"""Bytes the page moves on its first load of python-chars with 2,000 characters of Python source,
in Debian's Chromium against a real uvicorn: every response's encodedDataLength (what crossed the
wire, headers included, as Chromium's DevTools protocol reports it at Network.loadingFinished),
summed over the load, and POST /api/run's on its own.

Two loads, in one run: the page as it is (it asks a run this long in the compact encoding), and
the same page with its run's Accept header rewritten to application/json (the page before the
compact encoding: the JSON it fetched until then). Each in a fresh browser context: no cache.

Run: .venv/bin/python -m benchmarks.transfer   (writes benchmarks/results/transfer.md too)
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Browser, Route, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.models import zoo  # noqa: E402
from benchmarks._common import RESULTS, write  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from tests.servers import start_uvicorn, stop  # noqa: E402

MODEL = "python-chars"
STEPS = 2000
TARGET = 0.25  # of the JSON page's bytes


def source_text() -> str:
    """2,000 characters of the standard library's own source, in the model's vocabulary."""
    vocab = set(zoo.get(MODEL).vocab or "")
    text = "".join(ch for ch in Path(textwrap.__file__).read_text(encoding="utf-8") if ch in vocab)
    return text[:STEPS]


def load(browser: Browser, url: str, force_json: bool) -> dict[str, Any]:
    """One first load in a fresh context: bytes per response and in all, and the run's type."""
    # bypass_csp: Playwright evaluates wait_for_function with eval, which the page's CSP forbids
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    if force_json:

        def as_json(route: Route) -> None:
            route.continue_(headers={**route.request.headers, "accept": "application/json"})

        page.route("**/api/run", as_json)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    types: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on(
        "Network.responseReceived",
        lambda e: types.__setitem__(e["requestId"], e["response"]["headers"].get("content-type", "")),
    )
    cdp.on(
        "Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"]))
    )
    page.goto(url)
    page.wait_for_function("Number(document.body.dataset.settled ?? 0) >= 1", timeout=120_000)
    page.wait_for_timeout(500)  # late responses (a favicon) finish too
    drawn = page.locator("canvas.heat").count()
    context.close()
    run = [k for k, u in urls.items() if u.endswith("/api/run") and k in sizes]
    return {
        "total": sum(sizes.values()),
        "run": sum(sizes[k] for k in run),
        "type": types.get(run[-1], "?") if run else "?",
        "responses": len(sizes),
        "heatmaps": drawn,
    }


def main() -> None:
    text = source_text()
    proc, base = start_uvicorn({"GATESCOPE_DATA_DIR": str(RESULTS / "transfer-data")})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            url = f"{base}/?model={MODEL}&text={quote(text)}"
            before = load(browser, url, force_json=True)
            after = load(browser, url, force_json=False)
            browser.close()
    finally:
        stop(proc)
    mb = lambda n: f"{n / 1e6:.2f} MB"  # noqa: E731
    ratio = after["total"] / before["total"]
    lines = [
        f"# Bytes of the first load of {MODEL} with {len(text)} characters, Chromium headless",
        "",
        "encodedDataLength of every response (headers included), fresh context, no cache.",
        "",
        "| page | POST /api/run | its type | whole load | responses | heatmaps drawn |",
        "|---|---:|---|---:|---:|---:|",
        f"| JSON (before) | {mb(before['run'])} | {before['type']} | {mb(before['total'])} | "
        f"{before['responses']} | {before['heatmaps']} |",
        f"| compact (after) | {mb(after['run'])} | {after['type']} | {mb(after['total'])} | "
        f"{after['responses']} | {after['heatmaps']} |",
        "",
        f"After ÷ before, whole load: **{ratio:.2f}** (target ≤ {TARGET}).",
    ]
    path = write("transfer.md", lines)
    print("\n".join(lines))
    print(f"(written to {path})")


if __name__ == "__main__":
    main()
