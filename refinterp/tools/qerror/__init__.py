"""``refinterp qerror``: which layers of an int8 model lose accuracy against float, and why.

For every operator output of the int8 model this package measures how far the dequantized int8 value is
from a float reference value of the same tensor, and (with ``isolate=True``) how much of that error the
layer makes itself rather than inherits from the layers before it. docs/qerror.md is the user's guide.

The float reference is one of two things:

* **a float twin** (``--float FLOAT_MODEL``): the float model the int8 one was quantized from. Each int8
  tensor is matched to its float counterpart (:func:`match_tensors`), both models run on the same input
  (refinterp's float32 kernels; LiteRT BUILTIN_REF for the float side only if refinterp lacks a float op and
  ai-edge-litert is installed), and the values are compared.
* **a float shadow** (no twin): the int8 graph itself evaluated in float32 with dequantized weights and
  biases and no rounding between layers. :func:`build_float_shadow` writes that graph as a .tflite with
  :mod:`refinterp.modelbuilder` (same tensor indices, every quantized constant replaced by its dequantized
  float32 value, every quantized activation made float32, QUANTIZE/DEQUANTIZE made identities) and it runs
  through the same float32 kernels as a twin would. A model file rather than a hand-written NumPy
  evaluator keeps one implementation of the float semantics (the kernels the tests hold against LiteRT)
  and lets the LiteRT fallback run the shadow too.

Modules, each importing only those listed before it:

* :mod:`.values`     TFLite's DEQUANTIZE and QUANTIZE rules on tensors (real_value, quantize_like)
* :mod:`.metrics`    ErrorAccumulator (pooled metrics), layer_metrics, range bounds for sat% and clip%
* :mod:`.matching`   int8 <-> float tensor matching (match_tensors) and the float shadow (build_float_shadow)
* :mod:`.reference`  running the float side (refinterp float32 kernels, or LiteRT BUILTIN_REF)
* :mod:`.isolation`  each layer's own error against the inherited one (isolate_case, own_share)
* :mod:`.analysis`   analyze() -> QErrorReport of LayerRows
* :mod:`.text`       header, per-layer table and summary as text
* :mod:`.csvjson`    CSV (QuantizationDebugger's columns first) and JSON writers
* :mod:`.plot`       the PNG plot (optional matplotlib)
* :mod:`.html`       the self-contained HTML report
* :mod:`.inputs`     input cases from --input files and --inputs directories
* :mod:`.command`    the command line, qerror_main

Metric definitions (``e = dequantized int8 - float reference``, pooled over every element of every input
case) are in :class:`ErrorAccumulator` and docs/qerror.md.
"""

from refinterp.tools.qerror.analysis import LayerRow, QErrorReport, analyze, model_inputs
from refinterp.tools.qerror.command import build_parser, qerror_main
from refinterp.tools.qerror.csvjson import DEBUGGER_COLUMNS, csv_columns, to_json, write_csv
from refinterp.tools.qerror.html import render_report, report_html
from refinterp.tools.qerror.inputs import cases_from_directory, cases_from_files
from refinterp.tools.qerror.isolation import isolate_case, own_share
from refinterp.tools.qerror.matching import TensorMatch, build_float_shadow, match_tensors, shadow_matches
from refinterp.tools.qerror.metrics import (
    ISOLATED_METRICS,
    METRICS,
    ErrorAccumulator,
    RangeBounds,
    layer_metrics,
    range_bounds,
)
from refinterp.tools.qerror.plot import MATPLOTLIB_MISSING, plot_figure, plot_png
from refinterp.tools.qerror.reference import FloatReference, litert_available
from refinterp.tools.qerror.text import header_lines, summary_lines, table_rows, table_text
from refinterp.tools.qerror.values import is_quantized, quantize_like, real_value

__all__ = [
    "DEBUGGER_COLUMNS", "ISOLATED_METRICS", "MATPLOTLIB_MISSING", "METRICS", "ErrorAccumulator", "FloatReference",
    "LayerRow", "QErrorReport", "RangeBounds", "TensorMatch", "analyze", "build_float_shadow", "build_parser",
    "cases_from_directory", "cases_from_files", "csv_columns", "header_lines", "is_quantized", "isolate_case",
    "layer_metrics", "litert_available", "match_tensors", "model_inputs", "own_share", "plot_figure", "plot_png",
    "qerror_main", "quantize_like", "range_bounds", "real_value", "render_report", "report_html", "shadow_matches",
    "summary_lines", "table_rows", "table_text", "to_json", "write_csv",
]
