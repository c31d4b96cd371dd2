"""Share links: POST /api/links stores a view, GET /api/links/{id} answers it as JSON, /l/{id} is
the page with its preview tags, /l/{id}.png the preview image."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app import body, links, preview, run
from app.encode import JSON
from app.errors import ApiError
from app.routes.api import REFUSALS, computed
from app.routes.pages import templates

router = APIRouter()

LINK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LinkState"}}},
    }
}


@router.post("/api/links", responses=REFUSALS, openapi_extra=LINK_BODY)
async def create_link(request: Request) -> JSON:
    """Store a view state (the page URL's query keys) and answer its short link: {id, url, created,
    state}. The same state gives the same id; the state's model is pinned to its current weights."""
    raw = await request.body()
    settings, store = request.app.state.settings, request.app.state.store
    links.check_size(raw, settings)
    return await computed(
        request, lambda: JSON(links.create(body.parse(raw, links.LinkState), settings, store))
    )


@router.get("/api/links/{link_id}", responses=REFUSALS)
async def get_link(link_id: str, request: Request) -> JSON:
    """A stored view state: {id, url, state}."""
    state = await computed(request, lambda: links.find(link_id, request.app.state.store))
    return JSON({"id": link_id, "url": f"/l/{link_id}", "state": state})


def _shown(state: dict[str, Any], request: Request) -> tuple[str, str]:
    """The title and description a link preview shows (plain text: the template escapes it)."""
    settings, store = request.app.state.settings, request.app.state.store
    try:
        title = run.find_model(state["model"], settings, store, state.get("pin")).title
    except ApiError:
        title = state["model"]
    sequence: str = state.get("text") or state.get("inputs") or ""
    shown = sequence.replace("\n", " ⏎ ")
    shown = shown if len(shown) <= 80 else shown[:79] + "…"
    return (f"{title} — Gatescope",
            f"“{shown}”: every gate of a real LSTM (forget, input, candidate, output, cell and hidden "
            "state), step by step, as heatmaps.")


FOREVER = {"Cache-Control": "public, max-age=31536000, immutable"}  # a link's content never changes


def _preview(link_id: str, request: Request) -> bytes:
    """The link's preview image: drawn on the first request, then kept beside the link."""
    settings, store = request.app.state.settings, request.app.state.store
    state = links.find(link_id, store)
    png = store.get_preview(link_id)
    if png is not None:
        return png
    m = run.find_model(state["model"], settings, store, state.get("pin"))
    p, traces = run.compute(links.run_request(state, m), settings, store)
    trace = traces[min(state.get("layer") or 0, len(traces) - 1)]
    T, H = trace.h.shape
    t, unit = state.get("t"), state.get("unit")
    pinned = (t, unit) if t is not None and unit is not None and t < T and unit < H else None
    png = preview.render_preview(
        m.title, state.get("text") or state.get("inputs") or "", p.tokens,
        {k: getattr(trace, k) for k in "ifgoch"}, pinned,
    )
    store.put_preview(link_id, png)
    return png


# Before /l/{link_id}, which would take "<id>.png" for an id.
@router.get("/l/{link_id}.png", include_in_schema=False, responses=REFUSALS)
async def link_preview(link_id: str, request: Request) -> Response:
    """A PNG of the link's heatmaps, 1200 × 630, for link previews (OpenGraph, Twitter cards)."""
    png = await computed(request, lambda: _preview(link_id, request))
    return Response(png, media_type="image/png", headers=FOREVER)


@router.get("/l/{link_id}", response_class=HTMLResponse, include_in_schema=False)
async def link_page(link_id: str, request: Request) -> HTMLResponse:
    """The page, showing the link's view, with OpenGraph and Twitter card tags for previews."""
    try:
        state = await computed(request, lambda: links.find(link_id, request.app.state.store))
    except ApiError as e:
        return templates.TemplateResponse(request, "missing.html", {"message": e.message}, status_code=404)
    title, description = await computed(request, lambda: _shown(state, request))
    base = str(request.base_url).rstrip("/")
    return templates.TemplateResponse(request, "index.html", {
        "link": {"id": link_id, "state": state, "title": title, "description": description,
                 "url": f"{base}/l/{link_id}", "image": f"{base}/l/{link_id}.png"},
    })
