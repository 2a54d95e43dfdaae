"""`refinterp ops`: the table is generated from the registry, README.md embeds the current one, the terminal view
fits 100 columns, and --json gives the same rows to tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import refinterp
from refinterp.cli import main
from refinterp.registry import REGISTRY
from refinterp.tools.ops_table import (
    README_END,
    README_START,
    TERMINAL_WIDTH,
    ops_markdown,
    readme_table,
    with_table,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_embeds_the_generated_table() -> None:
    if not README.exists():
        pytest.skip("README.md is absent")
    embedded = readme_table(README.read_text(encoding="utf-8"))
    assert embedded == ops_markdown(), (
        "README.md's operator table is out of date: run `refinterp ops --markdown --update-readme README.md`")


def test_table_has_one_row_per_registered_operator() -> None:
    rows = [line for line in ops_markdown().splitlines()[2:]]
    names = [row.split("|")[1].strip().strip("`") for row in rows]
    assert names == sorted(REGISTRY)
    fast = {name for name, row in REGISTRY.items() if row.fast is not None}
    assert {n for n, row in zip(names, rows) if "numba" in row} == fast


def test_update_and_check_readme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{README_START}\nold table\n{README_END}\n\nafter\n", encoding="utf-8")
    assert main(["ops", "--check-readme", str(readme)]) == 1
    assert main(["ops", "--markdown", "--update-readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# title\n\n") and text.endswith("\n\nafter\n")
    assert readme_table(text) == ops_markdown() and with_table(text) == text
    assert main(["ops", "--check-readme", str(readme)]) == 0
    capsys.readouterr()
    assert main(["ops"]) == 0
    assert "RESIZE_BILINEAR" in capsys.readouterr().out


def test_readme_without_markers_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n", encoding="utf-8")
    assert main(["ops", "--update-readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ops-table:start" in err


def test_terminal_table_fits_100_columns_and_lists_every_operator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= TERMINAL_WIDTH == 100
    blocks: dict[str, str] = {}  # operator -> its line and the wrapped lines under it
    for line in lines[1:]:
        if not line or line.startswith("profiles:"):
            break
        if not line.startswith(" "):
            name = line.split()[0]
            blocks[name] = ""
        blocks[name] += " " + line
    assert list(blocks) == sorted(REGISTRY)
    for name, row in REGISTRY.items():  # every dtype shows, wrapped or not
        for dtype in row.dtypes:
            assert f" {dtype}," in blocks[name] + "," or f" {dtype} " in blocks[name], (name, dtype)


def test_json_for_tools(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ops", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "refinterp-ops/1" and data["refinterp_version"] == refinterp.__version__
    assert [op["op"] for op in data["ops"]] == sorted(REGISTRY)
    for op in data["ops"]:
        assert set(op) == {"op", "dtypes", "profiles", "kernels", "notes"}
        row = REGISTRY[op["op"]]
        assert op["dtypes"] == list(row.dtypes) and op["profiles"] == list(row.profiles)
        assert op["notes"] == row.notes
        assert op["kernels"] == (["spec", "numba"] if row.fast is not None else ["spec"])
    assert main(["ops", "--json", "--markdown"]) == 2  # one or the other
