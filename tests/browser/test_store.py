"""The page's store in a real Chromium: the tour drives the page through it (never a synthetic
Back), and a run shown before is drawn again from the page's cache of runs, without the server."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, Request

from tests.browser.helpers import all_pixels, open_page, query_of, runs, wait_next_run
from tests.browser.test_tour import STEPS, start_from_invitation, wait_step

pytestmark = pytest.mark.browser

# Counts the popstate events the page's window sees, from before any of the page's scripts run.
COUNT_POPSTATES = "window.popstates = 0; window.addEventListener('popstate', () => window.popstates++, true);"


def run_requests(page: Page) -> list[Request]:
    asked: list[Request] = []
    page.on("request", lambda r: asked.append(r) if r.url.endswith("/api/run") else None)
    return asked


def test_the_tour_moves_the_page_without_a_single_popstate(page: Page) -> None:
    page.add_init_script(COUNT_POPSTATES)
    start_from_invitation(page)
    for k in range(2, STEPS + 1):
        page.locator("#tour .tour-next").click()
        wait_step(page, k)
    assert query_of(page)["x"] == ["f1"]  # the last step's view is in the address bar
    assert page.evaluate("window.popstates") == 0
    # its steps are history entries all the same: Back returns to the step before
    before = runs(page)
    page.go_back()
    wait_next_run(page, before)
    wait_step(page, STEPS - 1)
    assert query_of(page)["x"] == ["fb-10"]
    assert page.evaluate("window.popstates") == 1  # the browser's own, for the Back above


def test_back_to_a_run_seen_before_draws_it_without_asking_the_server(page: Page) -> None:
    open_page(page, "model=counter&text=" + quote("a.a"))
    first = all_pixels(page)
    asked = run_requests(page)
    before = runs(page)
    page.fill("#sequence", "ab.ba")
    wait_next_run(page, before)
    assert len(asked) == 1 and query_of(page)["text"] == ["ab.ba"]
    before = runs(page)
    page.go_back()
    wait_next_run(page, before)
    assert page.input_value("#sequence") == "a.a"
    assert all_pixels(page) == first
    assert len(asked) == 1, [r.post_data for r in asked]  # no second request: the cache answered


# Two callers of one cached run: the first gives up, the second still gets its answer; when every
# caller has given up, the request itself is aborted.
SHARED_RUN = """async () => {
  const { cachedRun } = await import('/static/runs.js');
  const outcome = (p) => p.then((a) => 'answer ' + a.hidden_size, (e) => e.name);
  const first = new AbortController();
  const a = cachedRun({ model: 'counter', text: 'shared' }, first.signal);
  const b = cachedRun({ model: 'counter', text: 'shared' });
  first.abort();
  const both = [new AbortController(), new AbortController()];
  const c = cachedRun({ model: 'counter', text: 'nobody' }, both[0].signal);
  const d = cachedRun({ model: 'counter', text: 'nobody' }, both[1].signal);
  both[0].abort();
  both[1].abort();
  return Promise.all([outcome(a), outcome(b), outcome(c), outcome(d)]);
}"""


def test_one_caller_giving_up_a_shared_run_leaves_the_others_their_answer(page: Page) -> None:
    open_page(page, "model=counter&text=a")
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.post_data or ""))
    assert page.evaluate(SHARED_RUN) == ["AbortError", "answer 4", "AbortError", "AbortError"]
    page.wait_for_timeout(200)
    assert [body for body in failed if "nobody" in body]  # the request nobody waited for was aborted
    assert not [body for body in failed if "shared" in body]


def test_the_page_reads_every_whole_number_a_share_link_takes_and_no_other(page: Page) -> None:
    open_page(page, "model=counter&text=a")
    read = page.evaluate(
        "async (q) => { const { readUrl } = await import('/static/state.js'); return readUrl(q); }",
        "?t=1000000&from=999999&unit=1000001&top=0&layer=-1&span=1-2",
    )
    assert (read["t"], read["from"], read["unit"], read["top"], read["layer"]) == (
        1000000,
        999999,
        None,
        None,
        None,
    )
    assert read["span"] == "1-2"


BUSY = {"error": "the server is busy: no compute slot came free within 1 s", "loc": [], "retry_after": 1}


def test_a_busy_server_is_asked_again_after_its_retry_after_and_the_run_is_drawn(page: Page) -> None:
    answered: list[int] = []

    def busy_first(route) -> None:  # type: ignore[no-untyped-def]
        if not answered:
            answered.append(503)
            route.fulfill(status=503, headers={"Retry-After": "1"}, json=BUSY)
        else:
            answered.append(200)
            route.continue_()

    page.route("**/api/run", busy_first)
    open_page(page, "model=counter&text=a+cat.")
    assert answered == [503, 200]
    assert page.locator("#error").is_hidden()
    assert page.locator("canvas.heat").count() > 0


def test_a_server_busy_every_time_is_said_in_its_own_words_after_four_tries(page: Page) -> None:
    asked: list[float] = []

    def always_busy(route) -> None:  # type: ignore[no-untyped-def]
        asked.append(time.monotonic())
        route.fulfill(status=503, headers={"Retry-After": "1"}, json=BUSY)

    page.route("**/api/run", always_busy)
    open_page(page, "model=counter&text=a+cat.")
    assert len(asked) == 4
    assert all(b - a >= 0.9 for a, b in zip(asked, asked[1:], strict=False)), asked  # it waited as told
    assert "the server is busy" in page.locator("#error").inner_text()
