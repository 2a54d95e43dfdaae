"""TFLite's integer primitives, against values worked out by hand from their definitions."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    activation_range,
    cast_to_int32,
    mbqm_nb,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rdbpot_nb,
    round_half_away,
    round_half_away_f32,
    round_half_away_f64,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    srdhm_nb,
    wrap_int32,
)


def test_round_half_away_including_values_where_floor_plus_half_is_wrong():
    assert [round_half_away(v) for v in (2.5, -2.5, 0.5, -0.5, 1.4999, -1.5)] == [3, -3, 1, -1, 1, -2]
    assert round_half_away(0.49999999999999994) == 0  # floor(v + 0.5) would say 1
    assert round_half_away_f64(np.array([0.49999999999999994, 2.0**52 + 1, -2.5])).tolist() == [0, 2.0**52 + 1, -3]
    f32 = np.float32(0.49999997)  # the largest float32 below 0.5: v + 0.5f rounds up to 1.0f
    assert round_half_away_f32(np.array([f32, -f32, 1.5, -1.5, 2.5], np.float32)).tolist() == [0, 0, 2, -2, 3]


def test_cast_to_int32_follows_x86_for_out_of_range_values():
    values = np.array([1.9, -1.9, 2.0**31, -(2.0**31), -(2.0**31) - 1, np.nan, np.inf])
    assert cast_to_int32(values).tolist() == [1, -1, -(2**31), -(2**31), -(2**31), -(2**31), -(2**31)]


def test_quantize_multiplier_by_hand():
    assert quantize_multiplier(0.5) == (1 << 30, 0)  # 0.5 = 0.5 * 2^0
    assert quantize_multiplier(1.0) == (1 << 30, 1)  # 1.0 = 0.5 * 2^1
    assert quantize_multiplier(0.75) == (1610612736, 0)  # 0.75 * 2^31
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0**-40) == (0, 0)  # exponent -39 < -31: flushed to zero
    # q = 1 - 2^-33 rounds up to 2^31 at 31 bits: halved, exponent + 1
    assert quantize_multiplier(1 - 2.0**-33) == (1 << 30, 1)


def test_srdhm_rounds_ties_toward_plus_infinity():
    half = 1 << 30  # Q31 0.5
    a = np.array([1, -1, -3, 3, 100, -(2**31)])
    b = np.array([half, half, half, half, half, -(2**31)])
    # 0.5 -> 1, -0.5 -> 0, -1.5 -> -1, 1.5 -> 2, 50 -> 50, INT32_MIN*INT32_MIN saturates
    expected = [1, 0, -1, 2, 50, 2**31 - 1]
    assert saturating_rounding_doubling_high_mul(a, b).tolist() == expected
    assert [srdhm_nb(int(x), int(y)) for x, y in zip(a, b)] == expected


def test_rounding_divide_by_pot_rounds_ties_away_from_zero():
    x = np.array([5, -5, -6, 7, -7, 4])
    exponent = np.array([1, 1, 2, 2, 2, 0])
    # 2.5 -> 3, -2.5 -> -3, -1.5 -> -2, 1.75 -> 2, -1.75 -> -2, 4 -> 4
    expected = [3, -3, -2, 2, -2, 4]
    assert rounding_divide_by_pot(x, exponent).tolist() == expected
    assert [rdbpot_nb(int(v), int(e)) for v, e in zip(x, exponent)] == expected


def test_multiply_by_quantized_multiplier_rounds_twice():
    half = 1 << 30
    # 5 * 0.25: SRDHM(5, 0.5) = round(2.5) = 3, then RDBPOT(3, 1) = round(1.5) = 2 (single rounding: 1)
    assert multiply_by_quantized_multiplier(5, half, -1) == 2
    assert mbqm_nb(5, half, -1) == 2
    # 100 * 0.5 * 2^3 = 400: a positive shift is a left shift before the high multiply
    assert multiply_by_quantized_multiplier(100, half, 3) == 400
    # left shift wraps like int32 multiplication: 2^30 << 2 wraps to 0
    assert multiply_by_quantized_multiplier(1 << 30, half, 2) == 0


def test_numba_and_numpy_primitives_agree_on_random_and_edge_values():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(-(2**31), 2**31, 5000), [0, 1, -1, 2**31 - 1, -(2**31)]])
    multiplier = rng.integers(1 << 30, 1 << 31, x.size)
    shift = rng.integers(-31, 8, x.size)
    vectorized = multiply_by_quantized_multiplier(x, multiplier, shift)

    @numba.njit
    def scalar_all(x, multiplier, shift):
        out = np.empty(x.size, np.int64)
        for i in range(x.size):
            out[i] = mbqm_nb(x[i], multiplier[i], shift[i])
        return out

    assert np.array_equal(scalar_all(x, multiplier, shift), vectorized)


def test_wrap_int32():
    assert wrap_int32(np.array([2**31, -(2**31) - 1, 2**32 + 5])).tolist() == [-(2**31), 2**31 - 1, 5]


@pytest.mark.parametrize("activation, expected", [
    (ACT_NONE, (-128, 127)),
    (ACT_RELU, (-10, 127)),  # Q(0) = zp
    (ACT_RELU6, (-10, 50)),  # Q(6) = -10 + round(6 / 0.1) = 50
    (ACT_RELU_N1_TO_1, (-20, 0)),  # Q(-1) = -10 - 10, Q(1) = -10 + 10
])
def test_activation_range(activation, expected):
    assert activation_range(activation, 0.1, -10, np.int8) == expected


@pytest.mark.parametrize("kernels", ["spec", "fast"])
def test_quantize_of_nan_inf_huge_and_ties_matches_litert_and_tflm(kernels):
    """float32 -> int8 QUANTIZE at the edges: x86's cvttss2si makes NaN, +-inf and huge values INT32_MIN."""
    from oracle import run_litert_ref, run_tflm

    import refinterp
    from refinterp.modelbuilder import TensorSpec, single_op_model

    x = np.array([[np.nan, np.inf, -np.inf, 1e30, -1e30, 2.5e9, -2.5e9, 0.5, -0.5, 1.5, 126.5]], np.float32)
    model = single_op_model("QUANTIZE", [TensorSpec(x.shape, "float32")],
                            [TensorSpec(x.shape, "int8", scale=1.0, zero_point=3)])
    # hand: ties away from zero (0.5 -> 1, -0.5 -> -1, 1.5 -> 2, 126.5 -> 127), + zp 3, clamp at 127
    expected = [[-128, -128, -128, -128, -128, -128, -128, 4, 2, 5, 127]]
    assert run_litert_ref(model, [x])[0].tolist() == expected
    assert run_tflm(model, [x])[0].tolist() == expected
    interpreter = refinterp.Interpreter(model_content=model, kernels=kernels)
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, x)
    interpreter.invoke()
    assert interpreter.get_tensor(1).tolist() == expected
