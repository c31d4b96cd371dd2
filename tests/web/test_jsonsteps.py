"""The body reader that counts steps as it reads answers what json.loads answers, and stops
reading a too-long "inputs" as soon as it is too long."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.web import jsonsteps

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)
BODIES = st.dictionaries(
    st.sampled_from(["inputs", "text", "model", "weights", "x"]) | st.text(max_size=6), VALUES, max_size=5
)


def outcome(read, text: str) -> object:
    try:
        return ("value", read(text))
    except json.JSONDecodeError as e:
        return ("error", e.msg, e.pos)
    except (ValueError, RecursionError) as e:
        return ("error", type(e).__name__, str(e))


def same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN equals NaN here


@settings(max_examples=400, deadline=None)
@given(BODIES, st.sampled_from([None, 0, 2]), st.sampled_from(["", " ", "\n\t "]))
def test_what_it_reads_is_what_json_loads_reads(body, indent, space) -> None:
    text = space + json.dumps(body, indent=indent) + space
    assert same(outcome(lambda t: jsonsteps.loads(t, 10**6), text), outcome(json.loads, text))


@pytest.mark.parametrize(
    "text",
    [
        '{"inputs": [[1], [2],]}',
        '{"inputs": [[1] [2]]}',
        '{"inputs": [[1], [2]]} x',
        '{"inputs": [[1], [2]',
        '{"inputs" [[1]]}',
        "{inputs: [[1]]}",
        '{"a": 1,}',
        "[[1], [2]]",
        '"inputs"',
        '{"inputs": [NaN, Infinity, -Infinity]}',
        '{"inputs": [[1e400], [123456789012345678901234567890]]}',
        '{"inputs": [[0]], "inputs": [[1], [2]]}',
        '{"text": "\\ud800", "inputs": ["\\udfff"]}',
        '{"inputs": [' + "[" * 5000 + "]" * 5000 + "]}",
        "{}",
        '{"inputs": []}',
        "",
    ],
)
def test_malformed_odd_and_deep_bodies_get_json_loads_own_answer(text: str) -> None:
    assert same(outcome(lambda t: jsonsteps.loads(t, 10**6), text), outcome(json.loads, text))


def test_a_too_long_inputs_is_refused_before_the_rest_of_the_body_is_read() -> None:
    steps = ",".join(["[0]"] * 2001)
    assert jsonsteps.loads('{"inputs": [' + ",".join(["[0]"] * 2000) + "]}", 2000)["inputs"] == [[0]] * 2000
    with pytest.raises(jsonsteps.TooManySteps):
        jsonsteps.loads('{"model": "gated-sum", "inputs": [' + steps + ", this is never read", 2000)
    with pytest.raises(json.JSONDecodeError):
        json.loads('{"model": "gated-sum", "inputs": [' + steps + ", this is never read")
