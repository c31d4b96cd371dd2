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
from tests.models.test_upload_limits import zip_of
from tests.models.test_uploads import post_model

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


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (
            zip_of({"README.txt": b"no arrays here", "notes/a.csv": b"1,2"}),
            "the file is a zip archive that holds no arrays ('README.txt', 'notes/a.csv'): not an .npz, "
            'a .keras file nor a torch.save file; save the weights with np.savez, model.save("m.keras") '
            'or torch.save(model.state_dict(), "m.pt")',
        ),
        (
            zip_of({}),
            "the file is a zip archive that holds no arrays (nothing): not an .npz",
        ),
        (
            bytes(random.Random(7).randrange(256) for _ in range(4096)),
            "the file is in no format Gatescope reads (it begins ",
        ),
        (
            b"GIF89a\x01\x00\x01\x00",
            "the file is in no format Gatescope reads (it begins 47 49 46 38 39 61 01 00): not a torch.save "
            "file, .safetensors, .npz, a Keras file (.keras, .weights.h5, .h5) nor ONNX",
        ),
        (
            save_numpy(WEIGHTS)[:40],  # within its header
            "the .safetensors file is cut short: its header declares ",
        ),
    ],
    ids=["zip-of-other-files", "empty-zip", "random-bytes", "a-gif", "safetensors-cut-short"],
)
def test_a_file_in_no_format_it_reads_is_said_to_be_what_it_is(client, raw: bytes, words: str) -> None:
    answer = post_model(client, raw, "model.pt", input_size="3")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith(words) and answer.json()["loc"] == ["weights"], answer.json()
