"""LEAKY_RELU, RELU, RELU6 and RELU_N1_TO_1 fast kernels: the spec rule (``refinterp/ops/activations.py``)
tabulated for 8-bit and int16 inputs (256 or 65536 entries, evaluated once by the spec kernel at prepare; eval is
a numba gather). float32 runs the spec kernel (one vectorized NumPy pass).

The spec's quantized RELU widens to int64 and runs MultiplyByQuantizedMultiplier on every element (about 9 ns
an element: 18 ms on a 56x56x128 tensor); the gather takes well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from refinterp.ops.activations import leaky_relu_spec, prepare_leaky_relu, prepare_relu, relu_spec
from refinterp.ops.common import OpContext, table_of_8bit_rule
from refinterp.ops.fast.common import TableParams, lookup_8bit


def _with_table(spec, rule: Callable[[Any, np.ndarray], np.ndarray], ctx: OpContext) -> TableParams:
    """The spec params, plus (int8/uint8/int16) ``rule``'s output for each input value."""
    if not spec.quantized:
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(rule, spec, ctx.require_input(0).dtype))


def _gather(p: TableParams, spec_kernel: Callable[[Any, np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    if p.table is None:  # float32: the spec kernel is one vectorized pass
        return spec_kernel(p.spec, x)
    return lookup_8bit(p.table, x)


def prepare_leaky_relu_fast(ctx: OpContext) -> TableParams:
    return _with_table(prepare_leaky_relu(ctx), leaky_relu_spec, ctx)


def leaky_relu_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    return _gather(p, leaky_relu_spec, x)


def prepare_relu_fast(ctx: OpContext) -> TableParams:
    """The table holds LiteRT's requantizing rule, or TFLM's raw clamp for RELU6 under profile tflm: whatever
    ``relu_spec`` does."""
    return _with_table(prepare_relu(ctx), relu_spec, ctx)


def relu_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    return _gather(p, relu_spec, x)
