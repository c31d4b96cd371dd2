"""Uploaded weights: the file's headers checked against the limits before any array is read, then
its data and its input description; everything is checked before anything is stored, so a refused
upload leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

from app.models import formats, upload
from app.refusal import Invalid
from app.service import limits, run
from app.service.limits import Limits
from app.service.requests import MAX_ABS
from app.service.store import Store


def _vocabulary(raw: str) -> str:
    """A vocabulary given as a plain string, or as a JSON list of one-character strings."""
    vocab = raw
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except ValueError as e:
            raise Invalid(f"vocab looks like a JSON list but is not valid JSON: {e}", ["vocab"]) from None
        except RecursionError:  # "[[[[…": the parser gives up before the list ends
            raise Invalid("vocab looks like a JSON list but nests too deeply to be one", ["vocab"]) from None
        if not isinstance(items, list) or not all(isinstance(c, str) and len(c) == 1 for c in items):
            raise Invalid("vocab as a JSON list must hold one-character strings", ["vocab"])
        vocab = "".join(items)
    if not vocab:
        raise Invalid("vocab is empty", ["vocab"])
    seen: set[str] = set()
    for k, ch in enumerate(vocab):
        if ch in seen:
            raise Invalid(f"vocab repeats {ch!r} (U+{ord(ch):04X}) at position {k}", ["vocab", k])
        if 0xD800 <= ord(ch) <= 0xDFFF:  # half a character: no text can hold it, nor a link keep it
            raise Invalid(f"vocab holds a lone surrogate (U+{ord(ch):04X}) at position {k}", ["vocab", k])
        seen.add(ch)
    return vocab


def accept(
    raw: bytes,
    filename: str,
    vocab: str | None,
    input_size: int | None,
    name: str | None,
    gate_activation: str,
    forget_bias: float,
    s: Limits,
    models: Store,
    module: str | None = None,
) -> dict[str, Any]:
    """Check everything, then store: a refused upload leaves nothing behind."""
    if (vocab is None) == (input_size is None):
        raise Invalid("give either 'vocab' (the characters, in one-hot order) or 'input_size'", [])
    headers = formats.read_headers(raw, s.max_upload_bytes * 4, s.max_upload_tensors)
    # A Keras 2 file whose layers use hard_sigmoid says so itself (app.models.kerasfile)
    gate_activation = getattr(headers, "gate_activation", None) or gate_activation
    plan = upload.plan(headers, module or None)  # an empty form field counts as absent
    declared = plan.declared_shape()
    described = None
    if declared is not None:  # None: the names or shapes are off, and load says how
        H, layers, I = declared
        limits.check_size(H, layers, s, ["weights"], input_size=I)
        described = _described(vocab, input_size, gate_activation, (4 * H, I))  # before any array
    upload.check_sizes(plan, largest_tensor(s))
    weights, native = upload.load(plan, forget_bias, MAX_ABS)
    if described is None:
        described = _described(vocab, input_size, gate_activation, weights["weight_ih_l0"].shape)
    # Keras go_backwards: the same weights read backwards are another model, so part of its id
    # (absent: forwards). `is True`: on other formats' plain lists, .reverse is list.reverse.
    if getattr(headers, "reverse", None) is True:
        described["reverse"] = True
    model_id = upload.content_id(weights, described)
    info = {**described, "name": name, "file": filename, "forget_bias": forget_bias, "source": plan.source}
    if plan.module is not None:  # what of a whole model's file was taken, and what left out
        info |= {"module": plan.module, **_left_out(plan.ignored)}
    created = models.put_model(model_id, info, native)
    if not created:  # the same weights, uploaded before: answer what the store keeps (its name…)
        info = models.get_info(model_id) or info
    model = upload.as_model(model_id, info, weights)
    return {"id": model_id, "url": f"/?model={model_id}", "created": created, "model": run.model_info(model)}


def _described(
    vocab: str | None, input_size: int | None, gate_activation: str, first: tuple[int, ...]
) -> dict[str, Any]:
    """The input description, checked against weight_ih_l0's shape `first` (4H, I)."""
    I = first[1]
    described: dict[str, Any] = {"gate_activation": gate_activation}
    if vocab is not None:
        described["vocab"] = _vocabulary(vocab)
        if len(described["vocab"]) != I:
            raise Invalid(
                f"vocab has {len(described['vocab'])} characters but the weights take "
                f"{I} inputs per step (weight_ih_l0 is {tuple(first)})",
                ["vocab"],
            )
    else:
        described["input_size"] = input_size
        if input_size != I:
            raise Invalid(
                f"input_size is {input_size} but the weights take {I} inputs per step "
                f"(weight_ih_l0 is {tuple(first)})",
                ["input_size"],
            )
    return described


def _left_out(ignored: tuple[str, ...]) -> dict[str, Any]:
    """The names left out, as stored: at most IGNORED_KEPT, each at most IGNORED_NAME characters
    (a file may hold up to GATESCOPE_MAX_UPLOAD_TENSORS names of any length), and how many."""
    kept = [n if len(n) <= IGNORED_NAME else n[: IGNORED_NAME - 1] + "…" for n in ignored[:IGNORED_KEPT]]
    return {"ignored": kept, "ignored_count": len(ignored)}


IGNORED_KEPT = 32
IGNORED_NAME = 200


def largest_tensor(s: Limits) -> int:
    """The most numbers one tensor of an LSTM within the limits holds: weight_ih_l0 (4H, I) or,
    in a layer above, weight_ih (4H, H)."""
    return 4 * s.max_hidden * max(s.max_input_size, s.max_hidden)
