"""The ONNX badge's figure: ONNX's reference evaluator runs the very file on a probe, and the
difference to Gatescope's h is measured — large when the weights differ, words when it cannot run."""

from __future__ import annotations

import io

import numpy as np
import torch
from onnx import TensorProto, helper

from app.models import onnxprobe

I, H, T = 3, 4, 7


def exported(dtype: torch.dtype, layers: int = 2) -> tuple[bytes, dict[str, np.ndarray]]:
    torch.manual_seed(layers)
    lstm = torch.nn.LSTM(I, H, num_layers=layers).to(dtype)
    buffer = io.BytesIO()
    torch.onnx.export(lstm, (torch.randn(T, 1, I, dtype=dtype),), buffer, dynamo=False)
    return buffer.getvalue(), {k: v.double().numpy() for k, v in lstm.state_dict().items()}


def test_a_float64_export_measures_as_equal_to_rounding():
    raw, weights = exported(torch.float64)
    said = onnxprobe.measure(raw, weights, False, I)
    assert said["reference"] == "onnx.reference.ReferenceEvaluator"
    assert said["steps"] == T  # the export fixes the sequence length: the probe keeps it
    assert said["max_abs_diff"] <= 1e-12


def test_a_float32_file_measures_its_own_rounding():
    raw, weights = exported(torch.float32)
    said = onnxprobe.measure(raw, weights, False, I)
    assert 1e-9 < said["max_abs_diff"] < 1e-5  # the evaluator computes in float32; Gatescope in float64


def test_weights_that_differ_from_the_file_show_as_a_difference():
    raw, weights = exported(torch.float64)
    wrong = dict(weights, bias_ih_l1=weights["bias_ih_l1"] + 0.5)
    assert onnxprobe.measure(raw, wrong, False, I)["max_abs_diff"] > 0.01


def test_a_file_the_evaluator_cannot_feed_is_said_in_words():
    graph = helper.make_graph(
        [helper.make_node("LSTM", ["X", "W", "R"], ["Y"], hidden_size=H)],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.DOUBLE, None) for n in ("X", "W", "R")],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, None)],
    )
    raw = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]).SerializeToString()
    said = onnxprobe.measure(raw, {}, False, I)
    assert "max_abs_diff" not in said
    assert said["not_measured"].startswith("the reference evaluator could not run the file")
    assert "3 inputs besides its weights" in said["not_measured"]
