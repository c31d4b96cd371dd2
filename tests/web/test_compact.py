"""POST /api/run in the compact encoding (app.web.compact): its documented layout, the same answer
as the JSON within float16's precision, and refusals still JSON."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from app.web import compact

COMPACT = {"accept": compact.MEDIA_TYPE}
BODY = {"model": "counter", "text": "a banana. an apple.", "include": ["parts", "update"]}


def run(client, body, headers=None):
    return client.post("/api/run", json=body, headers=headers or {})


def test_the_binary_header_follows_the_documented_layout(client):
    answer = run(client, BODY, COMPACT)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == compact.MEDIA_TYPE
    assert "Accept" in answer.headers["vary"]
    data = answer.content
    assert data[:4] == b"GSR1"
    (n,) = struct.unpack("<I", data[4:8])
    assert (8 + n) % 8 == 0
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    assert set(header) == {"arrays", "body"}
    f = header["body"]["layers"][0]["f"]
    spec = header["arrays"][f["$array"]]
    T, H = len(BODY["text"]), 4
    assert spec["dtype"] == "float16" and spec["shape"] == [T, H] and spec["offset"] % 8 == 0
    # The array itself, read by hand at its offset: float16, little-endian, C order.
    start = 8 + n + spec["offset"]
    values = np.frombuffer(data[start : start + 2 * T * H], dtype="<f2").reshape(T, H)
    exact = np.array(run(client, BODY).json()["layers"][0]["f"])
    np.testing.assert_allclose(values, exact, rtol=2**-11, atol=1e-7)
    assert header["body"]["tokens"] == list(BODY["text"])
    # Every array's bytes are inside the body and nothing follows the last one but padding.
    last = max(header["arrays"], key=lambda s: s["offset"])
    assert len(data) - (8 + n + last["offset"]) < 2 * int(np.prod(last["shape"])) + 8


def test_compact_decodes_to_the_json_answer_within_float16_precision(client):
    exact = run(client, BODY).json()
    decoded = compact.decode(run(client, BODY, COMPACT).content)

    def same(a, b, path="") -> None:
        if isinstance(b, dict):
            assert set(a) == set(b), path
            for k in b:
                same(a[k], b[k], f"{path}.{k}")
        elif isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, np.array(b), rtol=2**-11, atol=1e-7, err_msg=path)
        elif isinstance(b, list) and b and not isinstance(b[0], (int, float)):
            assert len(a) == len(b), path
            for k, (x, y) in enumerate(zip(a, b, strict=True)):
                same(x, y, f"{path}[{k}]")
        else:
            assert a == b, path

    same(decoded, exact)


def test_values_beyond_float16s_range_are_sent_as_float32(client):
    weights = {"weight_ih_l0": [[1e6]] * 4, "weight_hh_l0": [[0.0]] * 4}
    answer = run(client, {"weights": weights, "inputs": [[1.0]], "include": ["parts"]}, COMPACT)
    assert answer.status_code == 200, answer.text
    decoded = compact.decode(answer.content)
    assert decoded["layers"][0]["parts"]["i"]["input"].dtype == np.float32
    assert decoded["layers"][0]["parts"]["i"]["input"][0, 0] == 1e6


def test_precision_float64_is_sent_exactly(client):
    body = {**BODY, "precision": "float64"}
    decoded = compact.decode(run(client, body, COMPACT).content)
    exact = run(client, body).json()
    assert decoded["layers"][0]["c"].dtype == np.float64
    assert decoded["layers"][0]["c"].tolist() == exact["layers"][0]["c"]


def test_json_stays_the_default_and_says_it_varies_by_accept(client):
    answer = run(client, BODY)
    assert answer.headers["content-type"] == "application/json"
    assert "Accept" in answer.headers["vary"]
    assert isinstance(answer.json()["layers"][0]["f"][0], list)
    also = run(client, BODY, {"accept": "application/json, text/plain"})
    assert also.headers["content-type"] == "application/json"
    refused = run(client, BODY, {"accept": f"{compact.MEDIA_TYPE};q=0"})
    assert refused.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("body", "status", "loc", "words"),
    [
        ({"model": "nope", "text": "a"}, 404, ["model"], "no model 'nope'"),
        ({"model": "counter", "text": "a\u00e9"}, 422, ["text", 1], "not in"),
    ],
)
def test_refusals_are_json_with_their_status_when_compact_is_asked(client, body, status, loc, words):
    answer = run(client, body, COMPACT)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["loc"] == loc
    assert words in answer.json()["error"]


def test_a_body_not_json_is_refused_as_json_when_compact_is_asked(client):
    answer = client.post("/api/run", content=b"x", headers={**COMPACT, "content-type": "text/plain"})
    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["loc"] == ["header", "content-type"]


def test_the_openapi_document_names_the_compact_media_type(client):
    doc = client.get("/openapi.json").json()
    content = doc["paths"]["/api/run"]["post"]["responses"]["200"]["content"]
    assert compact.MEDIA_TYPE in content and "application/json" in content
