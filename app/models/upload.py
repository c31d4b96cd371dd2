"""Reads uploaded LSTM weights — torch.nn.LSTM state_dicts or Keras LSTM layers, as .safetensors
or .npz (never unpickled) — into torch naming, and names them by their content."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import numpy as np
from safetensors.numpy import load as load_safetensors

from app.engine import lstm
from app.models import zoo
from app.models.versions import tensor_hash
from app.refusal import Invalid, TooLarge

# What an uploaded model's page promises: the reference each format is checked against by the
# test suite (tests/test_uploads.py), and a bound on the largest difference it measured there.
PARITY = {
    "PyTorch": ("torch.nn.LSTM (torch 2.13.0, float64)", 1e-15),
    "Keras": (
        "a Keras 3 LSTM layer (sigmoid, float64) and the Keras 2 equations step by step (hard_sigmoid)",
        1e-14,
    ),
}

KERAS_NAME = re.compile(r"(kernel|recurrent_kernel|bias)(?:_l(\d+))?")
TORCH_NAME = re.compile(r"(?:.*\.)?((?:weight|bias)_(?:ih|hh)_l\d+(?:_reverse)?)")


def read_arrays(raw: bytes, max_unpacked: int) -> dict[str, np.ndarray]:
    """The named arrays of a .npz (a zip: 'PK' first) or a .safetensors file."""
    if not raw:
        raise Invalid("the file 'weights' is empty", ["weights"])
    if raw[:2] == b"PK":
        return _npz(raw, max_unpacked)
    return _safetensors(raw)


def _npz(raw: bytes, max_unpacked: int) -> dict[str, np.ndarray]:
    try:
        members = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    except (zipfile.BadZipFile, EOFError, ValueError) as e:
        raise Invalid(f"the .npz file is not a readable zip archive ({e})", ["weights"]) from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > max_unpacked:  # a zip bomb, or simply too much
        raise TooLarge(
            f"the .npz file unpacks to {unpacked} bytes; the limit is {max_unpacked}",
            ["weights"],
            limit=max_unpacked,
        )
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as f:
            return {name: f[name] for name in f.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise Invalid(
                "the .npz file holds pickled objects, which are never loaded; save plain numeric arrays",
                ["weights"],
            ) from None
        raise Invalid(f"the .npz file could not be read: {e}", ["weights"]) from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise Invalid(f"the .npz file is truncated or corrupt ({e})", ["weights"]) from None


def _safetensors(raw: bytes) -> dict[str, np.ndarray]:
    if len(raw) < 8 or int.from_bytes(raw[:8], "little") > len(raw) - 8:
        raise Invalid(
            "the file is neither .npz nor a complete .safetensors file (its header is cut short)", ["weights"]
        )
    try:
        return dict(load_safetensors(raw))
    except Exception as e:  # safetensors raises its own SafetensorError, and TypeError for bf16
        raise Invalid(f"the .safetensors file could not be read: {e}", ["weights"]) from None


def source_of(arrays: dict[str, np.ndarray]) -> str:
    """ "Keras" when every name is a Keras LSTM layer's, else "PyTorch"."""
    return "Keras" if arrays and all(KERAS_NAME.fullmatch(n) for n in arrays) else "PyTorch"


def to_torch(arrays: dict[str, np.ndarray], forget_bias: float = 0.0) -> dict[str, np.ndarray]:
    """torch.nn.LSTM tensors from torch names (a module prefix such as 'lstm.' is dropped) or
    from Keras layers (kernel, recurrent_kernel, bias; _l1, _l2… for stacked layers).
    forget_bias is added to the forget gate's bias, as TensorFlow 1's BasicLSTMCell does."""
    if source_of(arrays) == "Keras":
        weights = _from_keras(arrays)
    else:
        weights = {}
        for name, value in arrays.items():
            match = TORCH_NAME.fullmatch(name)
            weights[match[1] if match else name] = value  # unknown names: shape_of says why
    weights = {k: np.asarray(v, dtype=np.float64) if _numeric(v) else v for k, v in weights.items()}
    try:
        shape = lstm.shape_of(weights)
    except lstm.WeightError as e:
        raise Invalid(str(e), ["weights", e.name] if e.name else ["weights"]) from None
    if forget_bias:
        H = shape.hidden_size
        for k in range(shape.layers):
            bias = weights.get(f"bias_ih_l{k}", np.zeros(4 * H)).copy()
            bias[H : 2 * H] += forget_bias
            weights[f"bias_ih_l{k}"] = bias
    return weights


def _numeric(value: Any) -> bool:
    return (
        isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.number) and not np.iscomplexobj(value)
    )


def _from_keras(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    layers: dict[int, dict[str, np.ndarray]] = {}
    for name, value in arrays.items():
        match = KERAS_NAME.fullmatch(name)
        assert match is not None
        layers.setdefault(int(match[2] or 0), {})[match[1]] = value
    weights: dict[str, np.ndarray] = {}
    for k, parts in sorted(layers.items()):
        for needed in ("kernel", "recurrent_kernel"):
            if needed not in parts:
                suffix = f"_l{k}" if k else ""
                raise Invalid(f"Keras layer {k} has no '{needed}{suffix}'", ["weights", needed + suffix])
        try:
            weights |= lstm.keras_to_torch(parts["kernel"], parts["recurrent_kernel"], parts.get("bias"), k)
        except lstm.WeightError as e:
            raise Invalid(f"Keras layer {k}: {e}", ["weights", e.name or "kernel"]) from None
    return weights


def content_id(weights: dict[str, np.ndarray], description: dict[str, Any]) -> str:
    """An id from the tensors' values (float64) and the input description, not the file's bytes:
    the same weights saved as .npz or .safetensors get the same id."""
    return "up-" + tensor_hash(weights, description)


def as_model(model_id: str, info: dict[str, Any], weights: dict[str, np.ndarray]) -> zoo.Model:
    """A stored upload as a model, with its parity badge."""
    reference, bound = PARITY[info.get("source", "PyTorch")]
    parity = f"Checked against {reference} by the test suite: largest difference below {bound:.0e}."
    return zoo.from_upload(model_id, info, weights, parity)
