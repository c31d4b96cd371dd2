"""Response shapes of the JSON API, for its OpenAPI document (the requests are app.service.requests)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.service.requests import InterventionIn


class ModelInfo(BaseModel):
    id: str
    title: str
    description: str
    hint: str
    kind: Literal["text", "words", "vector"] = Field(
        description="text: reads characters (vocab); words: reads the text split on whitespace (words); "
        "vector: reads `size` numbers per step"
    )
    vocab: str | None = Field(None, description="the characters a text model reads, in one-hot order")
    words: list[str] | None = Field(
        None, description="the words a word model reads, in one-hot order ('<unk>' for any other)"
    )
    size: int = Field(
        description="input size I: numbers per step (len(vocab) or len(words) for a text or word model)"
    )
    hidden_size: int
    layers: int
    group: Literal["hand-built", "trained", "random", "yours"] = Field(
        "hand-built", description="where the page's picker lists it"
    )
    directions: int = Field(1, description="2 for a bidirectional LSTM: each layer read both ways")
    reverse: bool = Field(
        False, description="reads the sequence from its last step to its first (Keras go_backwards)"
    )
    units: list[str] = Field(description="what each hidden unit means, where known")
    example: str = Field(description="a sequence that shows the model off, as typed in the page")
    parity: str | None = Field(
        None,
        description="uploaded models: what their kind of file's conversion is tested against, how closely",
    )
    conversion: dict[str, Any] | None = Field(
        None,
        description="uploaded models: format, the conversion's steps in words, what it is tested against, "
        "and (ONNX) the difference measured for this very model by the framework's reference evaluator",
    )
    card: dict[str, Any] | None = Field(
        None, description="trained models: task, command, seed, steps, loss, held-out accuracy, units"
    )
    labels: list[str] | None = Field(
        None, description="the output layer's K class names; null: the model has no output layer"
    )
    task: str | None = Field(
        None,
        description='the built-in task whose truth include ["targets"] answers; null: none is known',
    )


class ModelList(BaseModel):
    models: list[ModelInfo]


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
    outputs: StepOutputs | None = Field(
        None,
        description="a model with an output layer: its prediction after step t (forward and "
        "backward h of the last layer, whatever layer is explained)",
    )


class StepOutputs(BaseModel):
    labels: list[str] = Field(description="the output layer's K class names")
    logits: list[float] = Field(description="W·h_t + b, K")
    probs: list[float] = Field(description="their softmax, K")


class GateParts(BaseModel):
    input: list[list[float]] = Field(description="W·x_t, T×H")
    recurrent: list[list[float]] = Field(description="U·h_{t-1}, T×H")
    bias: list[float] = Field(description="b_ih + b_hh, H")
    shift: list[list[float]] | None = Field(
        None,
        description="T×H, only where bias_add interventions moved this gate: the pre-activation "
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
    direction: Literal["forward", "backward"] = Field(
        "forward",
        description="the order this entry read the steps in; a bidirectional layer is two entries, "
        "forward then backward. Every array is in input order: row t is the step that read x_t",
    )
    i: list[list[float]] = Field(description="input gate, T×H")
    f: list[list[float]] = Field(description="forget gate, T×H")
    g: list[list[float]] = Field(description="candidate, T×H")
    o: list[list[float]] = Field(description="output gate, T×H")
    c: list[list[float]] = Field(description="cell state, T×H")
    h: list[list[float]] = Field(description="hidden state, T×H")
    parts: dict[str, GateParts] | None = Field(None, description='with include ["parts"]: per gate')
    update: CellUpdate | None = Field(None, description='with include ["update"]')
    retention: RetentionOut | None = Field(None, description='with include ["retention"]')


class TopOut(BaseModel):
    index: list[list[int]] = Field(description="the k likeliest classes at each step, likeliest first, T×k")
    probs: list[list[float]] = Field(description="their probabilities, T×k")


class OutputsOut(BaseModel):
    labels: list[str] = Field(description="the output layer's K class names")
    logits: list[list[float]] | None = Field(
        None,
        description="W·h_t + b of the last layer's h (forward and backward concatenated when "
        "bidirectional), T×K: row t is the prediction after reading x_t (absent with outputs_top)",
    )
    probs: list[list[float]] | None = Field(
        None, description="the softmax of each row of logits, T×K (absent with outputs_top)"
    )
    top: TopOut | None = Field(None, description="with outputs_top k: the k likeliest classes only")


class TargetsOut(BaseModel):
    task: str = Field(description="the built-in task the model was trained on")
    asks: str = Field(description="what the task asks at each step, in words")
    classes: list[int | None] = Field(
        description="the right answer at each step as an index into outputs.labels, T of them; "
        "null where the task asks nothing (the step after the last, an unbalanced ')', …)"
    )
    probs: list[float | None] = Field(
        description="the probability the output layer gave the right answer at each step; null with it"
    )


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
    outputs: OutputsOut | None = Field(
        None, description='with include ["outputs"], for a model with an output layer: its predictions'
    )
    targets: TargetsOut | None = Field(
        None, description='with include ["targets"], for a built-in trained model: the truth of its task'
    )


class GateWeights(BaseModel):
    W: list[list[float]] = Field(description="the gate's rows of weight_ih: H × I, one column per input")
    U: list[list[float]] = Field(description="the gate's rows of weight_hh: H × H, one column per unit of h")
    b: list[float] = Field(description="bias_ih + bias_hh of the gate, H")


class EntryWeights(BaseModel):
    direction: Literal["forward", "backward"]
    layer: int = Field(description="the stacked layer this entry is a direction of")
    inputs: list[str] = Field(description="labels of this entry's W columns (layer > 0 reads the h below)")
    gates: dict[str, GateWeights] = Field(description="i, f, g, o (or the one asked for)")


class HeadWeights(BaseModel):
    weight: list[list[float]] = Field(description="K × D, D = H (2H bidirectional)")
    bias: list[float] | None
    labels: list[str] = Field(description="the K class names")


class WeightsResponse(BaseModel):
    model: str
    hidden_size: int
    layers: list[EntryWeights] = Field(
        description="one per entry, as /api/run counts layers (or the one asked for)"
    )
    inputs: list[str] = Field(
        description="labels of layer 0's W columns: the vocab characters, the words, or x0..x{I−1}"
    )
    head: HeadWeights | None = Field(
        description="the output layer; null without one, or when a gate or layer was asked for"
    )


class ErrorOut(BaseModel):
    """A refusal: a sentence for people and where in the request; some carry more facts (the
    limit, the known models, the character and position not in the vocabulary)."""

    error: str = Field(description="what is wrong, in words")
    loc: list[str | int] = Field(description="where in the request: keys and indexes; [] for the whole body")


class RetryOut(ErrorOut):
    """A refusal that ends: the same request may succeed after Retry-After seconds."""

    retry_after: int = Field(ge=0, description="seconds to wait, as in the Retry-After header")


class UploadOut(BaseModel):
    id: str = Field(description="the model's id: a hash of its tensors and input description")
    url: str = Field(description="the page that shows it")
    created: bool = Field(description="false when the same weights were stored before")
    model: ModelInfo


class LinkOut(BaseModel):
    id: str = Field(description="the link's id: 12 characters, a–z and 2–7")
    url: str = Field(description="the page that shows the view, /l/<id>")
    created: bool = Field(description="false when the same state was stored before")
    state: dict[str, Any] = Field(description="the view state kept, its model pinned (with pin)")


class LinkGot(BaseModel):
    id: str = Field(description="the link's id")
    url: str = Field(description="the page that shows the view, /l/<id>")
    state: dict[str, Any] = Field(description="the view state kept: the page URL's query keys")


class Saturation(BaseModel):
    left: list[float] = Field(description="per unit, the fraction of steps where the gate is below 0.1")
    right: list[float] = Field(description="per unit, the fraction of steps where the gate is above 0.9")


class Spread(BaseModel):
    mean: list[float]
    std: list[float] = Field(description="per unit, the population standard deviation over the steps")


class Correlation(BaseModel):
    unit: int
    array: Literal["c", "h"]
    label: str = Field(description="one of the answer's labels")
    r: float = Field(description="Pearson's r of the unit's c or h with the label, over every step")


class Passage(BaseModel):
    start: int = Field(description="the passage is the text's characters start … end − 1")
    end: int
    peak: int = Field(description="the step (character) where the unit's |h| peaks")
    values: list[float] = Field(
        description="the unit's h after each of the passage's characters, to 3 digits"
    )


class UnitPassages(BaseModel):
    unit: int
    array: Literal["h"] = Field(
        description="the array whose |h| peaks: bounded, and what the next layer sees"
    )
    windows: list[Passage] = Field(
        description="up to 3 passages, largest |h| first: the peaks are more than 80 steps apart, each "
        "with ±40 characters around it, trimmed to whole lines"
    )


class AnalyzedLayer(BaseModel):
    direction: Literal["forward", "backward"]
    saturation: dict[Literal["f", "i", "o"], Saturation]
    stats: dict[Literal["c", "h"], Spread]
    correlations: list[Correlation] = Field(description="the strongest 50 by |r|, strongest first")
    passages: list[UnitPassages] = Field(description="per unit, the passages where its |h| is largest")


class AnalyzeResponse(BaseModel):
    model: str
    steps: int
    layers: list[AnalyzedLayer]
    labels: list[str] = Field(description="the label series correlated with: built-in ones, then patterns")
    skipped: list[str] = Field(description="labels left out, and why")
