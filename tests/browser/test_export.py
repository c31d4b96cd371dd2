"""The page's exports in a real Chromium: the PNG of the heatmaps, the CSV of every value, the JSON run."""

from __future__ import annotations

import base64
import csv
import io
import json
import struct
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, Route

from tests.browser.helpers import SCREENSHOTS, canvas, open_page, runs, shoot, wait_next_run
from tests.browser.test_c_scale import INPUTS, STEPS, outlier_model

pytestmark = pytest.mark.browser

GATES = "figoch"  # the page's order
BUTTONS = {"png": "#export-png", "csv": "#export-csv", "json": "#export-json"}
# comma, quote and newline: the characters a CSV writer must quote (random-h8-l1-s0 reads them all)
AWKWARD = 'say "hi",\nthen go'


def api_run(live_server: str, body: dict) -> dict:
    response = httpx.post(f"{live_server}/api/run", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def download(page: Page, which: str, path: Path) -> str:
    """Click an export button; save the file to `path`; answer the name the page gave it."""
    with page.expect_download() as info:
        page.click(BUTTONS[which])
    info.value.save_as(path)
    return info.value.suggested_filename


def enabled(page: Page) -> list[bool]:
    return [page.is_enabled(selector) for selector in BUTTONS.values()]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind, width, height, depth, colour = struct.unpack(">I4sIIBB", data[8:26])
    assert (length, kind, depth) == (13, b"IHDR", 8) and colour in (2, 6)  # 8-bit RGB(A)
    return width, height


def png_pixels(page: Page, data: bytes, points: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The RGB at device pixels (x, y) of a PNG, decoded by the browser without colour conversion."""
    rgb = page.evaluate(
        """async ([b64, points]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }),
            { colorSpaceConversion: "none", premultiplyAlpha: "none" });
          const c = document.createElement("canvas");
          c.width = bitmap.width;
          c.height = bitmap.height;
          const ctx = c.getContext("2d");
          ctx.drawImage(bitmap, 0, 0);
          const px = ctx.getImageData(0, 0, c.width, c.height).data;
          const at = ([x, y]) => (y * c.width + x) * 4;
          return points.map((p) => Array.from(px.slice(at(p), at(p) + 3)));
        }""",
        [base64.b64encode(data).decode(), points],
    )
    return [tuple(p) for p in rgb]


def canvas_rgb(page: Page, selector: str) -> list[list[tuple[int, int, int]]]:
    """Every pixel's colour on one of the page's canvases, [y][x]."""
    width, rgba = page.eval_on_selector(
        selector,
        "c => [c.width, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]",
    )
    pixels = [tuple(rgba[k : k + 3]) for k in range(0, len(rgba), 4)]
    return [pixels[y : y + width] for y in range(0, len(pixels), width)]


def clipped_on_page(page: Page, key: str, layer: int) -> set[tuple[int, int]]:
    """The cells (t, u) the page dots as clipped: its marks canvas, 3 × 3 pixels a cell."""
    return {
        (t, u)
        for t, u in page.eval_on_selector(
            f'.panel[data-layer="{layer}"][data-gate="{key}"] canvas.clips',
            """m => { if (m.hidden) return [];
                      const px = m.getContext('2d').getImageData(0, 0, m.width, m.height).data, out = [];
                      for (let u = 0; u < m.height / 3; u++) for (let t = 0; t < m.width / 3; t++)
                        if (px[((u * 3 + 1) * m.width + t * 3 + 1) * 4 + 3] === 255) out.push([t, u]);
                      return out; }""",
        )
    }


def layout_of(page: Page, answer: dict) -> dict:
    return page.evaluate("async (a) => (await import('/static/export.js')).pngLayout(a)", answer)


def test_the_buttons_are_offered_only_while_a_run_is_drawn(page: Page) -> None:
    open_page(page, "model=counter&text=" + quote("<nope>"))  # refused: nothing drawn
    assert enabled(page) == [False, False, False]
    group = page.get_by_role("group", name="Save these heatmaps:")
    for name in ("Download PNG", "Download CSV", "Download JSON"):
        assert group.get_by_role("button", name=name).count() == 1, name
    before = runs(page)
    page.fill("#sequence", "ab.ab")
    wait_next_run(page, before)
    assert enabled(page) == [True, True, True]
    # while a run is under way the heatmaps are the last run's, not the box's: no exports
    held: list[Route] = []
    page.route("**/api/run", lambda route: held.append(route))
    before = runs(page)
    page.fill("#sequence", "ab.abb")
    page.wait_for_function("document.getElementById('heatmaps').getAttribute('aria-busy') === 'true'")
    assert enabled(page) == [False, False, False]
    held[0].continue_()
    wait_next_run(page, before)
    assert enabled(page) == [True, True, True]
    page.unroute("**/api/run")
    before = runs(page)
    page.fill("#sequence", "ab.a~")  # '~' is not in counter's vocabulary: an error, a stale picture
    wait_next_run(page, before)
    assert page.locator("#error").is_visible()
    assert enabled(page) == [False, False, False]
    # the browser logs the two refusals (422); nothing else may be
    assert [e for e in page.errors if "Failed to load resource" not in e] == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("model_id", "text"), [("random-h8-l1-s0", AWKWARD), ("random-h32-l2-s0", "a,b")])
def test_the_csv_has_one_row_per_value_equal_to_the_api(
    page: Page, live_server: str, tmp_path: Path, model_id: str, text: str
) -> None:
    open_page(page, f"model={model_id}&text={quote(text)}")
    name = download(page, "csv", tmp_path / "run.csv")
    raw = (tmp_path / "run.csv").read_bytes().decode("utf-8")
    assert name == f"gatescope-{model_id}-{'say-hi-then-go' if text == AWKWARD else 'a-b'}.csv"
    answer = api_run(live_server, {"model": model_id, "text": text})
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    assert rows[0] == ["layer", "gate", "t", "token", "unit", "value"]
    T, H, L = len(text), answer["hidden_size"], len(answer["layers"])
    assert len(rows) - 1 == T * H * len(GATES) * L
    assert raw.count("\r\n") == len(rows)  # CRLF ends every record (RFC 4180); a newline token is LF
    seen = set()
    for layer, gate, t, token, unit, value in rows[1:]:
        l, step, u = int(layer), int(t), int(unit)
        assert token == text[step]  # the comma, the quote and the newline come back as they were
        assert float(value) == answer["layers"][l][gate][step][u], (layer, gate, t, unit)
        seen.add((l, gate, step, u))
    assert len(seen) == T * H * len(GATES) * L  # every value once
    assert [g for g in dict.fromkeys(r[1] for r in rows[1:])] == list(GATES)
    if text == AWKWARD:
        assert ',"""",' in raw and ',",",' in raw and ',"\n",' in raw


def test_the_json_is_the_api_answer_with_what_makes_it_again(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    text = "a cat. a banana"
    open_page(page, f"model=counter&text={quote(text)}")
    name = download(page, "json", tmp_path / "run.json")
    saved = json.loads((tmp_path / "run.json").read_text("utf-8"))
    assert name == "gatescope-counter-a-cat-a-banana.json"
    # the request is what the page sent (with whatever its view asked to include)
    assert (saved["request"]["model"], saved["request"]["text"]) == ("counter", text)
    assert (saved["model"], saved["sequence"]) == ("counter", text)
    assert saved["answer"] == api_run(live_server, saved["request"])
    plain = api_run(live_server, {"model": "counter", "text": text})
    assert all(saved["answer"]["layers"][0][k] == plain["layers"][0][k] for k in "ifgoch")
    # a vector model: the request carries the numbers as the page parsed them
    before = runs(page)
    page.select_option("#model", "gated-sum")
    wait_next_run(page, before)
    before = runs(page)
    page.fill("#sequence", "0.5 1 -1 0.25")
    wait_next_run(page, before)
    download(page, "json", tmp_path / "vector.json")
    saved = json.loads((tmp_path / "vector.json").read_text("utf-8"))
    assert saved["request"]["inputs"] == [[0.5], [1], [-1], [0.25]]
    assert saved["request"]["model"] == "gated-sum"
    assert saved["sequence"] == "0.5 1 -1 0.25"
    assert saved["answer"] == api_run(live_server, saved["request"])


def test_the_png_is_twice_its_layout_and_grows_with_the_sequence_and_layers(
    page: Page, tmp_path: Path
) -> None:
    sizes = {}
    for model_id, text in [
        ("random-h8-l1-s0", "ab"),
        ("random-h8-l1-s0", "abcdefghijklmnopqrst"),
        ("random-h8-l2-s0", "abcdefghijklmnopqrst"),
    ]:
        open_page(page, f"model={model_id}&text={text}")
        name = download(page, "png", tmp_path / "run.png")
        assert name == f"gatescope-{model_id}-{text}.png"
        sizes[model_id, len(text)] = png_size((tmp_path / "run.png").read_bytes())
    short, long = sizes["random-h8-l1-s0", 2], sizes["random-h8-l1-s0", 20]
    deep = sizes["random-h8-l2-s0", 20]
    assert long[0] > short[0] and long[1] == short[1]  # more steps: wider, not taller
    assert deep[0] == long[0] and 1.9 < deep[1] / long[1] < 2.1  # a second layer: twice as tall
    assert 1200 <= long[0] <= 4000 and 800 <= long[1] <= 2400  # a slide's proportions, at 2×
    layout = page.evaluate(
        "async () => (await import('/static/export.js')).pngLayout("
        "{tokens: [...'abcdefghijklmnopqrst'], hidden_size: 8, layers: [{}, {}]})"
    )
    assert (2 * layout["width"], 2 * layout["height"]) == deep  # drawn at twice the CSS size


@pytest.mark.parametrize(("model_id", "text"), [("counter", "ab.ab"), ("random-h32-l2-s0", "Hi, you")])
def test_the_png_cells_and_legends_have_exactly_the_pages_colours(
    page: Page, live_server: str, tmp_path: Path, model_id: str, text: str
) -> None:
    open_page(page, f"model={model_id}&text={quote(text)}")
    download(page, "png", tmp_path / "run.png")
    data = (tmp_path / "run.png").read_bytes()
    answer = api_run(live_server, {"model": model_id, "text": text})
    layout = layout_of(page, answer)
    scale = layout["scale"]
    assert scale == 2 and png_size(data) == (2 * layout["width"], 2 * layout["height"])
    assert [(p["layer"], p["key"]) for p in layout["panels"]] == [
        (l, g) for l in range(len(answer["layers"])) for g in GATES
    ]
    T, H = len(text), answer["hidden_size"]
    points, expected = [(0, 0), (png_size(data)[0] - 1, png_size(data)[1] - 1)], [(255, 255, 255)] * 2
    for place in layout["panels"]:
        cells = canvas_rgb(page, canvas(place["key"], place["layer"]))
        dotted = clipped_on_page(page, place["key"], place["layer"])
        heat = place["heat"]
        for u in range(H):
            for t in range(T):
                points.append(
                    (
                        int((heat["x"] + (t + 0.5) * heat["w"] / T) * scale),
                        int((heat["y"] + (u + 0.5) * heat["h"] / H) * scale),
                    )
                )
                # a cell the robust scale clips is dotted white in its middle, as on the page
                expected.append((255, 255, 255) if (t, u) in dotted else cells[u][t])
        legend = place["legend"]
        ramp = canvas_rgb(
            page, f'.panel[data-layer="{place["layer"]}"][data-gate="{place["key"]}"] canvas.legend-bar'
        )[0]
        for k in (0, 40, 128, 200, 255):
            points.append(
                (
                    int((legend["x"] + (k + 0.5) * legend["w"] / 256) * scale),
                    int((legend["y"] + legend["h"] / 2) * scale),
                )
            )
            expected.append(ramp[k])
    got = png_pixels(page, data, points)
    wrong = [(p, g, e) for p, g, e in zip(points, got, expected, strict=True) if g != e]
    assert wrong == [], wrong[:5]
    if model_id == "counter":  # the check met dotted cells
        assert clipped_on_page(page, "c", 0)
    assert len({e for e in expected}) > 6  # the check saw many colours, not one repeated
    if model_id == "counter":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "export-counter.png").write_bytes(data)


def test_the_toolbar_is_reached_and_used_from_the_keyboard(page: Page, tmp_path: Path) -> None:
    open_page(page, "model=counter&text=" + quote("a cat. a banana"))
    page.focus("details.equations summary")  # the control just before the toolbar
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "export-png"
    with page.expect_download() as png:
        page.keyboard.press("Enter")
    assert png.value.suggested_filename == "gatescope-counter-a-cat-a-banana.png"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "export-csv"
    with page.expect_download() as table:
        page.keyboard.press("Space")
    table.value.save_as(tmp_path / "run.csv")
    assert (tmp_path / "run.csv").read_bytes().startswith(b"layer,gate,t,token,unit,value\r\n")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "export-json"
    page.locator("#export").scroll_into_view_if_needed()
    shoot(page, "export-toolbar")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_long_run_that_came_as_float16_exports_the_apis_exact_values(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    """The heatmaps of a long run come float16 (enough for colours); its CSV and JSON must hold
    the API's numbers, not their roundings."""
    text = "def f(x):\n    return x + 1\n" * 16  # 448 steps × 128 units: over the compact threshold
    open_page(page, f"model=python-chars&text={quote(text)}")
    name = download(page, "json", tmp_path / "long.json")
    assert name.endswith(".json")
    saved = json.loads((tmp_path / "long.json").read_text("utf-8"))
    assert saved["answer"]["layers"][0]["c"] == api_run(live_server, saved["request"])["layers"][0]["c"]
    download(page, "csv", tmp_path / "long.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "long.csv").read_text("utf-8"), newline="")))
    exact = api_run(live_server, {"model": "python-chars", "text": text})["layers"][0]
    for _, gate, t, _, unit, value in rows[1:2000]:
        assert float(value) == exact[gate][int(t)][int(unit)]
    assert page.locator("#export-status").inner_text() == ""


def test_the_pngs_clipped_cells_carry_the_pages_dots(page: Page, tmp_path: Path) -> None:
    # unit 0's c grows 1, 2, … 9 past the robust scale: every cell of its row is clipped, and the
    # page dots each (test_c_scale.py); the image shows the same dots, the other cells none
    model = outlier_model(page)
    open_page(page, f"model={model}&inputs={quote(INPUTS)}")
    assert page.get_attribute('.panel[data-gate="c"]', "data-clipped") == str(STEPS)
    download(page, "png", tmp_path / "run.png")
    data = (tmp_path / "run.png").read_bytes()
    answer = page.evaluate(
        "async (m) => (await fetch('/api/run', { method: 'POST',"
        " headers: { 'content-type': 'application/json' },"
        " body: JSON.stringify({ model: m, inputs: Array(9).fill([0]) }) })).json()",
        model,
    )
    layout = layout_of(page, answer)
    scale, cell, row = layout["scale"], layout["cell"], layout["rowHeight"]
    heat = next(p["heat"] for p in layout["panels"] if p["key"] == "c")
    cells = canvas_rgb(page, canvas("c", 0))

    def at(t: int, u: int, fx: float = 0.5, fy: float = 0.5) -> tuple[int, int]:
        return int((heat["x"] + (t + fx) * cell) * scale), int((heat["y"] + (u + fy) * row) * scale)

    points = [at(t, 0) for t in range(STEPS)] + [at(t, 0, 0.05, 0.05) for t in range(STEPS)]
    points += [at(t, u) for t in range(STEPS) for u in (1, 2, 3)]
    got = png_pixels(page, data, points)
    white = (255, 255, 255)
    assert got[:STEPS] == [white] * STEPS, "a clipped cell's middle is not dotted in the PNG"
    assert got[STEPS : 2 * STEPS] == [cells[0][t] for t in range(STEPS)]  # the dot is in the middle only
    assert got[2 * STEPS :] == [cells[u][t] for t in range(STEPS) for u in (1, 2, 3)]
    assert all(cells[0][t] != white for t in range(STEPS))
