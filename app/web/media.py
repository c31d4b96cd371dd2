"""What each endpoint that takes a body reads: JSON or multipart, said by Content-Type.

Refusing every other type (text/plain, form bodies, none) is what keeps other web sites out: a
browser sends those three cross-origin without asking, but application/json only after a CORS
preflight, which this app never grants. Multipart is one of the three: another site's form could
post an upload, so uploads also refuse what browsers mark as sent by another site
(Sec-Fetch-Site), and are rate-limited per address (app.web.ratelimit).
"""

from __future__ import annotations

from starlette.requests import Request

from app.refusal import Forbidden, Unsupported


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require(request: Request, expected: str, example: str) -> None:
    given = request.headers.get("content-type")
    if media_type(request) != expected:
        said = f"Content-Type {given!r}" if given else "no Content-Type"
        raise Unsupported(
            f"this endpoint reads {example}, sent with Content-Type: {expected}; the request has {said}",
            ["header", "content-type"],
            accepts=expected,
        )


def require_json(request: Request) -> None:
    require(request, "application/json", "a JSON body")


def require_multipart(request: Request) -> None:
    require(request, "multipart/form-data", "a multipart form (the file field 'weights')")
    require_not_cross_site(request)


def require_not_cross_site(request: Request) -> None:
    """Browsers say in Sec-Fetch-Site which site's page made a request; tools such as curl send
    no such header and are served."""
    site = request.headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site"):
        raise Forbidden(
            f"this request was made by another web site's page (Sec-Fetch-Site: {site}): upload "
            "from Gatescope's own page, or from a program such as curl",
            ["header", "sec-fetch-site"],
        )
