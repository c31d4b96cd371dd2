"""The analyze view in a real Chromium: a text summarised by POST /api/analyze, drawn as
Karpathy et al.'s Figure 3 (one dot per unit and gate, where the API's fractions put it), the
ranked correlations, a unit pinned by a click, and a refusal in the API's words."""

from __future__ import annotations

import json

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from app.service.palette import colours
from tests.browser.helpers import assert_no_sideways_scroll, open_page, phone, query_of, shoot

pytestmark = pytest.mark.browser

# Written for this test: python-chars never read it.
SNIPPET = '''def mean_of(values):
    """The mean of a list, or None when it is empty."""
    if not values:
        return None  # nothing to average
    total = 0
    for v in values:
        total += v
    return total / len(values)


class Counter:
    def __init__(self, start=0):
        self.count = start

    def bump(self, by=1):
        self.count += by
        return self.count
'''
PAD, RIGHT, SIZE = 34, 8, 200  # analyze.js: a plot's left margin, top margin and SVG size
PLOT = SIZE - PAD - RIGHT


def rgb(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.removeprefix("rgb(").removesuffix(")").split(","))


def api_analyze(page: Page, body: dict) -> dict:
    response = page.request.post(
        f"{page.base}/api/analyze",  # type: ignore[attr-defined]
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.ok, response.text()
    return response.json()


def run_analysis(page: Page, text: str, patterns: list[str]) -> None:
    page.fill("#analyze-text", text)
    for k, pattern in enumerate(patterns):
        page.fill(f"#analyze-pattern-{k}", pattern)
    page.click("#analyze-run")


def test_figure_3_and_the_ranked_table_are_the_apis(page: Page) -> None:
    open_page(page, "model=python-chars&text=x%20%3D%201%0A&view=analyze")
    assert "text" not in page.url.split("view=")[1]  # the analysis text is never in the URL
    run_analysis(page, SNIPPET, [r"\bself\b"])
    page.wait_for_selector(".analyze-results")
    api = api_analyze(page, {"model": "python-chars", "text": SNIPPET, "patterns": [r"\bself\b"]})
    layer = api["layers"][0]
    H = 128
    for gate in "fio":
        dots = page.eval_on_selector_all(
            f'.analyze-figure[data-gate="{gate}"] circle.analyze-dot',
            "cs => cs.map(c => [Number(c.dataset.unit),"
            " Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))])",
        )
        assert len(dots) == H, gate
        left = [(cx - PAD) / PLOT for _, cx, _ in dots]
        right = [1 - (cy - RIGHT) / PLOT for _, _, cy in dots]
        assert [u for u, _, _ in dots] == list(range(H))
        assert left == pytest.approx(layer["saturation"][gate]["left"], abs=1e-9), gate
        assert right == pytest.approx(layer["saturation"][gate]["right"], abs=1e-9), gate
        assert page.locator(f'.analyze-figure[data-gate="{gate}"] line.analyze-diagonal').count() == 1
    # The table: the API's ranking, row for row.
    rows = page.eval_on_selector_all(
        ".analyze-table tbody tr", "trs => trs.map(tr => Array.from(tr.cells).map(td => td.textContent))"
    )
    assert len(rows) == len(layer["correlations"])
    for row, want in zip(rows, layer["correlations"], strict=True):
        assert row[1:4] == [str(want["unit"]), want["array"], want["label"]]
        assert float(row[4].replace("−", "-")) == pytest.approx(want["r"], abs=0.005)
    assert "pattern 0: \\bself\\b" in api["labels"]  # the pattern was sent and used
    shoot(page, "analyze-python-1280")
    # Clicking a unit pins it (at step 0), and the Text view then shows it first.
    top = layer["correlations"][0]["unit"]
    page.locator(".analyze-table tbody tr").first.locator("button").click()
    page.wait_for_function(f"new URLSearchParams(location.search).get('unit') === '{top}'")
    assert query_of(page)["t"] == ["0"]
    assert page.locator(f'.analyze-figure[data-gate="f"] circle.chosen[data-unit="{top}"]').count() == 1
    page.click("#tab-text")
    page.wait_for_selector(f'.text-unit[data-unit="{top}"]')
    assert page.locator(".text-unit").first.get_attribute("data-unit") == str(top)
    # Back on the analyze tab, the answer is still there (it lives for the page's life).
    page.click("#tab-analyze")
    assert page.locator(".analyze-figure circle.analyze-dot").count() == 3 * H
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_bad_regex_is_refused_in_the_apis_words(page: Page) -> None:
    open_page(page, "model=python-chars&text=x%20%3D%201%0A&view=analyze")
    run_analysis(page, SNIPPET, ["", "(unclosed"])
    page.wait_for_selector(".analyze-error")
    response = page.request.post(
        f"{page.base}/api/analyze",  # type: ignore[attr-defined]
        data=json.dumps({"model": "python-chars", "text": SNIPPET, "patterns": ["(unclosed"]}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 422
    refusal = response.json()
    assert refusal["loc"] == ["patterns", 0]
    assert page.locator(".analyze-error").inner_text() == f"Refused: {refusal['error']}"
    assert refusal["error"].startswith("pattern 0 is not a regular expression")
    # the input it came from, the second, is marked (the first was empty and not sent)
    assert page.get_attribute("#analyze-pattern-1", "aria-invalid") == "true"
    assert page.get_attribute("#analyze-pattern-0", "aria-invalid") is None
    assert page.locator(".analyze-results").count() == 0
    # the status said it was computing while it waited, and is quiet now
    assert page.inner_text("#analyze-status") == ""


def test_a_vector_model_is_told_why_and_a_phone_fits(page: Page, browser: Browser, live_server: str) -> None:
    open_page(page, "model=gated-sum&view=analyze")
    assert "choose a character model" in page.inner_text("#view-body")
    with phone(browser, live_server) as small:
        open_page(small, "model=python-chars&text=x%20%3D%201%0A&view=analyze")
        run_analysis(small, SNIPPET, [])
        small.wait_for_selector(".analyze-results")
        assert_no_sideways_scroll(small)
        small.locator(".analyze-plots").scroll_into_view_if_needed()
        shoot(small, "analyze-python-phone")
        # a unit's passages wrap within the phone's width
        small.locator(".analyze-table tbody tr").first.locator("button").click()
        small.wait_for_selector("#analyze-passages .analyze-passage")
        assert_no_sideways_scroll(small)
        small.locator("#analyze-passages").scroll_into_view_if_needed()
        shoot(small, "analyze-passages-phone")


def test_a_clicked_unit_shows_its_passages_coloured_and_the_url_keeps_it_and_the_patterns(page: Page) -> None:
    patterns = [r"\bself\b", "#.*"]
    open_page(page, "model=python-chars&text=x%20%3D%201%0A&view=analyze")
    run_analysis(page, SNIPPET, patterns)
    page.wait_for_selector(".analyze-results")
    assert json.loads(query_of(page)["patterns"][0]) == patterns  # the patterns run are in the URL
    assert "Click a dot or a row" in page.inner_text("#analyze-passages")
    (layer,) = api_analyze(page, {"model": "python-chars", "text": SNIPPET, "patterns": patterns})["layers"]
    u = layer["correlations"][0]["unit"]
    page.locator(f'.analyze-figure[data-gate="o"] circle[data-unit="{u}"]').dispatch_event("click")
    page.wait_for_selector(f'#analyze-passages[data-unit="{u}"]')
    windows = layer["passages"][u]["windows"]
    assert len(windows) >= 2
    shown = page.eval_on_selector_all(
        "#analyze-passages .analyze-passage",
        "ps => ps.map(p => [Number(p.dataset.peak), Array.from(p.querySelectorAll('.ch'), s =>"
        " [Number(s.dataset.t), s.textContent, s.classList.contains('peak'), s.style.backgroundColor])])",
    )
    assert [peak for peak, _ in shown] == [w["peak"] for w in windows]
    # one colour scale for the unit's passages: ±its largest |h| there, as the Text view's own scale
    most = max(abs(v) for w in windows for v in w["values"])
    for (_, spans), w in zip(shown, windows, strict=True):
        assert [t for t, _, _, _ in spans] == list(range(w["start"], w["end"]))
        assert "".join(ch for _, ch, _, _ in spans) == SNIPPET[w["start"] : w["end"]].replace("\n", "↵")
        (peak,) = [(t, ch) for t, ch, is_peak, _ in spans if is_peak]
        assert peak == (w["peak"], SNIPPET[w["peak"]].replace("\n", "↵"))  # the API's peak, outlined
        want = colours(np.array(w["values"]), -most, most, "diverging")
        assert [rgb(bg) for _, _, _, bg in spans] == [tuple(int(c) for c in x) for x in want]
    # hovering a character reads the unit's h there
    top = windows[0]
    page.hover(f'.analyze-passage[data-peak="{top["peak"]}"] .ch.peak')
    said = page.inner_text(".analyze-passage-readout")
    assert said.startswith(f"t = {top['peak']}, ") and f"unit {u} h = " in said
    value = float(said.rsplit("= ", 1)[1].replace("−", "-"))
    assert value == pytest.approx(top["values"][top["peak"] - top["start"]], abs=5e-4)
    shoot(page, "analyze-passages-1280")
    # A reload keeps the unit and the patterns; run again, the unit's passages are there unclicked.
    assert query_of(page)["unit"] == [str(u)]
    page.reload()
    page.wait_for_selector("#analyze-run")
    assert [page.input_value(f"#analyze-pattern-{k}") for k in range(3)] == [*patterns, ""]
    assert query_of(page)["unit"] == [str(u)]
    page.click("#analyze-run")
    page.wait_for_selector(f'#analyze-passages[data-unit="{u}"] .analyze-passage')
    assert page.errors == []  # type: ignore[attr-defined]
