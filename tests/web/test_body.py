"""A body is refused by its cheap facts before its costly validation: the number of steps first."""

from __future__ import annotations

import json
import time

import pytest

from app.web import body


@pytest.fixture
def no_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object) -> None:
        raise AssertionError("the body was validated")

    monkeypatch.setattr(body, "validated", never)


def test_a_million_steps_are_refused_from_their_count_before_any_step_is_validated(client, no_validation):
    raw = json.dumps({"model": "gated-sum", "inputs": [[0]] * 1_000_000}, separators=(",", ":")).encode()
    assert len(raw) < 4 * 1024 * 1024  # within the body limit: the step count is what refuses it
    started = time.perf_counter()
    r = client.post("/api/run", content=raw, headers={"Content-Type": "application/json"})
    seconds = time.perf_counter() - started
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "the sequence has more than 2000 steps, the limit (GATESCOPE_MAX_STEPS)"
    assert r.json()["loc"] == ["inputs"]
    print(f"refused in {seconds:.3f} s")


def test_text_over_the_step_limit_is_refused_before_validation(make_client, no_validation):
    client = make_client(max_steps=10)
    r = client.post("/api/step", json={"model": "counter", "text": "a" * 11, "t": 0})
    assert r.status_code == 422
    assert r.json()["loc"] == ["text"] and "11 steps; the limit is 10" in r.json()["error"]


def test_a_links_typed_numbers_are_not_counted_as_steps_by_their_characters(make_client):
    client = make_client(max_steps=3)
    r = client.post("/api/links", json={"model": "gated-sum", "inputs": "0.5 1 -1"})  # 8 characters
    assert r.status_code == 200, r.text
    r = client.post("/api/links", json={"model": "gated-sum", "inputs": "0.5 1 -1 2"})
    assert r.status_code == 422 and "4 steps; the limit is 3" in r.json()["error"]


def test_a_string_of_inputs_is_not_counted_as_steps(make_client):
    client = make_client(max_steps=3)
    r = client.post("/api/run", json={"model": "gated-sum", "inputs": "0.5 1 -1 2"})
    assert r.status_code == 422 and r.json()["loc"] == ["inputs"]
    assert "steps" not in r.json()["error"] and "valid list" in r.json()["error"], r.json()
