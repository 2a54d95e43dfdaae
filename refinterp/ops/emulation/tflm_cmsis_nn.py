"""Profile "tflm-cmsis-nn": TFLite Micro built with the CMSIS-NN kernels (``OPTIMIZED_KERNEL_DIR=cmsis_nn``:
tensorflow/lite/micro/kernels/cmsis_nn/*.cc calling ARM-software/CMSIS-NN ``Source/**/*.c``).

Only the operators whose CMSIS-NN arithmetic differs from TFLM's reference kernels are listed in ``TABLE``;
every other operator runs the "tflm" kernels. CMSIS-NN's requantization ``arm_nn_requantize`` is, in its default
build (``CMSIS_NN_USE_SINGLE_ROUNDING`` unset), TFLM's ``MultiplyByQuantizedMultiplier`` exactly
(``arm_nn_doubling_high_mult_no_sat`` = SRDHM for every multiplier but INT32_MIN, ``arm_nn_divide_by_power_of_two``
= RoundingDivideByPOT; the Helium form ``vqrdmulhq`` + fix-up + ``vrshlq`` likewise), so the convolutions, fully
connected layers, ADD, MUL, pooling and the 8-bit SOFTMAX compute what the reference kernels compute.
docs/cmsis-nn.md has the whole table with the source files. The rules emulated here:

* SOFTMAX int16 -> int16 (``arm_softmax_s16``): the reciprocal's table index ``shifted_sum - 98304`` is
  converted to int16 without saturation (and ``(sum << (h - 1)) + 2**13`` is an int32 that can overflow), and
  the output ``((e * r) >> (30 - h) + 1) >> 1`` is converted to int16 without the reference's clamp to
  [0, 32767]: a row whose largest probability rounds to 32768 gives -32768 (TFLM: 32767).
* ADD int16: CMSIS-NN's Prepare refuses nonzero zero points (``arm_elementwise_add_s16`` ignores the offsets);
  TFLM's reference runs them. The arithmetic is the reference's.
* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 and int16 activations (``arm_lstm_unidirectional_s8`` / ``_s16``,
  ``arm_nn_lstm_step_s8`` / ``_s16``): each gate adds the requantized recurrent product to the saturated input
  product before one int16 saturation (``arm_nn_vec_mat_mul_result_acc_s8_s16`` / ``_s16``; TFLM saturates the
  recurrent product first); the cell update adds the requantized ``input gate x cell gate`` to the saturated
  ``forget gate x cell`` before one clamp (``arm_elementwise_mul_acc_s16``), and that clamp is
  ``+-quantized_cell_clip`` only when the quantized clip is > 0 (TFLM: whenever the float clip is > 0, even
  when it quantizes to 0), int16 otherwise; a cell gate whose fused activation is not TANH gets a sigmoid
  (``CMSIS_NN_PortOpData``: ``ARM_TANH`` or ``ARM_SIGMOID``; TFLM leaves it unactivated).

There is no CMSIS-NN runtime on this machine (it runs on Arm Cortex-M): these rules are read from the sources,
not measured, and the tests (tests/test_cmsis_nn_profile.py) hold them with hand-derived arithmetic only.
The emulation follows CMSIS-NN's plain C path (no DSP, no Helium); the ways the other paths can depart from it
are in docs/cmsis-nn.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import KernelResult, OpContext, per_tensor_qparams
from refinterp.ops.emulation import EmulatedOp
from refinterp.ops.lstm import (
    CELL_STATE,
    CG,
    FG,
    GATE_BIAS,
    IG,
    INPUT,
    INPUT_TO_GATE,
    OG,
    OUTPUT_STATE,
    RECURRENT_TO_GATE,
    LstmParams,
    run_sequence,
    tflm_fully_connected,
)
from refinterp.ops.softmax_logistic import SoftmaxParams, logistic_int16, lut_lookup_int16, tanh_int16
from refinterp.quant import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    wrap_int16,
    wrap_int32,
)

INT16_MIN, INT16_MAX = -32768, 32767


# ------------------------------------------------------------------------------------------------
# ADD int16: tensorflow/lite/micro/kernels/cmsis_nn/add.cc PrepareAdd


def prepare_add(ctx: OpContext, reference_prepare) -> None:
    """CMSIS-NN's ADD Prepare requires int16 zero points of 0 (``TF_LITE_ENSURE_EQ(input1->params.zero_point,
    0)``, input 2 and the output likewise: ``arm_elementwise_add_s16`` ignores the offsets); TFLM's reference
    add_common.cc runs any. Otherwise the reference kernel computes what ``arm_elementwise_add_s8`` / ``_s16``
    compute (same shapes) or runs itself (broadcasting: reference_ops::BroadcastAdd4DSlow)."""
    reference_prepare(ctx)
    tensors = (("input 1", ctx.require_input(0)), ("input 2", ctx.require_input(1)), ("output", ctx.output(0)))
    if ctx.require_input(0).type_name == "int16":
        for role, tensor in tensors:
            _, zero_point = per_tensor_qparams(ctx, tensor, role)
            if zero_point != 0:
                raise ctx.fail(f"int16 {role} zero point {zero_point}: TFLM's CMSIS-NN ADD requires 0")
    return None


def _reference_kernel(*_args: object) -> None:  # never called: prepare_add always leaves ADD to the reference
    raise AssertionError("ADD under tflm-cmsis-nn runs the reference kernel")


def _sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, INT16_MIN, INT16_MAX)


def _weights(inputs: list[np.ndarray | None], position: int) -> np.ndarray:
    value = inputs[position]
    assert value is not None
    return np.asarray(value, dtype=np.int64).reshape(value.shape[0], -1)


# ------------------------------------------------------------------------------------------------
# SOFTMAX int16 -> int16: arm_softmax_s16 (Source/SoftmaxFunctions/arm_softmax_s16.c)


@dataclass(frozen=True)
class CmsisSoftmaxInt16:
    """TFLM's softmax Prepare (CalculateSoftmaxParams: multiplier, shift and the two gen_lut tables), which
    tensorflow/lite/micro/kernels/cmsis_nn/softmax.cc hands to ``arm_softmax_s16`` unchanged."""

    base: SoftmaxParams


def prepare_softmax(ctx: OpContext, reference_prepare) -> CmsisSoftmaxInt16 | None:
    """The int16 SOFTMAX runs ``arm_softmax_s16``; the int8 ones (``arm_softmax_s8``, ``arm_softmax_s8_s16``,
    through ``arm_nn_softmax_common_s8``) compute the reference's gemmlowp arithmetic, and float32 runs the
    reference kernel."""
    params = reference_prepare(ctx)
    return CmsisSoftmaxInt16(params) if params.quantized and params.int16 else None


def softmax_int16_cmsis(p: CmsisSoftmaxInt16, x: np.ndarray) -> np.ndarray:
    """arm_softmax_s16 along the last axis, per row (int32 arithmetic, conversions to int16 modulo 2**16)::

        e   = LUTLookup(clamp(arm_nn_requantize(q - max, M, shift) + 32767, int16), exp_lut)    as TFLM
        sum = Σ e (int32);  h = CLZ(sum)
        s   = int32((sum << (h - 1)) + 2**13) >> 14                   TFLM: in int64
        r   = LUTLookup(int16(s - 98304), one_by_one_lut)           TFLM: clamp(s - 98304, int16)
        y   = int16((((e * r) >> (30 - h)) + 1) >> 1)                 TFLM: clamp(., 0, 32767)
    """
    b = p.base
    q = np.asarray(x, dtype=np.int64)
    if q.size == 0:
        return q.astype(np.int16)
    diff = q - q.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, b.input_multiplier, b.input_left_shift)
    exps = lut_lookup_int16(_sat16(scaled + INT16_MAX), b.exp_lut)
    sums = wrap_int32(exps.sum(axis=-1, keepdims=True))
    bit_length = np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(sums & 0xFFFFFFFF)
    headroom = 32 - bit_length  # __CLZ of a positive sum: at least 1 (the row maximum's exp is 32762)
    shifted = wrap_int32((sums << (headroom - 1)) + (1 << 13)) >> 14  # the int32 sum can overflow, then >> 14
    reciprocal = lut_lookup_int16(wrap_int16(shifted - 98304), b.one_over_one_plus_x_lut)
    result = (((exps * reciprocal) >> (30 - headroom)) + 1) >> 1
    return wrap_int16(result).astype(np.int16)


# ------------------------------------------------------------------------------------------------
# UNIDIRECTIONAL_SEQUENCE_LSTM: arm_lstm_unidirectional_s8 / _s16 (Source/LSTMFunctions), one step in
# arm_nn_lstm_step_s8 / _s16 (Source/NNSupportFunctions)


@dataclass(frozen=True)
class CmsisLstm:
    """TFLM's integer LSTM Prepare (the gate multipliers, zero points and quantized cell clip that
    tensorflow/lite/micro/kernels/cmsis_nn/unidirectional_sequence_lstm.cc ports into cmsis_nn_lstm_params)."""

    base: LstmParams

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.base.output_shape


def prepare_lstm(ctx: OpContext, reference_prepare) -> CmsisLstm | None:
    """int8 and int16 activations with an int16 cell run CMSIS-NN's LSTM (CMSIS_NN_PortOpData); TFLM's other
    LSTMs are refused by the reference Prepare under profile "tflm" as well."""
    params = reference_prepare(ctx)
    return CmsisLstm(params) if params.tflm is not None else None


def cmsis_gate(from_input: np.ndarray, recurrent: np.ndarray | None) -> np.ndarray:
    """The int16 gate before its activation: arm_nn_lstm_calculate_gate_s8_s16 (/ _s16) zeroes the gate, adds
    the requantized input product and clamps to int16, then adds the requantized recurrent product, unsaturated,
    and clamps once more (arm_nn_vec_mat_mul_result_acc_s8_s16: ``acc = requantize(acc) + dst; clamp``).
    ``from_input`` is already saturated; ``recurrent`` is the requantized recurrent product (None: no hidden
    state input, the recurrent product is skipped). TFLM: ``sat16(from_input + sat16(recurrent))``."""
    if recurrent is None:
        return from_input
    return _sat16(from_input + recurrent)


def cmsis_cell_update(kept: np.ndarray, added: np.ndarray, quantized_cell_clip: int) -> np.ndarray:
    """The new cell state: arm_elementwise_mul_s16 wrote ``kept = sat16(requantize(f * c))``, then
    arm_elementwise_mul_acc_s16 adds ``added = requantize(i * z)`` (unsaturated) and clamps once to
    ``[-clip, clip]`` when the quantized clip is > 0, to int16 otherwise (``activation_max = out_activation_max >
    0 ? out_activation_max : NN_Q15_MAX``). TFLM: ``sat16(kept + sat16(added))``, then ``clip(+-qclip)`` whenever
    the float cell_clip > 0."""
    high = quantized_cell_clip if quantized_cell_clip > 0 else INT16_MAX
    low = -quantized_cell_clip if -quantized_cell_clip < 0 else INT16_MIN
    return np.clip(kept + added, low, high)


def _requantized(x: np.ndarray, zero_point: int, weights: np.ndarray, multiplier: tuple[int, int],
                 wide: bool) -> np.ndarray:
    """The recurrent product, requantized and not saturated: int8 ``arm_nn_requantize(int32(Σ W (h - zp)))``
    (the zero point folded into CMSIS_NN_VectorSum's effective bias: the same int32 sum), int16
    ``arm_nn_requantize_s64`` (REDUCE_MULTIPLIER, the int64 MultiplyByQuantizedMultiplier)."""
    acc = (x - zero_point) @ weights.T
    if wide:
        return multiply_by_quantized_multiplier_int64(acc, *multiplier)
    return multiply_by_quantized_multiplier(wrap_int32(acc), *multiplier)


def cmsis_lstm_step(p: LstmParams, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                    inputs: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """arm_nn_lstm_step_s8 / _s16 on int64 arrays: the new (h, c) for the rows of x."""
    q = p.tflm
    assert q is not None

    def gate(g: int, activation: str) -> np.ndarray:
        bias = inputs[GATE_BIAS[g]]
        from_input = tflm_fully_connected(x, q.input_zero_point, _weights(inputs, INPUT_TO_GATE[g]),
                                          None if bias is None else np.asarray(bias, np.int64),
                                          q.input_multipliers[g], q.wide)
        recurrent = _requantized(h, q.state_zero_point, _weights(inputs, RECURRENT_TO_GATE[g]),
                                 q.recurrent_multipliers[g], q.wide)
        total = cmsis_gate(from_input, recurrent)
        # arm_nn_activation_s16(gate, gate, n, 0, type): TFLM's Logistic(0, 0) / Tanh(0, 0) table rule
        if activation == "sigmoid":
            return logistic_int16(total, 0, 0).astype(np.int64)
        return tanh_int16(total, 0, 0).astype(np.int64) if activation == "tanh" else total

    forget_gate = gate(FG, "sigmoid")
    kept = _sat16(multiply_by_quantized_multiplier(forget_gate * c, *q.forget_cell_multiplier))
    input_gate = gate(IG, "sigmoid")
    # CMSIS_NN_PortOpData maps every activation but TANH to ARM_SIGMOID for the cell gate (TFLM: unactivated)
    cell_gate = gate(CG, "tanh" if q.cell_gate_tanh else "sigmoid")
    added = multiply_by_quantized_multiplier(input_gate * cell_gate, *q.input_cell_multiplier)
    c = cmsis_cell_update(kept, added, q.quantized_cell_clip)
    output_gate = gate(OG, "sigmoid")
    # arm_nn_activation_s16(cell, tmp, n, cell_scale_power + 12, ARM_TANH), then arm_elementwise_mul_s16_s8 (int8
    # hidden state) / arm_elementwise_mul_s16_batch_offset (int16): requantize, + zero point, clamp: as TFLM
    cell_tanh = tanh_int16(c, *q.cell_tanh).astype(np.int64)
    low, high = (INT16_MIN, INT16_MAX) if p.kind == "int16" else (-128, 127)
    h = np.clip(multiply_by_quantized_multiplier(cell_tanh * output_gate, *q.hidden_multiplier)
                + q.hidden_zero_point, low, high)
    return h, c


def lstm_cmsis(p: CmsisLstm, *inputs: np.ndarray | None) -> KernelResult:
    """UNIDIRECTIONAL_SEQUENCE_LSTM under CMSIS-NN: TFLM's loops (time-major all batches per step, batch-major
    batch by batch) with :func:`cmsis_lstm_step`. The state stays in the two variable tensors, as TFLM's
    reference keeps it (docs/cmsis-nn.md: how CMSIS-NN versions differ there)."""
    b = p.base
    values = list(inputs) + [None] * (24 - len(inputs))
    output_state, cell_state = values[OUTPUT_STATE], values[CELL_STATE]
    assert output_state is not None and cell_state is not None
    x = np.asarray(values[INPUT], dtype=np.int64)
    out, h, c = run_sequence(b, x, np.asarray(output_state, np.int64), np.asarray(cell_state, np.int64),
                             cmsis_lstm_step, values)
    dtype = np.int16 if b.kind == "int16" else np.int8
    return KernelResult(outputs=(out.astype(dtype),),
                        variable_updates={OUTPUT_STATE: h.astype(dtype).reshape(output_state.shape),
                                          CELL_STATE: c.astype(np.int16).reshape(cell_state.shape)})


TABLE: dict[str, EmulatedOp] = {
    "ADD": EmulatedOp(prepare_add, _reference_kernel, "int16: zero points must be 0 (cmsis_nn/add.cc Prepare); "
                      "the arithmetic is the reference's"),
    "SOFTMAX": EmulatedOp(prepare_softmax, softmax_int16_cmsis,
                          "int16: arm_softmax_s16, the reciprocal index and the output converted to int16 "
                          "without saturation"),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": EmulatedOp(
        prepare_lstm, lstm_cmsis, "arm_nn_lstm_step: the recurrent product and input x cell gate added "
        "before one saturation; the cell clamped to +-clip only when the quantized clip is > 0"),
}
