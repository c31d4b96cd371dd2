"""Share links: a page's view state, checked, its model pinned, stored under an id derived from it.

The state has the keys of the page's query string (static/spec.json's state keys). The id is the first 60
bits of SHA-256 over the state as canonical JSON, in base 32: the same state gives the same id,
so creating a link twice stores nothing new.
"""

from __future__ import annotations

import base64
import hashlib
import json
import keyword
import math
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, create_model

from app.engine import lstm
from app.models import zoo
from app.refusal import Conflict, Invalid, NotFound, Refusal, TooLarge
from app.service import pins, preview, run, spec
from app.service.limits import Limits
from app.service.requests import RunRequest
from app.service.store import Store
from app.service.whatifs import parse_interventions

LINK_ID = re.compile(r"[a-z2-7]{12}")


def _link_fields() -> dict[str, Any]:
    """LinkState's fields from static/spec.json's state keys, in the page's order: each key's type,
    its allowed values (a Literal), pattern, length or range, and its words for the API's schema."""
    fields: dict[str, Any] = {}
    for k in spec.STATE_KEYS:
        kind: Any = Literal[tuple(k["enum"])] if "enum" in k else {"string": str, "integer": int}[k["type"]]
        name = k["key"] + "_" if keyword.iskeyword(k["key"]) else k["key"]  # "from"
        given = {
            "alias": k["key"] if name != k["key"] else None,
            "max_length": k.get("maxLength"),
            "pattern": k.get("pattern"),
            "ge": k.get("minimum"),
            "le": k.get("maximum"),
            "description": k.get("description"),
            "examples": k.get("examples"),
        }
        field = Field(... if k.get("required") else None, **{a: v for a, v in given.items() if v is not None})
        fields[name] = (kind if k.get("required") else kind | None, field)
    return fields


_LinkFields: Any = create_model(  # Any: mypy cannot see fields made at run time
    "LinkState",
    __config__=ConfigDict(extra="forbid", strict=True, populate_by_name=True),
    **_link_fields(),
)


class LinkState(_LinkFields):
    """A view: the page URL's query keys. Absent keys are the page's defaults."""

    if TYPE_CHECKING:  # the fields are the spec's, made at run time: mypy takes them as Any

        def __getattr__(self, name: str) -> Any: ...


def parse_inputs(typed: str, size: int) -> list[list[float]]:
    """A vector model's numbers as the page reads them (static/inputs.js, with static/spec.json's
    grammar): steps separated by ';' or new lines, numbers by commas or spaces; one line of a
    one-number model is one step each; a number is a finite decimal."""
    lines = [line for line in (spec.TRIM.sub("", s) for s in spec.STEPS.split(typed)) if line]
    steps = [[w for w in spec.NUMBERS.split(line) if w] for line in lines]
    if size == 1 and len(steps) == 1:
        steps = [[w] for w in steps[0]]
    for t, step in enumerate(steps):
        for word in step:
            if not spec.NUMBER.fullmatch(word) or not math.isfinite(float(word)):
                raise Invalid(f'step {t}: "{word}" is not a number', ["inputs"])
    return [[float(w) for w in step] for step in steps]


def run_request(state: dict[str, Any], m: zoo.Model) -> RunRequest:
    """The run a state shows, what-ifs included; without a sequence, the model's example, as on the page."""
    what_ifs = parse_interventions(state.get("x"))
    if m.vocab is not None:
        text = state.get("text")
        text = m.example if text is None else text
        return RunRequest(model=state["model"], pin=state.get("pin"), text=text, interventions=what_ifs)
    typed = state.get("inputs")
    inputs = parse_inputs(m.example if typed is None else typed, m.input_size)
    return RunRequest(model=state["model"], pin=state.get("pin"), inputs=inputs, interventions=what_ifs)


def link_id(state: dict[str, Any]) -> str:
    canonical = json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.b32encode(digest).decode()[:12].lower()


def check_size(raw: bytes, s: Limits) -> None:
    if len(raw) > s.max_link_bytes:
        raise TooLarge(
            f"the link's state is {len(raw)} bytes; the limit is {s.max_link_bytes} "
            "(GATESCOPE_MAX_LINK_BYTES)",
            [],
            limit=s.max_link_bytes,
        )


def create(state: LinkState, s: Limits, store: Store) -> dict[str, Any]:
    """Check the state as a run would, pin its model, store it: {id, url, created, state}."""
    m = run.find_model(state.model, s, store, state.pin)
    if m.vocab is not None and state.inputs is not None:
        raise Invalid(f"model {m.id!r} reads text: give 'text', not 'inputs'", ["inputs"])
    if m.vocab is None and state.text is not None:
        raise Invalid(f"model {m.id!r} reads numbers: give 'inputs', not 'text'", ["text"])
    req = run_request(state.model_dump(), m)
    try:  # B's what-ifs (compare view) read as x does
        parse_interventions(state.x2)
    except Refusal as e:
        raise Invalid("x2" + e.message.removeprefix("x"), ["x2"]) from None
    p = run.prepare(req, s, store)  # whatever a run would refuse
    try:  # and what-ifs at a step, unit or layer the run does not have
        ivs = [lstm.Intervention(**iv.model_dump()) for iv in req.interventions]
        lstm.check_interventions(ivs, p.x.shape[0], run.shape_of(p))
    except lstm.InterventionError as e:
        raise Invalid(f"x: what-if {e.index + 1}: {e.reason}", ["x"]) from None
    pinned = state.model_copy(update={"pin": state.pin or pins.keep(store, m)})
    kept = pinned.model_dump(exclude_none=True, by_alias=True)
    lid = link_id(kept)
    created = store.put_link(lid, kept)
    if not created and store.get_link(lid) != kept:  # 60 bits: never seen, but never overwrite
        raise Conflict(f"link id {lid!r} is taken by another state", [])
    return {"id": lid, "url": f"/l/{lid}", "created": created, "state": kept}


def find(lid: str, store: Store) -> dict[str, Any]:
    if not LINK_ID.fullmatch(lid):
        raise NotFound(f"no link {lid!r}: link ids are 12 characters, a–z and 2–7", ["id"])
    state = store.get_link(lid)
    if state is None:
        raise NotFound(f"no link {lid!r}", ["id"])
    return state


def shown(state: dict[str, Any], s: Limits, store: Store) -> tuple[str, str]:
    """The title and description a link preview shows (plain text: the template escapes it)."""
    try:
        title = run.find_model(state["model"], s, store, state.get("pin")).title
    except Refusal:
        title = state["model"]
    sequence: str = state.get("text") or state.get("inputs") or ""
    shown = sequence.replace("\n", " ⏎ ")
    shown = shown if len(shown) <= 80 else shown[:79] + "…"
    return (
        f"{title} — Gatescope",
        f"“{shown}”: every gate of a real LSTM (forget, input, candidate, output, cell and hidden "
        "state), step by step, as heatmaps.",
    )


def preview_png(link_id: str, s: Limits, store: Store) -> bytes:
    """The link's preview image: drawn on the first request, then kept beside the link."""
    state = find(link_id, store)
    png = store.get_preview(link_id)
    if png is not None:
        return png
    m = run.find_model(state["model"], s, store, state.get("pin"))
    p, traces = run.compute(run_request(state, m), s, store)
    trace = traces[min(state.get("layer") or 0, len(traces) - 1)]
    T, H = trace.h.shape
    t, unit = state.get("t"), state.get("unit")
    pinned = (t, unit) if t is not None and unit is not None and t < T and unit < H else None
    png = preview.render_preview(
        m.title,
        state.get("text") or state.get("inputs") or "",
        p.tokens,
        {k: getattr(trace, k) for k in "ifgoch"},
        pinned,
    )
    store.put_preview(link_id, png)
    return png
