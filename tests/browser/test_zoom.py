"""Zoom and pan over the heatmaps (issue 11, "Heatmaps at scale"): buttons, keys, ctrl + wheel,
a pinch and a brushed range move one window shared by every panel, written in the URL as
zoom=t0-t1,r0-r1; zoomed rows are at least 8 px tall and every one labelled, the characters
label the steps, the overview's frame follows, and a click pins exactly the cell under it."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import api_run, canvas, open_page, phone, query_of, shoot, wait_first_run

pytestmark = pytest.mark.browser

MODEL = "python-chars"
# 160 characters of Python: past the ~100 steps where the axis fell back to numbers
TEXT = (
    "import sys\n\ndef main(argv):\n    total = 0\n    for arg in argv[1:]:\n"
    "        total += int(arg)\n    print(total)\n    return 0\n\nif __name__ == '__main__':\n"
    "    sys.exit(main(sys.argv))\n"
)
H = 128


def open_chars(page: Page, extra: str = "") -> None:
    open_page(page, f"model={MODEL}&text={quote(TEXT)}{extra}")


def box_of(page: Page, selector: str) -> dict[str, float]:
    """Where an element is on screen, scrolled into view (python-chars opens on the text view,
    with the heatmaps under it)."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    assert box is not None
    return box


def zoom_of(page: Page) -> str | None:
    return query_of(page).get("zoom", [None])[0]


def window(zoom: str) -> tuple[int, int, int, int]:
    steps, rows = zoom.split(",")
    t0, t1 = map(int, steps.split("-"))
    r0, r1 = map(int, rows.split("-"))
    return t0, t1, r0, r1


def wait_zoom(page: Page, before: str | None) -> str:
    page.wait_for_function(
        "before => (new URLSearchParams(location.search).get('zoom')) !== before", arg=before
    )
    page.wait_for_timeout(50)  # the panels repaint on the next animation frame
    zoom = zoom_of(page)
    assert zoom is not None
    return zoom


def panel_window(page: Page, gate: str = "f", layer: int = 0) -> str:
    return page.get_attribute(f'.panel[data-layer="{layer}"][data-gate="{gate}"]', "data-window") or ""


def y_labels(page: Page, gate: str = "f") -> list[str]:
    return page.eval_on_selector_all(
        f'.panel[data-layer="0"][data-gate="{gate}"] .yaxis .tick', "ts => ts.map(t => t.textContent)"
    )


def x_labels(page: Page, gate: str = "f") -> list[str]:
    return page.eval_on_selector_all(
        f'.panel[data-layer="0"][data-gate="{gate}"] .xaxis .tick', "ts => ts.map(t => t.textContent)"
    )


def assert_readable(page: Page, zoom: str) -> None:
    """Every panel shows the window; its rows are at least 8 px and each is labelled by its unit."""
    t0, t1, r0, r1 = window(zoom)
    layers = page.eval_on_selector_all(".panel", "ps => ps.map(p => p.dataset.window)")
    assert layers and all(w == zoom for w in layers), layers
    box = page.locator(canvas("c")).bounding_box()
    assert box is not None
    rows = r1 - r0 + 1
    assert box["height"] / rows >= 8, f"{rows} rows in {box['height']} px"
    assert y_labels(page, "c") == [str(u) for u in range(r0, r1 + 1)]
    size = page.eval_on_selector(canvas("c"), "c => [c.width, c.height]")
    assert size == [t1 - t0 + 1, rows]  # only the window is painted


def test_the_default_view_labels_every_16th_of_128_units(page: Page) -> None:
    open_chars(page)
    assert y_labels(page) == [str(u) for u in range(0, 128, 16)] + ["127"]
    assert zoom_of(page) is None
    assert page.locator(".zoombar").is_visible()


def test_buttons_zoom_every_panel_to_a_readable_window_with_characters(page: Page) -> None:
    open_chars(page)
    page.get_by_role("button", name="Zoom in").click()
    zoom = wait_zoom(page, None)
    t0, t1, r0, r1 = window(zoom)
    T = len(TEXT)
    assert (t1 - t0 + 1) == T // 2 and (r1 - r0 + 1) == 24, zoom
    assert_readable(page, zoom)
    page.get_by_role("button", name="Zoom in").click()
    zoom2 = wait_zoom(page, zoom)
    t0, t1, r0, r1 = window(zoom2)
    assert t1 - t0 + 1 == T // 4
    assert_readable(page, zoom2)
    # 40 steps across a panel: each column is wide enough for its character
    assert x_labels(page) == [{" ": "␣", "\n": "⏎"}.get(ch, ch) for ch in TEXT[t0 : t1 + 1]]
    page.get_by_role("button", name="Reset zoom").click()
    page.wait_for_function("!new URLSearchParams(location.search).has('zoom')")
    assert panel_window(page) == ""
    assert page.eval_on_selector(canvas("c"), "c => [c.width, c.height]") == [len(TEXT), H]


def test_keys_zoom_pan_and_reset_without_breaking_the_arrow_keys(page: Page) -> None:
    open_chars(page)
    page.focus("#heatmaps")
    page.keyboard.press("+")
    zoom = wait_zoom(page, None)
    t0, t1, r0, r1 = window(zoom)
    page.keyboard.press("Shift+ArrowRight")
    panned = wait_zoom(page, zoom)
    p0, p1, q0, q1 = window(panned)
    assert (p1 - p0, q0, q1) == (t1 - t0, r0, r1) and p0 > t0
    page.keyboard.press("Shift+ArrowDown")
    down = wait_zoom(page, panned)
    assert window(down)[2] > q0
    page.keyboard.press("-")
    page.wait_for_function("!new URLSearchParams(location.search).has('zoom')")
    page.keyboard.press("+")
    zoom = wait_zoom(page, None)
    page.keyboard.press("0")
    page.wait_for_function("!new URLSearchParams(location.search).has('zoom')")
    # the arrow keys still move the pinned cell
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert query_of(page)["t"] == ["1"]


def test_ctrl_wheel_zooms_about_the_pointer_and_plain_wheel_scrolls_the_page(page: Page) -> None:
    open_chars(page)
    box = box_of(page, canvas("f"))
    x, y = box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.mouse.wheel(0, 100)  # a plain wheel: the page scrolls, nothing zooms
    page.wait_for_timeout(200)
    assert zoom_of(page) is None
    box = page.locator(canvas("f")).bounding_box()  # the page scrolled under the pointer
    assert box is not None
    x, y = box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5
    page.mouse.move(x, y)
    page.keyboard.down("Control")
    for _ in range(5):
        page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    zoom = wait_zoom(page, None)
    t0, t1, r0, r1 = window(zoom)
    T = len(TEXT)
    assert t1 - t0 + 1 < T * 0.6
    # the step that was under the pointer (3/4 of the way) is still about 3/4 of the way across
    assert t0 <= 0.75 * T <= t1
    assert abs((0.75 * T - t0) / (t1 - t0 + 1) - 0.75) < 0.1
    assert_readable(page, zoom)


def test_shift_drag_brushes_steps_and_units_and_a_zoomed_click_pins_exactly(page: Page) -> None:
    open_chars(page)
    box = box_of(page, canvas("h"))
    T = len(TEXT)
    col = box["width"] / T
    row = box["height"] / H

    def point(t: float, u: float) -> tuple[float, float]:
        return box["x"] + (t + 0.5) * col, box["y"] + (u + 0.5) * row

    page.keyboard.down("Shift")
    page.mouse.move(*point(30, 40))
    page.mouse.down()
    page.mouse.move(*point(50, 50), steps=4)
    page.mouse.move(*point(69, 59), steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    zoom = wait_zoom(page, None)
    assert zoom == "30-69,40-59"
    assert "t" not in query_of(page)  # the brush pinned nothing
    assert_readable(page, zoom)
    # a click in the zoomed window pins the cell drawn there: step 30 + 17, unit 40 + 5
    box = box_of(page, canvas("h"))
    page.mouse.click(box["x"] + (17.5 / 40) * box["width"], box["y"] + (5.5 / 20) * box["height"])
    page.wait_for_function("new URLSearchParams(location.search).get('t') === '47'")
    query = query_of(page)
    assert (query["t"], query["unit"]) == (["47"], ["45"])
    pin = page.locator('.panel[data-layer="0"][data-gate="h"] .pin').bounding_box()
    assert pin is not None
    assert abs(pin["x"] - (box["x"] + 17 * box["width"] / 40)) <= 2
    assert abs(pin["y"] - (box["y"] + 5 * box["height"] / 20)) <= 2
    readout = page.inner_text("#selection-text")
    run = api_run(page, {"model": MODEL, "text": TEXT})
    assert "t = 47," in readout and "unit 45" in readout
    value = run["layers"][0]["h"][47][45]
    shown = page.inner_text('#selection-text dd[data-gate="h"]')
    assert abs(float(shown) - value) < 5e-3, (shown, value)


def test_the_overview_frame_follows_and_drags_to_pan(page: Page) -> None:
    open_chars(page, "&zoom=40-79,24-47")
    assert panel_window(page) == "40-79,24-47"
    overview = box_of(page, ".overview")
    frame = page.locator(".overview-window").bounding_box()
    assert frame is not None
    T = len(TEXT)
    assert abs(frame["x"] - (overview["x"] + 40 / T * overview["width"])) <= 3
    assert abs(frame["width"] - 40 / T * overview["width"]) <= 4
    assert abs(frame["y"] - (overview["y"] + 24 / H * overview["height"])) <= 2
    # drag the frame 20 steps to the right
    x, y = frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20 / T * overview["width"], y, steps=5)
    page.mouse.up()
    zoom = wait_zoom(page, "40-79,24-47")
    t0, t1, r0, r1 = window(zoom)
    assert (t1 - t0, r0, r1) == (39, 24, 47) and 58 <= t0 <= 62, zoom
    moved = page.locator(".overview-window").bounding_box()
    assert moved is not None and moved["x"] > frame["x"] + 0.8 * 20 / T * overview["width"]


def test_the_window_survives_a_reload_and_a_shorter_run_drops_it(page: Page) -> None:
    open_chars(page, "&zoom=100-139,60-83")
    assert_readable(page, "100-139,60-83")
    page.reload()
    wait_first_run(page)
    assert zoom_of(page) == "100-139,60-83"
    assert_readable(page, "100-139,60-83")
    open_page(page, f"model={MODEL}&text={quote(TEXT[:50])}&zoom=100-139,60-83")
    page.wait_for_function("!new URLSearchParams(location.search).has('zoom')")
    assert panel_window(page) == ""


def test_a_pinch_zooms_in(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"model={MODEL}&text={quote(TEXT)}")
        box = small.locator(canvas("f")).bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        small.evaluate(
            """([sel, cx, cy]) => {
              const c = document.querySelector(sel);
              const fire = (type, id, x) => c.dispatchEvent(new PointerEvent(type, {
                pointerId: id, pointerType: "touch", isPrimary: id === 1, clientX: x, clientY: cy,
                bubbles: true, cancelable: true }));
              fire("pointerdown", 1, cx - 20); fire("pointerdown", 2, cx + 20);
              for (let k = 1; k <= 6; k++) {
                fire("pointermove", 1, cx - 20 - 10 * k);
                fire("pointermove", 2, cx + 20 + 10 * k);
              }
              fire("pointerup", 1, cx - 80); fire("pointerup", 2, cx + 80);
            }""",
            [canvas("f"), cx, cy],
        )
        zoom = wait_zoom(small, None)
        t0, t1, r0, r1 = window(zoom)
        assert t1 - t0 + 1 <= len(TEXT) // 2, zoom  # fingers 40 px apart spread to 160 px
        assert "t" not in query_of(small)  # a pinch pins nothing


def test_a_phone_zooms_with_the_buttons(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        open_page(small, f"model={MODEL}&text={quote(TEXT)}")
        button = small.get_by_role("button", name="Zoom in")
        assert button.is_visible()
        tapped = button.bounding_box()
        assert tapped is not None and tapped["height"] >= 24
        button.tap()
        zoom = wait_zoom(small, None)
        button.tap()
        zoom = wait_zoom(small, zoom)
        assert_readable(small, zoom)
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        small.evaluate(
            "scrollTo(0, document.querySelector('.zoombar').getBoundingClientRect().top + scrollY - 200)"
        )
        path = shoot(small, "zoom-python-chars-phone")
        small.screenshot(path=str(path.with_name("zoom-python-chars-phone-screen.png")))


def test_screenshot_zoomed_python_chars(page: Page) -> None:
    open_chars(page, "&zoom=40-79,48-71&layer=0&t=60&unit=58")
    assert_readable(page, "40-79,48-71")
    shoot(page, "zoom-python-chars")
    page.evaluate("document.querySelector('.zoombar').scrollIntoView()")
    page.screenshot(path=str(shoot(page, "zoom-python-chars").with_name("zoom-python-chars-screen.png")))


def test_an_arrow_key_past_the_window_pans_it_to_the_pinned_cell(page: Page) -> None:
    open_chars(page, "&zoom=40-79,24-47&layer=0&t=79&unit=47")
    page.focus("#heatmaps")
    page.keyboard.press("ArrowRight")
    zoom = wait_zoom(page, "40-79,24-47")
    assert zoom == "41-80,24-47"
    page.keyboard.press("ArrowDown")
    zoom = wait_zoom(page, zoom)
    assert zoom == "41-80,25-48"
    assert (query_of(page)["t"], query_of(page)["unit"]) == (["80"], ["48"])
