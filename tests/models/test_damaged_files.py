"""Uploads with a few bytes changed at random, in every format the frameworks write: each is read
or refused in words (a Refusal: a 4xx), never with another error (a 500)."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
from safetensors.numpy import save as save_numpy

from app.models import formats
from app.refusal import Refusal

WEIGHTS = {"weight_ih_l0": np.linspace(-1, 1, 24).reshape(8, 3), "weight_hh_l0": np.ones((8, 2))}


def npz(compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **WEIGHTS)
    return buf.getvalue()


def torch_saved(legacy: bool) -> bytes:
    buf = io.BytesIO()
    state = {k: torch.from_numpy(v) for k, v in WEIGHTS.items()}
    torch.save(state, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def onnx_model() -> bytes:
    from tests.models.test_onnxfile import lstm_model

    return lstm_model()[0]


FILES = {
    "onnx": onnx_model,
    "npz": lambda: npz(False),
    "compressed npz": lambda: npz(True),
    "safetensors": lambda: save_numpy(WEIGHTS),
    "torch zip": lambda: torch_saved(False),
    "torch legacy": lambda: torch_saved(True),
}


def refusals_of_damaged(raw: bytes, times: int, seed: int, most_changed: int) -> int:
    """How many of `times` copies of `raw`, each with up to `most_changed` bytes changed at
    random, are refused; any error but a Refusal fails the test that asks."""
    rng, refused = random.Random(seed), 0
    for _ in range(times):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, most_changed)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            for header in formats.read_headers(bytes(damaged), 10**8, 64):
                header.read()
        except Refusal:
            refused += 1
    return refused


@pytest.mark.parametrize("kind", FILES)
def test_a_damaged_file_is_read_or_refused_in_words(kind: str) -> None:
    assert refusals_of_damaged(FILES[kind](), times=400, seed=7, most_changed=6) > 0
