"""static/spec.json in a real Chromium: the page reads typed numbers and what-ifs exactly as the
server does (the same strings, the same answers, the same words), since both read one grammar."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from app.refusal import Refusal
from app.service.links import parse_inputs
from app.service.whatifs import parse_interventions
from tests.browser.helpers import open_page

pytestmark = pytest.mark.browser

TYPED = [
    "1 2 3",
    "1,2;3 4",
    " 1 ; 2 \n 3,4 ",
    "+.5e3 -2. 7E-2",
    "1e400",
    "-1e309",
    "٣",
    "１ 2",
    "0x10",
    "Infinity",
    "1\ufeff2",
    "1\x1c2",
    "1\x852",
    "1\u00a02\u30003",
    "",
    " ; ",
    ", ,",
    "1;;2",
    "abc",
]
WHAT_IFS = [
    "f1",
    "fb1_f0.2t5u3l0",
    "ib-1_g-0.5u2",
    "o.5e-1l1",
    "fb-101",
    "g-1.5",
    "f١",
    "f1t1000000",
    "x1",
    "f1_",
    "_".join(["f0"] * 65),
    "F1",
    "f+1",
]

IN_PAGE = """async ([typed, whatIfs]) => {
  const { parseSteps } = await import('/static/inputs.js');
  const { parseInterventions } = await import('/static/interventions.js');
  const attempt = (f) => { try { return { ok: f() }; } catch (err) { return { error: err.message }; } };
  return {
    typed: typed.flatMap((s) => [1, 2].map((size) => attempt(() => parseSteps(s, size)))),
    whatIfs: whatIfs.map((s) => attempt(() => parseInterventions(s))),
  };
}"""


def server(f, *args):
    try:
        return {"ok": f(*args)}
    except Refusal as e:
        return {"error": e.message}


def test_the_page_and_the_server_read_the_same_strings_alike(page: Page) -> None:
    open_page(page, "model=counter&text=ab")
    got = page.evaluate(IN_PAGE, [TYPED, WHAT_IFS])
    typed = [server(parse_inputs, s, size) for s in TYPED for size in (1, 2)]
    what_ifs = [
        {"ok": [iv.model_dump(exclude_none=True) for iv in r["ok"]]} if "ok" in r else r
        for r in (server(parse_interventions, s) for s in WHAT_IFS)
    ]
    # through JSON, as numbers: the page's 1 is the server's 1.0
    assert json.loads(json.dumps(got["typed"])) == typed
    assert json.loads(json.dumps(got["whatIfs"])) == what_ifs
    assert sum("error" in r for r in typed) >= 10 and sum("error" in r for r in what_ifs) >= 6
