"""POST /api/step: one step of a run explained, equal to the whole run's arrays at that step."""

from __future__ import annotations

import numpy as np
import pytest


def test_a_step_is_the_runs_step_with_its_parts_and_update(client):
    body = {"model": "random-h8-l2-s1", "text": "Hello, world", "precision": "float64"}
    run = client.post("/api/run", json={**body, "include": ["parts", "update"]}).json()
    r = client.post("/api/step", json={**body, "t": 5, "layer": 1})
    assert r.status_code == 200, r.text
    step = r.json()
    layer = run["layers"][1]
    assert (step["t"], step["layer"], step["token"], step["hidden_size"]) == (5, 1, ",", 8)
    for gate, g in step["gates"].items():
        assert g["value"] == layer[gate][5]
        for key in ("input", "recurrent", "pre"):
            assert g[key] == layer["parts"][gate][key][5]
        assert g["bias"] == layer["parts"][gate]["bias"] and g["shift"] == [0.0] * 8
        assert not any(g["clamped"])
    f = np.array(step["gates"]["f"]["pre"])
    assert np.allclose(1 / (1 + np.exp(-f)), step["gates"]["f"]["value"], atol=1e-12)
    assert step["c_prev"] == layer["c"][4] and step["c"] == layer["c"][5] and step["h"] == layer["h"][5]
    assert step["kept"] == layer["update"]["kept"][5] and step["written"] == layer["update"]["written"][5]
    assert np.allclose(np.array(step["kept"]) + step["written"], step["c"], atol=1e-12)
    assert step["gate_curve"]["activation"] == "sigmoid"


def test_step_0_starts_from_a_zero_cell_and_interventions_show(client):
    body = {
        "model": "counter",
        "text": "ab. ab",
        "precision": "float64",
        "interventions": [{"gate": "f", "value": 0.25, "t": 0, "unit": 1}, {"gate": "i", "bias_add": 2.0}],
    }
    step = client.post("/api/step", json={**body, "t": 0}).json()
    assert step["c_prev"] == [0.0] * 4
    f, i = step["gates"]["f"], step["gates"]["i"]
    assert f["clamped"] == [False, True, False, False] and f["value"][1] == 0.25
    assert i["shift"] == [2.0] * 4
    assert np.allclose(np.array(i["input"]) + i["recurrent"] + np.array(i["bias"]) + 2.0, i["pre"])
    assert step["interventions"] == body["interventions"]


@pytest.mark.parametrize(
    ("extra", "loc"), [({"t": 6}, ["t"]), ({"t": 0, "layer": 1}, ["layer"]), ({"t": -1}, ["t"]), ({}, ["t"])]
)
def test_a_step_or_layer_outside_the_run_is_refused(client, extra, loc):
    r = client.post("/api/step", json={"model": "counter", "text": "ab. ab", **extra})
    assert r.status_code == 422 and r.json()["loc"] == loc, r.json()
