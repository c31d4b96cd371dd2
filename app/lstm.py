"""The public engine API (`app.lstm.forward` and its types), kept at this path for other programs:
the engine itself is app.engine.lstm."""

from app.engine.lstm import (
    GATE_SCALE,
    GATES,
    Intervention,
    InterventionError,
    LayerTrace,
    Shape,
    WeightError,
    check_interventions,
    forward,
    init_weights,
    keras_to_torch,
    shape_of,
)
from app.engine.outputs import last_h, logits, softmax

__all__ = [
    "GATE_SCALE",
    "GATES",
    "Intervention",
    "InterventionError",
    "LayerTrace",
    "Shape",
    "WeightError",
    "check_interventions",
    "forward",
    "init_weights",
    "keras_to_torch",
    "last_h",
    "logits",
    "shape_of",
    "softmax",
]
