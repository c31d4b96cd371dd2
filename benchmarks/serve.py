"""The serving path of POST /api/run at T=64, H=64: in-process breakdown, then a real uvicorn under wrk.

(a) In process, medians over interleaved samples (one thread), for two requests:
    - text:   {"model": "random-h64-l1-s0", "text": <64 characters>}: a built-in random text model,
              so I = 96 (its one-hot vocabulary), H = 64, T = 64;
    - inline: {"weights": {...nested lists...}, "inputs": [...]}: I = 32, H = 64, T = 64.
    Both use the default precision (float32 answers). Stages, as the app runs them:
    parse      RunRequest.model_validate_json(body)  (FastAPI itself does json.loads, then
               validates the Python objects: shown too, for reference)
    execute    app.run.execute(req, settings) with the app's Settings (engine + answer dict)
    serialize  app.encode.JSON(result).body (orjson with OPT_SERIALIZE_NUMPY)
    and, for reference, the naive stdlib json.dumps with .tolist() of every array.

(b) A uvicorn subprocess (app.main:app, one worker, 127.0.0.1, a free port, OPENBLAS_NUM_THREADS=1,
    --log-level warning --no-access-log) driven by wrk: requests/s at 8 connections
    (-t 1 -c 8) and the median latency at 1 connection (-t 1 -c 1 --latency), for POST /api/run
    with the text request (body from a Lua script) and for GET /healthz, the framework's ceiling.
    Any non-2xx answer or socket error stops the script. The server is killed by its pid at the
    end, whatever happens. wrk and the server share the machine's cores.

Everything runs in ROUNDS rounds: in-process samples, then the four wrk runs, so drift hits
all of them alike; the figures are medians over the rounds. The headline ratio is
    throughput / (1 / (parse + execute + serialize))  =  requests/s × in-process seconds per request,
the share of the in-process capacity that survives HTTP (target ≥ 75 %); it is also printed
round by round, to show how much the machine's load moves it.

Run: .venv/bin/python -m benchmarks.serve   (writes benchmarks/results/serve.md too)
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from app.engine.lstm import init_weights
from app.service.requests import RunRequest
from app.service.run import execute
from app.web.encode import JSON
from app.web.settings import Settings, get_settings
from benchmarks._common import header, interleaved, median_ms, write

ROOT = Path(__file__).resolve().parents[1]
T, I_INLINE, H = 64, 32, 64
TEXT_MODEL = "random-h64-l1-s0"
TEXT = ("the quick brown fox jumps over the lazy dog. " * 2)[:T]
ROUNDS = 5
WRK_SECONDS = 4
IN_PROCESS_BUDGET_S = 2.0  # per round
FASTAPI_PARSE = "parse (FastAPI: json.loads + validate)"
PIPELINE = ("parse", "execute", "serialize")  # what the capacity 1 / (parse + execute + serialize) sums


def text_body() -> bytes:
    return json.dumps({"model": TEXT_MODEL, "text": TEXT}).encode()


def inline_body() -> bytes:
    weights = init_weights(I_INLINE, H, layers=1, seed=0)
    inputs = np.random.default_rng(0).standard_normal((T, I_INLINE))
    return json.dumps(
        {"weights": {k: v.tolist() for k, v in weights.items()}, "inputs": inputs.tolist()}
    ).encode()


def naive_json(result: dict) -> bytes:
    return json.dumps(result, default=lambda a: a.tolist()).encode()


def stage_calls(body: bytes, settings: Settings) -> dict[str, Callable[[], object]]:
    """One callable per stage; each stage gets the previous stage's output, computed once here."""
    req = RunRequest.model_validate_json(body)
    result = execute(req, settings)
    return {
        "parse": lambda: RunRequest.model_validate_json(body),
        FASTAPI_PARSE: lambda: RunRequest.model_validate(json.loads(body)),
        "execute": lambda: execute(req, settings),
        "serialize": lambda: JSON(result).body,
        "naive json": lambda: naive_json(result),
    }


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise SystemExit(f"uvicorn did not answer /healthz within 30 s:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's pid, SIGKILL if it has not gone after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post(url: str, body: bytes) -> bytes:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        if r.status != 200:
            raise SystemExit(f"POST {url} answered {r.status}")
        return r.read()


LUA = """\
local f = assert(io.open({path!r}, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, connections: int, lua: Path | None = None) -> dict[str, float]:
    """Run wrk for WRK_SECONDS on one thread; requests/s and median latency (ms), or fail loudly."""
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{WRK_SECONDS}s", "--latency"]
    if lua is not None:
        cmd += ["-s", str(lua)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=WRK_SECONDS + 30)
    text = out.stdout + out.stderr
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if out.returncode != 0 or rps is None or p50 is None:
        raise SystemExit(f"wrk failed ({' '.join(cmd)} {url}):\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if bad:
        raise SystemExit(f"{bad[1]} answers were not 2xx ({url}, -c {connections}):\n{text}")
    errors = re.search(r"Socket errors: (.*)", text)
    if errors:
        raise SystemExit(f"socket errors ({url}, -c {connections}): {errors[1]}\n{text}")
    return {"rps": float(rps[1]), "p50_ms": float(p50[1]) * _UNITS[p50[2]]}


# --- the run ----------------------------------------------------------------------------------


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    settings = get_settings()
    bodies = {"text": text_body(), "inline": inline_body()}
    with threadpool_limits(limits=1), tempfile.TemporaryDirectory() as tmp:
        lines = header("Gatescope serving path, POST /api/run at T=64, H=64 (one thread, medians)")
        lines.append(
            f"- uvicorn {version('uvicorn')}, fastapi {version('fastapi')}, pydantic "
            f"{version('pydantic')}, orjson {version('orjson')}; server env OPENBLAS_NUM_THREADS=1"
        )
        print("\n".join(lines), flush=True)
        body_file = Path(tmp, "body.json")
        body_file.write_bytes(bodies["text"])
        lua = Path(tmp, "post.lua")
        lua.write_text(LUA.format(path=str(body_file)))

        calls = {
            f"{name} {stage}": fn
            for name, body in bodies.items()
            for stage, fn in stage_calls(body, settings).items()
        }
        answer = {name: JSON(execute(RunRequest.model_validate_json(b), settings)).body
                  for name, b in bodies.items()}  # fmt: skip
        naive = {name: naive_json(execute(RunRequest.model_validate_json(b), settings))
                 for name, b in bodies.items()}  # fmt: skip
        samples: dict[str, list[float]] = {k: [] for k in calls}
        round_shares: list[float] = []  # this round's req/s × this round's in-process seconds
        http: dict[str, list[float]] = {k: [] for k in ("run c8", "healthz c8", "run c1", "healthz c1")}

        port = free_port()
        proc = start_server(port, Path(tmp, "uvicorn.log"))
        try:
            base = f"http://127.0.0.1:{port}"
            served = post(f"{base}/api/run", bodies["text"])
            if served != answer["text"]:
                raise SystemExit("the server's answer differs from the in-process one")
            wrk(f"{base}/api/run", 8, lua)  # warm-up, not counted
            for r in range(ROUNDS):
                this_round = interleaved(calls, IN_PROCESS_BUDGET_S)
                for k, v in this_round.items():
                    samples[k] += v
                http["run c8"].append(wrk(f"{base}/api/run", 8, lua)["rps"])
                seconds = sum(statistics.median(this_round[f"text {k}"]) for k in PIPELINE)
                round_shares.append(http["run c8"][-1] * seconds)
                http["healthz c8"].append(wrk(f"{base}/healthz", 8)["rps"])
                http["run c1"].append(wrk(f"{base}/api/run", 1, lua)["p50_ms"])
                http["healthz c1"].append(wrk(f"{base}/healthz", 1)["p50_ms"])
                print(f"round {r + 1}/{ROUNDS}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in http.items()),
                      flush=True)  # fmt: skip
        finally:
            stop_server(proc)

    ms = {k: median_ms(v) for k, v in samples.items()}
    med = {k: statistics.median(v) for k, v in http.items()}
    lines += [
        "",
        "## (a) In process",
        "",
        "| request | T, I, H | request B | parse ms | parse as FastAPI ms | execute ms "
        "| serialize ms | answer B | naive json.dumps ms | naive B | parse+execute+serialize ms "
        "| capacity req/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    capacity = {}
    for name, I in (("text", 96), ("inline", I_INLINE)):
        total = sum(ms[f"{name} {stage}"] for stage in PIPELINE)
        capacity[name] = 1e3 / total
        lines.append(
            f"| {name} | {T}, {I}, {H} | {len(bodies[name])} | {ms[f'{name} parse']:.3f} "
            f"| {ms[f'{name} {FASTAPI_PARSE}']:.3f} | {ms[f'{name} execute']:.3f} "
            f"| {ms[f'{name} serialize']:.3f} | {len(answer[name])} | {ms[f'{name} naive json']:.3f} "
            f"| {len(naive[name])} | {total:.3f} | {capacity[name]:.0f} |"
        )
    share = med["run c8"] / capacity["text"]
    lines += [
        "",
        f"## (b) uvicorn + wrk, {WRK_SECONDS} s per run, median of {ROUNDS} rounds",
        "",
        "| endpoint | req/s at 8 conn | median latency at 1 conn ms "
        "| in-process capacity req/s | throughput / capacity (target ≥ 75 %) |",
        "|---|---:|---:|---:|---:|",
        f"| POST /api/run (text, {len(answer['text'])} B answer) | {med['run c8']:.0f} "
        f"| {med['run c1']:.3f} | {capacity['text']:.0f} "
        f"| {share:.0%} {'✓' if share >= 0.75 else '✗'} |",
        f"| GET /healthz (framework ceiling) | {med['healthz c8']:.0f} | {med['healthz c1']:.3f} | – | – |",
        "",
        f"Per-request time implied: POST {1e3 / med['run c8']:.3f} ms = in-process "
        f"{1e3 / capacity['text']:.3f} ms + {1e3 / med['run c8'] - 1e3 / capacity['text']:.3f} ms "
        f"of serving (framework, threads, HTTP); GET /healthz alone costs "
        f"{1e3 / med['healthz c8']:.3f} ms. One request at a time would give 1 / (median latency "
        f"at 1 conn) = {1e3 / med['run c1']:.0f} req/s. Server (one process) and wrk share the cores.",
        "",
        "Throughput / capacity round by round (each round's own wrk and in-process medians): "
        + ", ".join(f"{x:.0%}" for x in round_shares)
        + ". The in-process samples run while wrk is idle, just before each round's wrk runs.",
    ]
    print("\n".join(lines[lines.index("## (a) In process") - 1 :]))
    print(f"\nwritten to {write('serve.md', lines)}")


if __name__ == "__main__":
    main()
