"""POST /api/analyze without HTTP: a character model run over a long text (app.engine.summary), and
its units' saturation, spread, correlations with the text's labels (app.service.labels) and the
passages where each is most active (app.service.passages), shaped as the answer.
No T × H array is kept or sent."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine import summary
from app.models import zoo
from app.refusal import Invalid
from app.service import labels as label_series
from app.service import passages
from app.service.limits import Limits
from app.service.requests import AnalyzeRequest
from app.service.resolve import find_model, one_hot, vocab_columns
from app.service.store import Store

TOP = 50  # correlations answered per layer, the strongest first


def check_length(text: str, s: Limits) -> None:
    if not text:
        raise Invalid("the text is empty: give at least one character", ["text"])
    if len(text) > s.max_analyze_steps:
        raise Invalid(
            f"the text has {len(text)} characters; the limit is {s.max_analyze_steps} "
            "(GATESCOPE_MAX_ANALYZE_STEPS)",
            ["text"],
            limit=s.max_analyze_steps,
        )


def analysable(m: zoo.Model) -> None:
    """Refused, in words, for models an analysis cannot summarise (yet)."""
    if m.vocab is None:
        what = "words" if m.words is not None else f"{m.input_size} number(s) per step"
        raise Invalid(
            f"model {m.id!r} reads {what}; an analysis reads a text character by character, so it "
            "takes character models only",
            ["model"],
        )
    if m.shape.directions == 2:
        raise Invalid(
            f"model {m.id!r} is bidirectional: its layer 1 reads both directions of layer 0 at every "
            "step, so the whole text's states would have to be held at once; an analysis runs a text "
            "in chunks and takes one-directional models only",
            ["model"],
        )


def analyze(req: AnalyzeRequest, s: Limits, models: Store | None = None) -> dict[str, Any]:
    """The whole /api/analyze answer, ready for orjson."""
    check_length(req.text, s)
    patterns = label_series.compile_patterns(req.patterns, s.max_patterns)
    m = find_model(req.model, s, models)
    analysable(m)
    assert m.vocab is not None
    cols = vocab_columns(req.text, m)  # (T,) indices; one-hot only a chunk at a time
    found = label_series.built_in(req.text)
    for k, pattern in enumerate(patterns):
        found.add(
            f"pattern {k}: {req.patterns[k]}",
            label_series.matches(pattern, k, req.text, s.pattern_timeout_seconds),
        )
    used = label_series.Labels(skipped=list(found.skipped))
    for name, y in zip(found.names, found.series, strict=True):
        if np.ptp(y) == 0:  # r is undefined for a series that never changes
            used.skipped.append(f"label {name!r} is the same at every character: it correlates with nothing")
        else:
            used.add(name, y)
    size = len(m.vocab)
    summaries = summary.summarise(
        m.weights,
        lambda start, stop: one_hot(cols[start:stop], size),
        len(cols),
        used.matrix(len(cols)),
        m.gate_activation,
        m.reverse,
    )
    return {
        "model": m.id,
        "steps": len(cols),
        "layers": [_layer(sm, used.names, req.text) for sm in summaries],
        "labels": used.names,
        "skipped": used.skipped,
    }


def _layer(sm: summary.Summary, names: list[str], text: str) -> dict[str, Any]:
    return {
        "direction": sm.direction,
        "saturation": {
            g: {side: sm.fraction(side, g).tolist() for side in ("left", "right")} for g in summary.SATURATING
        },
        "stats": {st: {"mean": sm.mean(st).tolist(), "std": sm.std(st).tolist()} for st in summary.STATES},
        "correlations": ranked(sm, names),
        "passages": passages.passages(sm, text),
    }


def ranked(sm: summary.Summary, names: list[str], top: int = TOP) -> list[dict[str, Any]]:
    """The `top` strongest correlations of any unit's c or h with any label, by |r|."""
    rows: list[tuple[float, int, str, int]] = []
    for state in summary.STATES:
        r = sm.correlation(state)  # (L, H), NaN where undefined
        for label, unit in zip(*np.nonzero(np.isfinite(r)), strict=True):
            rows.append((float(r[label, unit]), int(unit), state, int(label)))
    rows.sort(key=lambda row: (-abs(row[0]), row[1], row[2], row[3]))
    return [{"unit": u, "array": st, "label": names[lab], "r": r} for r, u, st, lab in rows[:top]]
