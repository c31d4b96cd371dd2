"""The page's compact runs: compact.js decodes POST /api/run's binary answer to the JSON's values
within float16's precision, and a long run asked that way draws its heatmaps and an honest readout."""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
from playwright.sync_api import Page

from tests.browser.helpers import VIRIDIS, api_run, lut, open_page, pixel

BODY = {"model": "random-h16-l2-s0", "text": "The quick brown fox. " * 3, "include": ["parts", "update"]}

# Inside the page: fetch the run in the compact encoding and decode it with the page's own module.
DECODE = """async (body) => {
  const { decodeRun, MEDIA_TYPE } = await import("/static/compact.js");
  const r = await fetch("/api/run", {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", Accept: MEDIA_TYPE}});
  const data = decodeRun(await r.arrayBuffer());
  return {type: r.headers.get("Content-Type"), precision: data.precision, data};
}"""


def close(a, b, path="") -> None:
    """The decoded answer equals the JSON one: the same keys and strings, numbers within float16."""
    if isinstance(b, dict):
        assert set(a) == set(b), path
        for k in b:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(b, list) and b and isinstance(b[0], dict):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{k}]")
    elif isinstance(b, list) and b and isinstance(b[0], (list, float, int)) and not isinstance(b[0], bool):
        np.testing.assert_allclose(
            np.array(a, dtype=float), np.array(b, dtype=float), rtol=2**-11, atol=1e-7, err_msg=path
        )
    else:
        assert a == b, path


def test_the_page_decoder_gives_the_json_answer_to_float16_precision(page: Page) -> None:
    page.goto(f"{page.base}/static/favicon.svg")  # type: ignore[attr-defined]
    got = page.evaluate(DECODE, BODY)
    assert got["type"] == "application/vnd.gatescope.run"
    assert got["precision"] == "float16"
    close(got["data"], api_run(page, BODY))
    assert len(got["data"]["layers"]) == 2 and len(got["data"]["layers"][1]["f"][0]) == 16


def test_the_page_decoder_reads_every_kind_of_half(page: Page) -> None:
    page.goto(f"{page.base}/static/favicon.svg")  # type: ignore[attr-defined]
    bits = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3555, 0x7BFF, 0x7C00, 0xFC00, 0x7E00]
    got = page.evaluate(
        """async (bits) => {
          const { halfToNumber } = await import("/static/compact.js");
          const shown = (x) => (Number.isNaN(x) ? "nan" : Object.is(x, -0) ? "-0" : String(x));
          return bits.map((b) => shown(halfToNumber(b)));
        }""",
        bits,
    )
    for b, shown in zip(bits, got, strict=True):
        x = float(np.array([b], dtype="<u2").view("<f2")[0])
        if np.isnan(x):
            assert shown == "nan", hex(b)
        elif x == 0 and np.signbit(x):
            assert shown == "-0", hex(b)
        else:
            assert float(shown.replace("Infinity", "inf")) == x, hex(b)


def test_a_long_run_comes_compact_and_the_page_draws_it_with_an_honest_readout(page: Page) -> None:
    text = ("def f(x):\n    return x + 1\n" * 20)[:400]  # 400 steps × 128 units: compact
    model = "random-h128-l1-s0"
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/run") else None)
    open_page(page, f"model={model}&text={quote(text)}&t=5&unit=3&layer=0")
    assert answers and answers[-1].headers["content-type"] == "application/vnd.gatescope.run"
    exact = api_run(page, {"model": model, "text": text})["layers"][0]
    # The heatmap's colours are the exact values' within one step of the 256-colour scale.
    table = lut(VIRIDIS)
    for t, u in ((0, 0), (5, 3), (200, 77), (399, 127)):
        want = table[round(exact["f"][t][u] * 255)]
        got = pixel(page, "f", t, u)
        assert max(abs(int(a) - int(b)) for a, b in zip(got, want, strict=True)) <= 6, (t, u, got, want)
    readout = page.locator("#selection-text")
    assert "t = 5" in readout.inner_text() and "unit 3" in readout.inner_text()
    c_shown = readout.locator('dd[data-gate="c"]').inner_text()
    assert float(c_shown) == float(f"{exact['c'][5][3]:.3g}")
    assert "3 significant digits" in readout.locator(".readout-note").inner_text()
    assert "step view shows exact values" in readout.inner_text()
    assert not page.errors  # type: ignore[attr-defined]


def test_a_short_run_stays_json_with_exact_numbers(page: Page) -> None:
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/run") else None)
    open_page(page, "model=counter&text=ab.ab&t=1&unit=1&layer=0")
    assert answers[-1].headers["content-type"] == "application/json"
    assert page.locator("#selection-text .readout-note").count() == 0
    assert json.loads(answers[-1].text())["tokens"] == list("ab.ab")
