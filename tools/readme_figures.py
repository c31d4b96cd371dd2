"""The README's figures of python-chars, drawn by the page itself in Chromium: the text view of
unit 58 on ast.py's literal_eval (a file it never trained on) and the saturation figure of all of
ast.py (the Analyze view). Run from the repository: PYTHONPATH=. .venv/bin/python tools/readme_figures.py"""

import ast as astmod
import tempfile
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.sync_api import sync_playwright

from tests.servers import start_uvicorn, stop

src = Path(astmod.__file__).read_text()
proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": tempfile.mkdtemp()})
try:
    v = httpx.get(url + "/api/models/python-chars").json()["vocab"]
    lines = src.split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("def literal_eval"))
    snippet = "\n".join(lines[start : start + 26]) + "\n"
    snippet = "".join(ch for ch in snippet if ch in v)
    whole = "".join(ch for ch in src if ch in v)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        ctx = b.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
        pg = ctx.new_page()
        pg.add_init_script("localStorage.setItem('gatescope-tour-seen', '1')")
        pg.goto(f"{url}/?model=python-chars&text={quote(snippet)}&view=text&units=58&key=c")
        pg.wait_for_selector('.text-unit[data-unit="58"] .ch')
        pg.wait_for_timeout(500)
        pg.locator('.text-unit[data-unit="58"]').screenshot(path="app/static/img/text-unit58.png")
        pg.goto(f"{url}/?model=python-chars&text=x&view=analyze")
        pg.wait_for_selector("#analyze-text")
        pg.evaluate(
            "t => { const a = document.querySelector('#analyze-text'); a.value = t;"
            " a.dispatchEvent(new Event('input')); }",  # fill() of 61,000 characters takes far longer
            whole,
        )
        pg.click("#analyze-run")
        pg.wait_for_selector(".analyze-plots", timeout=120000)
        pg.wait_for_timeout(500)
        pg.locator(".analyze-plots").screenshot(path="app/static/img/saturation.png")
        print(len(snippet), len(whole), pg.locator(".analyze-results h4").inner_text())
        b.close()
finally:
    stop(proc)
