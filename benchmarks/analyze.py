"""POST /api/analyze's work against torch: 200,000 characters of held-out stdlib code summarised with
`python-chars` (H = 128), against torch.nn.LSTM's forward over the same one-hot input.

Competitors, same weights and input:

- analyze        app.service.analyze.analyze(request): the text's characters checked and encoded a
                 chunk at a time, its labels built (Python's tokenize, prose, none of the user's),
                 the LSTM run in chunks of 4,096 steps with every gate recorded and folded into
                 the statistics, the answer shaped (no HTTP, no JSON encoding);
- engine only    app.engine.summary.summarise over the same input and labels (what analyze costs
                 less its labels and encoding);
- torch f64      torch.nn.LSTM(...).double() under torch.no_grad() over the whole (T, 96) one-hot
                 tensor, which returns only h for every step.

How: one thread everywhere (threadpool_limits(1), torch.set_num_threads(1)); after a warm-up call
each, the three interleaved A,B,C,A,B,C,… for ROUNDS rounds of one call each; medians and their
ratios. Peak memory of one analyze is measured apart with tracemalloc (NumPy reports its buffers
to it): one recorded T × H float64 array at this size would be 205 MB.

Run: .venv/bin/python -m benchmarks.analyze   (writes benchmarks/results/analyze.md too)
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from app.engine.summary import summarise
from app.models import zoo
from app.service import analyze, labels
from app.service.requests import AnalyzeRequest
from app.service.resolve import one_hot, vocab_columns
from app.train import pychars
from app.web.settings import Settings
from benchmarks._common import header, median_ms, write

STEPS = 200_000
ROUNDS = 5


def held_out_text(steps: int) -> str:
    """The files python-chars never trained on, characters outside its vocabulary read as '?',
    repeated to `steps` characters."""
    text = pychars.read_text(pychars.stdlib(), pychars.HELD_OUT_FILES)
    text = "".join(ch if ch in pychars.VOCAB else pychars.STAND_IN for ch in text)
    return (text * (steps // len(text) + 1))[:steps]


def main() -> None:
    torch.set_num_threads(1)
    with threadpool_limits(limits=1), torch.no_grad():
        m = zoo.get("python-chars")
        assert m.vocab is not None
        text = held_out_text(STEPS)
        req = AnalyzeRequest(model=m.id, text=text)
        settings = Settings()
        x = one_hot(vocab_columns(text, m), len(m.vocab))
        y = labels.built_in(text).matrix(STEPS)
        lstm = torch.nn.LSTM(m.input_size, m.hidden_size).double()
        lstm.load_state_dict(
            {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in m.weights.items()}
        )
        lstm.eval()
        x64 = torch.from_numpy(x).unsqueeze(1)  # (T, 1, I)

        competitors = {
            "analyze": lambda: analyze.analyze(req, settings),
            "engine": lambda: summarise(m.weights, lambda a, b: x[a:b], STEPS, y),
            "torch": lambda: lstm(x64),
        }
        samples: dict[str, list[float]] = {name: [] for name in competitors}
        for fn in competitors.values():
            fn()  # warm-up
        for _ in range(ROUNDS):  # each call lasts seconds: one call per sample, no calibration
            for name, fn in competitors.items():
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
        ms = {k: median_ms(v) for k, v in samples.items()}
        tracemalloc.start()
        analyze.analyze(req, settings)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        ratio = ms["analyze"] / ms["torch"]
        lines = header(
            "POST /api/analyze's work vs torch.nn.LSTM forward (python-chars, one thread, medians)"
        )
        lines += [
            f"- torch {torch.__version__}, torch threads={torch.get_num_threads()}",
            "",
            f"{STEPS:,} characters of held-out stdlib code ({', '.join(pychars.HELD_OUT_FILES)}, repeated), "
            f"H = {m.hidden_size}, {ROUNDS} interleaved rounds:",
            "",
            "| | median s | ÷ torch f64 |",
            "|---|---:|---:|",
            f"| analyze (labels + chunked forward + statistics) | {ms['analyze'] / 1e3:.2f} | "
            f"{ratio:.2f} {'✓' if ratio <= 2.0 else '✗'} (target ≤ 2) |",
            f"| engine only (summarise) | {ms['engine'] / 1e3:.2f} | {ms['engine'] / ms['torch']:.2f} |",
            f"| torch.nn.LSTM f64 forward (h only) | {ms['torch'] / 1e3:.2f} | 1.00 |",
            "",
            f"Peak memory of one analyze (tracemalloc): {peak / 1e6:.1f} MB; one T × H float64 array "
            f"would be {STEPS * m.hidden_size * 8 / 1e6:.0f} MB.",
        ]
        print("\n".join(lines))
    print(f"\nwritten to {write('analyze.md', lines)}")


if __name__ == "__main__":
    main()
