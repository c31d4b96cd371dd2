"""The page's modules (app/static), read as text: one store writes the address bar, one module asks
for runs, a view is a file and a line of views/index.js, the encodings live only in spec.json, and
no module grows past 400 lines."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "app" / "static"
MODULES = {
    p.relative_to(STATIC).as_posix(): p.read_text() for p in STATIC.rglob("*.js") if "vendor" not in p.parts
}


def using(pattern: str) -> set[str]:
    return {name for name, text in MODULES.items() if re.search(pattern, text)}


def test_only_the_store_writes_the_address_bar_and_nothing_fakes_a_popstate() -> None:
    assert using(r"history\.(pushState|replaceState)") == {"store.js"}
    assert using(r"new PopStateEvent") == set()
    assert using(r"addEventListener\(\s*\"popstate\"") == {"store.js"}


def test_runs_are_asked_for_in_one_module() -> None:
    asks = using(r"import \{[^}]*\brun\b[^}]*\} from \"(\./|\.\./)api\.js\"")
    assert asks == {"runs.js"}


def test_a_view_is_its_own_file_and_one_line_of_the_registry() -> None:
    registry = MODULES["views/index.js"]
    names = re.findall(r'^  "(\w+)",$', registry, re.M)
    assert names[0] == "step" and len(names) >= 7
    for name in names:
        assert re.search(rf"^export const {name} = \{{", MODULES[f"views/{name}.js"], re.M), name
    assert not re.search(r"^import ", registry, re.M), "views are named, not imported one by one"


def test_the_colour_stops_and_grammars_are_written_only_in_the_spec() -> None:
    assert using(r"#440154|#053061") == set()  # the first stops of viridis and RdBu
    assert using(r"\[ifgo\]|\^\[\+-\]\?") == set()  # the what-if item and the decimal number
    palette = (STATIC.parent / "service" / "palette.py").read_text()
    assert "#440154" not in palette and "#053061" not in palette


def test_no_module_is_over_400_lines() -> None:
    long = {name: text.count("\n") for name, text in MODULES.items() if text.count("\n") > 400}
    assert long == {}
