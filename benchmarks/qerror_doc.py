#!/usr/bin/env python3
"""Regenerate the worked example of docs/qerror.md: `refinterp qerror` on MLPerf Tiny's trained VWW pair.

    python benchmarks/qerror_doc.py               # rewrite docs/qerror_vww_96.{png,csv} and the doc's tables
    python benchmarks/qerror_doc.py --check       # exit 1 if the doc's tables or the CSV are out of date
    python benchmarks/qerror_doc.py --write-inputs /tmp/vww_photos.npy  # the photos as an --input file

The pair is ../shared/models/mlcommons-tiny/vww_96_int8.tflite and its float twin vww_96_float.tflite
(visual wake words: person / no person, MobileNet, 96x96 RGB, trained). The inputs are two photos that ship
with matplotlib (mpl-data/sample_data): Grace Hopper's portrait (a person) and a gift box (no person),
squashed to 96x96 as the model's training did, as int8 (q = pixel - 128: the int8 input's scale 1/255 and
zero point -128 make that pixel/255). They are read from the installed matplotlib at every run (Pillow decodes
them), never committed: the project ships no third-party files. The main analysis is the same as

    refinterp qerror ../shared/models/mlcommons-tiny/vww_96_int8.tflite \\
        --float ../shared/models/mlcommons-tiny/vww_96_float.tflite \\
        --input /tmp/vww_photos.npy --isolate \\
        --csv docs/qerror_vww_96.csv --plot docs/qerror_vww_96.png

and, for contrast, the same pair on seeded uniform int8 noise (`--seed 0`). The tables go into
docs/qerror.md between the ``<!-- qerror-doc:NAME -->`` and ``<!-- /qerror-doc:NAME -->`` markers;
everything else in the page is prose and stays as written.

Every output is deterministic: the float side follows the reference kernels' float32 order, the int8 side
is exact, and the PNG carries no version metadata. --check compares the tables as text and the CSV's
numbers to 1e-6 relative (libm's exp may differ in the last bit between machines); it does not compare
the PNG, whose pixels depend on the matplotlib version and its fonts.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from refinterp.interpreter import Interpreter  # noqa: E402
from refinterp.io import model_input_specs, seeded_inputs  # noqa: E402
from refinterp.model import load_model  # noqa: E402
from refinterp.tools.qerror import (  # noqa: E402
    QErrorReport,
    analyze,
    header_lines,
    plot_png,
    summary_lines,
    table_rows,
    write_csv,
)

SHARED = ROOT.parent / "shared" / "models" / "mlcommons-tiny"
INT8_MODEL = SHARED / "vww_96_int8.tflite"
FLOAT_MODEL = SHARED / "vww_96_float.tflite"
DOC = ROOT / "docs" / "qerror.md"
PNG = ROOT / "docs" / "qerror_vww_96.png"
CSV = ROOT / "docs" / "qerror_vww_96.csv"
#: (matplotlib sample image, what it shows), in the order of the cases
IMAGES = (("grace_hopper.jpg", "Grace Hopper (a person)"), ("Minduka_Present_Blue_Pack.png", "a gift box (no person)"))
#: the model's two outputs (Keras flow_from_directory sorts the class folders: non_person, person)
CLASSES = ("no person", "person")
NOISE_SEED = 0


def make_inputs() -> np.ndarray:
    """The photos as the int8 model's input, [2, 1, 96, 96, 3]: white behind transparency, squashed to 96x96."""
    from matplotlib import cbook  # the test extra installs matplotlib (and Pillow with it)
    from PIL import Image  # comes with matplotlib

    cases = []
    for name, _ in IMAGES:
        with Image.open(cbook.get_sample_data(name, asfileobj=False)) as image:
            rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        pixels = np.asarray(canvas.convert("RGB").resize((96, 96), Image.Resampling.BOX), dtype=np.int16)
        cases.append((pixels - 128).astype(np.int8)[None])
    return np.stack(cases)


def relative(text: str) -> str:
    """Paths as the doc shows them: the checkout's own relative to it, ../shared relative to the checkout."""
    return text.replace(str(ROOT.parent / "shared") + "/", "../shared/").replace(str(ROOT) + "/", "")


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    def cells(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [cells(columns), "|" + "|".join("---" for _ in columns) + "|"]
    lines += [cells(row) for row in rows]
    return "\n".join(lines)


def selected_table(report: QErrorReport, wanted: list[str]) -> str:
    columns, rows = table_rows(report)
    keep = [columns.index(c) for c in wanted]
    return markdown_table(wanted, [[r[i] for i in keep] for r in rows])


def full_block(report: QErrorReport) -> str:
    wanted = ["op", "type", "scale", "zp", "RMSE", "LSB", "max|e|", "mean e", "SQNR dB", "cos", "sat%", "clip%",
              "own SQNR", "own LSB", "own%"]
    return ("```\n" + relative("\n".join(header_lines(report))) + "\n```\n\n" + selected_table(report, wanted)
            + "\n\n" + "\n".join(f"- {line}" for line in summary_lines(report) + report.notes))


def short_block(report: QErrorReport) -> str:
    wanted = ["op", "type", "LSB", "max|e|", "SQNR dB", "sat%", "own SQNR", "own LSB", "own%"]
    return selected_table(report, wanted) + "\n\n" + "\n".join(f"- {line}" for line in summary_lines(report))


def scores_block(photos: np.ndarray) -> str:
    """What the two models answer for each photo: the error at the output, in the units a user sees."""
    answers = {}
    for label, path in (("float", FLOAT_MODEL), ("int8", INT8_MODEL)):
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        source, = interpreter.get_input_details()
        output, = interpreter.get_output_details()
        scores = []
        for case in photos:
            value = case if source["dtype"] == np.int8 else ((case.astype(np.float32) + 128) / 255).astype(np.float32)
            interpreter.set_tensor(source["index"], value)
            interpreter.invoke()
            result = interpreter.get_tensor(output["index"])[0]
            if result.dtype == np.int8:
                scale, zero_point = output["quantization"]
                result = scale * (result.astype(np.float64) - zero_point)
            scores.append(float(result[CLASSES.index("person")]))
        answers[label] = scores
    rows = [[description, f"{f:.3f}", f"{q:.3f}", f"{q - f:+.3f}"]
            for (_, description), f, q in zip(IMAGES, answers["float"], answers["int8"])]
    return markdown_table(["photo", "float P(person)", "int8 P(person)", "int8 - float"], rows)


def output_sqnr(report: QErrorReport) -> str:
    rows = [r for r in report.compared_ops() if r.tensor_index in report.output_tensors]
    return ", ".join(f"{r.metrics()['sqnr_db']:.1f} dB" for r in rows)


def shadow_block(report: QErrorReport, shadow: QErrorReport) -> str:
    """The twin against the shadow at the model output: how much of the error the weights make."""
    return (f"On the two photos the model output's SQNR is {output_sqnr(report)} against the float twin and "
            f"{output_sqnr(shadow)} against the float shadow.")


def replace_block(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- qerror-doc:{name} -->\n).*?(<!-- /qerror-doc:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC}: markers for {name!r} not found")
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)


def csv_text(report: QErrorReport) -> str:
    buffer = io.StringIO()
    write_csv(report, buffer)
    return buffer.getvalue()


def csv_differences(expected: str, got: str, rel: float = 1e-6) -> list[str]:
    """Cells that differ: text exactly, numbers beyond ``rel`` relative (and 1e-12 absolute)."""
    old, new = list(csv.reader(io.StringIO(expected))), list(csv.reader(io.StringIO(got)))
    if len(old) != len(new) or (old and old[0] != new[0]):
        return [f"{len(old)} rows / header {old[:1]} now {len(new)} rows / header {new[:1]}"]
    differences = []
    for number, (a_row, b_row) in enumerate(zip(old[1:], new[1:]), start=1):
        for column, a, b in zip(old[0], a_row, b_row):
            if a == b:
                continue
            try:
                x, y = float(a), float(b)
            except ValueError:
                differences.append(f"row {number} {column}: {a!r} now {b!r}")
                continue
            if not math.isclose(x, y, rel_tol=rel, abs_tol=1e-12):
                differences.append(f"row {number} {column}: {a} now {b}")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="only check that the doc's tables and CSV are current")
    mode.add_argument("--write-inputs", metavar="PATH", help="write the input photos as a .npy for --input, and stop")
    args = parser.parse_args(argv)

    if args.write_inputs:
        np.save(args.write_inputs, make_inputs())
        print(f"wrote {args.write_inputs}")
        return 0
    for path in (INT8_MODEL, FLOAT_MODEL):
        if not path.is_file():
            print(f"{path} is missing (../shared/models must be beside the checkout)", file=sys.stderr)
            return 2

    photos = make_inputs()
    inputs_description = "matplotlib's sample photos " + ", ".join(name for name, _ in IMAGES)
    report = analyze(str(INT8_MODEL), str(FLOAT_MODEL), [[case] for case in photos], isolate=True,
                     inputs_description=inputs_description)
    noise = analyze(str(INT8_MODEL), str(FLOAT_MODEL), [seeded_inputs(model_input_specs(load_model(INT8_MODEL)),
                                                                      NOISE_SEED)],
                    isolate=True, inputs_description=f"seeded random inputs (seed {NOISE_SEED})")
    shadow = analyze(str(INT8_MODEL), None, [[case] for case in photos], inputs_description=inputs_description)
    text = DOC.read_text(encoding="utf-8")
    updated = replace_block(text, "photos", full_block(report))
    updated = replace_block(updated, "shadow", shadow_block(report, shadow))
    updated = replace_block(updated, "scores", scores_block(photos))
    updated = replace_block(updated, "noise", short_block(noise))
    table = csv_text(report)

    if args.check:
        problems = []
        if updated != text:
            problems.append(f"{DOC.relative_to(ROOT)}: its tables are out of date")
        committed = CSV.read_text(encoding="utf-8") if CSV.is_file() else ""
        differences = csv_differences(committed, table)
        if differences:
            problems.append(f"{CSV.relative_to(ROOT)}: {len(differences)} cell(s) differ, e.g. {differences[0]}")
        for problem in problems:
            print(f"{problem}: run python benchmarks/qerror_doc.py")
        if not problems:
            print(f"{DOC.relative_to(ROOT)} and {CSV.relative_to(ROOT)} are up to date")
        return 1 if problems else 0

    DOC.write_text(updated, encoding="utf-8")
    CSV.write_text(table, encoding="utf-8", newline="")
    PNG.write_bytes(plot_png(report))
    print(f"wrote {DOC.relative_to(ROOT)}, {CSV.relative_to(ROOT)}, {PNG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
