"""The limits a request is checked against, each a setting (GATESCOPE_<NAME>, see
app.web.settings), and the checks that name the setting a refusal can be lifted by."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.engine.lstm import Shape
from app.refusal import Invalid
from app.service.requests import RunRequest


class Limits(BaseModel):
    """What one request may ask, and what the store may hold: these keep one request well under a
    second and its answer a few MB at most. How the server serves (its queue, its rate limits,
    its headers and bodies) is app.web.settings'."""

    max_steps: int = Field(2000, ge=1, description="longest sequence, in time steps")
    max_hidden: int = Field(512, ge=1, description="largest hidden size H")
    max_layers: int = Field(4, ge=1, description="most stacked layers")
    max_input_size: int = Field(1024, ge=1, description="largest input size I of inline weights")
    max_classes: int = Field(1024, ge=1, description="most classes K of an uploaded model's output layer")
    max_values: int = Field(
        1_800_000,
        ge=1,
        description="most numbers in one answer: T × H × layers (× 2 directions) × 6 arrays (14 with parts), "
        "float64 counting twice; about 20 MB of JSON",
    )
    max_analyze_steps: int = Field(
        200_000, ge=1, description="longest text POST /api/analyze summarises, in steps"
    )
    max_patterns: int = Field(8, ge=0, description="most regular expressions one analysis correlates with")
    trainings_at_once: int = Field(2, ge=0, description="trainings running at once in one server process")
    trainings_per_client: int = Field(1, ge=1, description="trainings one client address may run at once")
    max_train_steps: int = Field(20_000, ge=1, description="most steps one training may take")
    max_train_hidden: int = Field(64, ge=1, description="largest hidden size a training may have")
    max_train_batch: int = Field(128, ge=1, description="most sequences in one training step's batch")
    max_train_text: int = Field(
        100_000,
        ge=420,
        description="longest text a 'predict the next character' training reads, in characters",
    )
    train_snapshots: int = Field(
        200, ge=2, description="snapshots one training keeps (beyond, every other older one is let go)"
    )
    train_keep_seconds: float = Field(
        600, gt=0, description="how long an ended training's snapshots are kept for saving and showing"
    )
    train_abandon_seconds: float = Field(
        15, gt=0, description="a training nobody watches (no event stream open) is stopped after this"
    )
    pattern_timeout_seconds: float = Field(
        0.5, gt=0, description="longest one pattern may take to match over the text before it is refused"
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="largest uploaded weights file")
    max_upload_tensors: int = Field(64, ge=1, description="most tensors (.npz members) in an uploaded file")
    max_store_bytes: int = Field(4 * 1024**3, ge=1, description="largest store; beyond it no model is kept")
    max_link_bytes: int = Field(64 * 1024, ge=1024, description="largest share-link state, as JSON")


def check_steps(T: int, s: Limits, loc: list[str | int]) -> None:
    if T == 0:
        raise Invalid("the sequence is empty: give at least one step", loc)
    if T > s.max_steps:
        raise Invalid(
            f"the sequence has {T} steps; the limit is {s.max_steps} (GATESCOPE_MAX_STEPS)",
            loc,
            limit=s.max_steps,
        )


def too_many_steps(s: Limits, loc: list[str | int]) -> Invalid:
    """For a sequence found longer than the limit before all of it was read."""
    return Invalid(
        f"the sequence has more than {s.max_steps} steps, the limit (GATESCOPE_MAX_STEPS)",
        loc,
        limit=s.max_steps,
    )


def check_steps_first(data: Any, s: Limits) -> None:
    """Before a decoded body is validated: a sequence over the step limit is refused from its
    length alone, since validating a million steps would cost seconds."""
    if not isinstance(data, dict):
        return
    text, inputs = data.get("text"), data.get("inputs")
    if isinstance(text, str) and len(text) > s.max_steps:
        # An upload may read words, a step each: only the words count until its model is known
        # (a character upload's text is counted again, by character, when it is encoded).
        uploaded = isinstance(data.get("model"), str) and data["model"].startswith("up-")
        steps = len(text.split()) if uploaded else len(text)
        if steps > s.max_steps:
            check_steps(steps, s, ["text"])
    if isinstance(inputs, list) and len(inputs) > s.max_steps:  # typed text (a link's) is no steps
        check_steps(len(inputs), s, ["inputs"])


def check_size(H: int, layers: int, s: Limits, loc: list[str | int], input_size: int = 0) -> None:
    if input_size > s.max_input_size:
        raise Invalid(
            f"input size {input_size} exceeds the limit of {s.max_input_size} (GATESCOPE_MAX_INPUT_SIZE)",
            [*loc, "weight_ih_l0"],
            limit=s.max_input_size,
        )
    if H > s.max_hidden:
        raise Invalid(
            f"hidden size {H} exceeds the limit of {s.max_hidden} (GATESCOPE_MAX_HIDDEN)",
            loc,
            limit=s.max_hidden,
        )
    if layers > s.max_layers:
        raise Invalid(
            f"{layers} layers exceed the limit of {s.max_layers} (GATESCOPE_MAX_LAYERS)",
            loc,
            limit=s.max_layers,
        )


def check_values(T: int, shape: Shape, req: RunRequest, s: Limits, classes: int = 0) -> None:
    """The answer's size, counted before anything is computed; `classes`: K of the model's output
    layer, whose logits and probs (T×K each) include ["outputs"] adds."""
    arrays = 6  # i f g o c h, then with parts input, recurrent and pre per gate, and the gates shifted
    if "parts" in req.include:
        arrays += 12 + len({iv.gate for iv in req.interventions if iv.bias_add is not None})
    arrays += 2 * ("update" in req.include) + ("retention" in req.include)
    per_value = 2 if req.precision == "float64" else 1
    values = T * shape.hidden_size * shape.entries * arrays * per_value
    layers = f"layers {shape.layers}" + (" × 2 directions" if shape.directions == 2 else "")
    outputs = 2 * T * classes * per_value if "outputs" in req.include else 0  # logits and probs, T×K
    values += outputs
    if values > s.max_values:
        raise Invalid(
            f"the answer would hold {values} numbers (steps {T} × hidden size "
            f"{shape.hidden_size} × {layers} × {arrays} arrays"
            f"{f' + steps {T} × {classes} classes × 2 outputs' if outputs else ''}"
            f"{' × 2 for float64' if per_value == 2 else ''}); the limit is {s.max_values} "
            "(GATESCOPE_MAX_VALUES): send fewer steps, or fewer arrays",
            [],
            limit=s.max_values,
        )
