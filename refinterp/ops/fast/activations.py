"""LEAKY_RELU fast kernel: the spec rule (``refinterp/ops/activations.py``) tabulated for 8-bit inputs.

RELU, RELU6 and RELU_N1_TO_1 have no fast kernel: the spec kernel is one vectorized pass already.
"""

from __future__ import annotations

import numpy as np

from refinterp.ops.activations import leaky_relu_spec, prepare_leaky_relu
from refinterp.ops.common import OpContext, table_of_8bit_rule
from refinterp.ops.fast.common import TableParams, lookup_8bit


def prepare_leaky_relu_fast(ctx: OpContext) -> TableParams:
    """The spec params, plus (int8/uint8) the spec's output for each of the 256 input values."""
    spec = prepare_leaky_relu(ctx)
    if not spec.quantized:
        return TableParams(spec)
    return TableParams(spec, table_of_8bit_rule(leaky_relu_spec, spec, ctx.require_input(0).dtype))


def leaky_relu_fast(p: TableParams, x: np.ndarray) -> np.ndarray:
    if p.table is None:  # float32: the spec kernel is one vectorized pass
        return leaky_relu_spec(p.spec, x)
    return lookup_8bit(p.table, x)
