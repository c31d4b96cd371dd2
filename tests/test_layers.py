"""The code's layers (DESIGN.md): the engine is NumPy and the standard library; only app/web imports
the web framework; no layer imports one above it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
WEB_FRAMEWORKS = {"fastapi", "starlette"}
# A layer may import itself and those below it; app.refusal and app.lstm (a re-export) sit below all.
BELOW = {
    "engine": set(),
    "models": {"engine"},
    "train": {"engine"},
    "service": {"engine", "models", "train"},  # trainings run the trainer in worker processes
    "web": {"engine", "models", "train", "service"},
}


def imports(path: Path) -> list[str]:
    """Every module a file imports, absolute (the code uses no relative imports)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found += [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
    return found


def modules(layer: str) -> list[Path]:
    return sorted((APP / layer).rglob("*.py"))


def test_the_engine_imports_only_numpy_and_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for path in modules("engine"):
        for name in imports(path):
            top = name.split(".")[0]
            assert top in allowed or name.startswith("app.engine"), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "path",
    [p for p in APP.rglob("*.py") if "web" not in p.relative_to(APP).parts],
    ids=lambda p: str(p.relative_to(APP)),
)
def test_only_the_web_layer_imports_the_web_framework(path: Path):
    assert not {n.split(".")[0] for n in imports(path)} & WEB_FRAMEWORKS


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_no_layer_imports_one_above_it(layer: str):
    for path in modules(layer):
        for name in imports(path):
            parts = name.split(".")
            if parts[0] != "app" or len(parts) < 2 or parts[1] in ("refusal", "lstm", layer):
                continue
            assert parts[1] in BELOW[layer], f"app/{layer}/{path.name} imports {name}"


def test_the_engine_loads_without_the_web_framework():
    code = (
        "import sys, app.lstm, app.engine.explain, app.service.run, app.service.preview; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=APP.parent
    )
    assert out.stdout.strip() == "[]"


def test_app_lstm_keeps_every_public_name_it_had():
    import app.lstm

    public = [
        "GATES",
        "GATE_SCALE",
        "WeightError",
        "InterventionError",
        "Intervention",
        "Shape",
        "LayerTrace",
    ]
    public += ["shape_of", "forward", "check_interventions", "keras_to_torch", "init_weights"]
    assert [name for name in public if not hasattr(app.lstm, name)] == []
