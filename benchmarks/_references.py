"""Each framework's own h and c of every step, layer and direction, in input order, for parity.py.

Frameworks return h of every step but c only at the end, so c_t comes from a run over a prefix
(x_0…x_t, forward) or a suffix (x_t…x_{T−1}, backward), the framework's final state of that run.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

Trace = list[tuple[np.ndarray, np.ndarray]]  # (h, c), each (T, H), per layer and direction


def torch_trace(lstm: torch.nn.LSTM, x: np.ndarray) -> Trace:
    """torch.nn.LSTM in float64 (the weights cast up), one layer at a time."""
    lstm = lstm.double()
    dirs, H, T = 2 if lstm.bidirectional else 1, lstm.hidden_size, len(x)
    trace: Trace = []
    below = torch.from_numpy(x)
    with torch.no_grad():
        for k in range(lstm.num_layers):
            one = torch.nn.LSTM(below.shape[1], H, bidirectional=lstm.bidirectional).double()
            one.load_state_dict(
                {n.replace(f"_l{k}", "_l0"): v for n, v in lstm.state_dict().items() if f"_l{k}" in n}
            )
            out, _ = one(below)
            for d in range(dirs):
                parts = [below[: t + 1] if d == 0 else below[t:] for t in range(T)]
                c = np.array([one(p)[1][1][d].numpy() for p in parts])
                trace.append((out[:, d * H : (d + 1) * H].numpy(), c))
            below = out
    return trace


def keras_states(layer: keras.layers.LSTM, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h and c of a Keras LSTM layer at every step, in input order: a twin layer of the same
    config and weights that returns its state, run over each prefix (each suffix when it reads
    backwards)."""
    twin = keras.layers.LSTM.from_config(
        {**layer.get_config(), "return_state": True, "return_sequences": False}
    )
    twin.build((1, None, x.shape[1]))
    twin.set_weights(layer.get_weights())
    hs, cs = [], []
    for t in range(len(x)):
        part = x[t:] if layer.go_backwards else x[: t + 1]
        _, h, c = twin(part[None])
        hs.append(np.asarray(h.detach().cpu())[0])
        cs.append(np.asarray(c.detach().cpu())[0])
    return np.array(hs), np.array(cs)


def onnx_trace(model: onnx.ModelProto, x: np.ndarray, direction: str) -> Trace:
    """ReferenceEvaluator's h (its Y) and c (its Y_c over prefixes and suffixes) of one LSTM node
    whose outputs the graph names Y0 and Yc0 (tests/models/test_onnx_directions.stack)."""
    evaluator = ReferenceEvaluator(model)
    (y,) = evaluator.run(["Y0"], {"X": x[:, None, :]})  # (T, directions, 1, H)
    trace: Trace = []
    for d in range(y.shape[1]):
        backward = d == 1 or direction == "reverse"
        parts = [x[t:] if backward else x[: t + 1] for t in range(len(x))]
        c = np.array([evaluator.run(["Yc0"], {"X": p[:, None, :]})[0][d, 0] for p in parts])
        trace.append((y[:, d, 0, :], c))
    return trace
