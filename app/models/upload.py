"""Uploaded LSTM weights — torch.nn.LSTM state_dicts (a whole model's: its LSTM found by module
prefix, app.models.prefixes) or Keras LSTM layers, from the headers app.models.formats reads —
mapped onto torch naming and checked, names and shapes before any data is read, then loaded, and
named by their content."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine import lstm
from app.models import badge, formats, pagetrained, prefixes, zoo
from app.models.versions import tensor_hash
from app.refusal import Invalid

# Layer numbers in ASCII digits, a few of them: int() of 5,000 digits is refused by Python itself.
# An LSTM layer's parts (`_reverse`: a Bidirectional's backward half), an Embedding's and a Dense's.
KERAS_NAME = re.compile(
    r"(kernel|recurrent_kernel|bias)(?:_l([0-9]{1,4}))?(_reverse)?|embeddings|dense_kernel|dense_bias"
)
# what a Keras file's Embedding and Dense stand for (the Dense's kernel is (D, K): transposed at load)
KERAS_EXTRAS = {"embeddings": "embedding.weight", "dense_kernel": "head.weight", "dense_bias": "head.bias"}
TORCH_NAME = prefixes.TORCH_NAME


@dataclass(frozen=True)
class Plan:
    """An upload's tensors, from their headers alone. `names` maps the name each tensor stands for
    (torch's, or for Keras 'kernel', 'recurrent_kernel', 'bias' with '_l{k}' for layer k) to the
    name it has in the file."""

    source: str  # "PyTorch" or "Keras"
    headers: dict[str, formats.Header]  # by the name in the file
    names: dict[str, str]  # the name it stands for (torch's, or Keras's part_l{k}) -> the file's
    layers: int
    module: str | None = None  # torch: the module prefix whose tensors these are ('' for none)
    ignored: tuple[str, ...] = ()  # the file's other tensors, in file order: never read
    # The file's name of the embedding (V, I) folded into weight_ih_l0, if any (also in names, as
    # "embedding.weight").
    embedding: str | None = None
    # The file's names of the output layer's tensors, {"weight": (K, D), "bias": (K,)} (Keras: its
    # kernel, (D, K), transposed when loaded); also names["head.weight"], names["head.bias"].
    head: dict[str, str] = field(default_factory=dict)
    embedding_module: str | None = None  # their module prefixes, as the answer names them
    head_module: str | None = None

    def header(self, name: str) -> formats.Header | None:
        uploaded = self.names.get(name)
        return None if uploaded is None else self.headers[uploaded]

    def declared_shape(self) -> tuple[int, int, int] | None:
        """(hidden size, layers, input size) as the headers declare them; None if they do not say."""
        if self.source == "Keras":
            kernel, recurrent = self.header("kernel_l0"), self.header("recurrent_kernel_l0")
            if kernel is None or recurrent is None or len(kernel.shape) != 2 or len(recurrent.shape) != 2:
                return None
            return recurrent.shape[0], self.layers, kernel.shape[0]
        first = self.header("weight_ih_l0")
        if first is None or len(first.shape) != 2:
            return None
        return first.shape[0] // 4, self.layers, first.shape[1]

    def vocabulary_size(self) -> int | None:
        """V of the embedding folded in: the input size the model then reads; None without one."""
        emb = self.header(EMBEDDING)
        return None if emb is None else emb.shape[0]

    def classes(self) -> int | None:
        """K of the output layer; None without one."""
        weight = self.header(HEAD_WEIGHT)
        if weight is None:
            return None
        return weight.shape[1] if self.source == "Keras" else weight.shape[0]


EMBEDDING = "embedding.weight"  # what the plan's names key an embedding's (V, I) weight by
HEAD_WEIGHT = "head.weight"  # (K, D), and how stored uploads keep it beside the LSTM's tensors
HEAD_BIAS = "head.bias"  # (K,)
EXTRAS = (EMBEDDING, HEAD_WEIGHT, HEAD_BIAS)


def plan(
    headers: list[formats.Header],
    module: str | None = None,
    embedding: str | None = None,
    head: str | None = None,
) -> Plan:
    """Map the file's names onto torch's or onto Keras layers (kernel, recurrent_kernel, bias;
    _l1, _l2… for stacked layers). torch names are taken from one module prefix only: `module`
    if given, else the one LSTM the file holds (app.models.prefixes); the rest is left out,
    named in the plan. Two names that would become one are refused, naming both."""
    by_name: dict[str, formats.Header] = {}
    for h in headers:
        if h.name in by_name:  # a zip may list a name twice; 'w' and 'w.npy' are both 'w' to NumPy
            raise Invalid(f"the file holds two tensors named {h.name!r}", ["weights", h.name])
        by_name[h.name] = h
    if by_name and all(KERAS_NAME.fullmatch(n) for n in by_name):
        if module:
            raise Invalid(
                "'module' names a torch module prefix, but the file holds a Keras layer's tensors "
                "(kernel, recurrent_kernel, bias), which have none: leave 'module' out",
                ["module"],
            )
        return _keras_plan(by_name)
    chosen, ignored = prefixes.choose(by_name, module)
    layers = sum(1 for n in chosen.names if re.fullmatch(r"weight_ih_l\d+", n))
    names = dict(chosen.names)
    emb, out = prefixes.extras(by_name, chosen, embedding, head)
    if emb is not None:
        names[EMBEDDING] = emb.group.names["weight"]
    if out is not None:
        names |= {f"head.{own}": uploaded for own, uploaded in out.group.names.items()}
    used = set(names.values())
    return Plan(
        "PyTorch",
        by_name,
        names,
        layers,
        chosen.prefix,
        tuple(n for n in ignored if n not in used),
        embedding=None if emb is None else names[EMBEDDING],
        head={} if out is None else dict(out.group.names),
        embedding_module=None if emb is None else emb.group.prefix,
        head_module=None if out is None else out.group.prefix,
    )


def _keras_plan(by_name: dict[str, formats.Header]) -> Plan:
    names: dict[str, str] = {}
    for uploaded in by_name:
        match = KERAS_NAME.fullmatch(uploaded)
        assert match is not None
        name = KERAS_EXTRAS.get(uploaded) or f"{match[1]}_l{int(match[2] or 0)}{match[3] or ''}"
        if name in names:
            raise Invalid(
                f"tensors {names[name]!r} and {uploaded!r} both stand for {name!r}: "
                "upload one LSTM's tensors, under one module prefix",
                ["weights", uploaded],
                tensors=[names[name], uploaded],
            )
        names[name] = uploaded
    layers = len(
        {n.rsplit("_l", 1)[1].removesuffix("_reverse") for n in names if n not in KERAS_EXTRAS.values()}
    )
    head = {part: names[f"head.{part}"] for part in ("weight", "bias") if f"head.{part}" in names}
    return Plan("Keras", by_name, names, layers, embedding=names.get(EMBEDDING), head=head)


def check_sizes(p: Plan, max_elements: int, extra_elements: int | None = None) -> None:
    """No tensor may declare more numbers than the largest an LSTM within the limits holds: what
    is checked next (the names and shapes, on stand-ins) then stays small. Tensors left out are
    never read, so not held to it; an embedding's and an output layer's are held to
    `extra_elements` (the largest within the limits) when given."""
    for name, uploaded in p.names.items():
        h = p.headers[uploaded]
        if name in EXTRAS and extra_elements is not None:
            what, limit = "embedding or output layer", extra_elements
            settings = "GATESCOPE_MAX_INPUT_SIZE, GATESCOPE_MAX_CLASSES, GATESCOPE_MAX_HIDDEN"
        else:
            what, limit, settings = (
                "tensor of an LSTM",
                max_elements,
                "GATESCOPE_MAX_HIDDEN, GATESCOPE_MAX_INPUT_SIZE",
            )
        if h.size > limit:
            raise Invalid(
                f"tensor {h.name!r} declares shape {h.shape}, {h.size:,} numbers; no {what} within the "
                f"limits holds more than {limit:,} ({settings})",
                ["weights", h.name],
                limit=limit,
            )


def check_structure(p: Plan) -> None:
    """The names and shapes checked as the weights themselves will be, on stand-ins that hold no
    data (views of one zero): a file whose data would not form an LSTM is refused unread."""
    stand_ins = {name: np.broadcast_to(np.zeros(()), p.headers[u].shape) for name, u in p.names.items()}
    _convert(p, _lstm_only(stand_ins), 0.0, check_keras=True)


def load(p: Plan, forget_bias: float, max_abs: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(float64 weights to compute with, the same tensors in their uploaded dtype to store), in
    torch naming. Each uploaded tensor is held to ±max_abs, as inline weights are. forget_bias is
    added to the forget gate's bias, as TensorFlow 1's BasicLSTMCell does."""
    check_structure(p)
    data = {}
    for name, uploaded in p.names.items():
        a = p.headers[uploaded].read()
        check_magnitude(uploaded, a, max_abs)
        if name in EXTRAS:  # the LSTM's own tensors get the engine's check (shape_of)
            check_finite(uploaded, a)
        data[name] = a
    native = _convert(p, _lstm_only(data), forget_bias, check_keras=False)  # its shapes are checked already
    if EMBEDDING in data:
        native |= fold(native, data[EMBEDDING])
    native |= _head(p, data)
    return {k: np.asarray(v, dtype=np.float64) for k, v in native.items()}, native


def _lstm_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in arrays.items() if k not in EXTRAS}


def fold(weights: dict[str, np.ndarray], embedding: np.ndarray) -> dict[str, np.ndarray]:
    """weight_ih_l0 (and _reverse) times the embedding's transpose, in float64: row v of the
    embedding is what token v feeds the LSTM, so W_ih·Embᵀ applied to token v's one-hot vector is
    W_ih·Emb[v] exactly (each product column is one matrix-vector product, no sum over tokens)."""
    emb = np.asarray(embedding, dtype=np.float64)
    return {
        name: np.asarray(weights[name], dtype=np.float64) @ emb.T
        for name in ("weight_ih_l0", "weight_ih_l0_reverse")
        if name in weights
    }


def _head(p: Plan, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The output layer's tensors as stored: weight (K, D), bias (K,) (a Keras kernel is (D, K))."""
    out = {k: data[k] for k in (HEAD_WEIGHT, HEAD_BIAS) if k in data}
    if p.source == "Keras" and HEAD_WEIGHT in out:
        out[HEAD_WEIGHT] = out[HEAD_WEIGHT].T
    return out


def check_finite(name: str, a: np.ndarray) -> None:
    """No NaN or infinity in an embedding or an output layer: folded in or applied, it would make
    every number that depends on it NaN. Said as the engine says it of the LSTM's tensors."""
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        at = ", ".join(str(int(k)) for k in np.argwhere(~np.isfinite(a))[0])
        raise Invalid(f"tensor {name!r} holds a NaN or infinite value at [{at}]", ["weights", name])


def check_magnitude(name: str, a: np.ndarray, max_abs: float) -> None:
    """Every finite value of tensor `name` within ±max_abs (NaN and infinity get the engine's own
    message); uploaded and inline weights alike."""
    if a.dtype.kind == "f":
        a = a[np.isfinite(a)]
    if a.size and max(-float(a.min()), float(a.max())) > max_abs:
        raise Invalid(
            f"tensor {name!r} holds a value beyond ±{max_abs:,.0f}", ["weights", name], limit=max_abs
        )


def _convert(
    p: Plan, arrays: dict[str, np.ndarray], forget_bias: float, check_keras: bool
) -> dict[str, np.ndarray]:
    """torch.nn.LSTM tensors in their own dtype (a forget-gate bias shifted: float64), checked by
    the engine's own rules and messages."""
    weights = _from_keras(p, arrays, check_keras) if p.source == "Keras" else dict(arrays)
    try:
        shape = lstm.shape_of(weights)
    except lstm.WeightError as e:
        raise Invalid(str(e), ["weights", e.name] if e.name else ["weights"]) from None
    if forget_bias:
        H = shape.hidden_size
        for k in range(shape.layers):
            bias = np.array(weights.get(f"bias_ih_l{k}", np.zeros(4 * H)), dtype=np.float64)
            bias[H : 2 * H] += forget_bias
            weights[f"bias_ih_l{k}"] = bias
    return weights


def _from_keras(p: Plan, arrays: dict[str, np.ndarray], check: bool) -> dict[str, np.ndarray]:
    """The LSTM layers' tensors in torch naming; a Bidirectional's backward half (`_reverse`) as
    torch's `weight_ih_l{k}_reverse`… An Embedding's and a Dense's are not LSTM tensors: not here."""
    weights: dict[str, np.ndarray] = {}
    directions = ("", "_reverse") if any(n.endswith("_reverse") for n in arrays) else ("",)
    for k in range(p.layers):
        for direction in directions:
            weights |= _keras_layer(arrays, k, direction, check)
    return weights


def _keras_layer(arrays: dict[str, np.ndarray], k: int, direction: str, check: bool) -> dict[str, np.ndarray]:
    parts = {part: arrays.get(f"{part}_l{k}{direction}") for part in ("kernel", "recurrent_kernel", "bias")}
    for needed in ("kernel", "recurrent_kernel"):
        if parts[needed] is None:
            suffix = f"_l{k}{direction}" if k or direction else ""
            raise Invalid(f"Keras layer {k} has no '{needed}{suffix}'", ["weights", needed + suffix])
    kernel, recurrent, bias = parts["kernel"], parts["recurrent_kernel"], parts["bias"]
    assert kernel is not None and recurrent is not None
    if check:  # the engine checks the shapes, and says what is off, on float64 stand-ins
        try:
            stand_in = None if bias is None else _zeros(bias)
            lstm.keras_to_torch(_zeros(kernel), _zeros(recurrent), stand_in, k)
        except lstm.WeightError as e:
            raise Invalid(f"Keras layer {k}: {e}", ["weights", e.name or "kernel"]) from None
    # the same conversion in the uploaded dtype: gate columns i, f, c, o are torch's rows
    out = {f"weight_ih_l{k}{direction}": kernel.T, f"weight_hh_l{k}{direction}": recurrent.T}
    if bias is not None:
        out[f"bias_ih_l{k}{direction}"] = bias
    return out


def _zeros(a: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.zeros(()), a.shape)


def content_id(weights: dict[str, np.ndarray], description: dict[str, Any]) -> str:
    """An id from the tensors' values (float64) and the input description, not the file's bytes:
    the same weights saved as .npz or .safetensors get the same id."""
    return "up-" + tensor_hash(weights, description)


def as_model(model_id: str, info: dict[str, Any], weights: dict[str, np.ndarray]) -> zoo.Model:
    """A stored upload as a model, with its badge (app.models.badge); or a model trained in the
    page and saved (its info holds the training's card)."""
    if "training" in info:
        return pagetrained.from_training(model_id, info["training"], weights)
    head = {k.removeprefix("head."): v for k, v in weights.items() if k in (HEAD_WEIGHT, HEAD_BIAS)}
    lstm_weights = {k: v for k, v in weights.items() if k not in (HEAD_WEIGHT, HEAD_BIAS)}
    read = badge.conversion(info, "weight_ih_l0_reverse" in lstm_weights)
    return zoo.from_upload(model_id, info, lstm_weights, read["tested"], head or None, read)
