"""Training in the page, measured: the NumPy trainer against torch, the cost of the snapshots a
training streams, the time reset-count takes to 99 % held-out accuracy while watched, and what
two trainings running do to the latency of runs and link pages.

1. Steps per second at H = 8, 32, 64 on reset-count (batch 32, length 40): one step of
   app.train.loop.Stepper (a batch drawn, BPTT, clipping, Adam) against the same step in torch
   (torch.nn.LSTM and nn.Linear in float64, cross-entropy, clip_grad_norm_, torch.optim.Adam,
   the same batches drawn by the task), one thread each, interleaved rounds, medians.
2. Streaming: the worker's loop (app.train.worker.Run) for 500 steps with a snapshot every 10
   steps sent down a real multiprocessing pipe to another process that reads them, against the same
   steps with no snapshot: the snapshots' share of training time.
3. With a real uvicorn on 127.0.0.1: POST /api/train reset-count (its recipe, H = 8) with the
   event stream open and a run of the newest snapshot asked every 200 ms, as the page does: the
   wall time from the POST to the first snapshot whose held-out accuracy is ≥ 0.99.
4. Latency of POST /api/run (counter, 40 characters) and GET /l/{id} (a link page), 60 requests
   each, with no training and with two trainings of H = 64 running (GATESCOPE_TRAININGS_PER_CLIENT
   = 2 here, since every request comes from 127.0.0.1): medians and 95th percentiles.
5. The Train view in Chromium: redraws of the page from new snapshots per second while
   reset-count trains, against the snapshots the server sends per second.

Run: .venv/bin/python -m benchmarks.train   (writes benchmarks/results/train.md too)
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import tempfile
import threading
import time
import urllib.request

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from app.train.loop import Stepper
from app.train.tasks import TASKS
from app.train.worker import Run
from benchmarks._common import header, interleaved, median_ms, write
from tests.servers import start_uvicorn, stop

TASK = TASKS["reset-count"]
RECIPE = {"lr": 0.02, "forget_bias": 1.0, "recurrent_decay": 10.0, "schedule": "cosine"}


def torch_step(hidden: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """One training step of the same model in torch, float64, on batches the task draws."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(len(TASK.vocab), hidden).double()
    head = torch.nn.Linear(hidden, TASK.classes).double()
    params = [*lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=0.02)
    rng = np.random.default_rng(seed)
    eye = torch.eye(len(TASK.vocab), dtype=torch.float64)

    def step() -> None:
        tokens, targets, _ = TASK.draw(rng, 32, TASK.length)
        x = eye[torch.from_numpy(tokens)]
        h, _ = lstm(x)
        loss = torch.nn.functional.cross_entropy(
            head(h).reshape(-1, TASK.classes), torch.from_numpy(targets).reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    return step


def speed(lines: list[str]) -> None:
    lines += ["", "## 1. Training steps, NumPy trainer against torch (float64, one thread)", ""]
    lines += ["| H | NumPy step | torch step | NumPy / torch | NumPy steps/s |", "|---|---|---|---|---|"]
    for hidden in (8, 32, 64):
        ours = Stepper(TASK, hidden, 0, 100_000, **RECIPE)
        samples = interleaved(
            {"numpy": ours.advance, "torch": torch_step(hidden)}, budget_s=6.0, max_rounds=60
        )
        a, b = median_ms(samples["numpy"]), median_ms(samples["torch"])
        lines.append(f"| {hidden} | {a:.2f} ms | {b:.2f} ms | {a / b:.2f} | {1000 / a:.0f} |")


def _drain(conn) -> None:  # type: ignore[no-untyped-def]
    try:
        while True:
            conn.recv()
    except EOFError:
        return


def streaming(lines: list[str], steps: int = 500, every: int = 10) -> None:
    settings = {
        "task": "reset-count", "text": None, "hidden": 8, "seed": 0, "steps": 100_000, "batch": 32,
        "snapshot_every": every, **RECIPE,
    }  # fmt: skip
    results: dict[bool, list[float]] = {}
    context = multiprocessing.get_context("spawn")
    for with_snapshots in (False, True) * 3:
        run = Run(settings)
        ours, theirs = context.Pipe()
        reader = context.Process(target=_drain, args=(theirs,))  # the server, in its own process
        reader.start()
        theirs.close()
        start = time.perf_counter()
        for _ in range(steps):
            run.advance()
            if with_snapshots and run.due():
                ours.send(("snapshot", *run.snapshot()))
        took = time.perf_counter() - start
        ours.close()
        reader.join()
        results.setdefault(with_snapshots, []).append(took)
    bare, streamed = min(results[False]), min(results[True])
    lines += [
        "",
        f"## 2. Streaming snapshots (reset-count, H = 8, {steps} steps, a snapshot every {every})",
        "",
    ]
    lines.append(
        f"- without snapshots {bare:.3f} s, with {streamed:.3f} s: the snapshots (the gates on the "
        f"probe batch, a copy of the weights, pickled down the pipe) cost "
        f"{100 * (streamed - bare) / bare:.1f} % of training time (best of 3 each)"
    )


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def watched(lines: list[str]) -> None:
    proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": tempfile.mkdtemp()})
    try:
        start = time.perf_counter()
        tid = _post(f"{url}/api/train", {"task": "reset-count", "hidden": 8, "seed": 0})["id"]
        newest = {"model": None}
        done = threading.Event()
        runs: list[float] = []

        def page() -> None:  # what the page asks while it watches: the newest snapshot's run
            while not done.is_set():
                if newest["model"]:
                    t0 = time.perf_counter()
                    _post(
                        f"{url}/api/run",
                        {"model": newest["model"], "text": TASK.example, "include": ["outputs"]},
                    )
                    runs.append(time.perf_counter() - t0)
                time.sleep(0.2)

        watcher = threading.Thread(target=page)
        watcher.start()
        reached = first_snapshot = None
        with urllib.request.urlopen(f"{url}/api/train/{tid}/events", timeout=120) as stream:
            for raw in stream:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                data = json.loads(line.removeprefix("data: "))
                if "model" in data:
                    newest["model"] = data["model"]
                    first_snapshot = first_snapshot or time.perf_counter() - start
                    if (data["accuracy"] or 0) >= 0.99:
                        reached = (time.perf_counter() - start, data["accuracy_step"])
                        break
        done.set()
        watcher.join()
    finally:
        stop(proc)
    lines += ["", "## 3. reset-count (H = 8, its recipe) to 99 % held-out accuracy, watched", ""]
    if reached is None:
        lines.append("- 99 % not reached")
    else:
        lines.append(
            f"- {reached[0]:.2f} s from POST /api/train to the snapshot that reports it (accuracy measured "
            f"at step {reached[1]}); the first snapshot came after {first_snapshot:.2f} s (the worker "
            f"process starting); {len(runs)} runs of the newest snapshot asked meanwhile, median "
            f"{1000 * statistics.median(runs):.1f} ms"
        )


def page_redraws(lines: list[str], steps: int = 1500) -> None:
    """The Train view in Chromium: how often the page redraws from a new snapshot while a training
    of reset-count (H = 8, its recipe otherwise) runs."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

    proc, url = start_uvicorn({"GATESCOPE_DATA_DIR": tempfile.mkdtemp()})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(
                viewport={"width": 1280, "height": 800}, bypass_csp=True
            )  # for its predicates
            page.goto(f"{url}/?model=reset-count&view=train")
            page.wait_for_function("Number(document.body.dataset.settled ?? 0) >= 1")
            page.fill("#train-steps", str(steps))
            settled = "Number(document.body.dataset.settled)"
            clicked = time.perf_counter()
            page.click("#train-start")
            page.wait_for_function("document.querySelector('.train-controls')?.dataset.training")
            tid = page.eval_on_selector(".train-controls", "e => e.dataset.training")
            page.wait_for_function(f"{settled} >= 3")
            start, before = time.perf_counter(), int(page.evaluate(settled))
            reached = None  # seconds from the click to the first state that reports 99 %
            while True:
                with urllib.request.urlopen(f"{url}/api/train/{tid}", timeout=30) as r:
                    info = json.loads(r.read())
                if reached is None and (info["accuracy"] or 0) >= 0.99:
                    reached = (time.perf_counter() - clicked, info["accuracy_step"])
                if info["state"] in ("finished", "stopped", "failed"):
                    break
                time.sleep(0.25)
            took, drawn = time.perf_counter() - start, int(page.evaluate(settled)) - before
            browser.close()
    finally:
        stop(proc)
    lines += ["", f"## 5. The page redrawing while reset-count trains ({steps} steps, H = 8)", ""]
    lines.append(
        f"- {drawn} redraws from new snapshots in {took:.1f} s of training: {drawn / took:.1f} a second "
        f"(the server sent a snapshot every 10 steps, {info['step'] / 10 / took:.1f} a second)"
    )
    if reached is not None:
        lines.append(
            f"- 99 % held-out accuracy (measured at step {reached[1]}) {reached[0]:.1f} s after Start"
        )


def _latencies(url: str, link: str, n: int = 60) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"run": [], "link page": []}
    body = {"model": "counter", "text": "a cat. a banana. an apple. a cat. ab.ab"}
    for _ in range(n):
        t0 = time.perf_counter()
        _post(f"{url}/api/run", body)
        out["run"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{url}{link}", timeout=30) as r:
            r.read()
        out["link page"].append(time.perf_counter() - t0)
    return out


def _p95(xs: list[float]) -> float:
    return sorted(xs)[int(0.95 * (len(xs) - 1))]


def latency(lines: list[str]) -> None:
    proc, url = start_uvicorn(
        {"GATESCOPE_DATA_DIR": tempfile.mkdtemp(), "GATESCOPE_TRAININGS_PER_CLIENT": "2"}
    )
    streams = []
    try:
        link = _post(f"{url}/api/links", {"model": "counter", "text": "a cat. a banana."})["url"]
        idle = _latencies(url, link)
        for seed in (0, 1):
            tid = _post(
                f"{url}/api/train", {"task": "reset-count", "hidden": 64, "seed": seed, "steps": 20_000}
            )["id"]
            streams.append(
                urllib.request.urlopen(f"{url}/api/train/{tid}/events", timeout=120)
            )  # keeps it alive
        time.sleep(3)  # both workers started and training
        busy = _latencies(url, link)
    finally:
        for s in streams:
            s.close()
        stop(proc)
    lines += ["", "## 4. Latency while two trainings (H = 64) run, 60 requests each", ""]
    lines += [
        "| request | idle median | idle p95 | training median | training p95 |",
        "|---|---|---|---|---|",
    ]
    for name in idle:
        a, b = idle[name], busy[name]
        lines.append(
            f"| {name} | {1000 * statistics.median(a):.1f} ms | {1000 * _p95(a):.1f} ms | "
            f"{1000 * statistics.median(b):.1f} ms | {1000 * _p95(b):.1f} ms |"
        )


def main() -> None:
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        lines = header("Training in the page")
        speed(lines)
        streaming(lines)
    watched(lines)
    latency(lines)
    page_redraws(lines)
    print("\n".join(lines))
    write("train.md", lines)


if __name__ == "__main__":
    main()
