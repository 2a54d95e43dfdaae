"""Profile "xnnpack", float32 AVERAGE_POOL_2D, MEAN, RESIZE_BILINEAR and HARD_SWISH: XNNPACK's f32 avgpool 9p,
rsum / rdsum, ibilinear and vhswish microkernels (refinterp/ops/emulation/xnnpack_float_reduce.py) held bit for
bit to LiteRT with the XNNPACK delegate on random single-operator models: shapes with odd channel counts (the
microkernels' tails), SAME padding, more than nine pooling taps (several passes), reductions over every axis
combination (rsum and rdsum, several outer reduced dimensions), every resize mode, and inputs with infinities,
NaNs, subnormals and values near overflow. Each case also checks that refinterp decides the delegation as the
delegate does (``delegated_operators``).

The rsum (MEAN over the innermost dimension) emulated is the AVX-512F kernel; an AVX2-only CPU runs 8-lane
kernels (other last bits), so those comparisons need AVX-512F. REFINTERP_RANDOM_CASES sets the cases per
operator.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CPU_SKIP_PREFIX, cpu_flags

from refinterp import Interpreter
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.emulation import xnnpack_float_reduce as xfr
from refinterp.ops.emulation.xnnpack import is_delegated

IN_CI = bool(os.environ.get("CI"))
if not IN_CI:
    pytest.importorskip("ai_edge_litert.interpreter")

from refinterp.runtimes import get_runtime  # noqa: E402

F32 = np.float32
CASES = int(os.environ.get("REFINTERP_RANDOM_CASES") or 60)
SPECIALS = np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 1e-40, -1e-40, -0.0], F32)




#: the MEAN rule is XNNPACK's AVX-512F rsum (16 lanes); an AVX2-only CPU runs the 8-lane AVX kernel
NEEDS_AVX512F = pytest.mark.skipif("avx512f" not in cpu_flags(),
                                   reason=f"{CPU_SKIP_PREFIX} avx512f: XNNPACK runs 8-lane rsum kernels without it")


def _run_both(model: bytes, inputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    """(LiteRT + XNNPACK's output, refinterp's under "xnnpack", delegated there, delegated by refinterp)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        runtime = get_runtime("xnnpack")
        [delegated] = runtime.delegated_operators(str(path))
        expected = runtime.run(str(path), inputs).outputs[0]
    interpreter = Interpreter(model_content=model, profile="xnnpack")
    interpreter.allocate_tensors()
    emulated = is_delegated(interpreter._main.prepared[0].params)
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return expected, interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), delegated, emulated


def _check(model: bytes, inputs: list[np.ndarray], what: str) -> bool:
    expected, got, delegated, emulated = _run_both(model, inputs)
    assert delegated == emulated, f"{what}: the delegate {'takes' if delegated else 'leaves'} it, refinterp not"
    assert expected.shape == got.shape and expected.dtype == got.dtype, what
    differ = np.nonzero(expected.reshape(-1).view(np.uint32) != got.reshape(-1).view(np.uint32))[0]
    assert differ.size == 0, f"{what}: {differ.size}/{got.size} differ, e.g. flat {differ[:4].tolist()}: want " \
        f"{expected.reshape(-1)[differ[:4]]!r} got {got.reshape(-1)[differ[:4]]!r}"
    return delegated


def _random_input(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = (rng.standard_normal(shape) * rng.choice([1e-3, 1.0, 1000.0])).astype(F32)
    if rng.random() < 0.3:
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, 3)] = rng.choice(SPECIALS, 3)
    return x


# ------------------------------------------------------------------------------------------------
# HARD_SWISH


def test_hard_swish_matches_litert_xnnpack_bit_for_bit():
    rng = np.random.default_rng(150)
    random_bits = rng.integers(0, 1 << 32, 1 << 14, dtype=np.uint64).astype(np.uint32).view(F32)
    around_three = np.nextafter(F32(-3), F32(0)) + np.arange(-64, 64, dtype=F32) * F32(2.4e-7)
    edges = np.concatenate([SPECIALS, -SPECIALS, around_three, -around_three, np.array([3, -3, 6, 0.5], F32)])
    for n in (1, 15, 16, 17, 33, 64 + 7):
        x = (rng.standard_normal((1, n)) * 4).astype(F32)
        model = single_op_model("HARD_SWISH", [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")])
        assert _check(model, [x], f"HARD_SWISH n={n}")
    x = np.concatenate([edges, random_bits, (rng.standard_normal(4096) * 8).astype(F32)]).reshape(1, -1)
    model = single_op_model("HARD_SWISH", [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")])
    assert _check(model, [x], "HARD_SWISH edges and random bits")


def test_hard_swish_rule_by_hand():
    """``min(max(fma(x, f32(1/6), 0.5), 0), 1) * x`` with denormals flushed."""
    x = np.array([3.0, -3.0, 1.0, -1e-40, np.nan, 6.0], F32)
    y = xfr.hard_swish_vhswish(xfr.FloatHardSwish(), x)
    assert y[0] == F32(3.0) and y[1].view(np.uint32) == 0x80000000  # 0 * -3 = -0
    assert y[2] == F32(float.fromhex("0x1.555556p-3") + 0.5) and y[3].view(np.uint32) == 0x80000000
    assert np.isnan(y[4]) and y[5] == F32(6.0)


# ------------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D


def _pool_case(rng: np.random.Generator):
    batch, height, width = int(rng.integers(1, 3)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
    channels = int(rng.choice([1, 3, 7, 15, 16, 17, 33]))
    filter_h, filter_w = int(rng.integers(1, min(height, 9) + 1)), int(rng.integers(1, min(width, 9) + 1))
    if rng.random() < 0.2:
        filter_h, filter_w = height, width
    stride_h, stride_w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    padding = str(rng.choice(["SAME", "VALID"]))
    if padding == "VALID":
        out_h, out_w = (height - filter_h) // stride_h + 1, (width - filter_w) // stride_w + 1
    else:
        out_h, out_w = -(-height // stride_h), -(-width // stride_w)
    options = {"padding": padding, "stride_h": stride_h, "stride_w": stride_w, "filter_height": filter_h,
               "filter_width": filter_w,
               "fused_activation_function": str(rng.choice(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))}
    x = _random_input(rng, (batch, height, width, channels))
    model = single_op_model("AVERAGE_POOL_2D", [TensorSpec(x.shape, "float32")],
                            [TensorSpec((batch, out_h, out_w, channels), "float32")], options)
    return model, x, options


def test_average_pool_matches_litert_xnnpack_bit_for_bit():
    rng = np.random.default_rng(151)
    delegated = 0
    for case in range(CASES):
        model, x, options = _pool_case(rng)
        delegated += _check(model, [x], f"AVERAGE_POOL_2D case {case} {x.shape} {options}")
    assert delegated >= CASES // 3


def test_average_pool_with_a_stride_above_the_filter_stays_with_litert():
    x = np.arange(2 * 6 * 6 * 3, dtype=F32).reshape(2, 6, 6, 3) / F32(7)
    for filter_hw, stride in (((2, 1), (1, 2)), ((1, 1), (2, 2)), ((3, 3), (4, 1))):
        options = {"padding": "VALID", "stride_h": stride[0], "stride_w": stride[1], "filter_height": filter_hw[0],
                   "filter_width": filter_hw[1]}
        out = ((6 - filter_hw[0]) // stride[0] + 1, (6 - filter_hw[1]) // stride[1] + 1)
        model = single_op_model("AVERAGE_POOL_2D", [TensorSpec(x.shape, "float32")],
                                [TensorSpec((2, *out, 3), "float32")], options)
        assert not _check(model, [x], f"AVERAGE_POOL_2D {options}")


def test_average_pool_taps_go_column_by_column():
    """The indirection buffer lists the taps kx-major; rows of nine summed as a tree: with one huge value the
    order decides what is absorbed (hand-derived)."""
    x = np.zeros((1, 2, 5, 1), F32)
    x[0, 0, 0, 0], x[0, 1, 0, 0], x[0, 0, 1, 0] = 1e8, -1e8, 1.0
    p = xfr.FloatAveragePool(2, 5, 1, 1, 0, 0, 1, 1, F32(-np.inf), F32(np.inf))
    # column order: i0 = 1e8, i1 = -1e8, i2 = 1 -> (1e8 + -1e8) + ... = 1; row order: 1e8 + 1 absorbs the 1
    assert xfr.average_pool_avgpool9p(p, x)[0, 0, 0, 0] == F32(np.float32(1) * F32(F32(1) / F32(10)))


# ------------------------------------------------------------------------------------------------
# MEAN


def _mean_case(rng: np.random.Generator):
    rank = int(rng.integers(1, 6))
    shape = tuple(int(rng.choice([1, 2, 3, 16, 17, 33, 70, 130])) if rng.random() < 0.3 else int(rng.integers(1, 8))
                  for _ in range(rank))
    while int(np.prod(shape)) > 100_000:
        shape = shape[1:]
    rank = len(shape)
    axes = sorted(rng.choice(rank, int(rng.integers(1, rank + 1)), replace=False).tolist())
    written = [a - rank if rng.random() < 0.2 else a for a in axes]
    keep_dims = bool(rng.random() < 0.5)
    if keep_dims:
        out_shape = tuple(1 if d in axes else s for d, s in enumerate(shape))
    else:
        out_shape = tuple(s for d, s in enumerate(shape) if d not in axes)
    x = _random_input(rng, shape)
    model = single_op_model("MEAN", [TensorSpec(shape, "float32"),
                                     TensorSpec((len(written),), "int32", data=np.array(written, np.int32))],
                            [TensorSpec(out_shape, "float32")], {"keep_dims": keep_dims})
    return model, x, (shape, written, keep_dims)


@NEEDS_AVX512F
def test_mean_matches_litert_xnnpack_bit_for_bit():
    rng = np.random.default_rng(152)
    for case in range(CASES):
        model, x, what = _mean_case(rng)
        assert _check(model, [x], f"MEAN case {case} {what}")


@NEEDS_AVX512F
def test_mean_over_an_outer_and_the_inner_axis_fuses_the_scale():
    """Several rsum calls add ``sum * f32(1/N)`` into the output with one FMA each (``*output += vresult *
    vscale``, contracted); here the plain multiply-then-add gives other last bits for some outputs."""
    rng = np.random.default_rng(153)
    shape = (7, 3, 40)
    x = (rng.standard_normal(shape) * 100).astype(F32)
    model = single_op_model("MEAN", [TensorSpec(shape, "float32"),
                                     TensorSpec((2,), "int32", data=np.array([0, 2], np.int32))],
                            [TensorSpec((3,), "float32")], {"keep_dims": False})
    expected, got, delegated, emulated = _run_both(model, [x])
    assert delegated and emulated and np.array_equal(expected.view(np.uint32), got.view(np.uint32))


def test_mean_of_negative_zeros_is_positive_zero():
    """The output starts at +0 and the microkernels add into it: a mean of -0s is +0 (the reference: -0)."""
    x = np.full((2, 3, 5), -0.0, F32)
    for axes in ((2,), (1,), (0, 2)):
        out_shape = tuple(s for d, s in enumerate(x.shape) if d not in axes)
        model = single_op_model("MEAN", [TensorSpec(x.shape, "float32"),
                                         TensorSpec((len(axes),), "int32", data=np.array(axes, np.int32))],
                                [TensorSpec(out_shape, "float32")], {"keep_dims": False})
        interpreter = Interpreter(model_content=model, profile="xnnpack")
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert y.shape == out_shape and not np.signbit(y).any() and not y.any()


@NEEDS_AVX512F
def test_nan_payloads_come_out_as_on_x86():
    """Many NaNs with payloads and both signs: of two NaN operands x86 returns the first, so which payload comes
    out depends on each addition's compiled operand order (rdsum's remainder path, the rsum fold, ibilinear)."""
    rng = np.random.default_rng(155)
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7FC12345, 0xFFC54321], np.uint32).view(F32)
    for case in range(max(CASES // 3, 4)):
        x = rng.standard_normal((int(rng.integers(1, 3)), int(rng.integers(2, 12)), int(rng.integers(1, 6)),
                                 int(rng.choice([3, 17, 33, 64, 70, 100])))).astype(F32)
        mask = rng.random(x.shape) < 0.3
        x[mask] = rng.choice(nans, int(mask.sum()))
        axes = sorted(rng.choice(4, int(rng.integers(1, 4)), replace=False).tolist())
        out_shape = tuple(s for d, s in enumerate(x.shape) if d not in axes)
        model = single_op_model("MEAN", [TensorSpec(x.shape, "float32"),
                                         TensorSpec((len(axes),), "int32", data=np.array(axes, np.int32))],
                                [TensorSpec(out_shape, "float32")], {"keep_dims": False})
        assert _check(model, [x], f"MEAN NaNs case {case} {x.shape} axes {axes}")
        filter_h, filter_w = int(rng.integers(1, x.shape[1] + 1)), int(rng.integers(1, x.shape[2] + 1))
        options = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "filter_height": filter_h,
                   "filter_width": filter_w}
        model = single_op_model("AVERAGE_POOL_2D", [TensorSpec(x.shape, "float32")],
                                [TensorSpec(x.shape, "float32")], options)
        assert _check(model, [x], f"AVERAGE_POOL_2D NaNs case {case} {x.shape} {options}")
        size = np.array([int(rng.integers(1, 15)), int(rng.integers(1, 15))], np.int32)
        options = {"align_corners": bool(case % 3 == 1), "half_pixel_centers": bool(case % 3 == 2)}
        model = single_op_model("RESIZE_BILINEAR", [TensorSpec(x.shape, "float32"),
                                                    TensorSpec((2,), "int32", data=size)],
                                [TensorSpec((x.shape[0], *size.tolist(), x.shape[3]), "float32")], options)
        assert _check(model, [x], f"RESIZE_BILINEAR NaNs case {case} {x.shape} -> {size.tolist()} {options}")


# ------------------------------------------------------------------------------------------------
# RESIZE_BILINEAR


def test_resize_bilinear_matches_litert_xnnpack_bit_for_bit():
    rng = np.random.default_rng(154)
    for case in range(CASES):
        batch, height, width = int(rng.integers(1, 3)), int(rng.integers(1, 10)), int(rng.integers(1, 10))
        channels = int(rng.choice([1, 3, 4, 5, 8, 9, 17]))
        out_h, out_w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        mode = int(rng.integers(0, 3))
        options = {"align_corners": mode == 1, "half_pixel_centers": mode == 2}
        x = _random_input(rng, (batch, height, width, channels))
        model = single_op_model("RESIZE_BILINEAR", [TensorSpec(x.shape, "float32"),
                                                    TensorSpec((2,), "int32", data=np.array([out_h, out_w], np.int32))],
                                [TensorSpec((batch, out_h, out_w, channels), "float32")], options)
        assert _check(model, [x], f"RESIZE_BILINEAR case {case} {x.shape} -> {(out_h, out_w)} {options}")


def test_resize_bilinear_rule_by_hand():
    """``t = tl + (tr - tl) * a`` (no FMA): 1e8 and 1 at a = 0.5 -> 1 + (1e8 - 1) * 0.5 rounded twice."""
    x = np.array([1.0, 1e8], F32).reshape(1, 1, 2, 1)
    y = xfr.resize_bilinear_ibilinear(xfr.FloatBilinear(False, False, (1, 4)), x)
    half = F32(F32(1) + F32(F32(F32(1e8) - F32(1)) * F32(0.5)))
    assert y.reshape(-1).tolist() == [1.0, float(half), 1e8, 1e8]
