"""The report as a PNG: SQNR (dB) and RMSE in LSB per layer, accumulated and own. Needs matplotlib (extra ``plot``).

matplotlib is an optional dependency, so it is imported where the figure is drawn, and its absence is a
:class:`RuntimeUnavailableError` that says how to get it. The figure is built on ``matplotlib.figure.Figure``
directly (no pyplot): nothing global (backend, open figures) changes in the caller's process.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import RuntimeUnavailableError
from refinterp.tools.qerror.analysis import LayerRow, QErrorReport

#: What to say when matplotlib is absent.
MATPLOTLIB_MISSING = "matplotlib is not installed (pip install 'refinterp[plot]')"
#: The RMSE of ideal rounding of an exact value, in LSB: the floor of every int8 tensor's error.
IDEAL_ROUNDING_LSB = 1 / math.sqrt(12)
#: Short operator names for the x axis (the table has the full names).
SHORT_OP_NAMES = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dwconv", "TRANSPOSE_CONV": "tconv", "FULLY_CONNECTED": "fc",
    "AVERAGE_POOL_2D": "avgpool", "MAX_POOL_2D": "maxpool", "CONCATENATION": "concat",
    "RESIZE_NEAREST_NEIGHBOR": "resize_nn", "RESIZE_BILINEAR": "resize_bl", "BATCH_MATMUL": "matmul",
}
#: SQNR bands shaded behind the SQNR curves (the HTML table colours its cells the same way).
SQNR_BANDS = ((-math.inf, 10.0, "#ffcdd2"), (10.0, 20.0, "#ffe0b2"), (20.0, 30.0, "#fff9c4"),
              (30.0, math.inf, "#e8f5e9"))
ACCUMULATED_STYLE = {"color": "#1f77b4", "marker": "o", "linestyle": "-", "markersize": 4, "linewidth": 1.5}
OWN_STYLE = {"color": "#d62728", "marker": "s", "linestyle": "--", "markersize": 4, "linewidth": 1.2}
MAX_LABELLED_LAYERS = 60


def _import_matplotlib() -> Any:
    try:
        import matplotlib.figure
        import matplotlib.ticker
    except ImportError:
        raise RuntimeUnavailableError(MATPLOTLIB_MISSING) from None
    return matplotlib


def _series(rows: list[LayerRow], isolated: bool, name: str) -> np.ndarray:
    values = []
    for row in rows:
        metrics = (row.isolated_metrics() or {}) if isolated else row.metrics()
        value = metrics.get(name)
        values.append(np.nan if value is None or not math.isfinite(value) else value)
    return np.array(values, dtype=np.float64)


def layer_label(row: LayerRow) -> str:
    """``"<op index> <short type>"``, e.g. ``"12 dwconv"``."""
    return f"{row.op_index} {SHORT_OP_NAMES.get(row.op_name, row.op_name.lower())}"


def plot_figure(report: QErrorReport) -> Any:
    """The figure (a ``matplotlib.figure.Figure``): SQNR on top, RMSE in LSB (log scale) below, per layer."""
    mpl = _import_matplotlib()
    ticker = mpl.ticker
    rows = [r for r in report.rows if r.op_index >= 0 and r.float_index is not None]
    count = len(rows)
    width = min(max(5.0 + 0.18 * count, 9.0), 13.0)
    figure = mpl.figure.Figure(figsize=(width, 7.0), layout="constrained")
    ax_sqnr, ax_lsb = figure.subplots(2, 1, sharex=True)
    figure.suptitle(f"{Path(report.int8_model).name} against its {report.reference_kind}: error per layer",
                    fontsize=12)
    if not rows:
        ax_sqnr.text(0.5, 0.5, "no compared layers", ha="center", va="center", transform=ax_sqnr.transAxes)
        return figure

    x = np.arange(count)
    sqnr = _series(rows, False, "sqnr_db")
    lsb = _series(rows, False, "rmse_lsb")
    own_sqnr = _series(rows, True, "sqnr_db") if report.isolate else None
    own_lsb = _series(rows, True, "rmse_lsb") if report.isolate else None
    for values in (lsb, own_lsb):
        if values is not None:
            values[values <= 0] = np.nan  # no error: a log axis has no place for it (the SQNR panel marks it)

    # SQNR: accumulated (and own), in dB, with "no error" (+inf) drawn as triangles along the top.
    ax_sqnr.plot(x, sqnr, label="accumulated (int8 chain)", **ACCUMULATED_STYLE)
    if own_sqnr is not None:
        ax_sqnr.plot(x, own_sqnr, label="own (layer alone, --isolate)", **OWN_STYLE)
    finite = np.concatenate([v[np.isfinite(v)] for v in (sqnr, own_sqnr) if v is not None])
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 40.0
    exact = [i for i, r in enumerate(rows) if r.metrics()["sqnr_db"] == math.inf]
    if exact:
        high += 3.0
        ax_sqnr.plot(exact, [high] * len(exact), "^", color="#2ca02c", markersize=6, linestyle="none",
                     label="no error (SQNR +inf)")
    bottom, top = math.floor(low / 5.0) * 5.0 - 2.0, math.ceil(high / 5.0) * 5.0 + 2.0
    for band_low, band_high, colour in SQNR_BANDS:
        ax_sqnr.axhspan(max(band_low, bottom), min(band_high, top), color=colour, alpha=0.5, linewidth=0,
                        zorder=0)
    ax_sqnr.set_ylim(bottom, top)
    ax_sqnr.yaxis.set_major_locator(ticker.MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    ax_sqnr.set_ylabel("SQNR (dB), higher is better")

    # RMSE in LSB on a log axis: labelled major ticks at 1-2-5 steps (only decades over a wide range), unlabelled
    # minor ticks; matplotlib's default log formatter labels minor ticks too when the range is under a decade,
    # which overlapped.
    ax_lsb.plot(x, lsb, label="_accumulated", **ACCUMULATED_STYLE)
    if own_lsb is not None:
        ax_lsb.plot(x, own_lsb, label="_own", **OWN_STYLE)
    ax_lsb.axhline(IDEAL_ROUNDING_LSB, color="#555555", linestyle=":", linewidth=1.2,
                   label="rounding alone (1/\u221a12 = 0.29 LSB)")
    ax_lsb.set_yscale("log")
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (lsb, own_lsb) if v is not None])
    lsb_low = min(float(positive.min()) if positive.size else IDEAL_ROUNDING_LSB, IDEAL_ROUNDING_LSB) / 1.5
    lsb_high = max(float(positive.max()) if positive.size else 1.0, 1.0) * 1.5
    ax_lsb.set_ylim(lsb_low, lsb_high)
    subs = (1.0, 2.0, 5.0) if math.log10(lsb_high / lsb_low) <= 3.0 else (1.0,)
    ax_lsb.yaxis.set_major_locator(ticker.LogLocator(base=10.0, subs=subs))
    ax_lsb.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax_lsb.yaxis.set_minor_locator(ticker.LogLocator(base=10.0, subs=np.arange(1.0, 10.0)))
    ax_lsb.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax_lsb.set_ylabel("RMSE (LSB), log scale\nlower is better")

    step = max(1, math.ceil(count / MAX_LABELLED_LAYERS))
    ax_lsb.set_xticks(x[::step])
    ax_lsb.set_xticklabels([layer_label(r) for r in rows[::step]], rotation=90, fontsize=8)
    ax_lsb.set_xlabel("operator (index and type)")
    ax_lsb.set_xlim(-0.7, count - 0.3)
    for ax in (ax_sqnr, ax_lsb):
        ax.grid(True, which="major", alpha=0.35)
        ax.tick_params(axis="y", labelsize=9)
    handles, labels = [], []
    for ax in (ax_sqnr, ax_lsb):
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    figure.legend(handles, labels, loc="outside lower center", ncol=len(handles), fontsize=9, frameon=False)
    return figure


def plot_png(report: QErrorReport, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, without metadata that changes between runs or versions."""
    figure = plot_figure(report)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
