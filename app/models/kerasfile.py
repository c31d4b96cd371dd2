"""Keras files read with h5py: a Keras 3 .keras archive (config.json, metadata.json and
model.weights.h5 in a zip), a Keras 3 .weights.h5, and a legacy .h5 (Keras 2's layout, written by
`model.save("m.h5")` or `save_weights`). Only LSTM layers are taken; several are stacked in the
order the model runs them, and named as Keras tensors are today: `kernel`, `recurrent_kernel`,
`bias` for the first, with `_l1`, `_l2`… for the ones above it.

Every dataset is judged by its header (dtype, shape, storage) before a byte of it is read, and
only hard links inside the file are followed: external and soft links, external storage and
virtual datasets would read other files on the server, and are refused.

The config, where the file holds one, is honoured: what Gatescope cannot compute exactly (an
activation other than tanh, go_backwards, a Bidirectional wrapper, Keras 3's hard_sigmoid) is
refused, naming the layer and the setting. Keras 2's hard_sigmoid, clip(0.2·z + 0.5, 0, 1), is
the engine's own, and is handed on as `Headers.gate_activation`.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from app.models.formats import CORRUPT as READING
from app.models.formats import FLOATS, SAVE_AS, Header, _check_dims
from app.refusal import Invalid, TooLarge

SIGNATURE = b"\x89HDF\r\n\x1a\n"  # HDF5's superblock signature, at offset 0 in Keras's files
ARCHIVE_MEMBERS = ("config.json", "model.weights.h5")
MAX_ARCHIVE_MEMBERS = 16  # a .keras holds three (and an assets folder at most)
MAX_CONFIG = 1024 * 1024  # a model's config.json takes a few KB per layer
# what h5py raises on a damaged file or object
CORRUPT = (*READING, KeyError, TypeError, AttributeError)  # and what h5py raises
PARTS = ("kernel", "recurrent_kernel", "bias")
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


class Headers(list[Header]):
    """The LSTM tensors' headers, with what the file says about computing them."""

    def __init__(self) -> None:
        super().__init__()
        self.format = "Keras"  # ".keras", ".weights.h5" or "legacy .h5"
        self.keras_version: str | None = None
        self.gate_activation: str | None = None  # "hard_sigmoid": a Keras 2 file says so; else None
        self.layers: list[str] = []  # the Keras layers taken, bottom first


@dataclass
class Layer:
    """One Keras layer as the config describes it (config None: a weights-only file)."""

    name: str
    kind: str  # the config's class_name, or what the weights' shapes say
    config: dict[str, Any] | None = None
    tensors: dict[str, h5py.Dataset] = field(default_factory=dict)


def is_hdf5(raw: bytes) -> bool:
    return raw[:8] == SIGNATURE


def is_archive(raw: bytes) -> bool:
    """A zip whose members include config.json and model.weights.h5: a .keras archive. A zip with
    more members than a .keras holds is left to the .npz reader, which judges its size."""
    from app.models.formats import _zip_directory

    count, size = _zip_directory(raw)
    if not 0 < count <= MAX_ARCHIVE_MEMBERS or size > MAX_ARCHIVE_MEMBERS * 1024:
        return False
    try:
        names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError):
        return False
    return all(name in names for name in ARCHIVE_MEMBERS)


def read_archive(raw: bytes, max_unpacked: int, max_tensors: int) -> Headers:
    """A .keras archive: its config and version, then its weights."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = {m.filename: m for m in archive.infolist()}
        if members["config.json"].file_size > MAX_CONFIG:
            raise Invalid(
                f"the .keras file's config.json takes {members['config.json'].file_size:,} bytes; "
                f"a model's config takes far less than {MAX_CONFIG:,}",
                ["weights", "config.json"],
            )
        weights = members["model.weights.h5"]
        if weights.file_size > max_unpacked:
            raise TooLarge(
                f"the .keras file's model.weights.h5 unpacks to {weights.file_size} bytes; "
                f"the limit is {max_unpacked}",
                ["weights", "model.weights.h5"],
                limit=max_unpacked,
            )
        config = _json(archive.read("config.json"), "the .keras file's config.json")
        metadata = {}
        if "metadata.json" in members and members["metadata.json"].file_size <= MAX_CONFIG:
            metadata = _json(archive.read("metadata.json"), "the .keras file's metadata.json")
        h5 = archive.read(weights)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError) as e:
        raise Invalid(f"the .keras file is not a readable zip archive ({e})", ["weights"]) from None
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    headers = Headers()
    headers.format, headers.keras_version = ".keras", str(version or "3")
    return _read_h5(h5, headers, config, max_unpacked, max_tensors)


def read_hdf5(raw: bytes, max_unpacked: int, max_tensors: int) -> Headers:
    """A Keras 3 .weights.h5 (no config) or a legacy .h5 (its config in `model_config`)."""
    headers = Headers()
    headers.format = "HDF5"
    return _read_h5(raw, headers, None, max_unpacked, max_tensors)


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise Invalid(f"{what} is not JSON ({e})", ["weights"]) from None


def _read_h5(raw: bytes, headers: Headers, config: Any, max_unpacked: int, max_tensors: int) -> Headers:
    try:
        f = h5py.File(io.BytesIO(raw), "r")
    except CORRUPT as e:
        raise Invalid(f"the file starts as HDF5 but is not a readable HDF5 file ({e})", ["weights"]) from None
    try:
        if config is None and "model_config" not in f.attrs and f.get("layers", getlink=True) is not None:
            headers.format, headers.keras_version = ".weights.h5", headers.keras_version or "3"
            layers = _weights_only_layers(f, max_tensors)
        elif config is not None:
            layers = _keras3_layers(f, _config_layers(config, headers.format), headers)
        else:
            layers = _legacy_layers(f, headers, max_tensors)
        return _headers(layers, headers, max_unpacked, max_tensors)
    except CORRUPT as e:
        raise Invalid(f"the {headers.format} file is truncated or corrupt ({e})", ["weights"]) from None


def _attr(obj: h5py.HLObject, name: str) -> Any:
    value = obj.attrs.get(name)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value.tolist()]
    return value


def _child(group: h5py.Group, name: str) -> Any:
    """group[name] through a hard link only, or None if there is none."""
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise Invalid(
            f"the HDF5 file links {group.name.rstrip('/')}/{name} elsewhere ({type(link).__name__}); "
            "Gatescope reads only what the file itself holds",
            ["weights", name],
        )
    return group[name]


def _path(group: h5py.Group, path: str) -> Any:
    for part in path.strip("/").split("/"):
        if not isinstance(group, h5py.Group):
            return None
        group = _child(group, part)
        if group is None:
            return None
    return group


def _config_layers(config: Any, where: str) -> list[dict[str, Any]]:
    """The layers of a Sequential or Functional model's config, in the order they are listed."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner  # Keras 2.0–2.2: a list
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise Invalid(f"the {where} file's config lists no layers", ["weights", "config"])
    return layers


def _layer(entry: dict[str, Any]) -> Layer:
    cfg = entry.get("config")
    cfg = cfg if isinstance(cfg, dict) else {}
    return Layer(str(cfg.get("name", "?")), str(entry.get("class_name", "?")), cfg)


def _keras3_layers(f: h5py.File, entries: list[dict[str, Any]], headers: Headers) -> list[Layer]:
    """A .keras archive's layers. Keras 3 files a layer's weights not by its name but by its class
    and its rank among the model's layers of that class: the n-th LSTM's are at
    layers/lstm_{n}/cell/vars/0, 1, 2 ('lstm' for the first)."""
    layers = [_layer(e) for e in entries]
    rank = 0
    for layer in layers:
        if layer.kind == "LSTM":
            path = f"layers/lstm_{rank}" if rank else "layers/lstm"
            rank += 1
            vars_ = _path(f, f"{path}/cell/vars")
            if not isinstance(vars_, h5py.Group):
                raise Invalid(
                    f"Keras layer {layer.name!r} is an LSTM in config.json but model.weights.h5 holds "
                    f"no weights for it ({path}/cell/vars)",
                    ["weights", layer.name],
                )
            layer.tensors = _vars(vars_)
    return layers


def _vars(group: h5py.Group) -> dict[str, h5py.Dataset]:
    """An LSTM cell's vars 0, 1, 2: kernel, recurrent_kernel and (with use_bias) bias."""
    found = {}
    for index, part in enumerate(PARTS):
        dataset = _child(group, str(index))
        if dataset is not None:
            found[part] = dataset
    return found


def _weights_only_layers(f: h5py.File, max_tensors: int) -> list[Layer]:
    """A .weights.h5 holds no config: a layer is an LSTM by its cell's shapes (recurrent kernel
    H × 4H). Keras numbers the layers of each class in the model's order (lstm, lstm_1, lstm_2…),
    whatever their names; HDF5 lists them alphabetically (lstm_10 before lstm_2): sorted by number.
    What stands between two LSTMs is not known without the config."""
    group = _child(f, "layers")
    if not isinstance(group, h5py.Group):
        raise Invalid("the .weights.h5 file's 'layers' is not a group", ["weights", "layers"])
    _check_layer_count(len(group), max_tensors, "the .weights.h5 file holds", "layers")
    layers = []
    for name in sorted(group, key=_natural):
        layer_group = _child(group, name)
        if not isinstance(layer_group, h5py.Group):
            continue
        if _child(layer_group, "forward_layer") is not None:
            layers.append(Layer(name, "Bidirectional"))
            continue
        vars_ = _path(layer_group, "cell/vars")
        if not isinstance(vars_, h5py.Group):
            layers.append(Layer(name, "layer"))  # a Dense, an Embedding…: no config says
            continue
        tensors = _vars(vars_)
        recurrent = tensors.get("recurrent_kernel")
        shape = recurrent.shape if recurrent is not None else None
        kind = "recurrent layer"
        if shape and len(shape) == 2:
            kind = {4: "LSTM", 3: "GRU", 1: "SimpleRNN"}.get(shape[1] // max(shape[0], 1), kind)
        layers.append(Layer(name, kind, None, tensors if kind == "LSTM" else {}))
    return layers


def _check_layer_count(count: int, max_tensors: int, says: str, where: str) -> None:
    if count > 4 * max_tensors:
        raise TooLarge(
            f"{says} {count} layers; an LSTM of at most {max_tensors} tensors "
            "(GATESCOPE_MAX_UPLOAD_TENSORS) needs far fewer",
            ["weights", where],
            limit=max_tensors,
        )


def _natural(name: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"([0-9]+)", name) if p]


def _legacy_layers(f: h5py.File, headers: Headers, max_tensors: int) -> list[Layer]:
    """Keras 2's layout (and Keras 3's `model.save("m.h5")`): the config in the `model_config`
    attribute, the weights in model_weights/<layer> (or the root, for save_weights) with their
    paths in each layer's `weight_names`."""
    headers.format = "legacy .h5"
    headers.keras_version = _attr(f, "keras_version")
    weights = _child(f, "model_weights") if "model_weights" in f else f
    if not isinstance(weights, h5py.Group):
        raise Invalid("the .h5 file's model_weights is not a group", ["weights", "model_weights"])
    names = _attr(weights, "layer_names")
    if not isinstance(names, list):
        raise Invalid(
            "the file is HDF5 but not a Keras file: it has neither a 'layers' group (.weights.h5) nor "
            "'layer_names' (a legacy Keras .h5)",
            ["weights"],
        )
    _check_layer_count(len(names), max_tensors, "the .h5 file lists", "layer_names")
    raw_config = _attr(f, "model_config")
    if raw_config is not None:
        entries = _config_layers(_json(str(raw_config).encode(), "the .h5 file's model_config"), "legacy .h5")
        layers = [_layer(e) for e in entries]
    else:  # save_weights of Keras 2: names and weights only
        layers = [Layer(name, "?") for name in names]
    for layer in layers:
        if layer.kind not in ("LSTM", "?") or layer.name not in names:
            continue
        group = _child(weights, layer.name)
        paths = _attr(group, "weight_names") if isinstance(group, h5py.Group) else None
        tensors = {}
        for path in paths or []:
            part = path.rsplit("/", 1)[-1].removesuffix(":0")
            dataset = _path(group, path)
            if part in PARTS and isinstance(dataset, h5py.Dataset):
                tensors[part] = dataset
        recurrent = tensors.get("recurrent_kernel")
        if layer.kind == "?":  # no config: an LSTM by its shapes
            shape: tuple[int, ...] = recurrent.shape if recurrent is not None else ()
            layer.kind = "LSTM" if len(shape) == 2 and shape[1] == 4 * shape[0] else "a layer"
        layer.tensors = tensors
    return layers


def _check_config(layer: Layer, headers: Headers) -> None:
    """Refuse what Gatescope cannot compute exactly, naming the layer and the setting."""
    cfg = layer.config or {}
    where = f"Keras layer {layer.name!r}"
    loc = ["weights", layer.name]

    def refuse(setting: str, value: Any, why: str) -> Invalid:
        return Invalid(f"{where} has {setting}={value!r}: {why}", [*loc, setting], setting=setting)

    activation = _name(cfg.get("activation", "tanh"))
    if activation != "tanh":
        raise refuse("activation", activation, "Gatescope computes the cell and output with tanh only")
    if cfg.get("go_backwards"):
        raise refuse(
            "go_backwards", True, "Gatescope reads the sequence forwards only; save the layer without it"
        )
    recurrent = _name(cfg.get("recurrent_activation", "sigmoid"))
    major = _major(headers.keras_version)
    if recurrent == "hard_sigmoid" and major is not None and major >= 3:
        raise refuse(
            "recurrent_activation",
            recurrent,
            "Keras 3's hard_sigmoid is relu6(z + 3)/6, which Gatescope does not compute "
            "(it computes sigmoid, and Keras 2's hard_sigmoid, clip(0.2·z + 0.5, 0, 1))",
        )
    if recurrent == "hard_sigmoid" and major is None:
        raise refuse(
            "recurrent_activation",
            recurrent,
            "the file does not say which Keras wrote it, and Keras 2 and 3 define hard_sigmoid "
            "differently; save the weights and upload them with the recurrent_activation option",
        )
    if recurrent not in ("sigmoid", "hard_sigmoid"):
        raise refuse(
            "recurrent_activation", recurrent, "Gatescope computes sigmoid and Keras 2's hard_sigmoid only"
        )
    gate = "hard_sigmoid" if recurrent == "hard_sigmoid" else "sigmoid"
    if headers.gate_activation not in (None, gate):
        raise refuse(
            "recurrent_activation",
            recurrent,
            "the layers below it use another; Gatescope computes one for all",
        )
    headers.gate_activation = gate


def _name(value: Any) -> str:
    """An activation as the config names it: a string, or a serialized object."""
    if isinstance(value, dict):
        inner = value.get("config")
        return str(
            inner.get("name") if isinstance(inner, dict) and "name" in inner else value.get("class_name")
        )
    return str(value)


def _major(version: Any) -> int | None:
    match = re.match(r"\s*([0-9]{1,3})\.", str(version)) if version is not None else None
    return int(match[1]) if match else None


def _headers(layers: list[Layer], headers: Headers, max_unpacked: int, max_tensors: int) -> Headers:
    """The LSTM layers' tensors as headers, after every check that needs no data."""
    lstms = [layer for layer in layers if layer.kind == "LSTM"]
    for layer in layers:
        if layer.kind == "Bidirectional":
            raise Invalid(
                f"Keras layer {layer.name!r} is a Bidirectional wrapper: Gatescope does not compute "
                "both directions yet",
                ["weights", layer.name, "Bidirectional"],
                setting="Bidirectional",
            )
    if not lstms:
        found = ", ".join(f"{layer.kind} {layer.name!r}" for layer in layers) or "no layers"
        recurrent = [RECURRENT[layer.kind] for layer in layers if layer.kind in RECURRENT]
        what = f"; Gatescope shows LSTMs, and this file holds {recurrent[0]}" if recurrent else ""
        raise Invalid(f"the {headers.format} file holds no LSTM layer (found: {found}){what}", ["weights"])
    _check_between(layers, lstms, headers)
    headers.layers = [layer.name for layer in lstms]
    total = 0
    for k, layer in enumerate(lstms):
        if layer.config is not None:
            _check_config(layer, headers)
        if len(headers) + len(layer.tensors) > max_tensors:
            raise TooLarge(
                f"the {headers.format} file's LSTM layers hold more than {max_tensors} tensors "
                "(GATESCOPE_MAX_UPLOAD_TENSORS)",
                ["weights"],
                limit=max_tensors,
            )
        for part, dataset in layer.tensors.items():
            header = _header(f"{part}_l{k}" if k else part, layer.name, dataset)
            total += header.size * header.dtype.itemsize
            if total > max_unpacked:
                raise TooLarge(
                    f"the {headers.format} file's LSTM tensors take more than {max_unpacked} bytes",
                    ["weights", layer.name],
                    limit=max_unpacked,
                )
            headers.append(header)
    if headers.gate_activation == "sigmoid":
        headers.gate_activation = None  # the default: nothing to hand on
    return headers


def _check_between(layers: list[Layer], lstms: list[Layer], headers: Headers) -> None:
    """LSTMs are stacked only if each feeds the next: with a config, nothing but dropout between
    them; without one, each kernel reading the units of the one below."""
    if layers[0].config is not None:
        first, last = layers.index(lstms[0]), layers.index(lstms[-1])
        for layer in layers[first:last]:
            if layer.kind not in PASS_THROUGH and layer.kind != "LSTM":
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
        if kernel.shape[0] != units.shape[0]:
            raise Invalid(
                f"Keras layer {above.name!r} reads {kernel.shape[0]} inputs but {below.name!r} "
                f"has {units.shape[0]} units: Gatescope stacks LSTMs that feed each other directly"
                + (
                    " (a .weights.h5 file orders them by name only)"
                    if headers.format == ".weights.h5"
                    else ""
                ),
                ["weights", above.name],
            )


def _header(name: str, layer: str, dataset: h5py.Dataset) -> Header:
    """A dataset's header, judged before its data: a real number dtype NumPy computes with, a
    simple shape, stored in this file."""
    path = dataset.name
    if dataset.external or dataset.is_virtual:
        raise Invalid(
            f"the HDF5 dataset {path} (layer {layer!r}) keeps its data in another file; "
            "Gatescope reads only what the file itself holds",
            ["weights", name],
        )
    dtype, shape = dataset.dtype, dataset.shape
    if shape is None:
        raise Invalid(f"the HDF5 dataset {path} (layer {layer!r}) holds no array", ["weights", name])
    if dtype.kind not in "fiu" or (dtype.kind == "f" and dtype.itemsize not in FLOATS):
        raise Invalid(
            f"tensor {name!r} (HDF5 dataset {path}) is {dtype}, not a real number NumPy computes with; "
            f"{SAVE_AS}",
            ["weights", name],
            dtype=str(dtype),
        )
    _check_dims(name, shape)

    def data() -> np.ndarray:
        try:
            a = np.asarray(dataset[()])
        except CORRUPT as e:
            raise Invalid(f"the HDF5 dataset {path} cannot be read ({e})", ["weights", name]) from None
        if a.shape != shape or a.dtype != dtype or a.size != math.prod(shape):
            raise Invalid(f"the HDF5 dataset {path} is not what its header declares", ["weights", name])
        return a

    return Header(name, dtype, shape, data)
