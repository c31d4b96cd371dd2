"""The Train view in a real Chromium: a training started from the page redraws the page's heatmaps
from its snapshots (one run in flight at a time), charts its loss and held-out accuracy, pauses,
steps, stops, saves (a model that opens by its own link), scrubs back to a snapshot, compares
forget bias 0 and 1, fits a phone, and stops when its page closes."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, Request

from tests.browser.helpers import (
    VIRIDIS,
    all_pixels,
    api_run,
    assert_no_sideways_scroll,
    lut,
    open_page,
    phone,
    pixel,
    query_of,
    runs,
    shoot,
    wait_first_run,
)

pytestmark = pytest.mark.browser

ENDED = ("finished", "stopped", "failed")
LOSS = '.train-chart path[data-series="loss-0"]'


def training_id(page: Page) -> str:
    page.wait_for_function("document.querySelector('.train-controls')?.dataset.training")
    return page.eval_on_selector(".train-controls", "e => e.dataset.training")


def training(page: Page, tid: str) -> dict:
    response = page.request.get(f"{page.base}/api/train/{tid}")  # type: ignore[attr-defined]
    assert response.ok, response.text()
    return response.json()


def wait_state(page: Page, tid: str, states: tuple[str, ...], seconds: float = 30) -> dict:
    """The training's state once it is one of `states` (a generous bound: a shared, slow machine)."""
    end = time.monotonic() + seconds
    while True:
        info = training(page, tid)
        if info["state"] in states or time.monotonic() > end:
            return info
        time.sleep(0.1)


def points(page: Page, selector: str = LOSS) -> int:
    found = page.query_selector(selector)
    return int(found.get_attribute("data-points")) if found else 0


def start(page: Page, *, steps: int, query: str = "model=counter&view=train") -> str:
    open_page(page, query)
    page.fill("#train-steps", str(steps))
    page.click("#train-start")
    return training_id(page)


class RunWatch:
    """The page's /api/run requests: their models, and the most in flight at once."""

    def __init__(self, page: Page):
        self.models: list[str] = []
        self.open = 0
        self.most = 0
        page.on("request", self.began)
        page.on("requestfinished", self.ended)
        page.on("requestfailed", self.ended)

    def began(self, request: Request) -> None:
        if request.url.endswith("/api/run") and request.method == "POST":
            self.models.append(json.loads(request.post_data or "{}").get("model", ""))
            self.open += 1
            self.most = max(self.most, self.open)

    def ended(self, request: Request) -> None:
        if request.url.endswith("/api/run") and request.method == "POST":
            self.open -= 1


def test_a_training_redraws_the_heatmaps_and_its_charts_then_pauses_steps_stops_and_saves(page: Page) -> None:
    watch = RunWatch(page)
    tid = start(page, steps=2000)
    page.wait_for_function(f"document.querySelector('{LOSS}')?.dataset.points >= 2")
    before_pixels, before_points = all_pixels(page), points(page)
    page.wait_for_function(f"document.querySelector('{LOSS}')?.dataset.points >= {before_points + 10}")
    # The training's snapshots are the page's model: its heatmaps change as it learns.
    page.wait_for_function(
        "document.querySelector('#train-status').textContent.includes('the page shows tr-')"
    )
    assert all_pixels(page) != before_pixels
    tr_runs = [m for m in watch.models if m.startswith("tr-")]
    assert len(set(tr_runs)) >= 3, tr_runs
    assert all(m.startswith(f"tr-{tid}-") for m in tr_runs)
    assert watch.most == 1  # never more than one run in flight
    # The URL keeps the page's own model and now holds the training's settings, never a tr- id.
    query = query_of(page)
    assert query["model"] == ["counter"] and query["task"] == ["reset-count"] and query["steps"] == ["2000"]
    assert (
        query["fb"] == ["1"]
        and query["decay"] == ["on"]
        and query["hidden"] == ["8"]
        and query["seed"] == ["0"]
    )
    # The words quote the first snapshot and the one shown.
    words = page.inner_text(".train-words")
    assert words.startswith("At step 0, f of unit ") and " at '.' is " in words and " at a letter " in words

    page.click("#train-pause")
    assert wait_state(page, tid, ("paused",))["state"] == "paused"
    page.wait_for_selector("#train-pause:text('Resume')")
    paused_at = training(page, tid)["step"]
    page.click("#train-step")  # one step, wherever between snapshots the pause fell, then a snapshot
    end = time.monotonic() + 30
    while training(page, tid)["step"] == paused_at and time.monotonic() < end:
        time.sleep(0.1)
    info = training(page, tid)
    stepped = info["step"]
    assert info["state"] == "paused" and paused_at < stepped <= paused_at + 10
    page.wait_for_function(
        f"document.querySelector('.train-scrub-label').textContent.startsWith('step {stepped} ')"
    )

    page.click("#train-stop")
    assert wait_state(page, tid, ENDED)["state"] == "stopped"
    page.wait_for_selector("#train-status:text('stopped')")
    # The newest snapshot drawn, Save keeps it as a model and the page switches to it.
    page.wait_for_function(
        f"document.querySelector('#train-status').textContent.includes('the page shows tr-{tid}-{stepped}')"
    )
    done = runs(page)
    page.click("#train-save")
    page.wait_for_function("new URLSearchParams(location.search).get('model')?.startsWith('up-')")
    page.wait_for_function(f"Number(document.body.dataset.settled) > {done}")
    saved = query_of(page)["model"][0]
    assert page.get_attribute("#train-saved", "href") == f"/?model={saved}"
    assert f"Saved step {stepped} as {saved}" in page.inner_text("#train-status")
    text = page.input_value("#sequence")
    # A fresh page at the saved model's link draws it: its f pixels are /api/run's values.
    fresh = page.context.new_page()
    fresh.goto(f"{page.base}/?model={saved}&text={quote(text)}")  # type: ignore[attr-defined]
    wait_first_run(fresh)
    exact = api_run(page, {"model": saved, "text": text})["layers"][0]["f"]
    table = lut(VIRIDIS)
    for t, u in ((0, 0), (len(text) - 1, 7), (5, 2)):
        want = table[round(exact[t][u] * 255)]
        got = pixel(fresh, "f", t, u)
        assert max(abs(int(a) - int(b)) for a, b in zip(got, want, strict=True)) <= 3, (t, u, got, want)
    assert all_pixels(fresh) == all_pixels(page)
    assert not page.errors  # type: ignore[attr-defined]


def test_scrubbing_shows_that_snapshots_model(page: Page) -> None:
    watch = RunWatch(page)
    tid = start(page, steps=300)
    assert wait_state(page, tid, ENDED)["state"] == "finished"
    page.wait_for_selector("#train-status:text('finished')")
    page.wait_for_function(
        "document.querySelector('.train-scrub-label').textContent.includes('31 snapshots received')"
    )
    # keys move the scrubber and let go of it at once: snapshot 10 is step 100
    page.focus("#train-scrub")
    page.keyboard.press("Home")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"document.querySelector('#train-status').textContent.includes('the page shows tr-{tid}-100')"
    )
    page.wait_for_function(
        "Number(document.body.dataset.settled) > 0 && !document.querySelector('#heatmaps[aria-busy]')"
    )
    assert watch.models[-1] == f"tr-{tid}-100"
    assert page.inner_text(".train-scrub-label").startswith("step 100 ")
    # the picker names the snapshot shown, as the API titles it, and keeps its id out of the URL
    title = page.request.get(f"{page.base}/api/models/tr-{tid}-100").json()["title"]  # type: ignore[attr-defined]
    assert title == "Training: Count with reset (at step 100 of 300)"
    picked = page.eval_on_selector(
        "#model", "s => { const o = s.selectedOptions[0]; return [o.textContent, o.disabled, s.value]; }"
    )
    assert picked == [title, True, ""]
    assert "tr-" not in page.url and query_of(page)["model"] == ["counter"]
    assert "; by step 100: " in page.inner_text(".train-words")
    # the chart marks the step shown
    assert page.query_selector(".train-chart .train-mark") is not None
    assert not page.errors  # type: ignore[attr-defined]


def test_comparing_forget_bias_0_and_1_draws_two_curves_and_two_figures(page: Page) -> None:
    open_page(page, "model=counter&view=train")
    page.fill("#train-steps", "400")
    page.click("#train-compare")
    page.wait_for_function("document.querySelectorAll('.train-reached li').length === 2", timeout=60000)
    tid = training_id(page)
    assert wait_state(page, tid, ENDED, 60)["state"] == "finished"
    page.wait_for_function(
        "[...document.querySelectorAll('.train-reached li')].every(li => !li.textContent.endsWith('yet'))"
    )
    assert points(page, '.train-chart path[data-series="loss-0"]') >= 30
    assert points(page, '.train-chart path[data-series="loss-1"]') >= 30
    assert points(page, '.train-chart path[data-series="accuracy-1"]') >= 8
    figures = page.eval_on_selector_all(".train-reached li", "ls => ls.map(l => l.textContent)")
    assert figures[0].startswith("forget bias 0: ") and figures[1].startswith("forget bias 1: ")
    for figure in figures:
        assert "99 % held-out accuracy at step " in figure or figure.endswith("99 % not reached"), figure
    shoot(page, "train-compare-1280x800")
    assert not page.errors  # type: ignore[attr-defined]


def test_a_link_with_settings_fills_them_and_waits_for_replay(page: Page) -> None:
    open_page(page, "model=counter&view=train&task=parity&hidden=5&seed=3&fb=0&decay=off&lr=0.01&steps=120")
    assert page.input_value("#train-task") == "parity"
    assert page.input_value("#train-hidden") == "5" and page.input_value("#train-seed") == "3"
    assert page.input_value("#train-fb") == "0" and not page.is_checked("#train-decay")
    assert page.input_value("#train-lr") == "0.01" and page.input_value("#train-steps") == "120"
    assert page.inner_text("#train-start") == "Replay this training"
    time.sleep(0.5)
    assert page.query_selector(".train-controls[data-training]") is None  # nothing started by itself
    assert "a restart of the server loses trainings in progress" in page.inner_text("#view-body")
    # the API's refusal, in its words
    page.fill("#train-hidden", "65")
    page.click("#train-start")
    page.wait_for_selector(".train-error")
    assert (
        page.inner_text(".train-error")
        == "hidden: 65; a training takes at most 64 (GATESCOPE_MAX_TRAIN_HIDDEN)"
    )


def test_the_preset_explains_from_the_measured_snapshots(page: Page) -> None:
    open_page(page, "model=counter&view=train")
    page.click("#train-preset")
    tid = training_id(page)
    page.wait_for_function(  # (several events may come between two looks: at least 11)
        "Number(document.querySelector('.train-scrub-label')?.textContent"
        ".match(/[(]([0-9]+) snapshots/)?.[1]) >= 11"
    )
    page.click("#train-stop")
    assert wait_state(page, tid, ENDED)["state"] == "stopped"
    info = training(page, tid)
    assert info["settings"]["steps"] == 4000 and info["settings"]["forget_bias"] == 1.0
    first = page.request.get(f"{page.base}/api/models/tr-{tid}-0")  # type: ignore[attr-defined]
    assert first.ok
    words = page.inner_text(".train-words")
    unit = int(words.split("f of unit ")[1].split(" ")[0])
    stream = page.request.get(f"{page.base}/api/train/{tid}/events")  # type: ignore[attr-defined]
    snap0 = json.loads(stream.text().split("event: snapshot\nid: 0\ndata: ")[1].split("\n")[0])
    at_dot, at_letter = snap0["gates"]["f"]["at '.'"][unit], snap0["gates"]["f"]["at a letter"][unit]
    assert words.startswith(
        f"At step 0, f of unit {unit} at '.' is {at_dot:.2f} and at a letter {at_letter:.2f}"
    )


def test_a_phone_can_train_and_closing_the_page_stops_it(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as page:
        tid = start(page, steps=5000)
        page.wait_for_function(f"document.querySelector('{LOSS}')?.dataset.points >= 5")
        assert_no_sideways_scroll(page)
        # the Train view's buttons come before the heatmaps they redraw, within the first screen
        start_box = page.locator("#train-start").bounding_box()
        heatmaps = page.locator("#heatmaps").bounding_box()
        assert start_box and heatmaps and start_box["y"] < heatmaps["y"], (start_box, heatmaps)
        assert start_box["y"] + start_box["height"] < 844 + page.evaluate("scrollY"), start_box
        shoot(page, "train-390x844")
        page.close()
        probe = browser.new_context().new_page()
        probe.base = live_server  # type: ignore[attr-defined]
        assert wait_state(probe, tid, ENDED, 10)["state"] == "stopped"
        probe.context.close()


def test_the_view_at_1280x800_while_training(page: Page) -> None:
    tid = start(page, steps=3000)
    page.wait_for_function(f"document.querySelector('{LOSS}')?.dataset.points >= 40")
    shoot(page, "train-1280x800")
    # the buttons and the unit's choice are the same elements snapshot after snapshot: a click,
    # or an open menu, is never lost to a redraw
    page.evaluate("window.kept = ['#train-stop', '#train-unit'].map((s) => document.querySelector(s))")
    drawn = runs(page)
    page.wait_for_function(f"Number(document.body.dataset.settled) >= {drawn + 5}")
    assert page.evaluate(
        "window.kept.map((e) => e.isConnected && document.querySelector('#' + e.id) === e)"
    ) == [
        True,
        True,
    ]
    page.click("#train-stop")
    assert wait_state(page, tid, ENDED)["state"] == "stopped"
