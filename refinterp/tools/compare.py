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

With ``explain=True`` (``--explain``) every ``local`` operator is re-run once more on the same inputs under each
other profile ``Interpreter`` accepts, the emulation profiles (``litert-opt``, ``xnnpack``: another runtime's
arithmetic) included: when one reproduces the other runtime's output exactly, the operator is *explained* by
that profile's rule (``explained: xnnpack (<rule>)``), otherwise it is *unexplained*: neither refinterp's
reference rule nor any documented runtime rule gives it, which is what a delegate engineer must look at.

The report is a plain dict (the JSON written by ``--json``, documented in docs/compare.md and
docs/compare.schema.json); ``--csv`` and ``--html`` write it as a table too. Exit status of the command: 0
when every compared tensor is equal, 1 on any divergence, 2 on error; with ``--fail-on unexplained``, 0 also
when every divergence is explained or inherited.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import math
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from refinterp.errors import InputError, KernelError, RefinterpError, UnsupportedOpError
from refinterp.interpreter import Interpreter
from refinterp.io import MANIFEST_NAME, load_golden, load_npy, model_input_specs, seeded_inputs, sha256_of_file
from refinterp.io.golden_format import subgraph_key
from refinterp.model import load_model
from refinterp.ops.common import ALL_PROFILES
from refinterp.runtimes import RUNTIME_NAMES, LiteRTRuntime, TFLMRuntime, check_inputs, get_runtime
from refinterp.runtimes.base import import_litert_interpreter, import_tflm_runtime
from refinterp.tools.arguments import ArgumentParser
from refinterp.tools.executor import add_executor_arguments, check_executor_arguments, run_tasks
from refinterp.tools.progress import StatusLine
from refinterp.tools.qerror.html import render_report

REPORT_FORMAT = "refinterp-compare/1"
EXIT_EQUAL, EXIT_DIVERGED, EXIT_ERROR = 0, 1, 2
#: histogram bins of integer differences (against - reference, in LSB); "beyond" is |difference| > 2
HISTOGRAM_BINS = ("-2", "-1", "+1", "+2", "beyond")
ISOLATION_CLASSES = ("exact", "local", "inherited", "unavailable")
#: what --explain says of a local operator: one profile's rule reproduces the other runtime's output exactly, or none
EXPLANATION_STATUSES = ("explained", "unexplained")
#: --fail-on: exit 1 on any divergence (the default), or only on one no profile explains
FAIL_ON_CHOICES = ("any", "unexplained")
#: the profile that emulates a runtime, tried first by --explain (the other profiles follow in ALL_PROFILES order)
RUNTIME_PROFILES = {"litert-ref": "litert-ref", "litert": "litert-opt", "xnnpack": "xnnpack", "tflm": "tflm"}
#: statuses of one compared tensor; only "differs" and "incompatible" are divergences; "not_run": a tensor of a
#: subgraph neither runtime ran (an IF branch not taken), not counted among the tensors compared
STATUSES = ("equal", "differs", "incompatible", "missing_against", "missing_reference", "not_run")
DIVERGENT_STATUSES = ("differs", "incompatible")
CSV_COLUMNS = (
    "case", "op_index", "op_type", "output_position", "tensor_index", "tensor_name", "shape", "dtype", "status",
    "elements", "mismatches", "max_abs_diff", "max_rel_diff", "hist_minus2", "hist_minus1", "hist_plus1",
    "hist_plus2", "hist_beyond", "first_divergence", "isolation", "inputs_differ", "local_mismatches",
    "local_max_abs_diff", "explanation", "explained_by",
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

    def __init__(self, model_path: str | os.PathLike, model: Any, profile: str,
                 explain_profiles: Sequence[str] | None = None):
        self.model = model
        self.subgraph = model.subgraphs[0]
        self.interpreter: Any = None
        self.unavailable_reason: str | None = None
        #: with explain_profiles (--explain), each local operator is re-run under those profiles too
        self.explainer = Explainer(model_path, explain_profiles) if explain_profiles is not None else None
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
                     "local_max_abs_diff": None, "reason": reason, "explanation": None} for _ in op.outputs]

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
                            "reason": local["detail"], "explanation": None})
        if self.explainer is not None and any(r["class"] == "local" for r in records):
            explanation = self.explainer.explain(op, inputs, against)
            for record in records:
                if record["class"] == "local":
                    record["explanation"] = dict(explanation)
        return records


# --------------------------------------------------------------------------------------------------
# Explanation: which runtime's rule reproduces a local divergence (--explain)


def explain_profiles(isolation_profile: str, against: str) -> list[str]:
    """The profiles --explain tries, in order: every profile ``Interpreter`` accepts
    (``refinterp.ops.common.ALL_PROFILES``: the reference profiles and the emulation profiles) but the one
    isolation ran, which by definition did not reproduce a local operator; the profile that emulates
    ``against`` (:data:`RUNTIME_PROFILES`) first, so that it is the one named when several reproduce."""
    profiles = [p for p in ALL_PROFILES if p != isolation_profile]
    own = RUNTIME_PROFILES.get(against)
    return sorted(profiles, key=lambda p: p != own)  # stable: the rest keep ALL_PROFILES order


def emulation_rule(profile: str, op_type: str) -> str | None:
    """The one-line rule by which ``profile`` computes ``op_type`` differently from the reference kernels, as the
    emulation module states it: ``refinterp.ops.emulation.<profile, '-' as '_'>.TABLE[op_type].rule``; None when
    the profile has no emulation module or the module no rule for the operator (the reference profiles:
    docs/profiles.md lists their differences)."""
    module_name = "refinterp.ops.emulation." + profile.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None  # no such module (a reference profile); a module failing to import is a bug: raised
        raise
    entry = getattr(module, "TABLE", {}).get(op_type)
    rule = getattr(entry, "rule", entry)
    return rule if isinstance(rule, str) and rule else None


class Explainer:
    """Re-runs one operator under each of several profiles (``Interpreter(profile=P).run_operator``, one
    interpreter per profile, prepared on first use) and says which profile reproduces another runtime's output.

    The inputs are the ones :class:`Isolator` ran: the other runtime's own input tensors of the operator (the
    model's constants). A profile *reproduces* the operator when every output it gives equals the other
    runtime's, element for element; the first such profile (in the order given) explains it.
    """

    def __init__(self, model_path: str | os.PathLike, profiles: Sequence[str]):
        self.model_path = str(model_path)
        self.profiles = list(profiles)
        self._interpreters: dict[str, Any] = {}  # profile -> a prepared Interpreter, or why it is not (str)

    def interpreter(self, profile: str) -> Any:
        if profile not in self._interpreters:
            try:
                interpreter = Interpreter(model_path=self.model_path, profile=profile)
                interpreter.allocate_tensors()
                self._interpreters[profile] = interpreter
            except KernelError:
                raise
            except RefinterpError as exc:  # the profile refuses the model (an operator or a case it does not take)
                self._interpreters[profile] = f"refinterp cannot prepare the model under profile {profile}: {exc}"
        return self._interpreters[profile]

    def explain(self, op: Any, inputs: Sequence[np.ndarray | None], against: dict[int, np.ndarray]
                ) -> dict[str, Any]:
        """The explanation record of one local operator (docs/compare.md, ``explanation``)."""
        tried = []
        for profile in self.profiles:
            attempt: dict[str, Any] = {"profile": profile, "rule": emulation_rule(profile, op.name),
                                       "mismatches": None, "max_abs_diff": None, "reason": None}
            tried.append(attempt)
            interpreter = self.interpreter(profile)
            if isinstance(interpreter, str):
                attempt["reason"] = interpreter
                continue
            try:
                outputs = interpreter.run_operator(op.index, inputs)
            except KernelError:
                raise
            except RefinterpError as exc:
                attempt["reason"] = f"profile {profile} could not run the operator on these inputs: {exc}"
                continue
            differences = [difference(value, against[tensor_index])
                           for tensor_index, value in zip(op.outputs, outputs, strict=True) if tensor_index >= 0]
            attempt["mismatches"] = sum(d["mismatches"] or 0 for d in differences)
            maxima = [d["max_abs_diff"] for d in differences if d["max_abs_diff"] is not None]
            attempt["max_abs_diff"] = max(maxima) if maxima else None
            incompatible = [d["detail"] for d in differences if d["status"] == "incompatible"]
            attempt["reason"] = incompatible[0] if incompatible else None
        return explanation_record(tried)


def _reproduces(attempt: dict[str, Any]) -> bool:
    return attempt["reason"] is None and attempt["mismatches"] == 0


def explanation_record(tried: list[dict[str, Any]]) -> dict[str, Any]:
    """``status``, ``profile`` and ``rule`` of the first attempt that reproduced, ``reproduced_by`` (every such
    profile) and the attempts themselves (``tried``: profile, rule, mismatches, max_abs_diff, reason)."""
    reproduced = [a for a in tried if _reproduces(a)]
    first = reproduced[0] if reproduced else None
    return {"status": "explained" if first else "unexplained",
            "profile": first["profile"] if first else None, "rule": first["rule"] if first else None,
            "reproduced_by": [a["profile"] for a in reproduced], "tried": tried}


def _aggregate_explanation(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Over the cases where the operator was local: a profile explains it when it reproduced it in every one of
    them (one rule for all cases; mismatches summed, maxima taken, the first reason kept)."""
    if not records:
        return None
    tried = []
    for position, first in enumerate(records[0]["tried"]):
        attempts = [r["tried"][position] for r in records]
        mismatches = [a["mismatches"] for a in attempts if a["mismatches"] is not None]
        maxima = [a["max_abs_diff"] for a in attempts if a["max_abs_diff"] is not None]
        reasons = [a["reason"] for a in attempts if a["reason"]]
        tried.append({"profile": first["profile"], "rule": first["rule"],
                      "mismatches": sum(mismatches) if mismatches else None,
                      "max_abs_diff": max(maxima) if maxima else None, "reason": reasons[0] if reasons else None})
    aggregate = explanation_record(tried)
    aggregate["counts"] = {status: sum(1 for r in records if r["status"] == status) for status in EXPLANATION_STATUSES}
    return aggregate


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
    explanations = [r["explanation"] for r in present if r["class"] == "local" and r.get("explanation")]
    return {"class": kind, "counts": counts,
            "inputs_differ": any(differ) if differ else None,
            "local_mismatches": sum(local_mismatches) if local_mismatches else None,
            "local_max_abs_diff": max(local_max) if local_max else None,
            "reason": reasons[0] if reasons else None, "explanation": _aggregate_explanation(explanations)}


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


class Progress(StatusLine):
    """A progress line on stderr for long runs; silent for quick ones.

    On a terminal the line is redrawn in place, and only once the run has lasted
    :data:`PROGRESS_AFTER_SECONDS`. Elsewhere (a log file, CI) a plain line is written at most every
    :data:`PROGRESS_LOG_INTERVAL_SECONDS`, also only on runs lasting longer than that.
    """

    after = PROGRESS_AFTER_SECONDS
    log_after = log_interval = PROGRESS_LOG_INTERVAL_SECONDS

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True):
        super().__init__(stream, enabled)
        self.total = total

    def update(self, done: int, label: str = "") -> None:
        elapsed = time.monotonic() - self.started
        width = 30
        filled = int(width * done / max(self.total, 1))
        bar = f"compare [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {elapsed:5.0f} s {label}"
        self.show(bar[:120], f"compare: {done}/{self.total} input cases done, {elapsed:.0f} s")


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


def _explained(row: dict[str, Any]) -> bool:
    """A diverging row that --fail-on unexplained accepts: inherited from an earlier operator, or local and
    reproduced by a profile. Anything not checked (no isolation, unavailable) is not accepted."""
    isolation = row.get("isolation")
    if not isolation:
        return False
    if isolation["class"] == "inherited":
        return True
    return isolation["class"] == "local" and (isolation.get("explanation") or {}).get("status") == "explained"


def exit_status(case_reports: Sequence[dict[str, Any]], aggregate: Sequence[dict[str, Any]], fail_on: str) -> int:
    """0 when every compared tensor is equal; 1 on a divergence. With ``fail_on="unexplained"``, 0 also when
    every diverging tensor, in every case and in the aggregate, is inherited or explained (:func:`_explained`)."""
    diverging = [r for rows in [aggregate, *(c["tensors"] for c in case_reports)] for r in rows
                 if r["status"] in DIVERGENT_STATUSES]
    if not diverging:
        return EXIT_EQUAL
    if fail_on == "unexplained" and all(_explained(r) for r in diverging):
        return EXIT_EQUAL
    return EXIT_DIVERGED


@dataclass(frozen=True)
class CaseJob:
    """What comparing one input case needs, as plain values a worker process (or a Ray node) can receive."""

    model_path: str
    reference: str
    against: str
    profile: str
    isolate: bool
    explain_profiles: tuple[str, ...] | None


class CaseRunner:
    """Compares input cases one at a time with one pair of runtimes (and one Isolator)."""

    def __init__(self, job: CaseJob, model: Any, reference_runtime: Any, against_runtime: Any, isolator: Any):
        self.job = job
        self.model = model
        self.reference_runtime = reference_runtime
        self.against_runtime = against_runtime
        self.isolator = isolator

    @classmethod
    def for_job(cls, job: CaseJob) -> CaseRunner:
        model = load_model(job.model_path)
        profiles = list(job.explain_profiles) if job.explain_profiles is not None else None
        return cls(job, model, _runtime_for(job.reference, job.profile), _runtime_for(job.against, job.profile),
                   Isolator(job.model_path, model, job.profile, profiles) if job.isolate else None)

    def run(self, case: InputCase, phase: Callable[[str], None] = lambda name: None) -> dict[str, Any]:
        """The report of one case (``_case_report``); ``phase(name)`` is called as each phase starts."""
        job = self.job
        phase(job.reference)
        reference_result = self.reference_runtime.run(job.model_path, case.arrays)
        phase(job.against)
        against_result = self.against_runtime.run(job.model_path, case.arrays)
        phase("isolating" if job.isolate else "comparing")
        rows = compare_tensors(self.model, reference_result.tensors, against_result.tensors, self.isolator,
                               job.against, reference_result.subgraph_tensors, against_result.subgraph_tensors)
        return _case_report(case, rows, {"reference": reference_result.invoke_seconds,
                                         "against": against_result.invoke_seconds})


#: a worker's CaseRunner, made on its first case and kept for the next ones of the same job
_worker_runner: CaseRunner | None = None


def compare_case(job: CaseJob, case: InputCase) -> dict[str, Any]:
    """One case's report, in a worker (the task function given to run_tasks; module-level so it pickles)."""
    global _worker_runner
    if _worker_runner is None or _worker_runner.job != job:
        _worker_runner = CaseRunner.for_job(job)
    return _worker_runner.run(case)


def compare(model_path: str | os.PathLike, against: str, reference: str = "refinterp",
            cases: Sequence[InputCase] | None = None, *, isolate: bool = False, profile: str | None = None,
            explain: bool = False, fail_on: str = "any", input_source: dict[str, Any] | None = None,
            progress: Callable[[int, int, str], None] | None = None, jobs: int = 1, executor: str = "local",
            address: str | None = None) -> dict[str, Any]:
    """Compare runtime ``against`` with runtime ``reference`` on every input case; the report dict.

    ``cases`` default: the cases of a golden DIR when either runtime is ``golden:DIR``, otherwise one
    seeded random case (seed 0). ``profile`` is refinterp's (for the ``refinterp`` runtime and for
    isolation); by default "tflm" when the reference is tflm, else "litert-ref". ``explain`` (implies
    ``isolate``) re-runs each local operator under every other profile (:func:`explain_profiles`) and records
    which one reproduces the other runtime's output. ``fail_on`` ("any" or "unexplained", which implies
    ``explain``) sets the report's exit status: 1 on any divergence, or only on one that no profile explains
    (:func:`exit_status`). ``input_source`` says
    where given cases came from, for the report: {"source": "files"|"dir"|"golden"|"seed"|"given",
    "location": str|None, "seed": int|None}. ``progress(done, total, label)`` is called before each phase
    of each case (label "<case>: <phase>") and once at the end. ``jobs``, ``executor``, ``address``: run the
    cases in parallel (refinterp.tools.executor.run_tasks: ``jobs`` local processes, or Ray; progress then
    counts finished cases); the report is the same as the serial one's apart from the timings.
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
    if fail_on not in FAIL_ON_CHOICES:
        raise InputError(f"fail_on {fail_on!r} is not one of {', '.join(FAIL_ON_CHOICES)}")
    explain = explain or fail_on == "unexplained"
    isolate = isolate or explain
    tried_profiles = explain_profiles(profile, against) if explain else None
    isolator = Isolator(model_path, model, profile, tried_profiles) if isolate else None

    job = CaseJob(str(model_path), reference, against, profile, isolate,
                  tuple(tried_profiles) if tried_profiles is not None else None)
    if executor == "local" and (jobs == 1 or len(cases) < 2):  # in this process, with the runtimes made above
        runner = CaseRunner(job, model, reference_runtime, against_runtime, isolator)
        case_reports = []
        for number, case in enumerate(cases):
            def phase(name: str, number: int = number, case: InputCase = case) -> None:
                if progress is not None:
                    progress(number, len(cases), f"{case.name}: {name}")

            case_reports.append(runner.run(case, phase))
    else:  # each worker makes its own runtimes (CaseRunner.for_job); reports come back in case order
        case_reports = run_tasks(partial(compare_case, job), cases, jobs=jobs, executor=executor, address=address,
                                 progress=None if progress is None else lambda done, total: progress(done, total, ""))
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
    unexplained_ops = None
    if explain:
        unexplained_ops = sorted({r["op_index"] for r in rows if r["isolation"] and r["isolation"]["class"] == "local"
                                  and (r["isolation"]["explanation"] or {}).get("status") != "explained"})
    return {
        "format": REPORT_FORMAT,
        "model": str(model_path),
        "model_sha256": sha256_of_file(model_path),
        "reference": {"spec": reference, "version": versions["reference"]},
        "against": {"spec": against, "version": versions["against"]},
        "profile": profile,
        "isolate": bool(isolate),
        "explain": bool(explain),
        "explain_profiles": tried_profiles,
        "fail_on": fail_on,
        "inputs": {**input_source, "cases": len(case_reports)},
        "equal": equal,
        "exit_status": exit_status(case_reports, rows, fail_on),
        "first_divergence": first,
        "local_ops": local_ops,
        "unexplained_ops": unexplained_ops,
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
        text = text if maximum in (None, 1) else f"{text} max {_number(maximum)}"
        explanation = isolation.get("explanation")
        if explanation:  # --explain: the profile that reproduces the operator, or none
            text += f", {explanation['profile']}" if explanation["status"] == "explained" else ", unexplained"
        return text
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
    if report.get("explain"):
        lines += _explanation_lines(report)
    if report["equal"]:
        lines.append(f"EQUAL: all {summary['tensors'] - summary['missing_tensors']} compared tensors are "
                     f"identical ({report['against']['spec']} vs {report['reference']['spec']})")
    else:
        lines.append(_divergence_text(first, report))
        lines.append(f"DIVERGED: {summary['differing_tensors']} of {summary['tensors']} tensors differ "
                     f"({report['against']['spec']} vs {report['reference']['spec']})"
                     + (f" in {summary['diverging_cases']} of {len(cases)} cases" if len(cases) > 1 else ""))
        if report.get("fail_on") == "unexplained":
            lines.append("--fail-on unexplained: " + ("every divergence is explained or inherited (exit 0)"
                                                      if report["exit_status"] == EXIT_EQUAL else
                                                      "a divergence no profile explains (exit 1)"))
    return "\n".join(lines)


def explanation_text(explanation: dict[str, Any] | None) -> str:
    """"explained: <profile> (<rule>)" (the rule when the emulation module states one), or "unexplained"."""
    if not explanation or explanation["status"] != "explained":
        return "unexplained"
    rule = explanation["rule"]
    return f"explained: {explanation['profile']}" + (f" ({rule})" if rule else "")


def _explanation_lines(report: dict[str, Any], width: int = TERMINAL_WIDTH) -> list[str]:
    """The unexplained local operators first, one line each with the closest profile (the one that misses the
    fewest elements); then the explained ones, grouped by operator type and explanation; then the count."""
    rows = {}
    for row in report["aggregate"]["tensors"]:
        isolation = row["isolation"]
        if isolation and isolation["class"] == "local":
            rows.setdefault(row["op_index"], row)
    lines = [_wrapped_items("explain: each local op re-run under ", [*report["explain_profiles"]] or ["no profile"])]
    explained: dict[tuple[str, str], list[str]] = {}
    for op_index, row in rows.items():
        explanation = row["isolation"]["explanation"]
        if explanation and explanation["status"] == "explained":
            explained.setdefault((row["op_type"], explanation_text(explanation)), []).append(str(op_index))
            continue
        text = f"  op {op_index} {row['op_type']}: unexplained"
        closest = min((a for a in (explanation or {}).get("tried", []) if a["mismatches"] is not None),
                      key=lambda a: a["mismatches"], default=None)
        if closest is not None:
            text += f" (closest: {closest['profile']}, {closest['mismatches']} differ)"
        lines.append(text if len(text) <= width else text[:width - 3] + "...")
    for (op_type, text), ops in explained.items():
        head = f"{op_type} op{'s' if len(ops) > 1 else ''} {', '.join(ops)}: {text}"
        lines += textwrap.wrap(head, width, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False)
    unexplained = report["unexplained_ops"] or []
    lines.append(f"explained: {len(rows) - len(unexplained)} of {len(rows)} local ops"
                 + (f"; unexplained: {', '.join(str(i) for i in unexplained)}" if unexplained else ""))
    return lines


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
                      isolation.get("local_max_abs_diff"), (isolation.get("explanation") or {}).get("status"),
                      (isolation.get("explanation") or {}).get("profile")]
            writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in values])
    return buffer.getvalue()


#: the page's colours: a diverging status, an explained local operator, an unexplained one
HTML_DIFFERS, HTML_EXPLAINED, HTML_UNEXPLAINED = "background:#ffe0b2", "background:#e8f5e9", "background:#ffcdd2"
HTML_LEGEND = ("One row per operator output tensor (aggregated over the input cases). differ: elements that differ "
               "(against - reference); max: the largest difference, in LSB for integer tensors; -1 / +1: one-LSB "
               "differences. isolation: local (the operator computes differently; local = elements refinterp's "
               "rule on the other runtime's own inputs does not reproduce), inherited, exact or unavailable. "
               "explanation (--explain): the profile whose rule reproduces a local operator exactly, or "
               "unexplained (green / red). docs/compare.md has every field.")


def report_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page (:func:`refinterp.tools.qerror.html.render_report`): the
    header lines of the text report, one row per aggregate tensor row with its isolation class and, with
    --explain, its explanation (the rule in full), and the summary lines of the text report as notes."""
    text = format_report(report).splitlines()
    header = text[:text.index("")]
    notes = []  # the summary lines of the text report, unwrapped
    if report["isolate"]:
        notes.append(_wrapped_items("ops that round differently (local): ", [
            f"{i} {_op_type(report, i)}" for i in report["local_ops"]] or ["none"], width=sys.maxsize))
    if report.get("explain"):
        notes += [line.strip() for line in _explanation_lines(report, width=sys.maxsize)]
    notes += [line for line in text[len(text) - text[::-1].index(""):]  # after the last blank line
              if line.startswith(("first divergence", "DIVERGED", "EQUAL", "--fail-on")) or "missing from one" in line]
    columns = ["op", "type", "tensor", "name", "shape", "dtype", "status", "differ", "max", "-1", "+1"]
    columns += ["cases"] if len(report["cases"]) > 1 else []
    columns += ["isolation", "local", "explanation"] if report["isolate"] else []
    rows, styles = [], []
    for row in report["aggregate"]["tensors"]:
        histogram = row["histogram"] or {}
        cells = [str(row["op_index"]), row["op_type"], str(row["tensor_index"]), row["tensor_name"],
                 "x".join(str(d) for d in row["shape"]) or "scalar", row["dtype"], row["status"],
                 _number(row["mismatches"]), _number(row["max_abs_diff"]), _number(histogram.get("-1")),
                 _number(histogram.get("+1"))]
        cells += [str(row["diverging_cases"])] if len(report["cases"]) > 1 else []
        style = {columns.index("status"): HTML_DIFFERS} if row["status"] in DIVERGENT_STATUSES else {}
        if report["isolate"]:
            isolation = row["isolation"] or {}
            explanation = isolation.get("explanation")
            local = _number(isolation.get("local_mismatches")) if isolation.get("class") == "local" else ""
            cells += [isolation.get("class") or "", local, explanation_text(explanation) if explanation else ""]
            if explanation:
                style[len(cells) - 1] = HTML_EXPLAINED if explanation["status"] == "explained" else HTML_UNEXPLAINED
        rows.append(["" if cell == "-" else cell for cell in cells])
        styles.append(style)
    return render_report(title=f"refinterp compare: {Path(report['model']).name}", header_lines=header,
                         columns=columns, rows=rows, cell_styles=styles, notes=notes, legend=HTML_LEGEND,
                         text_columns=[columns.index(c) for c in ("type", "name", "shape", "dtype", "status",
                                                                  "isolation", "explanation") if c in columns])


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
    parser.add_argument("--explain", action="store_true",
                        help="with --isolate (implied): re-run each local operator under every other profile, "
                             "emulation profiles included, and say which one reproduces the other runtime's output")
    parser.add_argument("--fail-on", choices=FAIL_ON_CHOICES, default="any",
                        help="exit 1 on any divergence (the default), or only on one no profile explains "
                             "(unexplained; implies --explain)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout, no table)")
    parser.add_argument("--csv", metavar="PATH", help="write one CSV row per (input case, operator output tensor)")
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML page: the aggregate table with "
                                                       "the isolation class and explanation of every row")
    parser.add_argument("--profile", choices=["litert-ref", "tflm"], default=None,
                        help="refinterp's profile, for the refinterp runtime and --isolate "
                             "(default: tflm when the reference is tflm, else litert-ref)")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress line")
    add_executor_arguments(parser)  # -j/--jobs, --executor, --address: input cases in parallel
    return parser


def compare_main(argv: Sequence[str]) -> int:
    """``refinterp compare``; returns the exit status (errors raise RefinterpError: the CLI prints one line)."""
    args = _build_parser().parse_args(list(argv))
    check_executor_arguments(args)
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
                         profile=args.profile, explain=args.explain, fail_on=args.fail_on,
                         input_source=input_source, progress=progress,
                         jobs=args.jobs, executor=args.executor, address=args.address)
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
    if args.html:
        _write_text(args.html, report_html(report), "HTML")
    return report["exit_status"]
