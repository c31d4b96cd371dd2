"""Request and response shapes of the JSON API; their Field limits are the fixed request limits.

Limits that depend on settings (steps, hidden size, layers) are checked in app.run, with
messages that name the environment variable that raises them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError


class ModelInfo(BaseModel):
    id: str
    title: str
    description: str
    hint: str
    kind: Literal["text", "vector"]
    vocab: str | None = Field(None, description="the characters a text model reads, in one-hot order")
    size: int = Field(description="input size I: numbers per step (len(vocab) for a text model)")
    hidden_size: int
    layers: int
    units: list[str] = Field(description="what each hidden unit means, where known")
    example: str = Field(description="a sequence that shows the model off, as typed in the page")
    parity: str | None = Field(None, description="uploaded models: how closely they match their framework")
    card: dict[str, Any] | None = Field(
        None, description="trained models: task, command, seed, steps, loss, held-out accuracy, units"
    )


class ModelList(BaseModel):
    models: list[ModelInfo]


MAX_ABS = 1e6  # inputs and inline weights: larger magnitudes only overflow float32 answers

Number = Annotated[float, Field(ge=-MAX_ABS, le=MAX_ABS)]

MAX_INTERVENTIONS = 64
MAX_BIAS_ADD = 100.0  # beyond ±100 every gate is saturated already: σ(100) = 1 in float64
GATE_RANGES = {"i": (0.0, 1.0), "f": (0.0, 1.0), "g": (-1.0, 1.0), "o": (0.0, 1.0)}
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}


class InterventionIn(BaseModel):
    """A "what if?" on one gate: `value` replaces its output, `bias_add` shifts its pre-activation."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    gate: Literal["i", "f", "g", "o"]
    value: float | None = Field(  # the range per gate is checked below, with a message that says it
        None, json_schema_extra={"minimum": -1.0, "maximum": 1.0},
        description="replaces the gate's output after its activation: within [0, 1] for i, f, o, "
        "[-1, 1] for g (f = 1: no forgetting, f = 0: no memory)",
    )
    bias_add: float | None = Field(
        None, ge=-MAX_BIAS_ADD, le=MAX_BIAS_ADD,
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
                "value_or_bias_add", "give exactly one of 'value' (replaces the gate's output) and "
                "'bias_add' (shifts its pre-activation)",
            )
        return self


class RunRequest(BaseModel):
    """A model id with `text` (text models) or `inputs` (vector models), or inline `weights` with `inputs`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str | None = Field(None, max_length=200, examples=["counter"])
    pin: str | None = Field(
        None, pattern=r"^[0-9a-f]{32}$",
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
    include: list[Literal["parts", "update", "retention"]] = Field(
        [], description='"parts": each gate\'s pre-activation split into input, recurrent, bias, '
        'its sum, and the gate activation\'s curve; "update": the cell update term by term; '
        '"retention": how much of c at step retention_from survives later steps',
    )
    retention_from: int = Field(
        0, ge=0, description='with include ["retention"]: the step s whose cell state is followed'
    )
    precision: Literal["float32", "float64"] = Field(
        "float32", description="float32 halves the body; the engine always computes in float64"
    )
    interventions: list[InterventionIn] = Field(
        [], max_length=MAX_INTERVENTIONS,
        description="what-ifs applied in list order; everything downstream is recomputed",
        examples=[[{"gate": "f", "value": 1.0}, {"gate": "f", "value": 0.2, "t": 5, "unit": 3}]],
    )


class StepRequest(RunRequest):
    """A run, and the one step (and layer) to explain; `include` and `retention_from` play no part."""

    t: int = Field(ge=0, description="the step to explain, 0-based")
    layer: int = Field(0, ge=0, description="the layer to explain, 0-based")


class StepGate(BaseModel):
    value: list[float] = Field(description="the gate's value used, per unit (H)")
    input: list[float] = Field(description="W·x_t, H")
    recurrent: list[float] = Field(description="U·h_{t−1}, H")
    bias: list[float] = Field(description="b_ih + b_hh, H")
    shift: list[float] = Field(description="what bias_add interventions added, H (zeros if none)")
    pre: list[float] = Field(description="the pre-activation used: input + recurrent + bias + shift, H")
    clamped: list[bool] = Field(description="per unit: a value intervention set the gate here")


class StepResponse(BaseModel):
    model: str | None
    t: int
    layer: int
    token: str
    hidden_size: int
    gates: dict[str, StepGate] = Field(description="i, f, g, o")
    c_prev: list[float] = Field(description="c_{t−1} (c0 at t = 0), H")
    kept: list[float] = Field(description="f_t ⊙ c_{t−1}, H")
    written: list[float] = Field(description="i_t ⊙ g_t, H")
    c: list[float] = Field(description="c_t = kept + written, H")
    h: list[float] = Field(description="h_t = o_t ⊙ tanh(c_t), H")
    gate_curve: GateCurve
    interventions: list[InterventionIn]


class GateParts(BaseModel):
    input: list[list[float]] = Field(description="W·x_t, T×H")
    recurrent: list[list[float]] = Field(description="U·h_{t-1}, T×H")
    bias: list[float] = Field(description="b_ih + b_hh, H")
    shift: list[list[float]] | None = Field(
        None, description="T×H, only where bias_add interventions moved this gate: the pre-activation "
        "used is input + recurrent + bias + shift",
    )
    pre: list[list[float]] | None = Field(
        None, description="T×H: the pre-activation used, input + recurrent + bias (+ shift)"
    )


class CellUpdate(BaseModel):
    kept: list[list[float]] = Field(description="f_t ⊙ c_{t−1}: what the cell kept, T×H")
    written: list[list[float]] = Field(description="i_t ⊙ g_t: what was written, T×H")


class RetentionOut(BaseModel):
    start: int = Field(description="the step s")
    survives: list[list[float | None]] = Field(
        description="∏_{k=s+1..t} f_k, T×H: the share of c_s left at step t if nothing were written "
        "(1 at s, null before it)"
    )
    span: list[int | None] = Field(
        description="per unit: steps after s until less than 1/e survives; null: not within the run"
    )


class GateCurve(BaseModel):
    activation: str = Field(description='of i, f and o: "sigmoid" or "hard_sigmoid"')
    z: list[float]
    y: list[float]


class LayerOut(BaseModel):
    i: list[list[float]] = Field(description="input gate, T×H")
    f: list[list[float]] = Field(description="forget gate, T×H")
    g: list[list[float]] = Field(description="candidate, T×H")
    o: list[list[float]] = Field(description="output gate, T×H")
    c: list[list[float]] = Field(description="cell state, T×H")
    h: list[list[float]] = Field(description="hidden state, T×H")
    parts: dict[str, GateParts] | None = Field(None, description='with include ["parts"]: per gate')
    update: CellUpdate | None = Field(None, description='with include ["update"]')
    retention: RetentionOut | None = Field(None, description='with include ["retention"]')


class RunResponse(BaseModel):
    model: str | None
    tokens: list[str] = Field(description="one label per time step")
    input_size: int
    hidden_size: int
    layers: list[LayerOut]
    interventions: list[InterventionIn] = Field(
        [], description="the interventions applied, as given (the gate arrays hold the values used)"
    )
    gate_curve: GateCurve | None = Field(
        None, description='with include ["parts"]: the curve the gates sit on'
    )


class ErrorOut(BaseModel):
    error: str = Field(description="what is wrong, in words")
    loc: list[str | int] = Field(description="where in the request")


class UploadOut(BaseModel):
    id: str = Field(description="the model's id: a hash of its tensors and input description")
    url: str = Field(description="the page that shows it")
    created: bool = Field(description="false when the same weights were stored before")
    model: ModelInfo
