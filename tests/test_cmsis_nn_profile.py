"""Profile "tflm-cmsis-nn" (refinterp/ops/emulation/tflm_cmsis_nn.py): TFLite Micro with the CMSIS-NN kernels.

There is no CMSIS-NN runtime on this machine (CMSIS-NN runs on Arm Cortex-M; TFLM's Python package is built
with its reference kernels), so no test here runs CMSIS-NN. Every expected value is arithmetic derived by hand
from the CMSIS-NN source it names (ARM-software/CMSIS-NN, the copy TFLM downloads:
tensorflow/lite/micro/tools/make/ext_libs/cmsis_nn_download.sh), with each intermediate written out; the
"tflm" values next to them are derived the same way from TFLM's reference kernels (and the "tflm" profile, which
tests/test_op_cases.py holds to TFLM, agrees with them). docs/cmsis-nn.md has the rules and their sources.
"""

from __future__ import annotations

import numpy as np
import pytest

from refinterp import registry
from refinterp.errors import PrepareError, RefinterpError
from refinterp.interpreter import Interpreter
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.emulation import tflm_cmsis_nn as cmsis_nn
from refinterp.ops.softmax_logistic import softmax_int16_tables
from refinterp.tools.conformance.generators import make_case

PROFILE = "tflm-cmsis-nn"


def _run(model: bytes, profile: str, x: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=model, profile=profile)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_the_table_names_registry_operators_with_rules():
    for name, entry in cmsis_nn.TABLE.items():
        assert name in registry.REGISTRY and entry.rule


# ------------------------------------------------------------------------------------------------
# SOFTMAX int16 -> int16: arm_softmax_s16 (Source/SoftmaxFunctions/arm_softmax_s16.c)
#
# Input scale 10/65535, beta 1: TFLM's multiplier is QuantizeMultiplier(1.0) = (2**30, shift 1), so
# MultiplyByQuantizedMultiplier(d) = RDBPOT(SRDHM(2 d, 2**30), 0) = d: the scaled difference is the difference.
# TFLM's tables (gen_lut<float, int16_t, int16_t>, softmax.cc Prepare) at the entries used:
#     exp_lut[176] = 46, exp_lut[177] = 47, exp_lut[511] = 32133, exp_lut[512] = 32767
#     one_over_one_plus_x_lut[0] = 32767, [511] = 16400, [512] = 16384
# LUTLookup(v) = lut[256 + (v >> 7)] + (((lut[i + 1] - lut[i]) * (v & 127) + 64) >> 7).
#
# The maximum (difference 0): v = 0 + 32767, i = 511, f = 127: e = 32133 + ((634 * 127 + 64) >> 7)
#     = 32133 + (80582 >> 7) = 32133 + 629 = 32762.
# A difference of -42943: v = -42943 + 32767 = -10176, i = 256 + (-10176 >> 7) = 256 - 80 = 176,
#     f = -10176 & 127 = 64: e = 46 + ((1 * 64 + 64) >> 7) = 47.
#
# Row A, one element (any value): sum = 32762 (15 bits), h = CLZ = 17.
#     s = ((32762 << 16) + 8192) >> 14 = (2147090432 + 8192) >> 14 = 131048;  s - 98304 = 32744 (an int16:
#     both runtimes use it as is): i = 511, f = 32744 - 32640 = 104, r = 16400 + ((-16 * 104 + 64) >> 7)
#     = 16400 + (-1600 >> 7) = 16400 - 13 = 16387.   e * r = 32762 * 16387 = 536870894.
#     TFLM:  (536870894 + 2**13) >> 14 = 536879086 >> 14 = 32768 (32768 * 16384 = 536870912), clamp -> 32767.
#     CMSIS: 536870894 >> 13 = 65535, (65535 + 1) >> 1 = 32768, (int16_t) 32768 = -32768.
#
# Row B, nine elements: eight maxima and one difference of -42943: sum = 8 * 32762 + 47 = 262143 = 2**18 - 1,
#     h = 14, sum << 13 = 2**31 - 8192.
#     TFLM:  s = (2**31 - 8192 + 8192) >> 14 = 131072 (int64); 131072 - 98304 = 32768, clamp -> 32767: i = 511,
#            f = 127, r = 16400 + ((-16 * 127 + 64) >> 7) = 16400 + (-1968 >> 7) = 16400 - 16 = 16384;
#            y = (e * 16384 + 2**16) >> 17: maxima (536772608 + 65536) >> 17 = 4095, the other
#            (770048 + 65536) >> 17 = 6.
#     CMSIS: 2**31 - 8192 + 8192 overflows the int32: -2**31 >> 14 = -131072; -131072 - 98304 = -229376,
#            (int16_t) -229376 = -229376 + 4 * 65536 = 32768 - 65536 = -32768: i = 256 + (-32768 >> 7) = 0,
#            f = 0, r = one_over_one_plus_x_lut[0] = 32767 (1/(1 + x) at x = 0: twice TFLM's reciprocal);
#            y = (((e * 32767) >> 16) + 1) >> 1: maxima 1073512454 >> 16 = 16380, (16380 + 1) >> 1 = 8190;
#            the other 1540049 >> 16 = 23, (23 + 1) >> 1 = 12.

SOFTMAX_SCALE = 10.0 / 65535.0
ROW_B = [20000] * 8 + [20000 - 42943]
TFLM_ROW_A, CMSIS_ROW_A = 32767, -32768
TFLM_ROW_B = [4095] * 8 + [6]
CMSIS_ROW_B = [8190] * 8 + [12]


def test_the_tflm_tables_hold_the_entries_the_derivation_uses():
    exp_lut, one_over = softmax_int16_tables("tflm")
    assert [int(exp_lut[i]) for i in (176, 177, 511, 512)] == [46, 47, 32133, 32767]
    assert [int(one_over[i]) for i in (0, 511, 512)] == [32767, 16400, 16384]


def _softmax_model(shape: tuple[int, ...]) -> bytes:
    return single_op_model("SOFTMAX", [TensorSpec(shape, "int16", SOFTMAX_SCALE, 0)],
                           [TensorSpec(shape, "int16", 1.0 / 32768, 0)], {"beta": 1.0})


def test_softmax_int16_one_element_rows_wrap_to_int16_min():
    model = _softmax_model((3, 1))
    x = np.array([[5], [-32768], [32767]], np.int16)
    np.testing.assert_array_equal(_run(model, "tflm", x), np.full((3, 1), TFLM_ROW_A, np.int16))
    np.testing.assert_array_equal(_run(model, PROFILE, x), np.full((3, 1), CMSIS_ROW_A, np.int16))


def test_softmax_int16_reciprocal_index_overflows_when_the_sum_is_2_pow_18_minus_1():
    model = _softmax_model((1, 9))
    x = np.array([ROW_B], np.int16)
    np.testing.assert_array_equal(_run(model, "tflm", x), np.array([TFLM_ROW_B], np.int16))
    np.testing.assert_array_equal(_run(model, PROFILE, x), np.array([CMSIS_ROW_B], np.int16))


def test_softmax_int16_rows_are_independent_and_8_bit_softmax_is_the_reference():
    model = _softmax_model((2, 9))
    x = np.array([ROW_B, [7] * 9], np.int16)
    # row 2: nine equal values, e = 32762 each, sum = 294858 (19 bits), h = 13:
    #   s = ((294858 << 12) + 8192) >> 14 = (1207738368 + 8192) >> 14 = 73715 (73714.5 floored)
    #   73715 - 98304 = -24589: i = 256 + (-24589 >> 7) = 256 - 193 = 63, f = -24589 + 24704 = 115;
    #   the two runtimes agree there (no overflow, no saturation), so the row equals profile tflm's.
    tflm = _run(model, "tflm", x)
    cmsis = _run(model, PROFILE, x)
    np.testing.assert_array_equal(cmsis[0], CMSIS_ROW_B)
    np.testing.assert_array_equal(cmsis[1], tflm[1])
    # int8 -> int8: arm_softmax_s8 is the reference's gemmlowp arithmetic: no emulated kernel
    int8_model = single_op_model("SOFTMAX", [TensorSpec((1, 4), "int8", 0.1, 0)],
                                 [TensorSpec((1, 4), "int8", 1.0 / 256, -128)], {"beta": 1.0})
    assert _prepared_kernel(int8_model, PROFILE) is not cmsis_nn.softmax_int16_cmsis
    assert _prepared_kernel(model, PROFILE) is cmsis_nn.softmax_int16_cmsis


def _prepared_kernel(model: bytes, profile: str):
    interpreter = Interpreter(model_content=model, profile=profile)
    interpreter.allocate_tensors()
    run = interpreter._main  # the entry subgraph's prepared operators
    return run.prepared[0].kernel


# ------------------------------------------------------------------------------------------------
# UNIDIRECTIONAL_SEQUENCE_LSTM: arm_nn_lstm_step_s8 / _s16 (Source/NNSupportFunctions)


def test_gate_adds_the_recurrent_product_before_saturating():
    """arm_nn_vec_mat_mul_result_acc_s8_s16: ``acc = requantize(recurrent) + dst; clamp(acc, int16)``, dst the
    saturated input product. Input product -20000, recurrent product 40000 (a recurrent FC whose requantized
    sum leaves int16): CMSIS -20000 + 40000 = 20000; TFLM AddElementWise(-20000, sat16(40000) = 32767) = 12767.
    Both within int16: the same (-20000 + 300 = -19700)."""
    from_input = np.array([-20000, -20000, 32767], np.int64)
    recurrent = np.array([40000, 300, 5], np.int64)
    np.testing.assert_array_equal(cmsis_nn.cmsis_gate(from_input, recurrent), [20000, -19700, 32767])
    # without a hidden state input (hidden_in == NULL) the recurrent product is skipped
    np.testing.assert_array_equal(cmsis_nn.cmsis_gate(from_input, None), from_input)


def test_cell_update_adds_before_one_clamp_and_clips_only_a_positive_quantized_clip():
    """arm_elementwise_mul_acc_s16: ``clamp(kept + requantize(i * z), lo, hi)`` with ``hi = clip if clip > 0
    else 32767``, ``lo = -clip if -clip < 0 else -32768``.

    kept = -32768 (a saturated forget x cell), added = 65528 (i * z = 32766 * 32766 = 1073610756 requantized by
    2**-30 / s_c with s_c = 2**-16: 1073610756 / 2**14 = 65527.99..., rounded 65528): CMSIS -32768 + 65528 =
    32760; TFLM sat16(-32768 + sat16(65528)) = -32768 + 32767 = -1. With clip 1000: CMSIS clamps 32760 to 1000."""
    kept = np.array([-32768, 100], np.int64)
    added = np.array([65528, 50], np.int64)
    np.testing.assert_array_equal(cmsis_nn.cmsis_cell_update(kept, added, 0), [32760, 150])
    np.testing.assert_array_equal(cmsis_nn.cmsis_cell_update(kept, added, 1000), [1000, 150])
    # a float clip > 0 that quantizes to 0: TFLM clips the cell to 0 (Clipping(+-0)), CMSIS-NN does not clip
    np.testing.assert_array_equal(cmsis_nn.cmsis_cell_update(np.array([7]), np.array([-3]), 0), [4])


def test_lstm_runs_under_the_profile_and_keeps_tflm_where_nothing_saturates():
    """A random int8 LSTM case (the conformance generator's): the CMSIS-NN rules change a value only where a
    gate's recurrent product or the input x cell-gate product leaves int16, or a cell gate is not TANH. This is
    a consistency check of the emulated step against profile "tflm" (itself held to TFLM), not an oracle."""
    compared = clipped_to_zero = 0
    for seed in range(12):
        case = make_case("UNIDIRECTIONAL_SEQUENCE_LSTM", "int8", seed)
        results, quantized_clip = {}, None
        for profile in ("tflm", PROFILE):
            runner = Interpreter(model_content=case.model, profile=profile)
            try:
                runner.allocate_tensors()
            except RefinterpError:  # TFLM's LSTM refuses CIFG, peephole, projection, layer norm: both refuse
                break
            if profile == PROFILE:
                params = runner._main.prepared[0].params
                assert isinstance(params, cmsis_nn.CmsisLstm)
                quantized_clip = params.base.tflm.quantized_cell_clip
            for detail, value in zip(runner.get_input_details(), case.inputs):
                runner.set_tensor(detail["index"], value)
            runner.invoke()
            results[profile] = runner.get_tensor(runner.get_output_details()[0]["index"])
        if len(results) < 2 or case.params["activation"] != "TANH":  # else CMSIS-NN's cell gate is a sigmoid
            continue
        if case.params["cell_clip"] > 0 and quantized_clip == 0:
            # TFLM clips every cell to 0, CMSIS-NN does not clip: the cells (and so the outputs) part
            assert np.any(results[PROFILE] != results["tflm"])
            clipped_to_zero += 1
        else:
            np.testing.assert_array_equal(results[PROFILE], results["tflm"])
            compared += 1
    assert compared >= 2 and clipped_to_zero >= 1


# ------------------------------------------------------------------------------------------------
# ADD int16: tensorflow/lite/micro/kernels/cmsis_nn/add.cc PrepareAdd


def test_add_int16_with_a_nonzero_zero_point_is_refused():
    """cmsis_nn/add.cc: ``if (input1->type == kTfLiteInt16) TF_LITE_ENSURE_EQ(..zero_point, 0)`` for both inputs
    and the output; TFLM's reference add_common.cc has no such check. With zero points 0 the reference kernel runs
    (arm_elementwise_add_s16 computes the same left shift 15 and three MultiplyByQuantizedMultiplier)."""
    def add_model(zero_point: int) -> bytes:
        return single_op_model("ADD", [TensorSpec((4,), "int16", 0.01, zero_point),
                                       TensorSpec((4,), "int16", 0.02, 0)],
                               [TensorSpec((4,), "int16", 0.03, 0)])

    Interpreter(model_content=add_model(3), profile="tflm").allocate_tensors()
    with pytest.raises(PrepareError, match="CMSIS-NN ADD requires 0"):
        Interpreter(model_content=add_model(3), profile=PROFILE).allocate_tensors()
    add = registry.REGISTRY["ADD"]
    assert _prepared_kernel(add_model(0), PROFILE) in (add.spec, add.fast)
