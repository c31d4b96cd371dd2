"""Share links: a page's view state, checked, its model pinned, stored under an id derived from it.

The state has the keys of the page's query string (static/spec.json's state keys). The id is the first 60
bits of SHA-256 over the state as canonical JSON, in base 32: the same state gives the same id,
so creating a link twice stores nothing new.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import keyword
import math
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, create_model, field_validator

from app.models import zoo
from app.refusal import Conflict, Full, Invalid, NotFound, Refusal, TooLarge
from app.service import limits, pins, preview, resolve, run, spec, trainings
from app.service.limits import Limits
from app.service.requests import RunRequest, validated
from app.service.resolve import Resolved
from app.service.store import Store
from app.service.whatifs import parse_interventions

LINK_ID = re.compile(r"[a-z2-7]{12}")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _field_name(key: str) -> str:
    return key + "_" if keyword.iskeyword(key) else key  # "from"


def _link_fields() -> dict[str, Any]:
    """LinkState's fields from static/spec.json's state keys, in the page's order: each key's type,
    its allowed values (a Literal), pattern, length or range, and its words for the API's schema."""
    fields: dict[str, Any] = {}
    for k in spec.STATE_KEYS:
        kind: Any = Literal[tuple(k["enum"])] if "enum" in k else {"string": str, "integer": int}[k["type"]]
        name = _field_name(k["key"])
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

    @field_validator(
        *(_field_name(k["key"]) for k in spec.STATE_KEYS if k["type"] == "integer"), mode="before"
    )
    @classmethod
    def _whole(cls, v: Any) -> Any:
        # JSON's 5.0 is the integer 5, as JSON Schema's "integer" says; strict mode alone refuses it.
        return int(v) if isinstance(v, float) and v.is_integer() else v


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
    body: dict[str, Any] = {"model": state["model"], "pin": state.get("pin"), "interventions": what_ifs}
    if m.reads_text:
        text = state.get("text")
        body["text"] = m.example if text is None else text
    else:
        typed = state.get("inputs")
        body["inputs"] = parse_inputs(m.example if typed is None else typed, m.input_size)
    return validated(RunRequest, body)  # typed numbers beyond ±1e6, or infinite: a 422 at the step


def shown_run(state: dict[str, Any], s: Limits, store: Store) -> tuple[RunRequest, Resolved]:
    """The run a stored link shows, resolved: its model looked up once."""
    m = resolve.find_model(state["model"], s, store, state.get("pin"))
    req = run_request(state, m)
    return req, resolve.resolve(req, s, store, model=m)


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
    """Check the state as the page would show it (its run, B's run in the compare view, the step,
    unit and layer it points at), pin its model, store it: {id, url, created, state}."""
    _check_unicode(state)
    for key, model_id in (("model", state.model), ("model2", state.model2)):
        if model_id and model_id.startswith(trainings.PREFIX):  # a link must outlive the training
            raise Invalid(
                f"{key}: {model_id!r} is a snapshot of a training, kept only while the training is: "
                "save it (POST /api/train/{id}/model) and share the saved model",
                [key],
            )
    m = resolve.find_model(state.model, s, store, state.pin)
    if m.reads_text and state.inputs is not None:
        raise Invalid(f"model {m.id!r} reads text: give 'text', not 'inputs'", ["inputs"])
    if not m.reads_text and state.text is not None:
        raise Invalid(f"model {m.id!r} reads numbers: give 'inputs', not 'text'", ["text"])
    req = run_request(state.model_dump(), m)
    try:  # B's what-ifs (compare view) read as x does
        parse_interventions(state.x2)
    except Refusal as e:
        raise Invalid("x2" + e.message.removeprefix("x"), ["x2"]) from None
    try:  # whatever a run would refuse, and what-ifs at a step, unit or layer the run does not have
        r = resolve.resolve(req, s, store, model=m)
    except resolve.WhatIfRefused as e:
        raise Invalid(f"x: what-if {e.index + 1}: {e.reason}", ["x"]) from None
    sequence = "text" if m.reads_text else "inputs"
    _check_answer(req, r, s, sequence)
    _check_pointed(state, r)
    _check_b(state, m, s, store)
    pinned = state.model_copy(update={"pin": state.pin or pins.keep(store, m)})
    kept = pinned.model_dump(exclude_none=True, by_alias=True)
    lid = link_id(kept)
    created = store.put_link(lid, kept)
    if not created and store.get_link(lid) != kept:  # 60 bits: never seen, but never overwrite
        raise Conflict(f"link id {lid!r} is taken by another state", [])
    return {"id": lid, "url": f"/l/{lid}", "created": created, "state": kept}


def _check_unicode(state: LinkState) -> None:
    """A lone surrogate (JSON's "\\ud800") is no character: it can be neither stored nor hashed."""
    for key, value in state.model_dump(by_alias=True).items():
        found = LONE_SURROGATE.search(value) if isinstance(value, str) else None
        if found is not None:
            raise Invalid(
                f"{key} holds a lone surrogate (U+{ord(found[0]):04X}) at position {found.start()}, "
                "which is not a character: send valid Unicode",
                [key, found.start()],
            )


def _check_answer(req: RunRequest, r: Resolved, s: Limits, key: str) -> None:
    """The run's answer within GATESCOPE_MAX_VALUES: else its run and preview would be refused forever."""
    try:
        limits.check_values(r.steps, r.shape, req, s)
    except Refusal as e:
        raise Invalid(e.message, [key], **e.extra) from None


def _check_pointed(state: LinkState, r: Resolved) -> None:
    """The step, unit and layer the link points at lie within its run."""
    bounds = (
        ("layer", state.layer, r.shape.entries, "the model's last layer"),
        ("t", state.t, r.steps, "the sequence's last step"),
        ("unit", state.unit, r.shape.hidden_size, "the model's last unit"),
    )
    for key, value, size, what in bounds:
        if value is not None and value >= size:
            raise Invalid(f"{key} {value} is beyond {what}, {size - 1}", [key], limit=size - 1)


def _check_b(state: LinkState, a: zoo.Model, s: Limits, store: Store) -> None:
    """The compare view's B (model2, text2, x2; each absent: A's) can be run, as the page runs it:
    B's own sequence, else A's when both read the same kind of input, else B's example."""
    if state.model2 is None and state.text2 is None and state.x2 is None:
        return
    same = state.model2 is None or state.model2 == state.model
    blame = "text2" if state.text2 is not None else "model2"  # who made B's sequence unreadable
    try:
        b = a if same else resolve.find_model(state.model2 or "", s, store)
    except Refusal as e:
        raise _as_b(e, "model2") from None
    typed = state.text2
    if typed is None and b.reads_text == a.reads_text:
        typed = state.text if a.reads_text else state.inputs
        typed = a.example if typed is None else typed
    b_state = {"model": b.id, "pin": state.pin if same else None, "x": state.x2}
    b_state["text" if b.reads_text else "inputs"] = typed
    try:
        req = run_request(b_state, b)
        r = resolve.resolve(req, s, store, model=b)
    except resolve.WhatIfRefused as e:
        raise Invalid(f"x2: what-if {e.index + 1}: {e.reason}", ["x2"]) from None
    except Refusal as e:
        raise _as_b(e, "x2" if e.loc[:1] == ["x"] else blame) from None
    _check_answer(req, r, s, blame)


def _as_b(e: Refusal, key: str) -> Refusal:
    """A refusal of B's run, said of the link's key for B: its loc moved onto `key` (a path inside
    B's sequence kept for text2), and a message that starts with the run's key starting with `key`."""
    old = e.loc[0] if e.loc else None
    message = e.message
    if isinstance(old, str) and message.startswith(old) and not message[len(old) : len(old) + 1].isalnum():
        message = key + message[len(old) :]
    return type(e)(message, [key, *(e.loc[1:] if key == "text2" else [])], **e.extra)


def find(lid: str, store: Store) -> dict[str, Any]:
    if not LINK_ID.fullmatch(lid):
        raise NotFound(f"no link {lid!r}: link ids are 12 characters, a–z and 2–7", ["id"])
    state = store.get_link(lid)
    if state is None:
        raise NotFound(f"no link {lid!r}", ["id"])
    return state


def title_of(model_id: str, store: Store) -> str:
    """A model's title, read without its weights: /l/<id> is a read that computes nothing."""
    if model_id in zoo.BUILT:
        return zoo.BUILT[model_id].title
    match = zoo.RANDOM_ID.fullmatch(model_id)
    if match is not None:
        return zoo.random_title(*(int(g) for g in match.groups()))
    info = store.get_info(model_id) if model_id.startswith("up-") else None
    return model_id if info is None else zoo.upload_title(info)


def shown(state: dict[str, Any], store: Store) -> tuple[str, str]:
    """The title and description a link preview shows (plain text: the template escapes it)."""
    title = title_of(state["model"], store)
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
    req, r = shown_run(state, s, store)
    _, traces = run.compute(req, s, resolved=r)
    trace = traces[min(state.get("layer") or 0, len(traces) - 1)]
    T, H = trace.h.shape
    t, unit = state.get("t"), state.get("unit")
    pinned = (t, unit) if t is not None and unit is not None and t < T and unit < H else None
    assert r.model is not None
    png = preview.render_preview(
        r.model.title,
        state.get("text") or state.get("inputs") or "",
        r.tokens,
        {k: getattr(trace, k) for k in "ifgoch"},
        pinned,
    )
    with contextlib.suppress(Full):  # a full store keeps no more previews: drawn again next time
        store.put_preview(link_id, png)
    return png
