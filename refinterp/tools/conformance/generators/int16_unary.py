"""Random single-operator cases for the int16 kinds of ABS, NEG, PRELU, REDUCE_PROD and MUL int16 -> int8 / uint8
(issue 12).

ABS int16: with quantization parameters (zero points 0; scales equal 20% of the time, else a ratio from 2**-20 to
2**16: saturation at -32768 and 32767 included) or without (``AbsInt16EvalImpl``: the raw absolute value, -32768
stays -32768); every int16 value (half the cases) or a random tensor. Probe: a nonzero zero point (LiteRT and
TFLM reject it at Prepare). Compared against TFLM too.

NEG int16: raw values with any quantization parameters, or none (LiteRT ignores them); -32768 wraps.

PRELU int16 (int16x8: int16 input and output, int8 alpha): alpha of any shape that broadcasts to the input's
(ranks 1 to 4, batch up to 3), constant or an input; independent input, alpha and output scales (extreme ratios
too: saturation). 15% of the cases give the tensors nonzero zero points (neither runtime checks them; both apply
them). Compared against TFLM too (its multipliers are computed in double). Not drawn: an int16 alpha (TFLM
rejects it, LiteRT reads its bytes as int8; refinterp refuses it).

REDUCE_PROD int16: any axes (negative, repeated), keep_dims or not, output scales near the typical product's so
that results neither all saturate nor all vanish (and now and then do); small values too. Probes: a nonzero
zero point (LiteRT's PrepareSimple rejects it), an axis out of range. TFLM has no REDUCE_PROD.

MUL int16 -> int8 / uint8: equal shapes or equal flat sizes of different ranks (the kernel reads flat arrays
and aborts the process on broadcasting, so that is never drawn), any scales (unused by the kernel), any input
zero points (unused) and output zero point, every activation; values over the whole int16 range with
-32768 * -32768 (the saturating doubling multiply) now and then. Probe: an int8 second input (LiteRT rejects).
TFLM has no such kernel (it writes its int16 result into the 8-bit output): not compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    TFLM_UNDEFINED,
    Case,
    Generator,
    case,
    choice,
    f32,
    int_values,
    join,
    log_uniform,
    random_shape,
    zero_point,
)
from refinterp.tools.conformance.generators.int16_elementwise import every_int16_or_random, int16_values


def _nonzero_zero_point(rng: np.random.Generator) -> int:
    return int(choice(rng, (1, -1, 100, -32768, 32767, int(rng.integers(-32768, 32768)) or 7)))


def gen_abs_int16(rng: np.random.Generator) -> Case:
    """ABS int16; see the module docstring."""
    x, layout = every_int16_or_random(rng)
    params: dict[str, Any] = {"shape": x.shape, "values": layout}
    if rng.random() < 0.25:
        params["quantization"] = "none"
        model = single_op_model("ABS", [TensorSpec(x.shape, "int16")], [TensorSpec(x.shape, "int16")])
        return case("ABS", "int16", model, [x], params)
    s_in = log_uniform(rng, 1e-6, 1.0)
    draw = rng.random()
    if draw < 0.2:
        s_out = s_in
    elif draw < 0.85:
        s_out = f32(s_in * 2.0 ** rng.uniform(-3, 3))
    else:
        s_out = f32(s_in * 2.0 ** rng.uniform(-16, 20))  # extreme ratios: saturation, or everything to 0 or 1
    zps = [0, 0]
    probe = None
    if rng.random() < 0.05:
        zps[int(rng.integers(2))] = _nonzero_zero_point(rng)
        probe = "int16 zero point not 0"
    params.update(input_q=(s_in, zps[0]), output_q=(s_out, zps[1]))
    model = single_op_model("ABS", [TensorSpec(x.shape, "int16", s_in, zps[0])],
                            [TensorSpec(x.shape, "int16", s_out, zps[1])])
    return case("ABS", "int16", model, [x], params, probe)


def gen_neg_int16(rng: np.random.Generator) -> Case:
    """NEG int16; see the module docstring."""
    x, layout = every_int16_or_random(rng)
    quantized = rng.random() < 0.6
    q_in = (log_uniform(rng, 1e-5, 1.0), 0 if rng.random() < 0.7 else zero_point(rng, "int16")) if quantized \
        else (None, None)
    q_out = (log_uniform(rng, 1e-5, 1.0), 0 if rng.random() < 0.7 else zero_point(rng, "int16")) if quantized \
        else (None, None)
    model = single_op_model("NEG", [TensorSpec(x.shape, "int16", *q_in)], [TensorSpec(x.shape, "int16", *q_out)])
    params = {"shape": x.shape, "values": layout, "input_q": q_in, "output_q": q_out}
    return case("NEG", "int16", model, [x], params)


def gen_prelu_int16(rng: np.random.Generator) -> Case:
    """PRELU int16; see the module docstring."""
    shape = random_shape(rng, 1, 4, 5)
    if len(shape) == 4 and rng.random() < 0.5:
        shape = (int(rng.integers(2, 4)), *shape[1:])  # batch > 1
    alpha_shape = tuple(1 if rng.random() < 0.5 else d for d in shape[int(rng.integers(len(shape))):])
    constant = rng.random() < 0.8
    s_in, s_alpha = log_uniform(rng, 1e-5, 1e-1), log_uniform(rng, 1e-4, 5e-2)
    s_out = f32(s_in * 2.0 ** (rng.uniform(-3, 3) if rng.random() < 0.85 else rng.uniform(-12, 10)))
    zps = [0, 0, 0]
    edge = None
    if rng.random() < 0.15:
        zps = [_nonzero_zero_point(rng) if rng.random() < 0.6 else 0, zero_point(rng, "int8"),
               _nonzero_zero_point(rng) if rng.random() < 0.6 else 0]
        edge = "nonzero zero points (applied)"
    x, note = int16_values(rng, shape)
    alpha, alpha_note = int_values(rng, alpha_shape, "int8"), "int8"
    model = single_op_model("PRELU", [TensorSpec(shape, "int16", s_in, zps[0]),
                                      TensorSpec(alpha_shape, "int8", s_alpha, zps[1],
                                                 data=alpha if constant else None)],
                            [TensorSpec(shape, "int16", s_out, zps[2])])
    params = {"shape": shape, "alpha_shape": alpha_shape, "alpha_constant": constant,
              "scales": (s_in, s_alpha, s_out), "zero_points": zps, "values": (note, alpha_note)}
    return case("PRELU", "int16", model, [x] if constant else [x, alpha], params, edge=edge)


def _axes(rng: np.random.Generator) -> tuple[tuple[int, ...], list[int], list[str]]:
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 6, rank))
    if rank == 4 and rng.random() < 0.5:
        shape = (int(rng.integers(2, 4)), *shape[1:])
    axes = [int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False)]
    axes = [a - rank if rng.random() < 0.3 else a for a in axes]
    if rng.random() < 0.1:
        axes.append(axes[0] + (rank if axes[0] < 0 else -rank))  # the same axis twice
    probes = []
    if rng.random() < 0.02:
        axes.append(rank + int(rng.integers(0, 2)))
        probes.append("axis out of range")
    return shape, axes, probes


def gen_reduce_prod_int16(rng: np.random.Generator) -> Case:
    """REDUCE_PROD int16; see the module docstring."""
    shape, axes, probes = _axes(rng)
    rank = len(shape)
    keep_dims = bool(rng.random() < 0.5)
    resolved = {a % rank for a in axes if -rank <= a < rank}
    output_shape = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    reduced = max(1, int(np.prod([shape[a] for a in resolved])) if resolved else 1)
    draw = rng.random()
    if draw < 0.7:
        x, values = int_values(rng, shape, "int16"), "full range"
        typical = 16384.0
    else:
        magnitude = int(2 ** rng.integers(1, 9))
        x, values = rng.integers(-magnitude, magnitude + 1, size=shape).astype(np.int16), f"within +-{magnitude}"
        typical = magnitude / 2
    s_in = log_uniform(rng, 1e-5, 1e-2)
    # the typical product (typical * s_in) ** N, as ~typical output steps, give or take 2**4
    log2_out = reduced * np.log2(typical * s_in) - np.log2(typical) + rng.uniform(-4, 4)
    # keep the per-step scaling s_in / s_out ** (1 / N) below 2**12 (LiteRT's int64 MBQM shifts left by at
    # most 14) and the output scale a normal float32
    log2_out = max(log2_out, reduced * (np.log2(s_in) - 12), -120)
    s_out = f32(2.0 ** min(log2_out, 60))
    zps = [0, 0]
    if rng.random() < 0.04:
        zps[int(rng.integers(2))] = _nonzero_zero_point(rng)
        probes.append("int16 zero point not 0")
    axis_spec = TensorSpec((len(axes),), "int32", data=np.array(axes, dtype=np.int32))
    model = single_op_model("REDUCE_PROD", [TensorSpec(shape, "int16", s_in, zps[0]), axis_spec],
                            [TensorSpec(output_shape, "int16", s_out, zps[1])], {"keep_dims": keep_dims})
    params = {"shape": shape, "axes": axes, "keep_dims": keep_dims, "scales": (s_in, s_out), "zero_points": zps,
              "values": values}
    return case("REDUCE_PROD", "int16", model, [x], params, join(*probes))


def gen_mul_int16_to_8bit(rng: np.random.Generator, out_dtype: str) -> Case:
    """MUL int16 -> int8 / uint8; see the module docstring."""
    shape1 = random_shape(rng, 1, 4, 5)
    if len(shape1) == 4 and rng.random() < 0.5:
        shape1 = (int(rng.integers(2, 4)), *shape1[1:])
    shape2 = shape1
    draw = rng.random()
    if draw < 0.1:
        shape2 = (1, *shape1)  # equal sizes, different ranks: broadcasting is not needed, the kernel runs flat
    elif draw < 0.2 and len(shape1) > 1 and shape1[0] == 1:
        shape2 = shape1[1:]
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape1, shape2))
    scales = [log_uniform(rng, 1e-8, 10.0) for _ in range(3)]
    zps = [0, 0, zero_point(rng, out_dtype)]
    edges = []
    if rng.random() < 0.15:
        zps[0], zps[1] = _nonzero_zero_point(rng), _nonzero_zero_point(rng)
        edges.append("nonzero input zero points (unused)")
    activation = choice(rng, ACTIVATIONS)
    (x1, note1), (x2, note2) = int16_values(rng, shape1), int16_values(rng, shape2)
    if rng.random() < 0.2:
        x1.reshape(-1)[0], x2.reshape(-1)[0] = -32768, -32768
        edges.append("-32768 * -32768")
    second_type, probe = "int16", None
    if rng.random() < 0.03:
        second_type, probe = "int8", "second input int8"
        x2 = int_values(rng, shape2, "int8")
        scales[1], zps[1] = log_uniform(rng, 1e-3, 1.0), 0
    second_constant = rng.random() < 0.15
    inputs = [TensorSpec(shape1, "int16", scales[0], zps[0]),
              TensorSpec(shape2, second_type, scales[1], zps[1], data=x2 if second_constant else None)]
    model = single_op_model("MUL", inputs, [TensorSpec(out_shape, out_dtype, scales[2], zps[2])],
                            {"fused_activation_function": activation})
    params = {"shapes": (shape1, shape2), "scales": scales, "zero_points": zps, "activation": activation,
              "values": (note1, note2), "second_constant": second_constant}
    return case("MUL", f"int16->{out_dtype}", model, [x1] if second_constant else [x1, x2], params, probe,
                join(*edges), TFLM_UNDEFINED)


GENERATORS: dict[tuple[str, str], Generator] = {
    ("ABS", "int16"): gen_abs_int16,
    ("NEG", "int16"): gen_neg_int16,
    ("PRELU", "int16"): gen_prelu_int16,
    ("REDUCE_PROD", "int16"): gen_reduce_prod_int16,
    ("MUL", "int16->int8"): lambda rng: gen_mul_int16_to_8bit(rng, "int8"),
    ("MUL", "int16->uint8"): lambda rng: gen_mul_int16_to_8bit(rng, "uint8"),
}
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset({("ABS", "int16"), ("PRELU", "int16")})
