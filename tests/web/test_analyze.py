"""POST /api/analyze: a long text summarised per unit, its refusals in words with where, its limits,
and what the shipped python-chars shows on stdlib code it never trained on."""

from __future__ import annotations

import time

import numpy as np

from app.models import zoo
from app.refusal import Invalid
from app.service import analyze
from app.train import pychars

SNIPPET = 'def area(width, height=1):\n    """Width times height."""\n    return (width * height)  # w, h\n'


def refused(r, status: int, message: str, loc: list) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == message
    assert body["loc"] == loc
    return body


def test_the_answer_per_layer_and_unit(client):
    r = client.post(
        "/api/analyze", json={"model": "python-chars", "text": SNIPPET, "patterns": [r"\bwidth\b"]}
    )
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["model"] == "python-chars" and a["steps"] == len(SNIPPET)
    assert a["labels"] == [
        "position in line",
        "indentation",
        "bracket depth",
        "inside a string",
        "inside a comment",
        "position in word",
        "inside quotes",
        "pattern 0: \\bwidth\\b",
    ]
    assert a["skipped"] == []
    (layer,) = a["layers"]
    assert layer["direction"] == "forward"
    for gate in ("f", "i", "o"):
        for side in ("left", "right"):
            values = layer["saturation"][gate][side]
            assert len(values) == 128 and all(0 <= v <= 1 for v in values)
    for state in ("c", "h"):
        assert len(layer["stats"][state]["mean"]) == len(layer["stats"][state]["std"]) == 128
    corr = layer["correlations"]
    assert len(corr) == analyze.TOP
    assert [abs(c["r"]) for c in corr] == sorted((abs(c["r"]) for c in corr), reverse=True)
    assert {c["array"] for c in corr} <= {"c", "h"} and {c["label"] for c in corr} <= set(a["labels"])


def test_labels_that_do_not_apply_are_skipped_saying_why(client):
    r = client.post("/api/analyze", json={"model": "python-chars", "text": "She said (no, twice.\n"})
    a = r.json()
    assert a["labels"] == ["position in line", "position in word"]
    assert a["skipped"] == [
        "the Python labels: the text does not tokenize as Python (line 2): EOF in multi-line statement",
        "label 'inside quotes' is the same at every character: it correlates with nothing",
    ]
    assert {c["label"] for c in a["layers"][0]["correlations"]} == set(a["labels"])


def test_a_character_outside_the_vocabulary_is_refused_naming_it_and_where(client):
    r = client.post("/api/analyze", json={"model": "python-chars", "text": "x = 1\n\ty = 2\n"})
    body = refused(
        r,
        422,
        "character '\\t' (U+0009) at position 6 is not in the vocabulary of model 'python-chars'",
        ["text", 6],
    )
    assert body["position"] == 6 and body["character"] == "\t"


def test_a_text_over_the_limit_is_refused_and_one_over_the_runs_limit_is_not(make_client):
    c = make_client(max_analyze_steps=3000)
    refused(
        c.post("/api/analyze", json={"model": "python-chars", "text": "a" * 3001}),
        422,
        "the text has 3001 characters; the limit is 3000 (GATESCOPE_MAX_ANALYZE_STEPS)",
        ["text"],
    )
    # 2,500 characters: beyond GATESCOPE_MAX_STEPS (2,000), which /api/run keeps to
    ok = c.post("/api/analyze", json={"model": "python-chars", "text": "a = 1\n" * 416 + "b = 2"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["steps"] == 2501
    refused(
        c.post("/api/analyze", json={"model": "python-chars", "text": ""}),
        422,
        "the text is empty: give at least one character",
        ["text"],
    )


def test_the_body_limit_lets_a_long_text_through_to_analyze_only(make_client):
    c = make_client(max_body_bytes=1024, max_analyze_steps=5000)
    text = "x = (1, 2)\n" * 400  # 4,400 characters, over 1 KB
    assert c.post("/api/analyze", json={"model": "python-chars", "text": text}).status_code == 200
    r = c.post("/api/run", json={"model": "python-chars", "text": text[:1500]})
    assert r.status_code == 413 and "GATESCOPE_MAX_BODY_BYTES" in r.json()["error"]
    # beyond what the longest text needs, the refusal names the setting that raises it
    big = c.post(
        "/api/analyze",
        content=b'{"text": "' + b"\\u00e9" * 40_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413
    assert big.json()["error"].endswith("(GATESCOPE_MAX_ANALYZE_STEPS)")


def test_an_invalid_pattern_is_refused_with_the_regex_error(client):
    r = client.post(
        "/api/analyze", json={"model": "python-chars", "text": SNIPPET, "patterns": ["def", "(a"]}
    )
    refused(r, 422, "pattern 1 is not a regular expression: missing ) at position 2", ["patterns", 1])


def test_a_pattern_that_backtracks_without_end_is_refused_in_words(client):
    text = "a" * 40 + "!"
    start = time.perf_counter()
    r = client.post(
        "/api/analyze", json={"model": "python-chars", "text": text, "patterns": ["a+", "(a|aa)+$"]}
    )
    elapsed = time.perf_counter() - start
    body = refused(
        r,
        422,
        "pattern 1 took more than 0.5 s to match over the text (GATESCOPE_PATTERN_TIMEOUT_SECONDS): a "
        "pattern such as (a|aa)+$ can backtrack without end; simplify it",
        ["patterns", 1],
    )
    assert body["limit"] == 0.5
    assert elapsed < 30  # not the eons the pattern would take (measured: about 1 s)


def test_too_many_patterns_are_refused(make_client):
    c = make_client(max_patterns=2)
    r = c.post("/api/analyze", json={"model": "python-chars", "text": SNIPPET, "patterns": ["a", "b", "c"]})
    refused(r, 422, "3 patterns; the limit is 2 (GATESCOPE_MAX_PATTERNS)", ["patterns"])


def test_models_that_do_not_read_characters_are_refused(client):
    refused(
        client.post("/api/analyze", json={"model": "gated-sum", "text": "ab"}),
        422,
        "model 'gated-sum' reads 1 number(s) per step; an analysis reads a text character by character, "
        "so it takes character models only",
        ["model"],
    )
    r = client.post("/api/analyze", json={"model": "nope", "text": "ab"})
    assert r.status_code == 404 and r.json()["loc"] == ["model"]


def test_a_bidirectional_model_is_refused_in_words():
    m = zoo.get("counter")
    both = {**m.weights, **{f"{k}_reverse": v for k, v in m.weights.items()}}
    bidirectional = zoo.Model("two-way", "", "", "", both, vocab=m.vocab, input_size=m.input_size)
    try:
        analyze.analysable(bidirectional)
    except Invalid as e:
        assert e.message.startswith("model 'two-way' is bidirectional: its layer 1 reads both directions")
        assert e.loc == ["model"]
    else:
        raise AssertionError("a bidirectional model was analysed")


def test_python_chars_has_units_that_follow_indentation_and_bracket_depth_on_held_out_code(client):
    """ast.py is one of the files python-chars never trained on (pychars.HELD_OUT_FILES).
    Measured: unit 15's c follows bracket depth at r = 0.88, unit 69's c indentation at r = −0.76,
    unit 58's h the position in line at r = −0.81; 7 forget units right-saturated > 90 % of steps."""
    assert "ast.py" in pychars.HELD_OUT_FILES
    text = (pychars.stdlib() / "ast.py").read_text(encoding="utf-8")
    r = client.post("/api/analyze", json={"model": "python-chars", "text": text})
    assert r.status_code == 200, r.text
    (layer,) = r.json()["layers"]
    best = {}
    for c in layer["correlations"]:
        best.setdefault(c["label"], abs(c["r"]))
    assert best["bracket depth"] > 0.7
    assert best["indentation"] > 0.6
    assert best["position in line"] > 0.7
    assert np.sum(np.array(layer["saturation"]["f"]["right"]) > 0.9) >= 3


def test_each_units_passages_are_where_a_torch_lstm_puts_its_largest_h(client):
    """python-chars over 6,000 characters of held-out code (two chunks), against torch.nn.LSTM
    (float64) over the same one-hot text: each unit's first passage is at numpy's argmax of its
    |h| over the whole array, and all K peaks and values are those of the definition over it."""
    import torch

    from app.engine.peaks import RADIUS
    from app.service.resolve import one_hot, vocab_columns
    from tests.engine.test_peaks import direct_peaks

    text = (pychars.stdlib() / "textwrap.py").read_text(encoding="utf-8")[:6000]
    r = client.post("/api/analyze", json={"model": "python-chars", "text": text})
    assert r.status_code == 200, r.text
    (layer,) = r.json()["layers"]
    m = zoo.get("python-chars")
    net = torch.nn.LSTM(m.input_size, m.shape.hidden_size).double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in m.weights.items()})
    x = one_hot(vocab_columns(text, m), len(m.vocab))
    with torch.no_grad():
        h = net(torch.from_numpy(x))[0].numpy()  # (T, H)
    at, windows = direct_peaks(h)
    passages = layer["passages"]
    assert [p["unit"] for p in passages] == list(range(128)) and {p["array"] for p in passages} == {"h"}
    assert [p["windows"][0]["peak"] for p in passages] == np.abs(h).argmax(axis=0).tolist()
    for p in passages:
        u = p["unit"]
        assert [w["peak"] for w in p["windows"]] == [t for t in at[:, u] if t >= 0]
        for j, w in enumerate(p["windows"]):
            t, start, end = w["peak"], w["start"], w["end"]
            assert start <= t < end and len(w["values"]) == end - start
            # the window, ±40 characters, less the partial lines at its ends
            assert start == max(0, t - RADIUS) or text[start - 1] == "\n"
            assert end == min(len(text), t + RADIUS + 1) or text[end] == "\n"
            assert text.find("\n", max(0, t - RADIUS), t) in (-1, start - 1)  # the first break before t
            assert text.rfind("\n", t + 1, t + RADIUS + 1) in (-1, end)  # and the last after it
            np.testing.assert_allclose(w["values"], h[start:end, u], rtol=0, atol=5e-4 + 1e-9)
            assert w["values"][t - start] == round(float(windows[j, u, RADIUS]), 3)
