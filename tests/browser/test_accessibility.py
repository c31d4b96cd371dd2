"""An accessibility audit of the page in a real Chromium: axe-core (npm, pinned in package-lock.json,
installed by `make test`'s npm ci; never a CDN) runs with every explanation view open, with the
upload panel, the model card, the equations and the tour open, with an analysis and a comparison
drawn, a refusal shown and a cell hovered or tapped, at 1280 × 800 and on a 390 × 844 phone, for
a built-in text model (python-chars) and for counter. No violation of impact serious or critical
may remain; the minor and moderate ones are listed too, but only when it fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.helpers import PHONE, ROOT, open_page, phone

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
MODELS = {"python-chars": "def f(x):\n    return x + 1\n", "counter": "ab.ab"}
VIEWS = ["step", "update", "memory", "unit", "weights", "text", "whatif", "find", "analyze", "compare"]
DESKTOP = {"width": 1280, "height": 800}


def audit(page: Page) -> list[dict]:
    """axe's violations on the page as it is now, each rule with its impact and its nodes."""
    if not page.evaluate("typeof window.axe === 'object'"):
        if not AXE.exists():
            pytest.fail(f"{AXE} is missing: `make test` installs axe-core with npm ci (package.json)")
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({"
        "id: v.id, impact: v.impact, help: v.help,"
        "nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))"
    )


def assert_accessible(page: Page, where: str) -> None:
    violations = audit(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    if blocking:
        lines = [f"{where}: {len(blocking)} serious or critical axe rule(s) broken"]
        for v in violations:  # the minor and moderate ones too, to fix in the same pass
            lines.append(f"- {v['id']} ({v['impact']}, {len(v['nodes'])} node(s)): {v['help']}")
            lines += [f"    {n['target']}: {n['summary']}" for n in v["nodes"][:5]]
        pytest.fail("\n".join(lines), pytrace=False)


def settle(page: Page) -> None:
    """Wait until the view has fetched and drawn what it asked for (weights, comparisons…)."""
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def query(model: str, view: str | None = None) -> str:
    q = f"model={model}&text={quote(MODELS[model])}&layer=0&t=1&unit=0"
    return q + (f"&view={view}" if view else "")


def skip_tour(page: Page) -> None:
    """The invitation to the tour is audited on its own (test_the_tour_is_accessible)."""
    page.add_init_script("window.localStorage.setItem('gatescope.tour', 'seen')")


def open_upload(page: Page) -> None:
    page.locator("#upload > summary").click()


def open_card(page: Page) -> None:
    page.locator("#model-card > summary").click()


def open_equations(page: Page) -> None:
    page.locator("details.equations > summary").click()


def draw_analysis(page: Page) -> None:
    page.fill("#analyze-text", "for x in range(3):\n    print('x', x)\n")
    page.click("#analyze-run")
    page.wait_for_selector(".analyze-results")


def draw_comparison(page: Page) -> None:
    page.wait_for_selector('.compare-runs[data-ready="true"]')


def show_refusal(page: Page) -> None:
    page.fill("#sequence", "ab<")
    page.locator("#error").wait_for(state="visible")


def hover_a_cell(page: Page) -> None:
    """The tooltip and the readout of a hovered cell (a tap on a phone pins it and says why)."""
    cell = page.locator('.panel[data-gate="c"] canvas.heat').first
    if page.viewport_size == PHONE:
        before = page.evaluate("location.search")
        cell.tap()
        page.wait_for_function(f"location.search !== {json.dumps(before)}")
    else:
        cell.hover()
        page.locator("#tooltip").wait_for(state="visible")


def check_views(page: Page, where: str) -> None:
    for model in MODELS:
        for view in VIEWS:
            open_page(page, query(model, view))
            settle(page)
            assert_accessible(page, f"{where}, {model}, view {view}")


def test_every_view_is_accessible_at_1280(page: Page) -> None:
    skip_tour(page)
    check_views(page, "1280 × 800")


def test_every_view_is_accessible_on_a_phone(browser: Browser, live_server: str) -> None:
    with phone(browser, live_server) as pg:
        skip_tour(pg)
        check_views(pg, f"{PHONE['width']} × {PHONE['height']}")


PANELS: dict[str, tuple[str, Callable[[Page], None]]] = {
    "upload panel": ("counter", open_upload),
    "model card": ("python-chars", open_card),
    "equations": ("counter", open_equations),
    "analysis": ("python-chars", draw_analysis),
    "comparison": ("counter", draw_comparison),
    "refusal": ("counter", show_refusal),
    "hovered cell": ("python-chars", hover_a_cell),
}


@pytest.mark.parametrize("size", ["1280", "phone"])
@pytest.mark.parametrize("panel", PANELS)
def test_the_panels_are_accessible_open(browser: Browser, live_server: str, panel: str, size: str) -> None:
    model, open_it = PANELS[panel]
    view = {"analysis": "analyze", "comparison": "compare"}.get(panel)
    viewport = DESKTOP if size == "1280" else PHONE
    context = browser.new_context(viewport=viewport, is_mobile=size == "phone", has_touch=size == "phone")
    try:
        pg = context.new_page()
        pg.base = live_server  # type: ignore[attr-defined]
        skip_tour(pg)
        q = query(model, view) + ("&model2=latch" if panel == "comparison" else "")
        open_page(pg, q)
        open_it(pg)
        settle(pg)
        assert_accessible(pg, f"{size}, {model}, {panel} open")
    finally:
        context.close()


@pytest.mark.parametrize("size", ["1280", "phone"])
def test_the_tour_is_accessible(browser: Browser, live_server: str, size: str) -> None:
    """The invitation, then each of the tour's steps with its popover open."""
    viewport = DESKTOP if size == "1280" else PHONE
    context = browser.new_context(viewport=viewport, is_mobile=size == "phone", has_touch=size == "phone")
    try:
        pg = context.new_page()
        pg.goto(f"{live_server}/")
        invite = pg.locator(".tour-invite")
        invite.wait_for()
        settle(pg)
        assert_accessible(pg, f"{size}, the tour's invitation")
        invite.get_by_role("button", name="Start the tour").click()
        step = 1
        while True:
            pg.wait_for_function(
                f"document.body.dataset.tourStep === '{step}' && document.getElementById('tour')"
                " && !document.getElementById('tour').hasAttribute('aria-busy')"
            )
            settle(pg)
            assert_accessible(pg, f"{size}, tour step {step}")
            button = pg.locator("#tour .tour-next")
            if button.inner_text() == "Finish":
                break
            button.click()
            step += 1
    finally:
        context.close()


def test_axe_is_served_from_node_modules_not_a_cdn() -> None:
    """The audit needs no network: axe-core is the version package-lock.json pins."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/axe-core"]["version"]
    assert json.loads((ROOT / "package.json").read_text())["devDependencies"]["axe-core"] == pinned
    assert Path(AXE).exists(), "npm ci installs node_modules/axe-core"
    assert f"axe v{pinned}" in AXE.read_text()[:200]
