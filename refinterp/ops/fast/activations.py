"""LEAKY_RELU, RELU, RELU6 and RELU_N1_TO_1 fast kernels: the spec rule (``refinterp/ops/activations.py``)
tabulated for 8-bit and int16 inputs (256 or 65536 entries, evaluated once by the spec kernel at prepare; eval is
a numba gather). float32 runs the spec kernel (one vectorized NumPy pass).

The spec's quantized RELU widens to int64 and runs MultiplyByQuantizedMultiplier on every element (about 9 ns
an element: 18 ms on a 56x56x128 tensor); the gather takes well under a millisecond.
"""

from __future__ import annotations

import numpy as np

from refinterp.ops.activations import leaky_relu_spec, prepare_leaky_relu, prepare_relu, relu_spec
from refinterp.ops.common import OpContext, table_of_8bit_rule
from refinterp.ops.fast.common import TableParams, lookup_8bit


def prepare_leaky_relu_fast(ctx: OpContext) -> TableParams:
    """The spec params, plus (int8/uint8/int16) the spec's output for each input value."""
    spec = prepare_leaky_relu(ctx)
    if not spec.quantized:
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(leaky_relu_spec, spec, ctx.require_input(0).dtype))


def leaky_relu_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    if p.table is None:  # float32: the spec kernel is one vectorized pass
        return leaky_relu_spec(p.spec, x)
    return lookup_8bit(p.table, x)


def prepare_relu_fast(ctx: OpContext) -> TableParams:
    """The spec params, plus (int8/uint8/int16) the spec's output for each input value (LiteRT's requantizing
    rule, or TFLM's raw clamp for RELU6 under profile tflm: whatever ``relu_spec`` does)."""
    spec = prepare_relu(ctx)
    if not spec.quantized:
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(relu_spec, spec, ctx.require_input(0).dtype))


def relu_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    if p.table is None:  # float32: the spec kernel is one vectorized pass
        return relu_spec(p.spec, x)
    return lookup_8bit(p.table, x)
