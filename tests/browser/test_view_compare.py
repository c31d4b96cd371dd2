"""The Compare view: the page's run (A) above a second run (B: model2, text2, x2) on locked axes."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import (
    VIRIDIS,
    api_run,
    assert_no_sideways_scroll,
    lut,
    open_page,
    phone,
    query_of,
    shoot,
    wait_first_run,
)

pytestmark = pytest.mark.browser

TEXT_A = "ab.ab"
TEXT_B = "abab.a"  # one step longer than A
QUERY = f"model=counter&text={quote(TEXT_A)}&view=compare&text2={quote(TEXT_B)}&x2=f1"


def expected_pixels(values: list, lo: float, hi: float, stops: list[str]) -> np.ndarray:
    v = np.array(values, dtype=np.float64)  # T × H
    k = np.clip(np.floor((v - lo) * (255 / (hi - lo)) + 0.5), 0, 255).astype(int)
    return lut(stops)[k].transpose(1, 0, 2)  # H × T × 3, as the canvas rows are units


def canvas_pixels(page: Page, run: str) -> np.ndarray:
    rgba = page.evaluate(
        "(sel) => { const c = document.querySelector(sel); return [c.width, c.height, "
        "Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }",
        f'.compare-panel[data-run="{run}"] canvas.heat',
    )
    w, h, data = rgba
    return np.array(data, dtype=np.int64).reshape(h, w, 4)[:, :, :3]


def ready(page: Page) -> None:
    page.wait_for_selector('.compare-runs[data-ready="true"]')


def fx(x: float) -> str:
    return f"{x:.4f}".replace("-", "−")


def test_b_is_drawn_from_the_api_on_the_same_axes_and_hover_reads_both(page: Page) -> None:
    open_page(page, QUERY)
    ready(page)
    a = api_run(page, {"model": "counter", "text": TEXT_A})["layers"][0]
    b = api_run(page, {"model": "counter", "text": TEXT_B, "interventions": [{"gate": "f", "value": 1}]})[
        "layers"
    ][0]
    # B's f heatmap: every pixel as the API's values paint it (f ≡ 1: all the top colour)
    shown_b = canvas_pixels(page, "B")
    assert shown_b.shape == (4, len(TEXT_B), 3)
    assert np.abs(shown_b - expected_pixels(b["f"], 0, 1, VIRIDIS)).max() <= 1
    assert np.abs(canvas_pixels(page, "A") - expected_pixels(a["f"], 0, 1, VIRIDIS)).max() <= 1
    # locked width per step: the shorter A spans 5/6 of B's width
    widths = page.evaluate(
        "['A', 'B'].map(r => document.querySelector(`.compare-panel[data-run=\"${r}\"] canvas.heat`)"
        ".getBoundingClientRect().width)"
    )
    assert abs(widths[0] / len(TEXT_A) - widths[1] / len(TEXT_B)) < 0.5, widths
    notes = page.locator(".compare-notes").inner_text()
    assert "A has 5 steps and B has 6: A ends at t = 4." in notes

    # hover A's cell (t = 3, unit 2): the readout shows A's and B's values there, and B − A
    heat = page.locator('.compare-panel[data-run="A"] canvas.heat')
    heat.scroll_into_view_if_needed()
    box = heat.bounding_box()
    t, u = 3, 2
    page.mouse.move(box["x"] + (t + 0.5) * box["width"] / 5, box["y"] + (u + 0.5) * box["height"] / 4)
    read = page.locator(".compare-hover")
    assert read.locator('[data-run="B"]').inner_text() == f"B (“b”): f = {fx(b['f'][t][u])}"
    assert read.locator('[data-run="A"]').inner_text() == f"A (“a”): f = {fx(a['f'][t][u])}"
    d = b["f"][t][u] - a["f"][t][u]
    sign = "−" if d < 0 else "+"
    assert read.locator(".compare-read-diff").inner_text() == f"B − A = {sign}{abs(d):.4f}"
    assert page.locator('.compare-panel[data-run="B"] .cross.v').is_visible()

    # c: the colour range is shared, the larger of the two symmetric ranges
    page.select_option("#compare-gate", "c")
    ready(page)
    assert query_of(page)["gate2"] == ["c"]
    most = max(1.0, float(np.abs(a["c"]).max()), float(np.abs(b["c"]).max()))
    legends = [
        page.locator(f'.compare-panel[data-run="{r}"] .legend-labels span').last.inner_text()
        for r in ("A", "B")
    ]
    assert legends == [f"+{most:#.3g}"] * 2
    shoot(page, "compare-1280")
    page.locator(".compare").screenshot(path="tests/screenshots/compare-view-1280.png")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_state_round_trips_and_controls_write_the_url(page: Page) -> None:
    open_page(page, QUERY)
    ready(page)
    page.get_by_role("button", name="B: forget bias +1").click()
    ready(page)
    assert query_of(page)["x2"] == ["f1_fb1"]
    page.select_option("#compare-model", "latch")
    page.wait_for_function("new URLSearchParams(location.search).get('model2') === 'latch'")
    ready(page)
    assert "A has 4 hidden units and B has 5" in page.locator(".compare-notes").inner_text()
    pixels = canvas_pixels(page, "B")
    page.reload()
    wait_first_run(page)
    ready(page)
    assert np.array_equal(canvas_pixels(page, "B"), pixels)
    assert page.locator("#compare-text").input_value() == TEXT_B
    assert page.get_by_role("button", name="B: forget bias +1").get_attribute("aria-pressed") == "true"
    assert page.locator("#compare-model").input_value() == "latch"
    latch = api_run(
        page,
        {
            "model": "latch",
            "text": TEXT_B,
            "interventions": [{"gate": "f", "value": 1}, {"gate": "f", "bias_add": 1}],
        },
    )["layers"][0]
    assert np.abs(pixels - expected_pixels(latch["f"], 0, 1, VIRIDIS)).max() <= 1


def test_a_character_b_cannot_read_is_said_in_words(page: Page) -> None:
    open_page(page, f"model=counter&text=ab&view=compare&model2=reset-count&text2={quote('ab<b>x')}")
    page.wait_for_selector('.compare-runs[data-ready="error"]')
    error = page.locator(".compare-runs .error").inner_text()
    assert error.startswith("B could not be run: ") and "<" in error, error
    assert page.locator(".compare-runs b").count() == 0  # written as text, never as markup
    # typing a sequence B reads draws it
    page.fill("#compare-text", "ab.ab")
    page.get_by_role("button", name="Run B", exact=True).click()
    ready(page)
    assert query_of(page)["text2"] == ["ab.ab"]


def test_readable_on_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server, touch=False) as page:
        page.goto(f"{live_server}/?{QUERY}&model2=latch")
        page.wait_for_selector('.compare-runs[data-ready="true"]')
        assert_no_sideways_scroll(page)
        page.locator(".compare").scroll_into_view_if_needed()
        shoot(page, "compare-390")
        page.locator(".compare").screenshot(path="tests/screenshots/compare-view-390.png")


def test_share_links_keep_b_and_refuse_unreadable_what_ifs(page: Page) -> None:
    open_page(page, "model=counter")
    post = page.request.post(
        f"{page.base}/api/links",
        data={  # type: ignore[attr-defined]
            "model": "counter",
            "text": TEXT_A,
            "view": "compare",
            "model2": "latch",
            "text2": TEXT_B,
            "x2": "f1",
            "gate2": "c",
        },
    )
    assert post.ok, post.text()
    assert {k: post.json()["state"][k] for k in ("model2", "text2", "x2", "gate2")} == {
        "model2": "latch",
        "text2": TEXT_B,
        "x2": "f1",
        "gate2": "c",
    }
    bad = page.request.post(
        f"{page.base}/api/links",
        data={  # type: ignore[attr-defined]
            "model": "counter",
            "x2": "f7",
        },
    )
    assert bad.status == 422 and bad.json()["loc"] == ["x2"] and bad.json()["error"].startswith("x2: ")
    page.goto(f"{page.base}{post.json()['url']}")
    ready(page)
    assert page.locator("#compare-model").input_value() == "latch"
    assert page.locator('.compare-panel[data-run="B"]').get_attribute("data-gate") == "c"
