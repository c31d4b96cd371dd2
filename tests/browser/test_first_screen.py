"""The first screen (issue 11): at 1280 × 800 the sequence box and the run's first view are in
sight without scrolling for every built-in model, the model folded into a one-line card; on a
390 × 844 phone the run starts within the first screen and a tapped cell's values show in a bar
in sight; the sequence box grows with its text and marks the pinned step."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import PHONE, SCREENSHOTS, canvas, open_page, phone, query_of

pytestmark = pytest.mark.browser

BUILT_IN = [
    "counter",
    "latch",
    "gated-sum",
    "bracket-depth",
    "parity",
    "python-chars",
    "recall",
    "reset-count",
    "random-h8-l1-s0",
    "random-h32-l2-s0",
]
# The run's first view: the text view where the page puts it first (text models with many units),
# else the first heatmap.
FIRST_VIEW = "document.querySelector('.workspace.text-first') ? '.text-body' : 'canvas.heat'"
SNIPPET = "\n".join(f"line_{k} = {k} * 2  # {k}" for k in range(12))


def top_of(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not drawn"
    return box["y"]


def look(page: Page, name: str) -> None:
    """The screen as a person sees it first (not the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_the_built_in_models_are_the_ones_checked(live_server: str) -> None:
    listed = httpx.get(f"{live_server}/api/models").json()
    listed = listed.get("models", listed) if isinstance(listed, dict) else listed
    built_in = [m["id"] for m in listed if m.get("group") != "yours"]
    assert sorted(built_in) == sorted(BUILT_IN)


@pytest.mark.parametrize("model_id", BUILT_IN)
def test_the_sequence_and_the_first_view_fit_a_1280_by_800_screen(page: Page, model_id: str) -> None:
    open_page(page, f"model={model_id}")
    first = page.evaluate(FIRST_VIEW)
    top = top_of(page, first)
    assert top < 800, f"{model_id}: the first view ({first}) starts at y = {top:.0f}, below the screen"
    box = page.locator("#sequence").bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 800
    # the long words are folded into the model card, one line until it is opened
    card = page.locator("#model-card")
    assert card.get_attribute("open") is None
    assert page.locator("#model-title").inner_text().strip()
    summary = card.locator("summary").first.bounding_box()
    assert summary is not None and summary["height"] < 40
    if model_id in ("counter", "python-chars"):
        look(page, f"first-screen-{model_id}-1280x800")


def test_the_model_card_opens_on_the_description_command_and_units(page: Page) -> None:
    open_page(page, "model=python-chars")
    assert not page.locator("#model-description").is_visible()
    page.locator("#model-card > summary").click()
    assert "Reproduce: gatescope train" in page.locator("#model-description").inner_text()
    assert page.locator("#model-units .unit-chip").first.is_visible()


@pytest.mark.parametrize("model_id", BUILT_IN)
def test_on_a_phone_the_run_starts_within_the_first_screen(
    browser: Browser, live_server: str, model_id: str
) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"model={model_id}")
        text_first = small.evaluate("Boolean(document.querySelector('.workspace.text-first'))")
        # the text view's box (tabs, then the text) where it comes first, else the first heatmap
        top = top_of(small, ".views" if text_first else "canvas.heat")
        assert top < PHONE["height"], f"{model_id}: the run starts at y = {top:.0f} on a phone"
        if model_id in ("counter", "python-chars"):
            look(small, f"first-screen-{model_id}-390x844")


def test_on_a_phone_python_chars_text_itself_starts_within_the_first_screen(
    browser: Browser, live_server: str
) -> None:
    # not only the view's box: its coloured text (it started at y = 1183, below the tabs in three
    # rows, the controls, the header and the share button on rows of their own)
    with phone(browser, live_server) as small:
        open_page(small, "model=python-chars")
        first = small.locator(".text-body .ch").first.bounding_box()
        assert first is not None
        assert first["y"] + first["height"] <= PHONE["height"], f"the text starts at y = {first['y']:.0f}"
        # the tabs scroll sideways in one row there: the chosen one is brought into sight
        tab = "document.getElementById('tab-text').getBoundingClientRect()"
        in_sight = f"(r => r.left >= 0 && r.right <= innerWidth)({tab})"
        small.wait_for_function(in_sight, timeout=2000)  # at the frame after the view is drawn
        assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        look(small, "first-screen-python-chars-390x844-text")


def test_on_a_phone_a_tapped_cell_is_read_out_in_sight(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, "model=counter&text=" + quote("a banana. an apple. aardvark"))
        heat = small.locator(canvas("c"))
        heat.scroll_into_view_if_needed()
        box = heat.bounding_box()
        assert box is not None
        small.touchscreen.tap(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
        small.wait_for_function("new URLSearchParams(location.search).has('unit')")
        readout = small.locator("#selection-text")
        assert "Pinned: t = " in readout.inner_text()
        shown = readout.bounding_box()
        assert shown is not None
        assert shown["y"] >= 0 and shown["y"] + shown["height"] <= PHONE["height"], shown
        assert small.locator('#selection-text dd[data-gate="c"]').is_visible()
        look(small, "first-screen-counter-390x844-tapped")


def test_the_sequence_box_grows_with_its_text(page: Page) -> None:
    open_page(page, f"model=python-chars&text={quote(SNIPPET)}")
    box = page.locator("#sequence")
    sizes = box.evaluate("b => [b.scrollHeight, b.clientHeight, parseFloat(getComputedStyle(b).lineHeight)]")
    scroll, client, line = sizes
    assert scroll <= client + 1, f"the box scrolls: {scroll} px of text in {client} px"
    assert client >= 12 * line, f"12 lines need {12 * line} px, the box has {client}"
    # up to a bound: 60 lines scroll within the box instead of pushing the run off the screen
    long = "\n".join(f"x{k} = {k}" for k in range(60))
    open_page(page, f"model=python-chars&text={quote(long)}")
    client = box.evaluate("b => b.clientHeight")
    assert client <= 17 * line


def test_the_pinned_step_is_marked_in_the_sequence_box(page: Page) -> None:
    text = "a banana. an apple"
    open_page(page, f"model=counter&text={quote(text)}&layer=0&t=3&unit=1")
    mark = page.locator("#sequence-mirror mark")
    assert mark.count() == 1
    assert mark.inner_text() == text[3]
    before = page.evaluate("document.getElementById('sequence-mirror').textContent")
    assert before.rstrip("\n") == text  # the mirror lays out the box's very text
    # the mark sits over the box's 4th character: right of the 3rd's width from the box's left
    marked = mark.bounding_box()
    boxed = page.locator("#sequence").bounding_box()
    assert marked is not None and boxed is not None
    assert boxed["x"] < marked["x"] < boxed["x"] + 80 and boxed["y"] < marked["y"] < boxed["y"] + 30
    # another pinned step, another mark
    open_page(page, f"model=counter&text={quote(text)}&layer=0&t=12&unit=1")
    assert page.locator("#sequence-mirror mark").inner_text() == text[12]
    assert query_of(page)["t"] == ["12"]
