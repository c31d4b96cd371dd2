"""The page, a share link and the API docs work under the app's own Content-Security-Policy, in a
real Chromium that enforces it (the other browser tests bypass it: see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page


@pytest.fixture
def strict(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=False)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    page.base = live_server  # type: ignore[attr-defined]
    yield page
    context.close()


def settled(page: Page) -> None:
    # a locator, not wait_for_function: Playwright evals a string predicate, which the policy forbids
    page.locator("body[data-settled]").wait_for()


def test_the_page_runs_and_draws_under_its_policy(strict: Page) -> None:
    response = strict.goto(f"{strict.base}/?model=counter&text=ab.ab")  # type: ignore[attr-defined]
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    settled(strict)
    drawn = strict.evaluate(
        "() => [...document.querySelectorAll('canvas.heat')].filter(c => c.width > 0).length"
    )
    assert drawn >= 6
    strict.locator("canvas.heat").first.hover()  # the tooltip is placed through element.style
    strict.wait_for_timeout(200)
    assert strict.errors == []  # type: ignore[attr-defined]


def test_a_share_link_opens_under_its_policy(strict: Page) -> None:
    made = strict.request.post(
        f"{strict.base}/api/links",  # type: ignore[attr-defined]
        data={"model": "counter", "text": "ab. ab", "t": 2, "unit": 1},
    )
    assert made.ok, made.text()
    strict.goto(f"{strict.base}{made.json()['url']}")  # type: ignore[attr-defined]
    settled(strict)
    assert strict.errors == []  # type: ignore[attr-defined]


def test_the_api_docs_load_under_their_policy(strict: Page) -> None:
    strict.goto(f"{strict.base}/docs")  # type: ignore[attr-defined]
    strict.get_by_text("/api/run").first.wait_for()
    assert strict.errors == []  # type: ignore[attr-defined]
