"""Keras files read with h5py: a Keras 3 .keras archive (config.json, metadata.json and
model.weights.h5 in a zip), a Keras 3 .weights.h5, and a legacy .h5 (Keras 2's layout, written by
`model.save("m.h5")` or `save_weights`). LSTM layers are taken, plain or all Bidirectional,
stacked in the order the model runs them, with the Embedding directly below them and the Dense
directly above them; which, and how their configs are judged, is app.models.kerasconfig's. They
are named `kernel`, `recurrent_kernel`, `bias` for the first LSTM, with `_l1`, `_l2`… for the
ones above it and `_l{k}_reverse` for a Bidirectional's backward half; `embeddings`;
`dense_kernel`, `dense_bias`.

Every dataset is judged by its header (dtype, shape, storage) before a byte of it is read, and
only hard links inside the file are followed: external and soft links, external storage and
virtual datasets would read other files on the server, and are refused.

`Headers` hands on what the file says about computing it: Keras 2's hard_sigmoid (the engine's
own) as `gate_activation`, go_backwards on the one LSTM as `reverse`, the `format` and, in words,
the `conversions` made.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from typing import Any

import h5py
import numpy as np

from app.models import kerasconfig
from app.models.formats import CORRUPT as READING
from app.models.formats import FLOATS, SAVE_AS, Header, check_dims
from app.models.kerasconfig import Layer
from app.refusal import Invalid, TooLarge

SIGNATURE = b"\x89HDF\r\n\x1a\n"  # HDF5's superblock signature, at offset 0 in Keras's files
ARCHIVE_MEMBERS = ("config.json", "model.weights.h5")
MAX_ARCHIVE_MEMBERS = 16  # a .keras holds three (and an assets folder at most)
MAX_CONFIG = 1024 * 1024  # a model's config.json takes a few KB per layer
# what h5py raises on a damaged file or object
CORRUPT = (*READING, KeyError, TypeError, AttributeError)  # and what h5py raises
PARTS = ("kernel", "recurrent_kernel", "bias")
# where a .keras or .weights.h5 files each class's weights (layers/<snake>_<rank>), and their parts
SNAKE = {"LSTM": "lstm", "Bidirectional": "bidirectional", "Embedding": "embedding", "Dense": "dense"}
VARS = {"Embedding": ("embeddings",), "Dense": ("kernel", "bias")}
FORMATS = {".keras": "Keras .keras", ".weights.h5": "Keras .weights.h5", "legacy .h5": "Keras .h5 (legacy)"}


class Headers(list[Header]):
    """The tensors' headers, with what the file says about computing them."""

    def __init__(self) -> None:
        super().__init__()
        self.file = "Keras"  # ".keras", ".weights.h5" or "legacy .h5": what messages call the file
        self.format = "Keras"  # what the upload's info records: "Keras .keras"…
        self.keras_version: str | None = None
        self.gate_activation: str | None = None  # "hard_sigmoid": a Keras 2 file says so; else None
        self.backwards = False  # go_backwards on the one LSTM layer: the engine's reverse=True
        self.layers: list[str] = []  # the Keras layers taken, bottom first
        self.conversions: list[str] = []  # what was converted, in words, for the upload's info


def is_hdf5(raw: bytes) -> bool:
    return raw[:8] == SIGNATURE


def is_archive(raw: bytes) -> bool:
    """A zip whose members include config.json and model.weights.h5: a .keras archive. A zip with
    more members than a .keras holds is left to the .npz reader, which judges its size."""
    from app.models.formats import zip_directory

    count, size = zip_directory(raw)
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
    headers.file, headers.keras_version = ".keras", str(version or "3")
    return _read_h5(h5, headers, config, max_unpacked, max_tensors)


def read_hdf5(raw: bytes, max_unpacked: int, max_tensors: int) -> Headers:
    """A Keras 3 .weights.h5 (no config) or a legacy .h5 (its config in `model_config`)."""
    headers = Headers()
    headers.file = "HDF5"
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
            headers.file, headers.keras_version = ".weights.h5", headers.keras_version or "3"
            layers = _weights_only_layers(f, max_tensors)
        elif config is not None:
            layers = _keras3_layers(f, kerasconfig.config_layers(config, headers.file), headers)
        else:
            layers = _legacy_layers(f, headers, max_tensors)
        return _headers(layers, headers, max_unpacked, max_tensors)
    except CORRUPT as e:
        raise Invalid(f"the {headers.file} file is truncated or corrupt ({e})", ["weights"]) from None


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


def _layer(entry: dict[str, Any]) -> Layer:
    cfg = entry.get("config")
    cfg = cfg if isinstance(cfg, dict) else {}
    return Layer(str(cfg.get("name", "?")), str(entry.get("class_name", "?")), cfg)


def _keras3_layers(f: h5py.File, entries: list[dict[str, Any]], headers: Headers) -> list[Layer]:
    """A .keras archive's layers. Keras 3 files a layer's weights not by its name but by its class
    and its rank among the model's layers of that class: the n-th LSTM's are at
    layers/lstm_{n}/cell/vars/0, 1, 2 ('lstm' for the first), a Bidirectional's halves at
    layers/bidirectional_{n}/forward_layer/cell/vars and backward_layer/…, an Embedding's and a
    Dense's at layers/embedding_{n}/vars and layers/dense_{n}/vars."""
    layers = [_layer(e) for e in entries]
    ranks: dict[str, int] = {}
    for layer in layers:
        snake = SNAKE.get(layer.kind)
        if snake is None:
            continue
        rank = ranks[snake] = ranks.get(snake, -1) + 1
        path = f"layers/{snake}_{rank}" if rank else f"layers/{snake}"
        if layer.kind == "LSTM":
            layer.tensors = _cell(f, path, layer)
        elif layer.kind == "Bidirectional":
            layer.tensors = _cell(f, f"{path}/forward_layer", layer)
            layer.backward = _cell(f, f"{path}/backward_layer", layer)
        else:
            vars_ = _path(f, f"{path}/vars")
            layer.tensors = _vars(vars_, VARS[layer.kind]) if isinstance(vars_, h5py.Group) else {}
    return layers


def _cell(f: h5py.Group, path: str, layer: Layer) -> dict[str, h5py.Dataset]:
    vars_ = _path(f, f"{path}/cell/vars")
    if not isinstance(vars_, h5py.Group):
        raise Invalid(
            f"Keras layer {layer.name!r} is an {layer.kind} in config.json but model.weights.h5 holds "
            f"no weights for it ({path}/cell/vars)",
            ["weights", layer.name],
        )
    return _vars(vars_)


def _vars(group: h5py.Group, parts: tuple[str, ...] = PARTS) -> dict[str, h5py.Dataset]:
    """A layer's vars 0, 1, 2… as its parts: an LSTM cell's kernel, recurrent_kernel and (with
    use_bias) bias; a Dense's kernel and bias; an Embedding's embeddings."""
    found = {}
    for index, part in enumerate(parts):
        dataset = _child(group, str(index))
        if dataset is not None:
            found[part] = dataset
    return found


def _weights_only_layers(f: h5py.File, max_tensors: int) -> list[Layer]:
    """A .weights.h5 holds no config: a layer is an LSTM by its cell's shapes (recurrent kernel
    H × 4H), a Bidirectional by its halves, an Embedding or a Dense by the name Keras files it
    under and its vars. Keras numbers the layers of each class in the model's order (lstm, lstm_1,
    lstm_2…), whatever their names; HDF5 lists them alphabetically (lstm_10 before lstm_2): sorted
    by number. What stands between two LSTMs is not known without the config."""
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
            forward, backward = (
                _recurrent(layer_group, half) for half in ("forward_layer/", "backward_layer/")
            )
            kind = "Bidirectional" if forward[0] == backward[0] == "LSTM" else f"Bidirectional {forward[0]}"
            layers.append(Layer(name, kind, None, forward[1], backward[1]))
            continue
        kind, tensors = _recurrent(layer_group, "")
        if kind == "layer":  # no cell: an Embedding or a Dense by its name, or another layer
            vars_ = _path(layer_group, "vars")
            kind = next(
                (k for k, snake in SNAKE.items() if re.fullmatch(snake + r"(_[0-9]+)?", name)), "layer"
            )
            if kind in VARS and isinstance(vars_, h5py.Group):
                tensors = _vars(vars_, VARS[kind])
            else:
                kind = "layer"
        layers.append(Layer(name, kind, None, tensors))
    return layers


def _recurrent(group: h5py.Group, prefix: str) -> tuple[str, dict[str, h5py.Dataset]]:
    """A recurrent layer's kind by its cell's shapes, and its tensors if it is an LSTM."""
    vars_ = _path(group, f"{prefix}cell/vars")
    if not isinstance(vars_, h5py.Group):
        return "layer", {}
    tensors = _vars(vars_)
    recurrent = tensors.get("recurrent_kernel")
    shape = recurrent.shape if recurrent is not None else None
    kind = "recurrent layer"
    if shape and len(shape) == 2:
        kind = {4: "LSTM", 3: "GRU", 1: "SimpleRNN"}.get(shape[1] // max(shape[0], 1), kind)
    return kind, tensors if kind == "LSTM" else {}


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
    headers.file = "legacy .h5"
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
        entries = kerasconfig.config_layers(
            _json(str(raw_config).encode(), "the .h5 file's model_config"), "legacy .h5"
        )
        layers = [_layer(e) for e in entries]
    else:  # save_weights of Keras 2: names and weights only
        layers = [Layer(name, "?") for name in names]
    for layer in layers:
        if layer.kind not in ("?", *VARS, *kerasconfig.LSTM_KINDS) or layer.name not in names:
            continue
        group = _child(weights, layer.name)
        paths = _attr(group, "weight_names") if isinstance(group, h5py.Group) else None
        parts = VARS.get(layer.kind, PARTS)
        for path in paths or []:
            part = path.rsplit("/", 1)[-1].removesuffix(":0")
            dataset = _path(group, path)
            # a Bidirectional's weight names go through forward_lstm/… and backward_lstm/…
            backward = any(p.startswith("backward_") for p in path.split("/")[:-1])
            if part in parts and isinstance(dataset, h5py.Dataset):
                (layer.backward if backward else layer.tensors)[part] = dataset
        recurrent = layer.tensors.get("recurrent_kernel")
        if layer.kind == "?":  # no config: an LSTM by its shapes
            shape: tuple[int, ...] = recurrent.shape if recurrent is not None else ()
            layer.kind = "LSTM" if len(shape) == 2 and shape[1] == 4 * shape[0] else "a layer"
    return layers


def _headers(layers: list[Layer], headers: Headers, max_unpacked: int, max_tensors: int) -> Headers:
    """The tensors of the layers taken (app.models.kerasconfig.choose) as headers, after every
    check that needs no data: LSTM layer k's `kernel_l{k}`, `recurrent_kernel_l{k}`, `bias_l{k}`
    (no suffix for layer 0) and its backward half's with `_l{k}_reverse`; an Embedding's
    `embeddings` (V, I); a Dense's `dense_kernel` (D, K) and `dense_bias` (K,)."""
    taken = kerasconfig.choose(layers, headers)
    headers.layers = [layer.name for layer in taken.lstms]
    named: list[tuple[str, Layer, h5py.Dataset]] = []
    for k, layer in enumerate(taken.lstms):
        named += [(f"{part}_l{k}" if k else part, layer, d) for part, d in layer.tensors.items()]
        named += [(f"{part}_l{k}_reverse", layer, d) for part, d in layer.backward.items()]
    if taken.embedding is not None:
        named += [("embeddings", taken.embedding, taken.embedding.tensors["embeddings"])]
    if taken.dense is not None:
        named += [(f"dense_{part}", taken.dense, d) for part, d in taken.dense.tensors.items()]
    if len(named) > max_tensors:
        raise TooLarge(
            f"the {headers.file} file's LSTM layers hold more than {max_tensors} tensors "
            "(GATESCOPE_MAX_UPLOAD_TENSORS)",
            ["weights"],
            limit=max_tensors,
        )
    total = 0
    for name, layer, dataset in named:
        header = _header(name, layer.name, dataset)
        total += header.size * header.dtype.itemsize
        if total > max_unpacked:
            raise TooLarge(
                f"the {headers.file} file's LSTM tensors take more than {max_unpacked} bytes",
                ["weights", layer.name],
                limit=max_unpacked,
            )
        headers.append(header)
    headers.format = FORMATS.get(headers.file, "Keras")
    headers.conversions.insert(0, "gate columns i, f, c, o read as torch's i, f, g, o (kernels transposed)")
    if headers.gate_activation == "sigmoid":
        headers.gate_activation = None  # the default: nothing to hand on
    return headers


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
    check_dims(name, shape)

    def data() -> np.ndarray:
        try:
            a = np.asarray(dataset[()])
        except CORRUPT as e:
            raise Invalid(f"the HDF5 dataset {path} cannot be read ({e})", ["weights", name]) from None
        if a.shape != shape or a.dtype != dtype or a.size != math.prod(shape):
            raise Invalid(f"the HDF5 dataset {path} is not what its header declares", ["weights", name])
        return a

    return Header(name, dtype, shape, data)
