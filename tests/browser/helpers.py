"""What the browser tests share: opening the page and waiting for its runs (the page counts them
in body[data-settled]), reading its heatmaps, its URL and the API, screenshots, and the phone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
PHONE = {"width": 390, "height": 844}

# Ends of the colour scales as published (matplotlib's viridis, ColorBrewer's RdBu).
VIRIDIS_0 = (0x44, 0x01, 0x54)
VIRIDIS_1 = (0xFD, 0xE7, 0x25)
RDBU_WHITE = (0xF7, 0xF7, 0xF7)
# Their stops as published, which the page spreads over 256 entries (see lut).
VIRIDIS = [
    "#440154",
    "#482475",
    "#414487",
    "#355f8d",
    "#2a788e",
    "#21918c",
    "#22a884",
    "#44bf70",
    "#7ad151",
    "#bddf26",
    "#fde725",
]
BLUE_RED = [
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
]


def lut(stops: list[str]) -> np.ndarray:
    """A 256-entry colour table spread over the stops as heatmap.js does, rounding halves up as
    JavaScript's Math.round does."""
    rgb = np.array([[int(h[k : k + 2], 16) for k in (1, 3, 5)] for h in stops], dtype=np.float64)
    out = np.zeros((256, 3), dtype=np.int64)
    for k in range(256):
        x = k / 255 * (len(rgb) - 1)
        j = min(int(np.floor(x)), len(rgb) - 2)
        w = x - j
        out[k] = [int(np.floor(rgb[j][c] * (1 - w) + rgb[j + 1][c] * w + 0.5)) for c in range(3)]
    return out


SETTLED = "Number(document.body.dataset.settled ?? 0)"  # the runs the page has finished


def runs(page: Page) -> int:
    return int(page.evaluate(SETTLED))


def wait_first_run(page: Page) -> None:
    """Wait until the page has finished its first run, drawn or refused."""
    page.wait_for_function(f"{SETTLED} >= 1")


def wait_next_run(page: Page, before: int) -> None:
    page.wait_for_function(f"{SETTLED} > {before}")


def open_page(page: Page, query: str) -> None:
    page.goto(f"{page.base}/?{query}")  # type: ignore[attr-defined]
    wait_first_run(page)


def canvas(gate: str, layer: int = 0) -> str:
    return f'.panel[data-layer="{layer}"][data-gate="{gate}"] canvas.heat'


def pixel(page: Page, gate: str, t: int, unit: int, layer: int = 0) -> tuple[int, int, int]:
    rgba = page.evaluate(
        "([sel, t, u]) => Array.from(document.querySelector(sel).getContext('2d')"
        ".getImageData(t, u, 1, 1).data)",
        [canvas(gate, layer), t, unit],
    )
    return tuple(rgba[:3])


def near(a: tuple[int, ...], b: tuple[int, ...], tol: int = 3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def all_pixels(page: Page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('canvas.heat')).map(c => c.toDataURL())")


def api_run(page: Page, body: dict) -> dict:
    response = page.request.post(
        f"{page.base}/api/run",
        data=json.dumps(body),  # type: ignore[attr-defined]
        headers={"Content-Type": "application/json"},
    )
    assert response.ok, response.text()
    return response.json()


def query_of(page: Page) -> dict[str, list[str]]:
    """The address bar's query as the page has it now: page.url follows history.replaceState only
    once the browser has reported it, which a loaded machine delays past the next line."""
    return parse_qs(urlparse(page.evaluate("location.href")).query)


def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under tests/screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextmanager
def phone(browser: Browser, live_server: str, *, touch: bool = True) -> Iterator[Page]:
    """A page in a context of its own at a phone's size (390 × 844; touch: a mobile, touch screen)."""
    context = browser.new_context(viewport=PHONE, is_mobile=touch, has_touch=touch)
    try:
        page = context.new_page()
        page.base = live_server  # type: ignore[attr-defined]
        yield page
    finally:
        context.close()


def assert_no_sideways_scroll(page: Page) -> None:
    """The page is no wider than a phone's screen: nothing to scroll sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
