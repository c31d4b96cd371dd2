"""Trainings through the API: the weights a training reaches are `gatescope train`'s with the same
settings, its snapshots are models, it is bounded per client and per server, it stops when told
or when its stream closes, and what it saves is a model like any other."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import load_file

from app.engine.lstm import forward
from app.train import cli
from app.train.bptt import lstm_part
from app.train.loop import Stepper, evaluate, train
from app.train.tasks import TASKS
from app.train.texttask import text_task

RESET = {"task": "reset-count", "hidden": 8, "seed": 3, "steps": 120, "snapshot_every": 20}
# reset-count's recipe, which the request leaves to the server
RECIPE = {"lr": 0.02, "forget_bias": 1.0, "recurrent_decay": 10.0, "schedule": "cosine"}
PROSE = (
    "The forget gate decides what the cell state keeps. A sigmoid of the previous hidden state, "
    "the current input and a bias gives a number between zero and one for every unit of the cell, "
    "and the cell state is multiplied by it, one number per unit: a vector, not a matrix. "
) * 4


def events(
    c: TestClient, training_id: str, stop: Callable[[str, dict], bool] | None = None
) -> Iterator[tuple[str, dict]]:
    """The training's events as (kind, data), until the stream ends or stop(kind, data) is true."""
    with c.stream("GET", f"/api/train/{training_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                yield kind, data
                if stop and stop(kind, data):
                    return


def start(c: TestClient, **body: object) -> str:
    r = c.post("/api/train", json=body)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def wait_state(c: TestClient, training_id: str, states: tuple[str, ...], seconds: float = 20) -> dict:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        info = c.get(f"/api/train/{training_id}").json()
        if info["state"] in states:
            return info
        time.sleep(0.05)
    raise AssertionError(f"still {info['state']} after {seconds} s, not {states}")


def test_the_weights_reached_are_gatescope_trains_and_every_snapshot_is_the_loops(client: TestClient) -> None:
    tid = start(client, **RESET)
    seen = list(events(client, tid))
    snapshots = [d for k, d in seen if k == "snapshot"]
    assert [d["step"] for d in snapshots] == [0, 20, 40, 60, 80, 100, 120]
    assert [d["state"] for k, d in seen if k == "state"][-1] == "finished"
    # the CLI's loop, in this process, with the same settings
    reference = train(TASKS["reset-count"], 8, 3, 120, **RECIPE)
    saved = client.post(f"/api/train/{tid}/model", json={"step": 120})
    assert saved.status_code == 200 and saved.json()["created"] is True, saved.text
    stored = client.app.state.store.get_model(saved.json()["id"])  # type: ignore[attr-defined]
    assert set(stored.weights) == set(reference.params)
    for name, tensor in reference.params.items():  # one thread each side: the same sums, bit for bit
        assert np.array_equal(stored.weights[name], tensor), name
    # each snapshot's model runs the loop's weights at that step
    stepper = Stepper(TASKS["reset-count"], 8, 3, 120, **RECIPE)
    x = np.eye(3)[[0, 1, 2, 0, 0, 2]]
    for snap in snapshots[:3]:
        while stepper.step < snap["step"]:
            stepper.advance()
        ran = client.post(
            "/api/run", json={"model": snap["model"], "text": "ab.aa.", "precision": "float64"}
        ).json()
        h = np.array(ran["layers"][0]["h"])
        assert np.max(np.abs(h - forward(lstm_part(stepper.params), x)[0].h)) <= 1e-12, snap["step"]
    # the held-out figures are the loop's own
    assert saved.json()["model"]["card"]["accuracy"] == pytest.approx(reference.accuracy, abs=1e-6)
    history = {step: accuracy for step, _, accuracy in reference.history}  # steps 50, 100, 120
    assert [(d["accuracy_step"], d["accuracy"]) for d in snapshots[3:]] == [
        (50, history[50]),
        (50, history[50]),
        (100, history[100]),
        (120, history[120]),
    ]


def test_step_0_shows_the_forget_bias_and_the_gates_timeline_names_its_conditions(client: TestClient) -> None:
    tid = start(client, **{**RESET, "steps": 20, "forget_bias": 1.0})
    first = next(d for k, d in events(client, tid) if k == "snapshot")
    assert first["step"] == 0 and first["loss"] is None
    f = first["gates"]["f"]
    assert set(f) == {"at '.'", "at a letter"}
    # at initialisation f = σ(1 + small weights): near 0.73 for every unit, at '.' and at letters
    assert all(abs(v - 0.731) < 0.15 for v in f["at '.'"] + f["at a letter"]), f
    assert 0 <= first["unit"] < 8


def test_one_training_per_address_and_two_per_server_beyond_them_429_with_retry_after(
    make_client: Callable[..., TestClient],
) -> None:
    c = make_client(trainings_per_client=1, trainings_at_once=1)
    tid = start(c, **{**RESET, "steps": 5000})
    again = c.post("/api/train", json=RESET)
    assert again.status_code == 429
    assert "GATESCOPE_TRAININGS_PER_CLIENT" in again.json()["error"] and again.headers["Retry-After"] == "5"
    c.delete(f"/api/train/{tid}")
    wait_state(c, tid, ("stopped",))
    busy = make_client(trainings_per_client=5, trainings_at_once=1)
    first = start(busy, **{**RESET, "steps": 5000})
    over = busy.post("/api/train", json=RESET)
    assert over.status_code == 429 and "GATESCOPE_TRAININGS_AT_ONCE" in over.json()["error"]
    busy.delete(f"/api/train/{first}")


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({**RESET, "hidden": 65}, ["hidden"], "at most 64 (GATESCOPE_MAX_TRAIN_HIDDEN)"),
        ({**RESET, "steps": 20_001}, ["steps"], "at most 20000 (GATESCOPE_MAX_TRAIN_STEPS)"),
        ({**RESET, "hidden": 0}, ["hidden"], "greater than or equal to 1"),
        ({"task": "text"}, ["text"], 'task "text" trains on a text'),
        ({"task": "text", "text": "abc" * 10}, ["text"], "a training needs at least 420"),
        ({**RESET, "text": PROSE}, ["text"], 'only task "text" reads a text'),
        ({**RESET, "task": "gru"}, ["task"], "reset-count"),
        ({**RESET, "lr": 2}, ["lr"], "less than or equal to 1"),
        ({**RESET, "epochs": 3}, ["epochs"], "unexpected key"),
    ],
)
def test_bad_settings_are_refused_in_words_before_any_process_starts(
    client: TestClient, body: dict, loc: list, words: str
) -> None:
    r = client.post("/api/train", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["loc"] == loc and words in r.json()["error"], r.json()
    assert client.app.state.trainings.items == {}  # type: ignore[attr-defined]


def test_stop_ends_the_worker_within_a_second_and_the_snapshots_stay_for_saving(client: TestClient) -> None:
    tid = start(client, **{**RESET, "steps": 20_000})
    list(events(client, tid, lambda k, d: k == "snapshot" and d["step"] >= 20))
    # the stream closed above: that alone stops it; DELETE says so too
    client.delete(f"/api/train/{tid}")
    info = wait_state(client, tid, ("stopped",))  # "within a second": benchmarks/train.py measures it
    training = client.app.state.trainings.get(tid)  # type: ignore[attr-defined]
    assert training.exited.wait(5) and training.process.exitcode is not None
    assert info["step"] < 20_000  # it stopped, not finished
    assert info["step"] >= 20 and client.post(f"/api/train/{tid}/model").status_code == 200
    refused = client.post(f"/api/train/{tid}/pause")
    assert refused.status_code == 422 and "has stopped" in refused.json()["error"]


def test_closing_the_stream_stops_the_training(client: TestClient) -> None:
    tid = start(client, **{**RESET, "steps": 20_000})
    for kind, data in events(client, tid):
        if kind == "snapshot" and data["step"] >= 10:
            break
    info = wait_state(client, tid, ("stopped",), seconds=10)
    assert info["step"] < 20_000


def test_nobody_watching_stops_it_and_an_ended_one_is_let_go(make_client: Callable[..., TestClient]) -> None:
    c = make_client(train_abandon_seconds=0.5, train_keep_seconds=1.0)
    tid = start(c, **{**RESET, "steps": 20_000})
    wait_state(c, tid, ("stopped",), seconds=15)
    time.sleep(1.2)
    gone = c.get(f"/api/train/{tid}")
    assert gone.status_code == 404 and "restarted" in gone.json()["error"] and gone.json()["loc"] == ["id"]
    snap = c.post("/api/run", json={"model": f"tr-{tid}-0", "text": "ab."})
    assert snap.status_code == 404 and "save it to keep it" in snap.json()["error"]


def test_pause_step_and_resume(client: TestClient) -> None:
    tid = start(client, **{**RESET, "steps": 20_000, "snapshot_every": 1000})
    steps: list[int] = []
    for kind, data in events(client, tid):
        if kind == "snapshot":
            steps.append(data["step"])
            if data["step"] == 0:
                assert client.post(f"/api/train/{tid}/pause").status_code == 200
            elif len(steps) == 2:
                # paused, Step takes one training step and sends its snapshot
                client.post(f"/api/train/{tid}/step")
            elif len(steps) == 3:
                break
        if kind == "state" and data["state"] == "paused" and len(steps) == 1:
            client.post(f"/api/train/{tid}/step")
    assert steps[1] == steps[0] + 1 or steps[1] > 0
    assert steps[2] == steps[1] + 1, steps  # one step, then paused again
    bad = client.post(f"/api/train/{tid}/rewind")
    assert bad.status_code == 404 and "pause, resume, step" in bad.json()["error"]


def test_a_saved_training_is_a_model_with_a_card_and_a_link_but_a_snapshot_gets_no_link(
    client: TestClient,
) -> None:
    tid = start(client, **{**RESET, "steps": 60})
    snaps = [d for k, d in events(client, tid) if k == "snapshot"]
    refused = client.post("/api/links", json={"model": snaps[-1]["model"], "text": "ab."})
    assert (
        refused.status_code == 422
        and "save it" in refused.json()["error"]
        and refused.json()["loc"] == ["model"]
    )
    saved = client.post(f"/api/train/{tid}/model", json={"step": 40})
    assert saved.status_code == 200 and saved.json()["created"] is True, saved.text
    model_id = saved.json()["id"]
    card = client.get(f"/api/models/{model_id}").json()["card"]
    assert (card["task"], card["steps"], card["hidden_size"], card["seed"]) == ("reset-count", 40, 8, 3)
    assert card["command"].startswith("gatescope train reset-count --hidden 8 --layers 1 --seed 3 --steps 60")
    stepper = Stepper(TASKS["reset-count"], 8, 3, 60, **RECIPE)
    for _ in range(40):
        stepper.advance()
    assert card["accuracy"] == pytest.approx(evaluate(stepper.params, TASKS["reset-count"], 3), abs=1e-6)
    again = client.post(f"/api/train/{tid}/model", json={"step": 40})
    assert again.status_code == 200 and again.json()["id"] == model_id and again.json()["created"] is False
    ran = client.post("/api/run", json={"model": model_id, "text": "ab.a", "include": ["outputs"]}).json()
    assert ran["outputs"]["labels"] == ["0", "1", "2", "3", "4", "5+"]
    link = client.post("/api/links", json={"model": model_id, "text": "ab."})
    assert link.status_code == 200 and link.json()["created"] is True, link.text
    missing = client.post(f"/api/train/{tid}/model", json={"step": 41})
    assert missing.status_code == 404 and "no snapshot kept at that step" in missing.json()["error"]
    assert client.post(f"/api/train/{tid}/model", json={"step": "x"}).json()["loc"] == ["step"]


def test_a_pasted_text_trains_a_next_character_model_held_out_on_its_last_tenth(client: TestClient) -> None:
    tid = start(client, task="text", text=PROSE, hidden=16, steps=40, snapshot_every=20)
    snaps = [d for k, d in events(client, tid) if k == "snapshot"]
    assert [s["step"] for s in snaps] == [0, 20, 40]
    assert set(snaps[0]["gates"]["f"]) == {"at a space or line break", "inside a word"}
    saved = client.post(f"/api/train/{tid}/model").json()
    info = client.get(f"/api/models/{saved['id']}").json()
    task = text_task(PROSE)
    assert info["vocab"] == task.vocab == "".join(sorted(set(PROSE)))
    ran = client.post(
        "/api/run", json={"model": saved["id"], "text": "The cell", "include": ["outputs"]}
    ).json()
    assert ran["outputs"]["labels"] == list(task.vocab)
    reference = train(task, 16, 0, 40, lr=0.01, forget_bias=1.0)
    assert info["card"]["accuracy"] == pytest.approx(reference.accuracy, abs=1e-6)


def test_a_new_server_knows_none_of_the_old_ones_trainings(make_client: Callable[..., TestClient]) -> None:
    first = make_client()
    tid = start(first, **{**RESET, "steps": 20})
    list(events(first, tid))
    other = make_client()
    r = other.get(f"/api/train/{tid}")
    assert r.status_code == 404 and "trainings in progress do not survive a restart" in r.json()["error"]


def test_the_saved_cards_command_run_on_the_command_line_writes_the_same_tensors(
    client: TestClient, tmp_path
) -> None:
    tid = start(client, task="parity", hidden=4, seed=7, steps=80, forget_bias=0.0, lr=0.05)
    list(events(client, tid))
    saved = client.post(f"/api/train/{tid}/model").json()
    command = saved["model"]["card"]["command"].split()
    assert command[:2] == ["gatescope", "train"]
    out = tmp_path / "replayed.safetensors"
    argv = [*command[1:-1], str(out)]  # its --out, here
    assert cli.main(argv) == 0
    written = load_file(str(out))
    stored = client.app.state.store.get_model(saved["id"]).weights  # type: ignore[attr-defined]
    assert set(written) == set(stored)
    for name, tensor in written.items():
        assert np.array_equal(stored[name], tensor), name


def test_saving_into_a_full_store_is_refused_and_leaves_nothing_behind(
    make_client: Callable[..., TestClient],
) -> None:
    c = make_client()
    full = make_client(data_dir=c.app.state.settings.data_dir, max_store_bytes=c.app.state.store.size())  # type: ignore[attr-defined]
    tid = start(full, **{**RESET, "steps": 20})
    list(events(full, tid))
    refused = full.post(f"/api/train/{tid}/model")
    assert refused.status_code == 507 and "GATESCOPE_MAX_STORE_BYTES" in refused.json()["error"], refused.text
    store = full.app.state.store  # type: ignore[attr-defined]
    with store._connect() as db:
        assert db.execute("SELECT COUNT(*) FROM models").fetchone()[0] == 0


def test_saving_counts_the_weights_against_the_address_s_daily_bytes(
    make_client: Callable[..., TestClient],
) -> None:
    probe = make_client(store_bytes_per_client=1)
    tid = start(probe, **{**RESET, "steps": 20})
    list(events(probe, tid))
    too_large = probe.post(f"/api/train/{tid}/model")
    assert too_large.status_code == 429, too_large.text
    size = int(re.match(r"this model takes ([\d,]+) bytes", too_large.json()["error"])[1].replace(",", ""))  # type: ignore[index]
    c = make_client(store_bytes_per_client=size + size // 2)
    tid = start(c, **{**RESET, "steps": 20})
    list(events(c, tid))
    saved = c.post(f"/api/train/{tid}/model", json={"step": 20})
    assert saved.status_code == 200, saved.text
    m = saved.json()["model"]
    I, H, K = m["size"], m["hidden_size"], m["card"]["classes"]
    assert size == 8 * (
        4 * H * I + 4 * H * H + 2 * 4 * H + K * H + K
    )  # every weight, float64, in torch's layout
    refused = c.post(f"/api/train/{tid}/model", json={"step": 0})
    assert refused.status_code == 429 and "GATESCOPE_STORE_BYTES_PER_CLIENT" in refused.json()["error"]
