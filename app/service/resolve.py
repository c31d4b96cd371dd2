"""A request resolved once: its model found (or its inline weights checked), its inputs encoded, its
what-ifs checked against the run, and the LSTM's shape. Runs, steps, links and previews all take a
`Resolved`, so none of them looks the model up, hashes it or works out its shape again."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from app.engine import lstm
from app.models import upload, zoo
from app.refusal import Invalid, NotFound, Refusal, where
from app.service import limits, pins, trainings
from app.service.limits import Limits
from app.service.requests import MAX_ABS, RunRequest
from app.service.store import Store


@dataclass(frozen=True)
class Resolved:
    """What a run computes, checked: everything but the include-dependent answer size."""

    model: zoo.Model | None  # None: inline weights
    weights: dict[str, np.ndarray]
    x: np.ndarray  # (T, I)
    tokens: list[str]  # a text model's characters; empty for vectors
    interventions: list[lstm.Intervention]
    shape: lstm.Shape
    gate_activation: str = "sigmoid"
    reverse: bool = False  # read from the last step to the first (Keras go_backwards)

    @property
    def model_id(self) -> str | None:
        return None if self.model is None else self.model.id

    @property
    def steps(self) -> int:
        return self.x.shape[0]


class WhatIfRefused(Invalid):
    """A what-if the run cannot apply; `index` and `reason` let a link say it in its own keys."""

    def __init__(self, e: lstm.InterventionError):
        loc: list[str | int] = ["interventions", e.index, *([e.field] if e.field else [])]
        super().__init__(f"{where(loc)}: {e.reason}", loc)
        self.index, self.reason = e.index, e.reason


def find_model(model_id: str, s: Limits, models: Store | None = None, pin: str | None = None) -> zoo.Model:
    """The model `model_id`, or with a pin, the version of it that the pin names (see app.service.pins)."""
    if pin is not None and models is not None:
        try:
            current: zoo.Model | None = find_model(model_id, s, models)
        except Refusal:
            current = None  # the model is gone, or has become too large: its pinned copy may be kept
        return pins.pinned(models, current, model_id, pin)
    shape = zoo.random_shape(model_id)
    if shape is not None:
        limits.check_size(shape[0], shape[1], s, ["model"])
    if model_id.startswith(trainings.PREFIX):
        return trainings.snapshot_model(model_id)
    try:
        if model_id.startswith("up-") and models is not None:
            stored = models.get_model(model_id)
            if stored is not None:
                return upload.as_model(stored.id, stored.info, stored.weights)
        return zoo.get(model_id)
    except KeyError:
        raise NotFound(
            f"no model {model_id!r}; known models: {', '.join(zoo.known_ids())}",
            ["model"],
            known=zoo.known_ids(),
        ) from None


def resolve(
    req: RunRequest, s: Limits, models: Store | None = None, model: zoo.Model | None = None
) -> Resolved:
    """The request checked against every limit but the answer's size, its model looked up once.
    `model`: the model req.model (at req.pin) names, when the caller has found it already."""
    if (req.model is None) == (req.weights is None):
        raise Invalid("give either 'model' (an id from /api/models) or inline 'weights'", [])
    if req.weights is not None:
        if req.text is not None:
            raise Invalid("inline weights take 'inputs' (numbers per step), not 'text'", ["text"])
        if req.pin is not None:
            raise Invalid("'pin' names a version of a model: give it with 'model'", ["pin"])
        weights, shape = _weights(req.weights, s)
        x = _vectors(req.inputs, shape.input_size, s)
        return _checked(None, weights, x, [], shape, "sigmoid", req)
    assert req.model is not None
    m = model if model is not None else find_model(req.model, s, models, req.pin)
    if m.reads_text:
        if req.inputs is not None or req.text is None:
            raise Invalid(f"model {m.id!r} reads text: send 'text', not 'inputs'", ["text"])
        x, tokens = encode_words(req.text, m, s) if m.words is not None else encode_text(req.text, m, s)
        return _checked(m, m.weights, x, tokens, m.shape, m.gate_activation, req)
    if req.text is not None:
        raise Invalid(
            f"model {m.id!r} reads {m.input_size} number(s) per step: send 'inputs', not 'text'",
            ["inputs"],
        )
    x = _vectors(req.inputs, m.input_size, s)
    return _checked(m, m.weights, x, [], m.shape, m.gate_activation, req)


def _checked(
    m: zoo.Model | None,
    weights: dict[str, np.ndarray],
    x: np.ndarray,
    tokens: list[str],
    shape: lstm.Shape,
    gate_activation: str,
    req: RunRequest,
) -> Resolved:
    interventions = [lstm.Intervention(**iv.model_dump()) for iv in req.interventions]
    try:
        lstm.check_interventions(interventions, x.shape[0], shape)
    except lstm.InterventionError as e:
        raise WhatIfRefused(e) from None
    reverse = m is not None and m.reverse
    return Resolved(m, weights, x, tokens, interventions, shape, gate_activation, reverse)


def encode_text(text: str, m: zoo.Model, s: Limits) -> tuple[np.ndarray, list[str]]:
    limits.check_steps(len(text), s, ["text"])
    cols = vocab_columns(text, m)
    assert m.vocab is not None
    return one_hot(cols, len(m.vocab)), list(text)


def vocab_columns(text: str, m: zoo.Model) -> np.ndarray:
    """Each character's index in the model's vocabulary (T,), or refused naming the first
    character it does not have and where it is. Vectorised: 200,000 characters take milliseconds."""
    assert m.vocab is not None
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    vocab = np.frombuffer(m.vocab.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    order = np.argsort(vocab, kind="stable")
    # the last of equal characters, as a dict built in vocabulary order keeps
    at = np.maximum(np.searchsorted(vocab[order], codes, side="right") - 1, 0)
    known = vocab[order][at] == codes
    if not known.all():
        t = int(np.argmin(known))
        ch = text[t]
        raise Invalid(
            f"character {ch!r} (U+{ord(ch):04X}) at position {t} is not in the vocabulary of model {m.id!r}",
            ["text", t],
            character=ch,
            position=t,
            vocab=m.vocab,
        )
    return order[at].astype(np.intp)


def one_hot(cols: np.ndarray, size: int) -> np.ndarray:
    """(T, size): row t is 1 at cols[t]."""
    x = np.zeros((len(cols), size))
    x[np.arange(len(cols)), cols] = 1.0
    return x


WORD = re.compile(r"\S+")  # a word model reads the text split on whitespace, as str.split() does


def encode_words(text: str, m: zoo.Model, s: Limits) -> tuple[np.ndarray, list[str]]:
    """A word model's steps: the text's words, each one-hot by its index in the model's list; a
    word not in it read as '<unk>' if the list has that, else refused naming it and where it is."""
    assert m.words is not None
    found = list(WORD.finditer(text))
    limits.check_steps(len(found), s, ["text"])
    index = {w: k for k, w in enumerate(m.words)}
    unknown = index.get(zoo.UNKNOWN)
    cols = np.empty(len(found), dtype=np.intp)
    for t, match in enumerate(found):
        k = index.get(match[0], unknown)
        if k is None:
            raise Invalid(
                f"word {match[0]!r} (word {t}, at character {match.start()}) is not among the words "
                f"of model {m.id!r}, which has no {zoo.UNKNOWN!r} to read it as",
                ["text", t],
                word=match[0],
                position=t,
                offset=match.start(),
            )
        cols[t] = k
    x = np.zeros((len(found), len(m.words)))
    x[np.arange(len(found)), cols] = 1.0
    return x, [match[0] for match in found]


def _vectors(inputs: list[list[float]] | None, size: int, s: Limits) -> np.ndarray:
    if inputs is None:
        raise Invalid(f"send 'inputs': a list of steps, each a list of {size} number(s)", ["inputs"])
    limits.check_steps(len(inputs), s, ["inputs"])
    for t, step in enumerate(inputs):
        if len(step) != size:
            raise Invalid(
                f"inputs[{t}] has {len(step)} number(s); this model takes {size} per step",
                ["inputs", t],
            )
    return np.array(inputs, dtype=np.float64)


def _weights(raw: dict[str, object], s: Limits) -> tuple[dict[str, np.ndarray], lstm.Shape]:
    """Inline weights as float64 arrays, and their shape, which the engine reads off them."""
    weights = {}
    for name, value in raw.items():
        try:
            a = np.array(value)  # its own dtype first: "1" or true must not be read as 1.0
            numbers = a.dtype.kind in "iuf" or (  # integers too large for int64 come as objects
                a.dtype.kind == "O" and all(type(v) in (int, float) for v in a.flat)
            )
            if not numbers:
                raise TypeError(a.dtype)
            a = a.astype(np.float64)
        except (ValueError, TypeError, OverflowError):
            raise Invalid(
                f"tensor {name!r} is not a rectangular array of numbers (ragged or non-numeric)",
                ["weights", name],
            ) from None
        upload.check_magnitude(name, a, MAX_ABS)
        weights[name] = a
    try:
        shape = lstm.shape_of(weights)
    except lstm.WeightError as e:
        _within_limits_roughly(weights, s)  # a limit exceeded is said first, as it always was
        raise Invalid(str(e), ["weights", e.name] if e.name else ["weights"]) from None
    limits.check_size(shape.hidden_size, shape.layers, s, ["weights"], input_size=shape.input_size)
    return weights, shape


def _within_limits_roughly(weights: dict[str, np.ndarray], s: Limits) -> None:
    """The size limits, read off weights that do not form an LSTM (layer 0's kernel, if 2-D)."""
    first = weights.get("weight_ih_l0")
    if first is not None and first.ndim == 2:
        layers = sum(1 for n in weights if re.fullmatch(r"weight_ih_l\d+", n))
        limits.check_size(first.shape[0] // 4, layers, s, ["weights"], input_size=first.shape[1])
