"""The JSON API: health, the models, and runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from app.models import zoo
from app.service import run, step
from app.service.requests import RunRequest, StepRequest
from app.service.store import Store
from app.web import body, compute, media
from app.web.compute import ComputeQueue
from app.web.encode import JSON
from app.web.schemas import (
    ErrorOut,
    ModelInfo,
    ModelList,
    RunResponse,
    StepResponse,
)
from app.web.settings import Settings

router = APIRouter()
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "unknown model"},
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "bad input: the message says what and where"},
}
# What endpoints that read a body and compute answer besides (app.web.media, app.web.compute),
# and those that create something (app.web.ratelimit).
COMPUTED: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    415: {"model": ErrorOut, "description": "a body of another media type than the endpoint reads"},
    503: {"model": ErrorOut, "description": "busy: the compute queue is full; see Retry-After"},
}
CREATED: dict[int | str, dict[str, Any]] = {
    **COMPUTED,
    429: {"model": ErrorOut, "description": "too many from this client address; see Retry-After"},
}


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


@router.get("/api/models", response_model=ModelList)
def models() -> JSON:
    """The built-in models: id, title, description, input (vocab or size), hidden size, layers."""
    return JSON({"models": [run.model_info(m) for m in zoo.listed()]})


@router.get("/api/models/{model_id}", response_model=ModelInfo, responses=REFUSALS)
async def model(model_id: str, request: Request) -> JSON:
    """One model by id, listed or not (any random-h<H>-l<layers>-s<seed> works)."""
    settings = request.app.state.settings
    models = request.app.state.store
    # No engine runs here: a random model's weights are drawn, an upload's are read from the store.
    return await stored(request, lambda: JSON(run.model_info(run.find_model(model_id, settings, models))))


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
    return await computed(request, lambda: JSON(answer(body.parse(raw, schema), settings, models)))


@router.post("/api/run", response_model=RunResponse, responses=COMPUTED, openapi_extra=body_of("RunRequest"))
async def run_model(request: Request) -> JSON:
    """Run an LSTM over a sequence and answer every gate, cell and hidden state, per layer, as T×H."""
    return await answered(request, RunRequest, run.execute)


@router.post(
    "/api/step", response_model=StepResponse, responses=COMPUTED, openapi_extra=body_of("StepRequest")
)
async def explain_step(request: Request) -> JSON:
    """One step of a run, explained: each gate's parts and value per unit, and the cell update."""
    return await answered(request, StepRequest, step.explain_step)


def document_bodies(app: FastAPI, *bodies: type[BaseModel]) -> None:
    """Add the schemas of bodies that routes read themselves to the OpenAPI document."""
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
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
