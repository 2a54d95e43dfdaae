"""The analysis: run the int8 model and its float reference on every case and measure each layer's error.

:func:`analyze` returns a :class:`QErrorReport`: one :class:`LayerRow` per compared tensor (the model
inputs and every operator output), each holding the pooled accumulated error and, with ``isolate``, the
layer's own error. The report writers (:mod:`.text`, :mod:`.csvjson`, :mod:`.plot`, :mod:`.html`) only
read it.
"""

from __future__ import annotations

import atexit
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import InputError
from refinterp.interpreter import Interpreter
from refinterp.model import Operator, Subgraph
from refinterp.tools.executor import run_tasks
from refinterp.tools.qerror.isolation import isolate_case, own_share
from refinterp.tools.qerror.matching import TensorMatch, build_float_shadow, match_tensors, shadow_matches
from refinterp.tools.qerror.metrics import METRICS, ErrorAccumulator, RangeBounds, inherited_bounds, range_bounds
from refinterp.tools.qerror.reference import FloatReference
from refinterp.tools.qerror.values import is_quantized, quantize_like, real_value

#: Unquantized tensor types that hold real values (compared as they are).
FLOAT_TYPES = ("float32", "float16")


@dataclass
class LayerRow:
    """One compared tensor: an int8 operator output (or a model input, op_index -1)."""

    op_index: int
    op_name: str
    tensor_index: int
    tensor_name: str
    dtype: str
    scale: float | None
    zero_point: int | None
    float_index: int | None = None
    float_name: str | None = None
    match: str = "unmatched"
    activation_bounds: RangeBounds | None = None
    accumulated: ErrorAccumulator = field(default_factory=ErrorAccumulator)
    isolated: ErrorAccumulator | None = None
    isolation_note: str = ""

    def metrics(self) -> dict[str, Any]:
        if self.float_index is None:
            return {name: None for name in METRICS}
        return self.accumulated.metrics(self.scale, with_range_fractions=self.activation_bounds is not None)

    def isolated_metrics(self) -> dict[str, Any] | None:
        if self.isolated is None or self.float_index is None:
            return None
        metrics = self.isolated.metrics(self.scale, with_range_fractions=False)
        return {name: value for name, value in metrics.items() if name not in ("saturated_frac", "clipped_frac")}

    def own_share(self) -> float | None:
        """Isolated MSE / accumulated MSE: near 1 the layer made its error, near 0 it inherited it."""
        if self.float_index is None:
            return None
        return own_share(self.isolated, self.accumulated)


@dataclass
class QErrorReport:
    int8_model: str
    reference: str  # "float twin PATH" or "float shadow of PATH"
    reference_kind: str
    reference_runtime: str
    cases: int
    inputs_description: str
    isolate: bool
    rows: list[LayerRow]
    notes: list[str]
    output_tensors: tuple[int, ...] = ()

    def unmatched_ops(self) -> list[LayerRow]:
        """Operator outputs with no float counterpart (their rows are empty; exit status 1)."""
        return [r for r in self.rows if r.op_index >= 0 and r.float_index is None]

    def compared_ops(self) -> list[LayerRow]:
        """Operator outputs that have a float counterpart and values."""
        return [r for r in self.rows if r.op_index >= 0 and r.float_index is not None and r.accumulated.count]

    def layer_dicts(self) -> list[dict[str, Any]]:
        """Every row as a flat dict: identity, metrics and, with isolation, ``isolated`` and ``own_share``."""
        layers = []
        for row in self.rows:
            bounds = row.activation_bounds
            entry: dict[str, Any] = {
                "op_index": row.op_index, "op_name": row.op_name, "tensor_idx": row.tensor_index,
                "tensor_name": row.tensor_name, "dtype": row.dtype, "scale": row.scale, "zero_point": row.zero_point,
                "float_tensor_idx": row.float_index, "float_tensor_name": row.float_name, "match": row.match,
                "activation_bounds": None if bounds is None else [bounds.activation_low, bounds.activation_high],
            }
            entry.update(row.metrics())
            if self.isolate:
                entry["isolated"] = row.isolated_metrics()
                entry["own_share"] = row.own_share()
                if row.isolation_note:
                    entry["isolation_note"] = row.isolation_note
            layers.append(entry)
        return layers


def model_inputs(int8_subgraph: Subgraph, reference_subgraph: Subgraph, case: Sequence[np.ndarray],
                 case_name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(int8 model inputs, float reference inputs) from one case of user values.

    An integer value goes to the int8 model as it is and, dequantized, to the float side. A float value
    goes to the float side as it is and, quantized by TFLite's QUANTIZE rule, to the int8 model (as it is
    when the int8 model's input is float32 itself).
    """
    if len(case) != len(int8_subgraph.inputs):
        raise InputError(f"{case_name}: the int8 model has {len(int8_subgraph.inputs)} inputs, "
                         f"{len(case)} values given")
    int8_inputs, float_inputs = [], []
    for position, (index8, value) in enumerate(zip(int8_subgraph.inputs, case)):
        tensor8 = int8_subgraph.tensors[index8]
        value = np.asarray(value)
        if tuple(value.shape) != tuple(tensor8.shape):
            raise InputError(f"{case_name}: input {position} '{tensor8.name}' expects shape {list(tensor8.shape)}, "
                             f"got {list(value.shape)}")
        if np.issubdtype(value.dtype, np.floating):
            real = value.astype(np.float64)
            int8_inputs.append(quantize_like(tensor8, real) if is_quantized(tensor8) else value.astype(tensor8.dtype))
        else:
            if value.dtype != tensor8.dtype:
                raise InputError(f"{case_name}: input {position} '{tensor8.name}' is {tensor8.type_name}, "
                                 f"got {value.dtype} (give {tensor8.type_name} or float values)")
            int8_inputs.append(value)
            real = real_value(tensor8, value)
        if position < len(reference_subgraph.inputs):
            tensor_f = reference_subgraph.tensors[reference_subgraph.inputs[position]]
            if is_quantized(tensor_f):
                float_inputs.append(quantize_like(tensor_f, real))
            else:
                if tuple(tensor_f.shape) != tuple(tensor8.shape):
                    raise InputError(f"input {position}: the int8 model takes {list(tensor8.shape)}, the float "
                                     f"model {list(tensor_f.shape)}")
                float_inputs.append(real.astype(tensor_f.dtype))
    return int8_inputs, float_inputs


def _reference_of(row: LayerRow, reference_subgraph: Subgraph, ref_values: dict[int, np.ndarray],
                  shape: tuple[int, ...]) -> np.ndarray | None:
    """The real value of the row's float counterpart, in the int8 tensor's shape (None if absent or another size)."""
    assert row.float_index is not None
    value = ref_values.get(row.float_index)
    if value is None:
        return None
    real = real_value(reference_subgraph.tensors[row.float_index], value)
    if real.size != math.prod(shape):
        return None
    return real.reshape(shape)


def _float_twin(float_model_path: str, subgraph8: Subgraph) -> tuple[FloatReference, dict[int, TensorMatch],
                                                                         list[str]]:
    try:
        float_bytes = Path(float_model_path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{float_model_path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{float_model_path}: cannot read ({exc.strerror or exc})") from None
    reference = FloatReference(float_bytes, f"float twin {float_model_path}", "float twin")
    matches, notes = match_tensors(subgraph8, reference.subgraph)
    quantized_constants = [t for t in reference.subgraph.tensors if t.is_constant and is_quantized(t)]
    if quantized_constants:
        first = quantized_constants[0]
        notes.append(f"the float twin holds {len(quantized_constants)} quantized constant(s) (e.g. tensor "
                     f"{first.index} '{first.name}', {first.type_name}): it is a dynamic-range (hybrid) model "
                     f"whose weights are quantized too, so the comparison under-counts the int8 model's weight "
                     f"error")
    return reference, matches, notes


def _rows(subgraph8: Subgraph, reference: FloatReference, matches: dict[int, TensorMatch],
          isolate: bool) -> tuple[list[LayerRow], list[str]]:
    """One row per compared tensor of the int8 graph, in execution order (model inputs first)."""
    rows: list[LayerRow] = []
    notes: list[str] = []
    bounds_of: dict[int, RangeBounds | None] = {}
    producers: list[tuple[Operator | None, int]] = [(None, i) for i in subgraph8.inputs]
    producers += [(op, o) for op in subgraph8.operators for o in op.outputs]
    skipped_types = set()
    for op, index in producers:
        tensor = subgraph8.tensors[index]
        if not (is_quantized(tensor) or tensor.type_name in FLOAT_TYPES):
            skipped_types.add(f"{tensor.type_name} (tensor {index})")
            continue
        if op is None and not is_quantized(tensor):
            continue  # a float model input: the QUANTIZE after it carries the input's quantization error
        q = tensor.quantization if is_quantized(tensor) else None
        row = LayerRow(
            op_index=op.index if op is not None else -1, op_name=op.name if op is not None else "INPUT",
            tensor_index=index, tensor_name=tensor.name, dtype=tensor.type_name,
            scale=float(q.scale[0]) if q is not None else None,
            zero_point=int(q.zero_point[0]) if q is not None else None,
            activation_bounds=range_bounds(op, tensor, inherited_bounds(op, tensor, subgraph8, bounds_of)),
            isolated=ErrorAccumulator() if isolate and op is not None else None,
        )
        match = matches.get(index)
        if match is not None:
            row.float_index, row.match = match.float_index, match.method
            row.float_name = reference.subgraph.tensors[match.float_index].name
        rows.append(row)
        bounds_of[index] = row.activation_bounds
    if skipped_types:
        notes.append("not compared (no real-valued meaning): " + ", ".join(sorted(skipped_types)))
    return rows, notes


@dataclass(frozen=True)
class AnalysisJob:
    """What analysing one case needs, as plain values a worker process (or a Ray node) can receive."""

    int8_model_path: str
    float_model_path: str | None
    isolate: bool
    profile: str


@dataclass
class CaseErrors:
    """One case's errors, by int8 tensor index: merged into the rows in case order (:meth:`Analysis.merge`)."""

    accumulated: dict[int, ErrorAccumulator]
    isolated: dict[int, ErrorAccumulator]
    fallbacks: dict[int, list[int]]  # isolation: output tensor -> compared inputs with no float reference


class Analysis:
    """The int8 interpreter, its float reference and the rows: set up once, then run case after case.

    Every case starts from empty accumulators (:meth:`case_errors`) that :meth:`merge` adds to the rows in
    case order. ``0.0 + x == x``, so merging a case's sums gives the very floats adding its values straight
    into the rows did, and a parallel run (each worker with its own Analysis) reports the same bytes as a
    serial one.
    """

    def __init__(self, job: AnalysisJob):
        self.job = job
        interpreter = Interpreter(model_path=job.int8_model_path, profile=job.profile)
        interpreter.allocate_tensors()
        self.interpreter = interpreter
        self.subgraph8 = subgraph8 = interpreter.subgraph
        self.notes: list[str] = []
        if job.float_model_path is not None:
            reference, matches, match_notes = _float_twin(job.float_model_path, subgraph8)
            self.notes += match_notes
        else:
            reference = FloatReference(build_float_shadow(interpreter.model), f"float shadow of "
                                       f"{job.int8_model_path} (dequantized weights, float32 activations)",
                                       "float shadow")
            matches = shadow_matches(subgraph8)
        self.reference = reference
        if reference.note:
            self.notes.append(reference.note)
        self.rows, row_notes = _rows(subgraph8, reference, matches, job.isolate)
        self.notes += row_notes
        self.row_of_tensor = {row.tensor_index: row for row in self.rows}

    def case_errors(self, case_number: int, case: Sequence[np.ndarray],
                    say: Callable[[str], None] = lambda message: None) -> CaseErrors:
        """Run one case through the int8 model and the float reference; its errors per compared tensor."""
        subgraph8, reference, interpreter = self.subgraph8, self.reference, self.interpreter
        name = f"case {case_number}"
        int8_inputs, float_inputs = model_inputs(subgraph8, reference.subgraph, case, name)
        say(f"{name}: running the int8 model")
        for index, value in zip(subgraph8.inputs, int8_inputs):
            interpreter.set_tensor(index, value)
        interpreter.invoke()
        values8 = interpreter.tensor_values()
        say(f"{name}: running the {reference.kind}")
        ref_values = reference.run(float_inputs)
        references: dict[int, np.ndarray | None] = {}
        accumulated: dict[int, ErrorAccumulator] = {}
        for row in self.rows:
            if row.float_index is None:
                continue
            value = values8[row.tensor_index]
            ref = _reference_of(row, reference.subgraph, ref_values, value.shape)
            references[row.tensor_index] = ref
            if ref is None:
                continue
            saturated = clipped = 0
            if row.activation_bounds is not None:
                saturated, clipped = row.activation_bounds.counts(value)
            accumulated[row.tensor_index] = accumulator = ErrorAccumulator()
            accumulator.add(real_value(subgraph8.tensors[row.tensor_index], value), ref, saturated, clipped)
        isolated: dict[int, ErrorAccumulator] = {}
        fallbacks: dict[int, list[int]] = {}
        if self.job.isolate:
            say(f"{name}: running each int8 operator on quantized float-reference inputs")
            isolated = {row.tensor_index: ErrorAccumulator() for row in self.rows if row.isolated is not None}
            fallbacks = isolate_case(interpreter, subgraph8, values8, references, self.row_of_tensor, isolated)
        return CaseErrors(accumulated, isolated, fallbacks)

    def merge(self, errors: CaseErrors) -> None:
        """Add one case's errors to the rows (call in case order: a later case's isolation note wins)."""
        for index, accumulator in errors.accumulated.items():
            self.row_of_tensor[index].accumulated.merge(accumulator)
        for index, accumulator in errors.isolated.items():
            isolated = self.row_of_tensor[index].isolated
            assert isolated is not None
            isolated.merge(accumulator)
        for index, inputs in errors.fallbacks.items():
            self.row_of_tensor[index].isolation_note = (f"input tensor(s) {inputs} have no float reference: "
                                                        f"the int8 chain's own values were used")

    def close(self) -> None:
        self.reference.close()


#: a worker's Analysis, made on its first case and kept for the next ones of the same job
_worker_analysis: Analysis | None = None


def analyze_case(job: AnalysisJob, numbered_case: tuple[int, Sequence[np.ndarray]]) -> CaseErrors:
    """One case's errors, in a worker (the task function given to run_tasks; module-level so it pickles)."""
    global _worker_analysis
    if _worker_analysis is None or _worker_analysis.job != job:
        if _worker_analysis is not None:
            _worker_analysis.close()
        _worker_analysis = Analysis(job)
        atexit.register(_worker_analysis.close)  # the LiteRT fallback's temporary model file
    return _worker_analysis.case_errors(*numbered_case)


def analyze(int8_model_path: str, float_model_path: str | None, cases: Sequence[Sequence[np.ndarray]], *,
            isolate: bool = False, inputs_description: str = "", profile: str = "litert-ref",
            progress: Callable[[str], None] | None = None, jobs: int = 1, executor: str = "local",
            address: str | None = None) -> QErrorReport:
    """Compare every operator output of an int8 model with its float reference over ``cases``.

    ``cases`` is a list of input lists (one array per model input, integer or float; see
    :func:`model_inputs`). With ``float_model_path`` None, the reference is the float shadow.
    ``jobs``, ``executor``, ``address``: run the cases in parallel (refinterp.tools.executor.run_tasks:
    ``jobs`` local processes, or Ray); the report is identical to the serial one (see :class:`Analysis`).
    """
    say = progress or (lambda message: None)
    job = AnalysisJob(str(int8_model_path), None if float_model_path is None else str(float_model_path), isolate,
                      profile)
    analysis = Analysis(job)
    reference = analysis.reference
    say(f"reference: {reference.label}, run by {reference.runtime}")
    try:
        if executor == "local" and (jobs == 1 or len(cases) < 2):  # in this process, with the analysis set up above
            for case_number, case in enumerate(cases):
                analysis.merge(analysis.case_errors(case_number, case, say))
        else:
            def done(count: int, total: int) -> None:
                say(f"{count}/{total} cases done")

            for errors in run_tasks(partial(analyze_case, job), list(enumerate(cases)), jobs=jobs,
                                    executor=executor, address=address, progress=done):
                analysis.merge(errors)
    finally:
        analysis.close()

    return QErrorReport(
        int8_model=str(int8_model_path), reference=reference.label, reference_kind=reference.kind,
        reference_runtime=reference.runtime, cases=len(cases), inputs_description=inputs_description,
        isolate=isolate, rows=analysis.rows, notes=analysis.notes, output_tensors=tuple(analysis.subgraph8.outputs),
    )
