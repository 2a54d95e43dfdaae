"""Golden DIRs: every tensor of a model, as an official runtime computed it, for a few inputs.

Layout (format ``refinterp-golden/1``; documented in golden/README.md)::

    DIR/manifest.json          format, model (path relative to DIR), model_sha256, runtime,
                               runtime_version, confirmed_by, cases, created
    DIR/inputs/<case>.npy      one per model input (<case>_<k>.npy when the model has several inputs)
    DIR/tensors/<case>.npz     key "t<tensor_index>" for every non-constant tensor of subgraph 0 the
                               runtime returned (zip-deflated .npy members, readable by np.load)

:func:`make_golden` writes one, :func:`refinterp.io.load_golden` reads one (lazily), :func:`check_golden` runs a
runtime on every case and compares every stored tensor with exact equality. :func:`golden_main` is the
``refinterp golden make|check`` command line.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import InputError, RefinterpError, RuntimeUnavailableError
from refinterp.io import (
    GOLDEN_FORMAT,
    MANIFEST_NAME,
    GoldenSet,
    load_golden,
    load_npy,
    model_input_specs,
    save_npz_deterministic,
    seeded_inputs,
    sha256_of_file,
    tensor_key,
)
from refinterp.io.golden_format import subgraph_key
from refinterp.model import load_model
from refinterp.runtimes import check_inputs, get_runtime
from refinterp.tools.arguments import ArgumentParser

DEFAULT_CONFIRM_WITH = ("tflm",)
_CASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------------------------------
# Writing


def _input_file_names(case: str, count: int) -> list[str]:
    if count == 1:
        return [f"inputs/{case}.npy"]
    return [f"inputs/{case}_{k}.npy" for k in range(count)]


def _non_constant_tensors(model: Any, tensors: Mapping[int, np.ndarray],
                          subgraph_tensors: Mapping[tuple[int, int], np.ndarray] | None = None,
                          ) -> dict[int | str, np.ndarray]:
    """Subgraph 0's non-constant tensors by index, then the other subgraphs' by "sg<k>:<index>"."""
    declared = model.subgraphs[0].tensors
    found: dict[int | str, np.ndarray] = {
        i: v for i, v in sorted(tensors.items()) if 0 <= i < len(declared) and not declared[i].is_constant}
    for (subgraph, index), value in sorted((subgraph_tensors or {}).items()):
        if 0 < subgraph < len(model.subgraphs) and 0 <= index < len(model.subgraphs[subgraph].tensors) \
                and not model.subgraphs[subgraph].tensors[index].is_constant:
            found[subgraph_key(subgraph, index)] = value
    return found


def _every_tensor(result: Any) -> dict[int | str, np.ndarray]:
    """A RunResult's tensors keyed as golden files key them (ints for subgraph 0, "sg1:17" for the others)."""
    return {**result.tensors, **{subgraph_key(s, i): v for (s, i), v in result.subgraph_tensors.items()}}


def _compare(expected: Mapping[Any, np.ndarray], actual: Mapping[Any, np.ndarray]) -> list[dict[str, Any]]:
    """Exact comparison of every expected tensor; one dict per mismatching or missing tensor."""
    problems = []
    for tensor_index, want in expected.items():
        got = actual.get(tensor_index)
        if got is None:
            problems.append({"tensor": tensor_index, "missing": True, "mismatched": int(want.size),
                             "total": int(want.size)})
            continue
        if got.dtype != want.dtype or got.shape != want.shape:
            problems.append({"tensor": tensor_index, "mismatched": int(want.size), "total": int(want.size),
                             "detail": f"{got.dtype}{list(got.shape)} vs {want.dtype}{list(want.shape)}"})
            continue
        differs = got != want
        count = int(np.count_nonzero(differs))
        if count:
            problem: dict[str, Any] = {"tensor": tensor_index, "mismatched": count, "total": int(want.size)}
            if np.issubdtype(want.dtype, np.number) and want.dtype != np.bool_:
                problem["max_abs_diff"] = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
            problems.append(problem)
    return problems


def make_golden(model_path: str | os.PathLike, out_dir: str | os.PathLike, runtime: str = "litert-ref",
                inputs: Mapping[str, Sequence[np.ndarray]] | None = None,
                confirm_with: Iterable[str] = DEFAULT_CONFIRM_WITH) -> GoldenSet:
    """Run ``runtime`` on each case of ``inputs`` ({case name: one array per model input}) and write a
    golden DIR at ``out_dir``. Each runtime of ``confirm_with`` is run too and compared on every stored
    tensor; the result (equal or not, which tensors differ) is recorded in ``confirmed_by``. A
    confirming runtime that is not installed is recorded as unavailable rather than failing the make.
    """

    model_path = Path(model_path)
    out_dir = Path(out_dir)
    model = load_model(model_path)
    cases = dict(inputs) if inputs is not None else {"random": seeded_inputs(model_input_specs(model), 0)}
    if not cases:
        raise InputError("no input cases given")
    for name, arrays in cases.items():
        if not _CASE_NAME.match(name):
            raise InputError(f"case name {name!r} must be letters, digits, '_', '.', '-'")
        try:
            cases[name] = check_inputs(model, list(arrays))
        except InputError as exc:
            raise InputError(f"case {name!r}: {exc}") from None

    primary = get_runtime(runtime)
    primary_version = primary.version()
    results: dict[str, dict[int | str, np.ndarray]] = {}
    output_indices = [int(i) for i in model.subgraphs[0].outputs]
    for name, arrays in cases.items():
        result = primary.run(str(model_path), arrays)
        results[name] = _non_constant_tensors(model, result.tensors, result.subgraph_tensors)
        missing_outputs = [i for i in output_indices if i not in results[name]]
        if missing_outputs:
            raise RefinterpError(f"{runtime} gave no value for output tensor(s) {missing_outputs}")

    confirmations = []
    for other_spec in confirm_with:
        entry: dict[str, Any] = {"runtime": other_spec}
        try:
            other = get_runtime(other_spec)
            entry["version"] = other.version()
            mismatches: dict[str, list[dict[str, Any]]] = {}
            for name, arrays in cases.items():
                problems = _compare(results[name], _every_tensor(other.run(str(model_path), arrays)))
                if problems:
                    mismatches[name] = problems
            entry["equal"] = not mismatches
            entry["tensors_compared"] = sum(len(t) for t in results.values())
            if mismatches:
                entry["mismatches"] = mismatches
        except RuntimeUnavailableError as exc:
            entry["equal"] = None
            entry["unavailable"] = str(exc)
        confirmations.append(entry)

    (out_dir / "inputs").mkdir(parents=True, exist_ok=True)
    (out_dir / "tensors").mkdir(parents=True, exist_ok=True)
    case_entries = []
    for name, arrays in cases.items():
        input_files = _input_file_names(name, len(arrays))
        for relative, array in zip(input_files, arrays, strict=True):
            np.save(out_dir / relative, array, allow_pickle=False)
        tensors_file = f"tensors/{name}.npz"
        save_npz_deterministic(out_dir / tensors_file, {tensor_key(i): v for i, v in results[name].items()})
        case_entries.append({"name": name, "inputs": input_files, "tensors": tensors_file,
                             "output_indices": output_indices})
    _remove_stale_files(out_dir, {f for c in case_entries for f in [*c["inputs"], c["tensors"]]})

    manifest = {
        "format": GOLDEN_FORMAT,
        "model": Path(os.path.relpath(model_path.resolve(), out_dir.resolve())).as_posix(),
        "model_sha256": sha256_of_file(model_path),
        "runtime": runtime,
        "runtime_version": primary_version,
        "confirmed_by": confirmations,
        "cases": case_entries,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return load_golden(out_dir)


def _remove_stale_files(out_dir: Path, keep: set[str]) -> None:
    """Delete .npy/.npz files of an earlier make in inputs/ and tensors/ that this manifest no longer lists."""
    for sub, suffix in (("inputs", ".npy"), ("tensors", ".npz")):
        for path in (out_dir / sub).glob(f"*{suffix}"):
            if f"{sub}/{path.name}" not in keep:
                path.unlink()


# --------------------------------------------------------------------------------------------------
# Checking


@dataclass
class TensorMismatch:
    case: str
    tensor_index: int | str  # "sg1:17" for a tensor of another subgraph than 0
    mismatched: int  # number of differing elements (all of them when missing or of another shape/dtype)
    total: int
    max_abs_diff: float | None = None
    missing: bool = False
    detail: str = ""


@dataclass
class GoldenReport:
    golden_dir: str
    runtime: str
    runtime_version: str
    cases: list[str]
    tensors_compared: int
    mismatches: list[TensorMismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def mismatching_tensors(self) -> list[int | str]:
        return sorted({m.tensor_index for m in self.mismatches},
                      key=lambda k: (1, 0, k) if isinstance(k, str) else (0, k, ""))

    def format(self) -> str:
        head = (f"golden {self.golden_dir}: {self.runtime} ({self.runtime_version}) on {len(self.cases)} case(s), "
                f"{self.tensors_compared} tensors compared exactly")
        if self.ok:
            return f"{head}: all equal"
        lines = [f"{head}: {len(self.mismatches)} mismatching"]
        for m in self.mismatches:
            what = "missing" if m.missing else f"{m.mismatched}/{m.total} elements differ"
            if m.max_abs_diff is not None:
                what += f", max |diff| {m.max_abs_diff:g}"
            if m.detail:
                what += f" ({m.detail})"
            lines.append(f"  case {m.case} tensor {m.tensor_index}: {what}")
        return "\n".join(lines)


def check_golden(golden_dir: str | os.PathLike, runtime: str = "refinterp", **runtime_options: Any) -> GoldenReport:
    """Run ``runtime`` on every case and compare every stored tensor with exact equality."""

    golden = load_golden(golden_dir)
    model_path = golden.model_path
    if not model_path.is_file():
        raise RefinterpError(f"golden {golden_dir}: model {golden.manifest['model']} ({model_path}) does not exist")
    digest = sha256_of_file(model_path)
    if digest != golden.model_sha256:
        raise RefinterpError(f"golden {golden_dir}: {model_path} has sha256 {digest[:12]}..., the golden was made "
                             f"from {golden.model_sha256[:12]}... (remake the golden)")
    checker = get_runtime(runtime, **runtime_options)
    mismatches: list[TensorMismatch] = []
    compared = 0
    for case in golden.cases:
        expected: dict[int | str, np.ndarray] = {
            **case.tensors(), **{subgraph_key(s, i): v for (s, i), v in case.subgraph_tensors().items()}}
        compared += len(expected)
        actual = _every_tensor(checker.run(str(model_path), case.inputs()))
        for problem in _compare(expected, actual):
            mismatches.append(TensorMismatch(case=case.name, tensor_index=problem["tensor"],
                                             mismatched=problem["mismatched"], total=problem["total"],
                                             max_abs_diff=problem.get("max_abs_diff"),
                                             missing=problem.get("missing", False),
                                             detail=problem.get("detail", "")))
    return GoldenReport(golden_dir=str(golden_dir), runtime=runtime, runtime_version=checker.version(),
                        cases=golden.case_names, tensors_compared=compared, mismatches=mismatches)


# --------------------------------------------------------------------------------------------------
# Command line: refinterp golden make|check


def _parse_input_cases(specs: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """Each --input is one case: FILE.npy, or FILE0.npy,FILE1.npy,... for a model with several inputs.

    The case is named after the first file's stem (with -2, -3, ... appended to repeated names).
    """
    cases: dict[str, list[np.ndarray]] = {}
    for spec in specs:
        files = [f for f in spec.split(",") if f]
        if not files:
            raise InputError(f"--input {spec!r} names no file")
        arrays = [load_npy(Path(f)) for f in files]
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(files[0]).stem) or "case"
        name, n = base, 1
        while name in cases:
            n += 1
            name = f"{base}-{n}"
        cases[name] = arrays
    return cases


def _build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="refinterp golden", description="Make or check a golden DIR: a model's inputs "
                            "and every tensor an official runtime computes from them, with a manifest.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{make,check}",
                                     help="what to do (each has its own --help)")
    make = commands.add_parser("make", help="run an official runtime and store every tensor",
                               description="Run an official runtime on the model and store every tensor in a "
                                           "golden DIR (confirmed by other runtimes where given).")
    make.add_argument("model", help="the .tflite model")
    make.add_argument("--out", required=True, metavar="DIR", help="the golden DIR to write")
    make.add_argument("--runtime", default="litert-ref", metavar="RUNTIME",
                      help="the runtime whose tensors are stored (default litert-ref)")
    make.add_argument("--input", action="append", default=[], metavar="X.npy[,Y.npy...]",
                      help="one case per --input (comma-separate the files of a multi-input model); "
                           "default: one seeded random case")
    make.add_argument("--confirm-with", action="append", default=None, metavar="RUNTIME",
                      help="runtime(s) that must agree, recorded in the manifest (default: tflm)")
    make.add_argument("--no-confirm", action="store_true", help="confirm with no other runtime")
    check = commands.add_parser("check", help="run a runtime on every case and compare every tensor exactly",
                                description="Run a runtime on every case of a golden DIR and compare every "
                                            "tensor exactly. Exit 0: all equal; 1: a difference; 2: an error.")
    check.add_argument("dir", metavar="DIR", help="the golden DIR")
    check.add_argument("--runtime", default="refinterp", metavar="RUNTIME",
                       help="the runtime to check (default refinterp)")
    return parser


def golden_main(argv: Sequence[str] | None = None) -> int:
    """``refinterp golden make|check``: 0 ok, 1 mismatch, 2 error."""
    args = _build_parser().parse_args(list(argv) if argv is not None else None)
    if args.command == "make":
        confirm = [] if args.no_confirm else (args.confirm_with or list(DEFAULT_CONFIRM_WITH))
        inputs = _parse_input_cases(args.input) if args.input else None
        golden = make_golden(args.model, args.out, runtime=args.runtime, inputs=inputs, confirm_with=confirm)
        print(f"wrote golden {args.out}: {golden.runtime} ({golden.runtime_version}), "
              f"cases {', '.join(golden.case_names)}")
        status = 0
        for entry in golden.confirmed_by:
            if entry.get("equal") is None:
                print(f"  {entry['runtime']}: not confirmed ({entry.get('unavailable', '')})")
            elif entry["equal"]:
                print(f"  {entry['runtime']} ({entry['version']}): equal on every tensor")
            else:
                differing = {case: [p["tensor"] for p in problems]
                             for case, problems in entry.get("mismatches", {}).items()}
                print(f"  {entry['runtime']} ({entry['version']}): DIFFERS on tensors {differing}")
                status = 1
        return status
    report = check_golden(args.dir, runtime=args.runtime)
    print(report.format())
    return 0 if report.ok else 1
