"""The memory view in a real Chromium: the retention heatmap and the memory spans it draws from
the API's `retention`, its start step in the URL, and what the trained models show with it."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import (
    VIRIDIS_0,
    VIRIDIS_1,
    api_run,
    assert_no_sideways_scroll,
    near,
    open_page,
    phone,
    query_of,
    runs,
    shoot,
    wait_first_run,
    wait_next_run,
)

pytestmark = pytest.mark.browser

RECALL = "c" + "-" * 99  # the recall model's example: remember the first symbol for 99 steps
RESETS = "abaab.baaa.ab.aaaab"  # the reset-count model's example
GREY = (0xD9, 0xD9, 0xD9)  # steps before s
HEAT = '.panel.retention[data-layer="0"] canvas.heat'


def retention(page: Page, model: str, text: str, start: int) -> dict:
    answer = api_run(page, {"model": model, "text": text, "include": ["retention"], "retention_from": start})
    return answer["layers"][0]["retention"]


def pixel(page: Page, t: int, unit: int) -> tuple[int, int, int]:
    rgba = page.evaluate(
        "([sel, t, u]) => Array.from(document.querySelector(sel).getContext('2d')"
        ".getImageData(t, u, 1, 1).data)",
        [HEAT, t, unit],
    )
    return tuple(rgba[:3])


def spans_shown(page: Page) -> list[tuple[int, str, str]]:
    """(unit, data-span, text) of every row of the span list, top to bottom."""
    return page.eval_on_selector_all(
        ".span-row",
        "rows => rows.map(r => [Number(r.dataset.unit), r.dataset.span,"
        " r.querySelector('.span-text').textContent])",
    )


def test_recall_keeps_the_first_symbol_in_two_units_for_the_whole_run(page: Page) -> None:
    open_page(page, f"model=recall&text={RECALL}&view=memory")
    api = retention(page, "recall", RECALL, 0)
    assert api["start"] == 0
    assert [api["span"][u] for u in (0, 3)] == [None, None]  # the model's long-term memory
    assert page.input_value("#memory-from") == "0"
    shown = spans_shown(page)
    assert [u for u, _, _ in shown] == [0, 1, 2, 3]
    for u, span, text in shown:
        want = api["span"][u]
        if want is None:
            assert span == "" and text == "longer than the run (> 99 steps)"
        else:
            assert span == str(want) and text == f"{want} step{'s' * (want != 1)}"
    # Colours: everything of c_0 is there at step 0 (yellow), nothing of unit 2's at the end.
    assert page.eval_on_selector(HEAT, "c => [c.width, c.height]") == [100, 4]
    assert near(pixel(page, 0, 1), VIRIDIS_1)
    assert api["survives"][99][2] < 0.01
    assert near(pixel(page, 99, 2), VIRIDIS_0, tol=4)
    assert near(pixel(page, 99, 3), VIRIDIS_1, tol=12)  # 0.99 of it is left
    text = page.locator(".memory-about").inner_text()
    assert (
        "If nothing new were written, this much of what the cell held at step s would still be there" in text
    )
    shoot(page, "memory-recall-1280")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_reset_counter_forgets_at_every_full_stop(page: Page) -> None:
    dots = [t for t, ch in enumerate(RESETS) if ch == "."]  # 5, 10, 13
    for s, dot in zip([0, *[d + 1 for d in dots[:-1]]], dots, strict=True):
        api = retention(page, "reset-count", RESETS, s)
        # unit 2 counts a's since the last '.': all of its memory goes at the next '.'
        assert api["survives"][dot - 1][2] > 0.9 and api["survives"][dot][2] < 0.05, (s, dot)
        assert api["span"][2] == dot - s
    open_page(page, f"model=reset-count&text={RESETS}&view=memory&from=6")
    assert page.input_value("#memory-from") == "6"
    row = page.locator('.span-row[data-unit="2"]')
    assert row.locator(".span-text").inner_text() == "4 steps"
    assert "step 10 (“.”)" in (row.get_attribute("title") or "")
    for t in range(6):
        assert near(pixel(page, t, 2), GREY, tol=1), t  # before s: no value
    assert near(pixel(page, 6, 2), VIRIDIS_1)
    assert near(pixel(page, 10, 2), VIRIDIS_0, tol=5)


def test_hovering_the_heatmap_prints_the_apis_share(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=memory&from=6")
    api = retention(page, "reset-count", RESETS, 6)
    canvas = page.locator(HEAT)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    t, unit = 9, 3
    page.mouse.move(
        box["x"] + (t + 0.5) * box["width"] / len(RESETS), box["y"] + (unit + 0.5) * box["height"] / 8
    )
    readout = page.locator(".memory-readout")
    expected = f"{api['survives'][t][unit]:.4f} of c at step 6 is still there"
    page.wait_for_function(f"document.querySelector('.memory-readout').textContent.includes('{expected}')")
    assert f"t = {t} “a”, unit {unit}" in readout.inner_text()
    page.mouse.move(box["x"] + 2.5 * box["width"] / len(RESETS), box["y"] + 3)
    page.wait_for_function("document.querySelector('.memory-readout').textContent.includes('before s = 6')")


def test_choosing_s_reruns_writes_the_url_and_survives_a_reload(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=memory")
    before = runs(page)
    page.get_by_label("Start step s").fill("11")
    page.get_by_label("Start step s").press("Enter")
    wait_next_run(page, before)
    assert query_of(page)["from"] == ["11"]
    api = retention(page, "reset-count", RESETS, 11)
    assert [int(s) if s else None for _, s, _ in spans_shown(page)] == api["span"]
    assert "Here s = 11, the token “a”." in page.locator(".memory-about").inner_text()
    # A click on a column of the heatmap starts there instead.
    canvas = page.locator(HEAT)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    before = runs(page)
    page.mouse.click(box["x"] + 3.5 * box["width"] / len(RESETS), box["y"] + 5)
    wait_next_run(page, before)
    assert query_of(page)["from"] == ["3"]
    assert page.input_value("#memory-from") == "3"
    page.reload()
    wait_first_run(page)
    assert page.input_value("#memory-from") == "3"
    assert page.locator('#tab-memory[aria-selected="true"]').count() == 1
    assert near(pixel(page, 2, 0), GREY, tol=1) and near(pixel(page, 3, 0), VIRIDIS_1)
    assert page.errors == []  # type: ignore[attr-defined]


def test_s_follows_the_pinned_step_until_one_is_chosen(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=memory&layer=0&t=6&unit=2")
    assert page.input_value("#memory-from") == "6"
    assert page.locator('.span-row[data-unit="2"]').get_attribute("aria-pressed") == "true"
    # Pin another step on the main heatmaps: the view follows the cell from there.
    box = page.locator('.panel[data-layer="0"][data-gate="f"] canvas.heat').bounding_box()
    assert box is not None
    before = runs(page)
    page.mouse.click(box["x"] + 11.5 * box["width"] / len(RESETS), box["y"] + 2.5 * box["height"] / 8)
    wait_next_run(page, before)
    page.wait_for_function("document.querySelector('#memory-from')?.value === '11'")
    assert "from" not in query_of(page)
    # A shorter sequence keeps s inside the run instead of failing.
    open_page(page, "model=reset-count&text=ab.&view=memory&from=7")
    assert page.input_value("#memory-from") == "2"
    assert page.locator("#error").is_hidden()


def test_a_span_row_pins_its_unit_and_the_order_is_kept_in_the_url(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=memory&from=6")
    page.locator('.span-row[data-unit="4"]').click()
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '4'")
    assert query_of(page)["t"] == ["6"] and query_of(page)["layer"] == ["0"]
    assert page.locator('.span-row[data-unit="4"]').get_attribute("aria-pressed") == "true"
    assert page.locator(".panel.retention .pin").is_visible()
    api = retention(page, "reset-count", RESETS, 6)
    page.get_by_label("Order spans by").select_option("long")
    page.wait_for_function("new URLSearchParams(location.search).get('spans') === 'long'")
    longest = sorted(range(8), key=lambda u: (-(api["span"][u] if api["span"][u] is not None else 1e9), u))
    assert [u for u, _, _ in spans_shown(page)] == longest
    page.reload()
    wait_first_run(page)
    assert page.get_by_label("Order spans by").input_value() == "long"
    assert [u for u, _, _ in spans_shown(page)] == longest
    page.get_by_label("Order spans by").select_option("short")
    page.wait_for_function("new URLSearchParams(location.search).get('spans') === 'short'")
    shown = [u for u, _, _ in spans_shown(page)]
    assert shown == sorted(range(8), key=lambda u: (api["span"][u] if api["span"][u] is not None else 1e9, u))


def test_memory_view_on_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"model=reset-count&text={quote(RESETS)}&view=memory&from=6")
        assert_no_sideways_scroll(small)
        small.locator(".views").scroll_into_view_if_needed()
        shoot(small, "memory-reset-phone")
