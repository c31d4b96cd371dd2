"""The unit inspector in a real Chromium: one unit's six values as line charts that match the
API's numbers, the tokens on the time axis, and the unit in the URL."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import (
    api_run,
    assert_no_sideways_scroll,
    open_page,
    phone,
    query_of,
    shoot,
    wait_first_run,
)

pytestmark = pytest.mark.browser

RESETS = "abaab.baaa.ab.aaaab"
RECALL = "c" + "-" * 99
TOP, PLOT_HEIGHT = 10, 120  # unit.js: the plot's top margin and height in SVG units (170 − 10 − 40)


def legend_values(page: Page) -> dict[str, float]:
    pairs = page.eval_on_selector_all(
        ".unit-legend li",
        "items => items.map(li => [li.dataset.key, li.querySelector('.unit-value').textContent])",
    )
    return {key: float(text.removeprefix("= ").replace("−", "-")) for key, text in pairs}


def line_values(page: Page, chart: str, key: str, lo: float, hi: float) -> list[float]:
    """The values a polyline draws, read back from its points."""
    points = page.eval_on_selector(
        f'.unit-chart[data-chart="{chart}"] polyline[data-key="{key}"]', "p => p.getAttribute('points')"
    )
    ys = [float(pair.split(",")[1]) for pair in points.split()]
    return [hi - (y - TOP) / PLOT_HEIGHT * (hi - lo) for y in ys]


def test_the_pinned_units_lines_and_readings_are_the_apis(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=unit&layer=0&t=5&unit=2")
    answer = api_run(page, {"model": "reset-count", "text": RESETS})["layers"][0]
    assert page.locator(".unit-title").inner_text().startswith("Unit 2 — c tracks a's since the last '.'")
    assert page.input_value("#unit-pick") == "2"
    shown = legend_values(page)
    assert set(shown) == set("fiochg")
    for gate, value in shown.items():
        assert value == pytest.approx(answer[gate][5][2], abs=5e-5), gate
    # The lines: f, i, o on 0..1; the gate shuts at every '.'.
    for gate in "fio":
        drawn = line_values(page, "gates", gate, 0, 1)
        assert drawn == pytest.approx([row[2] for row in answer[gate]], abs=0.01), gate
    f = line_values(page, "gates", "f", 0, 1)
    assert [t for t, v in enumerate(f) if v < 0.1] == [t for t, ch in enumerate(RESETS) if ch == "."]
    most = max(1, *(abs(row[2]) for row in answer["c"]))
    hi = max(
        float(t.replace("−", "-"))
        for t in page.eval_on_selector_all(
            '.unit-chart[data-chart="values"] text.ytick', "ts => ts.map(t => t.textContent)"
        )
    )
    assert hi >= most  # the value axis holds the whole cell state
    for key in "chg":
        drawn = line_values(page, "values", key, -hi, hi)
        assert drawn == pytest.approx([row[2] for row in answer[key]], abs=0.01 * hi), key
    # Every step is labelled with its token on both charts; the pinned step is marked.
    tokens = page.eval_on_selector_all(
        '.unit-chart[data-chart="gates"] text.token', "ts => ts.map(t => t.textContent)"
    )
    assert tokens == list(RESETS)
    assert page.locator(".pinned-step").count() == 2
    # Colour is not all that tells the lines apart: each has its own dash pattern.
    dashes = page.eval_on_selector_all(
        ".unit-plot polyline", "ps => ps.map(p => p.getAttribute('stroke-dasharray'))"
    )
    assert len(dashes) == 6 and len(set(dashes[:3])) == 3 and len(set(dashes[3:])) == 3
    shoot(page, "unit-reset-1280")
    assert page.errors == []  # type: ignore[attr-defined]


def test_hovering_a_chart_reads_that_step_on_both(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=unit&layer=0&t=5&unit=2")
    answer = api_run(page, {"model": "reset-count", "text": RESETS})["layers"][0]
    plot = page.locator('.unit-chart[data-chart="values"] svg.unit-plot')
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    assert box is not None
    width = page.eval_on_selector(
        '.unit-chart[data-chart="values"] svg.unit-plot', "s => s.viewBox.baseVal.width"
    )
    scale = box["width"] / width
    cell = (width - 50 - 10) / len(RESETS)
    t = 9
    page.mouse.move(box["x"] + (50 + (t + 0.5) * cell) * scale, box["y"] + 60 * scale)
    page.wait_for_function("document.querySelector('.unit-at').textContent.startsWith('t = 9,')")
    assert page.locator(".unit-at").first.inner_text() == "t = 9, token “a”"
    for gate, value in legend_values(page).items():
        assert value == pytest.approx(answer[gate][t][2], abs=5e-5), gate
    # A click pins that step of this unit.
    page.mouse.click(box["x"] + (50 + (t + 0.5) * cell) * scale, box["y"] + 60 * scale)
    page.wait_for_function("new URLSearchParams(location.search).get('t') === '9'")
    assert query_of(page)["unit"] == ["2"]


def test_without_a_pin_a_picker_chooses_the_unit_and_the_url_keeps_it(page: Page) -> None:
    open_page(page, f"model=recall&text={RECALL}&view=unit")
    assert page.input_value("#unit-pick") == "0"  # the first named unit
    page.get_by_label("Unit to inspect").select_option("3")
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '3'")
    assert "t" not in query_of(page)
    assert page.locator(".unit-title").inner_text().startswith("Unit 3")
    answer = api_run(page, {"model": "recall", "text": RECALL})["layers"][0]
    # Unit 3 holds what it wrote at step 0: f stays at 1 for the whole run.
    assert min(line_values(page, "gates", "f", 0, 1)[1:]) > 0.99
    assert line_values(page, "gates", "f", 0, 1) == pytest.approx([row[3] for row in answer["f"]], abs=0.01)
    # 100 steps are too many for a token each: every few steps, token and step number.
    labels = page.eval_on_selector_all(
        '.unit-chart[data-chart="gates"] text.token',
        "ts => ts.map(t => [Number(t.dataset.t), t.textContent])",
    )
    assert 3 <= len(labels) < 30 and labels[0] == [0, "c"] and all(text == "-" for _, text in labels[1:])
    page.reload()
    wait_first_run(page)
    assert page.input_value("#unit-pick") == "3"
    assert page.locator('#tab-unit[aria-selected="true"]').count() == 1
    assert page.errors == []  # type: ignore[attr-defined]


def test_unit_view_on_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"model=reset-count&text={quote(RESETS)}&view=unit&layer=0&t=5&unit=2")
        assert_no_sideways_scroll(small)
        box = small.locator(".unit-plot").first.bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] >= 100
        small.locator(".views").scroll_into_view_if_needed()
        shoot(small, "unit-reset-phone")
