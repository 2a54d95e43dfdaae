"""Random single-operator cases for int16x8 elementwise operators (issue 12): ADD, SUB, MUL, LEAKY_RELU,
RELU, RELU6 and QUANTIZE to, from and between int16 (and int32).

ADD / SUB: the general path (``left_shift`` 15) with independent scales, and LiteRT's power-of-two path
(``pot_scale_int16`` true and three power-of-two scales, one input shifted right by 0 to 20 bits, some scales
a hair off a power of two that CheckedLog2 still accepts); the option true with other scales, or false with
power-of-two scales, takes the general path. Shapes broadcast up to 8-D (the power-of-two path: equal sizes,
as its kernel does not broadcast). Output scales keep the general path's output multiplier below 1 (LiteRT's
ADD aborts the process otherwise). Probes: a nonzero zero point (LiteRT rejects; TFLM runs it), power-of-two
input shifts that are both nonzero or positive (LiteRT rejects; TFLM has no power-of-two path and runs it).
MUL: any scales, the int32 product near its limit (+-32768 values). Probe: a nonzero zero point (LiteRT
rejects it at Eval, TFLM at Prepare).

LEAKY_RELU: alpha in [0, 1), above 1, negative, 0, 1 and 0.3 (the seanet models'), output scales equal to the
input's or not; every int16 value (half the cases) or a random tensor. Probe: a nonzero zero point (LiteRT
rejects; TFLM runs it). RELU, RELU6: every int16 value, output parameters equal to the input's or not
(TFLM: RELU requantizes with a double multiplier, RELU6 clamps the raw input). Probe: a nonzero zero point
(LiteRT rejects it; TFLM's RELU too, its RELU6 runs it).

QUANTIZE: float32 -> int16 (ties, saturation, 20% per-channel: LiteRT only), int16 -> int8 / int16 / int32
(the int16 zero point 0, or any for int8 / int32 outputs),
int32 -> int8 / int16 (values near the int32 limits, whose difference with the zero point wraps), int8 / uint8 ->
int16 (every 8-bit value; LiteRT has both, TFLM int8 -> int16 only: uint8 -> int16 is not compared there), scale
ratios from 1/1000 to 1000. Probe: int16 -> int16 with a nonzero zero point (LiteRT rejects; TFLM runs it).

TFLM broadcasts up to 4-D only: higher ranks are not compared there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    INT_RANGES,
    TFLM_AS_LITERT,
    TFLM_INVALID,
    TFLM_NOT_COMPARED,
    TFLM_VALID,
    Case,
    Generator,
    broadcast_pair,
    case,
    choice,
    f32,
    int_values,
    join,
    log_uniform,
    random_shape,
    zero_point,
)


def int16_values(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """The whole int16 range (most cases), small values, or the extremes only."""
    draw = rng.random()
    if draw < 0.7:
        return int_values(rng, shape, "int16"), "full range"
    if draw < 0.85:
        magnitude = int(2 ** rng.integers(1, 12))
        return rng.integers(-magnitude, magnitude + 1, size=shape).astype(np.int16), f"within +-{magnitude}"
    return rng.choice(np.array([-32768, -32767, -1, 0, 1, 32766, 32767], np.int16), size=shape), "extremes"


def _nonzero_zero_point(rng: np.random.Generator) -> int:
    return int(choice(rng, (1, -1, int(rng.integers(-300, 301)) or 5, 100)))


def gen_add_sub_int16(rng: np.random.Generator, op: str) -> Case:
    """ADD / SUB int16; see the module docstring."""
    mode = choice(rng, ("general", "general", "pot", "pot", "pot option, other scales", "pot scales, option off"))
    pot_option = mode in ("pot", "pot option, other scales") or (mode == "general" and rng.random() < 0.5)
    probes: list[str] = []
    tflm = TFLM_AS_LITERT
    if mode in ("pot", "pot scales, option off"):
        shape1 = shape2 = broadcast_pair(rng)[0]
        if rng.random() < 0.15 and len(shape1) > 1 and shape1[0] == 1:
            shape2 = shape1[1:]  # equal sizes, different ranks: the kernel runs flat
        k_out = int(rng.integers(-16, -4))
        shift = int(choice(rng, (0, 0, 1, 2, 3, int(rng.integers(4, 21)))))
        logs = [k_out, k_out - shift] if rng.random() < 0.5 else [k_out - shift, k_out]
        if mode == "pot" and rng.random() < 0.05:
            logs = [k_out - 1, k_out - 2] if rng.random() < 0.5 else [k_out + 1, k_out]
            probes.append("power-of-two input shifts both nonzero or positive")
            tflm = TFLM_VALID  # TFLM takes the general path
        scales = [f32(2.0 ** k) for k in (*logs, k_out)]
        if rng.random() < 0.2:  # a hair off a power of two: CheckedLog2 still calls it one (|frac| < 1e-3)
            i = int(rng.integers(3))
            scales[i] = f32(scales[i] * (1 + float(rng.uniform(-4e-4, 4e-4))))
    else:
        shape1, shape2 = broadcast_pair(rng)
        if rng.random() < 0.15:
            scale = log_uniform(rng, 1e-5, 1e-1)
            scales = [scale, f32(scale * choice(rng, (1, 2, 0.5))), f32(scale * choice(rng, (1, 2, 0.5, 3)))]
        else:
            s1, s2 = log_uniform(rng, 1e-5, 1e-1), log_uniform(rng, 1e-5, 1e-1)
            if rng.random() < 0.5:
                s2 = f32(s1 * 2.0 ** rng.uniform(-3, 3))
            scales = [s1, s2, f32(max(s1, s2) * 2.0 ** rng.uniform(-4, 3))]
        if mode == "pot option, other scales" and all(math.log2(s).is_integer() for s in scales):
            scales[2] = f32(scales[2] * 1.1)
    # keep the general path's output multiplier 2 * max / (2^15 * s_out) below 1 (ADD aborts otherwise)
    scales[2] = max(scales[2], f32(2 * max(scales[0], scales[1]) / 32768 * 1.01))
    zps = [0, 0, 0]
    if rng.random() < 0.04:
        zps[int(rng.integers(3))] = _nonzero_zero_point(rng)
        probes.append("int16 zero point not 0")
        tflm = TFLM_VALID
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    activation = choice(rng, ACTIVATIONS)
    edge = None
    if tflm == TFLM_AS_LITERT and max(len(shape1), len(shape2)) > 4:
        tflm, edge = TFLM_NOT_COMPARED, "rank above 4"
    elif tflm == TFLM_VALID and max(len(shape1), len(shape2)) > 4:
        tflm = TFLM_NOT_COMPARED
    (x1, note1), (x2, note2) = int16_values(rng, shape1), int16_values(rng, shape2)
    second_constant = rng.random() < 0.15
    inputs = [TensorSpec(shape1, "int16", scales[0], zps[0]),
              TensorSpec(shape2, "int16", scales[1], zps[1], data=x2 if second_constant else None)]
    options = {"fused_activation_function": activation, "pot_scale_int16": pot_option}
    model = single_op_model(op, inputs, [TensorSpec(out_shape, "int16", scales[2], zps[2])], options)
    params: dict[str, Any] = {"mode": mode, "pot_scale_int16": pot_option, "shapes": (shape1, shape2),
                              "scales": scales, "zero_points": zps, "activation": activation,
                              "values": (note1, note2), "second_constant": second_constant}
    return case(op, "int16", model, [x1] if second_constant else [x1, x2], params, join(*probes), edge, tflm)


def gen_mul_int16(rng: np.random.Generator) -> Case:
    """MUL int16; see the module docstring."""
    shape1, shape2 = broadcast_pair(rng)
    s1, s2 = log_uniform(rng, 1e-5, 1e-1), log_uniform(rng, 1e-5, 1e-1)
    # a typical product (2^14)^2 * s1 * s2 lands near 2^14 * s_out, give or take a factor 2^4
    s_out = f32(s1 * s2 * 2.0 ** 14 * 2.0 ** rng.uniform(-4, 4))
    if rng.random() < 0.05:
        s_out = f32(s1 * s2 * rng.uniform(0.3, 0.95))  # multiplier above 1: a left shift in MBQM
    scales = [s1, s2, s_out]
    zps = [0, 0, 0]
    probe, tflm = None, TFLM_AS_LITERT
    if rng.random() < 0.04:
        zps[int(rng.integers(3))] = _nonzero_zero_point(rng)
        probe = "int16 zero point not 0"
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    activation = choice(rng, ACTIVATIONS)
    edge = None
    if max(len(shape1), len(shape2)) > 4:
        tflm, edge = TFLM_NOT_COMPARED, None if probe else "rank above 4"
    (x1, note1), (x2, note2) = int16_values(rng, shape1), int16_values(rng, shape2)
    second_constant = rng.random() < 0.15
    inputs = [TensorSpec(shape1, "int16", scales[0], zps[0]),
              TensorSpec(shape2, "int16", scales[1], zps[1], data=x2 if second_constant else None)]
    model = single_op_model("MUL", inputs, [TensorSpec(out_shape, "int16", scales[2], zps[2])],
                            {"fused_activation_function": activation})
    params = {"shapes": (shape1, shape2), "scales": scales, "zero_points": zps, "activation": activation,
              "values": (note1, note2), "second_constant": second_constant}
    return case("MUL", "int16", model, [x1] if second_constant else [x1, x2], params, probe, edge, tflm)


def every_int16_or_random(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Half the time every int16 value once (shuffled, in a random 1-D to 3-D shape), else a random tensor."""
    if rng.random() < 0.5:
        x = np.arange(-32768, 32768, dtype=np.int16)
        rng.shuffle(x)
        return x.reshape(choice(rng, ((65536,), (256, 256), (16, 64, 64), (2, 32768)))), "every value"
    return int16_values(rng, random_shape(rng, max_dim=6))


def gen_leaky_relu_int16(rng: np.random.Generator) -> Case:
    """LEAKY_RELU int16; see the module docstring."""
    draw = rng.random()
    alpha, alpha_kind = ((f32(rng.uniform(0, 1)), "[0,1)") if draw < 0.5 else
                         (f32(rng.uniform(1, 5)), ">1") if draw < 0.65 else
                         (f32(rng.uniform(-2, 0)), "negative") if draw < 0.8 else
                         (0.0, "0") if draw < 0.85 else (1.0, "1") if draw < 0.9 else (f32(0.3), "0.3"))
    x, layout = every_int16_or_random(rng)
    input_scale = log_uniform(rng, 1e-5, 1e-1)
    output_scale = input_scale if rng.random() < 0.3 else f32(input_scale * 2.0 ** rng.uniform(-3, 3))
    zps = [0, 0]
    probe, tflm = None, TFLM_AS_LITERT
    if rng.random() < 0.04:
        zps[int(rng.integers(2))] = _nonzero_zero_point(rng)
        probe, tflm = "int16 zero point not 0", TFLM_VALID
    params = {"alpha": alpha, "alpha_kind": alpha_kind, "shape": x.shape, "values": layout,
              "input_q": (input_scale, zps[0]), "output_q": (output_scale, zps[1])}
    model = single_op_model("LEAKY_RELU", [TensorSpec(x.shape, "int16", input_scale, zps[0])],
                            [TensorSpec(x.shape, "int16", output_scale, zps[1])], {"alpha": alpha})
    return case("LEAKY_RELU", "int16", model, [x], params, probe, tflm=tflm)


def gen_relu_int16(rng: np.random.Generator, op: str) -> Case:
    """RELU / RELU6 int16; see the module docstring."""
    x, layout = every_int16_or_random(rng)
    input_scale = log_uniform(rng, 1e-5, 1e-2) if op == "RELU6" else log_uniform(rng, 1e-5, 1e-1)
    output_scale = input_scale if rng.random() < 0.3 else f32(input_scale * 2.0 ** rng.uniform(-3, 3))
    zps = [0, 0]
    probe, tflm = None, TFLM_AS_LITERT
    if rng.random() < 0.04:
        zps[int(rng.integers(2))] = _nonzero_zero_point(rng)
        probe, tflm = "int16 zero point not 0", TFLM_AS_LITERT if op == "RELU" else TFLM_VALID
    model = single_op_model(op, [TensorSpec(x.shape, "int16", input_scale, zps[0])],
                            [TensorSpec(x.shape, "int16", output_scale, zps[1])])
    params = {"shape": x.shape, "values": layout, "input_q": (input_scale, zps[0]),
              "output_q": (output_scale, zps[1])}
    return case(op, "int16", model, [x], params, probe, tflm=tflm)


def gen_quantize_float_int16(rng: np.random.Generator) -> Case:
    """QUANTIZE float32 -> int16: ties, saturation, per-channel now and then (LiteRT only)."""
    shape = random_shape(rng)
    size = math.prod(shape)
    per_channel = rng.random() < 0.2
    axis = int(rng.integers(len(shape)))
    channels = shape[axis] if per_channel else 1
    scales = [log_uniform(rng, 1e-5, 1e-1) for _ in range(channels)]
    zps = [0] * channels
    q_float = rng.uniform(-32768 - 100, 32767 + 100, size).reshape(shape)
    ties = rng.random(shape) < 0.3
    q_float[ties] = np.floor(q_float[ties]) + 0.5
    bshape = [1] * len(shape)
    bshape[axis] = channels
    scale_b = np.array(scales).reshape(bshape) if per_channel else scales[0]
    x = q_float * scale_b
    far = rng.random(shape) < 0.05
    x[far] = (rng.uniform(-1e6, 1e6, shape) * scale_b)[far]
    x = x.astype(np.float32)
    out = TensorSpec(shape, "int16", scales, zps, quantized_dimension=axis) if per_channel else \
        TensorSpec(shape, "int16", scales[0], 0)
    model = single_op_model("QUANTIZE", [TensorSpec(shape, "float32")], [out])
    params = {"shape": shape, "per_channel_axis": axis if per_channel else None, "scales": scales}
    if channels > 1:
        return case("QUANTIZE", "float32->int16", model, [x], params, edge="per-channel output", tflm=TFLM_INVALID)
    return case("QUANTIZE", "float32->int16", model, [x], params)


def gen_requantize_16_32(rng: np.random.Generator, in_dtype: str, out_dtype: str) -> Case:
    """QUANTIZE int16 -> int8/int16/int32, int32 -> int8/int16, int8/uint8 -> int16; see the module docstring."""
    if in_dtype in ("int8", "uint8"):
        low, high = INT_RANGES[in_dtype]
        x = np.arange(low, high + 1).astype(in_dtype)
        rng.shuffle(x)
        layout = "every value"
        in_q = (log_uniform(rng, 1e-3, 1.0), zero_point(rng, in_dtype))
    elif in_dtype == "int16":
        x, layout = every_int16_or_random(rng)
        in_q = (log_uniform(rng, 1e-5, 1e-1), 0)
        if out_dtype != "int16" and rng.random() < 0.3:  # any zero point (keyword_scrambled's last: -32768)
            in_q = (in_q[0], int(choice(rng, (-32768, zero_point(rng, "int16")))))
    else:
        shape = random_shape(rng, max_dim=6)
        magnitude = int(2 ** rng.integers(8, 32))
        x = rng.integers(max(-magnitude, -2**31), min(magnitude, 2**31 - 1), size=shape, endpoint=True)
        x = x.astype(np.int32)
        layout = f"within +-{magnitude}"
        in_q = (log_uniform(rng, 1e-9, 1e-3), zero_point(rng, "int32") if rng.random() < 0.15 else
                int(rng.integers(-1000, 1001)) if rng.random() < 0.3 else 0)
    ratio = 10 ** rng.uniform(-3, 3) if rng.random() < 0.8 else 1.0
    if out_dtype == "int32":
        ratio = 10 ** rng.uniform(0, 5)
    out_scale = f32(in_q[0] * ratio)
    if in_dtype == "int32" and rng.random() < 0.7:
        # an output scale that maps the typical input onto the output type
        typical = float(np.max(np.abs(x.astype(np.int64) - in_q[1]))) if x.size else 1.0
        out_scale = f32(in_q[0] * max(typical, 1.0) / INT_RANGES[out_dtype][1] * 2.0 ** rng.uniform(-2, 2))
    out_zp = 0 if out_dtype == "int16" else zero_point(rng, out_dtype) if out_dtype == "int8" else \
        int(rng.integers(-1000, 1001))
    probe, tflm = None, TFLM_AS_LITERT
    if out_dtype == "int16" and in_dtype != "int16" and rng.random() < 0.1:
        out_zp = int(choice(rng, (1, -1, zero_point(rng, "int16"))))
    if in_dtype == out_dtype == "int16" and rng.random() < 0.05:
        in_q = (in_q[0], _nonzero_zero_point(rng))
        probe, tflm = "int16 -> int16 zero point not 0", TFLM_VALID
    if out_scale / in_q[0] < 2.0 ** -31 * 4 or in_q[0] / out_scale >= 2.0 ** 29:
        out_scale = f32(in_q[0])
    model = single_op_model("QUANTIZE", [TensorSpec(x.shape, in_dtype, *in_q)],
                            [TensorSpec(x.shape, out_dtype, out_scale, out_zp)])
    params = {"shape": x.shape, "values": layout, "input_q": in_q, "output_q": (out_scale, out_zp)}
    return case("QUANTIZE", f"{in_dtype}->{out_dtype}", model, [x], params, probe, tflm=tflm)


GENERATORS: dict[tuple[str, str], Generator] = {
    ("ADD", "int16"): lambda rng: gen_add_sub_int16(rng, "ADD"),
    ("SUB", "int16"): lambda rng: gen_add_sub_int16(rng, "SUB"),
    ("MUL", "int16"): gen_mul_int16,
    ("LEAKY_RELU", "int16"): gen_leaky_relu_int16,
    ("RELU", "int16"): lambda rng: gen_relu_int16(rng, "RELU"),
    ("RELU6", "int16"): lambda rng: gen_relu_int16(rng, "RELU6"),
    ("QUANTIZE", "float32->int16"): gen_quantize_float_int16,
    ("QUANTIZE", "int16->int8"): lambda rng: gen_requantize_16_32(rng, "int16", "int8"),
    ("QUANTIZE", "int16->int16"): lambda rng: gen_requantize_16_32(rng, "int16", "int16"),
    ("QUANTIZE", "int16->int32"): lambda rng: gen_requantize_16_32(rng, "int16", "int32"),
    ("QUANTIZE", "int32->int8"): lambda rng: gen_requantize_16_32(rng, "int32", "int8"),
    ("QUANTIZE", "int32->int16"): lambda rng: gen_requantize_16_32(rng, "int32", "int16"),
    ("QUANTIZE", "int8->int16"): lambda rng: gen_requantize_16_32(rng, "int8", "int16"),
    ("QUANTIZE", "uint8->int16"): lambda rng: gen_requantize_16_32(rng, "uint8", "int16"),
}
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset({
    ("ADD", "int16"), ("SUB", "int16"), ("MUL", "int16"), ("LEAKY_RELU", "int16"), ("QUANTIZE", "float32->int16"),
    ("QUANTIZE", "int16->int8"), ("QUANTIZE", "int16->int16"), ("QUANTIZE", "int16->int32"),
    ("QUANTIZE", "int32->int8"), ("QUANTIZE", "int32->int16"), ("QUANTIZE", "int8->int16"),
    ("RELU", "int16"), ("RELU6", "int16"),
})
