"""The link-preview image of one run: its title, its sequence and one layer's six heatmaps, as a PNG.

1200 × 630 pixels, the size OpenGraph and Twitter cards expect. The colours are the page's
(app/palette.py). Each heatmap is resampled to its pixel box (nearest neighbour: every pixel shows one
actual value), so a 2000 × 512 run costs what a small one does. Text is drawn with the font
Pillow embeds (no files, nothing fetched); characters it lacks are folded to their base letter
(é → e) or drawn as a box, and nothing in the text is ever interpreted.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.service.palette import PANELS, PanelSpec, colours, value_range

WIDTH, HEIGHT = 1200, 630

INK = (27, 31, 36)  # style.css --ink, --muted, --paper, --panel, --accent
MUTED = (91, 100, 112)
PAPER = (255, 255, 255)
CARD = (246, 248, 250)
ACCENT = (31, 111, 107)
PIN = (255, 47, 185)

# Layout, in pixels: a header, then the six panels in 3 columns × 2 rows.
MARGIN = 24
GAP = 12
HEADER = 112
PAD = 10
CAPTION = 36  # the gate's letter and name, above its heatmap
YAXIS = 34  # unit numbers and the word "unit", left of the heatmap
BELOW = 50  # step labels and the legend, under the heatmap
MIN_LABEL_WIDTH = 9  # as the page: below this many pixels per step, label every few steps
LEGEND_WIDTH = 240
MAX_CELL_WIDTH = 48  # pixels per step at most: a short run's steps stay cells, not slabs

Box = tuple[int, int, int, int]  # left, top, width, height


# --- geometry ------------------------------------------------------------------------------


def panel_boxes() -> dict[str, Box]:
    """Each panel's card, by gate key."""
    width = (WIDTH - 2 * MARGIN - 2 * GAP) // 3
    height = (HEIGHT - HEADER - MARGIN - GAP) // 2
    boxes = {}
    for n, spec in enumerate(PANELS):
        row, col = divmod(n, 3)
        boxes[spec.key] = (MARGIN + col * (width + GAP), HEADER + row * (height + GAP), width, height)
    return boxes


def heatmap_boxes(T: int, H: int) -> dict[str, Box]:
    """Where each panel's heatmap lies in the image, by gate key, for a run of T steps and H units.

    Where a whole number of pixels per step (unit) fills most of the room, every step (unit)
    gets that many (at most MAX_CELL_WIDTH per step); otherwise pixels sample them evenly.
    Either way, pixel column x of the box shows step floor((x + 0.5) · T / width).
    """
    boxes = {}
    for key, (left, top, width, height) in panel_boxes().items():
        w = min(width - 2 * PAD - YAXIS, T * MAX_CELL_WIDTH)
        h = height - PAD - CAPTION - BELOW
        w, h = _cells(w, T), _cells(h, H)
        boxes[key] = (left + PAD + YAXIS, top + CAPTION, w, h)
    return boxes


def _cells(pixels: int, n: int) -> int:
    """Pixels given to n equal cells when that fills most of the room; else all of it, sampled."""
    equal = pixels // n * n
    return equal if equal >= 0.9 * pixels else pixels


def _sample(n: int, pixels: int) -> np.ndarray:
    """For each of `pixels` pixels, the index (of n) under its centre."""
    return ((np.arange(pixels) + 0.5) * n / pixels).astype(np.intp)


def heatmap_pixels(values: np.ndarray, box: Box, lo: float, hi: float, scale: str) -> np.ndarray:
    """A (T, H) array as the (height, width, 3) pixels of its box: time along x, units along y."""
    T, H = values.shape
    _, _, w, h = box
    picked = values[np.ix_(_sample(T, w), _sample(H, h))]  # (w, h): only the values shown
    return colours(picked.astype(np.float32), lo, hi, scale).transpose(1, 0, 2)


# --- text ----------------------------------------------------------------------------------

# Stand-ins drawn as shapes, since the embedded font lacks ⏎, ␣ and ⇥ (private-use code points:
# text never reaches them, as _shown maps every character the font lacks to U+FFFD).
NEWLINE, SPACE, TAB = "\ue001", "\ue002", "\ue003"
_SYMBOLS = re.compile(f"([{NEWLINE}{SPACE}{TAB}])")
_MISSING = "\ufffd"
SYMBOL_WIDTH = 0.7  # of the font size


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@cache
def _tofu() -> bytes:
    return bytes(font(20).getmask(_MISSING))


@lru_cache(maxsize=4096)  # bounded: user text can bring any of Unicode's characters
def _has_glyph(ch: str) -> bool:
    if ch == " ":
        return True
    mask = font(20).getmask(ch)
    return mask.size != (0, 0) and bytes(mask) != _tofu()


@lru_cache(maxsize=4096)
def _glyph(ch: str, token: bool) -> str:
    if ch == "\n" or ch == "\r":
        return NEWLINE
    if ch == "\t":
        return TAB
    if ch == " ":
        return SPACE if token else " "
    if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return _MISSING
    if _has_glyph(ch):
        return ch
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if 0 < len(base) <= 3 and all(unicodedata.category(c)[0] != "C" and _has_glyph(c) for c in base):
        return base
    return _MISSING


def _shown(text: str, token: bool = False) -> str:
    """Text as drawn: stand-ins for invisible characters, and only characters the font has."""
    return "".join(_glyph(ch, token) for ch in text.replace("\r\n", "\n"))


def _pieces(shown: str) -> list[str]:
    return [p for p in _SYMBOLS.split(shown) if p]


def _length(shown: str, size: int) -> float:
    f = font(size)
    return sum(SYMBOL_WIDTH * size if p in (NEWLINE, SPACE, TAB) else f.getlength(p) for p in _pieces(shown))


def _fit(shown: str, size: int, width: float) -> str:
    """The longest start of the text that fits in width, with an ellipsis if cut."""
    if _length(shown, size) <= width:
        return shown
    lo, hi = 0, len(shown)  # the prefix of length lo fits with its ellipsis; hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _length(shown[:mid].rstrip() + "…", size) <= width:
            lo = mid
        else:
            hi = mid
    return shown[:lo].rstrip() + "…"


def _draw_text(
    d: ImageDraw.ImageDraw,
    x: float,
    baseline: float,
    shown: str,
    size: int,
    fill: tuple[int, int, int],
    bold: bool = False,
) -> None:
    """Draw shown text (see _shown) with its left end at x, on the baseline."""
    f = font(size)
    stroke = max(1, size // 28) if bold else 0
    for p in _pieces(shown):
        if p in (NEWLINE, SPACE, TAB):
            _draw_symbol(d, x, baseline, p, size, fill)
            x += SYMBOL_WIDTH * size
        else:
            d.text((x, baseline), p, font=f, fill=fill, anchor="ls", stroke_width=stroke, stroke_fill=fill)
            x += f.getlength(p)


def _draw_symbol(
    d: ImageDraw.ImageDraw, x: float, baseline: float, p: str, size: int, fill: tuple[int, int, int]
) -> None:
    lw = max(1, round(size / 14))
    a, b = x + 0.1 * size, x + 0.6 * size  # left and right ends
    if p == SPACE:  # ␣
        y = baseline - 0.05 * size
        d.line([(a, y - 0.25 * size), (a, y), (b, y), (b, y - 0.25 * size)], fill=fill, width=lw)
        return
    y = baseline - 0.3 * size
    head = 0.18 * size
    if p == NEWLINE:  # ⏎
        d.line([(b, baseline - 0.7 * size), (b, y), (a, y)], fill=fill, width=lw)
        d.polygon([(a - lw, y), (a + head, y - head), (a + head, y + head)], fill=fill)
    else:  # ⇥
        d.line([(a, y), (b - lw, y)], fill=fill, width=lw)
        d.polygon([(b - lw, y), (b - lw - head, y - head), (b - lw - head, y + head)], fill=fill)
        d.line([(b, y - head), (b, y + head)], fill=fill, width=lw)


def _centred(
    d: ImageDraw.ImageDraw, cx: float, baseline: float, shown: str, size: int, fill: tuple[int, int, int]
) -> None:
    _draw_text(d, cx - _length(shown, size) / 2, baseline, shown, size, fill)


def _to_precision3(x: float) -> str:
    """JavaScript's x.toPrecision(3), for |x| ≥ 1 (the cell state's range)."""
    s = f"{x:#.3g}"
    if "e" in s:
        mantissa, exp = s.split("e")
        s = f"{mantissa}e{exp[0]}{int(exp[1:])}"
    return s


# --- the picture ---------------------------------------------------------------------------


def render_preview(
    title: str,
    sequence: str,
    tokens: Sequence[str],
    layer: Mapping[str, np.ndarray],
    pin: tuple[int, int] | None = None,
) -> bytes:
    """The PNG preview of one layer of a run.

    title: the model's title; sequence: the input as typed (shortened to fit); tokens: one label
    per step, or none (steps are then numbered); layer: "f", "i", "g", "o", "c", "h", each a
    (T, H) array; pin: an optional (step, unit) to outline, as the page outlines a pinned cell.
    ValueError when the arrays are missing, of different shapes, empty, or disagree with tokens.
    """
    missing = [spec.key for spec in PANELS if spec.key not in layer]
    if missing:
        raise ValueError(f"layer lacks the array(s) {', '.join(missing)}")
    arrays = {spec.key: np.asarray(layer[spec.key]) for spec in PANELS}
    shape = arrays["f"].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays.values()):
        raise ValueError(f"every array must be (T, H) and alike; got {[a.shape for a in arrays.values()]}")
    T, H = shape
    if T == 0 or H == 0:
        raise ValueError(f"nothing to draw: {T} steps × {H} units")
    if tokens and len(tokens) != T:
        raise ValueError(f"{len(tokens)} tokens for {T} steps")

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    d = ImageDraw.Draw(image)
    _header(d, title, sequence, T, H)
    heat = heatmap_boxes(T, H)
    for spec in PANELS:
        lo, hi = value_range(spec, arrays["c"])
        _panel(image, d, spec, panel_boxes()[spec.key], heat[spec.key], arrays[spec.key], lo, hi, tokens, pin)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _header(d: ImageDraw.ImageDraw, title: str, sequence: str, T: int, H: int) -> None:
    right = WIDTH - MARGIN
    brand = "Gatescope"
    brand_width = _length(brand, 26)
    _draw_text(d, right - brand_width, MARGIN + 24, brand, 26, ACCENT, bold=True)
    size_note = f"{T} step{'s' * (T != 1)} · {H} unit{'s' * (H != 1)}"
    _draw_text(d, right - _length(size_note, 18), MARGIN + 52, size_note, 18, MUTED)
    text_width = right - MARGIN - max(brand_width, _length(size_note, 18)) - 32
    # Long inputs are cut before measuring: no line of this width holds a thousand characters.
    shown_title = _fit(_shown(title[:1000]) or "Untitled model", 40, text_width)
    _draw_text(d, MARGIN, MARGIN + 36, shown_title, 40, INK, bold=True)
    inner = _fit(_shown(sequence[:1000]), 26, text_width - _length("“”", 26))
    shown_seq = "“" + inner + "”"
    _draw_text(d, MARGIN, MARGIN + 76, shown_seq, 26, MUTED)


def _panel(
    image: Image.Image,
    d: ImageDraw.ImageDraw,
    spec: PanelSpec,
    card: Box,
    heat: Box,
    values: np.ndarray,
    lo: float,
    hi: float,
    tokens: Sequence[str],
    pin: tuple[int, int] | None,
) -> None:
    left, top, width, height = card
    d.rounded_rectangle((left, top, left + width - 1, top + height - 1), radius=8, fill=CARD)
    x, y, w, h = heat
    _draw_text(d, left + PAD + 2, top + 27, spec.key, 28, ACCENT)
    _draw_text(d, left + PAD + 26, top + 27, spec.name, 22, INK)

    pixels = heatmap_pixels(values, heat, lo, hi, spec.scale)
    image.paste(Image.fromarray(np.ascontiguousarray(pixels)), (x, y))
    T, H = values.shape
    _unit_axis(image, d, x, y, h, H)
    _step_axis(d, x, y + h, w, T, tokens)
    if pin is not None and 0 <= pin[0] < T and 0 <= pin[1] < H:
        _outline(d, heat, T, H, *pin)
    _legend(image, d, spec, x, y + h + 22, LEGEND_WIDTH, lo, hi)


def _unit_axis(image: Image.Image, d: ImageDraw.ImageDraw, x: int, y: int, h: int, H: int) -> None:
    row = h / H
    ticks = range(H) if row >= 16 else sorted({0, H - 1})
    for u in ticks:
        label = str(u)
        baseline = min(max(y + (u + 0.5) * row + 5, y + 11), y + h)  # within the heatmap's height
        _draw_text(d, x - 5 - _length(label, 15), baseline, label, 15, MUTED)
    if h >= 56:  # room for the axis title, turned as on the page
        f = font(14)
        word = Image.new("L", (round(f.getlength("unit")) + 2, 18), 0)
        ImageDraw.Draw(word).text((1, 14), "unit", font=f, fill=255, anchor="ls")
        word = word.rotate(90, expand=True)
        image.paste(MUTED, (x - YAXIS + 1, y + (h - word.height) // 2), word)


def _step_axis(d: ImageDraw.ImageDraw, x: int, y: int, w: int, T: int, tokens: Sequence[str]) -> None:
    """Tokens under their columns when they fit, else step numbers every 1, 2, 5, 10, … steps."""
    cell = w / T
    size = 15
    if tokens and cell >= MIN_LABEL_WIDTH:
        labels = [_shown(tok, token=True) for tok in tokens]
        if max(_length(s, size) for s in labels) <= cell + 2:
            for t, s in enumerate(labels):
                _centred(d, x + (t + 0.5) * cell, y + 16, s, size, INK)
            return
    need = (_length(str(T - 1), 14) + 10) / cell
    every = next(b * 10**p for p in range(8) for b in (1, 2, 5) if b * 10**p >= need)
    for t in range(0, T, every):
        _centred(d, x + (t + 0.5) * cell, y + 16, str(t), 14, MUTED)


def _outline(d: ImageDraw.ImageDraw, heat: Box, T: int, H: int, t: int, u: int) -> None:
    x, y, w, h = heat
    x0, x1 = x + t * w / T, x + (t + 1) * w / T
    y0, y1 = y + u * h / H, y + (u + 1) * h / H
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2  # at least 8 pixels across, to be seen at all
    x0, x1 = min(x0, cx - 4), max(x1, cx + 4)
    y0, y1 = min(y0, cy - 4), max(y1, cy + 4)
    d.rectangle((x0 - 3, y0 - 3, x1 + 2, y1 + 2), outline=PAPER, width=2)
    d.rectangle((x0 - 1, y0 - 1, x1, y1), outline=PIN, width=2)


def _legend(
    image: Image.Image, d: ImageDraw.ImageDraw, spec: PanelSpec, x: int, y: int, w: int, lo: float, hi: float
) -> None:
    """heatmap.js's legend: a ramp of 256 values, stretched to w pixels, with words under its ends."""
    ramp = lo + (hi - lo) * _sample(256, w) / 255
    bar = np.broadcast_to(colours(ramp, lo, hi, spec.scale), (10, w, 3))
    image.paste(Image.fromarray(np.ascontiguousarray(bar)), (x, y))
    d.rectangle((x - 1, y - 1, x + w, y + 10), outline=(153, 153, 153))
    words = spec.legend or (_to_precision3(lo), "0", "+" + _to_precision3(hi))
    baseline = y + 26
    _draw_text(d, x, baseline, _shown(words[0]), 14, MUTED)
    _draw_text(d, x + w - _length(_shown(words[-1]), 14), baseline, _shown(words[-1]), 14, MUTED)
    if len(words) == 3:
        _centred(d, x + w / 2, baseline, _shown(words[1]), 14, MUTED)
