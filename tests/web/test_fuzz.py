"""Schema-driven fuzzing of the API, and the OpenAPI document held to what the app does: whatever
the generated request, never a 5xx, every answer documented (status, headers, body), every
schema-invalid request refused, and a schema-valid one refused only for what a schema cannot say.

By hand, with many more cases (see the report in the branch's history):
    uvicorn app.main:app --host 127.0.0.1 --port 8765 &
    schemathesis run http://127.0.0.1:8765/openapi.json --checks all -n 500 --seed 1
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
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
app = create_app(fuzzed)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)

# The refusals of a request whose shape the schema describes: the request models' own validation
# (its refusals carry `detail`) and the checks of which keys go together. The schema must say all
# of these, so a schema-valid request never meets one.
SHAPE_REFUSALS = (
    "give either 'model' (an id from /api/models) or inline 'weights'",
    "inline weights take 'inputs'",
    "'pin' names a version of a model",
    "give either 'vocab' (the characters, in one-hot order) or 'input_size'",
)


def refused_for_its_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's positive_data_acceptance, but where the app may answer a schema-valid request
    422 for what no JSON schema can say: a character outside the named model's vocabulary, a step of
    the wrong size for it, a step t beyond the sequence, a tensor's shape, a file's contents."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    refusal = response.json()
    assert "detail" not in refusal and not refusal["error"].startswith(SHAPE_REFUSALS), (
        f"the schema accepts what the app refuses for its shape: {refusal}"
    )
    return True


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(case) -> None:
    # Every check schemathesis has (--checks all), with positive_data_acceptance in the form above.
    response = case.call_and_validate(
        excluded_checks=[positive_data_acceptance], additional_checks=[refused_for_its_shape]
    )
    assert response.status_code < 500
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and isinstance(body["loc"], list)


# --- the document says which keys go together -------------------------------------------------

DOC = app.openapi()


def body_schema(name: str) -> dict[str, Any]:
    """A request body's schema with the document's components, for a JSON-schema validator."""
    return {**DOC["components"]["schemas"][name], "components": DOC["components"]}


def valid(name: str, body: dict[str, Any]) -> bool:
    # The document's $refs point at #/components/schemas/...: resolve them inside body_schema.
    return jsonschema_rs.Draft202012Validator(body_schema(name)).is_valid(body)


W = {"weight_ih_l0": [[0.5], [0.5], [0.5], [0.5]], "weight_hh_l0": [[0.1], [0.1], [0.1], [0.1]]}
RUNS = {
    # body: what the app answers it (200, or the refusal's loc)
    "text-model": ({"model": "counter", "text": "ab"}, 200),
    "vector-model": ({"model": "gated-sum", "inputs": [[1.0]]}, 200),
    "inline-weights": ({"weights": W, "inputs": [[1.0]]}, 200),
    "nulls-count-as-absent": ({"model": "counter", "text": "ab", "inputs": None, "weights": None}, 200),
    "text-and-inputs": ({"model": "counter", "text": "ab", "inputs": [[1.0]]}, ["text"]),
    "model-and-weights": ({"model": "gated-sum", "weights": W, "inputs": [[1.0]]}, []),
    "neither-model-nor-weights": ({"inputs": [[1.0]]}, []),
    "model-null": ({"model": None, "inputs": [[1.0]]}, []),
    "no-sequence": ({"model": "counter"}, ["text"]),
    "weights-with-text": ({"weights": W, "text": "ab"}, ["text"]),
    "weights-with-pin": ({"weights": W, "inputs": [[1.0]], "pin": "0" * 32}, ["pin"]),
    "empty-text": ({"model": "counter", "text": ""}, ["text"]),
    "empty-step": ({"model": "gated-sum", "inputs": [[]]}, ["inputs", 0]),
    "weights-without-layer-0": ({"weights": {}, "inputs": [[1.0]]}, ["weights", "weight_ih_l0"]),
    "value-and-bias-add": (
        {"model": "counter", "text": "ab", "interventions": [{"gate": "f", "value": 1, "bias_add": 1}]},
        ["interventions", 0],
    ),
    "neither-value-nor-bias-add": (
        {"model": "counter", "text": "ab", "interventions": [{"gate": "f"}]},
        ["interventions", 0],
    ),
    "f-below-0": (
        {"model": "counter", "text": "ab", "interventions": [{"gate": "f", "value": -0.5}]},
        ["interventions", 0, "value"],
    ),
    "g-below-0": ({"model": "counter", "text": "ab", "interventions": [{"gate": "g", "value": -0.5}]}, 200),
}


@pytest.mark.parametrize(("body", "answer"), RUNS.values(), ids=RUNS)
@pytest.mark.parametrize("path", ["/api/run", "/api/step"])
def test_the_run_schema_accepts_exactly_the_bodies_the_app_runs(client, path, body, answer):
    name = "RunRequest" if path == "/api/run" else "StepRequest"
    body = {**body, "t": 0} if path == "/api/step" else body
    r = client.post(path, json=body)
    if answer == 200:
        assert r.status_code == 200, r.text
        assert valid(name, body)
    else:
        assert r.status_code == 422, r.text
        assert r.json()["loc"] == answer
        assert not valid(name, body), f"the schema accepts what the app refuses: {r.json()['error']}"


def test_the_run_schema_says_its_three_forms(client):
    forms = body_schema("RunRequest")["oneOf"]
    assert [f["title"] for f in forms] == ["a text model", "a vector model", "inline weights"]
    assert [f["required"] for f in forms] == [["model", "text"], ["model", "inputs"], ["weights", "inputs"]]
    # and each example in the document is one the app runs
    for example in body_schema("RunRequest")["examples"]:
        assert client.post("/api/run", json=example).status_code == 200, example
    for example in body_schema("StepRequest")["examples"]:
        assert client.post("/api/step", json=example).status_code == 200, example


LINKS = {
    "text": ({"model": "counter", "text": "ab"}, 200),
    "inputs": ({"model": "gated-sum", "inputs": "1 2"}, 200),
    "neither": ({"model": "counter"}, 200),
    "a-whole-number-written-5.0": ({"model": "counter", "text": "ab", "t": 1.0, "top": 2.0}, 200),
    "both": ({"model": "counter", "text": "ab", "inputs": "1"}, ["inputs"]),
    "empty-text": ({"model": "counter", "text": ""}, ["text"]),
    "t-not-whole": ({"model": "counter", "text": "ab", "t": 1.5}, ["t"]),
    "t-a-string": ({"model": "counter", "text": "ab", "t": "1"}, ["t"]),
}


@pytest.mark.parametrize(("body", "answer"), LINKS.values(), ids=LINKS)
def test_the_link_schema_accepts_exactly_the_states_the_app_keeps(client, body, answer):
    r = client.post("/api/links", json=body)
    if answer == 200:
        assert r.status_code == 200, r.text
        assert valid("LinkState", body)
    else:
        assert r.status_code == 422, r.text
        assert r.json()["loc"] == answer
        assert not valid("LinkState", body), f"the schema accepts what the app refuses: {r.json()['error']}"


def test_a_whole_number_written_5_0_makes_the_same_link_as_5(client):
    a = client.post("/api/links", json={"model": "counter", "text": "ab", "t": 1}).json()
    b = client.post("/api/links", json={"model": "counter", "text": "ab", "t": 1.0}).json()
    assert a["id"] == b["id"] and b["state"]["t"] == 1


def upload_form() -> dict[str, Any]:
    media = DOC["paths"]["/api/models"]["post"]["requestBody"]["content"]["multipart/form-data"]
    return DOC["components"]["schemas"][media["schema"]["$ref"].rpartition("/")[2]]


@pytest.mark.parametrize(
    ("form", "ok"),
    [
        ({"weights": "x", "vocab": "ab"}, True),
        ({"weights": "x", "input_size": 2}, True),
        ({"weights": "x"}, False),
        ({"weights": "x", "vocab": "ab", "input_size": 2}, False),
        ({"weights": "", "vocab": "ab"}, False),
        ({"weights": "x", "tokens": '["a"]'}, True),
        ({"weights": "x", "tokens": '["a"]', "vocab": "ab"}, False),
        ({"weights": "x", "tokens": '["a"]', "input_size": 2}, False),
    ],
)
def test_the_upload_form_says_vocab_or_input_size_exactly_one(form, ok):
    assert jsonschema_rs.Draft202012Validator(upload_form()).is_valid(form) is ok


def test_neither_or_both_of_vocab_and_input_size_are_refused_as_the_form_says(client):
    for form in ({}, {"vocab": "ab", "input_size": "2"}, {"vocab": "ab", "tokens": '["a", "b"]'}):
        r = client.post("/api/models", files={"weights": ("w.npz", b"PK")}, data=form)
        assert r.status_code == 422
        assert r.json()["error"].startswith("give either 'vocab'") and r.json()["loc"] == []


# --- every status code an endpoint can answer is documented ----------------------------------

OPERATIONS = {
    ("get", "/api/models"): {200, 431},
    ("get", "/api/models/{model_id}"): {200, 404, 422, 431, 503},
    ("get", "/api/models/{model_id}/weights"): {200, 404, 422, 431, 503},
    ("post", "/api/run"): {200, 400, 404, 413, 415, 422, 431, 503},
    ("post", "/api/step"): {200, 400, 404, 413, 415, 422, 431, 503},
    ("post", "/api/analyze"): {200, 400, 404, 413, 415, 422, 429, 431, 503},
    ("post", "/api/links"): {200, 400, 404, 409, 413, 415, 422, 429, 431, 503, 507},
    ("get", "/api/links/{link_id}"): {200, 404, 422, 431},
    ("post", "/api/models"): {200, 400, 403, 413, 415, 422, 429, 431, 503, 507},
    ("post", "/api/train"): {200, 400, 413, 415, 422, 429, 431},
    ("get", "/api/train/{training_id}"): {200, 404, 422, 431},
    ("delete", "/api/train/{training_id}"): {200, 404, 422, 431},
    ("get", "/api/train/{training_id}/events"): {200, 404, 422, 431},
    ("post", "/api/train/{training_id}/model"): {200, 400, 404, 413, 415, 422, 429, 431, 503, 507},
    ("post", "/api/train/{training_id}/{action}"): {200, 404, 422, 431},
}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_status_an_endpoint_answers_is_documented_with_the_refusal_shape(method, path):
    responses = DOC["paths"][path][method]["responses"]
    assert {int(code) for code in responses} == OPERATIONS[method, path]
    for code, response in responses.items():
        if code == "200":
            continue
        schema_ref = response["content"]["application/json"]["schema"]["$ref"]
        if code in ("429", "503"):
            assert schema_ref.endswith("/RetryOut")
            assert response["headers"]["Retry-After"]["required"] is True
        else:
            assert schema_ref.endswith("/ErrorOut")
        assert response["description"]


def test_the_document_lists_every_operation_the_api_serves():
    served = {(m, p) for p, ops in DOC["paths"].items() for m in ops}
    assert served == set(OPERATIONS)


# --- malformed multipart: a 422 that says what is wrong, not an undocumented 400 -------------

MALFORMED_FORMS = {
    "no-boundary": (
        "multipart/form-data",
        b"garbage",
        "names no boundary",
        ["header", "content-type"],
    ),
    "broken-part": (
        "multipart/form-data; boundary=xyz",
        b"garbage",
        "the request body is not valid multipart/form-data: Invalid multipart data.",
        [],
    ),
    "part-without-a-name": (
        "multipart/form-data; boundary=xyz",
        b"--xyz\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--xyz--\r\n",
        'the request body is not valid multipart/form-data: The Content-Disposition header field "name"',
        [],
    ),
}


@pytest.mark.parametrize(
    ("content_type", "body", "words", "loc"), MALFORMED_FORMS.values(), ids=MALFORMED_FORMS
)
def test_a_malformed_multipart_body_is_a_422_that_says_what_is_wrong(client, content_type, body, words, loc):
    r = client.post("/api/models", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]
    assert r.json()["loc"] == loc
    assert "422" in DOC["paths"]["/api/models"]["post"]["responses"]


def test_the_multipart_refusal_names_the_content_type_it_was_sent(client):
    r = client.post("/api/models", content=b"x", headers={"Content-Type": "multipart/form-data"})
    assert json.loads(r.text)["error"].startswith(
        "the Content-Type header multipart/form-data names no boundary"
    )
