"""Schema-driven fuzzing of the API: whatever the generated request, never a 5xx, and every
answer matches the OpenAPI schema it documents."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.web.app import create_app
from app.web.settings import Settings

# One app for every generated request, from one address: the rate limits on links and uploads
# are lifted, or most cases would meet a 429 instead of the code they are meant to reach.
fuzzed = Settings(
    data_dir=Path(tempfile.mkdtemp(prefix="gatescope-fuzz-")),
    links_per_minute=1_000_000,
    uploads_per_minute=1_000_000,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzzed))


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(case) -> None:
    # The schema cannot say "text for text models, inputs for vector models": a schema-valid
    # request may rightly be refused, so that one check is left out; all others apply.
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)
