"""What one LSTM layer computed over T steps (`LayerTrace`): every gate, c and h, what went in,
and the pre-activations and their parts derived from them on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.engine.weights import GATES


@dataclass(frozen=True)
class LayerTrace:
    """Everything one layer computed over T steps; gate and state arrays are (T, H), or (T, B, H).

    Under interventions the gate arrays hold the values actually used, and two maps say how they
    came about, each keyed by gate and holding only the gates concerned (both empty without
    interventions). `shifts[gate]` (T, H) is what bias_add interventions added to the gate's
    pre-activation (their sum where several meet; gates whose shifts sum to 0 everywhere are left
    out), so that the pre-activation used is input + recurrent + bias + shift (see `pre`).
    `clamps[gate]` (T, H) is True where a value intervention replaced the gate's output: there the
    gate array holds the clamped value, not the activation of `pre`. An intervention applies to
    every sequence of a batch alike, so both are (T, H) even when the trace is (T, B, H);
    `shift(gate)` and `clamped(gate)` give them in the gate arrays' own shape.

    `direction` "backward" is a layer that read the sequence from its last step to its first (the
    backward half of a bidirectional layer, or Keras's go_backwards): its arrays are still in input
    order, row t the step that read x_t, so its previous step is t + 1 (see `previous`).
    """

    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    h: np.ndarray
    x: np.ndarray  # (T, [B,] I) this layer's input
    h0: np.ndarray  # ([B,] H)
    c0: np.ndarray  # ([B,] H)
    W_ih: np.ndarray  # (4H, I)
    W_hh: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,) b_ih + b_hh
    gate_activation: str = "sigmoid"  # of i, f, o: "sigmoid" or "hard_sigmoid"
    shifts: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> (T, H) added to z
    clamps: dict[str, np.ndarray] = field(default_factory=dict)  # gate -> (T, H) bool: value set
    direction: str = "forward"  # or "backward": read from the last step to the first

    def previous(self, a: np.ndarray, start: np.ndarray) -> np.ndarray:
        """(T, …) the value of `a` at each step's previous step, `start` (h0 or c0) before the
        first: a[t − 1] forward, a[t + 1] backward."""
        if self.direction == "backward":
            return np.concatenate([a[1:], start[None]])
        return np.concatenate([start[None], a[:-1]])

    def parts(self, gate: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The gate's pre-activation as (input part W·x_t (T, H), recurrent part U·h_{t-1} (T, H), bias (H,)).

        Computed on demand, as two GEMMs over all steps: most runs never ask for them.
        """
        k = GATES.index(gate)
        H = self.h.shape[-1]
        rows = slice(k * H, (k + 1) * H)
        h_prev = self.previous(self.h, self.h0)  # (T, [B,] H)
        return self.x @ self.W_ih[rows].T, h_prev @ self.W_hh[rows].T, self.bias[rows]

    def pre(self, gate: str) -> np.ndarray:
        """The gate's whole pre-activation as used, (T, H): the parts plus any bias_add shift."""
        x_part, h_part, b = self.parts(gate)
        if gate in self.shifts:
            return x_part + h_part + b + self.shift(gate)
        return x_part + h_part + b

    def shift(self, gate: str) -> np.ndarray:
        """What bias_add interventions added to the gate's pre-activation, (T, [B,] H); zeros if none."""
        return self._per_sequence(self.shifts.get(gate), 0.0)

    def clamped(self, gate: str) -> np.ndarray:
        """Where a value intervention set the gate's output, (T, [B,] H) booleans."""
        return self._per_sequence(self.clamps.get(gate), False)

    def _per_sequence(self, a: np.ndarray | None, empty: float | bool) -> np.ndarray:
        if a is None:
            return np.full(self.h.shape, empty)
        T, H = a.shape
        return np.broadcast_to(a.reshape(T, *(1,) * (self.h.ndim - 2), H), self.h.shape)
