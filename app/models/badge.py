"""What an uploaded model's badge says, from what its upload stored: the format read, each step
of the conversion to torch.nn.LSTM's layout in words, what the test suite checks that conversion
against (a claim about the conversion, not about this file), and, where the framework's reference
ran in the server (ONNX's reference evaluator), the difference measured for this very model."""

from __future__ import annotations

from typing import Any

# The reference each kind of file's conversion is tested against by the test suite
# (tests/models/), and a bound on the largest difference measured there (float64, h and c of
# every step, layer and direction; the tests themselves hold every figure to 1e-9).
TESTED = {
    "PyTorch": ("torch.nn.LSTM (torch 2.13.0, float64)", 1e-14),
    "Keras": ("Keras 3's own LSTM layers (float64) and, for hard_sigmoid, Keras 2's equations", 1e-14),
    "ONNX": ("ONNX's reference evaluator and torch.nn.LSTM (float64)", 1e-14),
}


def family(info: dict[str, Any]) -> str:
    """Which framework's files these were: "PyTorch", "Keras" or "ONNX"."""
    fmt = info.get("format") or ""
    if fmt.startswith("ONNX"):
        return "ONNX"
    if fmt.startswith("Keras") or info.get("source") == "Keras":
        return "Keras"
    return "PyTorch"


def tested(info: dict[str, Any]) -> str:
    """The claim the test suite backs: about the conversion of this kind of file."""
    reference, bound = TESTED[family(info)]
    return (
        f"This conversion is tested against {reference} by Gatescope's test suite: largest "
        f"difference there below {bound:.0e}. That is a claim about the conversion, not a "
        "measurement of this file."
    )


def steps(info: dict[str, Any], bidirectional: bool) -> list[str]:
    """How the file became the model shown, in words, in the order it happened."""
    said: list[str] = []
    if info.get("module"):  # a whole model's: '' is an LSTM's own state_dict
        said.append(f"the LSTM taken from module {info['module']!r}")
    ignored, count = info.get("ignored") or [], info.get("ignored_count", 0)
    if count:
        more = f" and {count - len(ignored)} more" if count > len(ignored) else ""
        said.append(
            f"{count} other tensor(s) left out: {', '.join(ignored[:8])}{more if len(ignored) <= 8 else '…'}"
        )
    conversions = list(info.get("conversions") or [])
    said += conversions
    if bidirectional and not any("direction" in c for c in conversions):
        said.append("directions: forward and backward (bidirectional), each layer two entries")
    if info.get("forget_bias"):
        said.append(
            f"forget_bias {info['forget_bias']:g} added to the forget gate's bias, as TensorFlow 1 did"
        )
    if info.get("gate_activation") == "hard_sigmoid":
        said.append("i, f and o computed with Keras 2's hard_sigmoid, clip(0.2·z + 0.5, 0, 1)")
    if info.get("gate_activation") == "hard_sigmoid_keras3":
        said.append("i, f and o computed with Keras 3's hard_sigmoid, relu6(z + 3)/6 (the file says Keras 3)")
    return said


def conversion(info: dict[str, Any], bidirectional: bool) -> dict[str, Any]:
    """The badge: {"format", "steps", "tested", "measured"} (measured: None where nothing ran)."""
    return {
        "format": info.get("format") or f"{info.get('source', 'PyTorch')} tensors",
        "steps": steps(info, bidirectional),
        "tested": tested(info),
        "measured": info.get("measured"),
    }
