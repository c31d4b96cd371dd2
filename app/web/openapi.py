"""What the OpenAPI document says an endpoint can refuse: every status code the app answers, why,
and the ErrorOut shape it answers with (RetryOut, with a Retry-After header, for refusals that end).

Routes name their codes with `refusals(...)`; the reasons are written once, here. A code a route
does not name must never be answered by it: tests/web/test_fuzz.py holds the app to that.
"""

from __future__ import annotations

from typing import Any

from app.web.schemas import ErrorOut, RetryOut

RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before the same request may succeed",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}

WHY: dict[int, str] = {
    400: "a request the app cannot read: a Content-Length header that is not a number",
    403: "a request another web site's page made (Sec-Fetch-Site: cross-site or same-site)",
    404: "it names a model, a model version or a link that is not there",
    409: "an id already taken by something else",
    413: "the body, the file or the link state is over its size limit (the message names the setting)",
    415: "a body in a media type this endpoint does not read",
    422: "bad input: `error` says what is wrong and `loc` where (a key, a character, a tensor, a "
    "limit); this includes what the schema cannot say, such as a character outside the model's "
    "vocabulary, a step of the wrong size or a step t beyond the sequence",
    429: "too many such requests, or bytes to keep, from this client address lately: retry after "
    "Retry-After seconds",
    431: "the request's headers are over 16 KB",
    503: "the compute queue is full: retry after Retry-After seconds",
    507: "the store has reached its size limit: nothing more is kept until room is made",
}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can refuse with these status codes."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        ends = code in (429, 503)
        out[code] = {
            "model": RetryOut if ends else ErrorOut,
            "description": WHY[code],
            **({"headers": RETRY_AFTER} if ends else {}),
        }
    return out


# What every route can answer, whatever it does: headers too large.
ANY = (431,)
# A route that reads a body: unreadable framing, too large, in the wrong media type, bad.
BODY = (*ANY, 400, 413, 415, 422)
# A route that computes (a run, a model's weights): beyond the queue, 503.
COMPUTES = (503,)
# A route that stores something: rate-limited per client, and the store may be full.
STORES = (429, 507)
