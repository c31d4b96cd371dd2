"""Browser fixtures: one live uvicorn on 127.0.0.1 and one Debian Chromium for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.servers import start_uvicorn, stop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # These tests are about the page, not the queue (tests/web/test_compute.py): on a shared, slow
    # machine a run can take longer than the 1 s a computation waits for its slot by default. And
    # every page comes from 127.0.0.1: the per-address limits (tests/web/test_ratelimit.py,
    # test_train.py) are lifted, or a test would meet the analyses or trainings of those before it.
    env = {
        "GATESCOPE_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "GATESCOPE_COMPUTE_DEADLINE_SECONDS": "30",
        "GATESCOPE_ANALYSES_PER_MINUTE": "100000",
        "GATESCOPE_LINKS_PER_MINUTE": "100000",
        "GATESCOPE_UPLOADS_PER_MINUTE": "100000",
        "GATESCOPE_STORE_BYTES_PER_CLIENT": str(1 << 40),
        "GATESCOPE_TRAININGS_PER_CLIENT": "2",
    }
    proc, url = start_uvicorn(env)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        # Playwright evaluates string predicates (wait_for_function) with eval in the page, which
        # the app's Content-Security-Policy forbids: every context bypasses it unless it says
        # bypass_csp=False. The page under its policy: test_csp.py.
        new_context = b.new_context
        b.new_context = lambda **kw: new_context(**{"bypass_csp": True, **kw})  # type: ignore[method-assign]
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh browser context (no shared storage) with console errors collected in page.errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors  # type: ignore[attr-defined]
    pg.base = live_server  # type: ignore[attr-defined]
    yield pg
    context.close()
