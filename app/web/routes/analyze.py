"""POST /api/analyze: a long text summarised per unit (app.service.analyze), in a queue of its own
(an analysis takes seconds: it must not hold the slot runs wait for), rate-limited per address."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.service import analyze
from app.service.requests import AnalyzeRequest
from app.web import body, media
from app.web.encode import JSON
from app.web.openapi import BODY, COMPUTES, refusals
from app.web.ratelimit import client_address
from app.web.routes.api import body_of
from app.web.schemas import AnalyzeResponse

router = APIRouter()


@router.post(
    "/api/analyze",
    response_model=AnalyzeResponse,
    responses=refusals(*BODY, 404, 429, *COMPUTES),
    openapi_extra=body_of("AnalyzeRequest"),
)
async def analyze_text(request: Request) -> JSON:
    """Summarise a long text per unit: gate saturation, c and h spread, correlations with labels."""
    media.require_json(request)
    request.app.state.analyze_limit.take(client_address(request))
    raw = await request.body()
    settings, models = request.app.state.settings, request.app.state.store

    def work() -> JSON:
        # Parsed without the run's step limit: the text is counted against its own (max_analyze_steps).
        return JSON(analyze.analyze(body.parse(raw, AnalyzeRequest), settings, models))

    queue = request.app.state.analyses
    return await queue.run(
        work, request.receive, settings.analyze_deadline_seconds, "GATESCOPE_ANALYZE_DEADLINE_SECONDS"
    )
