"""Trainings from the page (app.service.trainings): start one, follow its snapshots as Server-Sent
Events, pause, step, resume or stop it, and save a snapshot as a model.

The event stream is what keeps a training alive: when the last stream of a training closes (its
page went away), the training is stopped within a second."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.refusal import Invalid, NotFound
from app.service import run, trainings
from app.service.requests import TrainRequest
from app.web import body, media
from app.web.encode import JSON
from app.web.openapi import ANY, BODY, STORES, refusals
from app.web.ratelimit import client_address
from app.web.routes.api import body_of

router = APIRouter()

POLL = 0.1  # seconds between looks at a training's new snapshots, per open stream
HEARTBEAT = 15.0  # seconds between comments on a quiet stream, so that proxies keep it open


def registry(request: Request) -> trainings.Trainings:
    return request.app.state.trainings


@router.post(
    "/api/train",
    responses=refusals(*BODY, 429),
    openapi_extra=body_of("TrainRequest"),
)
async def start_training(request: Request) -> JSON:
    """Start a training in a worker process: {"id", "state", "settings", "events"}. Open its
    event stream within GATESCOPE_TRAIN_ABANDON_SECONDS, or it is stopped."""
    media.require_json(request)
    req = body.parse(await request.body(), TrainRequest)
    # Starting a process takes some milliseconds: not on the event loop.
    training = await to_thread.run_sync(registry(request).start, req, client_address(request))
    return JSON(
        {
            "id": training.id,
            "state": training.state,
            "settings": training.settings,
            "events": f"/api/train/{training.id}/events",
        },
    )


@router.get("/api/train/{training_id}", responses=refusals(*ANY, 404, 422))
async def training_state(training_id: str, request: Request) -> JSON:
    """Its state (starting, running, paused, finished, stopped, failed), step, loss and accuracy."""
    trains = registry(request)
    trains.sweep()
    return JSON(trains.get(training_id).info())


def _event(kind: str, data: dict, event_id: int | None = None) -> str:
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    "/api/train/{training_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events: snapshot, state"},
        **refusals(*ANY, 404, 422),
    },
)
async def training_events(training_id: str, request: Request) -> StreamingResponse:
    """Server-Sent Events: `snapshot` (step, loss, accuracy, the gates' means, and `model`, the
    snapshot's model id for /api/run) for every snapshot kept, from the first or after the
    Last-Event-ID; `state` when the state changes; the stream ends once the training has."""
    training = registry(request).get(training_id)
    last = request.headers.get("last-event-id", "")
    after = int(last) if last.isdigit() else -1

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        training.listeners += 1
        training.watched = time.monotonic()
        state = None
        quiet = 0.0
        try:
            while True:
                fresh = training.since(after)
                for summary in fresh:
                    after = summary["step"]
                    yield _event("snapshot", summary, after)
                if training.state != state:
                    state = training.state
                    yield _event("state", {"state": state, "error": training.error, **_final(training)})
                if state in trainings.ENDED and not fresh:
                    return
                quiet = 0.0 if fresh else quiet + POLL
                if quiet >= HEARTBEAT:
                    quiet = 0.0
                    yield ": still here\n\n"
                await anyio.sleep(POLL)
        finally:
            training.listeners -= 1
            if training.listeners == 0:  # its page has gone: nobody would see the rest
                training.stop()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _final(training: trainings.Training) -> dict:
    return {"final_accuracy": training.final_accuracy} if training.final_accuracy is not None else {}


@router.delete("/api/train/{training_id}", responses=refusals(*ANY, 404, 422))
async def stop_training(training_id: str, request: Request) -> JSON:
    """Stop it (within a second); its snapshots stay for saving until let go."""
    training = registry(request).get(training_id)
    training.stop()
    return JSON(
        {"id": training.id, "state": "stopping" if training.state not in trainings.ENDED else training.state}
    )


@router.post("/api/train/{training_id}/model", responses=refusals(*BODY, 404, *STORES, 503))
async def save_training(training_id: str, request: Request) -> JSON:
    """Store a snapshot's weights (`{"step": n}`, or the newest without a body) as a model by
    content hash, with its card: {"id", "url", "created", "step", "model"}. All or nothing."""
    training = registry(request).get(training_id)
    raw = await request.body()
    if raw.strip():
        media.require_json(request)
    step = _step_of(raw)
    address = client_address(request)
    request.app.state.upload_limit.take(address)
    request.app.state.store_quota.take(address, training.snapshot(step).nbytes, "this model")
    models = request.app.state.store

    def work() -> JSON:
        saved = registry(request).save(training, step, models)
        return JSON({**saved, "model": run.model_info(saved["model"])})

    return await request.app.state.compute.run(work, request.receive)


def _step_of(raw: bytes) -> int | None:
    """The body's `step`: none (the newest snapshot), or {"step": a whole number ≥ 0}."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise Invalid(f"the body is not JSON: {e}", []) from None
    if not isinstance(data, dict) or set(data) - {"step"}:
        raise Invalid('the body must be {"step": n}, or empty for the newest snapshot', [])
    step = data.get("step")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
        raise Invalid(f"step: {step!r} is not a whole number ≥ 0", ["step"])
    return step


@router.post("/api/train/{training_id}/{action}", responses=refusals(*ANY, 404, 422))
async def control_training(training_id: str, action: str, request: Request) -> JSON:
    """pause, resume, or step (one training step, then paused)."""
    if action not in ("pause", "resume", "step"):
        raise NotFound(f"no action {action!r}: pause, resume, step, or model (to save)", ["path"])
    training = registry(request).get(training_id)
    training.command(action)
    return JSON({"id": training.id, "asked": action})
