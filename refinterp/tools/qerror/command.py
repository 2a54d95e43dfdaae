"""``refinterp qerror``: the command line.

Exit status: 0 with a complete report, 1 when some int8 operator output has no float counterpart, 2 on an
error (one line). Every output asked for that can be written is written before the command stops: without
matplotlib, ``--plot`` is the one file missing (the HTML report is written without its plot), and the
command says so in one line and exits 2 at the end.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from refinterp.errors import InputError, RefinterpError, RuntimeUnavailableError
from refinterp.io import model_input_specs, seeded_inputs
from refinterp.model import Model, load_model
from refinterp.tools.arguments import EXIT_MISMATCH, EXIT_OK, ArgumentParser
from refinterp.tools.executor import add_executor_arguments, check_executor_arguments
from refinterp.tools.qerror.analysis import analyze
from refinterp.tools.qerror.csvjson import to_json, write_csv
from refinterp.tools.qerror.html import report_html
from refinterp.tools.qerror.inputs import cases_from_directory, cases_from_files
from refinterp.tools.qerror.plot import plot_png
from refinterp.tools.qerror.text import header_lines, summary_lines, table_text


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="refinterp qerror",
        description="Per-layer quantization error of an int8 model against its float twin (or, without one, "
                    "against a float shadow of itself: dequantized weights, no intermediate rounding). "
                    "See docs/qerror.md.")
    parser.add_argument("model", metavar="INT8_MODEL", help="the quantized .tflite model to examine")
    parser.add_argument("--float", dest="float_model", metavar="FLOAT_MODEL",
                        help="the float model it came from (default: a float shadow)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", action="extend", nargs="+", default=[], metavar="X.npy",
                        help="one .npy per input; an extra first axis stacks cases")
    source.add_argument("--inputs", metavar="DIR", help="a directory of cases (.npy or .npz), or a golden DIR")
    source.add_argument("--seed", type=int, default=None, metavar="N",
                        help="one case of seeded random inputs (default: seed 0)")
    parser.add_argument("--isolate", action="store_true", help="also measure each layer's own (isolated) error")
    parser.add_argument("--csv", metavar="PATH", help="write the table as CSV (QuantizationDebugger columns)")
    parser.add_argument("--json", metavar="PATH", help="write the whole report as JSON")
    parser.add_argument("--plot", metavar="PNG", help="write a plot of SQNR and LSB error (needs matplotlib)")
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML report (table and plot)")
    parser.add_argument("--profile", default="litert-ref", choices=["litert-ref", "tflm"],
                        help="integer rules of the int8 model (default litert-ref)")
    parser.add_argument("--quiet", action="store_true", help="print no table, only which files were written")
    add_executor_arguments(parser)  # -j/--jobs, --executor, --address: input cases in parallel
    return parser


def qerror_main(argv: Sequence[str]) -> int:
    """`refinterp qerror`: 0 with a full report, 1 when some int8 op output has no float match, 2 on error."""
    args = build_parser().parse_args(list(argv))
    check_executor_arguments(args)
    model = load_model(args.model)  # fail early, with one line, on a bad path or file
    if args.float_model is not None:
        load_model(args.float_model)
    _check_output_dirs([p for p in (args.csv, args.json, args.plot, args.html) if p])
    cases, description = _cases(args, model)

    report = analyze(args.model, args.float_model, cases, isolate=args.isolate, inputs_description=description,
                     profile=args.profile, jobs=args.jobs, executor=args.executor, address=args.address)

    if not args.quiet:
        print("\n".join(header_lines(report)))
        print()
        print(table_text(report))
        print()
        for line in summary_lines(report) + report.notes:
            print(line)

    problems: list[RefinterpError] = []
    if args.csv:
        buffer = io.StringIO()
        write_csv(report, buffer)
        _write(args.csv, buffer.getvalue().encode("utf-8"), problems)
    if args.json:
        _write(args.json, (to_json(report) + "\n").encode("utf-8"), problems)
    png = None
    plot_problem = ""
    if args.plot or args.html:
        try:
            png = plot_png(report)
        except RuntimeUnavailableError as exc:
            plot_problem = str(exc)
    if args.plot:
        if png is not None:
            _write(args.plot, png, problems)
        else:
            problems.append(RuntimeUnavailableError(f"{args.plot} not written: {plot_problem}"))
    if args.html:
        note = f"no plot in this report: {plot_problem}" if plot_problem else ""
        _write(args.html, report_html(report, png, note).encode("utf-8"), problems,
               " (without the plot)" if plot_problem else "")
        if plot_problem and not args.plot:
            print(f"refinterp qerror: the HTML report has no plot: {plot_problem}", file=sys.stderr)
    if problems:
        # Everything that could be written is; the first problem's kind decides the message's class.
        raise type(problems[0])("; ".join(str(p) for p in problems))
    return EXIT_MISMATCH if report.unmatched_ops() else EXIT_OK


def _cases(args: argparse.Namespace, model: Model) -> tuple[list[list[np.ndarray]], str]:
    """The input cases and how to describe them in the report."""
    subgraph = model.main
    shapes = [subgraph.tensors[i].shape for i in subgraph.inputs]
    names = [subgraph.tensors[i].name for i in subgraph.inputs]
    if args.input:
        return cases_from_files(args.input, shapes), ", ".join(args.input)
    if args.inputs:
        return cases_from_directory(args.inputs, names, shapes), args.inputs
    seed = 0 if args.seed is None else args.seed
    if args.seed is None:
        print(f"no --input/--inputs given: using seeded random inputs (seed {seed})")
    return [seeded_inputs(model_input_specs(model), seed)], f"seeded random inputs (seed {seed})"


def _check_output_dirs(paths: list[str]) -> None:
    for path in paths:
        parent = Path(path).parent
        if not parent.is_dir():
            raise InputError(f"{path}: directory {parent} does not exist")


def _write(path: str, data: bytes, problems: list[RefinterpError], remark: str = "") -> None:
    """Write one output file and say so; a failure is kept for the end, so the other outputs still get written."""
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        problems.append(InputError(f"{path}: cannot write ({exc.strerror or exc})"))
        return
    print(f"wrote {path}{remark}")
