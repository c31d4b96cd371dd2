"""The keyboard: arrow keys move the pinned cell, Home/End jump, Escape unpins; typing is left alone."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.helpers import open_page, query_of


def pinned(page: Page) -> tuple[str | None, str | None]:
    q = query_of(page)
    return (q.get("t", [None])[0], q.get("unit", [None])[0])


def test_arrow_keys_move_the_pinned_cell_and_escape_unpins(page: Page) -> None:
    open_page(page, "model=counter&text=ab.%20ab")
    page.focus("#heatmaps")
    page.keyboard.press("ArrowRight")  # nothing pinned yet: the first cell is pinned
    assert pinned(page) == ("0", "0")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert pinned(page) == ("1", "2")
    assert "t = 1, token “b”, unit 2" in page.locator("#selection-text").inner_text()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    assert pinned(page) == ("5", "1")
    page.keyboard.press("ArrowRight")  # the last step stays the last
    assert pinned(page) == ("5", "1")
    page.keyboard.press("Home")
    assert pinned(page) == ("0", "1")
    page.keyboard.press("Escape")
    assert pinned(page) == (None, None)
    assert page.errors == []  # type: ignore[attr-defined]


def test_arrows_in_the_sequence_box_move_the_caret_not_the_cell(page: Page) -> None:
    open_page(page, "model=counter&text=abc&layer=0&t=1&unit=1")
    page.focus("#sequence")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    assert pinned(page) == ("1", "1")


def test_the_heatmaps_are_reached_by_tab_and_say_how_to_use_the_keys(page: Page) -> None:
    open_page(page, "model=counter&text=abc")
    label = page.get_attribute("#heatmaps", "aria-label") or ""
    assert "arrow keys" in label
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "heatmaps":
            break
    assert page.evaluate("document.activeElement.id") == "heatmaps"
