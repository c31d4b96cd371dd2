"""A plain `pip install .` serves the page: the wheel carries the page, its templates and the
trained models, and the server needs neither tqdm nor psycopg (extras)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("gatescope-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_carries_every_file_the_page_and_the_models_need(wheel: zipfile.ZipFile):
    names = set(wheel.namelist())
    shipped = [
        p.relative_to(ROOT).as_posix()
        for d in ("app/static", "app/templates")
        for p in (ROOT / d).rglob("*")
        if p.is_file()
    ]
    shipped += [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "app/models").glob("*.*")
        if p.suffix in (".json", ".safetensors")
    ]
    assert len(shipped) > 40
    assert [f for f in shipped if f not in names] == []
    assert {"app/web/routes/api.py", "app/engine/lstm.py", "app/service/run.py", "app/models/zoo.py"} <= names


def test_the_server_needs_no_extra(wheel: zipfile.ZipFile):
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    required = [
        line for line in wheel.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")
    ]
    plain = [line for line in required if "extra ==" not in line]
    assert not [line for line in plain if "tqdm" in line or "psycopg" in line], plain
    assert any("tqdm" in line and 'extra == "train"' in line for line in required)
    assert any("psycopg" in line and 'extra == "postgres"' in line for line in required)
