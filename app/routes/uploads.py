"""POST /api/models: your own LSTM's weights, checked, stored once by content, answered with an id."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile

from app import run, upload
from app.encode import JSON
from app.errors import ApiError
from app.routes.api import REFUSALS, computed
from app.schemas import UploadOut
from app.settings import Settings

router = APIRouter()


def _vocabulary(raw: str) -> str:
    """A vocabulary given as a plain string, or as a JSON list of one-character strings."""
    vocab = raw
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except ValueError as e:
            raise ApiError(
                422, f"vocab looks like a JSON list but is not valid JSON: {e}", ["vocab"]
            ) from None
        if not isinstance(items, list) or not all(isinstance(c, str) and len(c) == 1 for c in items):
            raise ApiError(422, "vocab as a JSON list must hold one-character strings", ["vocab"])
        vocab = "".join(items)
    if not vocab:
        raise ApiError(422, "vocab is empty", ["vocab"])
    seen: set[str] = set()
    for k, ch in enumerate(vocab):
        if ch in seen:
            raise ApiError(422, f"vocab repeats {ch!r} (U+{ord(ch):04X}) at position {k}", ["vocab", k])
        seen.add(ch)
    return vocab


def accept(raw: bytes, filename: str, vocab: str | None, input_size: int | None, name: str | None,
           gate_activation: str, forget_bias: float, s: Settings, models: Any) -> dict[str, Any]:
    """Check everything, then store: a refused upload leaves nothing behind."""
    if (vocab is None) == (input_size is None):
        raise ApiError(422, "give either 'vocab' (the characters, in one-hot order) or 'input_size'", [])
    arrays = upload.read_arrays(raw, s.max_upload_bytes * 4)
    weights = upload.to_torch(arrays, forget_bias)
    I = weights["weight_ih_l0"].shape[1]
    H = weights["weight_hh_l0"].shape[1]
    layers = sum(1 for n in weights if n.startswith("weight_ih_l"))
    run.check_size(H, layers, s, ["weights"], input_size=I)
    described: dict[str, Any] = {"gate_activation": gate_activation}
    if vocab is not None:
        described["vocab"] = _vocabulary(vocab)
        if len(described["vocab"]) != I:
            raise ApiError(422, f"vocab has {len(described['vocab'])} characters but the weights take "
                           f"{I} inputs per step (weight_ih_l0 is {tuple(weights['weight_ih_l0'].shape)})",
                           ["vocab"])
    else:
        described["input_size"] = input_size
        if input_size != I:
            raise ApiError(422, f"input_size is {input_size} but the weights take {I} inputs per step "
                           f"(weight_ih_l0 is {tuple(weights['weight_ih_l0'].shape)})", ["input_size"])
    model_id = upload.content_id(weights, described)
    info = {**described, "name": name, "file": filename, "forget_bias": forget_bias,
            "source": upload.source_of(arrays)}
    created = models.put_model(model_id, info, weights)
    model = upload.as_model(model_id, info, weights)
    return {"id": model_id, "url": f"/?model={model_id}", "created": created, "model": run.model_info(model)}


@router.post("/api/models", response_model=UploadOut, responses=REFUSALS, status_code=200)
async def upload_model(
    request: Request,
    weights: Annotated[UploadFile, File(description=".safetensors or .npz: torch.nn.LSTM state_dict "
                                        "or Keras LSTM kernel, recurrent_kernel, bias")],
    vocab: Annotated[
        str | None, Form(description="the characters, in one-hot order (string or JSON list)")
    ] = None,
    input_size: Annotated[int | None, Form(ge=1, description="numbers per step, for a vector model")] = None,
    name: Annotated[str | None, Form(max_length=100)] = None,
    recurrent_activation: Annotated[Literal["sigmoid", "hard_sigmoid"], Form(
        description="of the i, f, o gates; hard_sigmoid is the older Keras default")] = "sigmoid",
    forget_bias: Annotated[float, Form(ge=-100, le=100, description=(
        "added to the forget gate's bias at run time, as TensorFlow 1's BasicLSTMCell does"))] = 0.0,
) -> JSON:
    """Store your own LSTM's weights by content hash and get its model id (unlisted)."""
    raw = await weights.read()
    s = request.app.state.settings
    if len(raw) > s.max_upload_bytes:
        raise ApiError(413, f"the file is {len(raw)} bytes; the limit is {s.max_upload_bytes} "
                       "(GATESCOPE_MAX_UPLOAD_BYTES)", ["weights"], limit=s.max_upload_bytes)
    models = request.app.state.store
    filename = weights.filename or "weights"
    return await computed(request, lambda: JSON(accept(
        raw, filename, vocab, input_size, name, recurrent_activation, forget_bias, s, models)))
