#!/usr/bin/env python3
"""Regenerate the figures of docs/qerror.md: `refinterp qerror` on the golden YOLOv3-tiny int8/float pair.

    python benchmarks/qerror_golden.py            # rewrite docs/qerror_yolov3_tiny.{png,csv} and the tables
    python benchmarks/qerror_golden.py --check    # exit 1 if the committed tables are out of date

It runs the same analysis as

    refinterp qerror golden/yolov3_tiny_int8.tflite --float golden/yolov3_tiny_float.tflite \\
        --input golden/yolov3_tiny_int8/inputs/smooth.npy --isolate \\
        --csv docs/qerror_yolov3_tiny.csv --plot docs/qerror_yolov3_tiny.png

and, for contrast, the `random` input (uniform int8 noise, far outside the calibration data). The tables
go into docs/qerror.md between the ``<!-- qerror-golden:NAME -->`` and ``<!-- /qerror-golden:NAME -->``
markers; everything else in the page is prose and stays as written.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from refinterp.tools.qerror import QErrorReport, analyze  # noqa: E402

GOLDEN = ROOT / "golden"
INT8_MODEL = GOLDEN / "yolov3_tiny_int8.tflite"
FLOAT_MODEL = GOLDEN / "yolov3_tiny_float.tflite"
INPUTS = GOLDEN / "yolov3_tiny_int8" / "inputs"
DOC = ROOT / "docs" / "qerror.md"
PNG = ROOT / "docs" / "qerror_yolov3_tiny.png"
CSV = ROOT / "docs" / "qerror_yolov3_tiny.csv"


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    def cells(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [cells(columns), "|" + "|".join("---" for _ in columns) + "|"]
    lines += [cells(row) for row in rows]
    return "\n".join(lines)


def full_table(report: QErrorReport) -> str:
    columns, rows = report.table_rows()
    keep = [i for i, c in enumerate(columns) if c not in ("match",)]
    body = "\n".join(report.header_lines()) + "\n"
    return ("```\n" + body.replace(str(ROOT) + "/", "") + "```\n\n"
            + markdown_table([columns[i] for i in keep], [[r[i] for i in keep] for r in rows]) + "\n\n"
            + "\n".join(f"- {line}" for line in report.summary_lines() + report.notes))


def short_table(report: QErrorReport) -> str:
    columns, rows = report.table_rows()
    wanted = ["op", "type", "LSB", "max|e|", "SQNR dB", "sat%", "own SQNR", "own LSB", "own%"]
    keep = [columns.index(c) for c in wanted]
    return (markdown_table(wanted, [[r[i] for i in keep] for r in rows]) + "\n\n"
            + "\n".join(f"- {line}" for line in report.summary_lines()))


def replace_block(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- qerror-golden:{name} -->\n).*?(<!-- /qerror-golden:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC}: markers for {name!r} not found")
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/qerror.md is up to date")
    args = parser.parse_args(argv)

    smooth = analyze(str(INT8_MODEL.relative_to(ROOT)), str(FLOAT_MODEL.relative_to(ROOT)),
                     [[np.load(INPUTS / "smooth.npy")]], isolate=True,
                     inputs_description="golden/yolov3_tiny_int8/inputs/smooth.npy")
    random = analyze(str(INT8_MODEL.relative_to(ROOT)), str(FLOAT_MODEL.relative_to(ROOT)),
                     [[np.load(INPUTS / "random.npy")]], isolate=True,
                     inputs_description="golden/yolov3_tiny_int8/inputs/random.npy")
    text = DOC.read_text()
    updated = replace_block(text, "smooth", full_table(smooth))
    updated = replace_block(updated, "random", short_table(random))
    if args.check:
        if updated != text:
            print(f"{DOC} is out of date: run python benchmarks/qerror_golden.py")
            return 1
        print(f"{DOC} is up to date")
        return 0
    DOC.write_text(updated)
    with open(CSV, "w", newline="") as f:
        smooth.write_csv(f)
    PNG.write_bytes(smooth.plot_png())
    print(f"wrote {DOC.relative_to(ROOT)}, {CSV.relative_to(ROOT)}, {PNG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
