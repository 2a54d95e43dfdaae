"""``refinterp qerror``: which layers of an int8 model lose accuracy against float, and why.

For every operator output of the int8 model this module measures how far the dequantized int8 value is
from a float reference value of the same tensor, and (with ``isolate=True``) how much of that error the
layer makes itself rather than inherits from the layers before it.

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

Isolation feeds each int8 operator the float reference values of its inputs, quantized with the input
tensors' own (scale, zero point) by TFLite's QUANTIZE rule, through ``Interpreter.run_operator``. The error
of that output is the layer's *own* error (its rounding, its requantization, its clipping); the error of the
normal int8 chain is the *accumulated* error (own plus inherited).

Metric definitions (``e = dequantized int8 - float reference``, pooled over every element of every input
case) are in :class:`ErrorAccumulator` and docs/qerror.md. CSV columns follow TensorFlow's
``QuantizationDebugger.layer_statistics_dump`` where the metric is the same (op_name, tensor_idx,
num_elements, stddev, mean_error, max_abs_error, mean_squared_error, ..., scale, zero_point, tensor_name).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import InputError, RuntimeUnavailableError, UnsupportedOpError
from refinterp.io import load_npy
from refinterp.model import Model, Operator, Subgraph, Tensor, load_model
from refinterp.quant import DTYPE_RANGES, round_half_away, round_half_away_f32
from refinterp.tools.arguments import ArgumentParser

#: Operators that only change the representation of a value; matching looks through them.
QDQ_OPS = ("QUANTIZE", "DEQUANTIZE")
#: Tensor types whose values are ``scale * (q - zero_point)`` when the tensor carries quantization.
QUANTIZED_TYPES = ("int8", "uint8", "int16", "int32")
#: Operators whose activation inputs may come in either order.
COMMUTATIVE_OPS = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")
#: The real output range of activation functions, fused (by ActivationFunctionType) or standalone.
FUSED_ACTIVATION_RANGES: dict[int, tuple[float | None, float | None]] = {
    1: (0.0, None),  # RELU
    2: (-1.0, 1.0),  # RELU_N1_TO_1
    3: (0.0, 6.0),  # RELU6
}
OP_ACTIVATION_RANGES: dict[str, tuple[float | None, float | None]] = {
    "RELU": (0.0, None),
    "RELU6": (0.0, 6.0),
    "RELU_N1_TO_1": (-1.0, 1.0),
    "RELU_0_TO_1": (0.0, 1.0),
    "LOGISTIC": (0.0, 1.0),
    "SOFTMAX": (0.0, 1.0),
    "TANH": (-1.0, 1.0),
}

METRICS = ("num_elements", "stddev", "mean_error", "max_abs_error", "mean_squared_error", "rmse", "rmse_lsb",
           "max_abs_error_lsb", "sqnr_db", "cosine", "saturated_frac", "clipped_frac")
ISOLATED_METRICS = ("mean_error", "max_abs_error", "mean_squared_error", "rmse", "rmse_lsb", "sqnr_db", "cosine")


# ==================================================================================================
# Values


def is_quantized(tensor: Tensor) -> bool:
    return tensor.quantization is not None and tensor.type_name in QUANTIZED_TYPES


def _along_axis(values: np.ndarray, rank: int, axis: int) -> np.ndarray:
    if values.size == 1:
        return values.reshape(())
    shape = [1] * rank
    shape[axis] = values.size
    return values.reshape(shape)


def real_value(tensor: Tensor, value: np.ndarray) -> np.ndarray:
    """The real number each element stands for, as float64 holding float32 values.

    A quantized tensor is dequantized as TFLite's DEQUANTIZE does, ``float32(f64(scale) * (q - zp))`` (per
    channel along the quantized dimension), so a dequantized int8 input equals the float32 input the float
    model was given and shows zero error. Any other tensor is its own value.
    """
    if is_quantized(tensor):
        q = tensor.quantization
        assert q is not None
        scale = _along_axis(q.scale.astype(np.float64), value.ndim, q.quantized_dimension)
        zero_point = _along_axis(q.zero_point.astype(np.float64), value.ndim, q.quantized_dimension)
        return (scale * (value.astype(np.float64) - zero_point)).astype(np.float32).astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def quantize_like(tensor: Tensor, real: np.ndarray) -> np.ndarray:
    """Quantize real values into ``tensor``'s type and parameters by TFLite's QUANTIZE rule.

    ``q = clamp(round_half_away(f32(x / f32(scale))) + zp)`` (reference AffineQuantize): exactly what a
    QUANTIZE operator at the model input would produce, so the int8 model sees what it would see in use.
    """
    if not is_quantized(tensor):
        return np.asarray(real, dtype=tensor.dtype)
    q = tensor.quantization
    assert q is not None
    real = np.asarray(real)
    scale = _along_axis(q.scale.astype(np.float32), real.ndim, q.quantized_dimension)
    zero_point = _along_axis(q.zero_point.astype(np.int64), real.ndim, q.quantized_dimension)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = round_half_away_f32(real.astype(np.float32) / scale)
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=2.0**31, neginf=-(2.0**31))
    qmin, qmax = DTYPE_RANGES[np.dtype(tensor.dtype)]
    return np.clip(scaled.astype(np.int64) + zero_point, qmin, qmax).astype(tensor.dtype)


# ==================================================================================================
# Metrics


@dataclass
class ErrorAccumulator:
    """Pooled error statistics of one tensor over any number of cases (float64 sums).

    With ``e = approx - reference`` over all N elements of all cases:

    * ``mean_error`` = mean(e) (the bias; QuantizationDebugger's ``mean_error``, same sign: dequant - float)
    * ``mean_squared_error`` = mean(e^2); ``rmse`` = its square root
    * ``stddev`` = sqrt(mean(e^2) - mean(e)^2), the population standard deviation of e (``np.std``)
    * ``max_abs_error`` = max |e|
    * ``rmse_lsb`` = rmse / scale, ``max_abs_error_lsb`` = max_abs_error / scale: error in units of the
      tensor's quantization step; a perfectly rounded tensor has rmse_lsb = 1/sqrt(12) = 0.289
    * ``sqnr_db`` = 10 log10( sum(reference^2) / sum(e^2) ); +inf when e is all zero
    * ``cosine`` = sum(reference * approx) / sqrt(sum(reference^2) sum(approx^2)); 1.0 when both are all zero
    * ``saturated_frac``, ``clipped_frac``: see :func:`range_bounds`.

    QuantizationDebugger averages per-example metrics (np.nanmean over examples); these are pooled over
    all elements instead, so with several cases max_abs_error is the maximum, not the mean of maxima.
    """

    count: int = 0
    sum_error: float = 0.0
    sum_squared_error: float = 0.0
    max_abs_error: float = 0.0
    sum_squared_reference: float = 0.0
    sum_squared_approx: float = 0.0
    sum_product: float = 0.0
    saturated: int = 0
    clipped: int = 0

    def add(self, approx: np.ndarray, reference: np.ndarray, saturated: int = 0, clipped: int = 0) -> None:
        approx = np.asarray(approx, dtype=np.float64).ravel()
        reference = np.asarray(reference, dtype=np.float64).ravel()
        if approx.shape != reference.shape:
            raise InputError(f"cannot compare {approx.size} values with {reference.size} reference values")
        error = approx - reference
        self.count += error.size
        self.sum_error += float(error.sum())
        self.sum_squared_error += float(np.dot(error, error))
        if error.size:
            self.max_abs_error = max(self.max_abs_error, float(np.abs(error).max()))
        self.sum_squared_reference += float(np.dot(reference, reference))
        self.sum_squared_approx += float(np.dot(approx, approx))
        self.sum_product += float(np.dot(reference, approx))
        self.saturated += int(saturated)
        self.clipped += int(clipped)

    def metrics(self, scale: float | None, with_range_fractions: bool = True) -> dict[str, float | int | None]:
        n = self.count
        if n == 0:
            return {name: None for name in METRICS}
        mean_error = self.sum_error / n
        mse = self.sum_squared_error / n
        rmse = math.sqrt(mse)
        if self.sum_squared_error == 0.0:
            sqnr = math.inf
        elif self.sum_squared_reference == 0.0:
            sqnr = -math.inf
        else:
            sqnr = 10.0 * math.log10(self.sum_squared_reference / self.sum_squared_error)
        norms = self.sum_squared_reference * self.sum_squared_approx
        if norms > 0.0:
            cosine = self.sum_product / math.sqrt(norms)
        else:
            cosine = 1.0 if self.sum_squared_reference == self.sum_squared_approx == 0.0 else 0.0
        lsb = scale if scale else None
        return {
            "num_elements": n,
            "stddev": math.sqrt(max(mse - mean_error * mean_error, 0.0)),
            "mean_error": mean_error,
            "max_abs_error": self.max_abs_error,
            "mean_squared_error": mse,
            "rmse": rmse,
            "rmse_lsb": rmse / lsb if lsb else None,
            "max_abs_error_lsb": self.max_abs_error / lsb if lsb else None,
            "sqnr_db": sqnr,
            "cosine": cosine,
            "saturated_frac": self.saturated / n if with_range_fractions else None,
            "clipped_frac": self.clipped / n if with_range_fractions else None,
        }


def layer_metrics(approx: np.ndarray, reference: np.ndarray, scale: float | None = None) -> dict[str, Any]:
    """The metrics of one pair of arrays (real values), as :class:`ErrorAccumulator` defines them."""
    accumulator = ErrorAccumulator()
    accumulator.add(approx, reference)
    return accumulator.metrics(scale, with_range_fractions=False)


@dataclass(frozen=True)
class RangeBounds:
    """Where an integer output can stop: the type's limits and the activation's bounds, both as integers."""

    qmin: int
    qmax: int
    activation_low: int | None  # the quantized image of the activation's real floor, if inside [qmin, qmax]
    activation_high: int | None

    def counts(self, q: np.ndarray) -> tuple[int, int]:
        """(saturated, clipped): values stopped by the integer range, values at an activation bound."""
        at_low, at_high = q == self.qmin, q == self.qmax
        saturated = 0
        if self.activation_low != self.qmin:
            saturated += int(np.count_nonzero(at_low))
        if self.activation_high != self.qmax:
            saturated += int(np.count_nonzero(at_high))
        clipped = 0
        if self.activation_low is not None:
            clipped += int(np.count_nonzero(q == self.activation_low))
        if self.activation_high is not None and self.activation_high != self.activation_low:
            clipped += int(np.count_nonzero(q == self.activation_high))
        return saturated, clipped


def range_bounds(op: Operator | None, tensor: Tensor,
                 input_bounds: Sequence[RangeBounds | None] = ()) -> RangeBounds | None:
    """The integer bounds of a quantized output tensor, for ``saturated_frac`` and ``clipped_frac``.

    An activation (fused RELU/RELU6/RELU_N1_TO_1, or a RELU*/LOGISTIC/SOFTMAX/TANH operator) has a real
    output range [lo, hi]; its bounds in the integer domain are ``Q(f) = zp + round_half_away(f32(f) /
    f32(scale))``, the rule of TFLite's CalculateActivationRangeQuantized, kept only when inside the type's
    range. A value *at an activation bound* is **clipped**: the float op stops there too (a ReLU zero), so
    it says how much of the tensor the activation cut, not a quantization fault. A value at the type's
    limit (-128 or 127 for int8) that is not also an activation bound is **saturated**: the quantization
    range ran out before the real value did.

    An operator without an activation of its own whose output keeps its inputs' (scale, zero point) and
    whose activation inputs all have the same bounds (MAX_POOL_2D, RESHAPE, CONCATENATION, RESIZE, PAD ...
    after a ReLU) passes those bounds on (``input_bounds``): its -128s are still ReLU zeros.
    """
    if not is_quantized(tensor) or tensor.dtype is None or np.dtype(tensor.dtype) not in DTYPE_RANGES:
        return None
    qmin, qmax = DTYPE_RANGES[np.dtype(tensor.dtype)]
    low = high = None
    real_range = None
    if op is not None:
        real_range = OP_ACTIVATION_RANGES.get(op.name)
        if real_range is None:
            real_range = FUSED_ACTIVATION_RANGES.get(int(op.options.get("fused_activation_function", 0) or 0))
    if real_range is not None:
        q = tensor.quantization
        assert q is not None
        scale, zero_point = float(q.scale[0]), int(q.zero_point[0])

        def image(f: float) -> int | None:
            value = zero_point + round_half_away(float(np.float32(f) / np.float32(scale)))
            return value if qmin <= value <= qmax else None

        low = image(real_range[0]) if real_range[0] is not None else None
        high = image(real_range[1]) if real_range[1] is not None else None
    elif input_bounds and all(b is not None and b == input_bounds[0] for b in input_bounds):
        inherited = input_bounds[0]
        assert inherited is not None
        if (inherited.qmin, inherited.qmax) == (qmin, qmax):
            low, high = inherited.activation_low, inherited.activation_high
    return RangeBounds(qmin, qmax, low, high)


def _same_qparams(a: Tensor, b: Tensor) -> bool:
    qa, qb = a.quantization, b.quantization
    return (a.type_name == b.type_name and qa is not None and qb is not None and qa.scale.size == qb.scale.size == 1
            and float(qa.scale[0]) == float(qb.scale[0]) and int(qa.zero_point[0]) == int(qb.zero_point[0]))


# ==================================================================================================
# Matching int8 tensors to float tensors


@dataclass(frozen=True)
class TensorMatch:
    float_index: int
    method: str  # "input", "name", "structure", "order" (twin) or "shadow"


def _canonical_map(subgraph: Subgraph) -> dict[int, int]:
    """Tensor -> the tensor it is a re-representation of, through QUANTIZE/DEQUANTIZE chains."""
    canonical: dict[int, int] = {}
    for op in subgraph.operators:
        if op.name in QDQ_OPS and op.inputs and op.inputs[0] >= 0 and op.outputs:
            source = op.inputs[0]
            canonical[op.outputs[0]] = canonical.get(source, source)
    return canonical


class _GraphView:
    """A subgraph seen with QUANTIZE/DEQUANTIZE set aside."""

    def __init__(self, subgraph: Subgraph):
        self.subgraph = subgraph
        self.canonical_of = _canonical_map(subgraph)
        self.compute_ops = [op for op in subgraph.operators if op.name not in QDQ_OPS]

    def canon(self, index: int) -> int:
        return self.canonical_of.get(index, index)

    def tensor(self, index: int) -> Tensor:
        return self.subgraph.tensors[index]

    def activation_inputs(self, op: Operator) -> list[int]:
        result = []
        for index in op.inputs:
            if index < 0:
                continue
            source = self.canon(index)
            if not self.tensor(source).is_constant:
                result.append(source)
        return result

    def constant_inputs(self, op: Operator) -> list[Tensor]:
        return [self.tensor(self.canon(i)) for i in op.inputs if i >= 0 and self.tensor(self.canon(i)).is_constant]


def _constant_real(tensor: Tensor) -> np.ndarray | None:
    if tensor.data is None or tensor.dtype is None:
        return None
    return real_value(tensor, tensor.data)


def _weight_distance(int8_constants: list[Tensor], float_constants: list[Tensor]) -> float:
    """How far the dequantized int8 constants are from the float ones (relative L2, summed)."""
    total = 0.0
    for a, b in zip(int8_constants, float_constants):
        ra, rb = _constant_real(a), _constant_real(b)
        if ra is None or rb is None or ra.shape != rb.shape:
            continue
        total += float(np.linalg.norm(ra - rb) / (np.linalg.norm(rb) + 1e-30))
    return total


def match_tensors(int8_subgraph: Subgraph, float_subgraph: Subgraph) -> tuple[dict[int, TensorMatch], list[str]]:
    """Match every non-constant int8 tensor (graph inputs, operator outputs) to a float tensor.

    QUANTIZE and DEQUANTIZE are set aside in both graphs: their output is the same real value as their
    input, so it matches whatever the input matches (this absorbs a float model without the int8 model's
    QUANTIZE/DEQUANTIZE at the input/output, and int8->int8 requantizations). The graph inputs are matched
    by position. Then the int8 operators are walked in execution order; an operator's candidates are the
    unused float operators of the same type whose output shapes and constant-input shapes are equal, and
    whose activation inputs are the float tensors its own activation inputs matched (as a set for
    commutative operators). Among candidates, one whose output has the same tensor name wins ("name");
    otherwise the one whose float weights are closest to the dequantized int8 weights, then the first in
    float execution order ("structure"). With no consistent candidate, the first unused float operator of
    the same type and element count after the last matched one is taken ("order", a weaker match, noted).

    Returns (int8 tensor index -> TensorMatch, notes).
    """
    q8, qf = _GraphView(int8_subgraph), _GraphView(float_subgraph)
    notes: list[str] = []
    mapping: dict[int, int] = {}  # canonical int8 tensor -> canonical float tensor
    method_of: dict[int, str] = {}

    int8_inputs, float_inputs = list(int8_subgraph.inputs), list(float_subgraph.inputs)
    if len(int8_inputs) != len(float_inputs):
        notes.append(f"the int8 model has {len(int8_inputs)} inputs and the float model {len(float_inputs)}: "
                     f"matched by position as far as both go")
    for a, b in zip(int8_inputs, float_inputs):
        mapping[q8.canon(a)] = qf.canon(b)
        method_of[q8.canon(a)] = "input"

    by_type: dict[str, list[Operator]] = {}
    for op in qf.compute_ops:
        by_type.setdefault(op.name, []).append(op)
    used: set[int] = set()
    last_position = -1

    for op in q8.compute_ops:
        outputs8 = [q8.canon(o) for o in op.outputs]
        shapes8 = [q8.tensor(o).shape for o in outputs8]
        inputs8 = q8.activation_inputs(op)
        expected = [mapping.get(i) for i in inputs8]
        constant_shapes8 = [t.shape for t in q8.constant_inputs(op)]
        same_type = [c for c in by_type.get(op.name, []) if c.index not in used and len(c.outputs) == len(op.outputs)]

        consistent = []
        for candidate in same_type:
            if [qf.tensor(qf.canon(o)).shape for o in candidate.outputs] != shapes8:
                continue
            constant_shapes = [t.shape for t in qf.constant_inputs(candidate)]
            if len(constant_shapes) == len(constant_shapes8) and constant_shapes != constant_shapes8:
                continue
            inputs_f = qf.activation_inputs(candidate)
            if len(inputs_f) != len(inputs8):
                continue
            if op.name in COMMUTATIVE_OPS:
                known = sorted(e for e in expected if e is not None)
                ok = all(inputs_f.count(e) >= known.count(e) for e in known)
            else:
                ok = all(e is None or e == f for e, f in zip(expected, inputs_f))
            if ok:
                consistent.append(candidate)

        chosen: Operator | None = None
        method = ""
        if consistent:
            names8 = [q8.tensor(o).name for o in outputs8]
            by_name = [c for c in consistent if [qf.tensor(qf.canon(o)).name for o in c.outputs] == names8]
            if by_name:
                chosen, method = by_name[0], "name"
            elif len(consistent) == 1:
                chosen, method = consistent[0], "structure"
            else:
                constants8 = q8.constant_inputs(op)
                chosen = min(consistent, key=lambda c: (_weight_distance(constants8, qf.constant_inputs(c)), c.index))
                method = "structure"
        else:
            numel8 = [math.prod(s) for s in shapes8]
            for candidate in same_type:
                numel = [math.prod(qf.tensor(qf.canon(o)).shape) for o in candidate.outputs]
                if candidate.index > last_position and numel == numel8:
                    chosen, method = candidate, "order"
                    break
            if chosen is not None:
                notes.append(f"int8 operator {op.index} ({op.name}) matched float operator {chosen.index} by "
                             f"execution order only: its inputs or shapes do not line up")
        if chosen is None:
            notes.append(f"int8 operator {op.index} ({op.name}) has no float counterpart")
            continue
        used.add(chosen.index)
        last_position = max(last_position, chosen.index)
        for o8, of in zip(outputs8, chosen.outputs):
            mapping[o8] = qf.canon(of)
            method_of[o8] = method

    result: dict[int, TensorMatch] = {}
    candidates = set(int8_subgraph.inputs) | {o for op in int8_subgraph.operators for o in op.outputs}
    for index in sorted(candidates):
        source = q8.canon(index)
        if source in mapping:
            result[index] = TensorMatch(mapping[source], method_of[source])
    return result, notes


# ==================================================================================================
# The float shadow of an int8 graph


def _unique_names(subgraph: Subgraph) -> list[str]:
    names, seen = [], set()
    for tensor in subgraph.tensors:
        name = tensor.name or f"t{tensor.index}"
        if name in seen:
            name = f"{name}#{tensor.index}"
        seen.add(name)
        names.append(name)
    return names


def build_float_shadow(model: Model) -> bytes:
    """The int8 graph as a float32 .tflite: dequantized constants, float activations, no rounding.

    Tensor and operator indices are kept, so tensor ``i`` of the shadow is the float value of tensor ``i``
    of the int8 model. Every quantized constant (weights, int32 biases, constant operands) becomes its
    dequantized float32 value ``scale * (q - zp)`` (per channel along its quantized dimension); every
    quantized activation becomes an unquantized float32 tensor; QUANTIZE and DEQUANTIZE between activations
    become identities (a RESHAPE to the same shape); a DEQUANTIZE of a constant is folded. Unquantized
    constants (shapes, axes, paddings) are kept as they are. Each operator keeps its builtin options, so
    fused activations clamp the float values where the int8 op clamps its integers.
    """
    from refinterp.modelbuilder import OpSpec, TensorSpec, build_model

    subgraph = model.main
    names = _unique_names(subgraph)
    folded: dict[int, np.ndarray] = {}
    for op in subgraph.operators:
        if op.name == "DEQUANTIZE" and op.inputs and subgraph.tensors[op.inputs[0]].is_constant:
            source = subgraph.tensors[op.inputs[0]]
            assert source.data is not None
            folded[op.outputs[0]] = real_value(source, source.data).astype(np.float32)

    specs = []
    for tensor in subgraph.tensors:
        if tensor.index in folded:
            specs.append(TensorSpec(tensor.shape, "float32", data=folded[tensor.index], name=names[tensor.index]))
            continue
        if tensor.dtype is None:
            raise UnsupportedOpError(f"tensor {tensor.index} '{tensor.name}' has type {tensor.type_name}, "
                                     f"which the float shadow cannot dequantize")
        if is_quantized(tensor):
            data = real_value(tensor, tensor.data).astype(np.float32) if tensor.is_constant else None
            specs.append(TensorSpec(tensor.shape, "float32", data=data, name=names[tensor.index]))
        else:
            data = np.array(tensor.data) if tensor.is_constant else None
            specs.append(TensorSpec(tensor.shape, tensor.type_name, data=data, name=names[tensor.index]))

    operators = []
    for op in subgraph.operators:
        if op.custom_code is not None:
            raise UnsupportedOpError(f"operator {op.index} is the custom operator {op.custom_code!r}: "
                                     f"no float shadow for it")
        if op.outputs and op.outputs[0] in folded:
            continue  # a DEQUANTIZE of a constant: its output is a constant of the shadow
        if op.name in QDQ_OPS:
            operators.append(OpSpec("RESHAPE", [op.inputs[0]], [op.outputs[0]],
                                    {"new_shape": list(subgraph.tensors[op.outputs[0]].shape)}))
            continue
        operators.append(OpSpec(op.name, list(op.inputs), list(op.outputs), dict(op.options), op.version))
    try:
        return build_model(specs, operators, list(subgraph.inputs), list(subgraph.outputs),
                           description="refinterp qerror float shadow")
    except ValueError as exc:
        raise UnsupportedOpError(f"cannot write the float shadow: {exc}") from None


# ==================================================================================================
# Running the models


def litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


class FloatReference:
    """The float side: a float model run by refinterp's float32 kernels, or by LiteRT BUILTIN_REF."""

    def __init__(self, model_bytes: bytes, label: str, kind: str):
        from refinterp.interpreter import Interpreter
        from refinterp.model import parse_model

        self.model = parse_model(model_bytes)
        self.label = label
        self.kind = kind  # "float twin" or "float shadow"
        self.runtime = "refinterp"
        self.note = ""
        self._bytes = model_bytes
        self._path: str | None = None
        self._interpreter: Interpreter | None = Interpreter(model_content=model_bytes)
        try:
            self._interpreter.allocate_tensors()
        except UnsupportedOpError as exc:
            self._interpreter = None
            if not litert_available():
                raise UnsupportedOpError(f"{kind}: {exc}; install ai-edge-litert to run the float side on "
                                         f"LiteRT's reference kernels instead") from None
            self.runtime = "litert-ref"
            self.note = (f"the {kind} needs an operator refinterp has no float32 kernel for ({exc}): "
                         f"its float side ran on LiteRT BUILTIN_REF")

    @property
    def subgraph(self) -> Subgraph:
        return self.model.main

    def run(self, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
        if self._interpreter is not None:
            for index, value in zip(self.subgraph.inputs, inputs):
                self._interpreter.set_tensor(index, value)
            self._interpreter.invoke()
            return self._interpreter.tensor_values()
        from refinterp.runtimes import get_runtime

        if self._path is None:
            handle, self._path = tempfile.mkstemp(suffix=".tflite", prefix="refinterp-qerror-")
            with os.fdopen(handle, "wb") as f:
                f.write(self._bytes)
        return get_runtime("litert-ref").run(self._path, inputs).tensors

    def close(self) -> None:
        if self._path is not None:
            Path(self._path).unlink(missing_ok=True)
            self._path = None


# ==================================================================================================
# The report


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
        if self.isolated is None or self.float_index is None or self.accumulated.count == 0:
            return None
        if self.accumulated.sum_squared_error == 0.0:
            return None
        return self.isolated.sum_squared_error / self.accumulated.sum_squared_error


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

    # ---------------------------------------------------------------------------- structured forms

    def layer_dicts(self) -> list[dict[str, Any]]:
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

    def to_json(self) -> str:
        document = {
            "tool": "refinterp qerror",
            "int8_model": self.int8_model,
            "reference": {"kind": self.reference_kind, "description": self.reference,
                          "runtime": self.reference_runtime},
            "cases": self.cases,
            "inputs": self.inputs_description,
            "isolate": self.isolate,
            "error_sign": "dequantized int8 minus float reference",
            "non_finite_values": "sqnr_db +inf (no error) and -inf (zero reference) are written as the "
                                 "strings \"inf\" and \"-inf\"",
            "layers": self.layer_dicts(),
            "notes": self.notes,
        }
        return json.dumps(_json_safe(document), indent=1)

    def csv_columns(self) -> list[str]:
        columns = ["op_name", "tensor_idx", "num_elements", "stddev", "mean_error", "max_abs_error",
                   "mean_squared_error", "rmse", "rmse_lsb", "max_abs_error_lsb", "sqnr_db", "cosine",
                   "saturated_frac", "clipped_frac"]
        if self.isolate:
            columns += [f"isolated_{m}" for m in ISOLATED_METRICS] + ["own_share"]
        columns += ["scale", "zero_point", "tensor_name", "op_index", "float_tensor_idx", "float_tensor_name",
                    "match"]
        return columns

    def write_csv(self, file: Any) -> None:
        writer = csv.DictWriter(file, self.csv_columns(), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for entry in self.layer_dicts():
            flat = dict(entry)
            isolated = flat.pop("isolated", None) or {}
            for name in ISOLATED_METRICS:
                flat[f"isolated_{name}"] = isolated.get(name)
            writer.writerow({k: _csv_value(v) for k, v in flat.items()})

    # ---------------------------------------------------------------------------- text

    def header_lines(self) -> list[str]:
        lines = [f"int8 model:  {self.int8_model}",
                 f"reference:   {self.reference} (run by {self.reference_runtime})",
                 f"inputs:      {self.inputs_description} ({self.cases} case{'s' if self.cases != 1 else ''})"]
        matched = [r for r in self.rows if r.op_index >= 0]
        methods: dict[str, int] = {}
        for row in matched:
            methods[row.match] = methods.get(row.match, 0) + 1
        summary = ", ".join(f"{n} by {m}" for m, n in sorted(methods.items()))
        lines.append(f"matching:    {len(matched) - len(self.unmatched_ops())} of {len(matched)} int8 operator "
                     f"outputs matched ({summary})")
        return lines

    def unmatched_ops(self) -> list[LayerRow]:
        return [r for r in self.rows if r.op_index >= 0 and r.float_index is None]

    def table_rows(self) -> tuple[list[str], list[list[str]]]:
        columns = ["op", "type", "tensor", "scale", "zp", "RMSE", "LSB", "max|e|", "mean e", "SQNR dB", "cos",
                   "sat%", "clip%"]
        if self.isolate:
            columns += ["own SQNR", "own LSB", "own%"]
        columns += ["match"]
        rows = []
        for row in self.rows:
            m = row.metrics()
            cells = [
                str(row.op_index) if row.op_index >= 0 else "in",
                row.op_name,
                _shorten(row.tensor_name, 30),
                _fmt(row.scale, "{:.4g}"),
                "" if row.zero_point is None else str(row.zero_point),
                _fmt(m["rmse"], "{:.3g}"),
                _fmt(m["rmse_lsb"], "{:.2f}"),
                _fmt(m["max_abs_error"], "{:.3g}"),
                _fmt(m["mean_error"], "{:+.2g}"),
                _fmt_db(m["sqnr_db"]),
                _fmt(m["cosine"], "{:.4f}"),
                _fmt_percent(m["saturated_frac"]),
                _fmt_percent(m["clipped_frac"]),
            ]
            if self.isolate:
                iso = row.isolated_metrics() or {}
                share = row.own_share()
                cells += [_fmt_db(iso.get("sqnr_db")), _fmt(iso.get("rmse_lsb"), "{:.2f}"),
                          "" if share is None else f"{100 * share:.0f}"]
            cells.append(row.match)
            rows.append(cells)
        return columns, rows

    def table_text(self) -> str:
        columns, rows = self.table_rows()
        return _text_table(columns, rows, left_aligned={1, 2, len(columns) - 1})

    def summary_lines(self, worst: int = 5) -> list[str]:
        ops = [r for r in self.rows if r.op_index >= 0 and r.float_index is not None and r.accumulated.count]
        if not ops:
            return []
        lines = []
        for row in (r for r in ops if r.tensor_index in self.output_tensors):
            m = row.metrics()
            lines.append(f"model output {row.tensor_name!r}: SQNR {_fmt_db(m['sqnr_db'])} dB, "
                         f"RMSE {_fmt(m['rmse_lsb'], '{:.2f}')} LSB")

        def key(row: LayerRow, isolated: bool) -> float:
            metrics = row.isolated_metrics() if isolated else row.metrics()
            value = metrics.get("sqnr_db") if metrics else None
            return math.inf if value is None else value

        ranked = sorted(ops, key=lambda r: key(r, False))[:worst]
        lines.append("lowest accumulated SQNR: " + ", ".join(
            f"op {r.op_index} {r.op_name} {_fmt_db(key(r, False))} dB" for r in ranked))
        if self.isolate:
            ranked = sorted(ops, key=lambda r: key(r, True))[:worst]
            lines.append("lowest own (isolated) SQNR: " + ", ".join(
                f"op {r.op_index} {r.op_name} {_fmt_db(key(r, True))} dB" for r in ranked))
            worse = [r for r in ops if key(r, True) < key(r, False) - 0.05]
            if worse:
                lines.append("isolated SQNR below accumulated (inherited error partly cancels the layer's own): "
                             + ", ".join(f"op {r.op_index} ({_fmt_db(key(r, True))} < {_fmt_db(key(r, False))})"
                                         for r in worse))
        return lines

    # ---------------------------------------------------------------------------- plot and HTML

    def plot_png(self) -> bytes:
        """A PNG of SQNR (dB) and RMSE in LSB per layer; needs matplotlib (extra ``plot``)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise RuntimeUnavailableError("the plot needs matplotlib: pip install 'refinterp[plot]'") from None
        rows = [r for r in self.rows if r.op_index >= 0 and r.float_index is not None]
        x = np.arange(len(rows))
        labels = [f"{r.op_index} {r.op_name}" for r in rows]

        def series(getter: Callable[[LayerRow], Any]) -> np.ndarray:
            values = []
            for row in rows:
                value = getter(row)
                values.append(np.nan if value is None or not math.isfinite(value) else value)
            return np.array(values, dtype=np.float64)

        sqnr = series(lambda r: r.metrics()["sqnr_db"])
        lsb = series(lambda r: r.metrics()["rmse_lsb"])
        width = max(8.0, 0.28 * len(rows) + 2.0)
        fig, (ax_sqnr, ax_lsb) = plt.subplots(2, 1, figsize=(width, 7.5), sharex=True)
        ax_sqnr.plot(x, sqnr, "o-", color="#1f77b4", label="accumulated (int8 chain)")
        ax_lsb.plot(x, lsb, "o-", color="#1f77b4", label="accumulated (int8 chain)")
        if self.isolate:
            iso_sqnr = series(lambda r: (r.isolated_metrics() or {}).get("sqnr_db"))
            iso_lsb = series(lambda r: (r.isolated_metrics() or {}).get("rmse_lsb"))
            ax_sqnr.plot(x, iso_sqnr, "s--", color="#d62728", label="own (isolated inputs)")
            ax_lsb.plot(x, iso_lsb, "s--", color="#d62728", label="own (isolated inputs)")
        exact = [i for i, r in enumerate(rows) if r.metrics()["sqnr_db"] == math.inf]
        if exact:
            top = np.nanmax(sqnr) if np.isfinite(sqnr).any() else 0.0
            ax_sqnr.plot(exact, [top] * len(exact), "^", color="#2ca02c", label="no error (SQNR +inf)")
        ax_lsb.axhline(1 / math.sqrt(12), color="gray", linestyle=":", linewidth=1,
                       label="ideal rounding (1/sqrt(12) LSB)")
        ax_sqnr.set_ylabel("SQNR (dB), higher is better")
        ax_lsb.set_yscale("log")
        from matplotlib.ticker import FormatStrFormatter

        ax_lsb.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax_lsb.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax_lsb.set_ylabel("RMSE / scale (LSB), log scale")
        ax_sqnr.set_title(f"refinterp qerror: {Path(self.int8_model).name} vs {self.reference_kind}")
        for ax in (ax_sqnr, ax_lsb):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        ax_lsb.set_xticks(x)
        ax_lsb.set_xticklabels(labels, rotation=90, fontsize=7)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        return buffer.getvalue()

    def to_html(self, png: bytes | None, plot_note: str = "") -> str:
        from refinterp.tools.qerror.html import render_report

        columns, rows = self.table_rows()
        sqnr_column = columns.index("SQNR dB")
        cell_styles = []
        for row in self.rows:
            sqnr = row.metrics()["sqnr_db"]
            cell_styles.append({sqnr_column: _sqnr_style(sqnr)})
        return render_report(
            title=f"refinterp qerror: {Path(self.int8_model).name}",
            header_lines=self.header_lines(),
            columns=columns,
            rows=rows,
            cell_styles=cell_styles,
            png=png,
            notes=self.summary_lines() + self.notes + ([plot_note] if plot_note else []),
            legend=HTML_LEGEND,
        )


HTML_LEGEND = (
    "e = dequantized int8 value - float reference value, pooled over all elements of all cases. "
    "RMSE and max|e| in real units; LSB = RMSE / scale (ideal rounding alone gives 0.29); mean e = bias; "
    "SQNR = 10 log10(sum ref^2 / sum e^2); cos = cosine similarity; sat% = values at the integer type's "
    "limits that are not an activation bound; clip% = values at the activation's bound (e.g. fused-ReLU "
    "floor). own SQNR / own LSB: the same layer fed the quantized float-reference inputs (--isolate); "
    "own% = isolated MSE / accumulated MSE."
)


def _sqnr_style(sqnr: float | None) -> str:
    if sqnr is None:
        return ""
    if sqnr == math.inf:
        return "background:#e8f5e9"
    # red below 10 dB, yellow around 25 dB, green above 40 dB
    if sqnr < 10:
        return "background:#ffcdd2"
    if sqnr < 20:
        return "background:#ffe0b2"
    if sqnr < 30:
        return "background:#fff9c4"
    return "background:#e8f5e9"


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


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return spec.format(value)


def _fmt_db(value: Any) -> str:
    if value is None:
        return ""
    if value == math.inf:
        return "inf"
    if value == -math.inf:
        return "-inf"
    return f"{value:.1f}"


def _fmt_percent(value: Any) -> str:
    """A fraction as a percentage that never shows a nonzero fraction as 0."""
    if value is None:
        return ""
    percent = 100 * value
    if percent == 0:
        return "0"
    if percent < 0.01:
        return "<0.01"
    return f"{percent:.2f}" if percent < 10 else f"{percent:.1f}"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _text_table(columns: list[str], rows: list[list[str]], left_aligned: set[int]) -> str:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i in left_aligned else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows])


# ==================================================================================================
# The analysis


def _model_inputs(int8_subgraph: Subgraph, reference_subgraph: Subgraph, case: Sequence[np.ndarray],
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
    assert row.float_index is not None
    value = ref_values.get(row.float_index)
    if value is None:
        return None
    real = real_value(reference_subgraph.tensors[row.float_index], value)
    if real.size != math.prod(shape):
        return None
    return real.reshape(shape)


def analyze(int8_model_path: str, float_model_path: str | None, cases: Sequence[Sequence[np.ndarray]], *,
            isolate: bool = False, inputs_description: str = "", profile: str = "litert-ref",
            progress: Callable[[str], None] | None = None) -> QErrorReport:
    """Compare every operator output of an int8 model with its float reference over ``cases``.

    ``cases`` is a list of input lists (one array per model input, integer or float; see
    :func:`_model_inputs`). With ``float_model_path`` None, the reference is the float shadow.
    """
    from refinterp.interpreter import Interpreter

    say = progress or (lambda message: None)
    interpreter = Interpreter(model_path=int8_model_path, profile=profile)
    interpreter.allocate_tensors()
    subgraph8 = interpreter.subgraph
    notes: list[str] = []

    if float_model_path is not None:
        try:
            float_bytes = Path(float_model_path).read_bytes()
        except FileNotFoundError:
            raise InputError(f"{float_model_path}: no such file") from None
        except OSError as exc:
            raise InputError(f"{float_model_path}: cannot read ({exc.strerror or exc})") from None
        reference = FloatReference(float_bytes, f"float twin {float_model_path}", "float twin")
        matches, match_notes = match_tensors(subgraph8, reference.subgraph)
        notes += match_notes
        quantized_constants = [t for t in reference.subgraph.tensors if t.is_constant and is_quantized(t)]
        if quantized_constants:
            notes.append(f"the float twin holds {len(quantized_constants)} quantized constant(s) (e.g. tensor "
                         f"{quantized_constants[0].index} '{quantized_constants[0].name}', "
                         f"{quantized_constants[0].type_name}): it is a dynamic-range (hybrid) model whose "
                         f"weights are quantized too, so the comparison under-counts the int8 model's weight error")
    else:
        reference = FloatReference(build_float_shadow(interpreter.model), f"float shadow of {int8_model_path} "
                                   f"(dequantized weights, float32 activations)", "float shadow")
        matches = {i: TensorMatch(i, "shadow") for i in
                   set(subgraph8.inputs) | {o for op in subgraph8.operators for o in op.outputs}}
    if reference.note:
        notes.append(reference.note)
    say(f"reference: {reference.label}, run by {reference.runtime}")

    rows: list[LayerRow] = []
    row_of_tensor: dict[int, LayerRow] = {}
    bounds_of: dict[int, RangeBounds | None] = {}
    producers: list[tuple[Operator | None, int]] = [(None, i) for i in subgraph8.inputs]
    producers += [(op, o) for op in subgraph8.operators for o in op.outputs]
    skipped_types = set()
    for op, index in producers:
        tensor = subgraph8.tensors[index]
        if not (is_quantized(tensor) or tensor.type_name in ("float32", "float16")):
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
            activation_bounds=range_bounds(op, tensor, _inherited_bounds(op, tensor, subgraph8, bounds_of)),
            isolated=ErrorAccumulator() if isolate and op is not None else None,
        )
        match = matches.get(index)
        if match is not None:
            row.float_index, row.match = match.float_index, match.method
            row.float_name = reference.subgraph.tensors[match.float_index].name
        rows.append(row)
        row_of_tensor[index] = row
        bounds_of[index] = row.activation_bounds
    if skipped_types:
        notes.append("not compared (no real-valued meaning): " + ", ".join(sorted(skipped_types)))

    try:
        for case_number, case in enumerate(cases):
            name = f"case {case_number}"
            int8_inputs, float_inputs = _model_inputs(subgraph8, reference.subgraph, case, name)
            say(f"{name}: running the int8 model")
            for index, value in zip(subgraph8.inputs, int8_inputs):
                interpreter.set_tensor(index, value)
            interpreter.invoke()
            values8 = interpreter.tensor_values()
            say(f"{name}: running the {reference.kind}")
            ref_values = reference.run(float_inputs)
            references: dict[int, np.ndarray | None] = {}
            for row in rows:
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
                row.accumulated.add(real_value(subgraph8.tensors[row.tensor_index], value), ref, saturated,
                                    clipped)
            if isolate:
                say(f"{name}: running each int8 operator on quantized float-reference inputs")
                _isolate(interpreter, subgraph8, values8, references, row_of_tensor)
    finally:
        reference.close()

    return QErrorReport(
        int8_model=str(int8_model_path), reference=reference.label, reference_kind=reference.kind,
        reference_runtime=reference.runtime, cases=len(cases), inputs_description=inputs_description,
        isolate=isolate, rows=rows, notes=notes, output_tensors=tuple(subgraph8.outputs),
    )


def _inherited_bounds(op: Operator | None, tensor: Tensor, subgraph: Subgraph,
                      bounds_of: dict[int, RangeBounds | None]) -> list[RangeBounds | None]:
    """The bounds of ``op``'s activation inputs, if they share the output's (scale, zero point); else []."""
    if op is None:
        return []
    inputs = [i for i in op.inputs if i >= 0 and not subgraph.tensors[i].is_constant]
    if not inputs or not all(_same_qparams(subgraph.tensors[i], tensor) for i in inputs):
        return []
    return [bounds_of.get(i) for i in inputs]


def _isolate(interpreter: Any, subgraph8: Subgraph, values8: dict[int, np.ndarray],
             references: dict[int, np.ndarray | None], row_of_tensor: dict[int, LayerRow]) -> None:
    """Run each int8 operator on its inputs' float reference values, quantized like the int8 inputs."""
    for op in subgraph8.operators:
        inputs: list[np.ndarray | None] = []
        fallback = []
        for index in op.inputs:
            if index < 0:
                inputs.append(None)
                continue
            tensor = subgraph8.tensors[index]
            ref = None if tensor.is_constant else references.get(index)
            if tensor.is_constant or index not in row_of_tensor:
                inputs.append(values8[index])
                continue
            if ref is None:
                inputs.append(values8[index])
                fallback.append(index)
                continue
            inputs.append(quantize_like(tensor, ref) if is_quantized(tensor) else ref.astype(tensor.dtype))
        outputs = interpreter.run_operator(op.index, inputs)
        for index, value in zip(op.outputs, outputs):
            row = row_of_tensor.get(index)
            if row is None or row.isolated is None:
                continue
            ref = references.get(index)
            if ref is None:
                continue
            row.isolated.add(real_value(subgraph8.tensors[index], value), ref)
            if fallback:
                row.isolation_note = (f"input tensor(s) {fallback} have no float reference: the int8 chain's "
                                      f"own values were used")


# ==================================================================================================
# Inputs from the command line


def _split_batch(value: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """One array, or a stack of cases: [N, *shape] or, for a batch-1 input, [N, *shape[1:]]."""
    if tuple(value.shape) == tuple(shape):
        return [value]
    if value.ndim == len(shape) + 1 and tuple(value.shape[1:]) == tuple(shape):
        return list(value)
    if shape and shape[0] == 1 and value.ndim == len(shape) and tuple(value.shape[1:]) == tuple(shape[1:]):
        return [value[i:i + 1] for i in range(value.shape[0])]
    return [value]


def cases_from_files(paths: Sequence[str], input_shapes: list[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """``--input``: one .npy per model input (each may hold a stack of N cases)."""
    if len(paths) != len(input_shapes):
        raise InputError(f"the model has {len(input_shapes)} inputs, {len(paths)} --input files were given")
    per_input = [_split_batch(load_npy(p), shape) for p, shape in zip(paths, input_shapes)]
    counts = {len(values) for values in per_input}
    if len(counts) != 1:
        raise InputError(f"the --input files hold different numbers of cases: {sorted(counts)}")
    return [list(case) for case in zip(*per_input)]


def cases_from_directory(directory: str, input_names: list[str],
                         input_shapes: list[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """``--inputs DIR``: every .npy (single-input models) or .npz (one array per input) is a case.

    A golden DIR (with an ``inputs/`` folder) is accepted as well. A .npz names its arrays after the
    model's inputs or ``arr_0``, ``arr_1``... in input order.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{directory}: not a directory")
    if (root / "inputs").is_dir():
        root = root / "inputs"
    files = sorted(p for p in root.iterdir() if p.suffix in (".npy", ".npz"))
    if not files:
        raise InputError(f"{root}: no .npy or .npz files")
    cases: list[list[np.ndarray]] = []
    for path in files:
        if path.suffix == ".npy":
            if len(input_shapes) != 1:
                raise InputError(f"{path}: the model has {len(input_shapes)} inputs; give each case as a .npz")
            cases += [[v] for v in _split_batch(load_npy(str(path)), input_shapes[0])]
            continue
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable .npz archive ({exc})") from None
        values = []
        for position, name in enumerate(input_names):
            for key in (name, f"arr_{position}", f"input_{position}"):
                if key in arrays:
                    values.append(arrays[key])
                    break
            else:
                raise InputError(f"{path}: no array for input {position} '{name}' (keys: {sorted(arrays)})")
        per_input = [_split_batch(v, s) for v, s in zip(values, input_shapes)]
        if len({len(v) for v in per_input}) != 1:
            raise InputError(f"{path}: the arrays hold different numbers of cases")
        cases += [list(case) for case in zip(*per_input)]
    return cases


def seeded_cases(subgraph: Subgraph, seed: int) -> list[list[np.ndarray]]:
    """One case of seeded random inputs: uniform over an integer input's range, standard normal for floats."""
    rng = np.random.default_rng(seed)
    case = []
    for index in subgraph.inputs:
        tensor = subgraph.tensors[index]
        dtype = np.dtype(tensor.dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            case.append(rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=dtype))
        else:
            case.append(rng.standard_normal(tensor.shape).astype(dtype))
    return [case]


# ==================================================================================================
# CLI


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="refinterp qerror",
        description="Per-layer quantization error of an int8 model against its float twin (or, without one, "
                    "against a float shadow of itself: dequantized weights, no intermediate rounding).")
    parser.add_argument("model", metavar="INT8_MODEL")
    parser.add_argument("--float", dest="float_model", metavar="FLOAT_MODEL",
                        help="the float model the int8 one was quantized from")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--input", action="extend", nargs="+", default=[], metavar="X.npy",
                        help="one .npy per model input (int8 values, or float values that are quantized for the "
                             "int8 model); a leading extra axis holds several cases")
    source.add_argument("--inputs", metavar="DIR", help="a directory of cases: .npy (one input) or .npz files; a "
                                                        "golden DIR works too")
    source.add_argument("--seed", type=int, default=None, help="one case of seeded random inputs (default: seed 0)")
    parser.add_argument("--csv", metavar="PATH", help="write the per-layer table as CSV (QuantizationDebugger columns)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--plot", metavar="PNG", help="write a plot of SQNR and error in LSB per layer "
                                                      "(needs matplotlib)")
    parser.add_argument("--html", metavar="PATH", help="write a self-contained HTML report (table and plot)")
    parser.add_argument("--isolate", action="store_true",
                        help="also run each int8 op on quantized float-reference inputs: its own error")
    parser.add_argument("--profile", default="litert-ref", choices=["litert-ref", "tflm"],
                        help="whose integer rules the int8 model runs under (default litert-ref)")
    parser.add_argument("--quiet", action="store_true", help="print no table, only where the files went")
    return parser


def qerror_main(argv: Sequence[str]) -> int:
    """`refinterp qerror`: exit 0 with a full report, 1 when some int8 op output has no float match, 2 on error."""
    args = _parser().parse_args(list(argv))
    model = load_model(args.model)  # fail early, with one line, on a bad path or file
    if args.float_model is not None:
        load_model(args.float_model)
    _check_output_dirs([p for p in (args.csv, args.json, args.plot, args.html) if p])
    subgraph = model.main
    shapes = [subgraph.tensors[i].shape for i in subgraph.inputs]
    names = [subgraph.tensors[i].name for i in subgraph.inputs]
    if args.input:
        cases = cases_from_files(args.input, shapes)
        description = ", ".join(args.input)
    elif args.inputs:
        cases = cases_from_directory(args.inputs, names, shapes)
        description = args.inputs
    else:
        seed = 0 if args.seed is None else args.seed
        cases = seeded_cases(subgraph, seed)
        description = f"seeded random inputs (seed {seed})"
        if args.seed is None:
            print(f"no --input/--inputs given: using seeded random inputs (seed {seed})")

    report = analyze(args.model, args.float_model, cases, isolate=args.isolate, inputs_description=description,
                     profile=args.profile)

    if not args.quiet:
        print("\n".join(report.header_lines()))
        print()
        print(report.table_text())
        print()
        for line in report.summary_lines() + report.notes:
            print(line)
    if args.csv:
        with _open_output(args.csv) as f:
            report.write_csv(f)
        print(f"wrote {args.csv}")
    if args.json:
        with _open_output(args.json) as f:
            f.write(report.to_json() + "\n")
        print(f"wrote {args.json}")
    png = None
    plot_note = ""
    if args.plot or args.html:
        try:
            png = report.plot_png()
        except RuntimeUnavailableError as exc:
            if args.plot:
                raise
            plot_note = f"no plot in this report: {exc}"
            print(f"refinterp qerror: {plot_note}", file=sys.stderr)
    if args.plot:
        assert png is not None
        _write_bytes(args.plot, png)
        print(f"wrote {args.plot}")
    if args.html:
        with _open_output(args.html) as f:
            f.write(report.to_html(png, plot_note))
        print(f"wrote {args.html}")
    return 1 if report.unmatched_ops() else 0


def _check_output_dirs(paths: list[str]) -> None:
    for path in paths:
        parent = Path(path).parent
        if not parent.is_dir():
            raise InputError(f"{path}: directory {parent} does not exist")


def _open_output(path: str) -> Any:
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _write_bytes(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None

