"""The report as CSV (QuantizationDebugger's columns first) and as strict JSON."""

from __future__ import annotations

import csv
import json
import math
from typing import Any, TextIO

import numpy as np

from refinterp.tools.qerror.analysis import QErrorReport
from refinterp.tools.qerror.metrics import ISOLATED_METRICS

#: The columns of TensorFlow's ``QuantizationDebugger.layer_statistics_dump`` that qerror computes the same way.
DEBUGGER_COLUMNS = ("op_name", "tensor_idx", "num_elements", "stddev", "mean_error", "max_abs_error",
                    "mean_squared_error")


def csv_columns(report: QErrorReport) -> list[str]:
    """The debugger's columns, then the extra metrics, then its scale, zero_point, tensor_name, then matching."""
    columns = list(DEBUGGER_COLUMNS) + ["rmse", "rmse_lsb", "max_abs_error_lsb", "sqnr_db", "cosine",
                                        "saturated_frac", "clipped_frac"]
    if report.isolate:
        columns += [f"isolated_{m}" for m in ISOLATED_METRICS] + ["own_share"]
    columns += ["scale", "zero_point", "tensor_name", "op_index", "float_tensor_idx", "float_tensor_name", "match"]
    return columns


def write_csv(report: QErrorReport, file: TextIO) -> None:
    """One row per compared tensor; empty cells for no value, ``inf``/``-inf`` for non-finite SQNR."""
    writer = csv.DictWriter(file, csv_columns(report), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for entry in report.layer_dicts():
        flat = dict(entry)
        isolated = flat.pop("isolated", None) or {}
        for name in ISOLATED_METRICS:
            flat[f"isolated_{name}"] = isolated.get(name)
        writer.writerow({k: _csv_value(v) for k, v in flat.items()})


def to_json(report: QErrorReport) -> str:
    """The whole report as a strict JSON document (non-finite numbers as the strings "inf"/"-inf")."""
    document = {
        "tool": "refinterp qerror",
        "int8_model": report.int8_model,
        "reference": {"kind": report.reference_kind, "description": report.reference,
                      "runtime": report.reference_runtime},
        "cases": report.cases,
        "inputs": report.inputs_description,
        "isolate": report.isolate,
        "error_sign": "dequantized int8 minus float reference",
        "non_finite_values": "sqnr_db +inf (no error) and -inf (zero reference) are written as the "
                             "strings \"inf\" and \"-inf\"",
        "layers": report.layer_dicts(),
        "notes": report.notes,
    }
    return json.dumps(_json_safe(document), indent=1)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return " ".join("" if v is None else str(v) for v in value)
    return value
