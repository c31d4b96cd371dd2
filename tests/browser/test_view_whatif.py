"""The What if? view: the forget gate switched off, shut, shifted or clamped at one cell; the banner
that says the heatmaps are altered; the difference against the model's own run; the URL key x."""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from app.refusal import Invalid
from app.service.whatifs import parse_interventions
from tests.browser.helpers import (
    all_pixels,
    api_run,
    assert_no_sideways_scroll,
    open_page,
    phone,
    pixel,
    query_of,
    runs,
    shoot,
    wait_first_run,
    wait_next_run,
)

pytestmark = pytest.mark.browser

TEXT = "a cat. a banana. " * 4  # 68 steps: long enough for a memory without forgetting to run away
QUERY = f"model=counter&text={quote(TEXT)}&view=whatif"
C_LEGEND = '#heatmaps .panel[data-layer="0"][data-gate="c"] .legend-labels span'


def p3(x: float) -> str:
    """JavaScript's x.toPrecision(3), for 1e-6 ≤ x < 1000 (the numbers these tests print)."""
    assert 1e-6 <= abs(x) < 1000, x
    return f"{x:#.3g}"


def max_abs(rows: list) -> float:
    return float(np.abs(np.array(rows, dtype=np.float64)).max())


def legend_max(page: Page) -> str:
    return page.locator(C_LEGEND).last.inner_text()


def compared(page: Page) -> None:
    """Wait until the view has fetched the model's own run and drawn the difference."""
    page.wait_for_selector(".whatif-compare[data-ready]")


def click_and_wait(page: Page, name: str) -> None:
    before = runs(page)
    page.get_by_role("button", name=name, exact=True).click()
    wait_next_run(page, before)


def test_the_forget_gate_off_makes_the_cell_state_run_away_and_remove_restores_it(page: Page) -> None:
    # c on the layer's whole range, the scale whose legend follows the largest |c| (the robust
    # default clips a runaway cell instead: test_c_scale.py)
    open_page(page, QUERY + "&scale=fixed")
    own = api_run(page, {"model": "counter", "text": TEXT})["layers"][0]
    off = api_run(page, {"model": "counter", "text": TEXT, "interventions": [{"gate": "f", "value": 1}]})[
        "layers"
    ][0]
    assert legend_max(page) == f"+{p3(max_abs(own['c']))}"
    original = all_pixels(page)
    assert page.locator("#what-if-banner").is_hidden()

    click_and_wait(page, "Forget gate off (f ≡ 1)")
    compared(page)
    assert query_of(page)["x"] == ["f1"]
    before, after = p3(max_abs(own["c"])), p3(max_abs(off["c"]))
    assert legend_max(page) == f"+{after}" and max_abs(off["c"]) > 5 * max_abs(own["c"])
    # The main heatmaps show the altered run: f is one colour (1) even at the '.'s, where it was 0.
    assert len({pixel(page, "f", t, u) for t in range(0, 68, 5) for u in range(4)}) == 1
    banner = page.locator("#what-if-banner")
    assert banner.is_visible() and "f ≡ 1 (forget gate off)" in banner.inner_text()
    assert page.get_by_role("button", name="Forget gate off (f ≡ 1)").get_attribute("aria-pressed") == "true"
    effect = page.locator(".whatif-effects li").first.inner_text()
    assert f"largest |c| before and after: {before} → {after}" in effect, effect
    assert "can grow without bound" in effect and "1997" in effect
    delta = np.array(off["c"], dtype=np.float64) - np.array(own["c"], dtype=np.float64)
    shown = page.locator('.whatif-max[data-gate="c"]').inner_text()
    assert shown == f"max |Δc| = {p3(float(np.abs(delta).max()))}"
    assert page.locator('.whatif-diffs .panel[data-gate="Δc"] canvas.heat').count() == 1
    shoot(page, "whatif-forget-off-1280")
    page.locator(".whatif-compare").screenshot(path="tests/screenshots/whatif-forget-off-view.png")

    # Remove in the banner brings back the model's own run, pixel for pixel.
    before_runs = runs(page)
    banner.get_by_role("button", name="Remove the what-ifs and show the model's own run").click()
    wait_next_run(page, before_runs)
    assert all_pixels(page) == original
    assert banner.is_hidden() and "x" not in query_of(page)
    assert legend_max(page) == f"+{before}"
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_what_if_url_round_trips_through_reload_and_history(page: Page) -> None:
    open_page(page, QUERY)
    own_pixels = all_pixels(page)
    click_and_wait(page, "Forget gate shut (f ≡ 0)")
    click_and_wait(page, "Forget bias +1")
    assert query_of(page)["x"] == ["f0_fb1"]
    compared(page)
    shown = all_pixels(page)
    effects = page.locator(".whatif-effects").inner_text()
    page.reload()
    wait_first_run(page)
    compared(page)
    assert all_pixels(page) == shown and page.locator(".whatif-effects").inner_text() == effects
    assert "f ≡ 0 (forget gate shut); f's bias + 1" in page.locator("#what-if-banner").inner_text()
    asked = [iv.model_dump(exclude_none=True) for iv in parse_interventions("f0_fb1")]
    echo = api_run(page, {"model": "counter", "text": TEXT, "interventions": asked})
    assert echo["interventions"] == [{"gate": "f", "value": 0.0}, {"gate": "f", "bias_add": 1.0}]
    own = api_run(page, {"model": "counter", "text": TEXT})
    before, after = p3(max_abs(own["layers"][0]["c"])), p3(max_abs(echo["layers"][0]["c"]))
    assert f"largest |c| before and after: {before} → {after}" in effects
    # Switching the forget gate off replaces f ≡ 0: they exclude each other.
    click_and_wait(page, "Forget gate off (f ≡ 1)")
    assert query_of(page)["x"] == ["fb1_f1"]
    for _ in range(3):  # Back through f0_fb1, f0, to the model's own run
        before = runs(page)
        page.go_back()
        wait_next_run(page, before)
    assert "x" not in query_of(page) and all_pixels(page) == own_pixels
    assert page.locator("#what-if-banner").is_hidden()


def test_clamping_the_pinned_cell_sets_exactly_that_value(page: Page) -> None:
    t, unit = 5, 1  # the '.' after "a cat": unit 1 (characters this sentence) forgets there
    open_page(page, f"{QUERY}&layer=0&t={t}&unit={unit}")
    assert page.locator("#whatif-gate").is_enabled()
    page.select_option("#whatif-gate", "f")
    page.fill("#whatif-value", "0.8")
    click_and_wait(page, "Clamp")
    assert query_of(page)["x"] == [f"f0.8t{t}u{unit}l0"]
    body = {"model": "counter", "text": TEXT}
    own = api_run(page, body)
    asked = [{"gate": "f", "value": 0.8, "t": t, "unit": unit, "layer": 0}]
    clamped = api_run(page, {**body, "interventions": asked})
    assert clamped["interventions"] == asked
    f_own, f_new = np.array(own["layers"][0]["f"]), np.array(clamped["layers"][0]["f"])
    assert f_new[t, unit] == pytest.approx(0.8, abs=1e-7)
    changed = np.argwhere(np.abs(f_new - f_own) > 1e-6)
    assert changed.tolist() == [[t, unit]]  # f has no recurrent weights here: nothing else moves
    assert page.locator('#selection-text dd[data-gate="f"]').inner_text() == "0.8000"
    c_shown = page.locator('#selection-text dd[data-gate="c"]').inner_text()
    assert float(c_shown) == pytest.approx(clamped["layers"][0]["c"][t][unit], abs=5e-5)
    compared(page)
    effect = page.locator(".whatif-effects li").first.inner_text()
    assert f"f = 0.8 at t = {t}, unit {unit}, layer 0 (it was {own['layers'][0]['f'][t][unit]:.4f})" in effect
    assert "the cell keeps 80 % of c(t−1) there" in effect
    dc = np.array(clamped["layers"][0]["c"], dtype=np.float64) - np.array(own["layers"][0]["c"])
    gone = next(k for k in range(t + 1, len(TEXT)) if abs(dc[k, unit]) < 0.01 * abs(dc[t, unit]))
    assert gone == TEXT.index(".", t + 1)  # the next '.' wipes the change
    assert (
        f"Δc of unit {unit} is +{p3(dc[t, unit])} at t = {t}; less than 1 % of it is left by "
        f"t = {gone}, where f wipes the cell"
    ) in effect, effect
    assert "pinned cell (t = 5, unit 1)" in page.locator(".whatif-clamp").inner_text()
    shoot(page, "whatif-clamp-1280")
    # The list names it, and its × removes it.
    page.get_by_role("button", name=f"Remove f = 0.8 at t = {t}, unit {unit}, layer 0").click()
    page.wait_for_function("!new URLSearchParams(location.search).has('x')")
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_unreadable_x_is_explained_and_can_be_removed(page: Page) -> None:
    open_page(page, f"{QUERY}&x=f2")
    error = page.locator("#error")
    assert error.is_visible()
    assert error.inner_text() == 'x: "f2": the forget gate f takes values in [0, 1]; 2 is outside it'
    banner = page.locator("#what-if-banner")
    assert "cannot be read" in banner.inner_text()
    before = runs(page)
    banner.get_by_role("button").click()
    wait_next_run(page, before)
    assert error.is_hidden() and banner.is_hidden()


STRINGS = [
    "f1",
    "f0",
    "fb1",
    "fb-0.5",
    "f0.2t5u3l0",
    "f1_fb1_i0t2",
    "g-1u3",
    "o0.5l1",
    "f1e-7",
    "ib100",
    "o.5l1",
    "f1.0",
    "fb-0",
]
WRITTEN = {"o.5l1": "o0.5l1", "f1.0": "f1", "fb-0": "fb0"}  # the rest are written as they are read
BAD = ["", "q1", "f1_", "f=1", "F1", "f+1", "f2", "g-1.5", "fb101", "f1t", "f1u2t3", "_".join(["f1"] * 65)]


def test_the_encoding_round_trips_and_reads_as_the_server_reads_it(page: Page) -> None:
    open_page(page, "model=counter&text=a")
    js = page.evaluate(
        """async ([good, bad, lists]) => {
          const m = await import("/static/interventions.js");
          const read = (s) => {
            try { return {ok: m.parseInterventions(s)}; } catch (e) { return {error: e.message}; }
          };
          return {
            good: good.map((s) => [read(s), m.formatInterventions(m.parseInterventions(s))]),
            bad: bad.map(read),
            lists: lists.map((l) => m.parseInterventions(m.formatInterventions(l))),
            none: m.formatInterventions([]),
          };
        }""",
        [
            STRINGS,
            BAD,
            [
                [{"gate": "f", "value": 0.30000000000000004}, {"gate": "g", "bias_add": -2.5, "unit": 7}],
                [{"gate": "i", "value": 1e-7, "t": 0, "unit": 0, "layer": 3}, {"gate": "o", "bias_add": 0}],
            ],
        ],
    )
    for s, (read, written) in zip(STRINGS, js["good"], strict=True):
        assert written == WRITTEN.get(s, s)
        assert read["ok"] == [iv.model_dump(exclude_none=True) for iv in parse_interventions(s)], s
    for s, read in zip(BAD, js["bad"], strict=True):
        if s == "":
            assert read == {"ok": []}
            continue
        with pytest.raises(Invalid) as refused:
            parse_interventions(s)
        assert read == {"error": refused.value.message}, s  # the same words in the page and the API
    assert js["lists"] == [
        [{"gate": "f", "value": 0.30000000000000004}, {"gate": "g", "bias_add": -2.5, "unit": 7}],
        [{"gate": "i", "value": 1e-7, "t": 0, "unit": 0, "layer": 3}, {"gate": "o", "bias_add": 0}],
    ]
    assert js["none"] is None
    assert json.dumps(js)  # plain data only


def test_the_view_reads_on_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"{QUERY}&x=f1")
        compared(small)
        assert_no_sideways_scroll(small)
        assert small.locator("#what-if-banner").is_visible()
        shoot(small, "whatif-phone")
