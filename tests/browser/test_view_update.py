"""The cell-update view: per unit, what the pinned step kept (f ⊙ c_{t−1}), what it wrote (i ⊙ g)
and the new c, all as the API computed them."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import SCREENSHOTS, api_run, open_page, query_of, runs, shoot, wait_next_run
from tests.browser.test_view_step import COUNT_MOVES, FITS, assert_shown, printed

pytestmark = pytest.mark.browser

TEXT = "a banana. an"
DOT = 8


def row(key: str, num: str) -> str:
    return f'.update-sums [data-eq="{key}"] [data-num="{num}"]'


def test_kept_written_and_the_new_cell_are_the_apis(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=1&view=update")
    api = api_run(page, {"model": "counter", "text": TEXT, "include": ["update"]})["layers"][0]
    t, u = DOT, 1
    assert_shown(page, row("kept", "f"), api["f"][t][u])
    assert_shown(page, row("kept", "c_prev"), api["c"][t - 1][u])
    assert_shown(page, row("kept", "kept"), api["update"]["kept"][t][u])
    assert_shown(page, row("written", "i"), api["i"][t][u])
    assert_shown(page, row("written", "g"), api["g"][t][u])
    assert_shown(page, row("written", "written"), api["update"]["written"][t][u])
    assert_shown(page, row("new", "c"), api["c"][t][u])
    # unit 1 counted 8 characters before the '.', and f wipes them: almost nothing is kept
    assert api["c"][t - 1][u] > 7 and printed(page, row("kept", "kept")) < 0.01
    text = page.locator(".update-view").inner_text()
    assert "The cell state is a vector: one number per unit" in text
    assert "f decides how much of each coordinate is kept" in text
    assert "wipes most of 3" in text  # units 0, 1 and 2 forget at '.'; unit 3 never does
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_bars_show_kept_written_and_both_cells_for_every_unit(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t=7&unit=0&view=update")
    api = api_run(page, {"model": "counter", "text": TEXT, "include": ["update"]})["layers"][0]
    bars = page.locator("#update-bars")
    assert bars.get_attribute("aria-valuemax") == "3"
    for kind in ("seg-kept", "seg-written", "marker-c", "marker-c_prev"):
        assert page.locator(f"#update-bars path.{kind}").count() == 1
    rings = page.eval_on_selector("#update-bars path.marker-c_prev", COUNT_MOVES)
    assert rings == 4
    tip = page.locator("#update-bars .hits rect").nth(1).locator("title").text_content()
    for label, value in (
        ("kept", api["update"]["kept"][7][1]),
        ("written", api["update"]["written"][7][1]),
        ("new c", api["c"][7][1]),
        ("old c", api["c"][6][1]),
    ):
        assert f"{label} {float(f'{value:.4g}'):g}" in tip, (label, tip)
    assert "cell state value" in bars.text_content()


def test_the_first_step_starts_from_an_empty_cell(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t=0&unit=0&view=update")
    assert page.locator(row("kept", "c_prev")).inner_text() == "0"
    assert "c₋₁ = 0" in page.locator(".update-view").inner_text()


def test_a_bar_click_pins_its_unit_and_the_view_survives_a_reload(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=0&view=update")
    page.locator("#update-bars .hits rect").nth(3).click()
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '3'")
    assert "Unit 3 (sentences)" in page.locator(".update-view").inner_text()
    assert query_of(page)["view"] == ["update"]
    before = runs(page)
    page.reload()
    wait_next_run(page, before - 1)
    page.locator(".update-sums").wait_for()
    assert page.locator("#tab-update").get_attribute("aria-selected") == "true"
    assert "Unit 3 (sentences)" in page.locator(".update-view").inner_text()


def test_the_tab_asks_for_the_update_and_says_what_to_click_when_nothing_is_pinned(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}")
    before = runs(page)
    page.click("#tab-update")
    wait_next_run(page, before)
    assert query_of(page)["view"] == ["update"]
    assert "Click a cell of any heatmap to pin a time step" in page.locator("#view-body").inner_text()
    page.locator('.panel[data-gate="c"] canvas.heat').click(position={"x": 3, "y": 3})
    page.locator(".update-sums").wait_for()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_screenshots_of_the_update_view(browser: Browser, live_server: str, width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = context.new_page()
        pg.base = live_server  # type: ignore[attr-defined]
        open_page(pg, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=1&view=update")
        pg.locator("#update-bars").wait_for()
        assert pg.evaluate(FITS)
        shoot(pg, f"update-{width}")
        pg.locator(".views").screenshot(path=str(SCREENSHOTS / f"update-{width}-view.png"))
    finally:
        context.close()
