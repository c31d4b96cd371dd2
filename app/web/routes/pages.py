"""The HTML page; what it shows comes from the JSON API."""

import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

router = APIRouter()
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request) -> HTMLResponse:
    """The heatmap page; its state lives in the query string."""
    return templates.TemplateResponse(request, "index.html")


SWAGGER = "/static/vendor/swagger-ui-5.35.0"


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@lru_cache
def swagger() -> tuple[str, str]:
    """FastAPI's Swagger UI page, its inline start-up script moved to /docs/init.js: the
    Content-Security-Policy (app.web.headers) runs no inline script."""
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Gatescope API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    script = INLINE_SCRIPT.search(html)
    if script is None:
        raise RuntimeError("FastAPI's Swagger UI page has no inline script to move")
    return INLINE_SCRIPT.sub('<script src="/docs/init.js"></script>', html), script[1]


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """The API reference, with Swagger UI served from here rather than a CDN."""
    return HTMLResponse(swagger()[0])


@router.get("/docs/init.js", include_in_schema=False)
def docs_script() -> Response:
    """Swagger UI's start-up script for /docs."""
    return Response(swagger()[1], media_type="text/javascript")
