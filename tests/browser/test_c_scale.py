"""The colour scale of c (issue 11): robust by default, so that one unit whose |c| reaches 9
cannot wash out units that stay within ±1; the cells beyond it dotted; scale=robust|unit|fixed
in the URL, said in the legend. h and the gates keep their fixed ranges."""

from __future__ import annotations

import io
from urllib.parse import quote

import numpy as np
import pytest
from playwright.sync_api import Page

from tests.browser.helpers import RDBU_WHITE, api_run, open_page, pixel, query_of

pytestmark = pytest.mark.browser

STEPS = 9
INPUTS = " ".join(["0"] * STEPS)


def outlier_model(page: Page) -> str:
    """H = 4: unit 0 keeps everything and adds 1 a step (c = 1, 2, … 9); units 1–3 forget
    everything and write tanh(2), tanh(−2), tanh(1): |c| < 1. Keras layout, gates i, f, g, o."""
    H = 4
    bias = np.zeros(4 * H)
    bias[0:H] = 20.0  # i = 1
    bias[H : 2 * H] = [20.0, -20.0, -20.0, -20.0]  # f: unit 0 keeps, the others forget
    bias[2 * H : 3 * H] = [20.0, 2.0, -2.0, 1.0]  # g = tanh(...)
    buf = io.BytesIO()
    np.savez(buf, kernel=np.zeros((1, 4 * H)), recurrent_kernel=np.zeros((H, 4 * H)), bias=bias)
    response = page.request.post(
        f"{page.base}/api/models",  # type: ignore[attr-defined]
        multipart={
            "weights": {
                "name": "outlier.npz",
                "mimeType": "application/octet-stream",
                "buffer": buf.getvalue(),
            },
            "input_size": "1",
        },
    )
    assert response.ok, response.text()
    return response.json()["id"]


def whiteness(rgb: tuple[int, int, int]) -> int:
    return max(abs(a - b) for a, b in zip(rgb, RDBU_WHITE, strict=True))


def mark_alpha(page: Page, t: int, unit: int) -> int:
    return page.evaluate(
        "([t, u]) => { const m = document.querySelector('.panel[data-gate=\"c\"] canvas.clips');"
        " return m.hidden ? 0 : m.getContext('2d').getImageData(t * 3 + 1, u * 3 + 1, 1, 1).data[3]; }",
        [t, unit],
    )


def test_one_outlying_unit_does_not_wash_out_the_others(page: Page) -> None:
    model = outlier_model(page)
    run = api_run(page, {"model": model, "inputs": [[0.0]] * STEPS})
    c = np.array(run["layers"][0]["c"])
    assert abs(c[-1, 0] - 9) < 1e-6 and np.abs(c[:, 1:]).max() < 1
    open_page(page, f"model={model}&inputs={quote(INPUTS)}")
    assert page.get_attribute('.panel[data-gate="c"] .legend', "data-scale") == "robust"
    for unit in (1, 2, 3):
        rgb = pixel(page, "c", 4, unit)
        assert whiteness(rgb) > 90, f"unit {unit} (c = {c[4, unit]:.2f}) is drawn {rgb}, near white"
    # unit 0 is beyond the scale from its first step: every cell of its row is clipped and dotted
    assert page.get_attribute('.panel[data-gate="c"]', "data-clipped") == str(STEPS)
    assert all(mark_alpha(page, t, 0) == 255 for t in range(STEPS))
    assert mark_alpha(page, 4, 3) == 0
    legend = page.locator('.panel[data-gate="c"] .legend').inner_text()
    assert "robust" in legend and f"{STEPS} clipped" in legend
    # the gates keep their fixed range: f of unit 0 is yellow (1), of the others purple (0)
    assert pixel(page, "f", 4, 0)[2] < 80 and pixel(page, "f", 4, 1)[2] > 60

    # the old scale, ±the largest |c| in the layer, is still there (and washes them out)
    open_page(page, f"model={model}&inputs={quote(INPUTS)}&scale=fixed")
    assert whiteness(pixel(page, "c", 4, 3)) < 40
    assert page.get_attribute('.panel[data-gate="c"]', "data-clipped") == "0"
    assert "whole range" in page.locator('.panel[data-gate="c"] .legend').inner_text()


def test_per_unit_scale_gives_each_row_its_own_range(page: Page) -> None:
    model = outlier_model(page)
    open_page(page, f"model={model}&inputs={quote(INPUTS)}&scale=unit")
    # each unit's own largest |c| is the darkest red or blue of its row
    dark_red = pixel(page, "c", STEPS - 1, 0)
    assert dark_red == pixel(page, "c", 4, 1)  # tanh(2) is unit 1's largest, 9 is unit 0's
    assert "per unit" in page.locator('.panel[data-gate="c"] .legend').inner_text()


def test_the_scale_travels_in_the_url(page: Page, browser) -> None:
    model = outlier_model(page)
    open_page(page, f"model={model}&inputs={quote(INPUTS)}")
    assert "scale" not in query_of(page)  # robust: the default, written nowhere
    before = int(page.evaluate("Number(document.body.dataset.settled ?? 0)"))
    page.select_option('.panel[data-gate="c"] select.scale-pick', "unit")
    page.wait_for_function("new URLSearchParams(location.search).get('scale') === 'unit'")
    assert page.get_attribute('.panel[data-gate="c"] .legend', "data-scale") == "unit"
    assert int(page.evaluate("Number(document.body.dataset.settled ?? 0)")) == before  # no new run
    url = page.evaluate("location.href")
    fresh = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        fresh.base = page.base  # type: ignore[attr-defined]
        fresh.goto(url)
        fresh.wait_for_function("Number(document.body.dataset.settled ?? 0) >= 1")
        assert fresh.get_attribute('.panel[data-gate="c"] .legend', "data-scale") == "unit"
        assert fresh.input_value('.panel[data-gate="c"] select.scale-pick') == "unit"
    finally:
        fresh.context.close()
    page.go_back()
    page.wait_for_function("!new URLSearchParams(location.search).has('scale')")
    page.wait_for_function(
        "document.querySelector('.panel[data-gate=\"c\"] .legend').dataset.scale === 'robust'"
    )


def test_a_link_refuses_an_unknown_scale(page: Page) -> None:
    response = page.request.post(
        f"{page.base}/api/links",  # type: ignore[attr-defined]
        data='{"model": "counter", "scale": "loud"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 422
    body = response.json()
    assert body["loc"] == ["scale"] and "robust" in body["error"], body
    ok = page.request.post(
        f"{page.base}/api/links",  # type: ignore[attr-defined]
        data='{"model": "counter", "scale": "unit"}',
        headers={"Content-Type": "application/json"},
    )
    assert ok.ok, ok.text()
