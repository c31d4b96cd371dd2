"""The figure on an ONNX model's badge: the file itself run by ONNX's reference evaluator
(onnx.reference) on a probe sequence, and the largest difference between each LSTM node's Y and
Gatescope's h for the same steps — measured for this very model, not a claim about the format.

The evaluator runs in a child process (app.models.sandbox), killed after PROBE_SECONDS: it is
Python, and a model's cost grows with its size. Anything that keeps it from measuring is said in
words ("not measured: …"), never turned into a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

PROBE_STEPS = 8  # unless the file fixes its sequence length (torch's export does), up to MOST_STEPS
MOST_STEPS = 64
PROBE_SEED = 0
PROBE_SECONDS = 10.0


def probe(steps: int, input_size: int) -> np.ndarray:
    """The probe sequence (T, I): the same for every model of this size."""
    return np.random.default_rng(PROBE_SEED).normal(size=(steps, input_size))


def measure(raw: bytes, weights: Mapping[str, np.ndarray], reverse: bool, input_size: int) -> dict[str, Any]:
    """{"reference", "steps", "max_abs_diff"} or {"reference", "steps", "not_measured": why}."""
    from app.engine import lstm
    from app.models import sandbox

    said: dict[str, Any] = {"reference": "onnx.reference.ReferenceEvaluator"}
    try:
        answer = sandbox.in_child(_evaluate, (raw, input_size), PROBE_SECONDS)
    except sandbox.Stalled:
        return said | {"not_measured": f"the reference evaluator took more than {PROBE_SECONDS:g} s"}
    except sandbox.Crashed:
        return said | {"not_measured": "the reference evaluator ended without an answer"}
    if answer[0] == "failed":
        return said | {"not_measured": f"the reference evaluator could not run the file: {answer[1]}"}
    x, nodes = answer[1]  # the probe (T, I), and each node's Y as (T, directions, H)
    said["steps"] = len(x)
    traces = lstm.forward(weights, x, reverse=reverse)
    per_node = len(traces) // len(nodes) if nodes and len(traces) % len(nodes) == 0 else 0
    if not per_node or any(y.shape[1] != per_node for y in nodes):
        return said | {"not_measured": "the file's LSTM nodes do not line up with the layers read"}
    worst = 0.0
    for k, y in enumerate(nodes):
        for d in range(per_node):
            worst = max(worst, float(np.max(np.abs(y[:, d, :] - traces[k * per_node + d].h))))
    return said | {"max_abs_diff": worst}


def _evaluate(sending: Connection, raw: bytes, input_size: int) -> None:
    """In the child: the probe and every LSTM node's Y for it, as (T, directions, H) float64 arrays."""
    try:
        sending.send(("ran", _node_outputs(raw, input_size)))
    except Exception as e:  # whatever stops the evaluator is said, not raised: this is a child
        sending.send(("failed", f"{type(e).__name__}: {str(e)[:200]}"))
    finally:
        sending.close()


def _node_outputs(raw: bytes, input_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    import onnx
    from onnx import helper, reference

    model = onnx.load_model_from_string(raw)
    graph = model.graph
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    known = {t.name for t in graph.initializer}
    feeds = [i for i in graph.input if i.name not in known]
    if len(feeds) != 1:
        raise ValueError(f"the graph takes {len(feeds)} inputs besides its weights; the probe feeds one, X")
    layout = next((helper.get_attribute_value(a) for a in lstms[0].attribute if a.name == "layout"), 0)
    tensor = feeds[0].type.tensor_type
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type)
    dims = [d.dim_value for d in tensor.shape.dim]
    fixed = dims[layout] if len(dims) == 3 else 0  # 0: not fixed (a name, or nothing)
    x = probe(fixed if 0 < fixed <= MOST_STEPS else PROBE_STEPS, input_size)
    X = x[:, None, :] if layout == 0 else x[None, :, :]  # (T, B=1, I), or batch first
    wanted = [n.output[0] for n in lstms]
    results = reference.ReferenceEvaluator(model).run(
        None, {feeds[0].name: X.astype(dtype)}, intermediate=True
    )
    outputs = []
    for name in wanted:
        y = np.asarray(results[name], dtype=np.float64)  # (T, D, B, H), or (B, T, D, H) batch first
        outputs.append(y[:, :, 0, :] if layout == 0 else y[0])
    return x, outputs
