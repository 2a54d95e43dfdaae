"""CAST (``cast.cc``): convert every element to the output type, ignoring any quantization parameters.

LiteRT's rules, one C++ conversion per element (``CastValue``/``copyCast``):

* to bool: ``value != 0`` (a NaN is true, -0.0 false);
* from bool: 0 or 1;
* integer to integer: ``static_cast``, i.e. two's-complement wrap to the output width;
* integer or float to float32/float64: the nearest value, ties to even (an int64 above 2**24 rounds); a
  half goes through float first (quieting a signaling NaN);
* anything to float16: first to float32 (``static_cast<float>``), then to half with ties to even
  (``fp16_ieee_from_fp32_value``): an int64 or a double is rounded twice;
* float (16, 32 or 64 bit) to integer: saturating (``SaturatingCastFloatingToInteger``): truncation
  toward zero, clamped to the output type's range; NaN gives the type's maximum.

The input's and output's scales and zero points are not read: CAST of an int8 tensor gives its raw
values, not its real values (measured with ai-edge-litert 2.3.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import OpContext

#: the types refinterp converts between (LiteRT 2.3.0 takes every pair of them)
CAST_TYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "float16", "float32", "float64",
              "bool")


@dataclass(frozen=True)
class CastParams:
    dtype: np.dtype


def prepare_cast(ctx: OpContext) -> CastParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    ctx.check_dtype(x, CAST_TYPES, "input")
    ctx.check_dtype(y, CAST_TYPES, "output")
    ctx.set_output_shape(0, ctx.shape(x))
    return CastParams(y.dtype)


def _float16_bits_from_float32(value: np.ndarray) -> np.ndarray:
    """``fp16_ieee_from_fp32_value``: float32 to half, ties to even; a NaN becomes 0x7E00 with its sign."""
    half = value.astype(np.float16)
    bits = half.view(np.uint16).copy()
    nan = np.isnan(value)
    sign = (value.view(np.uint32) >> 16).astype(np.uint16) & np.uint16(0x8000)
    bits[nan] = sign[nan] | np.uint16(0x7E00)
    return bits


def cast_spec(p: CastParams, x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # NaN, infinities and overflow are part of the rule
        return _cast(np.asarray(x), p.dtype)


def _cast(x: np.ndarray, out: np.dtype) -> np.ndarray:
    if out == np.bool_:
        return x != 0
    if x.dtype == np.bool_:
        return x.astype(out)
    if out == np.float16:
        as_float = x.astype(np.float32)
        return _float16_bits_from_float32(as_float).view(np.float16).reshape(x.shape)
    if out.kind == "f":
        if x.dtype == np.float16:  # half to float first (Eigen), which quiets a signaling NaN
            x = x.astype(np.float32)
        return x.astype(out)
    if x.dtype.kind == "f":
        info = np.iinfo(out)
        value = x.astype(np.float64)  # exact for half, float and double
        nan = np.isnan(value)
        high = value >= float(info.max) + 1.0  # float(INT64_MAX) + 1 is 2**63: the exact bound
        low = value < float(info.min)
        inside = np.where(nan | high | low, 0.0, np.trunc(value)).astype(np.int64)
        return np.where(nan | high, info.max, np.where(low, info.min, inside)).astype(out)
    return x.astype(out)  # integer to integer: two's-complement wrap, as static_cast



# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_cast(ctx: OpContext, p: CastParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """CAST output ``index``: the input value and the conversion rule (module docstring) that gives the output."""
    x = np.asarray(inputs[0])
    value = x[index]
    trace.add("input", value.item(), f"input at {list(index)}, {x.dtype} (scales and zero points are not read)")
    out = p.dtype
    if out == np.bool_:
        rule = "value != 0 (a NaN is true, -0.0 false)"
    elif x.dtype == np.bool_:
        rule = "false -> 0, true -> 1"
    elif out == np.float16:
        rule = ("to float32 first, then to half, ties to even (fp16_ieee_from_fp32_value)" if x.dtype != np.float32
                else "to half, ties to even (fp16_ieee_from_fp32_value)")
    elif out.kind == "f":
        rule = f"the nearest {out}, ties to even" + (" (half to float first)" if x.dtype == np.float16 else "")
    elif x.dtype.kind == "f":
        info = np.iinfo(out)
        rule = f"truncated toward zero, clamped to [{info.min}, {info.max}] (SaturatingCastFloatingToInteger; NaN " \
               "gives the maximum)"
    else:
        rule = f"static_cast<{out}>: two's-complement wrap to {out.itemsize * 8} bits"
    result = cast_spec(p, np.asarray([value]))[0]
    trace.add("output", result.item(), rule, rule="round to nearest, ties to even" if out.kind == "f" and
              x.dtype != out else "truncate toward zero" if x.dtype.kind == "f" and out.kind in "iu" else "")
    if out.kind == "f" and x.dtype != np.bool_:
        with np.errstate(all="ignore"):
            trace.approximates(float(np.asarray(value).astype(np.float64)))
    return result.item()
