"""The requests that runs and steps take, as pydantic models whose Field limits are the fixed
request limits, and pydantic's refusals in the words of app.refusal.

Limits that depend on settings (steps, hidden size, layers) are checked in app.service.limits,
with messages that name the environment variable that raises them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.refusal import Invalid, where
from app.service import spec
from app.service.spec import GATE_NAMES, GATE_RANGES, MAX_BIAS_ADD

MAX_ABS = 1e6  # inputs and inline weights: larger magnitudes only overflow float32 answers

Number = Annotated[float, Field(ge=-MAX_ABS, le=MAX_ABS)]

# The what-ifs' bounds are the page's too (app/static/spec.json): beyond ±100 of shift every gate
# is saturated already, σ(100) = 1 in float64.
MAX_INTERVENTIONS = spec.WHAT_IF_MAX


def _absent(*keys: str) -> dict[str, Any]:
    return {k: {"type": "null"} for k in keys}  # absent or null: the same to the validation


def _number(low: float, high: float) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high}


# The validators below in JSON schema: exactly one of value and bias_add, value within the gate's range.
INTERVENTION_FORMS: dict[str, Any] = {
    "oneOf": [
        {
            "title": "a value for i, f or o",
            "required": ["value"],
            "properties": {"gate": {"enum": ["i", "f", "o"]}, "value": _number(0, 1), **_absent("bias_add")},
        },
        {
            "title": "a value for g",
            "required": ["value"],
            "properties": {"gate": {"const": "g"}, "value": _number(-1, 1), **_absent("bias_add")},
        },
        {
            "title": "a shift of the pre-activation",
            "required": ["bias_add"],
            "properties": {"bias_add": {"type": "number"}, **_absent("value")},
        },
    ]
}


class InterventionIn(BaseModel):
    """A "what if?" on one gate: `value` replaces its output, `bias_add` shifts its pre-activation."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=INTERVENTION_FORMS)

    gate: Literal["i", "f", "g", "o"]
    value: float | None = Field(  # the range per gate is checked below, with a message that says it
        None,
        json_schema_extra={"minimum": -1.0, "maximum": 1.0},
        description="replaces the gate's output after its activation: within [0, 1] for i, f, o, "
        "[-1, 1] for g (f = 1: no forgetting, f = 0: no memory)",
    )
    bias_add: float | None = Field(
        None,
        ge=-MAX_BIAS_ADD,
        le=MAX_BIAS_ADD,
        description="added to the gate's pre-activation (f + 1: the forget bias of Jozefowicz et al. 2015)",
    )
    t: int | None = Field(None, ge=0, description="the time step, from 0; every step when absent")
    unit: int | None = Field(None, ge=0, description="the hidden unit, from 0; every unit when absent")
    layer: int | None = Field(None, ge=0, description="the layer, from 0; every layer when absent")

    @field_validator("value")
    @classmethod
    def _within_the_gates_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        gate = info.data.get("gate")
        if value is not None and gate in GATE_RANGES:
            low, high = GATE_RANGES[gate]
            if not low <= value <= high:
                raise PydanticCustomError(
                    "gate_range",
                    f"the {GATE_NAMES[gate]} takes values in [{low:g}, {high:g}]; {value:g} is outside it",
                )
        return value

    @model_validator(mode="after")
    def _value_or_bias_add(self) -> InterventionIn:
        if (self.value is None) == (self.bias_add is None):
            raise PydanticCustomError(
                "value_or_bias_add",
                "give exactly one of 'value' (replaces the gate's output) and "
                "'bias_add' (shifts its pre-activation)",
            )
        return self


STEPS = {"type": "array", "minItems": 1, "items": {"minItems": 1}}  # no empty run, no empty step
INLINE = {  # inline weights: torch.nn.LSTM's names, layer 0 at least; shapes are checked in app.service.run
    "type": "object",
    "required": ["weight_ih_l0", "weight_hh_l0"],
    "propertyNames": {"pattern": "^(weight|bias)_(ih|hh)_l[0-9]+$"},
    "additionalProperties": {"type": "array"},
}

# Which keys a run takes together, for the JSON schema: the checks are in app.service.run.prepare.
# The three are exclusive (each rules out a key the others need), so oneOf and anyOf agree.
RUN_FORMS: dict[str, Any] = {
    "examples": [
        {"model": "counter", "text": "banana. a cat."},
        {
            "model": "gated-sum",
            "inputs": [[0.5], [1.0], [-1.0]],
            "interventions": [{"gate": "f", "value": 1.0}],
        },
        {
            "weights": {
                "weight_ih_l0": [[0.5], [0.5], [0.5], [0.5]],
                "weight_hh_l0": [[0.1], [0.1], [0.1], [0.1]],
            },
            "inputs": [[1.0], [0.0]],
        },
    ],
    "oneOf": [
        {
            "title": "a text model",
            "required": ["model", "text"],
            "properties": {
                "model": {"type": "string"},
                "text": {"type": "string", "minLength": 1},
                **_absent("inputs", "weights"),
            },
        },
        {
            "title": "a vector model",
            "required": ["model", "inputs"],
            "properties": {"model": {"type": "string"}, "inputs": STEPS, **_absent("text", "weights")},
        },
        {
            "title": "inline weights",
            "required": ["weights", "inputs"],
            "properties": {
                "weights": INLINE,
                "inputs": STEPS,
                **_absent("model", "pin", "text"),
            },
        },
    ],
}


def _forms(schema: dict[str, Any], cls: type) -> None:
    """RUN_FORMS in a request's schema; a step's examples name the step they explain."""
    schema.update(copy.deepcopy(RUN_FORMS))
    if "t" in schema.get("required", ()):
        schema["examples"] = [{**e, "t": 1} for e in RUN_FORMS["examples"]]


class RunRequest(BaseModel):
    """A model id with `text` (text models) or `inputs` (vector models), or inline `weights` with `inputs`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=_forms)

    model: str | None = Field(None, max_length=200, examples=["counter"])
    pin: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{32}$",
        description="the version of the model to run, as a share link pins it (GET /api/links/{id})",
    )
    text: str | None = Field(None, examples=["banana. a cat."])
    inputs: list[list[Number]] | None = Field(
        None, description="one list of numbers per time step", examples=[[[0.5], [1.0], [-1.0]]]
    )
    weights: dict[str, Any] | None = Field(
        None,
        description="tensors in torch.nn.LSTM state_dict naming as nested lists, e.g. weight_ih_l0",
    )
    include: list[Literal["parts", "update", "retention", "outputs", "targets"]] = Field(
        [],
        description='"parts": each gate\'s pre-activation split into input, recurrent, bias, '
        'its sum, and the gate activation\'s curve; "update": the cell update term by term; '
        '"retention": how much of c at step retention_from survives later steps; '
        '"outputs": the model\'s output layer at every step, its labels, logits and softmax '
        "(models with an output layer only); "
        '"targets": the truth of a built-in trained model\'s task at every step, as an index into '
        "its labels (built-in trained models only)",
    )
    retention_from: int = Field(
        0, ge=0, description='with include ["retention"]: the step s whose cell state is followed'
    )
    outputs_top: int | None = Field(
        None,
        ge=1,
        le=20,
        description='with include ["outputs"]: answer only the k likeliest classes at each step, '
        "as outputs.top {index, probs} (T×k each) in place of the T×K logits and probs",
    )
    precision: Literal["float32", "float64"] = Field(
        "float32", description="float32 halves the body; the engine always computes in float64"
    )
    interventions: list[InterventionIn] = Field(
        [],
        max_length=MAX_INTERVENTIONS,
        description="what-ifs applied in list order; everything downstream is recomputed",
        examples=[[{"gate": "f", "value": 1.0}, {"gate": "f", "value": 0.2, "t": 5, "unit": 3}]],
    )


MAX_PATTERN_LENGTH = 1000  # a regular expression, in characters


class AnalyzeRequest(BaseModel):
    """A text model and a long text to summarise per unit, with regular expressions to correlate with."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(max_length=200, examples=["python-chars"])
    text: str = Field(examples=["def f(x):\n    return (x + 1)\n"])
    patterns: list[Annotated[str, Field(max_length=MAX_PATTERN_LENGTH)]] = Field(
        [],
        description="regular expressions (Python's `regex` syntax): each is a label, 1 at every "
        "character inside a match",
        examples=[[r"\bself\b"]],
    )


class TrainRequest(BaseModel):
    """A training to start: a toy task (or "text": predict the next character of `text`), the
    model's size and seed, and the recipe. Settings left out are the task's recipe's (those of
    the model Gatescope ships), or for "text" a small language model's."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)  # false is no number

    task: Literal["reset-count", "bracket-depth", "recall", "parity", "text"] = Field(
        examples=["reset-count"]
    )
    text: str | None = Field(None, description='the text to predict, for task "text" only')
    hidden: int | None = Field(None, ge=1, description="hidden size H (at most GATESCOPE_MAX_TRAIN_HIDDEN)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="the same seed and settings give the same weights")
    steps: int | None = Field(None, ge=1, description="training steps (at most GATESCOPE_MAX_TRAIN_STEPS)")
    batch: int = Field(32, ge=1, description="sequences per step (at most GATESCOPE_MAX_TRAIN_BATCH)")
    lr: float | None = Field(None, gt=0, le=1, description="Adam's learning rate")
    schedule: Literal["constant", "cosine"] | None = Field(None, description="of the learning rate")
    forget_bias: float | None = Field(
        None, ge=-10, le=10, description="added to the forget gates' bias at initialisation (0 or 1, say)"
    )
    recurrent_decay: float | None = Field(
        None, ge=0, le=1000, description="decoupled weight decay on weight_hh (0: off)"
    )
    snapshot_every: int = Field(10, ge=1, le=10_000, description="steps between snapshots")

    @field_validator("hidden", "seed", "steps", "batch", "snapshot_every", mode="before")
    @classmethod
    def _whole(cls, v: Any) -> Any:
        # JSON's 5.0 is the integer 5, as JSON Schema's "integer" says; strict mode alone refuses it.
        return int(v) if isinstance(v, float) and v.is_integer() else v


class StepRequest(RunRequest):
    """A run, and the one step (and layer) to explain; `include` and `retention_from` play no part."""

    t: int = Field(ge=0, description="the step to explain, 0-based")
    layer: int = Field(0, ge=0, description="the layer to explain, 0-based")


def _message(err: dict[str, Any], loc: list[str | int]) -> str:
    if not loc and err["type"] in ("model_attributes_type", "dict_type", "model_type"):
        return 'the request body must be a JSON object, such as {"model": "counter", "text": "ab."}'
    if err["type"] == "extra_forbidden":
        return f"{where(loc)}: unexpected key (not part of this request)"
    return f"{where(loc)}: {err['msg']}"


def validation_error(errors: Sequence[dict[str, Any]]) -> Invalid:
    """One 422 from pydantic's list of errors: the first three in the sentence, all in `detail`."""
    locs = [
        [p for p in e["loc"] if p != "body"] if e["loc"][:1] == ("body",) else list(e["loc"]) for e in errors
    ]
    messages = [_message(e, loc) for e, loc in zip(errors, locs, strict=True)]
    more = f" (and {len(messages) - 3} more)" if len(messages) > 3 else ""
    return Invalid(
        "; ".join(messages[:3]) + more,
        locs[0] if locs else [],
        detail=[{"loc": loc, "msg": m} for loc, m in zip(locs[:20], messages[:20], strict=True)],
    )


M = TypeVar("M", bound=BaseModel)


def validated(schema: type[M], data: Any) -> M:
    """`data` as the schema, or an Invalid that says what is wrong and where."""
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        raise validation_error([dict(err) for err in e.errors(include_url=False)]) from None
