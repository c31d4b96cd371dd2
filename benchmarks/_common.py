"""What both benchmarks share: the environment header, interleaved timing, medians, the results folder."""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import threadpoolctl

RESULTS = Path(__file__).resolve().parent / "results"
# Variables that change which OpenBLAS kernel runs or how it blocks; set, they can slow NumPy.
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")


def header(title: str) -> list[str]:
    """Markdown lines naming the machine, versions, BLAS kernels and BLAS environment variables.

    Call it inside threadpool_limits(1) so that the reported thread counts are the ones measured.
    """
    lines = [
        f"# {title}",
        "",
        f"- python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPU(s), {platform.machine()}, load average "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        + " (1 / 5 / 15 min: other work on this shared machine)",
    ]
    for lib in threadpoolctl.threadpool_info():
        kernel = lib.get("architecture") or "-"
        lines.append(
            f"- threadpoolctl: {lib['internal_api']} {lib.get('version') or ''} "
            f"kernel={kernel} threads={lib['num_threads']} ({Path(lib['filepath']).name})"
        )
    for name in BLAS_ENV:
        value = os.environ.get(name)
        note = ""
        if value is not None and name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            note = "  <- set: may force a slower OpenBLAS kernel or blocking"
        lines.append(f"- {name}={value if value is not None else '(unset)'}{note}")
    return lines


def _time_calls(fn: Callable[[], object], n: int) -> float:
    """Seconds per call over n back-to-back calls, with the garbage collector off (as timeit does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n
    finally:
        if enabled:
            gc.enable()


def interleaved(
    competitors: Mapping[str, Callable[[], object]],
    budget_s: float,
    min_rounds: int = 9,
    max_rounds: int = 400,
    min_sample_s: float = 0.002,
) -> dict[str, list[float]]:
    """Per-call times in seconds, one sample per competitor per round, rounds run A,B,C,A,B,C,…

    A warm-up call and a short calibration size each sample (n back-to-back calls, so that a
    sample lasts at least min_sample_s) and the number of rounds (about budget_s in all).
    """
    calls: dict[str, int] = {}
    estimate: dict[str, float] = {}
    for name, fn in competitors.items():
        fn()  # warm-up: first-call allocations, lazy initialisation
        once = min(_time_calls(fn, 1) for _ in range(3))
        calls[name] = max(1, math.ceil(min_sample_s / max(once, 1e-9)))
        estimate[name] = once
    round_s = sum(calls[k] * estimate[k] for k in competitors)
    rounds = max(min_rounds, min(max_rounds, int(budget_s / max(round_s, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in competitors}
    for _ in range(rounds):
        for name, fn in competitors.items():
            samples[name].append(_time_calls(fn, calls[name]))
    return samples


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def write(name: str, lines: list[str]) -> Path:
    """Write the printed lines to benchmarks/results/<name>; the folder is git-ignored."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
