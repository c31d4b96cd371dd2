"""Share links: POST /api/links stores a view, GET /api/links/{id} answers it as JSON, /l/{id} is
the page with its preview tags, /l/{id}.png the preview image."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.refusal import Refusal
from app.service import links
from app.web import body, media
from app.web.encode import JSON
from app.web.openapi import ANY, BODY, COMPUTES, STORES, refusals
from app.web.ratelimit import client_address
from app.web.routes.api import computed, stored
from app.web.routes.pages import templates
from app.web.schemas import LinkGot, LinkOut

router = APIRouter()

LINK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/LinkState"},
                # text for a text model, inputs for a vector one: never both (see routes.api)
                "x-schema-extra": {
                    "properties": {  # an empty sequence is refused, as in a run
                        "text": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
                        "inputs": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
                    },
                    "anyOf": [
                        {"title": "no inputs", "properties": {"inputs": {"type": "null"}}},
                        {"title": "no text", "properties": {"text": {"type": "null"}}},
                    ],
                },
            }
        },
    }
}


@router.post(
    "/api/links",
    response_model=LinkOut,
    responses=refusals(*BODY, 404, 409, *STORES, *COMPUTES),
    openapi_extra=LINK_BODY,
)
async def create_link(request: Request) -> JSON:
    """Store a view state (the page URL's query keys) and answer its short link: {id, url, created,
    state}. The same state gives the same id; the state's model is pinned to its current weights."""
    media.require_json(request)
    address = client_address(request)
    request.app.state.link_limit.take(address)
    raw = await request.body()
    settings, store = request.app.state.settings, request.app.state.store
    links.check_size(raw, settings)
    request.app.state.store_quota.take(address, len(raw), "this link")
    return await computed(
        request, lambda: JSON(links.create(body.parse(raw, links.LinkState), settings, store))
    )


@router.get("/api/links/{link_id}", response_model=LinkGot, responses=refusals(*ANY, 404, 422))
async def get_link(link_id: str, request: Request) -> JSON:
    """A stored view state: {id, url, state}."""
    state = await stored(request, lambda: links.find(link_id, request.app.state.store))
    return JSON({"id": link_id, "url": f"/l/{link_id}", "state": state})


FOREVER = {"Cache-Control": "public, max-age=31536000, immutable"}  # a link's content never changes


# Before /l/{link_id}, which would take "<id>.png" for an id.
@router.get("/l/{link_id}.png", include_in_schema=False)
async def link_preview(link_id: str, request: Request) -> Response:
    """A PNG of the link's heatmaps, 1200 × 630, for link previews (OpenGraph, Twitter cards)."""
    settings, store = request.app.state.settings, request.app.state.store

    def kept() -> bytes | None:
        links.find(link_id, store)  # an unknown id is refused here, without queueing
        return store.get_preview(link_id)

    png = await stored(request, kept)
    if png is None:  # drawn once, in a compute slot: it runs the engine
        png = await computed(request, lambda: links.preview_png(link_id, settings, store))
    return Response(png, media_type="image/png", headers=FOREVER)


@router.get("/l/{link_id}", response_class=HTMLResponse, include_in_schema=False)
async def link_page(link_id: str, request: Request) -> HTMLResponse:
    """The page, showing the link's view, with OpenGraph and Twitter card tags for previews."""
    try:
        state = await stored(request, lambda: links.find(link_id, request.app.state.store))
    except Refusal as e:
        return templates.TemplateResponse(request, "missing.html", {"message": e.message}, status_code=404)
    store = request.app.state.store
    # The title only, read without any weights: nothing is computed or drawn.
    title, description = await stored(request, lambda: links.shown(state, store))
    # The address previews name: the configured one, else the request's own (its Host header)
    base = (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "link": {
                "id": link_id,
                "state": state,
                "title": title,
                "description": description,
                "url": f"{base}/l/{link_id}",
                "image": f"{base}/l/{link_id}.png",
            },
        },
    )
