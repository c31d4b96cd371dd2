"""What Gatescope keeps: models (uploaded ones, and the versions share links pin), links and their
preview images, each stored once under an id derived from its content.

The embedded SQLite database (WAL mode) under GATESCOPE_DATA_DIR is the default; DATABASE_URL
(postgresql://…) puts the same tables in PostgreSQL, for several app instances. Every call opens
its own connection and transaction, so the store is safe from the worker threads that serve
requests, and from several processes. Tensors are kept as safetensors bytes: nothing is pickled.
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

# One schema for both databases: {blob} is BLOB in SQLite, BYTEA in PostgreSQL.
TABLES = (
    """CREATE TABLE IF NOT EXISTS models (
        id TEXT PRIMARY KEY,
        info TEXT NOT NULL,       -- JSON: input description, name, options, source (or the model pinned)
        weights {blob} NOT NULL   -- safetensors bytes, float64, torch.nn.LSTM naming
    )""",
    """CREATE TABLE IF NOT EXISTS links (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL       -- JSON: the view state, its model pinned by weights hash
    )""",
    """CREATE TABLE IF NOT EXISTS previews (
        id TEXT PRIMARY KEY,      -- a link's id
        png {blob} NOT NULL
    )""",
)


@dataclass(frozen=True)
class Stored:
    id: str
    info: dict[str, Any]
    weights: dict[str, np.ndarray]


class Store:
    """`database_url` None: SQLite in data_dir/gatescope.sqlite3; else a postgresql:// URL."""

    def __init__(self, data_dir: Path, database_url: str | None = None):
        self.postgres = bool(database_url)
        self.path = data_dir / "gatescope.sqlite3"
        self.pool: Any = None
        if self.postgres:
            from psycopg_pool import ConnectionPool  # only deployments with DATABASE_URL need it

            # a PostgreSQL connection costs a server process: keep a few open
            self.pool = ConnectionPool(
                database_url or "",
                min_size=1,
                max_size=4,
                open=True,
                kwargs={"connect_timeout": 10},
                name="gatescope",
            )
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            if self.postgres:  # instances starting at once would race to create the same tables
                db.execute("SELECT pg_advisory_xact_lock(7157)")
            else:
                db.execute("PRAGMA journal_mode=WAL")
            for table in TABLES:
                db.execute(table.format(blob="BYTEA" if self.postgres else "BLOB"))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        """A connection in one transaction: committed on success, rolled back on error."""
        if self.pool is not None:
            with self.pool.connection() as pg:
                yield _Postgres(pg)
            return
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _insert(self, table: str, columns: str, row: tuple[Any, ...]) -> bool:
        """Insert unless the id is there already; True if this call stored it."""
        marks = ", ".join("?" * len(row))
        with self._connect() as db:
            cursor = db.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING", row
            )
            return cursor.rowcount == 1

    def _get(self, table: str, column: str, key: str) -> Any:
        with self._connect() as db:
            row = db.execute(f"SELECT {column} FROM {table} WHERE id = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put_model(self, model_id: str, info: dict[str, Any], weights: dict[str, np.ndarray]) -> bool:
        """Store a model under its id; False if it was there already (the same content)."""
        blob = save_tensors({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in weights.items()})
        return self._insert("models", "id, info, weights", (model_id, json.dumps(info, sort_keys=True), blob))

    def has_model(self, model_id: str) -> bool:
        return self._get("models", "1", model_id) is not None

    def get_model(self, model_id: str) -> Stored | None:
        with self._connect() as db:
            row = db.execute("SELECT info, weights FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            return None
        return Stored(model_id, json.loads(row[0]), dict(load_tensors(bytes(row[1]))))

    def get_info(self, model_id: str) -> dict[str, Any] | None:
        """A model's info without its weights."""
        raw = self._get("models", "info", model_id)
        return None if raw is None else json.loads(raw)

    def put_link(self, link_id: str, state: dict[str, Any]) -> bool:
        """Store a link's state; False if the id was there already."""
        text = json.dumps(state, sort_keys=True, ensure_ascii=False)
        return self._insert("links", "id, state", (link_id, text))

    def get_link(self, link_id: str) -> dict[str, Any] | None:
        raw = self._get("links", "state", link_id)
        return None if raw is None else json.loads(raw)

    def put_preview(self, link_id: str, png: bytes) -> None:
        self._insert("previews", "id, png", (link_id, png))

    def get_preview(self, link_id: str) -> bytes | None:
        raw = self._get("previews", "png", link_id)
        return None if raw is None else bytes(raw)


class _Postgres:
    """psycopg's connection with SQLite's '?' placeholders: one SQL text serves both databases."""

    def __init__(self, pg: Any):
        self.pg = pg

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.pg.execute(sql.replace("?", "%s"), params or None)
