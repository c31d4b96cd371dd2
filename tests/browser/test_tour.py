"""The guided tour in a real Chromium: who is invited, what each step shows, and how it ends."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import (
    SCREENSHOTS,
    api_run,
    assert_no_sideways_scroll,
    open_page,
    phone,
    query_of,
    wait_first_run,
)

pytestmark = pytest.mark.browser

TEXT = "a banana. an apple."
STEPS = 6
WHAT_IFS = {"fb-10": [{"gate": "f", "bias_add": -10}], "f1": [{"gate": "f", "value": 1}]}


def expected_states(page: Page) -> list[dict[str, str]]:
    """The view each step shows (the explanation tabs only when the page has them)."""
    step_tab = page.locator("#tab-step").count() > 0
    whatif_tab = page.locator("#tab-whatif").count() > 0
    step_view = {"view": "step"} if step_tab else {}
    return [
        {"t": "7", "unit": "0"},
        {"t": "8", "unit": "0"},
        {"t": "8", "unit": "3"},
        {"t": "8", "unit": "0", **step_view},
        {"t": "7", "unit": "1", "x": "fb-10", **step_view},
        {"t": "8", "unit": "0", "x": "f1", **({"view": "whatif"} if whatif_tab else {})},
    ]


def wait_step(page: Page, k: int) -> None:
    page.wait_for_function(
        f"document.body.dataset.tourStep === '{k}' && document.getElementById('tour')"
        " && !document.getElementById('tour').hasAttribute('aria-busy')"
    )


def invited(page: Page) -> bool:
    page.wait_for_timeout(400)  # the invitation comes after the first run is drawn
    return page.locator(".tour-invite").count() > 0


def start_from_invitation(page: Page) -> None:
    page.goto(f"{page.base}/")  # type: ignore[attr-defined]
    page.locator(".tour-invite").get_by_role("button", name="Start the tour").click()
    wait_step(page, 1)


def in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return box["y"] < size["height"] and box["y"] + box["height"] > 0 and box["x"] < size["width"]


def view_shot(page: Page, name: str) -> None:
    """What the screen shows (the popover is fixed: a full-page shot would misplace it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_a_first_visit_is_invited_and_every_step_quotes_the_live_readout(page: Page) -> None:
    page.goto(f"{page.base}/")  # type: ignore[attr-defined]
    invite = page.locator(".tour-invite")
    invite.wait_for()
    assert "how the forget gate decides what to forget" in invite.inner_text()
    view_shot(page, "tour-0-invitation-1280")
    invite.get_by_role("button", name="Start the tour").click()
    wait_step(page, 1)
    assert page.locator(".tour-invite").count() == 0
    states = expected_states(page)
    for k in range(1, STEPS + 1):
        wait_step(page, k)
        dialog = page.get_by_role("dialog", name=page.locator("#tour-title").inner_text())
        assert dialog.get_attribute("aria-modal") == "false"
        assert f"Step {k} of {STEPS}" in dialog.inner_text()
        assert page.evaluate("document.activeElement.closest('#tour') !== null"), "focus moves to the popover"
        # each step is a real view: the address bar holds its state
        query = {key: v[0] for key, v in query_of(page).items()}
        assert query == {"model": "counter", "text": TEXT, "layer": "0", **states[k - 1]}, (k, query)
        # the outlined element is on screen, beside the popover
        assert page.locator(".tour-target").count() == 1
        assert page.locator(".tour-target").is_visible() and in_viewport(page, ".tour-target"), k
        # the numbers quoted from the readout are the readout's, and the API's at its precision
        body = {"model": "counter", "text": TEXT}
        if "x" in states[k - 1]:
            body["interventions"] = WHAT_IFS[states[k - 1]["x"]]
        layer = api_run(page, body)["layers"][0]
        t, unit = int(states[k - 1]["t"]), int(states[k - 1]["unit"])
        quoted = page.locator('#tour .tour-num[data-source="readout"]')
        assert quoted.count() >= 1, f"step {k} quotes no live number"
        for n in range(quoted.count()):
            gate = quoted.nth(n).get_attribute("data-gate")
            shown = page.locator(f'#selection-text dd[data-gate="{gate}"]').inner_text()
            assert quoted.nth(n).inner_text() == shown == f"{layer[gate][t][unit]:.4f}", (k, gate)
        view_shot(page, f"tour-{k}-1280")
        if k < STEPS:
            page.locator("#tour").get_by_role("button", name="Next").click()
    assert page.locator("#tour .tour-next").inner_text() == "Finish"
    page.keyboard.press("Escape")
    assert page.locator("#tour").count() == 0
    assert page.evaluate("document.body.dataset.tourStep") is None
    assert not page.errors  # type: ignore[attr-defined]


def test_the_forget_gate_numbers_are_the_ones_the_learner_is_told(page: Page) -> None:
    start_from_invitation(page)
    page.locator("#tour .tour-next").click()
    wait_step(page, 2)
    words = page.locator("#tour-body").inner_text()
    assert "f = 0.0000" in words and "c = 0.0002" in words and "3.9994" in words, words
    for _ in range(2):
        page.locator("#tour .tour-next").click()
    wait_step(page, 4)
    words = page.locator("#tour-body").inner_text()
    assert "−20.00" in words and "10.00" in words and "= −10.00" in words, words
    page.locator("#tour .tour-next").click()
    wait_step(page, 5)
    words = page.locator("#tour-body").inner_text()
    assert "f = 0.5000" in words and "7.9984" in words, words
    assert page.locator("#what-if-banner").is_visible()
    if page.locator("#tab-step").count():  # the step view draws σ's curve: the tour points at it
        page.locator(".tour-target .curve-svg").wait_for()
        assert "The outlined curve is σ." in page.locator("#tour-body").inner_text()


def test_escape_ends_the_tour_removes_its_what_if_and_is_remembered(page: Page) -> None:
    start_from_invitation(page)
    for k in range(2, 6):
        page.locator("#tour .tour-next").click()
        wait_step(page, k)
    assert query_of(page)["x"] == ["fb-10"]
    before = int(page.evaluate("Number(document.body.dataset.settled)"))
    page.keyboard.press("Escape")
    assert page.locator("#tour").count() == 0
    assert page.locator(".tour-target, .tour-also").count() == 0
    page.wait_for_function(f"Number(document.body.dataset.settled) > {before}")
    query = query_of(page)
    assert "x" not in query, "the tour's what-if outlives it"
    assert query["t"] == ["7"] and query["unit"] == ["1"], "Escape ended the tour without unpinning"
    assert page.locator('#selection-text dd[data-gate="f"]').inner_text() == "1.0000"  # the model's own run
    assert page.evaluate("localStorage.getItem('gatescope.tour')") == "seen"
    page.goto(f"{page.base}/")  # type: ignore[attr-defined]
    wait_first_run(page)
    assert not invited(page)


def test_no_thanks_is_remembered(page: Page) -> None:
    page.goto(f"{page.base}/")  # type: ignore[attr-defined]
    page.locator(".tour-invite").get_by_role("button", name="No thanks").click()
    assert page.locator(".tour-invite").count() == 0
    page.reload()
    wait_first_run(page)
    assert not invited(page)


def test_a_shared_view_is_never_interrupted_and_the_tour_button_restarts(page: Page) -> None:
    open_page(page, "model=counter&text=" + quote("ab.ab"))
    assert not invited(page)
    link = page.request.post(
        f"{page.base}/api/links",  # type: ignore[attr-defined]
        data={"model": "counter", "text": "ab.ab"},
    ).json()
    page.goto(f"{page.base}{link['url']}")  # type: ignore[attr-defined]
    wait_first_run(page)
    assert not invited(page)
    page.get_by_role("button", name="Take the guided tour").click()
    wait_step(page, 1)
    assert query_of(page)["text"] == [TEXT]
    for k in (2, 3):
        page.locator("#tour .tour-next").click()
        wait_step(page, k)
    page.get_by_role("button", name="Take the guided tour").click()
    wait_step(page, 1)
    assert page.locator("#tour-title").inner_text() == "The cell state is a vector"


def test_the_keyboard_drives_the_tour_and_back_follows_the_history(page: Page) -> None:
    start_from_invitation(page)
    page.keyboard.press("Tab")  # from the popover to Next (Back is disabled on step 1)
    assert page.evaluate("document.activeElement.textContent") == "Next"
    page.keyboard.press("Enter")
    wait_step(page, 2)
    page.keyboard.press("ArrowRight")  # turns the page; the pinned cell moves only with the step
    wait_step(page, 3)
    assert query_of(page)["unit"] == ["3"]
    page.go_back()
    wait_step(page, 2)
    assert query_of(page)["unit"] == ["0"] and query_of(page)["t"] == ["8"]


def test_the_tour_fits_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as small:
        start_from_invitation(small)
        for k in range(1, STEPS + 1):
            wait_step(small, k)
            pop = small.locator("#tour").bounding_box()
            assert pop is not None
            fits = pop["x"] >= 0 and pop["x"] + pop["width"] <= 390 and pop["y"] + pop["height"] <= 844
            assert fits, (k, pop)
            assert pop["height"] <= 844 * 0.55, "the popover leaves most of the screen to the page"
            nxt = small.locator("#tour .tour-nav button").last.bounding_box()
            assert nxt is not None and nxt["y"] + nxt["height"] <= 844, "Next is in reach without scrolling"
            target = small.locator(".tour-target").bounding_box()
            assert target is not None and target["y"] < pop["y"] and target["y"] + target["height"] > 0, k
            assert_no_sideways_scroll(small)
            view_shot(small, f"tour-{k}-phone")
            if k < STEPS:
                small.locator("#tour .tour-next").click()
        small.locator("#tour .tour-next").click()  # Finish
        assert small.locator("#tour").count() == 0


def test_a_sentence_of_ones_own_ends_the_tour_and_keeps_the_what_if(page: Page) -> None:
    start_from_invitation(page)
    for k in range(2, STEPS + 1):
        page.locator("#tour .tour-next").click()
        wait_step(page, k)
    before = int(page.evaluate("Number(document.body.dataset.settled)"))
    page.locator("#sequence").fill("aa. a")
    page.wait_for_function(f"Number(document.body.dataset.settled) > {before}")
    page.wait_for_function("document.getElementById('tour') === null")
    assert query_of(page)["text"] == ["aa. a"] and query_of(page)["x"] == ["f1"]
    assert page.evaluate("document.activeElement.id") == "sequence", "the tour took the focus from the box"
