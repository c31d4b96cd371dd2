"""Shared fixtures: a TestClient over the app, and a factory for apps with other settings."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app
from app.web.settings import Settings
from tests.servers import Postgres


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # A 500 comes back as a response (as a real client sees it), so a test can assert
    # "never 5xx" and show the body instead of stopping at the server's traceback.
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """make_client(max_steps=10, ...) -> a TestClient over an app with those settings."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(**{"data_dir": tmp_path / f"data{len(opened)}", **overrides})
        c = TestClient(create_app(settings), raise_server_exceptions=False)
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of our own for the whole session (in /tmp itself: pytest's directories
    are closed to the postgres user that owns the cluster when the tests run as root)."""
    directory = Path(tempfile.mkdtemp(prefix="gatescope-pg-"))
    server = Postgres(directory).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite under the test's data_dir) or a fresh, empty PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres").new_database(f"t_{uuid.uuid4().hex[:16]}")
