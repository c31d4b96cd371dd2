"""Builds the ASGI app: routers, static files, error handlers, the limits on headers and bodies,
the security headers, the rate limits and the compute queue."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import CapacityLimiter
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from threadpoolctl import threadpool_limits

from app.service.links import LinkState
from app.service.requests import MAX_PATTERN_LENGTH, AnalyzeRequest, RunRequest, StepRequest, TrainRequest
from app.service.store import Store
from app.service.trainings import Trainings
from app.web import errors
from app.web.compute import ComputeQueue
from app.web.headers import HeaderLimit, SecurityHeaders
from app.web.middleware import BodyLimit, UploadGate
from app.web.ratelimit import RateLimit, StoreQuota
from app.web.routes import analyze, api, pages, train, uploads
from app.web.routes import links as links_routes
from app.web.settings import Settings, get_settings

PACKAGE = Path(__file__).resolve().parents[1]  # app/: static/ and templates/ ship inside it
log = logging.getLogger("gatescope")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Requests run in parallel threads: a multi-threaded BLAS inside each only adds contention.
    threadpool_limits(limits=1)
    s = app.state.settings
    app.state.compute = ComputeQueue(s.compute_slots, s.max_queued, s.compute_deadline_seconds)
    # Analyses take seconds each: they queue apart, so that one never holds the slot runs need.
    app.state.analyses = ComputeQueue(s.analyses_at_once, s.analyses_queued, s.analyze_deadline_seconds)
    app.state.reads = CapacityLimiter(s.read_slots)
    yield
    app.state.trainings.close()
    app.state.store.close()


def analyze_body_bytes(settings: Settings) -> int:
    """The body POST /api/analyze may need: its longest text with every character escaped as a
    JSON surrogate pair (12 bytes), its patterns likewise, and room for the keys."""
    return 12 * (settings.max_analyze_steps + settings.max_patterns * MAX_PATTERN_LENGTH) + 64 * 1024


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Gatescope",
        description="Every gate of a real LSTM, step by step, for a sequence you give it.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by routes.pages with a vendored Swagger UI: nothing from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = Store(settings.data_dir, settings.database_url, settings.max_store_bytes)
    app.state.trainings = Trainings(settings)
    app.state.link_limit = RateLimit(
        settings.links_per_minute, settings.rate_limit_addresses, "new links", "GATESCOPE_LINKS_PER_MINUTE"
    )
    app.state.analyze_limit = RateLimit(
        settings.analyses_per_minute,
        settings.rate_limit_addresses,
        "analyses",
        "GATESCOPE_ANALYSES_PER_MINUTE",
    )
    app.state.upload_limit = RateLimit(
        settings.uploads_per_minute, settings.rate_limit_addresses, "uploads", "GATESCOPE_UPLOADS_PER_MINUTE"
    )
    app.state.store_quota = StoreQuota(settings.store_bytes_per_client, settings.rate_limit_addresses)
    errors.install(app)
    app.include_router(api.router)
    app.include_router(analyze.router)
    app.include_router(train.router)
    app.include_router(uploads.router)
    app.include_router(links_routes.router)
    api.document_bodies(app, RunRequest, StepRequest, LinkState, AnalyzeRequest, TrainRequest)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    upload_body_bytes = settings.max_upload_bytes + 64 * 1024  # multipart framing takes a little more
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={
            "/api/models": (upload_body_bytes, "GATESCOPE_MAX_UPLOAD_BYTES"),
            "/api/analyze": max(
                (analyze_body_bytes(settings), "GATESCOPE_MAX_ANALYZE_STEPS"),
                (settings.max_body_bytes, "GATESCOPE_MAX_BODY_BYTES"),
            ),
        },
    )
    app.add_middleware(  # outside BodyLimit: before any body is read
        UploadGate,
        path="/api/models",
        at_once=settings.uploads_at_once,
        wait_seconds=settings.uploads_wait_seconds,
        largest=upload_body_bytes,
    )
    app.add_middleware(HeaderLimit, max_bytes=settings.max_header_bytes)
    app.add_middleware(SecurityHeaders)  # the last added is the outermost: on every answer above
    return app


app = create_app()
