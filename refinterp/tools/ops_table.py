"""``refinterp ops``: the supported-operator table, generated from the registry (``registry.py``).

The same table is embedded in README.md between ``<!-- ops-table:start -->`` and ``<!-- ops-table:end -->``;
``refinterp ops --markdown --update-readme README.md`` rewrites that region, ``--check-readme README.md``
exits 1 when it is out of date (the tests do the same check). The terminal view fits
:data:`TERMINAL_WIDTH` columns; ``--json`` gives the same rows to tools.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refinterp import __version__
from refinterp.errors import InputError
from refinterp.ops.common import PROFILES
from refinterp.registry import REGISTRY, OpDef
from refinterp.tools.arguments import ArgumentParser

README_START = "<!-- ops-table:start -->"
README_END = "<!-- ops-table:end -->"
COLUMNS = ("operator", "dtypes", "profiles", "kernels", "notes")
TERMINAL_WIDTH = 100
JSON_FORMAT = "refinterp-ops/1"


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


def ops_json() -> dict[str, Any]:
    """The table for tools: one dict per operator (op, dtypes, profiles, kernels, notes), sorted by op."""
    return {
        "format": JSON_FORMAT,
        "refinterp_version": __version__,
        "ops": [{"op": row.name, "dtypes": list(row.dtypes), "profiles": list(row.profiles),
                 "kernels": ["spec", "numba"] if row.fast is not None else ["spec"], "notes": row.notes}
                for row in sorted(REGISTRY.values(), key=lambda r: r.name)],
    }


def ops_text(width: int = TERMINAL_WIDTH) -> str:
    """The table as plain text for a terminal, at most ``width`` columns: long cells wrap onto more lines.

    Shorter than the markdown: "profiles" says "both" for litert-ref and tflm, and "fast" names the kernel
    ``--kernels fast`` runs (numba, or the spec kernel where an operator has no numba kernel).
    """
    header = ("operator", "dtypes", "profiles", "fast", "notes")
    rows = [(row.name, ", ".join(row.dtypes), "both" if set(row.profiles) == set(PROFILES) else ", ".join(row.profiles),
             "numba" if row.fast is not None else "spec", row.notes)
            for row in sorted(REGISTRY.values(), key=lambda r: r.name)]
    fixed = [max(len(r[i]) for r in [header, *rows]) for i in (0, 2, 3)]
    dtypes_width = 21
    notes_width = max(20, width - sum(fixed) - dtypes_width - 2 * 4)
    widths = [fixed[0], dtypes_width, fixed[1], fixed[2], notes_width]
    lines = []
    for row in [header, *rows]:
        cells = [textwrap.wrap(cell, w, break_on_hyphens=False) or [""] for cell, w in zip(row, widths)]
        for k in range(max(len(c) for c in cells)):
            parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths)]
            lines.append("  ".join(parts).rstrip())
    lines += ["", "profiles: both = litert-ref and tflm. fast: the kernel `--kernels fast` runs; every operator",
              "also has a readable NumPy spec kernel (--kernels spec). --json for tools, --markdown for docs."]
    return "\n".join(lines)


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
    parser = ArgumentParser(prog="refinterp ops", description="Print the supported-operator table (from the "
                            "registry): dtypes, profiles, kernels and notes of every operator refinterp runs.")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="print GitHub markdown (README's table, wide)")
    output.add_argument("--json", action="store_true",
                        help="print JSON for tools: {format, refinterp_version, ops: [{op, dtypes, profiles, "
                             "kernels, notes}]}")
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
    if args.json:
        print(json.dumps(ops_json(), indent=1))
    else:
        print(ops_markdown() if args.markdown else ops_text())
    return 0
