"""The step inspector: the six equations of the pinned step with the API's numbers, the parts of a
gate's pre-activation per unit, the gate's curve and each gate's histogram over the sequence."""

from __future__ import annotations

import io
from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import SCREENSHOTS, api_run, open_page, query_of, runs, shoot, wait_next_run

pytestmark = pytest.mark.browser

TEXT = "a banana. an"
DOT = 8  # the '.': the counting units' f falls to 0 there
GATES = "figo"
COUNT_MOVES = "n => n.getAttribute('d').split('M').length - 1"  # shapes in one SVG path
FITS = "(b => b.scrollWidth <= b.clientWidth + 1)(document.querySelector('#view-body'))"


def printed(page: Page, selector: str) -> float:
    """A number as the view prints it ("− 0.400" and "−0.400" both read as -0.4)."""
    text = page.locator(selector).inner_text()
    return float(text.replace("−", "-").replace(" ", "").replace("+", ""))


def shown_as(text: str) -> tuple[float, float]:
    """A printed number, and half a unit of its last digit: the most its rounding can move it."""
    t = text.replace("−", "-").replace(" ", "").replace("+", "")
    mantissa, _, exponent = t.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return float(t), 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def assert_shown(page: Page, selector: str, want: float) -> None:
    """The number at selector is the API's value to the precision it is printed with (at least
    four decimals, or three significant digits for a value that small)."""
    text = page.locator(selector).inner_text()
    got, half = shown_as(text)
    assert half <= 5e-5, text
    assert abs(got - want) <= half * 1.001 + 1e-12, (selector, text, want)


def eq(gate: str, num: str) -> str:
    return f'.equations-live [data-eq="{gate}"] [data-num="{num}"]'


def answer(page: Page, text: str = TEXT, **extra) -> dict:
    return api_run(page, {"model": "counter", "text": text, "include": ["parts"], **extra})


def test_the_equations_print_the_apis_numbers_and_the_parts_add_up(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=0&view=step")
    api = answer(page)["layers"][0]
    for gate in GATES:
        parts = api["parts"][gate]
        shown = {k: printed(page, eq(gate, k)) for k in ("input", "recurrent", "bias", "pre")}
        assert len(page.locator(eq(gate, "pre")).inner_text().split(".")[1]) == 3
        # each number is the API's, to the precision shown
        assert_shown(page, eq(gate, "value"), api[gate][DOT][0])
        assert shown["input"] == pytest.approx(parts["input"][DOT][0], abs=5e-4 + 1e-9)
        assert shown["recurrent"] == pytest.approx(parts["recurrent"][DOT][0], abs=5e-4 + 1e-9)
        assert shown["bias"] == pytest.approx(parts["bias"][0], abs=5e-4 + 1e-9)
        assert shown["pre"] == pytest.approx(parts["pre"][DOT][0], abs=5e-4 + 1e-9)
        # and the printed parts add up to the printed pre-activation, within rounding
        assert shown["input"] + shown["recurrent"] + shown["bias"] == pytest.approx(shown["pre"], abs=2e-3)
    f_line = page.locator('[data-eq="f"]').inner_text()
    assert f_line.startswith("ft = σ(") and "= σ(−20.000 + 0.000 + 10.000)" in f_line
    assert page.locator('[data-eq="g"]').inner_text().startswith("gt = tanh(")
    # c and h: the factors and results are the API's, c_{t-1} the previous step's c
    assert_shown(page, eq("c", "f"), api["f"][DOT][0])
    assert_shown(page, eq("c", "c_prev"), api["c"][DOT - 1][0])
    assert_shown(page, eq("c", "i"), api["i"][DOT][0])
    assert_shown(page, eq("c", "g"), api["g"][DOT][0])
    assert_shown(page, eq("c", "value"), api["c"][DOT][0])
    assert_shown(page, eq("h", "o"), api["o"][DOT][0])
    assert_shown(page, eq("h", "c"), api["c"][DOT][0])
    assert_shown(page, eq("h", "value"), api["h"][DOT][0])
    assert "token “.”" in page.locator(".step-view .view-head").inner_text()
    assert page.errors == []  # type: ignore[attr-defined]


def test_at_the_first_step_the_previous_cell_is_zero(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t=0&unit=1&view=step")
    line = page.locator('[data-eq="c"]').inner_text()
    assert "c₋₁ = 0" in line
    assert page.locator(eq("c", "c_prev")).inner_text() == "0"
    api = answer(page)["layers"][0]
    assert_shown(page, eq("c", "value"), api["c"][0][1])


def test_a_clamped_gate_is_written_as_clamped(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=0&view=step&x=f1t{DOT}u0_ib2")
    api = answer(
        page, interventions=[{"gate": "f", "value": 1.0, "t": DOT, "unit": 0}, {"gate": "i", "bias_add": 2.0}]
    )["layers"][0]
    f_line = page.locator('[data-eq="f"]').inner_text()
    assert "clamped to 1.0000" in f_line and "σ(−10.000)" in f_line
    assert printed(page, eq("f", "value")) == api["f"][DOT][0] == 1.0
    # the shift of i's pre-activation is its own printed term, and the sum still holds
    i_shown = {k: printed(page, eq("i", k)) for k in ("input", "recurrent", "bias", "shift", "pre")}
    assert i_shown["shift"] == 2.0
    summed = sum(i_shown[k] for k in ("input", "recurrent", "bias", "shift"))
    assert summed == pytest.approx(i_shown["pre"], abs=2e-3)
    assert "clamped" not in page.locator('[data-eq="i"]').inner_text()
    # on the curve the clamped unit is a square off the curve, and the legend says so
    assert page.locator(".curve-svg path.clamped").get_attribute("d")
    assert "clamped by a what-if" in page.locator(".step-view").inner_text()
    # unit 1 is not clamped at this step: its f is the activation's 0.0000
    page.locator("#step-bars .hits rect").nth(1).click()
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '1'")
    assert "clamped" not in page.locator('[data-eq="f"]').inner_text()
    shoot(page, "step-clamped")


def test_the_bars_split_each_units_pre_activation_and_a_click_pins_the_unit(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=0&view=step")
    bars = page.locator("#step-bars")
    assert bars.get_attribute("aria-valuemax") == "3" and bars.get_attribute("aria-valuenow") == "0"
    for part in ("input", "recurrent", "bias"):
        assert page.locator(f"#step-bars path.seg-{part}").count() == 1
    # at '.', f's input part (−20) lies left of zero and the bias (+10) right of it, for unit 0
    zero = page.eval_on_selector("#step-bars line.zero:last-of-type", "n => n.x1.baseVal.value")
    extent = "n => { const b = n.getBBox(); return [b.x, b.x + b.width] }"
    box_in = page.eval_on_selector("#step-bars path.seg-input", extent)
    box_bias = page.eval_on_selector("#step-bars path.seg-bias", extent)
    assert box_in[1] == pytest.approx(zero, abs=0.05) and box_in[0] < zero - 50
    assert box_bias[0] == pytest.approx(zero, abs=0.05) and box_bias[1] > zero + 20
    # each row's tooltip carries the API's numbers; the units are named
    api = answer(page)["layers"][0]["parts"]["f"]
    tip = page.locator("#step-bars .hits rect").nth(3).locator("title").text_content()
    assert tip.startswith("unit 3 (sentences)") and "input 0" in tip and "bias 10" in tip
    assert f"z {api['pre'][DOT][3]:g}" in tip
    assert "a's this sentence" in page.locator("#step-bars .unit-labels").text_content()
    page.locator("#step-bars .hits rect").nth(2).click()
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '2'")
    assert "unit 2 (spaces this sentence)" in page.locator(".step-view .view-head").inner_text()
    assert page.locator("#step-bars").get_attribute("aria-valuenow") == "2"
    # the keyboard moves the pinned unit too, and stays on the bars
    page.focus("#step-bars")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("new URLSearchParams(location.search).get('unit') === '3'")
    assert page.evaluate("document.activeElement.id") == "step-bars"
    assert query_of(page)["t"] == [str(DOT)]
    # ← and → are the page's: they move the pinned step, and the keyboard stays on the bars
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"new URLSearchParams(location.search).get('t') === '{DOT + 1}'")
    assert query_of(page)["unit"] == ["3"]
    page.wait_for_function("document.activeElement?.id === 'step-bars'")


def test_the_gate_choice_lives_in_the_url_and_survives_a_reload(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=0&view=step")
    assert page.input_value("#step-gate") == "f"
    assert page.locator(".curve-svg polyline.curve").count() == 1
    page.select_option("#step-gate", "i")
    page.wait_for_function("new URLSearchParams(location.search).get('gate') === 'i'")
    assert "each unit's i at t = 8" in page.locator(".step-view").inner_text()
    assert page.evaluate("document.activeElement.id") == "step-gate"
    before = runs(page)
    page.reload()
    wait_next_run(page, before - 1)
    page.locator("#step-gate").wait_for()
    assert page.input_value("#step-gate") == "i"
    assert page.locator("#tab-step").get_attribute("aria-selected") == "true"
    # g has no sigmoid curve: its points alone, on a −1…1 axis
    page.select_option("#step-gate", "g")
    page.wait_for_function("new URLSearchParams(location.search).get('gate') === 'g'")
    assert page.locator(".curve-svg polyline.curve").count() == 0
    assert "Where the units sit on tanh" in page.locator(".step-view").inner_text()
    page.go_back()
    page.wait_for_function("new URLSearchParams(location.search).get('gate') === 'i'")
    page.wait_for_function("document.querySelector('#step-gate')?.value === 'i'")


def test_the_curve_plots_every_unit_at_its_pre_activation_and_value(page: Page) -> None:
    code = "def f(x):\n    return x"
    open_page(page, f"model=python-chars&text={quote(code)}&layer=0&t=12&unit=58&view=step")
    svg = ".curve-svg"
    text = page.locator(svg).text_content()
    assert "pre-activation z" in text and "gate value" in text and "unit 58" in text
    dots = page.eval_on_selector(f"{svg} path.dots:not(.clamped)", COUNT_MOVES)
    assert dots == 128
    # the curve is the API's: as many points as gate_curve sends
    api = api_run(page, {"model": "python-chars", "text": code, "include": ["parts"]})
    points = page.eval_on_selector(f"{svg} polyline.curve", "n => n.points.numberOfItems")
    assert points == len(api["gate_curve"]["z"])
    assert api["gate_curve"]["activation"] == "sigmoid"
    # the saturation count in the caption is read off the API's f at this step
    f = np.array(api["layers"][0]["f"][12])
    caption = f"{int((f > 0.99).sum())} of 128 units near 1, {int((f < 0.01).sum())} near 0"
    assert caption in page.locator(".step-view").inner_text()
    shoot(page, "step-python-chars")
    assert page.errors == []  # type: ignore[attr-defined]


def test_each_gate_has_a_histogram_over_the_whole_sequence(page: Page) -> None:
    open_page(page, f"model=random-h32-l2-s0&text={quote('Hello, world!')}&layer=1&t=3&unit=5&view=step")
    body = {"model": "random-h32-l2-s0", "text": "Hello, world!", "include": ["parts"]}
    api = api_run(page, body)["layers"][1]
    hists = page.locator(".hist-svg")
    assert hists.count() == 4
    for gate in GATES:
        counts = [int(c) for c in page.get_attribute(f'.hist-svg[data-gate="{gate}"]', "data-counts").split()]
        lo, hi = (-1.0, 1.0) if gate == "g" else (0.0, 1.0)
        values = np.array(api[gate], dtype=np.float64).ravel()
        bins = np.clip(np.floor((values - lo) / (hi - lo) * 20), 0, 19).astype(int)
        assert counts == np.bincount(bins, minlength=20).tolist(), gate
        assert sum(counts) == 13 * 32
        labels = page.locator(f'.hist-svg[data-gate="{gate}"]').text_content()
        assert f"{gate} value" in labels and "count" in labels
    assert "values piled at the ends are saturated" in page.locator(".step-view").inner_text().lower()
    assert ", layer 1" in page.locator(".step-view .view-head").inner_text()


def test_a_hard_sigmoid_model_writes_hard_sigma(page: Page) -> None:
    rng = np.random.default_rng(3)
    H, I = 3, 2
    arrays = {
        "kernel": rng.normal(size=(I, 4 * H)),
        "recurrent_kernel": rng.normal(size=(H, 4 * H)),
        "bias": rng.normal(size=4 * H),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    response = page.request.post(
        f"{page.base}/api/models",
        multipart={  # type: ignore[attr-defined]
            "weights": {"name": "hard.npz", "mimeType": "application/octet-stream", "buffer": buf.getvalue()},
            "input_size": "2",
            "recurrent_activation": "hard_sigmoid",
        },
    )
    assert response.ok, response.text()
    model = response.json()["id"]
    open_page(page, f"model={model}&inputs={quote('1 0; 0 1; 0.5 0.5')}&layer=0&t=1&unit=2&view=step")
    page.locator('[data-eq="f"]').wait_for()
    assert page.locator('[data-eq="f"]').inner_text().startswith("ft = hard σ(")
    assert page.locator('[data-eq="g"]').inner_text().startswith("gt = tanh(")
    assert "Where the units sit on hard σ" in page.locator(".step-view").inner_text()
    api = api_run(page, {"model": model, "inputs": [[1, 0], [0, 1], [0.5, 0.5]], "include": ["parts"]})
    assert api["gate_curve"]["activation"] == "hard_sigmoid"
    assert_shown(page, eq("o", "value"), api["layers"][0]["o"][1][2])


def test_with_nothing_pinned_the_view_says_what_to_click(page: Page) -> None:
    open_page(page, f"model=counter&text={quote(TEXT)}&view=step")
    assert "Click a cell of any heatmap" in page.locator("#view-body").inner_text()
    page.locator('.panel[data-gate="f"] canvas.heat').click(position={"x": 3, "y": 3})
    page.locator(".equations-live").wait_for()
    assert query_of(page)["t"] == ["0"]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_screenshots_of_the_step_view(browser: Browser, live_server: str, width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = context.new_page()
        pg.base = live_server  # type: ignore[attr-defined]
        open_page(pg, f"model=counter&text={quote(TEXT)}&layer=0&t={DOT}&unit=0&view=step")
        pg.locator("#step-bars").wait_for()
        # nothing in the view is wider than the view
        assert pg.evaluate(FITS)
        shoot(pg, f"step-{width}")
        pg.locator(".views").screenshot(path=str(SCREENSHOTS / f"step-{width}-view.png"))
    finally:
        context.close()
