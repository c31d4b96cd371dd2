"""Share links: a page's view state, checked, its model pinned, stored under an id derived from it.

The state has the keys of the page's query string (see static/state.js). The id is the first 60
bits of SHA-256 over the state as canonical JSON, in base 32: the same state gives the same id,
so creating a link twice stores nothing new.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app import lstm, pins, run, zoo
from app.errors import ApiError
from app.schemas import RunRequest
from app.settings import Settings
from app.store import Store
from app.whatifs import parse_interventions

LINK_ID = re.compile(r"[a-z2-7]{12}")
Index = Field(None, ge=0, le=1_000_000)


class LinkState(BaseModel):
    """A view: the page URL's query keys. Absent keys are the page's defaults."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    model: str = Field(max_length=200, examples=["counter"])
    pin: str | None = Field(
        None, pattern=r"^[0-9a-f]{32}$",
        description="the model's version; absent: the current one, which the link then pins",
    )
    text: str | None = Field(None, description="a text model's sequence, as typed")
    inputs: str | None = Field(None, description="a vector model's numbers, as typed in the page")
    layer: int | None = Index
    t: int | None = Index
    unit: int | None = Index
    x: str | None = Field(
        None, description="what-ifs applied to the run, as the page writes them: f1 (f ≡ 1), fb1 (f's "
        "bias + 1), f0.2t5u3l0 (f = 0.2 at step 5, unit 3, layer 0), several joined by '_'",
        examples=["f1", "fb1_f0.2t5u3l0"],
    )
    # How the page shows the run (static/state.js): kept as given, read by the page alone.
    view: str | None = Field(None, pattern=r"^[a-z]{1,20}$", description="the explanation view shown")
    gate: Literal["i", "f", "g", "o"] | None = Field(None, description="step view: the gate charted")
    from_: int | None = Field(None, alias="from", ge=0, le=1_000_000,
                              description="memory view: the step whose cell state is followed")
    spans: str | None = Field(None, pattern=r"^[a-z]{1,20}$", description="memory view: the spans' order")
    span: str | None = Field(None, pattern=r"^[0-9]{1,7}-[0-9]{1,7}$",
                             description="find view: the steps selected, a-b inclusive")
    by: Literal["i", "f", "g", "o", "c", "h"] | None = Field(None, description="find view: the array ranked")
    sort: str | None = Field(None, pattern=r"^[a-z]{1,20}$", description="find view: the rows' order")
    top: int | None = Field(None, ge=1, le=1_000_000, description="find view: rows shown")
    model2: str | None = Field(None, max_length=200, description="compare view: B's model (absent: A's)")
    text2: str | None = Field(None, description="compare view: B's sequence, as typed (absent: A's)")
    x2: str | None = Field(None, description="compare view: B's what-ifs, in the encoding of x")
    gate2: Literal["i", "f", "g", "o", "c", "h"] | None = Field(
        None, description="compare view: the array drawn for A and B")


DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", re.I)  # no hex, no "Infinity"


def parse_inputs(typed: str, size: int) -> list[list[float]]:
    """A vector model's numbers as the page reads them (static/inputs.js): steps separated by ';'
    or new lines, numbers by commas or spaces; one line of a one-number model is one step each."""
    lines = [line.strip() for line in re.split(r"[;\n]", typed) if line.strip()]
    steps = [[w for w in re.split(r"[\s,]+", line) if w] for line in lines]
    if size == 1 and len(steps) == 1:
        steps = [[w] for w in steps[0]]
    for t, step in enumerate(steps):
        for word in step:
            if not DECIMAL.fullmatch(word):
                raise ApiError(422, f'step {t}: "{word}" is not a number', ["inputs"])
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


def check_size(raw: bytes, s: Settings) -> None:
    if len(raw) > s.max_link_bytes:
        raise ApiError(
            413, f"the link's state is {len(raw)} bytes; the limit is {s.max_link_bytes} "
            "(GATESCOPE_MAX_LINK_BYTES)", [], limit=s.max_link_bytes,
        )


def create(state: LinkState, s: Settings, store: Store) -> dict[str, Any]:
    """Check the state as a run would, pin its model, store it: {id, url, created, state}."""
    m = run.find_model(state.model, s, store, state.pin)
    if m.vocab is not None and state.inputs is not None:
        raise ApiError(422, f"model {m.id!r} reads text: give 'text', not 'inputs'", ["inputs"])
    if m.vocab is None and state.text is not None:
        raise ApiError(422, f"model {m.id!r} reads numbers: give 'inputs', not 'text'", ["text"])
    req = run_request(state.model_dump(), m)
    try:  # B's what-ifs (compare view) read as x does
        parse_interventions(state.x2)
    except ApiError as e:
        raise ApiError(422, "x2" + e.message.removeprefix("x"), ["x2"]) from None
    p = run.prepare(req, s, store)  # whatever a run would refuse
    try:  # and what-ifs at a step, unit or layer the run does not have
        ivs = [lstm.Intervention(**iv.model_dump()) for iv in req.interventions]
        lstm.check_interventions(ivs, p.x.shape[0], run.shape_of(p))
    except lstm.InterventionError as e:
        raise ApiError(422, f"x: what-if {e.index + 1}: {e.reason}", ["x"]) from None
    pinned = state.model_copy(update={"pin": state.pin or pins.keep(store, m)})
    kept = pinned.model_dump(exclude_none=True, by_alias=True)
    lid = link_id(kept)
    created = store.put_link(lid, kept)
    if not created and store.get_link(lid) != kept:  # 60 bits: never seen, but never overwrite
        raise ApiError(409, f"link id {lid!r} is taken by another state", [])
    return {"id": lid, "url": f"/l/{lid}", "created": created, "state": kept}


def find(lid: str, store: Store) -> dict[str, Any]:
    if not LINK_ID.fullmatch(lid):
        raise ApiError(404, f"no link {lid!r}: link ids are 12 characters, a–z and 2–7", ["id"])
    state = store.get_link(lid)
    if state is None:
        raise ApiError(404, f"no link {lid!r}", ["id"])
    return state
