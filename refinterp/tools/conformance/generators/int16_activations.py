"""Random single-operator cases for the int16x8 activations, reductions, pools and resizes (issue 12), and
LOG_SOFTMAX uint8 (issue 11).

int16 tensors are symmetric (zero point 0). Drawn:

* LOGISTIC / TANH int16: input scales at the power of two each kernel takes as such (2**-12; TANH also
  2**-11), a hair off it (CheckedLog2's 1e-3 tolerance), other powers of two (the general rule), log-uniform
  scales from 1e-5 to 1 and now and then up to 8 (multipliers above 32767), every int16 value now and then.
  Output 2**-15. Probes: an output scale of 2**-14, zero points not 0 (both runtimes reject); an output scale
  within CheckedLog2's tolerance of 2**-15 but not equal: LiteRT's LOGISTIC rejects it, TFLM runs it (and
  TANH takes it on both).
* SOFTMAX int16 -> int16: beta 1 or drawn, input scales 1e-5 to 1e-1 (and rarely up to 1), rows up to 600
  wide, narrow rows (many near the maximum). Output (1/32768, 0); within 0.1% is valid. Probes: output zero
  point not 0, scale 1% off, input zero point not 0 (both reject). A 5-D input runs on LiteRT (not compared on
  TFLM).
* MEAN, REDUCE_MAX, REDUCE_MIN, MAX_POOL_2D, AVERAGE_POOL_2D, RESIZE_BILINEAR int16: see their generators.
  SUM int16 is not drawn (LiteRT 2.3.0's reference SUM reads int16 tensors as uint8 bytes: refused).
* LOG_SOFTMAX uint8 (``gen_log_softmax_uint8``; its kernel lives in refinterp/ops/unary_math.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    ACTIVATIONS,
    TFLM_AS_LITERT,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    TFLM_VALID,
    Case,
    Generator,
    case,
    choice,
    declared_out_hw,
    f32,
    int_values,
    log_uniform,
    window_edge,
    window_geometry,
    window_options,
)

OUT_SCALE_15 = 1.0 / 32768


def _int16_values(rng: np.random.Generator, shape: tuple[int, ...], spread: float | None = None) -> np.ndarray:
    """int16 values over the whole range, or normal with the given spread (clipped)."""
    if spread is None:
        return int_values(rng, shape, "int16")
    return np.clip(np.round(rng.standard_normal(shape) * spread), -32768, 32767).astype(np.int16)


def _activation_shape(rng: np.random.Generator, max_last: int = 40) -> tuple[int, ...]:
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 5, rank)]
    shape[-1] = int(rng.integers(1, max_last))
    return tuple(shape)


def gen_sigmoid_like_int16(rng: np.random.Generator, op: str) -> Case:
    """LOGISTIC / TANH int16; see the module docstring."""
    pot_scales = (2.0 ** -12,) if op == "LOGISTIC" else (2.0 ** -12, 2.0 ** -11)
    draw = rng.random()
    if draw < 0.25:
        input_scale, scale_kind = float(choice(rng, pot_scales)), "pot"
    elif draw < 0.32:
        input_scale, scale_kind = f32(float(choice(rng, pot_scales)) * (1 + float(rng.uniform(-4e-4, 4e-4)))), \
            "near pot"
    elif draw < 0.42:
        input_scale, scale_kind = 2.0 ** int(rng.integers(-16, 0)), "other power of two"
    elif draw < 0.95:
        input_scale, scale_kind = log_uniform(rng, 1e-5, 1.0), "random"
    else:
        input_scale, scale_kind = log_uniform(rng, 1.0, 8.0), "large"
    params: dict[str, Any] = {"input_scale": input_scale, "scale_kind": scale_kind}
    if rng.random() < 0.2:
        x = np.arange(-32768, 32768, dtype=np.int16)
        rng.shuffle(x)
        params["values"] = "every int16"
    else:
        shape = _activation_shape(rng)
        spread = None if rng.random() < 0.5 else float(2 ** rng.uniform(4, 15))
        x = _int16_values(rng, shape, spread)
        params["values"] = f"{shape} spread {spread}"
    input_zp, output_q = 0, (OUT_SCALE_15, 0)
    probe, edge, tflm = None, None, TFLM_AS_LITERT
    draw = rng.random()
    if draw < 0.03:
        output_q, probe = (2.0 ** -14, 0), "output scale 2**-14"
    elif draw < 0.05:
        output_q, probe = (OUT_SCALE_15, int(choice(rng, (-1, 1, 5)))), "output zero point not 0"
    elif draw < 0.07:
        input_zp, probe = int(choice(rng, (-3, 1, 100))), "input zero point not 0"
    elif draw < 0.11:
        output_q = (f32(OUT_SCALE_15 * (1 + 2e-4)), 0)
        if op == "LOGISTIC":
            probe, tflm = "output scale near but not exactly 2**-15", TFLM_VALID
        else:
            edge = "output scale near 2**-15"
    params.update(input_zp=input_zp, output_q=output_q)
    model = single_op_model(op, [TensorSpec(x.shape, "int16", input_scale, input_zp)],
                            [TensorSpec(x.shape, "int16", *output_q)])
    return case(op, "int16", model, [x], params, probe, edge, tflm)


def gen_softmax_int16(rng: np.random.Generator, kind: str) -> Case:
    """SOFTMAX int16 -> int16; see the module docstring."""
    shape = list(_activation_shape(rng))
    if rng.random() < 0.1:  # wide rows, few of them (TFLM's test arena is small)
        shape = [int(rng.integers(1, 4)), int(rng.integers(100, 600))]
    beta = 1.0 if rng.random() < 0.7 else f32(log_uniform(rng, 0.1, 4.0))
    input_scale = log_uniform(rng, 1e-5, 1e-1) if rng.random() < 0.95 else log_uniform(rng, 1e-1, 1.0)
    input_zp, output_q = 0, (OUT_SCALE_15, 0)
    probe, edge, tflm = None, None, TFLM_AS_LITERT
    draw = rng.random()
    if draw < 0.03:
        output_q, probe = (OUT_SCALE_15, int(choice(rng, (-32768, 1)))), "output zero point not 0"
    elif draw < 0.05:
        output_q, probe = (f32(OUT_SCALE_15 * 1.01), 0), "output scale 1% off 1/32768"
    elif draw < 0.07:
        input_zp, probe = int(choice(rng, (-5, 7))), "input zero point not 0"
    elif draw < 0.09:
        shape, edge, tflm = [1, 2, 1, 2, shape[-1]], "5-D input", TFLM_NOT_COMPARED
    elif draw < 0.13:
        output_q, edge = (f32(OUT_SCALE_15 * (1 + 0.0005)), 0), "output scale within 0.1% of 1/32768"
    shape_t = tuple(shape)
    params: dict[str, Any] = {"shape": shape_t, "beta": beta, "input_q": (input_scale, input_zp),
                              "output_q": output_q}
    layout = rng.random()
    if layout < 0.1 and not probe and not edge:
        # rows (0, -k), k over a range: sums over the whole 1/(1+x) table, where LiteRT's (double) and TFLM's
        # (float) tables differ in two entries
        start = int(rng.integers(0, 30000))
        shape_t = (int(rng.integers(200, 1200)), 2)
        x = np.zeros(shape_t, np.int16)
        x[:, 1] = -np.arange(start, start + shape_t[0])
        params.update(shape=shape_t, values=f"rows (0, -k), k from {start}")
    elif layout < 0.35:  # a narrow spread: many elements near the row maximum
        x = rng.integers(30000, 32768, size=shape_t).astype(np.int16)
        params["values"] = "narrow"
    else:
        x = _int16_values(rng, shape_t, None if rng.random() < 0.5 else float(2 ** rng.uniform(2, 15)))
    model = single_op_model("SOFTMAX", [TensorSpec(shape_t, "int16", input_scale, input_zp)],
                            [TensorSpec(shape_t, "int16", *output_q)], {"beta": beta})
    return case("SOFTMAX", kind, model, [x], params, probe, edge, tflm)


def gen_reduce_int16(rng: np.random.Generator, op: str) -> Case:
    """MEAN, REDUCE_MAX, REDUCE_MIN int16 over any axes (negative, repeated), keep_dims or not, big reductions
    (MEAN's 1/N folded into the multiplier). MEAN output scales: equal, random, tiny (saturating). Probes: zero
    points not 0 (LiteRT rejects; TFLM's MEAN runs it, applying them), an axis out of range (LiteRT rejects;
    TFLM reads outside the shape: undefined there), REDUCE_MAX/MIN with output quantization != input's.
    (SUM int16 is not drawn: LiteRT 2.3.0's reference SUM reads int16 tensors as uint8 bytes. TFLM has no int16
    REDUCE_MAX/MIN kernel.)"""
    probes, tflm = [], TFLM_AS_LITERT
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    if rng.random() < 0.1:
        shape, rank = (1, int(rng.integers(10, 50)), int(rng.integers(10, 50)), int(rng.integers(1, 5))), 4
    axes = [int(a) for a in rng.choice(rank, size=int(rng.integers(1, rank + 1)), replace=False)]
    axes = [a - rank if rng.random() < 0.3 else a for a in axes]
    if rng.random() < 0.1:
        axes.append(axes[0] + (rank if axes[0] < 0 else -rank))
    if rng.random() < 0.02:
        axes.append(rank + int(rng.integers(0, 2)))
        probes.append("axis out of range")
        tflm = TFLM_UNDEFINED
    keep_dims = bool(rng.random() < 0.5)
    resolved = {a % rank for a in axes if -rank <= a < rank}
    reduced = int(np.prod([shape[d] for d in resolved])) if resolved else 1
    output_shape = tuple(1 if d in resolved else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in resolved)
    input_q = (log_uniform(rng, 1e-5, 1e-1), 0)
    draw = rng.random()
    if op in ("REDUCE_MAX", "REDUCE_MIN"):
        output_q, scales = input_q, "same"
        if draw < 0.04:
            output_q = (f32(input_q[0] * 2.0), 0)
            probes.append("output quantization differs from the input's")
    elif draw < 0.2:
        output_q, scales = input_q, "same"
    elif draw < 0.25:
        output_q, scales = (f32(input_q[0] * 2.0 ** rng.uniform(-12, -4)), 0), "tiny"
    elif op == "SUM" and draw < 0.7:
        output_q, scales = (f32(input_q[0] * reduced * 2.0 ** rng.uniform(-2, 0.5)), 0), "N times"
    else:
        output_q, scales = (f32(input_q[0] * 2.0 ** rng.uniform(-3, 3)), 0), "random"
    if rng.random() < 0.03:
        which = choice(rng, ("input", "output"))
        if which == "input":
            input_q = (input_q[0], int(choice(rng, (-7, 3))))
            if op in ("REDUCE_MAX", "REDUCE_MIN"):
                output_q = input_q
        else:
            output_q = (output_q[0], int(choice(rng, (-7, 3))))
        probes.append(f"{which} zero point not 0")
        tflm = TFLM_VALID if tflm == TFLM_AS_LITERT else tflm  # TFLM checks nothing and applies the zero points
    params: dict[str, Any] = {"shape": shape, "axes": axes, "keep_dims": keep_dims, "input_q": input_q,
                              "output_q": output_q, "scales": scales}
    axis_spec = TensorSpec((len(axes),), "int32", data=np.array(axes, dtype=np.int32))
    model = single_op_model(op, [TensorSpec(shape, "int16", *input_q), axis_spec],
                            [TensorSpec(output_shape, "int16", *output_q)], {"keep_dims": keep_dims})
    x = _int16_values(rng, shape, None if rng.random() < 0.6 else float(2 ** rng.uniform(2, 15)))
    if rng.random() < 0.15:  # values near one end: sums far from zero, outputs that saturate
        x = (rng.integers(30000, 32768, size=shape) * (1 if rng.random() < 0.5 else -1)).astype(np.int16)
        params["values"] = "near one end"
    return case(op, "int16", model, [x], params, "; ".join(probes) or None, tflm=tflm)


def gen_pool_int16(rng: np.random.Generator, op: str) -> Case:
    """MAX_POOL_2D / AVERAGE_POOL_2D int16: the window geometry of the int8 cases (SAME/VALID, VALID windows
    larger than the input: empty outputs, not compared on TFLM), every fused activation (RELU6 and RELU_N1_TO_1
    clamp within the int16 range), sums of many large values; now and then a zero point not 0 (neither runtime
    checks it; the activation clamp moves)."""
    g = window_geometry(rng, dilate=False, empty_rate=0.05, large_kernel_rate=0.1)
    batch, channels = int(choice(rng, (1, 1, 2))), int(rng.integers(1, 6))
    activation = choice(rng, ACTIVATIONS)
    input_shape = (batch, g["height"], g["width"], channels)
    output_shape = (batch, *declared_out_hw(g), channels)
    options = window_options(g, activation, dilation=False)
    params: dict[str, Any] = {**g, "batch": batch, "channels": channels, "activation": activation}
    del params["dilation"]
    edge = window_edge(g)
    tflm = TFLM_NOT_COMPARED if edge else TFLM_AS_LITERT
    scale = log_uniform(rng, 1e-5, 1e-1) if rng.random() < 0.8 else log_uniform(rng, 1e-1, 2.0)
    q = (scale, 0)
    if rng.random() < 0.03:  # neither runtime checks it: only the activation's clamp moves
        q, edge = (scale, int(choice(rng, (-3, 4)))), "; ".join(filter(None, (edge, "zero point not 0")))
    params["q"] = q
    model = single_op_model(op, [TensorSpec(input_shape, "int16", *q)], [TensorSpec(output_shape, "int16", *q)],
                            options)
    x = _int16_values(rng, input_shape, None if rng.random() < 0.6 else float(2 ** rng.uniform(2, 15)))
    return case(op, "int16", model, [x], params, edge=edge, tflm=tflm)


def gen_resize_bilinear_int16(rng: np.random.Generator, kind: str) -> Case:
    """RESIZE_BILINEAR int16 (the 10-bit integer rule of int8), up or down, every flag combination LiteRT takes,
    values over the whole range (the int64 accumulator's rounding at both ends). Probe: align_corners and
    half_pixel_centers both true. (TFLM has no int16 kernel: not compared there.)"""
    probe = None
    batch, channels = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    in_h, in_w = (int(v) for v in rng.integers(1, 9, 2))
    out_h, out_w = (int(v) for v in rng.integers(1, 17, 2))
    flags = choice(rng, ((False, False), (True, False), (False, True), (False, True)))
    if rng.random() < 0.03:
        flags, probe = (True, True), "align_corners and half_pixel_centers"
    q = (log_uniform(rng, 1e-5, 1e-1), 0)
    shape = (batch, in_h, in_w, channels)
    model = single_op_model("RESIZE_BILINEAR", [TensorSpec(shape, "int16", *q),
                                                TensorSpec((2,), "int32", data=np.array([out_h, out_w], np.int32))],
                            [TensorSpec((batch, out_h, out_w, channels), "int16", *q)],
                            {"align_corners": flags[0], "half_pixel_centers": flags[1]})
    params = {"in": shape, "out": (out_h, out_w), "align_corners": flags[0], "half_pixel_centers": flags[1],
              "q": q}
    x = _int16_values(rng, shape, None if rng.random() < 0.7 else float(2 ** rng.uniform(2, 15)))
    return case("RESIZE_BILINEAR", kind, model, [x], params, probe)


def gen_log_softmax_uint8(rng: np.random.Generator, kind: str = "uint8") -> Case:
    """LOG_SOFTMAX uint8 (LiteRT only; ``reference_ops::LogSoftmax<uint8_t>``): output (16/256, 255) as LiteRT
    requires; input scales 1e-3 to 1 (and rarely to 8), any zero point, narrow rows now and then. Probes: output
    zero point 127, output scale 1/256 (both rejected)."""
    shape = _activation_shape(rng, max_last=60)
    input_scale = log_uniform(rng, 1e-3, 1.0) if rng.random() < 0.95 else log_uniform(rng, 1.0, 8.0)
    input_q, output_q, probe = (input_scale, int(rng.integers(0, 256))), (16.0 / 256, 255), None
    draw = rng.random()
    if draw < 0.03:
        output_q, probe = (16.0 / 256, 127), "output zero point 127"
    elif draw < 0.06:
        output_q, probe = (1.0 / 256, 255), "output scale 1/256"
    x = int_values(rng, shape, "uint8")
    if rng.random() < 0.3:
        x = rng.integers(200, 256, size=shape).astype(np.uint8)
    model = single_op_model("LOG_SOFTMAX", [TensorSpec(shape, "uint8", *input_q)],
                            [TensorSpec(shape, "uint8", *output_q)])
    return case("LOG_SOFTMAX", kind, model, [x], {"shape": shape, "input_q": input_q, "output_q": output_q},
                probe)


def _table() -> dict[tuple[str, str], Generator]:
    table: dict[tuple[str, str], Generator] = {
        ("LOGISTIC", "int16"): lambda rng: gen_sigmoid_like_int16(rng, "LOGISTIC"),
        ("TANH", "int16"): lambda rng: gen_sigmoid_like_int16(rng, "TANH"),
        ("SOFTMAX", "int16->int16"): lambda rng: gen_softmax_int16(rng, "int16->int16"),
    }
    table[("RESIZE_BILINEAR", "int16")] = lambda rng: gen_resize_bilinear_int16(rng, "int16")
    table[("LOG_SOFTMAX", "uint8")] = lambda rng: gen_log_softmax_uint8(rng)
    for op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        table[(op, "int16")] = (lambda o: lambda rng: gen_pool_int16(rng, o))(op)
    for op in ("MEAN", "REDUCE_MAX", "REDUCE_MIN"):
        table[(op, "int16")] = (lambda o: lambda rng: gen_reduce_int16(rng, o))(op)
    return table


GENERATORS: dict[tuple[str, str], Generator] = _table()
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset({
    ("LOGISTIC", "int16"), ("TANH", "int16"), ("SOFTMAX", "int16->int16"),
    ("MEAN", "int16"), ("MAX_POOL_2D", "int16"), ("AVERAGE_POOL_2D", "int16"),
})

__all__ = ["GENERATORS", "TFLM_KINDS", "Case"]
