"""What Gatescope keeps: models (uploaded ones, and the versions share links pin), links and their
preview images, each stored once under an id derived from its content.

The embedded SQLite database (WAL mode) under GATESCOPE_DATA_DIR is the default; DATABASE_URL
(postgresql://…) puts the same tables in PostgreSQL, for several app instances. Every call opens
its own connection and transaction, so the store is safe from the worker threads that serve
requests, and from several processes. Tensors are kept as safetensors bytes, in their own dtype
(the narrowest float that holds a float64 tensor exactly), zlib-compressed: nothing is pickled.
Models, links and previews are refused (app.refusal.Full) once the store reaches
GATESCOPE_MAX_STORE_BYTES.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from app.refusal import Full

# One schema for both databases: {blob} is BLOB in SQLite, BYTEA in PostgreSQL.
TABLES = (
    """CREATE TABLE IF NOT EXISTS models (
        id TEXT PRIMARY KEY,
        info TEXT NOT NULL,       -- JSON: input description, name, options, source (or the model pinned)
        weights {blob} NOT NULL   -- safetensors bytes, torch.nn.LSTM naming: see pack()
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
    """`database_url` None: SQLite in data_dir/gatescope.sqlite3; else a postgresql:// URL.
    `max_bytes`: the size beyond which no model or link is added (None: no limit)."""

    def __init__(self, data_dir: Path, database_url: str | None = None, max_bytes: int | None = None):
        self.postgres = bool(database_url)
        self.max_bytes = max_bytes
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

    def _insert(self, table: str, columns: str, row: tuple[Any, ...], bounded: bool = False) -> bool:
        """Insert unless the id is there already; True if this call stored it. `bounded`: refuse
        (Full) a row that would take the store past max_bytes."""
        marks = ", ".join("?" * len(row))
        with self._connect() as db:
            if bounded and self.max_bytes is not None:
                if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (row[0],)).fetchone():
                    return False  # kept already: nothing to add, however full the store is
                self._check_room(db, sum(len(v) for v in row if isinstance(v, (str, bytes))))  # about
            cursor = db.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING", row
            )
            return cursor.rowcount == 1

    def size(self) -> int:
        """Bytes the store takes: its pages in use (SQLite), or its tables with their indexes and
        TOAST (PostgreSQL). Asked of the database, never counted row by row."""
        with self._connect() as db:
            return self._size(db)

    def _size(self, db: Any) -> int:
        if self.postgres:
            tables = " + ".join(f"pg_total_relation_size('{t}')" for t in ("models", "links", "previews"))
            return int(db.execute(f"SELECT {tables}").fetchone()[0])
        pages, free, page_size = (
            db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
        return int((pages - free) * page_size)

    def _check_room(self, db: Any, adding: int) -> None:
        # Checked before each insert, not under a lock: inserts at the same moment may each pass
        # it, so the store can outgrow its limit by what they add (a few models at most).
        assert self.max_bytes is not None
        used = self._size(db)
        if used + adding > self.max_bytes:
            raise Full(
                f"the store is full: it holds {used:,} bytes, and keeping {adding:,} more would pass "
                f"its limit of {self.max_bytes:,} bytes (GATESCOPE_MAX_STORE_BYTES); nothing new is "
                "kept until room is made",
                [],
                limit=self.max_bytes,
                size=used,
            )

    def _get(self, table: str, column: str, key: str) -> Any:
        with self._connect() as db:
            row = db.execute(f"SELECT {column} FROM {table} WHERE id = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put_model(self, model_id: str, info: dict[str, Any], weights: dict[str, np.ndarray]) -> bool:
        """Store a model under its id, its tensors in their own dtype; False if it was there
        already (the same content). Full if the store has no room for it."""
        row = (model_id, json.dumps(info, sort_keys=True), pack(weights))
        return self._insert("models", "id, info, weights", row, bounded=True)

    def has_model(self, model_id: str) -> bool:
        return self._get("models", "1", model_id) is not None

    def get_model(self, model_id: str) -> Stored | None:
        with self._connect() as db:
            row = db.execute("SELECT info, weights FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            return None
        return Stored(model_id, json.loads(row[0]), unpack(bytes(row[1])))

    def get_info(self, model_id: str) -> dict[str, Any] | None:
        """A model's info without its weights."""
        raw = self._get("models", "info", model_id)
        return None if raw is None else json.loads(raw)

    def put_link(self, link_id: str, state: dict[str, Any]) -> bool:
        """Store a link's state; False if the id was there already. Full if the store is."""
        text = json.dumps(state, sort_keys=True, ensure_ascii=False)
        return self._insert("links", "id, state", (link_id, text), bounded=True)

    def get_link(self, link_id: str) -> dict[str, Any] | None:
        raw = self._get("links", "state", link_id)
        return None if raw is None else json.loads(raw)

    def put_preview(self, link_id: str, png: bytes) -> None:
        """Keep a link's preview; Full if the store is."""
        self._insert("previews", "id, png", (link_id, png), bounded=True)

    def get_preview(self, link_id: str) -> bytes | None:
        raw = self._get("previews", "png", link_id)
        return None if raw is None else bytes(raw)


# A blob that starts with MARK is zlib-compressed safetensors; one without it is safetensors as
# is: rows stored before compression (float64), and tensors that do not compress.
MARK = b"GSz\x01"  # as a safetensors header length, 24 MB: no stored header is that long
SAMPLE = 1 << 20  # bytes compressed first, to skip compressing what will not shrink


def pack(weights: dict[str, np.ndarray]) -> bytes:
    """The tensors as safetensors bytes, each in its own dtype or the narrowest float that holds
    it exactly (built-in models' float64 is often float32 or float16 exactly), then compressed."""
    tensors = {k: np.ascontiguousarray(_narrowest(v)) for k, v in weights.items()}
    raw = save_tensors({k: v.astype(v.dtype.newbyteorder("<"), copy=False) for k, v in tensors.items()})
    # random weights barely shrink (by 4%), at 40 MB/s: a sample says whether to try
    if len(zlib.compress(raw[:SAMPLE], 1)) > 0.9 * min(len(raw), SAMPLE):
        return raw
    packed = MARK + zlib.compress(raw, 6)
    return packed if len(packed) < len(raw) else raw


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    """The tensors of a stored blob, as float64 (what the engine computes in)."""
    raw = zlib.decompress(blob[len(MARK) :]) if blob.startswith(MARK) else blob
    return {k: np.asarray(v, dtype=np.float64) for k, v in load_tensors(raw).items()}


def _narrowest(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind != "f" or a.dtype.itemsize <= 2:
        return a
    head = a.reshape(-1)[:4096]  # most tensors that do not fit show it at once: skip a full pass
    with np.errstate(over="ignore"):  # beyond float16's range: inf, unequal, so not chosen
        for dtype in (np.float16, np.float32):
            if np.dtype(dtype).itemsize < a.dtype.itemsize and np.array_equal(head.astype(dtype), head):
                narrow = a.astype(dtype)
                if np.array_equal(narrow, a):
                    return narrow
    return a


class _Postgres:
    """psycopg's connection with SQLite's '?' placeholders: one SQL text serves both databases."""

    def __init__(self, pg: Any):
        self.pg = pg

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.pg.execute(sql.replace("?", "%s"), params or None)
