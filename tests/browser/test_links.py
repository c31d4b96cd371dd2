"""Share links in the browser: the Share button, the short link's page, its preview tags, and the
friendly page of a link that does not exist."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
from playwright.sync_api import Browser, Page

from tests.browser.helpers import all_pixels, open_page, query_of, runs, shoot, wait_first_run, wait_next_run


def share(page: Page) -> str:
    page.click("#share")
    page.locator("#shared a").wait_for()
    return page.locator("#shared a").inner_text()


def test_share_copies_a_short_link_that_shows_the_same_view_elsewhere(
    browser: Browser, live_server: str
) -> None:
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    other = browser.new_context(viewport={"width": 900, "height": 700})
    try:
        pg = context.new_page()
        pg.base = live_server  # type: ignore[attr-defined]
        open_page(pg, "model=reset-count&text=" + quote("ab.aab") + "&layer=0&t=4&unit=2")
        link = share(pg)
        assert re.fullmatch(rf"{live_server}/l/[a-z2-7]{{12}}", link)
        assert "Copied" in pg.locator("#shared").inner_text()
        assert pg.evaluate("navigator.clipboard.readText()") == link
        assert query_of(pg)["text"] == ["ab.aab"]  # sharing leaves the page where it was
        shoot(pg, "shared")

        fresh = other.new_page()
        fresh.goto(link)
        wait_first_run(fresh)
        assert fresh.url == link  # the short address stays until the view changes
        assert fresh.input_value("#sequence") == "ab.aab"
        assert all_pixels(fresh) == all_pixels(pg)
        assert "unit 2" in fresh.locator("#selection-text").inner_text()
        assert fresh.title() == "Trained: Count with reset — Gatescope"
        shoot(fresh, "link-page")

        # a change on the link's page leads to the plain page, still pinned to the link's weights
        before = runs(fresh)
        fresh.fill("#sequence", "ab.aabb")
        wait_next_run(fresh, before)
        fresh.wait_for_function("location.pathname === '/'")
        state = httpx.get(f"{live_server}/api/links/{link.rsplit('/', 1)[1]}").json()["state"]
        assert query_of(fresh)["pin"] == [state["pin"]] and query_of(fresh)["text"] == ["ab.aabb"]
        fresh.go_back()
        fresh.wait_for_function(f"location.href === {link!r}")
        fresh.wait_for_function("document.querySelector('#sequence').value === 'ab.aab'")
    finally:
        context.close()
        other.close()


def test_a_hostile_sequence_in_a_link_is_shown_as_text_and_never_run(page: Page, live_server: str) -> None:
    hostile = '"><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    answer = httpx.post(f"{live_server}/api/links", json={"model": "random-h8-l1-s0", "text": hostile}).json()
    page.goto(f"{live_server}{answer['url']}")
    wait_first_run(page)
    assert page.input_value("#sequence") == hostile
    assert page.evaluate("window.pwned === undefined")
    assert hostile in page.get_attribute('meta[property="og:description"]', "content")
    assert page.locator("img[src=x]").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]


def test_an_unknown_link_gets_a_page_that_leads_home(page: Page, live_server: str) -> None:
    response = page.goto(f"{live_server}/l/abcdefgh2345")
    assert response is not None and response.status == 404
    assert "This link leads nowhere" in page.locator("h2").inner_text()
    page.click("text=Open Gatescope")
    wait_first_run(page)
    assert page.input_value("#model") == "counter"
    shoot(page, "missing-link")


def test_a_view_and_its_what_ifs_are_shared_too(page: Page, live_server: str) -> None:
    open_page(page, "model=counter&text=" + quote("a cat. a banana.") + "&view=memory&from=2&x=f1")
    link = share(page)
    state = httpx.get(f"{live_server}/api/links/{link.rsplit('/', 1)[1]}").json()["state"]
    assert (state["view"], state["from"], state["x"]) == ("memory", 2, "f1")
    page.goto(link)
    wait_first_run(page)
    assert page.get_attribute("#tab-memory", "aria-selected") == "true"
    assert page.locator("#what-if-banner").is_visible()
