"""``refinterp ops``: the supported-operator table, generated from the registry (``registry.py``).

The same table is embedded in README.md between ``<!-- ops-table:start -->`` and ``<!-- ops-table:end -->``;
``refinterp ops --markdown --update-readme README.md`` rewrites that region, ``--check-readme README.md``
exits 1 when it is out of date (the tests do the same check).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from refinterp.errors import InputError
from refinterp.registry import REGISTRY, OpDef

README_START = "<!-- ops-table:start -->"
README_END = "<!-- ops-table:end -->"
COLUMNS = ("operator", "dtypes", "profiles", "kernels", "notes")


def _kernels(row: OpDef) -> str:
    return "spec + numba" if row.fast is not None else "spec"


def ops_rows() -> list[tuple[str, str, str, str, str]]:
    """One row per registered operator, sorted by name: (operator, dtypes, profiles, kernels, notes)."""
    return [(row.name, ", ".join(row.dtypes), ", ".join(row.profiles), _kernels(row), row.notes)
            for row in sorted(REGISTRY.values(), key=lambda r: r.name)]


def ops_markdown() -> str:
    """The table as GitHub markdown, without a trailing newline."""
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(f"`{cell}`" if i == 0 else escape(cell) for i, cell in enumerate(row)) + " |"
              for row in ops_rows()]
    return "\n".join(lines)


def ops_text() -> str:
    """The table as aligned plain text for a terminal."""
    rows = [COLUMNS, *ops_rows()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines)


def _region(text: str, where: str) -> tuple[int, int]:
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < 0 or end < start:
        raise InputError(f"{where}: no {README_START} ... {README_END} region")
    return start + len(README_START), end


def readme_table(text: str, where: str = "README") -> str:
    """The markdown between the markers (stripped)."""
    start, end = _region(text, where)
    return text[start:end].strip()


def with_table(text: str, where: str = "README") -> str:
    """``text`` with the region between the markers replaced by the generated table."""
    start, end = _region(text, where)
    return text[:start] + "\n" + ops_markdown() + "\n" + text[end:]


def ops_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="refinterp ops", description="Print the supported-operator table.")
    parser.add_argument("--markdown", action="store_true", help="print GitHub markdown instead of plain text")
    parser.add_argument("--update-readme", metavar="README", type=Path,
                        help=f"rewrite the table between {README_START} and {README_END} in this file")
    parser.add_argument("--check-readme", metavar="README", type=Path,
                        help="exit 1 if the table embedded in this file is not the generated one")
    args = parser.parse_args(list(argv))
    for path in (args.update_readme, args.check_readme):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file")
    if args.update_readme is not None:
        text = args.update_readme.read_text(encoding="utf-8")
        updated = with_table(text, str(args.update_readme))
        if updated != text:
            args.update_readme.write_text(updated, encoding="utf-8")
        print(f"{args.update_readme}: operator table {'updated' if updated != text else 'already up to date'}")
        return 0
    if args.check_readme is not None:
        embedded = readme_table(args.check_readme.read_text(encoding="utf-8"), str(args.check_readme))
        if embedded != ops_markdown():
            print(f"{args.check_readme}: the operator table is out of date "
                  f"(refinterp ops --markdown --update-readme {args.check_readme})")
            return 1
        print(f"{args.check_readme}: operator table up to date")
        return 0
    print(ops_markdown() if args.markdown else ops_text())
    return 0
