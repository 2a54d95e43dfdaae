"""Elementwise activations: LEAKY_RELU (int8, float32).

LEAKY_RELU int8 (``reference_ops::QuantizeLeakyRelu``; Prepare in ``activations.cc``)::

    identity: M_id, shift_id = QuantizeMultiplier(f32(s_in / s_out))
    alpha:    M_a,  shift_a  = QuantizeMultiplier(f32(f32(s_in * alpha) / s_out))
    d = q - zp_in
    y = clamp(zp_out + MBQM(d, M_id, shift_id) if d >= 0 else zp_out + MBQM(d, M_a, shift_a), -128, 127)

Both multipliers are computed in float32 before QuantizeMultiplier widens them to double. A negative alpha
gives a negative multiplier, which the current kernel applies as ``-MBQM(d, -M_a, shift_a)``.
float32: ``x > 0 ? x : x * alpha`` in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from refinterp.ops.common import OpContext, per_tensor_qparams
from refinterp.quant import DTYPE_RANGES, mbqm_nb, multiply_by_quantized_multiplier, quantize_multiplier


@dataclass(frozen=True)
class LeakyReluParams:
    alpha: np.float32
    quantized: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    identity_multiplier: int = 0
    identity_shift: int = 0
    alpha_multiplier: int = 0
    alpha_shift: int = 0
    qmin: int = 0
    qmax: int = 0


def prepare_leaky_relu(ctx: OpContext) -> LeakyReluParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.check_dtype(x, ("int8", "uint8", "float32"), "input")
    if y.type_name != x.type_name:
        raise ctx.fail(f"input is {x.type_name} but output is {y.type_name}")
    alpha = np.float32(ctx.options.get("alpha", 0.0))
    if x.type_name == "float32":
        return LeakyReluParams(alpha=alpha, quantized=False)
    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    output_scale, output_zero_point = per_tensor_qparams(ctx, y, "output")
    identity_real = np.float32(input_scale) / np.float32(output_scale)
    alpha_real = (np.float32(input_scale) * alpha) / np.float32(output_scale)
    identity_multiplier, identity_shift = quantize_multiplier(float(identity_real))
    alpha_multiplier, alpha_shift = quantize_multiplier(float(alpha_real))
    qmin, qmax = DTYPE_RANGES[x.dtype]
    return LeakyReluParams(alpha, True, input_zero_point, output_zero_point, identity_multiplier, identity_shift,
                           alpha_multiplier, alpha_shift, qmin, qmax)


def _signed_mbqm(d: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    if multiplier < 0:  # negative alpha: the kernel negates around a positive multiplier
        return -multiply_by_quantized_multiplier(d, -multiplier, shift)
    return multiply_by_quantized_multiplier(d, multiplier, shift)


def leaky_relu_spec(p: LeakyReluParams, x: np.ndarray) -> np.ndarray:
    if not p.quantized:
        return np.where(x > 0, x, x * p.alpha).astype(np.float32)
    d = x.astype(np.int64) - p.input_zero_point
    y = p.output_zero_point + np.where(d >= 0, _signed_mbqm(d, p.identity_multiplier, p.identity_shift),
                                       _signed_mbqm(d, p.alpha_multiplier, p.alpha_shift))
    return np.clip(y, p.qmin, p.qmax).astype(x.dtype)


@numba.njit(cache=True, nogil=True)
def _leaky_relu_table_nb(dtype_min, dtype_max, input_zero_point, output_zero_point, identity_multiplier,
                         identity_shift, alpha_multiplier, alpha_shift):
    # An 8-bit input has 256 values: evaluate the rule once per value and look the rest up.
    table = np.empty(256, dtype=np.int64)
    for i in range(256):
        q = dtype_min + i
        d = q - input_zero_point
        if d >= 0:
            v = mbqm_nb(d, identity_multiplier, identity_shift)
        elif alpha_multiplier < 0:
            v = -mbqm_nb(d, -alpha_multiplier, alpha_shift)
        else:
            v = mbqm_nb(d, alpha_multiplier, alpha_shift)
        table[i] = min(max(v + output_zero_point, dtype_min), dtype_max)
    return table


def leaky_relu_fast(p: LeakyReluParams, x: np.ndarray) -> np.ndarray:
    if not p.quantized:
        return leaky_relu_spec(p, x)
    table = _leaky_relu_table_nb(p.qmin, p.qmax, p.input_zero_point, p.output_zero_point, p.identity_multiplier,
                                 p.identity_shift, p.alpha_multiplier, p.alpha_shift).astype(x.dtype)
    return table[x.astype(np.int16) - p.qmin]
