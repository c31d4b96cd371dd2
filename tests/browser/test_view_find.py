"""The find-units view in a real Chromium: a span of steps ranks the units, and the main heatmaps'
rows follow that rank (or mean f, or variance), filtered to the top k, with hover, click and the
y axis mapping back to the true unit. Every expectation is computed here, with NumPy, from the
API's own arrays."""

from __future__ import annotations

import math
from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import (
    BLUE_RED,
    VIRIDIS,
    all_pixels,
    api_run,
    assert_no_sideways_scroll,
    canvas,
    lut,
    open_page,
    phone,
    query_of,
    runs,
    shoot,
    wait_first_run,
    wait_next_run,
)

pytestmark = pytest.mark.browser

RESETS = "abaab.baaa.ab.aaaab"  # the reset-count model's example; '.' at steps 5, 10 and 13
GATES = "figoch"


def js_round(x: float) -> int:
    return math.floor(x + 0.5)


LUTS = {
    "f": lut(VIRIDIS),
    "i": lut(VIRIDIS),
    "o": lut(VIRIDIS),
    "g": lut(BLUE_RED),
    "c": lut(BLUE_RED),
    "h": lut(BLUE_RED),
}


def colour_range(layer: dict, gate: str) -> tuple[float, float]:
    if gate == "c":  # symmetric about 0: ±(largest |c| in the layer, at least 1)
        most = max(1.0, float(np.abs(np.array(layer["c"])).max()))
        return -most, most
    return (-1.0, 1.0) if gate in "gh" else (0.0, 1.0)


def expected_image(layer: dict, gate: str, rows: list[int]) -> np.ndarray:
    """The (rows, T, 3) colours the API's values give, row k showing unit rows[k]."""
    lo, hi = colour_range(layer, gate)
    scale = 255 / (hi - lo)
    values = layer[gate]
    table = LUTS[gate]
    out = np.zeros((len(rows), len(values), 3), dtype=np.int64)
    for k, u in enumerate(rows):
        for t, column in enumerate(values):
            out[k, t] = table[max(0, min(255, js_round((column[u] - lo) * scale)))]
    return out


def drawn_image(page: Page, gate: str) -> np.ndarray:
    w, h, data = page.evaluate(
        "sel => { const c = document.querySelector(sel);"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);"
        " return [c.width, c.height, Array.from(d.data)]; }",
        canvas(gate),
    )
    return np.array(data, dtype=np.int64).reshape(h, w, 4)[:, :, :3]


def span_scores(x: np.ndarray, first: int, last: int) -> np.ndarray:
    inside = np.zeros(len(x), dtype=bool)
    inside[first : last + 1] = True
    return x[inside].mean(axis=0) - x[~inside].mean(axis=0)


def highest_first(values: np.ndarray) -> list[int]:
    return [int(u) for u in np.argsort(-values, kind="stable")]


def y_labels(page: Page, gate: str = "f") -> list[int]:
    return [
        int(s)
        for s in page.eval_on_selector_all(
            f'.panel[data-layer="0"][data-gate="{gate}"] .yaxis .tick', "ts => ts.map(t => t.textContent)"
        )
    ]


def listed(page: Page) -> list[tuple[int, float]]:
    rows = page.eval_on_selector_all(
        ".find-unit",
        "bs => bs.map(b => [Number(b.dataset.unit), b.querySelector('.find-score').textContent])",
    )
    return [(u, float(score.replace("−", "-"))) for u, score in rows]


def reset_count(page: Page) -> dict:
    return api_run(page, {"model": "reset-count", "text": RESETS})["layers"][0]


def test_a_span_after_a_reset_puts_the_counting_units_on_top_of_every_heatmap(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&scale=fixed&view=find&span=5-6&by=h&sort=rank")
    layer = reset_count(page)
    score = span_scores(np.array(layer["h"]), 5, 6)
    order = highest_first(score)
    # The steps just after a '.' are where the counting units reset: they rank first.
    names = page.evaluate("fetch('/api/models/reset-count').then(r => r.json()).then(m => m.units)")
    assert sorted(order[:3]) == [0, 2, 5] and all(names[u] for u in order[:3]), order
    assert order != sorted(order)  # a different order from the units' own, so the check below can fail
    for gate in GATES:
        drawn = drawn_image(page, gate)
        assert drawn.shape == (8, len(RESETS), 3)
        assert np.array_equal(drawn, expected_image(layer, gate, order)), gate
        assert not np.array_equal(drawn, expected_image(layer, gate, list(range(8)))), gate
        assert y_labels(page, gate) == order
    # The list: numpy's ranking, with its scores at the printed precision and the units' names.
    shown = listed(page)
    assert [u for u, _ in shown] == order
    for u, printed in shown:
        assert printed == pytest.approx(score[u], abs=5e-4)
    assert "unit 2" in page.locator(".find-unit").nth(order.index(2)).inner_text()
    assert names[2] in page.locator("#find-unit-2").inner_text()
    explain = page.locator(".find-explain").inner_text()
    assert "how much more active their h is inside steps 5–6 (“.b”) than elsewhere" in explain
    assert page.input_value("#find-from") == "5" and page.input_value("#find-to") == "6"
    page.locator(".views").scroll_into_view_if_needed()
    shoot(page, "find-reset-1280")
    assert page.errors == []  # type: ignore[attr-defined]


def test_hover_and_click_on_a_sorted_row_read_and_pin_the_true_unit(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=find&by=c&sort=variance")
    layer = reset_count(page)
    order = highest_first(np.array(layer["c"]).var(axis=0))
    assert order[0] != 0 and order[1] != 1
    assert y_labels(page) == order
    page.locator(canvas("o")).scroll_into_view_if_needed()
    box = page.locator(canvas("o")).bounding_box()
    assert box is not None
    t, row = 3, 1
    x, y = box["x"] + (t + 0.5) * box["width"] / len(RESETS), box["y"] + (row + 0.5) * box["height"] / 8
    page.mouse.move(x, y)
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    assert f"unit {order[row]}" in tooltip.inner_text()
    for gate in GATES:
        value = float(tooltip.locator(f'dd[data-gate="{gate}"]').inner_text())
        assert value == pytest.approx(layer[gate][t][order[row]], abs=5e-5), gate
    # The crosshair's row is the hovered row, on the sorted panels.
    assert page.eval_on_selector('.panel[data-gate="f"] .cross.h', "n => n.style.top") == f"{row / 8 * 100}%"
    page.mouse.click(x, y)
    page.wait_for_function(f"new URLSearchParams(location.search).get('unit') === '{order[row]}'")
    assert query_of(page)["t"] == [str(t)]
    assert f"unit {order[row]}" in page.locator("#selection-text").inner_text()
    tops = page.eval_on_selector_all(".panel .pin", "ps => ps.map(p => p.hidden ? null : p.style.top)")
    assert tops == [f"{row / 8 * 100}%"] * 6  # drawn on the row the unit sits in, not on row order[row]
    # A unit of the ranking list pins that unit too (with a span to rank by).
    page.fill("#find-from", "6")
    page.press("#find-from", "Enter")
    page.wait_for_function("new URLSearchParams(location.search).get('span') === '6-6'")
    page.fill("#find-to", "9")
    page.press("#find-to", "Enter")
    page.wait_for_function("new URLSearchParams(location.search).get('span') === '6-9'")
    ranked = highest_first(span_scores(np.array(layer["c"]), 6, 9))
    assert [u for u, _ in listed(page)] == ranked
    assert page.evaluate("document.activeElement.id") == "find-to"  # the keyboard stays where it was
    page.click(f"#find-unit-{ranked[1]}")
    page.wait_for_function(f"new URLSearchParams(location.search).get('unit') === '{ranked[1]}'")
    assert query_of(page)["t"] == [str(t)]  # the pinned step stays
    assert page.get_attribute(f"#find-unit-{ranked[1]}", "aria-pressed") == "true"
    assert y_labels(page) == order  # still sorted by variance: the span changes only the list
    assert page.errors == []  # type: ignore[attr-defined]


def test_top_k_shows_exactly_k_rows_and_hides_the_pin_of_a_unit_left_out(page: Page) -> None:
    open_page(
        page,
        f"model=reset-count&text={RESETS}&scale=fixed&view=find&span=5-6&sort=rank&top=3&t=2&unit=4&layer=0",
    )
    layer = reset_count(page)
    order = highest_first(span_scores(np.array(layer["h"]), 5, 6))
    assert order[-1] == 4  # the pinned unit ranks last: it is not drawn
    for gate in GATES:
        assert page.eval_on_selector(canvas(gate), "c => [c.width, c.height]") == [len(RESETS), 3]
        assert np.array_equal(drawn_image(page, gate), expected_image(layer, gate, order[:3])), gate
        assert y_labels(page, gate) == order[:3]
    assert [u for u, _ in listed(page)] == order[:3]
    assert page.eval_on_selector_all(".panel .pin", "ps => ps.every(p => p.hidden)")
    assert "unit 4" in page.locator("#selection-text").inner_text()  # still pinned, still read out
    assert "the top 3 of 8 units" in page.locator(".find-controls").inner_text()
    # k from the box: one more row.
    page.fill("#find-top", "4")
    page.press("#find-top", "Enter")
    page.wait_for_function("new URLSearchParams(location.search).get('top') === '4'")
    page.wait_for_function(f"document.querySelector('{canvas('h')}').height === 4")
    assert y_labels(page) == order[:4]
    page.locator(".views").scroll_into_view_if_needed()
    shoot(page, "find-top3-1280")


def test_sorting_by_mean_forget_value(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&scale=fixed&view=find&sort=forget")
    layer = reset_count(page)
    order = highest_first(np.array(layer["f"]).mean(axis=0))
    assert order[0] == 6  # the unit whose f stays at 1: it never forgets
    assert y_labels(page) == order
    assert np.array_equal(drawn_image(page, "c"), expected_image(layer, "c", order))
    assert page.locator(".find-ranking").count() == 0  # no span: nothing ranked yet, and it says so
    assert "Select a span of steps" in page.locator(".find-explain").inner_text()


def test_the_state_round_trips_through_drag_reload_back_and_other_views(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=find&sort=rank")
    layer = reset_count(page)
    assert y_labels(page) == list(range(8))  # rank without a span: the units' own order
    page.locator(".find-strip").scroll_into_view_if_needed()
    strip = page.locator(".find-strip").bounding_box()
    assert strip is not None
    cell = strip["width"] / len(RESETS)
    y = strip["y"] + strip["height"] / 2
    page.mouse.move(strip["x"] + 13.5 * cell, y)  # drag leftwards, from step 13 to step 10
    page.mouse.down()
    page.mouse.move(strip["x"] + 11.5 * cell, y, steps=4)
    page.mouse.move(strip["x"] + 10.5 * cell, y, steps=4)
    page.mouse.up()
    page.wait_for_function("new URLSearchParams(location.search).get('span') === '10-13'")
    order = highest_first(span_scores(np.array(layer["h"]), 10, 13))
    assert y_labels(page) == order
    assert [u for u, _ in listed(page)] == order
    page.get_by_label("rank by").select_option("c")
    page.wait_for_function("new URLSearchParams(location.search).get('by') === 'c'")
    by_c = highest_first(span_scores(np.array(layer["c"]), 10, 13))
    assert y_labels(page) == by_c and [u for u, _ in listed(page)] == by_c
    assert page.evaluate("document.activeElement.id") == "find-by"
    pixels = all_pixels(page)
    before = runs(page)
    page.reload()
    wait_first_run(page)
    assert all_pixels(page) == pixels
    assert page.input_value("#find-from") == "10" and page.input_value("#find-to") == "13"
    assert page.input_value("#find-by") == "c" and page.input_value("#find-sort") == "rank"
    assert [u for u, _ in listed(page)] == by_c
    before = runs(page)
    page.go_back()  # before "by": h
    wait_next_run(page, before)
    assert y_labels(page) == order and page.input_value("#find-by") == "h"
    # Another view shows the units in their own order; the keys stay in the URL for coming back.
    before = runs(page)
    page.click("#tab-step")
    wait_next_run(page, before)
    assert y_labels(page) == list(range(8))
    assert query_of(page)["span"] == ["10-13"]
    before = runs(page)
    page.click("#tab-find")
    wait_next_run(page, before)
    assert y_labels(page) == order
    page.get_by_label("order heatmap rows by").select_option("")
    page.wait_for_function("!new URLSearchParams(location.search).has('sort')")
    assert y_labels(page) == list(range(8))
    assert page.errors == []  # type: ignore[attr-defined]


def test_ranking_1000_steps_by_256_units_takes_one_quick_pass(page: Page) -> None:
    text = ("the quick brown fox. " * 48)[:1000]
    open_page(page, f"model=random-h256-l1-s0&text={quote(text)}&view=find&span=100-199&sort=rank&top=20")
    assert page.eval_on_selector(canvas("h"), "c => [c.width, c.height]") == [1000, 20]
    h = np.array(api_run(page, {"model": "random-h256-l1-s0", "text": text})["layers"][0]["h"])
    # 1,000 × 256 comes to the page in the compact encoding: it ranks the float16 values it got
    # (tests/browser/test_compact.py), so its printed scores are those values' own.
    h = h.astype(np.float16).astype(np.float64)
    score = span_scores(h, 100, 199)
    order = highest_first(score)
    assert y_labels(page, "h") == order[:20]
    assert [u for u, _ in listed(page)] == order[:20]
    # An untrained model's scores are small: printed with enough decimals to keep 3 figures.
    printed = page.eval_on_selector_all(".find-score", "s => s.map(x => x.textContent)")
    decimals = len(printed[0].split(".")[1])
    assert decimals == max(3, math.ceil(-math.log10(abs(score[order[0]]))) + 2)
    for u, text_shown in zip(order[:20], printed, strict=True):
        assert float(text_shown.replace("−", "-")) == pytest.approx(score[u], abs=0.51 * 10**-decimals)
    shoot(page, "find-1000x256")
    ms = page.evaluate(
        """async (text) => {
          const { rowOrders } = await import('/static/views/find.js');
          const r = await fetch('/api/run', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                             body: JSON.stringify({ model: 'random-h256-l1-s0', text }) });
          const data = await r.json();
          const t0 = performance.now();
          rowOrders(data, { view: 'find', span: '300-420', by: 'g', sort: 'rank', top: null });
          return performance.now() - t0;
        }""",
        text,
    )
    assert ms < 100, ms
    # Sorting anew redraws only the heatmaps: no new run.
    before = runs(page)
    page.get_by_label("order heatmap rows by").select_option("variance")
    page.wait_for_function("new URLSearchParams(location.search).get('sort') === 'variance'")
    assert y_labels(page, "h") == highest_first(h.var(axis=0))[:20]
    assert runs(page) == before


def test_find_view_on_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"model=reset-count&text={RESETS}&view=find&span=5-6&sort=rank&top=4")
        assert_no_sideways_scroll(small)
        small.locator(".views").scroll_into_view_if_needed()
        shoot(small, "find-reset-phone")


def test_each_layer_is_sorted_by_its_own_numbers_and_the_list_follows_the_pinned_layer(page: Page) -> None:
    text = "Hello, world. Hello again."
    open_page(page, f"model=random-h32-l2-s0&text={quote(text)}&view=find&span=13-17&by=g&sort=rank")
    layers = api_run(page, {"model": "random-h32-l2-s0", "text": text})["layers"]
    orders = [highest_first(span_scores(np.array(layer["g"]), 13, 17)) for layer in layers]
    assert orders[0] != orders[1]
    for l, order in enumerate(orders):
        labels = page.eval_on_selector_all(
            f'.panel[data-layer="{l}"][data-gate="i"] .yaxis .tick',
            "ts => ts.map(t => Number(t.textContent))",
        )
        # 32 rows of 6 px: too thin to label each, so every 2nd row (12 px apart) and the last
        assert labels == [order[k] for k in (*range(0, 30, 2), 31)]
        drawn = page.evaluate(
            "sel => { const c = document.querySelector(sel);"
            " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }",
            canvas("g", l),
        )
        drawn = np.array(drawn).reshape(32, len(text), 4)[:, :, :3]
        assert np.array_equal(drawn, expected_image(layers[l], "g", order)), l
    assert [u for u, _ in listed(page)] == orders[0][:10]
    assert "(layer 0)" in page.locator(".find-explain").inner_text()
    page.locator(canvas("h", 1)).scroll_into_view_if_needed()
    box = page.locator(canvas("h", 1)).bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 2.5 * box["width"] / len(text), box["y"] + 0.5 * box["height"] / 32)
    page.wait_for_function(f"new URLSearchParams(location.search).get('unit') === '{orders[1][0]}'")
    assert query_of(page)["layer"] == ["1"]
    assert [u for u, _ in listed(page)] == orders[1][:10]
    assert "(layer 1)" in page.locator(".find-explain").inner_text()
    assert page.errors == []  # type: ignore[attr-defined]


def test_up_and_down_keys_follow_the_sorted_rows(page: Page) -> None:
    open_page(page, f"model=reset-count&text={RESETS}&view=find&span=5-6&sort=rank&top=3&t=2&unit=4&layer=0")
    order = highest_first(span_scores(np.array(reset_count(page)["h"]), 5, 6))
    page.focus("#heatmaps")
    page.keyboard.press("ArrowDown")  # unit 4 is cut from the rows: the pin goes to the first row
    assert query_of(page)["unit"] == [str(order[0])]
    page.keyboard.press("ArrowDown")
    assert query_of(page)["unit"] == [str(order[1])]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the last row drawn stays the last
    assert query_of(page)["unit"] == [str(order[2])]
    page.keyboard.press("ArrowUp")
    assert query_of(page)["unit"] == [str(order[1])]
    assert query_of(page)["t"] == ["2"]
