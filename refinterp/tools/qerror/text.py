"""The report as text: the header, the per-layer table (terminal, HTML and docs share its cells), the summary."""

from __future__ import annotations

import math
from typing import Any

from refinterp.tools.qerror.analysis import LayerRow, QErrorReport


def header_lines(report: QErrorReport) -> list[str]:
    """Models, reference (and who ran it), inputs, and how many operator outputs matched and how."""
    cases = report.cases
    lines = [f"int8 model:  {report.int8_model}",
             f"reference:   {report.reference} (run by {report.reference_runtime})",
             f"inputs:      {report.inputs_description} ({cases} case{'s' if cases != 1 else ''})"]
    ops = [r for r in report.rows if r.op_index >= 0]
    methods: dict[str, int] = {}
    for row in ops:
        methods[row.match] = methods.get(row.match, 0) + 1
    summary = ", ".join(f"{n} by {m}" for m, n in sorted(methods.items()))
    lines.append(f"matching:    {len(ops) - len(report.unmatched_ops())} of {len(ops)} int8 operator "
                 f"outputs matched ({summary})")
    return lines


def table_rows(report: QErrorReport) -> tuple[list[str], list[list[str]]]:
    """(column titles, one list of formatted cells per row)."""
    columns = ["op", "type", "tensor", "scale", "zp", "RMSE", "LSB", "max|e|", "mean e", "SQNR dB", "cos",
               "sat%", "clip%"]
    if report.isolate:
        columns += ["own SQNR", "own LSB", "own%"]
    columns += ["match"]
    rows = []
    for row in report.rows:
        m = row.metrics()
        cells = [
            str(row.op_index) if row.op_index >= 0 else "in",
            row.op_name,
            shorten(row.tensor_name, 30),
            fmt(row.scale, "{:.4g}"),
            "" if row.zero_point is None else str(row.zero_point),
            fmt(m["rmse"], "{:.3g}"),
            fmt(m["rmse_lsb"], "{:.2f}"),
            fmt(m["max_abs_error"], "{:.3g}"),
            fmt(m["mean_error"], "{:+.2g}"),
            fmt_db(m["sqnr_db"]),
            fmt(m["cosine"], "{:.4f}"),
            fmt_percent(m["saturated_frac"]),
            fmt_percent(m["clipped_frac"]),
        ]
        if report.isolate:
            iso = row.isolated_metrics() or {}
            share = row.own_share()
            cells += [fmt_db(iso.get("sqnr_db")), fmt(iso.get("rmse_lsb"), "{:.2f}"),
                      "" if share is None else f"{100 * share:.0f}"]
        cells.append(row.match)
        rows.append(cells)
    return columns, rows


def table_text(report: QErrorReport) -> str:
    """The per-layer table, aligned for a terminal."""
    columns, rows = table_rows(report)
    return text_table(columns, rows, left_aligned={1, 2, len(columns) - 1})


def sqnr_of(row: LayerRow, isolated: bool = False) -> float:
    """A row's accumulated (or own) SQNR in dB; +inf when there is none, so it sorts last."""
    metrics = row.isolated_metrics() if isolated else row.metrics()
    value = metrics.get("sqnr_db") if metrics else None
    return math.inf if value is None else value


def summary_lines(report: QErrorReport, worst: int = 5) -> list[str]:
    """The model outputs' SQNR, the lowest accumulated (and own) SQNRs, isolated-below-accumulated rows."""
    ops = report.compared_ops()
    if not ops:
        return []
    lines = []
    for row in (r for r in ops if r.tensor_index in report.output_tensors):
        m = row.metrics()
        lines.append(f"model output {row.tensor_name!r}: SQNR {fmt_db(m['sqnr_db'])} dB, "
                     f"RMSE {fmt(m['rmse_lsb'], '{:.2f}')} LSB")
    ranked = sorted(ops, key=sqnr_of)[:worst]
    lines.append("lowest accumulated SQNR: " + ", ".join(
        f"op {r.op_index} {r.op_name} {fmt_db(sqnr_of(r))} dB" for r in ranked))
    if report.isolate:
        ranked = sorted(ops, key=lambda r: sqnr_of(r, True))[:worst]
        lines.append("lowest own (isolated) SQNR: " + ", ".join(
            f"op {r.op_index} {r.op_name} {fmt_db(sqnr_of(r, True))} dB" for r in ranked))
        worse = [r for r in ops if sqnr_of(r, True) < sqnr_of(r) - 0.05]
        if worse:
            lines.append("isolated SQNR below accumulated (inherited error partly cancels the layer's own): "
                         + ", ".join(f"op {r.op_index} ({fmt_db(sqnr_of(r, True))} < {fmt_db(sqnr_of(r))})"
                                     for r in worse))
    return lines


def fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return spec.format(value)


def fmt_db(value: Any) -> str:
    if value is None:
        return ""
    if value == math.inf:
        return "inf"
    if value == -math.inf:
        return "-inf"
    return f"{value:.1f}"


def fmt_percent(value: Any) -> str:
    """A fraction as a percentage that never shows a nonzero fraction as 0."""
    if value is None:
        return ""
    percent = 100 * value
    if percent == 0:
        return "0"
    if percent < 0.01:
        return "<0.01"
    return f"{percent:.2f}" if percent < 10 else f"{percent:.1f}"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def text_table(columns: list[str], rows: list[list[str]], left_aligned: set[int]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i in left_aligned else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows])
