"""The engine against PyTorch: app.lstm.forward, which records every gate, per call, one layer.

Competitors, all with the same weights (app.lstm.init_weights) and inputs (fixed seed):

- gatescope      app.lstm.forward(weights, x): float64, returns i, f, g, o, c, h for every step
                 (weight validation included, as the app calls it);
- torch f64      torch.nn.LSTM(...).double() under torch.no_grad(): the fused kernel, which
                 returns only h for every step and the last (h, c);
- torch f32      the same in float32;
- LSTMCell loop  what a user writes to record every gate with torch, in float64 under no_grad:
                 a Python loop over steps that computes the gates from an nn.LSTMCell's own
                 weights with torch ops and stores i, f, g, o, c, h into preallocated tensors.

How: one thread everywhere (threadpool_limits(1) for NumPy's OpenBLAS, torch.set_num_threads(1)).
For each size the four run interleaved, A,B,C,D,A,B,C,D,…, each sample being enough back-to-back
calls to last ≥ 2 ms, for about BUDGET_S seconds; the table shows medians and ratios of medians
from that one run. Before timing, the outputs are checked against each other (float64 to 1e-9).
Peak extra memory of forward at the largest size is measured with tracemalloc, which sees
NumPy's array buffers (NumPy reports them to it) as well as Python objects.

Run: .venv/bin/python -m benchmarks.forward   (writes benchmarks/results/forward.md too)
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from app.engine.lstm import forward, init_weights
from benchmarks._common import header, interleaved, median_ms, write

SIZES = [(16, 8, 16), (64, 32, 64), (256, 64, 128), (1024, 64, 256)]  # (T, I, H)
SEED = 0
BUDGET_S = 30.0  # per size, for the timed rounds; the whole script stays under 3 minutes
GATE_NAMES = ("i", "f", "g", "o", "c", "h")


def torch_lstm(weights: dict[str, np.ndarray], I: int, H: int, dtype: torch.dtype) -> torch.nn.LSTM:
    """An nn.LSTM in `dtype` holding exactly these float64 weights (cast once, after the dtype change)."""
    m = torch.nn.LSTM(I, H, num_layers=1).to(dtype)
    m.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return m.eval()


def torch_cell(weights: dict[str, np.ndarray], I: int, H: int) -> torch.nn.LSTMCell:
    cell = torch.nn.LSTMCell(I, H).double()
    cell.load_state_dict({k.removesuffix("_l0"): torch.from_numpy(v) for k, v in weights.items()})
    return cell.eval()


def cell_loop(cell: torch.nn.LSTMCell, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every gate of every step, the way a torch user records them (call under torch.no_grad()).

    LSTMCell's forward returns only (h, c), so the natural approach is to compute the gates from
    the cell's weights with torch ops, in torch's gate order i, f, g, o, rather than calling the
    cell and then recomputing the gates a second time.
    """
    T, H = x.shape[0], cell.hidden_size
    rec = {k: torch.empty(T, H, dtype=x.dtype) for k in GATE_NAMES}
    W_ih, W_hh, b_ih, b_hh = cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh
    h = torch.zeros(H, dtype=x.dtype)
    c = torch.zeros(H, dtype=x.dtype)
    for t in range(T):
        gates = x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        i, f, g, o = gates.chunk(4)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        for name, value in zip(GATE_NAMES, (i, f, g, o, c, h), strict=True):
            rec[name][t] = value
    return rec


def check_agreement(weights, x, lstm64, cell, x64) -> None:
    """The competitors compute the same thing: gatescope against the cell loop and torch's h."""
    trace = forward(weights, x)[0]
    rec = cell_loop(cell, x64)
    out, _ = lstm64(x64)
    worst = max(float(np.max(np.abs(getattr(trace, k) - rec[k].numpy()))) for k in GATE_NAMES)
    worst = max(worst, float(np.max(np.abs(trace.h - out.numpy()))))
    if worst > 1e-9:
        raise SystemExit(f"gatescope and torch disagree by {worst:.3g} at T, I = {x.shape}")


def measure_memory(weights: dict[str, np.ndarray], x: np.ndarray, H: int) -> list[str]:
    """Peak and retained extra memory of one forward call, traced by tracemalloc."""
    T = x.shape[0]
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    traces = forward(weights, x)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    recorded = sum(getattr(traces[0], k).nbytes for k in GATE_NAMES)
    torch_out = lambda size: (T * H + 2 * H) * size  # noqa: E731  output (T, H) + h_n + c_n
    mb = lambda n: f"{n / 1e6:.2f} MB"  # noqa: E731
    return [
        f"Memory at T={T}, I={x.shape[1]}, H={H} (tracemalloc: it counts NumPy's array buffers, "
        "which NumPy reports to it, plus Python objects):",
        "",
        f"- gatescope forward: peak extra {mb(peak - base)}, retained after the call "
        f"{mb(current - base)}; the six recorded T×H float64 arrays are {mb(recorded)} of it",
        f"- torch.nn.LSTM returns output (T, H) + h_n + c_n: {mb(torch_out(8))} in float64, "
        f"{mb(torch_out(4))} in float32",
        f"- peak extra / torch f64 output = {(peak - base) / torch_out(8):.1f}× "
        f"(six arrays recorded instead of one: ≥ 6× is inherent)",
    ]


def bench_size(T: int, I: int, H: int) -> tuple[str, int]:
    rng = np.random.default_rng(SEED)
    weights = init_weights(I, H, layers=1, seed=SEED)
    x = rng.standard_normal((T, I))
    x64 = torch.from_numpy(x)
    x32 = x64.float()
    lstm64 = torch_lstm(weights, I, H, torch.float64)
    lstm32 = torch_lstm(weights, I, H, torch.float32)
    cell = torch_cell(weights, I, H)
    check_agreement(weights, x, lstm64, cell, x64)

    samples = interleaved(
        {
            "gatescope": lambda: forward(weights, x),
            "f64": lambda: lstm64(x64),
            "f32": lambda: lstm32(x32),
            "loop": lambda: cell_loop(cell, x64),
        },
        budget_s=BUDGET_S,
    )
    ms = {k: median_ms(v) for k, v in samples.items()}
    vs64 = ms["gatescope"] / ms["f64"]
    vs32 = ms["gatescope"] / ms["f32"]
    speedup = ms["loop"] / ms["gatescope"]
    row = (
        f"| T={T}, I={I}, H={H} | {ms['gatescope']:.3f} | {ms['f64']:.3f} | {ms['f32']:.3f} "
        f"| {ms['loop']:.3f} | {vs64:.2f} {'✓' if vs64 <= 1.0 else '✗'} | {vs32:.2f} "
        f"| {speedup:.1f} {'✓' if speedup >= 3 else '✗'} |"
    )
    return row, len(samples["gatescope"])


def main() -> None:
    torch.set_num_threads(1)
    with threadpool_limits(limits=1), torch.no_grad():
        lines = header("Gatescope forward vs torch (one layer, one thread, medians)")
        lines.append(f"- torch {torch.__version__}, torch threads={torch.get_num_threads()}")
        lines += [
            "",
            "| size | gatescope ms | torch f64 ms | torch f32 ms | LSTMCell loop ms "
            "| ratio vs f64 (target ≤ 1.0) | ratio vs f32 | speed-up vs LSTMCell loop (target ≥ 3) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        print("\n".join(lines), flush=True)
        rounds = []
        for T, I, H in SIZES:
            row, n = bench_size(T, I, H)
            rounds.append(f"{n} (T={T})")
            lines.append(row)
            print(row, flush=True)
        tail = [
            "",
            "ratio = gatescope / torch (lower is better); speed-up = LSTMCell loop / gatescope. "
            f"Interleaved rounds per size: {', '.join(rounds)}.",
            "",
        ]
        T, I, H = SIZES[-1]
        x = np.random.default_rng(SEED).standard_normal((T, I))
        tail += measure_memory(init_weights(I, H, layers=1, seed=SEED), x, H)
        print("\n".join(tail))
        lines += tail
    print(f"\nwritten to {write('forward.md', lines)}")


if __name__ == "__main__":
    main()
