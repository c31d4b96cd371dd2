"""What a Keras model's config says about computing its layers, judged with no weights at hand:
the layer list of a Sequential or Functional config, and for each layer Gatescope takes (LSTM,
Bidirectional(LSTM), Embedding, Dense) the settings it honours or refuses — activations, the
Keras version that defines hard_sigmoid, go_backwards, merge_mode, mask_zero. What Gatescope
cannot compute exactly is refused as `Invalid`, naming the layer and the setting.

Keras 2's hard_sigmoid, clip(0.2·z + 0.5, 0, 1), and Keras 3's, relu6(z + 3)/6, are the engine's
"hard_sigmoid" and "hard_sigmoid_keras3", told apart by the Keras version the file names, and
handed on. The functions take the reader's `Headers` (app.models.kerasfile) as `headers` and
record on it what they decide (gate_activation, conversions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.refusal import Invalid

# the settings both halves of a Bidirectional must share for torch's layout (one H, one activation)
SHARED = ("units", "activation", "recurrent_activation", "use_bias", "return_sequences")
HEAD_ACTIVATIONS = ("linear", "softmax")
LSTM_KINDS = ("LSTM", "Bidirectional")
# layers that may stand between two LSTMs: at inference they pass the sequence on unchanged
PASS_THROUGH = {
    "Dropout",
    "SpatialDropout1D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
}
RECURRENT = {
    "GRU": "a GRU",
    "SimpleRNN": "a plain RNN",
    "ConvLSTM1D": "a ConvLSTM",
    "ConvLSTM2D": "a ConvLSTM",
}


@dataclass
class Layer:
    """One Keras layer as the config describes it (config None: a weights-only file)."""

    name: str
    kind: str  # the config's class_name, or what the weights' shapes say
    config: dict[str, Any] | None = None
    tensors: dict[str, Any] = field(default_factory=dict)  # h5py datasets by part: kernel…
    backward: dict[str, Any] = field(default_factory=dict)  # a Bidirectional's backward half


@dataclass
class Taken:
    """The layers Gatescope computes: the LSTMs bottom first, the Embedding that feeds them and
    the Dense that reads them (None where there is none)."""

    lstms: list[Layer]
    embedding: Layer | None = None
    dense: Layer | None = None


def choose(layers: list[Layer], headers: Any) -> Taken:
    """The LSTM layers (plain or all Bidirectional), with the Embedding directly below and the
    Dense directly above them, each config checked; what is converted is said in
    headers.conversions."""
    lstms = [layer for layer in layers if layer.kind in LSTM_KINDS]
    if not lstms:
        found = ", ".join(f"{layer.kind} {layer.name!r}" for layer in layers) or "no layers"
        recurrent = [RECURRENT[layer.kind] for layer in layers if layer.kind in RECURRENT]
        what = f"; Gatescope shows LSTMs, and this file holds {recurrent[0]}" if recurrent else ""
        raise Invalid(f"the {headers.file} file holds no LSTM layer (found: {found}){what}", ["weights"])
    if len({layer.kind for layer in lstms}) > 1:
        raise Invalid(
            f"the {headers.file} file stacks plain and Bidirectional LSTM layers "
            f"{[x.name for x in lstms]}: Gatescope computes both directions in every layer or in none, "
            "as torch does",
            ["weights", lstms[0].name],
        )
    check_between(layers, lstms, headers)
    for layer in lstms:
        if layer.config is None:
            continue
        if layer.kind == "Bidirectional":
            for half in halves(layer.name, layer.config):
                check_lstm(layer.name, half, headers)
            continue
        check_lstm(layer.name, layer.config, headers)
        if layer.config.get("go_backwards"):
            if len(lstms) > 1:
                raise refusal(
                    layer.name,
                    "go_backwards",
                    True,
                    "Keras hands the next layer its outputs last step first, which Gatescope does not "
                    "compute in a stack; it computes go_backwards on a model of one LSTM layer",
                )
            headers.backwards = True
            headers.conversions.append(
                f"go_backwards: layer {layer.name!r} read from the last step to the first; every array "
                "is in input order (Keras returns its sequence last step first)"
            )
    with_config = layers[0].config is not None
    if lstms[0].kind == "Bidirectional":
        headers.conversions.append("directions: forward and backward (Bidirectional, merge_mode 'concat')")
        if not with_config:
            headers.conversions.append(
                "a .weights.h5 does not record merge_mode: each direction's h and c are Keras's whatever "
                "it was; the output layer reads them concatenated, forward first"
            )
    taken = Taken(lstms)
    taken.embedding = (
        _next_to(layers, lstms[0], -1, "Embedding") if with_config else _only(layers, "Embedding")
    )
    taken.dense = _next_to(layers, lstms[-1], 1, "Dense") if with_config else _only(layers, "Dense")
    if taken.embedding is not None and not _embedding_fits(taken.embedding, lstms[0], with_config, headers):
        taken.embedding = None
    if taken.dense is not None and not _dense_fits(taken.dense, lstms[-1], with_config, headers):
        taken.dense = None
    return taken


def _next_to(layers: list[Layer], lstm: Layer, step: int, kind: str) -> Layer | None:
    """The layer of `kind` directly below (step -1) or above (+1) `lstm`, past pass-through layers."""
    k = layers.index(lstm) + step
    while 0 <= k < len(layers) and layers[k].kind in PASS_THROUGH:
        k += step
    return layers[k] if 0 <= k < len(layers) and layers[k].kind == kind else None


def _only(layers: list[Layer], kind: str) -> Layer | None:
    """A weights-only file's one layer of `kind` (its order among the others is not known)."""
    found = [layer for layer in layers if layer.kind == kind]
    return found[0] if len(found) == 1 else None


def _shape(layer: Layer, part: str) -> tuple[int, ...]:
    dataset = layer.tensors.get(part)
    return tuple(dataset.shape or ()) if dataset is not None else ()


def _embedding_fits(embedding: Layer, lstm: Layer, with_config: bool, headers: Any) -> bool:
    shape, reads = _shape(embedding, "embeddings"), _shape(lstm, "kernel")[:1]
    if len(shape) != 2 or shape[1:] != reads:
        if with_config:
            raise Invalid(
                f"Keras layer {embedding.name!r} is an Embedding of shape {shape} in the file, but "
                f"{lstm.name!r} reads {reads[0] if reads else '?'} inputs per step",
                ["weights", embedding.name],
            )
        return False
    if with_config:
        check_embedding(embedding.name, embedding.config or {})
        how = ""
    else:
        how = " (taken by its name and shape: a .weights.h5 holds no config, nor says mask_zero)"
    headers.conversions.append(
        f"embedding {embedding.name!r} ({shape[0]} × {shape[1]}) read as the input: one-hot tokens "
        f"of size {shape[0]}{how}"
    )
    return True


def _dense_fits(dense: Layer, lstm: Layer, with_config: bool, headers: Any) -> bool:
    shape, units = _shape(dense, "kernel"), _shape(lstm, "recurrent_kernel")[:1]
    width = units[0] * (2 if lstm.kind == "Bidirectional" else 1) if units else None
    if len(shape) != 2 or shape[0] != width:
        if with_config:
            raise Invalid(
                f"Keras layer {dense.name!r} is a Dense of kernel shape {shape} in the file, but "
                f"{lstm.name!r} hands it {width} values per step",
                ["weights", dense.name],
            )
        return False
    K = shape[1]
    if not with_config:
        headers.conversions.append(
            f"output layer {dense.name!r} (K = {K}) taken by its name and shape: a .weights.h5 holds "
            "no config, so its activation is not known; the logits are its values before any activation"
        )
        return True
    activation = head_activation(dense.name, dense.config or {})
    said = (
        "its outputs are probabilities, equal to softmax(logits)"
        if activation == "softmax"
        else "its outputs are the logits"
    )
    headers.conversions.append(f"output layer {dense.name!r} (K = {K}), activation {activation!r}: {said}")
    cfg = lstm.config or {}
    if lstm.kind == "Bidirectional":
        cfg = _config(cfg["layer"]) if isinstance(cfg.get("layer"), dict) else {}
    if not cfg.get("return_sequences", False):
        if lstm.kind == "Bidirectional":
            raise refusal(
                lstm.name,
                "return_sequences",
                False,
                f"Keras then hands {dense.name!r} the forward h of the last step and the backward h of "
                "the first, which is no one step of Gatescope's outputs; save it with return_sequences=True",
            )
        row = "row 0 (the step that read x_0)" if headers.backwards else "row T−1"
        headers.conversions.append(
            f"layer {lstm.name!r} has return_sequences=False: Keras applies {dense.name!r} to its last "
            f"step only; Gatescope computes the outputs at every step, and {row} equals Keras's output"
        )
    return True


def config_layers(config: Any, where: str) -> list[dict[str, Any]]:
    """The layers of a Sequential or Functional model's config, in the order they are listed."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner  # Keras 2.0–2.2: a list
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise Invalid(f"the {where} file's config lists no layers", ["weights", "config"])
    return layers


def refusal(layer: str, setting: str, value: Any, why: str) -> Invalid:
    return Invalid(
        f"Keras layer {layer!r} has {setting}={value!r}: {why}", ["weights", layer, setting], setting=setting
    )


def check_lstm(layer: str, cfg: dict[str, Any], headers: Any) -> None:
    """Refuse what Gatescope cannot compute exactly in an LSTM layer's config, naming the layer
    and the setting; record the gate activation it uses."""
    activation = name_of(cfg.get("activation", "tanh"))
    if activation != "tanh":
        raise refusal(
            layer, "activation", activation, "Gatescope computes the cell and output with tanh only"
        )
    recurrent = name_of(cfg.get("recurrent_activation", "sigmoid"))
    major = major_of(headers.keras_version)
    if recurrent == "hard_sigmoid" and major is None:
        raise refusal(
            layer,
            "recurrent_activation",
            recurrent,
            "the file does not say which Keras wrote it, and Keras 2 and 3 define hard_sigmoid "
            "differently; save the weights and upload them with the recurrent_activation option",
        )
    if recurrent not in ("sigmoid", "hard_sigmoid"):
        raise refusal(
            layer,
            "recurrent_activation",
            recurrent,
            "Gatescope computes sigmoid and Keras 2's hard_sigmoid only",
        )
    gate = recurrent
    if recurrent == "hard_sigmoid" and major is not None and major >= 3:
        gate = "hard_sigmoid_keras3"  # relu6(z + 3)/6, where Keras 2's is clip(0.2·z + 0.5, 0, 1)
    if headers.gate_activation not in (None, gate):
        raise refusal(
            layer,
            "recurrent_activation",
            recurrent,
            "the layers below it use another; Gatescope computes one for all",
        )
    headers.gate_activation = gate


def halves(layer: str, cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Bidirectional wrapper's forward and backward LSTM configs, refused unless they form
    torch's layout: merge_mode "concat" ([h_fwd ; h_bwd], forward first) and one set of settings.
    The backward half's go_backwards=True is what makes it the backward direction."""
    merge = cfg.get("merge_mode", "concat")
    if merge != "concat":
        raise refusal(
            layer,
            "merge_mode",
            merge,
            "Gatescope computes both directions' h concatenated, forward first (merge_mode='concat'), "
            "as torch does; save the model with merge_mode='concat'",
        )
    forward = cfg.get("layer")
    backward = cfg.get("backward_layer") or forward  # Keras 2 and the default: a copy of the layer
    if not isinstance(forward, dict) or not isinstance(backward, dict):
        raise Invalid(
            f"Keras layer {layer!r} is a Bidirectional wrapper with no layer in its config",
            ["weights", layer],
        )
    for half in (forward, backward):
        kind = str(half.get("class_name", "?"))
        if kind != "LSTM":
            raise Invalid(
                f"Keras layer {layer!r} is a Bidirectional {kind}; Gatescope shows LSTMs",
                ["weights", layer, "layer"],
            )
    f, b = (_config(forward), _config(backward))
    for setting in SHARED:
        if f.get(setting) != b.get(setting):
            raise Invalid(
                f"Keras layer {layer!r} is a Bidirectional whose halves differ in {setting} "
                f"({f.get(setting)!r} forward, {b.get(setting)!r} backward): Gatescope computes both "
                "directions with one set of settings, as torch does",
                ["weights", layer, setting],
                setting=setting,
            )
    if f.get("go_backwards"):
        raise refusal(
            layer,
            "go_backwards",
            True,
            "its forward half reads backwards; Gatescope computes torch's layout only",
        )
    return f, b


def _config(entry: dict[str, Any]) -> dict[str, Any]:
    cfg = entry.get("config")
    return cfg if isinstance(cfg, dict) else {}


def check_embedding(layer: str, cfg: dict[str, Any]) -> None:
    if cfg.get("mask_zero"):
        raise refusal(
            layer,
            "mask_zero",
            True,
            "Keras then skips the steps of token 0, carrying the state over them, which Gatescope "
            "does not compute; save the model without mask_zero",
        )


def head_activation(layer: str, cfg: dict[str, Any]) -> str:
    """A Dense layer's activation, if it is one whose outputs Gatescope computes: 'linear' (its
    outputs are the logits) or 'softmax' (its outputs are softmax(logits), Gatescope's probs)."""
    activation = name_of(cfg.get("activation", "linear"))
    if activation not in HEAD_ACTIVATIONS:
        raise refusal(
            layer,
            "activation",
            activation,
            "Gatescope computes an output layer's logits and their softmax only "
            "(activation 'linear' or 'softmax')",
        )
    return activation


def name_of(value: Any) -> str:
    """An activation as the config names it: a string, or a serialized object."""
    if isinstance(value, dict):
        inner = value.get("config")
        return str(
            inner.get("name") if isinstance(inner, dict) and "name" in inner else value.get("class_name")
        )
    return str(value)


def major_of(version: Any) -> int | None:
    match = re.match(r"\s*([0-9]{1,3})\.", str(version)) if version is not None else None
    return int(match[1]) if match else None


def check_between(layers: list[Layer], lstms: list[Layer], headers: Any) -> None:
    """LSTMs are stacked only if each feeds the next: with a config, nothing but dropout between
    them; without one, each kernel reading the units (both directions') of the one below."""
    if layers[0].config is not None:
        first, last = layers.index(lstms[0]), layers.index(lstms[-1])
        for layer in layers[first:last]:
            if layer.kind not in PASS_THROUGH and layer.kind not in LSTM_KINDS:
                raise Invalid(
                    f"{layer.kind} layer {layer.name!r} stands between the LSTM layers "
                    f"{[x.name for x in lstms]}: Gatescope stacks LSTMs that feed each other directly",
                    ["weights", layer.name],
                )
    for below, above in zip(lstms, lstms[1:], strict=False):
        units = below.tensors.get("recurrent_kernel")
        kernel = above.tensors.get("kernel")
        if units is None or kernel is None or not (units.shape and kernel.shape):
            continue  # the engine's shape checks say what is missing
        width = units.shape[0] * (2 if below.kind == "Bidirectional" else 1)
        if kernel.shape[0] != width:
            raise Invalid(
                f"Keras layer {above.name!r} reads {kernel.shape[0]} inputs but {below.name!r} "
                + (f"hands it {width}" if below.kind == "Bidirectional" else f"has {width} units")
                + ": Gatescope stacks LSTMs that feed each other directly"
                + (" (a .weights.h5 file orders them by name only)" if headers.file == ".weights.h5" else ""),
                ["weights", above.name],
            )
