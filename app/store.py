"""Stored models, kept once by content hash in an embedded SQLite database (WAL mode).

A model is stored as its tensors (float64, torch naming) in safetensors bytes beside a small
JSON description; nothing is ever pickled. Every call opens its own connection, so the store
is safe to use from the worker threads that serve requests.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,       -- JSON: vocab or input_size, name, options, source format
    weights BLOB NOT NULL,    -- safetensors bytes, float64, torch.nn.LSTM naming
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""


@dataclass(frozen=True)
class Stored:
    id: str
    info: dict[str, Any]
    weights: dict[str, np.ndarray]


class Store:
    def __init__(self, data_dir: Path):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "gatescope.sqlite3"
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

    def put_model(self, model_id: str, info: dict[str, Any], weights: dict[str, np.ndarray]) -> bool:
        """Store a model under its id; False if it was there already (the same content)."""
        blob = save_tensors({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in weights.items()})
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO models (id, info, weights) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (model_id, json.dumps(info, sort_keys=True), blob),
            )
            return cursor.rowcount == 1

    def get_model(self, model_id: str) -> Stored | None:
        with self._connect() as db:
            row = db.execute("SELECT info, weights FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            return None
        return Stored(model_id, json.loads(row[0]), dict(load_tensors(row[1])))
