"""Real values of tensors: TFLite's DEQUANTIZE and QUANTIZE rules, per tensor or per channel."""

from __future__ import annotations

import numpy as np

from refinterp.model import Tensor
from refinterp.quant import DTYPE_RANGES, round_half_away_f32

#: Tensor types whose values are ``scale * (q - zero_point)`` when the tensor carries quantization.
QUANTIZED_TYPES = ("int8", "uint8", "int16", "int32")


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


def same_qparams(a: Tensor, b: Tensor) -> bool:
    """Both tensors have the same type and the same per-tensor (scale, zero point)."""
    qa, qb = a.quantization, b.quantization
    return (a.type_name == b.type_name and qa is not None and qb is not None and qa.scale.size == qb.scale.size == 1
            and float(qa.scale[0]) == float(qb.scale[0]) and int(qa.zero_point[0]) == int(qb.zero_point[0]))
