"""The weights view in a real Chromium: a unit's rows of W, U and b as bars that are the API's
numbers, and the whole gate as an H × (I + H + 1) heatmap with the unit's row outlined."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import assert_no_sideways_scroll, open_page, phone, query_of, shoot

pytestmark = pytest.mark.browser


def bars(page: Page, chart: str) -> list[tuple[str, float, float]]:
    """(label, drawn length, printed value) of a chart's bars, top to bottom."""
    rows = page.eval_on_selector_all(
        f'.weights-chart[data-chart="{chart}"] g.weights-bar',
        "gs => gs.map(g => [g.dataset.label, Number(g.querySelector('rect').getAttribute('width')),"
        " g.querySelector('.weights-value').textContent])",
    )
    return [(label, width, float(text.replace("−", "-"))) for label, width, text in rows]


def weights_api(page: Page, model: str, gate: str, layer: int = 0) -> dict:
    response = page.request.get(f"{page.base}/api/models/{model}/weights?gate={gate}&layer={layer}")  # type: ignore[attr-defined]
    assert response.ok, response.text()
    return response.json()


def test_counters_forget_gate_listens_to_the_dot(page: Page) -> None:
    open_page(page, "model=counter&text=ab.ab&view=weights")
    page.wait_for_selector('.weights-chart[data-chart="W"] g.weights-bar')
    assert page.input_value("#weights-gate") == "f"  # wgate's default
    assert page.input_value("#weights-unit") == "0"  # nothing pinned: unit 0
    drawn = bars(page, "W")
    api = weights_api(page, "counter", "f")["layers"][0]
    assert len(drawn) == len(api["inputs"])  # one bar per input
    label, width, value = drawn[0]  # sorted by size: the longest first
    assert (label, value) == (".", -20.0)
    assert width == max(w for _, w, _ in drawn) and all(w < width / 10 for _, w, _ in drawn[1:])
    # U: one bar per unit of h; b: the bias, on the same scale (10 is half the '.' bar's length)
    assert [lab for lab, _, _ in bars(page, "U")] == ["h0", "h1", "h2", "h3"]
    [(_, b_width, b_value)] = bars(page, "b")
    assert b_value == api["gates"]["f"]["b"][0] == 10.0
    assert b_width == pytest.approx(width / 2, rel=1e-6)
    # The whole gate: H × (I + H + 1) values, unit 0's row outlined.
    H, I = 4, len(api["inputs"])
    size = page.eval_on_selector("canvas.weights-heat", "c => [c.height, c.width]")
    assert size == [H, I + H + 1]
    frame = page.locator(".weights-frame").bounding_box()
    outline = page.locator(".weights-row-outline").bounding_box()
    assert frame is not None and outline is not None
    assert outline["y"] == pytest.approx(frame["y"], abs=1)
    assert outline["height"] == pytest.approx(frame["height"] / H, abs=1)
    # The '.' column's pixel of row 0 is the scale's deepest blue; a zero weight is white.
    dot = api["inputs"].index(".")
    rgb = page.evaluate(
        "j => Array.from(document.querySelector('canvas.weights-heat').getContext('2d')"
        ".getImageData(j, 0, 1, 1).data).slice(0, 3)",
        dot,
    )
    assert rgb == [0x05, 0x30, 0x61]
    shoot(page, "weights-counter-1280")
    assert page.errors == []  # type: ignore[attr-defined]


def test_input_order_another_gate_and_a_pinned_unit_are_in_the_url(page: Page) -> None:
    open_page(page, "model=counter&text=ab.ab&view=weights&layer=0&t=1&unit=2")
    page.wait_for_selector('.weights-chart[data-chart="W"] g.weights-bar')
    assert page.input_value("#weights-unit") == "2"
    page.check("#weights-order")
    page.wait_for_function("new URLSearchParams(location.search).get('worder') === 'input'")
    api = weights_api(page, "counter", "f")["layers"][0]
    assert [lab for lab, _, _ in bars(page, "W")][:3] == api["inputs"][:3]
    assert [v for _, _, v in bars(page, "W")] == pytest.approx(
        [round(v, 2) for v in api["gates"]["f"]["W"][2]]
    )
    page.select_option("#weights-gate", "i")
    page.wait_for_function("new URLSearchParams(location.search).get('wgate') === 'i'")
    page.wait_for_selector('.weights-title:has-text(": i, the input gate")')
    api_i = weights_api(page, "counter", "i")["layers"][0]
    assert [v for _, _, v in bars(page, "W")] == pytest.approx(
        [round(v, 2) for v in api_i["gates"]["i"]["W"][2]]
    )
    # clicking row 1 of the gate's heatmap pins unit 1 at the pinned step
    page.locator(".weights-frame").scroll_into_view_if_needed()
    frame = page.locator(".weights-frame").bounding_box()
    assert frame is not None
    page.locator(".weights-frame").click(position={"x": frame["width"] / 2, "y": frame["height"] * 1.5 / 4})
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '1'")
    assert query_of(page)["t"] == ["1"]
    assert page.errors == []  # type: ignore[attr-defined]


def test_python_chars_gate_map_and_phone(page: Page, browser: Browser, live_server: str) -> None:
    open_page(page, "model=python-chars&text=def%20f(x)%3A%0A%20%20%20%20return%20x%0A&view=weights&wgate=f")
    page.wait_for_selector('.weights-chart[data-chart="W"] g.weights-bar')
    api = weights_api(page, "python-chars", "f")["layers"][0]
    H, I = 128, len(api["inputs"])
    assert page.eval_on_selector("canvas.weights-heat", "c => [c.height, c.width]") == [H, I + H + 1]
    assert len(bars(page, "W")) == I and len(bars(page, "U")) == H
    widths = [w for _, w, _ in bars(page, "W")]
    assert widths == sorted(widths, reverse=True)
    page.locator(".weights-map").scroll_into_view_if_needed()
    shoot(page, "weights-python-1280")
    with phone(browser, live_server) as small:
        open_page(small, "model=counter&text=ab.ab&view=weights")
        small.wait_for_selector('.weights-chart[data-chart="W"] g.weights-bar')
        assert_no_sideways_scroll(small)
        small.locator(".views").scroll_into_view_if_needed()
        shoot(small, "weights-counter-phone")
