"""POST /api/models: your own LSTM's weights, checked, stored once by content, answered with an id."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile

from app.refusal import TooLarge
from app.service import uploads
from app.web.encode import JSON
from app.web.openapi import BODY, COMPUTES, STORES, refusals
from app.web.routes.api import computed
from app.web.schemas import UploadOut

# What the form's schema cannot say from the handler's signature alone (see routes.api.SCHEMA_EXTRA):
# exactly one of vocab, tokens and input_size. An empty form field counts as absent.
UPLOAD_FORM = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "x-schema-extra": {
                    "properties": {
                        "weights": {"minLength": 1},  # an empty file is refused
                        "vocab": {"anyOf": [{"type": "string", "minLength": 1}]},
                        "tokens": {"anyOf": [{"type": "string", "minLength": 2}]},
                        "input_size": {"anyOf": [{"type": "integer", "minimum": 1}]},
                        "name": {"anyOf": [{"type": "string", "maxLength": 100}]},
                        "module": {"anyOf": [{"type": "string", "maxLength": 200}]},
                        "embedding": {"anyOf": [{"type": "string", "maxLength": 200}]},
                        "head": {"anyOf": [{"type": "string", "maxLength": 200}]},
                    },
                    "oneOf": [
                        {
                            "title": "a text model",
                            "required": ["vocab"],
                            "not": {"anyOf": [{"required": ["input_size"]}, {"required": ["tokens"]}]},
                        },
                        {
                            "title": "a word model",
                            "required": ["tokens"],
                            "not": {"anyOf": [{"required": ["input_size"]}, {"required": ["vocab"]}]},
                        },
                        {
                            "title": "a vector model",
                            "required": ["input_size"],
                            "not": {"anyOf": [{"required": ["vocab"]}, {"required": ["tokens"]}]},
                        },
                    ],
                }
            }
        }
    }
}

EMBEDDING_FIELD = (
    "the module prefix of the embedding that feeds the LSTM (a weight-only module, V × I, e.g. "
    "'encoder.'), folded into its first layer so that the model reads one-hot tokens of size V; "
    "'none' for none. Needed only when several modules fit"
)
HEAD_FIELD = (
    "the module prefix of the output layer after the LSTM (weight K × H, or K × 2H when "
    "bidirectional, and bias K, e.g. 'decoder.'); 'none' for none. Needed only when several fit"
)
LABELS_FIELD = (
    "the output layer's class names, a JSON list of K strings; without it, the vocabulary when it "
    "has K characters, else '0'…'K−1'"
)


def _whole_model_fields(embedding: str | None, head: str | None, labels: str | None) -> dict[str, str | None]:
    """The form fields that say how a whole model's other modules are read."""
    return {"embedding": embedding, "head": head, "labels": labels}


router = APIRouter()  # the type, the site and the rate limit are checked first: middleware.UploadGate


@router.post(
    "/api/models",
    response_model=UploadOut,
    responses=refusals(*BODY, 403, *STORES, *COMPUTES),
    status_code=200,
    openapi_extra=UPLOAD_FORM,
)
async def upload_model(
    request: Request,
    weights: Annotated[
        UploadFile,
        File(
            description=".safetensors or .npz: torch.nn.LSTM state_dict "
            "or Keras LSTM kernel, recurrent_kernel, bias"
        ),
    ],
    vocab: Annotated[
        str | None, Form(description="the characters, in one-hot order (string or JSON list)")
    ] = None,
    input_size: Annotated[int | None, Form(ge=1, description="numbers per step, for a vector model")] = None,
    tokens: Annotated[
        str | None,
        Form(
            description="a word model's words, in one-hot order: a JSON list of distinct strings "
            "without whitespace (the text is split on whitespace; '<unk>' stands for words not listed)"
        ),
    ] = None,
    name: Annotated[str | None, Form(max_length=100)] = None,
    recurrent_activation: Annotated[
        Literal["sigmoid", "hard_sigmoid"],
        Form(description="of the i, f, o gates; hard_sigmoid is the older Keras default"),
    ] = "sigmoid",
    forget_bias: Annotated[
        float,
        Form(
            ge=-100,
            le=100,
            description=("added to the forget gate's bias at run time, as TensorFlow 1's BasicLSTMCell does"),
        ),
    ] = 0.0,
    module: Annotated[
        str | None,
        Form(
            max_length=200,
            description="the module prefix of the LSTM to show, in a whole model's state_dict "
            "holding several (e.g. 'encoder.'); torch names only",
        ),
    ] = None,
    embedding: Annotated[str | None, Form(max_length=200, description=EMBEDDING_FIELD)] = None,
    head: Annotated[str | None, Form(max_length=200, description=HEAD_FIELD)] = None,
    labels: Annotated[str | None, Form(max_length=200_000, description=LABELS_FIELD)] = None,
) -> JSON:
    """Store your own LSTM's weights by content hash and get its model id (unlisted)."""
    raw = await weights.read()
    s = request.app.state.settings
    if len(raw) > s.max_upload_bytes:
        raise TooLarge(
            f"the file is {len(raw)} bytes; the limit is {s.max_upload_bytes} (GATESCOPE_MAX_UPLOAD_BYTES)",
            ["weights"],
            limit=s.max_upload_bytes,
        )
    models = request.app.state.store
    filename = weights.filename or "weights"
    return await computed(
        request,
        lambda: JSON(
            uploads.accept(
                raw,
                filename,
                vocab,
                input_size,
                name,
                recurrent_activation,
                forget_bias,
                s,
                models,
                module,
                **_whole_model_fields(embedding, head, labels),
                tokens=tokens,
            )
        ),
    )
