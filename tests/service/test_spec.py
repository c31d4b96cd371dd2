"""static/spec.json: the one file of encodings the page and the server both read. Here, the server's
side: typed inputs and what-ifs read with the spec's grammar (the page's, number for number and
word for word; tests/browser/test_spec.py runs both on the same strings), share links that take the
spec's keys, and the preview's colours from the spec's stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.refusal import Invalid
from app.service import links, palette, spec

SPEC = json.loads((Path(__file__).resolve().parents[2] / "app" / "static" / "spec.json").read_text())


@pytest.mark.parametrize("word", ["1e400", "-1e309", "٣", "１", "0x10", "Infinity", "nan"])
def test_typed_numbers_the_page_refuses_the_server_refuses_too(word: str) -> None:
    """The page reads a number with spec.json's decimal grammar and refuses what is not finite; the
    server did not (Python's \\d takes other scripts' digits, float() takes 1e400 as inf)."""
    with pytest.raises(Invalid) as refused:
        links.parse_inputs(f"1 {word}", 1)
    assert refused.value.message == f'step 1: "{word}" is not a number'
    assert refused.value.loc == ["inputs"]


def test_a_link_to_an_infinite_input_is_refused_in_words(client: TestClient) -> None:
    r = client.post("/api/links", json={"model": "gated-sum", "inputs": "1 0; 1e400 1"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == 'step 1: "1e400" is not a number'
    assert r.json()["loc"] == ["inputs"]


def test_spaces_are_the_same_set_on_both_sides() -> None:
    """JavaScript's \\s and Python's \\s differ (U+FEFF, U+001C–U+001F, U+0085): the spec names its
    spaces, so both read these as separators."""
    for space in ["\ufeff", "\x1c", "\x85", "\u00a0", "\u3000"]:
        assert links.parse_inputs(f"1{space}2", 1) == [[1.0], [2.0]], repr(space)


def test_a_share_link_takes_exactly_the_specs_keys() -> None:
    keys = [k["key"] for k in SPEC["state"]["keys"]]
    assert [f.alias or name for name, f in links.LinkState.model_fields.items()] == keys
    state = links.LinkState.model_validate({"model": "counter", "from": 3, "gate": "i"})
    assert state.model_dump(exclude_none=True, by_alias=True) == {"model": "counter", "from": 3, "gate": "i"}


def test_the_server_reads_the_spec_from_the_package() -> None:
    assert spec.PATH.parent.name == "static" and spec.SPEC == SPEC
    assert palette.VIRIDIS == tuple(SPEC["colours"]["sequential"])
    assert [p.key for p in palette.PANELS] == [p["key"] for p in SPEC["panels"]["list"]]
