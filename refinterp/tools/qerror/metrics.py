"""Error metrics of one tensor (pooled over cases) and the integer bounds behind ``sat%`` and ``clip%``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.errors import InputError
from refinterp.model import Operator, Subgraph, Tensor
from refinterp.quant import DTYPE_RANGES, round_half_away
from refinterp.tools.qerror.values import is_quantized, same_qparams

METRICS = ("num_elements", "stddev", "mean_error", "max_abs_error", "mean_squared_error", "rmse", "rmse_lsb",
           "max_abs_error_lsb", "sqnr_db", "cosine", "saturated_frac", "clipped_frac")
ISOLATED_METRICS = ("mean_error", "max_abs_error", "mean_squared_error", "rmse", "rmse_lsb", "sqnr_db", "cosine")

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
        # Sums by NumPy's own (pairwise) summation, not np.dot: BLAS splits a long dot product over its
        # threads, so its last bits would depend on the machine's core count and on -j (a worker runs one
        # BLAS thread), and a report must be the same bytes wherever and however it is run.
        self.count += error.size
        self.sum_error += float(error.sum())
        self.sum_squared_error += float(np.square(error).sum())
        if error.size:
            self.max_abs_error = max(self.max_abs_error, float(np.abs(error).max()))
        self.sum_squared_reference += float(np.square(reference).sum())
        self.sum_squared_approx += float(np.square(approx).sum())
        self.sum_product += float((reference * approx).sum())
        self.saturated += int(saturated)
        self.clipped += int(clipped)

    def merge(self, other: ErrorAccumulator) -> None:
        """Add another accumulator's sums (one case's, added in case order as :meth:`add` would have been)."""
        self.count += other.count
        self.sum_error += other.sum_error
        self.sum_squared_error += other.sum_squared_error
        self.max_abs_error = max(self.max_abs_error, other.max_abs_error)
        self.sum_squared_reference += other.sum_squared_reference
        self.sum_squared_approx += other.sum_squared_approx
        self.sum_product += other.sum_product
        self.saturated += other.saturated
        self.clipped += other.clipped

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
    after a ReLU) passes those bounds on (``input_bounds``, see :func:`inherited_bounds`): its -128s are
    still ReLU zeros.
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


def inherited_bounds(op: Operator | None, tensor: Tensor, subgraph: Subgraph,
                     bounds_of: dict[int, RangeBounds | None]) -> list[RangeBounds | None]:
    """The bounds of ``op``'s activation inputs, if they share the output's (scale, zero point); else []."""
    if op is None:
        return []
    inputs = [i for i in op.inputs if i >= 0 and not subgraph.tensors[i].is_constant]
    if not inputs or not all(same_qparams(subgraph.tensors[i], tensor) for i in inputs):
        return []
    return [bounds_of.get(i) for i in inputs]
