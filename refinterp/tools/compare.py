"""``refinterp compare``: where does another runtime's result first leave the reference, and why.

Both runtimes run the model on the same inputs and every operator output tensor is compared exactly, in
execution order. Integer tensors are compared in LSB (the difference of the stored integers, against minus
reference), float tensors in absolute and relative terms. The first operator with a differing output is
the *first divergence*: everything before it is bit-identical, so its inputs were equal and the operator
itself computes differently there.

With ``isolate=True`` every operator is also re-run by refinterp on the *other* runtime's own input
tensors (``Interpreter.run_operator``). Comparing that with the other runtime's output separates

* ``exact``: the other runtime's output equals the reference output and refinterp's rule reproduces it;
* ``local``: refinterp's rule on the other runtime's own inputs does not give the other runtime's output,
  so the operator itself rounds (or computes) differently;
* ``inherited``: refinterp's rule on the other runtime's inputs gives exactly the other runtime's output,
  which differs from the reference only because its inputs already differed;
* ``unavailable``: the other runtime did not give an input or output tensor of the operator (a delegate
  kept it internal), or refinterp cannot run the operator, so nothing is claimed.

The report is a plain dict (the JSON written by ``--json``, documented in docs/compare.md and
docs/compare.schema.json). Exit status of the command: 0 when every compared tensor is equal, 1 on any
divergence, 2 on error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from refinterp.errors import InputError, RefinterpError, UnsupportedOpError
from refinterp.interpreter import Interpreter
from refinterp.io import MANIFEST_NAME, load_golden, load_npy, model_input_specs, seeded_inputs, sha256_of_file
from refinterp.io.golden_format import subgraph_key
from refinterp.model import load_model
from refinterp.runtimes import RUNTIME_NAMES, LiteRTRuntime, TFLMRuntime, check_inputs, get_runtime
from refinterp.runtimes.base import import_litert_interpreter, import_tflm_runtime
from refinterp.tools.arguments import ArgumentParser

REPORT_FORMAT = "refinterp-compare/1"
EXIT_EQUAL, EXIT_DIVERGED, EXIT_ERROR = 0, 1, 2
#: histogram bins of integer differences (against - reference, in LSB); "beyond" is |difference| > 2
HISTOGRAM_BINS = ("-2", "-1", "+1", "+2", "beyond")
ISOLATION_CLASSES = ("exact", "local", "inherited", "unavailable")
#: statuses of one compared tensor; only "differs" and "incompatible" are divergences; "not_run": a tensor of a
#: subgraph neither runtime ran (an IF branch not taken), not counted among the tensors compared
STATUSES = ("equal", "differs", "incompatible", "missing_against", "missing_reference", "not_run")
DIVERGENT_STATUSES = ("differs", "incompatible")
CSV_COLUMNS = (
    "case", "op_index", "op_type", "output_position", "tensor_index", "tensor_name", "shape", "dtype", "status",
    "elements", "mismatches", "max_abs_diff", "max_rel_diff", "hist_minus2", "hist_minus1", "hist_plus1",
    "hist_plus2", "hist_beyond", "first_divergence", "isolation", "inputs_differ", "local_mismatches",
    "local_max_abs_diff",
)
#: a progress line appears only once a run has lasted this long (quick runs print nothing)
PROGRESS_AFTER_SECONDS = 2.0
#: without a terminal, progress is one plain line at most this often
PROGRESS_LOG_INTERVAL_SECONDS = 10.0
#: the text report fits this many columns (the tensor index always shows; names are cut from the left)
TERMINAL_WIDTH = 100
OP_TYPE_WIDTH = 12
OP_TYPE_ABBREVIATIONS = {
    "DEPTHWISE_CONV_2D": "DW_CONV_2D", "RESIZE_NEAREST_NEIGHBOR": "RESIZE_NN", "RESIZE_BILINEAR": "RESIZE_BILIN",
    "FULLY_CONNECTED": "FULLY_CONN", "AVERAGE_POOL_2D": "AVG_POOL_2D", "CONCATENATION": "CONCAT",
    "STRIDED_SLICE": "STRIDED_SLC", "TRANSPOSE_CONV": "TRANSP_CONV", "RELU_N1_TO_1": "RELU_N1_TO_1",
}


# --------------------------------------------------------------------------------------------------
# Inputs


@dataclass
class InputCase:
    """One set of model inputs (one array per model input, in subgraph-0 input order)."""

    name: str
    arrays: list[np.ndarray]
    files: list[str] | None = None  # where they were read from, if from files


def _is_golden_dir(path: Path) -> bool:
    return (path / MANIFEST_NAME).is_file()


def golden_cases(golden_dir: str | os.PathLike) -> list[InputCase]:
    """The input cases stored in a golden DIR, in manifest order."""
    golden = load_golden(golden_dir)
    return [InputCase(case.name, case.inputs(), [str(golden.root / f) for f in case.input_files])
            for case in golden.cases]


def cases_from_dir(directory: str | os.PathLike, input_count: int) -> list[InputCase]:
    """Input cases from a directory of .npy files.

    A golden DIR (it has a manifest.json) gives its own cases. Otherwise, for a one-input model every
    ``<case>.npy`` is a case; for a model with n inputs the files must be named ``<case>_<k>.npy`` with k
    from 0 to n-1. Cases are sorted by name.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"--inputs {directory}: not a directory")
    if _is_golden_dir(root):
        return golden_cases(root)
    files = sorted(p for p in root.iterdir() if p.suffix == ".npy" and p.is_file())
    if not files:
        raise InputError(f"--inputs {directory}: no .npy files")
    if input_count == 1:
        return [InputCase(p.stem, [load_npy(p)], [str(p)]) for p in files]
    grouped: dict[str, dict[int, Path]] = {}
    for path in files:
        match = re.fullmatch(r"(.+)_(\d+)", path.stem)
        if match is None:
            raise InputError(f"--inputs {directory}: {path.name} is not named <case>_<k>.npy "
                             f"(the model has {input_count} inputs)")
        grouped.setdefault(match.group(1), {})[int(match.group(2))] = path
    cases = []
    for name, by_position in sorted(grouped.items()):
        if sorted(by_position) != list(range(input_count)):
            raise InputError(f"--inputs {directory}: case {name!r} has files for inputs {sorted(by_position)}, "
                             f"the model needs {name}_0.npy ... {name}_{input_count - 1}.npy")
        paths = [by_position[k] for k in range(input_count)]
        cases.append(InputCase(name, [load_npy(p) for p in paths], [str(p) for p in paths]))
    return cases


def seeded_cases(model: Any, seed: int) -> list[InputCase]:
    """One case of seeded uniform random inputs over each input's range (refinterp.io.seeded_inputs)."""
    return [InputCase(f"seed{seed}", seeded_inputs(model_input_specs(model), seed))]


def check_cases(model: Any, cases: Sequence[InputCase]) -> None:
    """Every case must have one array per model input with the declared dtype and shape."""
    if not cases:
        raise InputError("no input cases")
    for case in cases:
        try:
            case.arrays = check_inputs(model, case.arrays)
        except InputError as exc:
            where = f"input case {case.name!r}" + (f" ({', '.join(case.files)})" if case.files else "")
            raise InputError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# Comparing two values of one tensor


def _dtype_kind(dtype: np.dtype) -> str:
    if np.issubdtype(dtype, np.floating):
        return "float"
    if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
        return "integer"
    return "other"


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def difference(reference: np.ndarray | None, against: np.ndarray | None) -> dict[str, Any]:
    """How ``against`` differs from ``reference`` (one tensor); keys as in a report row.

    Integer tensors: ``max_abs_diff`` in LSB and a histogram of ``against - reference``. Float tensors:
    ``max_abs_diff`` and ``max_rel_diff = max_abs_diff / max|reference|`` (relative to the tensor's
    largest magnitude, so values near zero do not blow it up); NaN equals NaN.
    """
    result: dict[str, Any] = {"status": "equal", "detail": None, "elements": 0, "mismatches": 0,
                              "max_abs_diff": 0, "max_rel_diff": None, "histogram": None}
    if reference is None or against is None:
        result.update(status="missing_reference" if reference is None else "missing_against",
                      elements=int(against.size if reference is None and against is not None else
                                   reference.size if reference is not None else 0),
                      mismatches=None, max_abs_diff=None)
        return result
    result["elements"] = int(reference.size)
    kind = _dtype_kind(reference.dtype)
    if reference.shape != against.shape or _dtype_kind(against.dtype) != kind or (
            kind == "integer" and reference.dtype != against.dtype):
        result.update(status="incompatible", mismatches=int(reference.size), max_abs_diff=None,
                      detail=f"reference {reference.dtype}{list(reference.shape)}, "
                             f"against {against.dtype}{list(against.shape)}")
        return result
    if kind == "integer":
        delta = against.astype(np.int64) - reference.astype(np.int64)
        nonzero = delta[delta != 0]
        result["histogram"] = {
            "-2": int(np.count_nonzero(nonzero == -2)), "-1": int(np.count_nonzero(nonzero == -1)),
            "+1": int(np.count_nonzero(nonzero == 1)), "+2": int(np.count_nonzero(nonzero == 2)),
            "beyond": int(np.count_nonzero(np.abs(nonzero) > 2)),
        }
        result["mismatches"] = int(nonzero.size)
        result["max_abs_diff"] = int(np.max(np.abs(nonzero))) if nonzero.size else 0
    elif kind == "float":
        ref64, other64 = reference.astype(np.float64), against.astype(np.float64)
        both_nan = np.isnan(ref64) & np.isnan(other64)
        differs = (ref64 != other64) & ~both_nan
        result["mismatches"] = int(np.count_nonzero(differs))
        if result["mismatches"]:
            with np.errstate(invalid="ignore"):
                max_abs = float(np.max(np.abs(other64[differs] - ref64[differs])))
            finite_ref = np.abs(ref64[np.isfinite(ref64)])
            scale = float(finite_ref.max()) if finite_ref.size else 0.0
            result["max_abs_diff"] = _finite_or_none(max_abs)
            result["max_rel_diff"] = _finite_or_none(max_abs / scale) if scale > 0 else None
        else:
            result["max_abs_diff"] = 0.0
            result["max_rel_diff"] = 0.0
    else:
        equal = np.array_equal(reference, against)
        result["mismatches"] = 0 if equal else int(reference.size)
        result["max_abs_diff"] = None
    if result["mismatches"]:
        result["status"] = "differs"
    return result


def _arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool | None:
    if a is None or b is None:
        return None
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if np.issubdtype(a.dtype, np.floating):
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


# --------------------------------------------------------------------------------------------------
# Isolation: run refinterp's operator on the other runtime's inputs


class Isolator:
    """Runs single operators of the model with refinterp (``Interpreter.run_operator``)."""

    def __init__(self, model_path: str | os.PathLike, model: Any, profile: str):
        self.model = model
        self.subgraph = model.subgraphs[0]
        self.interpreter: Any = None
        self.unavailable_reason: str | None = None
        try:
            interpreter = Interpreter(model_path=str(model_path), profile=profile)
            interpreter.allocate_tensors()
            self.interpreter = interpreter
        except UnsupportedOpError as exc:
            # Isolation is then impossible for every operator; the plain comparison still works.
            self.unavailable_reason = f"refinterp cannot prepare the model: {exc}"

    def classify(self, op: Any, against_name: str, reference: dict[int, np.ndarray],
                 against: dict[int, np.ndarray]) -> list[dict[str, Any]]:
        """One isolation record per output of ``op`` (see the module docstring for the classes)."""

        def unavailable(reason: str, inputs_differ: bool | None = None) -> list[dict[str, Any]]:
            return [{"class": "unavailable", "inputs_differ": inputs_differ, "local_mismatches": None,
                     "local_max_abs_diff": None, "reason": reason} for _ in op.outputs]

        tensors = self.subgraph.tensors
        inputs: list[np.ndarray | None] = []
        missing: list[int] = []
        inputs_differ: bool | None = False
        for tensor_index in op.inputs:
            if tensor_index < 0:
                inputs.append(None)
                continue
            tensor = tensors[tensor_index]
            if tensor.is_constant:  # a runtime cannot change a constant: use the model's bytes
                inputs.append(tensor.data)
                continue
            value = against.get(tensor_index)
            if value is None:
                missing.append(tensor_index)
                inputs.append(None)
                continue
            inputs.append(value)
            equal = _arrays_equal(reference.get(tensor_index), value)
            if equal is None:
                inputs_differ = None if inputs_differ is False else inputs_differ
            elif not equal:
                inputs_differ = True
        if missing:
            return unavailable(f"{against_name} gave no value for input tensor(s) "
                               f"{', '.join(str(i) for i in missing)}")
        if self.interpreter is None:
            return unavailable(self.unavailable_reason or "refinterp is not available", inputs_differ)
        missing_outputs = [i for i in op.outputs if i >= 0 and i not in against]
        if missing_outputs:
            return unavailable(f"{against_name} gave no value for output tensor(s) "
                               f"{', '.join(str(i) for i in missing_outputs)}", inputs_differ)
        try:
            isolated = self.interpreter.run_operator(op.index, inputs)
        except RefinterpError as exc:
            return unavailable(f"refinterp could not run the operator on {against_name}'s inputs: {exc}",
                               inputs_differ)
        records = []
        for tensor_index, value in zip(op.outputs, isolated, strict=True):
            local = difference(value, against[tensor_index])
            if local["status"] != "equal":
                kind = "local"
            elif _arrays_equal(reference.get(tensor_index), against[tensor_index]):
                kind = "exact"
            else:
                kind = "inherited"
            records.append({"class": kind, "inputs_differ": inputs_differ,
                            "local_mismatches": local["mismatches"], "local_max_abs_diff": local["max_abs_diff"],
                            "reason": local["detail"]})
        return records


# --------------------------------------------------------------------------------------------------
# One case, many cases


def _quant_fields(tensor: Any) -> tuple[float | None, int | None]:
    q = tensor.quantization
    if q is None or q.per_channel:
        return None, None
    return float(q.scale[0]), int(q.zero_point[0])


def _first_divergence(rows: Sequence[dict[str, Any]], case_names: list[str]) -> dict[str, Any]:
    for row in rows:
        if row["status"] in DIVERGENT_STATUSES:
            isolation = row.get("isolation")
            return {"op_index": row["op_index"], "op_type": row["op_type"], "tensor_index": row["tensor_index"],
                    "tensor_name": row["tensor_name"], "mismatches": row["mismatches"],
                    "max_abs_diff": row["max_abs_diff"],
                    "isolation": isolation["class"] if isolation else None, "cases": case_names}
    return {"op_index": None, "op_type": None, "tensor_index": None, "tensor_name": None, "mismatches": None,
            "max_abs_diff": None, "isolation": None, "cases": []}


def compare_tensors(model: Any, reference: dict[int, np.ndarray], against: dict[int, np.ndarray],
                    isolator: Isolator | None = None, against_name: str = "against",
                    reference_others: dict[tuple[int, int], np.ndarray] | None = None,
                    against_others: dict[tuple[int, int], np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One row per operator output tensor of subgraph 0, in execution order; then, for a model with more
    subgraphs (CALL_ONCE, WHILE, IF), one row per operator output of each other subgraph, its operator and
    tensor named "sg<k>:<index>" (status "not_run" when neither runtime ran that subgraph). Resource handles
    (VAR_HANDLE's outputs) hold no data and get no row."""
    rows = _subgraph_rows(model, 0, reference, against, isolator, against_name)
    for subgraph in model.subgraphs[1:]:
        def values(found: dict[tuple[int, int], np.ndarray] | None, number: int = subgraph.index) -> dict:
            return {i: v for (s, i), v in (found or {}).items() if s == number}

        rows += _subgraph_rows(model, subgraph.index, values(reference_others), values(against_others), None,
                               against_name)
    return rows


def _subgraph_rows(model: Any, number: int, reference: dict[int, np.ndarray], against: dict[int, np.ndarray],
                   isolator: Isolator | None, against_name: str) -> list[dict[str, Any]]:
    subgraph = model.subgraphs[number]
    rows = []
    for op in subgraph.operators:
        isolation = isolator.classify(op, against_name, reference, against) if isolator is not None else None
        for position, tensor_index in enumerate(op.outputs):
            if tensor_index < 0 or subgraph.tensors[tensor_index].dtype is None:
                continue
            tensor = subgraph.tensors[tensor_index]
            scale, zero_point = _quant_fields(tensor)
            row: dict[str, Any] = {
                "op_index": op.index if number == 0 else subgraph_key(number, op.index), "op_type": op.name,
                "output_position": position,
                "tensor_index": tensor_index if number == 0 else subgraph_key(number, tensor_index),
                "tensor_name": tensor.name, "shape": [int(d) for d in tensor.shape],
                "dtype": tensor.type_name, "scale": scale, "zero_point": zero_point,
            }
            row.update(difference(reference.get(tensor_index), against.get(tensor_index)))
            if number and tensor_index not in reference and tensor_index not in against:
                row["status"] = "not_run"
            row["isolation"] = isolation[position] if isolation is not None else None
            rows.append(row)
    return rows


def _case_report(case: InputCase, rows: list[dict[str, Any]], seconds: dict[str, float | None]) -> dict[str, Any]:
    return {
        "name": case.name,
        "inputs": list(case.files) if case.files else None,
        "equal": not any(r["status"] in DIVERGENT_STATUSES for r in rows),
        "first_divergence": _first_divergence(rows, [case.name]),
        "invoke_seconds": seconds,
        "tensors": rows,
    }


def _aggregate_isolation(records: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    present = [r for r in records if r is not None]
    if not present:
        return None
    counts = {kind: sum(1 for r in present if r["class"] == kind) for kind in ISOLATION_CLASSES}
    # One case where the operator rounds differently is enough to call it local; "unavailable" beats
    # "inherited" because an operator we could not check in some case might be local there.
    kind = next(k for k in ("local", "unavailable", "inherited", "exact") if counts[k])
    local_mismatches = [r["local_mismatches"] for r in present if r["local_mismatches"] is not None]
    local_max = [r["local_max_abs_diff"] for r in present if r["local_max_abs_diff"] is not None]
    differ = [r["inputs_differ"] for r in present if r["inputs_differ"] is not None]
    reasons = [r["reason"] for r in present if r["reason"]]
    return {"class": kind, "counts": counts,
            "inputs_differ": any(differ) if differ else None,
            "local_mismatches": sum(local_mismatches) if local_mismatches else None,
            "local_max_abs_diff": max(local_max) if local_max else None,
            "reason": reasons[0] if reasons else None}


def aggregate_rows(cases: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows summed over cases: counts add up, maxima take the max, ``diverging_cases`` counts cases."""
    if not cases:
        return []
    rows = []
    for position, first in enumerate(cases[0]["tensors"]):
        per_case = [case["tensors"][position] for case in cases]
        row = {key: first[key] for key in ("op_index", "op_type", "output_position", "tensor_index",
                                           "tensor_name", "shape", "dtype", "scale", "zero_point")}
        statuses = [r["status"] for r in per_case]
        status = next((s for s in ("incompatible", "differs", "missing_against", "missing_reference")
                       if s in statuses), "not_run" if all(s == "not_run" for s in statuses) else "equal")
        mismatches = [r["mismatches"] for r in per_case if r["mismatches"] is not None]
        max_abs = [r["max_abs_diff"] for r in per_case if r["max_abs_diff"] is not None]
        max_rel = [r["max_rel_diff"] for r in per_case if r["max_rel_diff"] is not None]
        histograms = [r["histogram"] for r in per_case if r["histogram"] is not None]
        details = [r["detail"] for r in per_case if r["detail"]]
        row.update({
            "status": status, "detail": details[0] if details else None,
            "elements": sum(r["elements"] for r in per_case),
            "mismatches": sum(mismatches) if mismatches else None,
            "max_abs_diff": max(max_abs) if max_abs else None,
            "max_rel_diff": max(max_rel) if max_rel else None,
            "histogram": {b: sum(h[b] for h in histograms) for b in HISTOGRAM_BINS} if histograms else None,
            "isolation": _aggregate_isolation([r["isolation"] for r in per_case]),
            "diverging_cases": sum(1 for s in statuses if s in DIVERGENT_STATUSES),
        })
        rows.append(row)
    return rows


class Progress:
    """A progress line on stderr for long runs; silent for quick ones.

    On a terminal the line is redrawn in place, and only once the run has lasted
    :data:`PROGRESS_AFTER_SECONDS`. Elsewhere (a log file, CI) a plain line is written at most every
    :data:`PROGRESS_LOG_INTERVAL_SECONDS`, also only on runs lasting longer than that.
    """

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.last_log = self.started
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.drawn = False

    def update(self, done: int, label: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if self.is_tty:
            if elapsed < PROGRESS_AFTER_SECONDS:
                return
            width = 30
            filled = int(width * done / max(self.total, 1))
            text = f"\rcompare [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {elapsed:5.0f} s {label}"
            self.stream.write(text[:120].ljust(80))
            self.stream.flush()
            self.drawn = True
        elif now - self.last_log >= PROGRESS_LOG_INTERVAL_SECONDS:
            self.last_log = now
            self.stream.write(f"compare: {done}/{self.total} input cases done, {elapsed:.0f} s\n")
            self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
            self.drawn = False


def _runtime_for(spec: str, profile: str) -> Any:
    return get_runtime(spec, profile=profile) if spec == "refinterp" else get_runtime(spec)


def _require_available(runtime: Any) -> str:
    """The runtime's version; raises RuntimeUnavailableError (one line naming the package) if it cannot run."""
    version = runtime.version()
    # version() reads package metadata only; also import the module run() needs, so that a broken or
    # partial install fails here, before anything has run.
    if isinstance(runtime, LiteRTRuntime):
        import_litert_interpreter(runtime.name)
    elif isinstance(runtime, TFLMRuntime):
        import_tflm_runtime()
    return version


def compare(model_path: str | os.PathLike, against: str, reference: str = "refinterp",
            cases: Sequence[InputCase] | None = None, *, isolate: bool = False, profile: str | None = None,
            input_source: dict[str, Any] | None = None,
            progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Compare runtime ``against`` with runtime ``reference`` on every input case; the report dict.

    ``cases`` default: the cases of a golden DIR when either runtime is ``golden:DIR``, otherwise one
    seeded random case (seed 0). ``profile`` is refinterp's (for the ``refinterp`` runtime and for
    isolation); by default "tflm" when the reference is tflm, else "litert-ref". ``input_source`` says
    where given cases came from, for the report: {"source": "files"|"dir"|"golden"|"seed"|"given",
    "location": str|None, "seed": int|None}. ``progress(done, total, label)`` is called before each phase
    of each case (label "<case>: <phase>") and once at the end.
    """
    model = load_model(model_path)
    if profile is None:
        profile = "tflm" if reference == "tflm" else "litert-ref"
    reference_runtime = _runtime_for(reference, profile)
    against_runtime = _runtime_for(against, profile)
    # Fail early, with one line naming the missing package, before running anything.
    versions = {"reference": _require_available(reference_runtime), "against": _require_available(against_runtime)}
    input_source: dict[str, Any]
    if cases is None:
        golden_spec = next((s for s in (against, reference) if s.startswith("golden:")), None)
        if golden_spec is not None:
            cases = golden_cases(golden_spec[len("golden:"):])
            input_source = {"source": "golden", "location": golden_spec[len("golden:"):], "seed": None}
        else:
            cases = seeded_cases(model, 0)
            input_source = {"source": "seed", "location": None, "seed": 0}
    else:
        input_source = {"source": "given", "location": None, "seed": None, **(input_source or {})}
    cases = list(cases)
    check_cases(model, cases)
    isolator = Isolator(model_path, model, profile) if isolate else None

    case_reports = []
    for number, case in enumerate(cases):
        def phase(name: str, number: int = number, case: InputCase = case) -> None:
            if progress is not None:
                progress(number, len(cases), f"{case.name}: {name}")

        phase(reference)
        reference_result = reference_runtime.run(str(model_path), case.arrays)
        phase(against)
        against_result = against_runtime.run(str(model_path), case.arrays)
        phase("isolating" if isolate else "comparing")
        rows = compare_tensors(model, reference_result.tensors, against_result.tensors, isolator, against,
                               reference_result.subgraph_tensors, against_result.subgraph_tensors)
        case_reports.append(_case_report(case, rows, {"reference": reference_result.invoke_seconds,
                                                      "against": against_result.invoke_seconds}))
        del reference_result, against_result  # keep one case's tensors in memory at a time
    if progress is not None:
        progress(len(cases), len(cases), "")

    rows = aggregate_rows(case_reports)
    first = _first_divergence(rows, [])
    if first["op_index"] is not None:
        first["cases"] = [c["name"] for c in case_reports
                          if c["first_divergence"]["op_index"] == first["op_index"]]
    equal = all(c["equal"] for c in case_reports)
    local_ops = None
    if isolate:
        local_ops = sorted({r["op_index"] for r in rows if r["isolation"] and r["isolation"]["class"] == "local"})
    return {
        "format": REPORT_FORMAT,
        "model": str(model_path),
        "model_sha256": sha256_of_file(model_path),
        "reference": {"spec": reference, "version": versions["reference"]},
        "against": {"spec": against, "version": versions["against"]},
        "profile": profile,
        "isolate": bool(isolate),
        "inputs": {**input_source, "cases": len(case_reports)},
        "equal": equal,
        "exit_status": EXIT_EQUAL if equal else EXIT_DIVERGED,
        "first_divergence": first,
        "local_ops": local_ops,
        "summary": {
            "tensors": sum(1 for r in rows if r["status"] != "not_run"),
            "differing_tensors": sum(1 for r in rows if r["status"] in DIVERGENT_STATUSES),
            "missing_tensors": sum(1 for r in rows if r["status"].startswith("missing")),
            "diverging_cases": sum(1 for c in case_reports if not c["equal"]),
        },
        "aggregate": {"cases": len(case_reports), "tensors": rows},
        "cases": case_reports,
    }


# --------------------------------------------------------------------------------------------------
# Text, CSV, JSON


def _short(name: str, width: int) -> str:
    """``name`` cut to ``width`` characters keeping its end (tensor names differ at the end)."""
    if len(name) <= width:
        return name
    return "..." + name[-(width - 3):] if width > 3 else name[-width:]


def short_op_type(op_type: str, width: int = OP_TYPE_WIDTH) -> str:
    """An operator type in at most ``width`` characters: a usual abbreviation, else cut with '~'."""
    short = OP_TYPE_ABBREVIATIONS.get(op_type, op_type)
    return short if len(short) <= width else short[:width - 1] + "~"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _isolation_text(isolation: dict[str, Any] | None) -> str:
    if isolation is None:
        return ""
    if isolation["class"] == "local":
        text = f"local {isolation['local_mismatches']}"
        maximum = isolation["local_max_abs_diff"]
        return text if maximum in (None, 1) else f"{text} max {_number(maximum)}"
    return isolation["class"]


def _table_cells(row: dict[str, Any]) -> dict[str, str]:
    """The text of one row's cells, by column (see :func:`format_table`)."""
    status = row["status"]
    cells = {"differ": "", "share": "", "max": "", "minus": "", "plus": "", "wide": ""}
    if status.startswith("missing"):
        cells.update(differ="missing", wide="in " + ("reference" if status == "missing_reference" else "against"))
    elif status == "incompatible":
        cells.update(differ="incompat.", wide="see below")
    elif not row["mismatches"]:
        cells["differ"] = "equal"
    else:
        share = 100.0 * row["mismatches"] / row["elements"] if row["elements"] else 0.0
        cells.update(differ=str(row["mismatches"]), share=f"{share:.2f}", max=_number(row["max_abs_diff"]))
        histogram = row.get("histogram")
        if histogram is not None:
            cells.update(minus=str(histogram["-1"]), plus=str(histogram["+1"]))
        elif row.get("max_rel_diff") is not None:
            cells["wide"] = "rel " + _number(row["max_rel_diff"])
    return cells


def format_table(rows: Sequence[dict[str, Any]], first_op: int | None, show_cases: bool = False,
                 width: int = TERMINAL_WIDTH) -> str:
    """The human-readable table, at most ``width`` columns: one line per operator output tensor.

    Columns: '>' marks the first divergence; op index; op type (abbreviated); tensor index and name (the
    name cut from the left to the room left); shape; elements that differ, their share in %, the largest
    difference (LSB for integers); how many are -1 and +1 LSB (the rest are 2 or more: see max); with several
    cases, in how many the tensor differs; with --isolate, the class (and the local mismatches). Float
    tensors show their largest relative difference in place of the -1/+1 counts. The JSON and CSV reports
    keep every figure (the full histogram, the full names).
    """
    isolate = any(r.get("isolation") for r in rows)
    body = []
    for row in rows:
        cells = _table_cells(row)
        cells.update(mark=">" if row["op_index"] == first_op else " ", op=str(row["op_index"]),
                     type=short_op_type(row["op_type"]), index=str(row["tensor_index"]),
                     name=row["tensor_name"], shape=_short("x".join(str(d) for d in row["shape"]) or "scalar", 14),
                     cases=str(row.get("diverging_cases", 0)), isolate=_isolation_text(row.get("isolation")))
        body.append(cells)
    header = {"mark": " ", "op": "op", "type": "type", "index": "tensor", "name": "", "shape": "shape",
              "differ": "differ", "share": "%", "max": "max", "minus": "-1", "plus": "+1", "wide": "",
              "cases": "cases", "isolate": "isolate"}

    def column(key: str) -> int:
        return max(len(cells[key]) for cells in [header, *body])

    counts = column("minus") + 1 + column("plus")
    wide = max(counts, max((len(c["wide"]) for c in body), default=0))
    minus_width = column("minus") + (wide - counts)
    widths = {key: column(key) for key in ("op", "type", "shape", "differ", "share", "max", "cases", "isolate")}
    index_width = max(len(c["index"]) for c in body) if body else 0
    fixed = (1 + 1 + widths["op"] + 2 + widths["type"] + 1 + 1 + widths["shape"] + 1
             + widths["differ"] + 1 + widths["share"] + 1 + widths["max"] + 1 + wide
             + (1 + widths["cases"] if show_cases else 0) + (2 + widths["isolate"] if isolate else 0))
    longest = max((len(c["name"]) for c in body), default=0)
    # the tensor column: the index, then as much of the name as fits (none when fewer than 8 characters would)
    name_width = min(longest, width - fixed - index_width - 1)
    name_width = name_width if name_width >= 8 else 0
    tensor_width = max(index_width + (1 + name_width if name_width else 0), len("tensor"))

    def line(cells: dict[str, str], is_header: bool = False) -> str:
        if is_header:
            tensor = "tensor".ljust(tensor_width)
            histogram = ("-1".rjust(minus_width) + " " + "+1".rjust(column("plus"))).rjust(wide)
        else:
            tensor = cells["index"].rjust(index_width)
            if name_width:
                tensor += " " + _short(cells["name"], name_width)
            tensor = tensor.ljust(tensor_width)
            histogram = (cells["wide"].rjust(wide) if cells["wide"] else
                         cells["minus"].rjust(minus_width) + " " + cells["plus"].rjust(column("plus")))
        text = (f"{cells['mark']} {cells['op']:>{widths['op']}}  {cells['type']:<{widths['type']}} {tensor} "
                f"{cells['shape']:<{widths['shape']}} {cells['differ']:>{widths['differ']}} "
                f"{cells['share']:>{widths['share']}} {cells['max']:>{widths['max']}} {histogram}")
        if show_cases:
            text += f" {cells['cases']:>{widths['cases']}}"
        if isolate:
            text += f"  {cells['isolate']}"
        return text.rstrip()

    lines = [line(header, is_header=True), *(line(cells) for cells in body)]
    lines += [f"  tensor {r['tensor_index']}: {r['detail']}" for r in rows if r["status"] == "incompatible"]
    return "\n".join(lines)


def _divergence_text(first: dict[str, Any], report: dict[str, Any], prefix: str = "",
                     width: int = TERMINAL_WIDTH) -> str:
    if first["op_index"] is None:
        return prefix + "no divergence"
    head = f"{prefix}first divergence: op {first['op_index']} {first['op_type']} (tensor {first['tensor_index']} '"
    tail = "')"
    if first["mismatches"] is not None:
        tail += f", {first['mismatches']} differ, max {_number(first['max_abs_diff'])}"
        dtype = next((r["dtype"] for r in report["aggregate"]["tensors"]
                      if r["tensor_index"] == first["tensor_index"]), "")
        tail += "" if dtype.startswith("float") else " LSB"
    if first["isolation"]:
        tail += f" [{first['isolation']}]"
    return head + _short(first["tensor_name"], max(8, width - len(head) - len(tail))) + tail


def _wrapped_items(head: str, items: Sequence[str], width: int = TERMINAL_WIDTH, indent: str = "  ") -> str:
    """``head`` then the comma-separated items, wrapped between items at ``width`` columns."""
    lines, line = [], head
    for number, item in enumerate(items):
        piece = item + ("," if number < len(items) - 1 else "")
        if line.strip() and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = indent + piece
        else:
            line += ("" if line.endswith(" ") or not line else " ") + piece
    return "\n".join([*lines, line])


def format_report(report: dict[str, Any]) -> str:
    """The text the command prints (the table and every line at most :data:`TERMINAL_WIDTH` columns, but
    for a long model path)."""
    def runtime_line(side: str) -> str:
        spec, version = report[side]["spec"], report[side]["version"]
        profile = f", profile {report['profile']}" if spec == "refinterp" else ""
        return f"{spec} ({version}{profile})"

    lines = [f"model:     {report['model']}", f"reference: {runtime_line('reference')}",
             f"against:   {runtime_line('against')}"]
    if report["isolate"]:
        lines.append(f"isolate:   each operator re-run by refinterp (profile {report['profile']}) on "
                     f"{report['against']['spec']}'s own inputs")
    source = report["inputs"]
    where = {"seed": f"seeded random (seed {source['seed']})", "golden": f"golden DIR {source['location']}",
             "dir": f"directory {source['location']}", "files": "--input files"}.get(source["source"], "given")
    lines.append(f"inputs:    {source['cases']} case(s), {where}")
    cases = report["cases"]
    first = report["first_divergence"]
    lines.append("")
    if len(cases) == 1:
        lines.append(format_table(cases[0]["tensors"], first["op_index"]))
    else:
        for case in cases:
            prefix = f"case {case['name']}: "
            lines.append(prefix + "equal" if case["equal"] else
                         _divergence_text(case["first_divergence"], report, prefix))
        lines += ["", f"aggregate over {len(cases)} cases (counts summed, maxima over cases; 'cases': in how "
                      f"many it differs):",
                  format_table(report["aggregate"]["tensors"], first["op_index"], show_cases=True)]
    lines.append("")
    summary = report["summary"]
    if summary["missing_tensors"]:
        lines.append(f"{summary['missing_tensors']} tensor(s) missing from one runtime were not compared")
    if report["isolate"]:
        local = report["local_ops"]
        lines.append(_wrapped_items("ops that round differently (local): ",
                                    [f"{i} {_op_type(report, i)}" for i in local] or ["none"]))
    if report["equal"]:
        lines.append(f"EQUAL: all {summary['tensors'] - summary['missing_tensors']} compared tensors are "
                     f"identical ({report['against']['spec']} vs {report['reference']['spec']})")
    else:
        lines.append(_divergence_text(first, report))
        lines.append(f"DIVERGED: {summary['differing_tensors']} of {summary['tensors']} tensors differ "
                     f"({report['against']['spec']} vs {report['reference']['spec']})"
                     + (f" in {summary['diverging_cases']} of {len(cases)} cases" if len(cases) > 1 else ""))
    return "\n".join(lines)


def _op_type(report: dict[str, Any], op_index: int) -> str:
    return next(r["op_type"] for r in report["aggregate"]["tensors"] if r["op_index"] == op_index)


def csv_text(report: dict[str, Any]) -> str:
    """One row per (input case, operator output tensor); the columns are :data:`CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for case in report["cases"]:
        first_op = case["first_divergence"]["op_index"]
        for row in case["tensors"]:
            histogram = row["histogram"] or {}
            isolation = row["isolation"] or {}
            values = [case["name"], row["op_index"], row["op_type"], row["output_position"], row["tensor_index"],
                      row["tensor_name"], "x".join(str(d) for d in row["shape"]), row["dtype"], row["status"],
                      row["elements"], row["mismatches"], row["max_abs_diff"], row["max_rel_diff"],
                      *(histogram.get(b) for b in HISTOGRAM_BINS), row["op_index"] == first_op,
                      isolation.get("class"), isolation.get("inputs_differ"), isolation.get("local_mismatches"),
                      isolation.get("local_max_abs_diff")]
            writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in values])
    return buffer.getvalue()


def _write_text(path: str, text: str, what: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise RefinterpError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------------------------------
# Command line


def _build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="refinterp compare",
        description="Compare another runtime's tensors with the reference, operator by operator, and find the "
                    "first divergence. Exit 0: every compared tensor equal; 1: a divergence; 2: an error.")
    parser.add_argument("model", help="the .tflite model")
    parser.add_argument("--against", required=True, metavar="NAME",
                        help=f"the runtime to check: {', '.join(RUNTIME_NAMES)}")
    parser.add_argument("--reference", default="refinterp", metavar="NAME",
                        help="the runtime taken as correct (default refinterp)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", action="extend", nargs="+", default=None, metavar="X.npy",
                        help="one input case: one .npy per model input, in order")
    source.add_argument("--inputs", metavar="DIR",
                        help="a directory of input cases: <case>.npy (<case>_<k>.npy for several model inputs), "
                             "or a golden DIR")
    source.add_argument("--seed", type=int, default=None, metavar="N",
                        help="one case of seeded random inputs (the default, seed 0, unless a runtime is golden:DIR)")
    parser.add_argument("--isolate", action="store_true",
                        help="re-run each operator with refinterp on the other runtime's own inputs and classify it "
                             "exact / local / inherited / unavailable")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout, no table)")
    parser.add_argument("--csv", metavar="PATH", help="write one CSV row per (input case, operator output tensor)")
    parser.add_argument("--profile", choices=["litert-ref", "tflm"], default=None,
                        help="refinterp's profile, for the refinterp runtime and --isolate "
                             "(default: tflm when the reference is tflm, else litert-ref)")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress line")
    return parser


def compare_main(argv: Sequence[str]) -> int:
    """``refinterp compare``; returns the exit status (errors raise RefinterpError: the CLI prints one line)."""
    args = _build_parser().parse_args(list(argv))
    model = load_model(args.model)
    input_count = len(model.subgraphs[0].inputs)
    cases: list[InputCase] | None = None
    input_source: dict[str, Any] | None = None
    if args.input:
        cases = [InputCase("input", [load_npy(p) for p in args.input], list(args.input))]
        input_source = {"source": "files"}
    elif args.inputs:
        cases = cases_from_dir(args.inputs, input_count)
        input_source = {"source": "golden" if _is_golden_dir(Path(args.inputs)) else "dir",
                        "location": args.inputs}
    elif args.seed is not None:
        cases = seeded_cases(model, args.seed)
        input_source = {"source": "seed", "seed": args.seed}

    progress_line = Progress(0, enabled=not args.no_progress)

    def progress(done: int, total: int, label: str) -> None:
        progress_line.total = total
        progress_line.update(done, label)

    try:
        report = compare(args.model, args.against, args.reference, cases, isolate=args.isolate,
                         profile=args.profile, input_source=input_source, progress=progress)
    finally:
        progress_line.close()

    if args.json == "-":
        _write_text("-", json.dumps(report, indent=1) + "\n", "JSON")
    else:
        print(format_report(report))
        if args.json:
            _write_text(args.json, json.dumps(report, indent=1) + "\n", "JSON")
    if args.csv:
        _write_text(args.csv, csv_text(report), "CSV")
    return report["exit_status"]
