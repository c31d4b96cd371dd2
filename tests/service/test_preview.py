"""The link-preview image (app/preview.py): the page's colours, real values under each cell, any text."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.engine.lstm import forward
from app.models import zoo
from app.service import palette, preview

SPEC_JSON = Path(__file__).resolve().parents[2] / "app" / "static" / "spec.json"
COUNTER_TEXT = "a banana. an apple. aardvark"


def js_array(name: str) -> list[str]:
    """The page's colour stops, read from the file the page imports (not through app.palette)."""
    colours = json.loads(SPEC_JSON.read_text())["colours"]
    return colours[{"VIRIDIS": "sequential", "BLUE_RED": "diverging"}[name]]


def js_panels() -> list[dict]:
    return json.loads(SPEC_JSON.read_text())["panels"]["list"]


# heatmap.js, transcribed line by line: the expected colours come from here, not from app.palette.


def js_round(x: float) -> int:
    return math.floor(x + 0.5)


def page_colour(stops: list[str], value: float, lo: float, hi: float) -> tuple[int, int, int]:
    """The colour the page paints value with: lut(stops)[clamp(round((value − lo) · 255/(hi − lo)))]."""
    v = float(np.float32(value))  # the page gets float32 values
    k = max(0, min(255, js_round((v - lo) * (255 / (hi - lo)))))
    rgb = [[int(s[i : i + 2], 16) for i in (1, 3, 5)] for s in stops]
    x = (k / 255) * (len(rgb) - 1)
    j = min(math.floor(x), len(rgb) - 2)
    w = x - j
    return tuple(js_round(rgb[j][ch] * (1 - w) + rgb[j + 1][ch] * w) for ch in range(3))


def page_range(key: str, layer: dict[str, np.ndarray]) -> tuple[float, float]:
    spec = next(p for p in js_panels() if p["key"] == key)
    if spec["range"] == "symmetric":  # the page (heatmap.js colourRange): Math.max(1, ...|c|)
        cmax = max(1.0, float(np.abs(layer["c"].astype(np.float32)).max()))
        return -cmax, cmax
    return tuple(spec["range"])


def stops_of(key: str) -> list[str]:
    scale = next(p["scale"] for p in js_panels() if p["key"] == key)
    return js_array("VIRIDIS" if scale == "sequential" else "BLUE_RED")


def run(model_id: str, text: str) -> dict[str, np.ndarray]:
    m = zoo.get(model_id)
    x = np.zeros((len(text), len(m.vocab)))
    x[np.arange(len(text)), [m.vocab.index(ch) for ch in text]] = 1.0
    (trace,) = forward(m.weights, x, gate_activation=m.gate_activation)
    return {k: getattr(trace, k) for k in "figoch"}


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def cell_centre(box: tuple[int, int, int, int], T: int, H: int, t: int, u: int) -> tuple[int, int]:
    left, top, width, height = box
    return int(left + (t + 0.5) * width / T), int(top + (u + 0.5) * height / H)


@pytest.fixture(scope="module")
def counter_layer() -> dict[str, np.ndarray]:
    return run("counter", COUNTER_TEXT)


@pytest.fixture(scope="module")
def counter_image(counter_layer) -> Image.Image:
    png = preview.render_preview("Counter with reset", COUNTER_TEXT, list(COUNTER_TEXT), counter_layer)
    return decode(png)


# --- the colours are the page's ------------------------------------------------------------


def test_lookup_tables_match_the_pages_interpolation():
    for scale, name in (("sequential", "VIRIDIS"), ("diverging", "BLUE_RED")):
        stops = js_array(name)
        for k in range(256):
            assert tuple(palette.LUTS[scale][k]) == page_colour(stops, k / 255, 0.0, 1.0), (scale, k)


def test_halfway_values_round_up_as_javascript_does():
    values = np.array([0.5, 2.5, 4.5, 253.5, -3.0, 300.0])  # on [0, 255], the index is the value
    got = [tuple(int(v) for v in rgb) for rgb in palette.colours(values, 0.0, 255.0, "sequential")]
    assert got == [page_colour(js_array("VIRIDIS"), v, 0.0, 255.0) for v in values]
    assert got[1] == tuple(palette.LUTS["sequential"][3])  # 2.5 → 3, where round-half-even gives 2


def test_cell_state_range_is_symmetric_and_at_least_one():
    c_panel = next(p for p in palette.PANELS if p.key == "c")
    assert palette.value_range(c_panel, np.array([[0.3, -0.2]])) == (-1.0, 1.0)
    lo, hi = palette.value_range(c_panel, np.array([[2.0, -9.0]]))
    assert (lo, hi) == (-9.0, 9.0)
    assert preview._to_precision3(9.0) == "9.00"  # the legend's words, as toPrecision(3) writes them
    assert preview._to_precision3(12.345) == "12.3"
    assert preview._to_precision3(-1234.5) == "-1.23e+3"


# --- the picture of a real run -------------------------------------------------------------


def test_preview_is_a_1200_by_630_rgb_png(counter_image):
    assert counter_image.format == "PNG"
    assert counter_image.size == (1200, 630)
    assert counter_image.mode == "RGB"


def test_forget_gate_is_dark_at_the_reset_token(counter_image, counter_layer):
    f = counter_layer["f"]
    T, H = f.shape
    box = preview.heatmap_boxes(T, H)["f"]
    dot, letter = COUNTER_TEXT.index("."), COUNTER_TEXT.index("b")
    at_dot = counter_image.getpixel(cell_centre(box, T, H, dot, 0))
    at_letter = counter_image.getpixel(cell_centre(box, T, H, letter, 0))
    assert at_dot == page_colour(js_array("VIRIDIS"), f[dot, 0], 0.0, 1.0)
    assert at_letter == page_colour(js_array("VIRIDIS"), f[letter, 0], 0.0, 1.0)
    assert f[dot, 0] < 0.05 < 0.95 < f[letter, 0]
    assert sum(at_dot) < 200 < 500 < sum(at_letter)  # dark purple, bright yellow


def test_every_cell_of_every_panel_shows_its_value(counter_image, counter_layer):
    T, H = counter_layer["f"].shape
    boxes = preview.heatmap_boxes(T, H)
    for key in "figoch":
        lo, hi = page_range(key, counter_layer)
        for t in range(T):
            for u in range(H):
                expected = page_colour(stops_of(key), counter_layer[key][t, u], lo, hi)
                assert counter_image.getpixel(cell_centre(boxes[key], T, H, t, u)) == expected, (key, t, u)


def test_heatmaps_do_not_overlap_and_stay_inside_the_image():
    for T, H in ((1, 1), (28, 4), (93, 128), (2000, 512)):
        boxes = list(preview.heatmap_boxes(T, H).values())
        for left, top, width, height in boxes:
            assert 0 < left and left + width < 1200 and preview.HEADER <= top and top + height < 630
            assert width >= min(T, 300) and height >= min(H, 100)
        for n, (ax, ay, aw, ah) in enumerate(boxes):
            for bx, by, bw, bh in boxes[n + 1 :]:
                assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay


def test_a_pinned_cell_is_outlined(counter_layer):
    T, H = counter_layer["f"].shape
    png = preview.render_preview("Counter", COUNTER_TEXT, list(COUNTER_TEXT), counter_layer, pin=(8, 0))
    image = decode(png)
    left, top, width, height = preview.heatmap_boxes(T, H)["f"]
    x0 = left + 8 * width // T
    _, y = cell_centre((left, top, width, height), T, H, 8, 0)
    assert preview.PIN in [image.getpixel((x, y)) for x in range(x0 - 2, x0 + 2)]


# --- big runs: resampled, every pixel one actual value ------------------------------------


def test_a_2000_by_512_run_renders_every_pixel_from_an_actual_value():
    rng = np.random.default_rng(0)
    T, H = 2000, 512
    layer = {k: rng.uniform(0, 1, (T, H)) for k in "fio"}
    layer |= {k: rng.uniform(-1, 1, (T, H)) for k in "gh"}
    layer["c"] = rng.normal(0, 3, (T, H))
    image = decode(preview.render_preview("random-h512-l1-s0", "x" * T, ["x"] * T, layer))
    assert image.size == (1200, 630)
    left, top, width, height = preview.heatmap_boxes(T, H)["c"]
    lo, hi = page_range("c", layer)
    for px in (0, 1, width // 2, width - 1):
        for py in (0, height // 3, height - 1):
            t, u = int((px + 0.5) * T / width), int((py + 0.5) * H / height)
            expected = page_colour(js_array("BLUE_RED"), layer["c"][t, u], lo, hi)
            assert image.getpixel((left + px, top + py)) == expected, (px, py)


# --- any text, drawn as text ---------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "\"quotes\" 'single' `back` \\ &amp; %s {0} ${x}",
    "emoji 😀👍🏽🇫🇷 and 中文 and é",
    "\u202eright-to-left override\u202c and \u200bzero width",
    "nul \x00 bell \x07 escape \x1b[31m",
    "lone surrogate \ud800 and private \ue001\ue002",
    "line one\nline two\r\nline three\rfour\u2028five",
    "a" * 10_000,
    "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_without_crashing(text, counter_layer):
    T = counter_layer["f"].shape[0]
    tokens = [text[:3] or "?"] * T
    image = decode(preview.render_preview(text, text, tokens, counter_layer))
    assert image.size == (1200, 630)


def test_text_never_leaves_its_line(counter_layer):
    """A title full of newlines is one line: the panels under the header come out the same."""
    T = counter_layer["f"].shape[0]
    plain = decode(preview.render_preview("title", "seq", ["a"] * T, counter_layer))
    broken = decode(preview.render_preview("a\n" * 40, "b\r\n" * 40, ["a"] * T, counter_layer))
    header, grid = (0, 0, 1200, preview.HEADER), (0, preview.HEADER, 1200, 630)
    assert plain.crop(grid).tobytes() == broken.crop(grid).tobytes()
    assert plain.crop(header).tobytes() != broken.crop(header).tobytes()


def test_shown_text_holds_only_what_the_font_can_draw():
    shown = preview._shown("é 😀 <b>\x00\n\t\u202e\ue001", token=True)
    assert shown.startswith("e")
    assert "\n" not in shown and "\x00" not in shown and "\u202e" not in shown
    assert shown.count(preview.NEWLINE) == 1 and shown.count(preview.TAB) == 1
    assert shown.count(preview.SPACE) == 2
    assert "<b>" in shown
    assert shown.count(preview._MISSING) == 4  # the emoji, the NUL, the override, the private-use character


def test_long_sequences_are_shortened_with_an_ellipsis():
    shown = preview._fit(preview._shown("abc " * 2500), 26, 600)
    assert shown.endswith("…")
    assert preview._length(shown, 26) <= 600 < preview._length(shown + "abcd", 26)


# --- what it refuses -------------------------------------------------------------------------


def test_no_tokens_means_numbered_steps(counter_layer):
    image = decode(preview.render_preview("Counter", COUNTER_TEXT, [], counter_layer))
    assert image.size == (1200, 630)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda layer, tokens: ({k: v for k, v in layer.items() if k != "c"}, tokens), "lacks"),
        (lambda layer, tokens: ({**layer, "h": layer["h"][:-1]}, tokens), "alike"),
        (lambda layer, tokens: ({k: v[:0] for k, v in layer.items()}, []), "nothing to draw"),
        (lambda layer, tokens: ({k: v[0] for k, v in layer.items()}, tokens), "alike"),
        (lambda layer, tokens: (layer, tokens[:-1]), "tokens for"),
    ],
)
def test_malformed_layers_are_refused(change, message, counter_layer):
    layer, tokens = change(counter_layer, list(COUNTER_TEXT))
    with pytest.raises(ValueError, match=message):
        preview.render_preview("Counter", COUNTER_TEXT, tokens, layer)


def test_the_module_stays_off_the_web_framework():
    code = (
        "import sys, app.service.preview; "
        "print([m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
