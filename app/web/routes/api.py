"""The JSON API: health, the models, and runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel

from app.models import zoo
from app.service import run, step, weights
from app.service.requests import RunRequest, StepRequest
from app.service.store import Store
from app.web import body, compact, compute, media
from app.web.compute import ComputeQueue
from app.web.encode import JSON
from app.web.openapi import ANY, BODY, COMPUTES, refusals
from app.web.schemas import (
    ModelInfo,
    ModelList,
    RunResponse,
    StepResponse,
    WeightsResponse,
)
from app.web.settings import Settings

router = APIRouter()
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# What each kind of route can refuse (app.web.openapi says why).
RUNS = refusals(*BODY, 404, *COMPUTES)


async def computed(request: Request, work: Callable[[], T]) -> T:
    """Run CPU-bound work in a worker thread when a compute slot is free (see app.web.compute)."""
    queue: ComputeQueue = request.app.state.compute
    return await queue.run(work, request.receive)


async def stored(request: Request, work: Callable[[], T]) -> T:
    """Run a read that computes nothing in a thread of its own pool: it never waits behind runs."""
    return await compute.read(request.app.state.reads, work)


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    """Answers 200 when the app can serve."""
    return {"status": "ok"}


@router.get("/api/models", response_model=ModelList, responses=refusals(*ANY))
def models() -> JSON:
    """The built-in models: id, title, description, input (vocab or size), hidden size, layers."""
    return JSON({"models": [run.model_info(m) for m in zoo.listed()]})


@router.get("/api/models/{model_id}", response_model=ModelInfo, responses=refusals(*ANY, 404, 422, *COMPUTES))
async def model(model_id: str, request: Request) -> JSON:
    """One model by id, listed or not (any random-h<H>-l<layers>-s<seed> works)."""
    settings = request.app.state.settings
    models = request.app.state.store

    def info() -> JSON:
        return JSON(run.model_info(run.find_model(model_id, settings, models)))

    # A built-in model is in memory: a read. A random one's weights are drawn (random-h512-l4 takes
    # 0.1 s) and an upload's read from the store: work, which waits its turn like a run.
    return await (stored if model_id in zoo.BUILT else computed)(request, info)


@router.get(
    "/api/models/{model_id}/weights",
    response_model=WeightsResponse,
    responses=refusals(*ANY, 404, 422, *COMPUTES),
)
async def model_weights(
    model_id: str,
    request: Request,
    gate: Literal["i", "f", "g", "o"] | None = Query(None, description="one gate only"),
    layer: int | None = Query(
        None, ge=0, description="one entry only: a layer's direction, counted as /api/run's layers"
    ),
) -> JSON:
    """What each gate listens to: per entry and gate its rows of W (H × I) and U (H × H) and its
    bias b_ih + b_hh (H), in torch's layout; W's columns labelled; the output layer, if any."""
    settings = request.app.state.settings
    models = request.app.state.store

    def answer() -> JSON:
        m = run.find_model(model_id, settings, models)
        return JSON(weights.model_weights(m, settings, gate, layer))

    # As GET /api/models/{id}: a random model's weights are drawn, an upload's read: work.
    return await (stored if model_id in zoo.BUILT else computed)(request, answer)


def body_of(schema: str) -> dict[str, Any]:
    """OpenAPI for a JSON body a route reads itself (off the event loop): its schema by name."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


async def answered(request: Request, schema: type[M], answer: Callable[[M, Settings, Store], Any]) -> JSON:
    """Read the body into its schema and compute the answer, in a worker thread, in a compute slot."""
    media.require_json(request)
    raw = await request.body()
    settings, models = request.app.state.settings, request.app.state.store
    return await computed(request, lambda: JSON(answer(body.parse(raw, schema, settings), settings, models)))


# /api/run's answer may come in the compact encoding too (app.web.compact): the OpenAPI says so.
COMPACT_ANSWER = {
    "responses": {
        "200": {
            "description": "the run: JSON by default; with `Accept: application/vnd.gatescope.run`, "
            "the same answer in the compact binary layout of app/web/compact.py (README, Compact answers)",
            "content": {compact.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.post(
    "/api/run",
    response_model=RunResponse,
    responses=RUNS,
    openapi_extra=body_of("RunRequest") | COMPACT_ANSWER,
)
async def run_model(request: Request) -> Response:
    """Run an LSTM over a sequence and answer every gate, cell and hidden state, per layer, as T×H.
    JSON unless the Accept header asks for application/vnd.gatescope.run (float16 arrays in binary);
    a refusal is JSON either way."""
    vary = {"Vary": "Accept"}  # one URL, two encodings: a cache must key on Accept
    if not compact.wanted(request.headers.get("accept")):
        answer = await answered(request, RunRequest, run.execute)
        answer.headers.update(vary)
        return answer
    media.require_json(request)
    raw = await request.body()
    settings, models = request.app.state.settings, request.app.state.store

    def work() -> Response:
        answer = run.execute(body.parse(raw, RunRequest, settings), settings, models)
        return Response(compact.encode(answer), media_type=compact.MEDIA_TYPE, headers=vary)

    return await computed(request, work)


@router.post("/api/step", response_model=StepResponse, responses=RUNS, openapi_extra=body_of("StepRequest"))
async def explain_step(request: Request) -> JSON:
    """One step of a run, explained: each gate's parts and value per unit, and the cell update."""
    return await answered(request, StepRequest, step.explain_step)


# A body's media type in a route's openapi_extra may carry this key: JSON-schema keywords added
# to the body's own schema (where routes say what a form or a state's keys need together).
SCHEMA_EXTRA = "x-schema-extra"


def document_bodies(app: FastAPI, *bodies: type[BaseModel]) -> None:
    """Add the schemas of bodies that routes read themselves to the OpenAPI document, and the
    keywords routes add to their bodies' schemas (SCHEMA_EXTRA)."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for b in bodies:
                body_schema = b.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, nested in body_schema.pop("$defs", {}).items():  # e.g. InterventionIn
                    components.setdefault(name, nested)
                components[b.__name__] = body_schema
            for operation in (op for item in schema.get("paths", {}).values() for op in item.values()):
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    extra = media.pop(SCHEMA_EXTRA, None)
                    if extra is not None:
                        _extend(components[media["schema"]["$ref"].rpartition("/")[2]], extra)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _extend(schema: dict[str, Any], extra: dict[str, Any]) -> None:
    """Add keywords to a schema; a property named in both takes the extra's keywords over its own."""
    for key, value in extra.items():
        if key == "properties":
            for name, keywords in value.items():
                schema["properties"][name] = {**schema["properties"][name], **keywords}
        else:
            schema[key] = value
