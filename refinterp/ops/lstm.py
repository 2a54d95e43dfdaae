"""UNIDIRECTIONAL_SEQUENCE_LSTM: LiteRT's integer LSTM "8x8_16" (int8 activations and weights, int16 cell) and its
float32 LSTM (section float32 at the end); under profile "tflm", TFLM's integer LSTM, int8x8_16 and int16x8
(section TFLM).

Sources: tensorflow/lite/kernels/unidirectional_sequence_lstm.cc (Prepare, PopulateQuantizedLstmParams8x8_16,
PopulatePrecomputedZPTimesWeightsWithBias), tensorflow/lite/kernels/lstm_eval.cc (EvalInteger8x8_16,
LstmStepInteger8x8_16, CalculateLstmGateInteger8x8_16, UpdateLstmCellInteger, CalculateLstmOutputInteger8x8_16)
and tensorflow/lite/kernels/internal/reference/portable_tensor_utils.cc (the Portable* vector functions, which
LiteRT's x86 build calls for every integer LSTM function), gemmlowp fixedpoint.h (16-bit logistic and tanh).

Inputs (lstm_shared.h): 0 input, 1-4 input-to-{input,forget,cell,output} weights, 5-8 recurrent-to-{...} weights,
9-11 cell-to-{input,forget,output} (peephole) weights, 12-15 {input,forget,cell,output} gate biases,
16 projection weights, 17 projection bias, 18 output state, 19 cell state (the two variable tensors, carried
across invocations), 20-23 {input,forget,cell,output} layer-norm coefficients. CIFG (no input gate: 1, 5, 9, 12
absent), peephole, projection and layer norm are each optional.

One time step (int8 x and h, int16 cell c; the four gates g in {i, f, z, o} are int16 Q3.12 before their
activation, Q0.15 after)::

    acc_g = eff_bias_x[g] + W_x[g] . x          (int32; eff_bias = bias - zp_in * rowsum(W), bias only without LN)
    g     = sat16(MBQM(acc_g, m_x[g]) + 0)
    g     = sat16(g + MBQM(eff_bias_h[g] + W_h[g] . h, m_h[g]))           (eff_bias_h = -zp_h * rowsum(W_h))
    g     = sat16(g + MBQM(w_c[g] * c, m_c[g]))                            (peephole, i f o)
    g     = LayerNorm(g, ln[g], bias[g])                                   (layer norm: PortableApplyLayerNorm)
    i, f, o = logistic<int16, 3>(g)    z = tanh<int16, 3>(g)              (gemmlowp fixed point)
    c = int16(RDBPOT(f * c, 15))                                           (before o is computed)
    c = sat16(c + int16(RDBPOT(i * z, 30 + cell_scale)))                   (CIFG: i = 32767 - f)
    c = clip(c, +-quantized_cell_clip)
    t = tanh<int16, 15 + cell_scale>(c)
    h = clamp8(MBQM(o * t, m_hidden) + zp_hidden)                          (no projection)
    r = clamp8(MBQM(o * t, m_hidden) - zp_hidden)                          (projection: the sign flips ...)
    h = clamp8(MBQM(proj_bias + zp_hidden * rowsum(P) + P . r, m_proj) + zp_h)   (... and the bias adds it)
    h = clip(h, +-quantized_proj_clip)

The multipliers come from the scales: ``m_x[g] = f32(f32(s_Wx * s_in) / s_g)`` with ``s_g`` the gate's
intermediate scale (2**-12 without layer norm, else intermediates 0-3 of the operator), ``m_hidden =
f32(2**-15 / s_hidden * 2**-15)`` (intermediate 4), ``m_proj = f32(f32(s_P * s_hidden) / s_h)``,
``m_c[g] = f32(2**cell_scale * s_wc / s_g)`` (``cell_scale = log2(s_cell)``), QuantizeMultiplier of each.

Rules of LiteRT's code that are followed as they are (the zero-point signs measured with ai-edge-litert 2.3.0:
``CwiseMul`` adds its ``output_zp``, which the step passes as ``+hidden_zp`` without projection and ``-hidden_zp``
with one, while the projection's effective bias adds ``+hidden_zp * rowsum(P)``):

* the peephole accumulation runs over ``n_output`` elements per batch row, not ``n_cell``
  (``VectorBatchVectorCwiseProductAccumulate(cell_to_gate_weights, n_output, cell_state, ...)``): with a
  projection to fewer outputs than cells, the last cells get no peephole term, and in time-major order the
  rows of later batches are shifted; refinterp refuses a peephole with ``n_output > n_cell`` (read out of
  bounds there);
* time-major inputs run all batches in one step; batch-major inputs run batch by batch (which matters only for
  the peephole rule above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import KernelResult, OpContext, per_tensor_qparams
from refinterp.ops.eigen_math import eigen_logistic, eigen_tanh
from refinterp.ops.fully_connected import apply_activation_to_vector
from refinterp.ops.hybrid import (
    explain_hybrid_dot,
    explain_quantize_row,
    is_zero_vector,
    quantize_rows,
    sse_dot,
    sse_row_sums,
)
from refinterp.ops.softmax_logistic import logistic_fixed_point, logistic_int16, tanh_fixed_point, tanh_int16
from refinterp.ops.svdf import explain_initial_state
from refinterp.ops.unary_math import inv_sqrt_multiplier_exp
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    ACT_SIGN_BIT,
    FLOAT32_LOWEST,
    FLOAT32_MAX,
    checked_log2,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    rounding_divide_by_pot,
    wrap_int16,
    wrap_int32,
)

# Input positions (lstm_shared.h, namespace lstm::full)
INPUT = 0
INPUT_TO_GATE = (1, 2, 3, 4)  # input, forget, cell, output gates
RECURRENT_TO_GATE = (5, 6, 7, 8)
CELL_TO_GATE = (9, 10, None, 11)  # peephole: no cell-to-cell weights
GATE_BIAS = (12, 13, 14, 15)
PROJECTION_WEIGHTS, PROJECTION_BIAS = 16, 17
OUTPUT_STATE, CELL_STATE = 18, 19
LAYER_NORM = (20, 21, 22, 23)
GATE_NAMES = ("input", "forget", "cell", "output")
IG, FG, CG, OG = 0, 1, 2, 3
ACT_TANH = 4  # ActivationFunctionType.TANH
FLOAT_LSTM_ACTIVATIONS = (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT)

INT16_MIN, INT16_MAX = -32768, 32767


# ------------------------------------------------------------------------------------------------
# Prepare


@dataclass(frozen=True)
class IntegerLstm:
    """What PopulateQuantizedLstmParams8x8_16 and PopulatePrecomputedZPTimesWeightsWithBias compute, by gate
    (input, forget, cell, output); the input gate's entries are unused under CIFG."""

    input_multipliers: tuple[tuple[int, int], ...]
    recurrent_multipliers: tuple[tuple[int, int], ...]
    cell_multipliers: tuple[tuple[int, int], ...]  # peephole; the cell gate's is unused
    layer_norm_multipliers: tuple[tuple[int, int], ...]
    variance_guards: tuple[int, ...]
    input_effective_bias: tuple[np.ndarray | None, ...]  # int64 (int32 values)
    recurrent_effective_bias: tuple[np.ndarray | None, ...]
    projection_effective_bias: np.ndarray | None
    projection_multiplier: tuple[int, int]
    hidden_multiplier: tuple[int, int]
    hidden_zero_point: int
    output_state_zero_point: int
    cell_scale: int  # log2 of the cell state's scale
    quantized_cell_clip: int
    quantized_proj_clip: int


@dataclass(frozen=True)
class TflmIntegerLstm:
    """What TFLM's PrepareGateParametersInteger and CreateLstmCellStateInfo compute (lstm_eval_common.cc), by
    gate (input, forget, cell, output)."""

    input_zero_point: int
    state_zero_point: int
    input_multipliers: tuple[tuple[int, int], ...]  # FC input -> gate (Q3.12), bias added in the FC
    recurrent_multipliers: tuple[tuple[int, int], ...]  # FC hidden state -> gate, no bias
    forget_cell_multiplier: tuple[int, int]  # forget gate (Q0.15) x cell -> cell
    input_cell_multiplier: tuple[int, int]  # input gate x cell gate (both Q0.15) -> cell
    hidden_multiplier: tuple[int, int]  # output gate x tanh(cell) -> hidden state
    hidden_zero_point: int  # the output state's own zero point
    cell_tanh: tuple[int, int]  # (input_multiplier, input_left_shift) of reference_integer_ops::Tanh
    cell_gate_tanh: bool  # the fused activation is TANH (else the cell gate is not activated at all)
    cell_clip: bool  # the float cell_clip > 0: clip to +-quantized_cell_clip (which may be 0)
    quantized_cell_clip: int
    wide: bool  # int16 activations: int64 accumulators and biases, the int64 MultiplyByQuantizedMultiplier


@dataclass(frozen=True)
class LstmParams:
    kind: str  # "int8"
    time_major: bool
    max_time: int
    n_batch: int
    n_input: int
    n_cell: int
    n_output: int
    use_cifg: bool
    use_peephole: bool
    use_projection: bool
    use_layer_norm: bool
    output_shape: tuple[int, ...]
    output_state_shape: tuple[int, ...]
    cell_state_shape: tuple[int, ...]
    integer: IntegerLstm | None = None
    tflm: TflmIntegerLstm | None = None
    activation: int = ACT_TANH  # float32: the fused activation (cell gate and cell state)
    cell_clip: np.float32 = np.float32(0.0)  # float32
    proj_clip: np.float32 = np.float32(0.0)
    asymmetric: bool = False  # hybrid: asymmetric_quantize_inputs
    weight_scales: tuple[tuple[int, float], ...] = ()  # hybrid: (input position, float32 scale) of int8 weights


def _f32(x: float) -> np.float32:
    return np.float32(x)


def _scale(ctx: OpContext, tensor: Any, role: str) -> float:
    return per_tensor_qparams(ctx, tensor, role)[0]


def _constant(ctx: OpContext, tensor: Any, role: str) -> np.ndarray:
    if tensor.data is None:
        # Prepare reads these (PopulatePrecomputedZPTimesWeightsWithBias): a model input would be read before it
        # is set
        raise ctx.unsupported(f"{role} tensor {tensor.index} is not constant (the integer LSTM reads it at "
                              "Prepare)")
    return np.asarray(tensor.data, dtype=np.int64)


def _check_dims(ctx: OpContext, tensor: Any, shape: tuple[int, ...], role: str) -> None:
    if tuple(ctx.shape(tensor)) != shape:
        raise ctx.fail(f"{role} has shape {list(ctx.shape(tensor))}, expected {list(shape)}")


def prepare_unidirectional_sequence_lstm(ctx: OpContext) -> LstmParams:
    """Prepare of unidirectional_sequence_lstm.cc (CheckInputTensorDimensions and the integer parameters);
    under profile "tflm", TFLM's own Prepare (:func:`prepare_tflm`)."""
    if ctx.profile == "tflm":
        return prepare_tflm(ctx)
    n_inputs = ctx.num_inputs
    if n_inputs not in (20, 24):
        raise ctx.fail(f"the LSTM kernel expects 20 or 24 inputs, got {n_inputs}")
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    use_layer_norm = n_inputs == 24 and ctx.input(LAYER_NORM[FG]) is not None
    x = ctx.require_input(INPUT)
    x_shape = ctx.shape(x)
    if len(x_shape) < 2:
        raise ctx.fail(f"input must have at least 2 dimensions, got {list(x_shape)}")
    if len(x_shape) != 3:
        # Prepare reads dims[2] of any input; Eval asserts 2 or 3 dimensions and reads the time from dims[0]
        raise ctx.unsupported(f"input of rank {len(x_shape)} (LiteRT's Prepare reads a third dimension that a "
                              "2-D input lacks, and its Eval aborts on more than 3)")
    time_major = bool(ctx.options.get("time_major", False))
    max_time, n_batch = (x_shape[0], x_shape[1]) if time_major else (x_shape[1], x_shape[0])
    n_input = x_shape[2]
    w_io = ctx.require_input(INPUT_TO_GATE[OG])
    w_io_shape = ctx.shape(w_io)
    if len(w_io_shape) != 2 or w_io_shape[1] != n_input:
        raise ctx.fail(f"input-to-output weights have shape {list(w_io_shape)}, expected [n_cell, {n_input}]")
    n_cell = w_io_shape[0]
    w_ro = ctx.require_input(RECURRENT_TO_GATE[OG])
    w_ro_shape = ctx.shape(w_ro)
    if len(w_ro_shape) != 2 or w_ro_shape[0] != n_cell:
        raise ctx.fail(f"recurrent-to-output weights have shape {list(w_ro_shape)}, expected [{n_cell}, n_output]")
    n_output = w_ro_shape[1]

    is_integer = x.type_name == "int8"
    options = ctx.options
    cell_clip, proj_clip = float(options.get("cell_clip", 0.0)), float(options.get("proj_clip", 0.0))
    if not cell_clip >= 0 or not proj_clip >= 0:
        raise ctx.fail(f"cell_clip {cell_clip} and proj_clip {proj_clip} must be >= 0")
    for gate in (IG, FG, CG):
        _check_optional_2d(ctx, INPUT_TO_GATE[gate], (n_cell, n_input), gate != IG, "input-to-" + GATE_NAMES[gate])
        _check_optional_2d(ctx, RECURRENT_TO_GATE[gate], (n_cell, n_output), gate != IG,
                           "recurrent-to-" + GATE_NAMES[gate])
    use_cifg = ctx.input(INPUT_TO_GATE[IG]) is None
    if use_cifg != (ctx.input(RECURRENT_TO_GATE[IG]) is None):
        raise ctx.fail("the input gate's input and recurrent weights must be both present or both absent (CIFG)")
    peepholes = [ctx.input(p) if p is not None else None for p in CELL_TO_GATE]
    for gate in (IG, FG, OG):
        tensor = peepholes[gate]
        if tensor is not None:
            _check_dims(ctx, tensor, (n_cell,), f"cell-to-{GATE_NAMES[gate]} weights")
            expected = "int16" if is_integer else ctx.require_input(INPUT_TO_GATE[FG]).type_name
            if tensor.type_name != expected:
                raise ctx.fail(f"cell-to-{GATE_NAMES[gate]} weights are {tensor.type_name}, expected {expected}")
    all_peepholes = (peepholes[IG] is not None or use_cifg) and peepholes[FG] is not None and peepholes[OG] is not None
    no_peepholes = all(p is None for p in (peepholes[IG], peepholes[FG], peepholes[OG]))
    if not (all_peepholes or no_peepholes):
        raise ctx.fail("the peephole (cell-to-gate) weights must be all present or all absent")
    use_peephole = peepholes[OG] is not None
    bias_type = "int32" if is_integer else "float32"
    _check_gate_vectors(ctx, GATE_BIAS, n_cell, use_cifg, bias_type, "gate bias")
    projection, projection_bias = ctx.input(PROJECTION_WEIGHTS), ctx.input(PROJECTION_BIAS)
    if projection is not None:
        _check_dims(ctx, projection, (n_output, n_cell), "projection weights")
    if projection_bias is not None:
        _check_dims(ctx, projection_bias, (n_output,), "projection bias")
        if projection_bias.type_name != bias_type:
            raise ctx.fail(f"projection bias is {projection_bias.type_name}, expected {bias_type}")
        if projection is None:
            raise ctx.fail("a projection bias without projection weights")
    use_projection = projection is not None
    if use_layer_norm:
        _check_gate_vectors(ctx, LAYER_NORM, n_cell, use_cifg, "int16" if is_integer else "float32",
                            "layer-norm coefficients")

    y = ctx.output(0)
    output_state, cell_state = ctx.input(OUTPUT_STATE), ctx.input(CELL_STATE)
    if output_state is None or not output_state.is_variable:
        raise ctx.fail("the output state (input 18) must be a variable tensor")
    if cell_state is None or not cell_state.is_variable:
        raise ctx.fail("the cell state (input 19) must be a variable tensor")
    output_state_shape, cell_state_shape = tuple(ctx.shape(output_state)), tuple(ctx.shape(cell_state))
    if math.prod(output_state_shape) != n_batch * n_output:
        raise ctx.fail(f"the output state has {math.prod(output_state_shape)} elements, expected "
                       f"{n_batch * n_output}")
    if math.prod(cell_state_shape) != n_batch * n_cell:
        raise ctx.fail(f"the cell state has {math.prod(cell_state_shape)} elements, expected {n_batch * n_cell}")
    output_shape = (*x_shape[:-1], n_output)
    ctx.set_output_shape(0, output_shape)
    common = dict(time_major=time_major, max_time=max_time, n_batch=n_batch, n_input=n_input, n_cell=n_cell,
                  n_output=n_output, use_cifg=use_cifg, use_peephole=use_peephole, use_projection=use_projection,
                  use_layer_norm=use_layer_norm, output_shape=output_shape, output_state_shape=output_state_shape,
                  cell_state_shape=cell_state_shape)

    weight_type = w_io.type_name
    if is_integer:
        if weight_type != "int8":
            raise ctx.unsupported(f"int8 input with {weight_type} weights")
        for tensor, dtype, role in ((y, "int8", "output"), (output_state, "int8", "output state"),
                                    (cell_state, "int16", "cell state")):
            if tensor.type_name != dtype:
                raise ctx.unsupported(f"integer LSTM with a {tensor.type_name} {role} (expected {dtype})")
        for position in (*INPUT_TO_GATE, *RECURRENT_TO_GATE, PROJECTION_WEIGHTS):
            tensor = ctx.input(position)
            if tensor is not None and tensor.type_name != "int8":
                raise ctx.unsupported(f"integer LSTM with {tensor.type_name} weights (input {position})")
        if use_peephole and n_output > n_cell:
            raise ctx.unsupported(f"a peephole with {n_output} outputs and {n_cell} cells: LiteRT's integer "
                                  "peephole runs over n_output elements and would read past the weights")
        integer = _prepare_integer(ctx, use_cifg, use_peephole, use_projection, use_layer_norm, n_cell)
        return LstmParams(kind="int8", integer=integer, **common)
    if x.type_name == "float32" and weight_type == "float32":
        for tensor, role in ((y, "output"), (output_state, "output state"), (cell_state, "cell state"),
                             *((ctx.input(p), f"input {p}") for p in (*INPUT_TO_GATE, *RECURRENT_TO_GATE,
                                                                      PROJECTION_WEIGHTS))):
            if tensor is not None and tensor.type_name != "float32":
                raise ctx.unsupported(f"float32 LSTM with a {tensor.type_name} {role}")
        if time_major and n_batch > 1:
            # the gates' products are then one GEMM over all batch rows (Eigen's blocked product), whose
            # summation order refinterp does not reproduce; batch-major and batch-1 steps are GEMVs
            raise ctx.unsupported("a time-major float32 LSTM with batch > 1 (LiteRT's Eigen GEMM order)")
        activation = int(ctx.options.get("fused_activation_function", 0))
        if activation not in FLOAT_LSTM_ACTIVATIONS:
            raise ctx.unsupported(f"fused activation {activation}")
        return LstmParams(kind="float32", activation=activation, cell_clip=np.float32(cell_clip),
                          proj_clip=np.float32(proj_clip), **common)
    if x.type_name == "float32" and weight_type == "int8":
        return _prepare_hybrid(ctx, common, cell_clip, proj_clip)
    raise ctx.unsupported(f"{x.type_name} input with {weight_type} weights (refinterp runs the integer "
                          "int8 LSTM, the float32 one and the hybrid one with int8 weights)")


def _prepare_hybrid(ctx: OpContext, common: dict[str, Any], cell_clip: float, proj_clip: float) -> LstmParams:
    """The hybrid checks of unidirectional_sequence_lstm.cc (float32 activations and states, int8 weights with a
    per-tensor scale; biases and layer-norm coefficients float32, checked by the caller)."""
    for tensor, role in ((ctx.output(0), "output"), (ctx.input(OUTPUT_STATE), "output state"),
                         (ctx.input(CELL_STATE), "cell state")):
        if tensor.type_name != "float32":
            raise ctx.unsupported(f"hybrid LSTM with a {tensor.type_name} {role}")
    scales = []
    for position in (*INPUT_TO_GATE, *RECURRENT_TO_GATE, *(p for p in CELL_TO_GATE if p is not None),
                     PROJECTION_WEIGHTS):
        tensor = ctx.input(position)
        if tensor is None:
            continue
        if tensor.type_name != "int8":
            raise ctx.unsupported(f"hybrid LSTM with {tensor.type_name} weights (input {position})")
        scales.append((position, float(np.float32(_scale(ctx, tensor, f"input {position} weights")))))
    if not common["use_projection"] and common["n_output"] != common["n_cell"]:
        raise ctx.unsupported(f"{common['n_output']} outputs and {common['n_cell']} cells without a projection")
    activation = int(ctx.options.get("fused_activation_function", 0))
    if activation not in FLOAT_LSTM_ACTIVATIONS:
        raise ctx.unsupported(f"fused activation {activation}")
    return LstmParams(kind="hybrid", activation=activation, cell_clip=np.float32(cell_clip),
                      proj_clip=np.float32(proj_clip), asymmetric=bool(ctx.options.get("asymmetric_quantize_inputs",
                                                                                       False)),
                      weight_scales=tuple(scales), **common)


def _check_optional_2d(ctx: OpContext, position: int, shape: tuple[int, int], required: bool, role: str) -> None:
    tensor = ctx.require_input(position) if required else ctx.input(position)
    if tensor is not None:
        _check_dims(ctx, tensor, shape, role + " weights")


def _check_gate_vectors(ctx: OpContext, positions: tuple[int, ...], n_cell: int, use_cifg: bool, type_name: str,
                        role: str) -> None:
    """One [n_cell] vector of ``type_name`` per gate (biases, layer-norm coefficients); none for the input gate
    of a CIFG LSTM (no input gate weights)."""
    for gate, position in enumerate(positions):
        tensor = ctx.input(position)
        if gate == IG and use_cifg:
            if tensor is not None:
                raise ctx.fail(f"a CIFG LSTM (no input gate weights) must have no input {role}")
            continue
        if tensor is None:
            raise ctx.fail(f"the {GATE_NAMES[gate]} {role} must be present")
        _check_dims(ctx, tensor, (n_cell,), f"{GATE_NAMES[gate]} {role}")
        if tensor.type_name != type_name:
            raise ctx.fail(f"{GATE_NAMES[gate]} {role}: {tensor.type_name}, expected {type_name}")


def _effective_multiplier(ctx: OpContext, real: float, what: str) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier(float(real))
    if shift > 30:
        raise ctx.fail(f"{what} {float(real):.6g} is 2**30 or more: TFLite's int32 arithmetic would shift by "
                       f"{shift} bits (undefined)")
    return multiplier, shift


def _prepare_integer(ctx: OpContext, use_cifg: bool, use_peephole: bool, use_projection: bool,
                     use_layer_norm: bool, n_cell: int) -> IntegerLstm:
    """PopulateQuantizedLstmParams8x8_16 and PopulatePrecomputedZPTimesWeightsWithBias."""
    intermediates = ctx.op.intermediates
    if len(intermediates) != 5:
        raise ctx.fail(f"the integer LSTM needs 5 intermediate tensors (the gate and hidden scales), got "
                       f"{len(intermediates)}")
    tensors = ctx.subgraph.tensors
    x, y = ctx.require_input(INPUT), ctx.output(0)
    output_state, cell_state = ctx.require_input(OUTPUT_STATE), ctx.require_input(CELL_STATE)
    cell_state_scale, _ = per_tensor_qparams(ctx, cell_state, "cell state")
    output_scale, _ = per_tensor_qparams(ctx, y, "output")
    cell_clip, proj_clip = float(ctx.options.get("cell_clip", 0.0)), float(ctx.options.get("proj_clip", 0.0))
    # float arithmetic: std::min(std::max(clip / scale, -32768.0f), 32767.0f), truncated to int16 / int8
    quantized_cell_clip = int(np.trunc(np.clip(_f32(cell_clip) / _f32(cell_state_scale), -32768.0, 32767.0))) \
        if cell_clip > 0 else 0
    quantized_proj_clip = int(np.trunc(np.clip(_f32(proj_clip) / _f32(output_scale), -128.0, 127.0))) \
        if proj_clip > 0 else 0

    gate_scales: list[np.float32] = []
    for gate in range(4):
        if use_layer_norm:
            tensor = tensors[intermediates[gate]]
            gate_scales.append(_f32(_scale(ctx, tensor, f"intermediate {gate} ({GATE_NAMES[gate]} gate)")))
        else:
            gate_scales.append(_f32(2.0 ** -12))  # Q3.12 for the activation functions
    hidden = tensors[intermediates[4]]
    hidden_scale, hidden_zero_point = per_tensor_qparams(ctx, hidden, "intermediate 4 (hidden)")
    hidden_scale32 = _f32(hidden_scale)

    input_scale = _f32(_scale(ctx, x, "input"))
    output_state_scale, output_state_zero_point = per_tensor_qparams(ctx, output_state, "output state")
    output_state_scale32 = _f32(output_state_scale)
    ok, cell_scale = checked_log2(cell_state_scale)
    if not ok:
        raise ctx.fail(f"the cell state's scale {cell_state_scale:.6g} is not a power of two")
    if not -15 <= cell_scale <= -9:
        # tanh of the cell state runs in FixedPoint<int16, 15 + cell_scale>: PortableApplyTanh handles 0 to 6
        # integer bits and leaves its output unwritten otherwise
        raise ctx.unsupported(f"a cell state scale of 2**{cell_scale} (LiteRT's integer tanh handles 2**-15 to "
                              "2**-9)")

    def weight_scale(position: int, role: str) -> np.float32:
        return _f32(_scale(ctx, ctx.require_input(position), role))

    input_multipliers, recurrent_multipliers, cell_multipliers = [], [], []
    for gate in range(4):
        if gate == IG and use_cifg:
            input_multipliers.append((1 << 30, 1))  # QuantizeMultiplier(1.0): the default, unused
            recurrent_multipliers.append((1 << 30, 1))
            continue
        s_x = weight_scale(INPUT_TO_GATE[gate], f"input-to-{GATE_NAMES[gate]} weights")
        s_h = weight_scale(RECURRENT_TO_GATE[gate], f"recurrent-to-{GATE_NAMES[gate]} weights")
        input_multipliers.append(_effective_multiplier(ctx, np.float32(s_x * input_scale) / gate_scales[gate],
                                                       f"the input-to-{GATE_NAMES[gate]} scale"))
        recurrent_multipliers.append(_effective_multiplier(
            ctx, np.float32(s_h * output_state_scale32) / gate_scales[gate],
            f"the recurrent-to-{GATE_NAMES[gate]} scale"))
    for gate in range(4):
        position = CELL_TO_GATE[gate]
        if not use_peephole or position is None or (gate == IG and use_cifg):
            cell_multipliers.append((1 << 30, 1))
            continue
        s_c = weight_scale(position, f"cell-to-{GATE_NAMES[gate]} weights")
        # std::pow(2, cell_scale) is a double: the expression is evaluated in double, stored as float
        real = _f32(2.0 ** cell_scale * float(s_c) / float(gate_scales[gate]))
        cell_multipliers.append(_effective_multiplier(ctx, real, f"the cell-to-{GATE_NAMES[gate]} scale"))
    hidden_real = _f32(2.0 ** -15 / float(hidden_scale32) * 2.0 ** -15)
    hidden_multiplier = _effective_multiplier(ctx, hidden_real, "the hidden scale")
    projection_scale = weight_scale(PROJECTION_WEIGHTS, "projection weights") if use_projection else _f32(1.0)
    projection_multiplier = _effective_multiplier(
        ctx, np.float32(projection_scale * hidden_scale32) / output_state_scale32, "the projection scale")
    layer_norm_multipliers, variance_guards = [], []
    for gate in range(4):
        scale = _f32(1.0)
        if use_layer_norm and not (gate == IG and use_cifg):
            scale = weight_scale(LAYER_NORM[gate], f"{GATE_NAMES[gate]} layer-norm coefficients")
        layer_norm_multipliers.append(_effective_multiplier(ctx, scale, f"the {GATE_NAMES[gate]} layer-norm scale"))
        # std::max(1, static_cast<int32_t>(10000 * scale)) in float
        variance_guards.append(max(1, int(np.trunc(np.float32(10000.0) * scale))))

    # zero point times the weights' row sums, plus the bias (no bias under layer norm: it is added after)
    input_zero_point = per_tensor_qparams(ctx, x, "input")[1]

    def effective_bias(weights_position: int, zero_point: int, bias_position: int | None) -> np.ndarray | None:
        weights = ctx.input(weights_position)
        if weights is None:
            return None
        w = _constant(ctx, weights, f"input {weights_position}")
        bias = np.zeros(w.shape[0], dtype=np.int64)
        if bias_position is not None and ctx.input(bias_position) is not None:
            bias = _constant(ctx, ctx.input(bias_position), f"input {bias_position}").reshape(-1)
        # MatrixScalarMultiplyAccumulate: int32 row sum times the scalar, added in int32
        return wrap_int32(bias + wrap_int32(w.sum(axis=1) * zero_point))

    input_effective_bias, recurrent_effective_bias = [], []
    for gate in range(4):
        bias_position = None if use_layer_norm else GATE_BIAS[gate]
        input_effective_bias.append(effective_bias(INPUT_TO_GATE[gate], -input_zero_point, bias_position))
        recurrent_effective_bias.append(effective_bias(RECURRENT_TO_GATE[gate], -output_state_zero_point, None))
    projection_effective_bias = effective_bias(PROJECTION_WEIGHTS, hidden_zero_point, PROJECTION_BIAS) \
        if use_projection else None
    return IntegerLstm(
        input_multipliers=tuple(input_multipliers), recurrent_multipliers=tuple(recurrent_multipliers),
        cell_multipliers=tuple(cell_multipliers), layer_norm_multipliers=tuple(layer_norm_multipliers),
        variance_guards=tuple(variance_guards), input_effective_bias=tuple(input_effective_bias),
        recurrent_effective_bias=tuple(recurrent_effective_bias),
        projection_effective_bias=projection_effective_bias, projection_multiplier=projection_multiplier,
        hidden_multiplier=hidden_multiplier, hidden_zero_point=int(hidden_zero_point),
        output_state_zero_point=int(output_state_zero_point), cell_scale=cell_scale,
        quantized_cell_clip=quantized_cell_clip, quantized_proj_clip=quantized_proj_clip)


# ------------------------------------------------------------------------------------------------
# The integer step (portable_tensor_utils.cc functions, on int64 arrays of [rows, n] values)


def _sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, INT16_MIN, INT16_MAX)


def matrix_batch_vector_multiply_accumulate(x: np.ndarray, bias: np.ndarray, weights: np.ndarray,
                                            multiplier: tuple[int, int], output_zp: int, accumulator: np.ndarray,
                                            low: int, high: int) -> np.ndarray:
    """PortableMatrixBatchVectorMultiplyAccumulate (int8 in, int16 or int8 out): per row and output unit
    ``clamp(MBQM(bias + W . x, m) + output_zp + accumulator)``, the dot product in int32."""
    acc = wrap_int32(bias[None, :] + x @ weights.T)
    acc = multiply_by_quantized_multiplier(acc, *multiplier) + output_zp + accumulator
    return np.clip(acc, low, high)


def peephole_accumulate(gate: np.ndarray, weights: np.ndarray, cell: np.ndarray, v_size: int,
                        multiplier: tuple[int, int]) -> np.ndarray:
    """PortableVectorBatchVectorCwiseProductAccumulate as LstmStep calls it: over ``v_size`` (= n_output)
    elements per batch row of the flat gate and cell buffers."""
    rows = gate.shape[0]
    flat_gate, flat_cell = gate.reshape(-1).copy(), cell.reshape(-1)
    count = rows * v_size
    index = np.arange(count)
    product = weights[index % v_size] * flat_cell[index]
    flat_gate[:count] = _sat16(multiply_by_quantized_multiplier(product, *multiplier) + flat_gate[:count])
    return flat_gate.reshape(gate.shape)


def apply_layer_norm(gate: np.ndarray, weights: np.ndarray, bias: np.ndarray, multiplier: tuple[int, int],
                     variance_limit: int) -> np.ndarray:
    """PortableApplyLayerNorm: integer mean and variance (x1024), inverse square root as a multiplier."""
    n = gate.shape[1]
    total = gate.sum(axis=1)
    sum_sq = (gate * gate).sum(axis=1)
    mean = _div_trunc(total * 1024, n)  # int64 then int32: C division truncates
    temp = (1 << 20) // n
    variance = sum_sq * temp - mean * mean
    variance2 = wrap_int32(_div_trunc(variance, 1 << 20))
    variance2 = np.where(variance2 < 1, variance_limit, variance2)
    stddev_inverse_a, stddev_inverse_b = inv_sqrt_multiplier_exp(variance2, -1)
    shifted = wrap_int32(1024 * gate - mean[:, None])
    rescaled = multiply_by_quantized_multiplier(shifted, stddev_inverse_a[:, None], stddev_inverse_b[:, None])
    # ``int64_t val3 = rescaled * layer_norm_weights[j] + bias[j]`` has int32 operands (a signed overflow is
    # undefined); the x86-64 build computes it in 64 bits: measured with a bias of INT32_MAX (fuzz, seed 20261211)
    val3 = rescaled * weights[None, :].astype(np.int64) + bias[None, :]
    val4 = wrap_int32(_div_trunc(np.where(val3 > 0, val3 + 512, val3 - 512), 1024))
    val5 = multiply_by_quantized_multiplier(val4, multiplier[0], multiplier[1] + 12)
    return _sat16(val5)


def _div_trunc(a: np.ndarray, b: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    return np.where(a >= 0, a // b, -((-a) // b))


def cwise_mul_shift(a: np.ndarray, b: np.ndarray, shift: int) -> np.ndarray:
    """PortableCwiseMul(int16, shift): ``int16(RDBPOT(a * b, shift))`` (truncated, not saturated)."""
    return wrap_int16(rounding_divide_by_pot(a * b, shift))


def cwise_mul_requantize(a: np.ndarray, b: np.ndarray, multiplier: tuple[int, int], output_zp: int) -> np.ndarray:
    """PortableCwiseMul(int16 -> int8): ``clamp(MBQM(a * b, m) + output_zp, -128, 127)``."""
    return np.clip(multiply_by_quantized_multiplier(a * b, *multiplier) + output_zp, -128, 127)


def integer_gate(p: LstmParams, gate: int, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                 inputs: list[np.ndarray | None]) -> np.ndarray:
    """CalculateLstmGateInteger8x8_16: one gate for the rows of x (int8) and h (int8), c (int16)."""
    q = p.integer
    assert q is not None
    rows = x.shape[0]
    g = np.zeros((rows, p.n_cell), dtype=np.int64)
    g = matrix_batch_vector_multiply_accumulate(x, q.input_effective_bias[gate], _w(inputs, INPUT_TO_GATE[gate]),
                                                q.input_multipliers[gate], 0, g, INT16_MIN, INT16_MAX)
    g = matrix_batch_vector_multiply_accumulate(h, q.recurrent_effective_bias[gate],
                                                _w(inputs, RECURRENT_TO_GATE[gate]), q.recurrent_multipliers[gate],
                                                0, g, INT16_MIN, INT16_MAX)
    peephole = CELL_TO_GATE[gate]
    if p.use_peephole and peephole is not None:
        g = peephole_accumulate(g, _w(inputs, peephole), c, p.n_output, q.cell_multipliers[gate])
    if p.use_layer_norm:
        g = apply_layer_norm(g, _w(inputs, LAYER_NORM[gate]), _w(inputs, GATE_BIAS[gate]),
                             q.layer_norm_multipliers[gate], q.variance_guards[gate])
    # PortableApplyTanh / PortableApplySigmoid: gemmlowp on FixedPoint<int16, 3>
    return tanh_fixed_point(g, 3, raw_bits=16) if gate == CG else logistic_fixed_point(g, 3, raw_bits=16)


def integer_step(p: LstmParams, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                 inputs: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """LstmStepInteger8x8_16: the new (h, c) of one time step for the rows of x."""
    q = p.integer
    assert q is not None
    input_gate = None if p.use_cifg else integer_gate(p, IG, x, h, c, inputs)
    forget_gate = integer_gate(p, FG, x, h, c, inputs)
    cell_gate = integer_gate(p, CG, x, h, c, inputs)
    # UpdateLstmCellInteger
    c = cwise_mul_shift(forget_gate, c, 15)
    if p.use_cifg:
        input_gate = wrap_int16(INT16_MAX - forget_gate)  # Sub1Vector
    c = _sat16(c + cwise_mul_shift(input_gate, cell_gate, 30 + q.cell_scale))  # CwiseAdd
    if q.quantized_cell_clip > 0:
        c = np.clip(c, -q.quantized_cell_clip, q.quantized_cell_clip)
    output_gate = integer_gate(p, OG, x, h, c, inputs)
    # CalculateLstmOutputInteger8x8_16
    cell_tanh = tanh_fixed_point(c, 15 + q.cell_scale, raw_bits=16)
    if p.use_projection:
        # CwiseMul is given -hidden_zp here (and PrecomputeZeroPointTimesWeightWithBias adds +hidden_zp * rowsum)
        hidden = cwise_mul_requantize(output_gate, cell_tanh, q.hidden_multiplier, -q.hidden_zero_point)
        h = matrix_batch_vector_multiply_accumulate(hidden, q.projection_effective_bias,
                                                    _w(inputs, PROJECTION_WEIGHTS), q.projection_multiplier,
                                                    q.output_state_zero_point, np.zeros_like(h[:, :p.n_output]),
                                                    -128, 127)
        if q.quantized_proj_clip > 0:
            h = np.clip(h, -q.quantized_proj_clip, q.quantized_proj_clip)
    else:
        h = cwise_mul_requantize(output_gate, cell_tanh, q.hidden_multiplier, q.hidden_zero_point)
    return h, c


def _w(inputs: list[np.ndarray | None], position: int) -> np.ndarray:
    value = inputs[position]
    assert value is not None
    return np.asarray(value, dtype=np.int64).reshape(value.shape[0], -1) if value.ndim == 2 else \
        np.asarray(value, dtype=np.int64).reshape(-1)


def run_sequence(p: LstmParams, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, step: Any,
                 inputs: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EvalInteger8x8_16's loops: time-major inputs step all batches at once, batch-major ones batch by batch.
    Returns (output [.., n_output], h [n_batch, n_output], c [n_batch, n_cell])."""
    h = h0.reshape(p.n_batch, p.n_output).copy()
    c = c0.reshape(p.n_batch, p.n_cell).copy()
    out = np.zeros((*x.shape[:2], p.n_output), dtype=h.dtype)
    if p.time_major:
        for t in range(p.max_time):
            h, c = step(p, x[t], h, c, inputs)
            out[t] = h
    else:
        for b in range(p.n_batch):
            hb, cb = h[b:b + 1], c[b:b + 1]
            for t in range(p.max_time):
                hb, cb = step(p, x[b, t:t + 1], hb, cb, inputs)
                out[b, t] = hb[0]
            h[b], c[b] = hb[0], cb[0]
    return out, h, c


def unidirectional_sequence_lstm_spec(p: LstmParams, *inputs: np.ndarray | None) -> KernelResult:
    values = list(inputs) + [None] * (24 - len(inputs))
    output_state, cell_state = values[OUTPUT_STATE], values[CELL_STATE]
    assert output_state is not None and cell_state is not None
    if p.kind == "float32":
        return float_lstm_spec(p, values)
    if p.kind == "hybrid":
        return hybrid_lstm_spec(p, values)
    x = np.asarray(values[INPUT], dtype=np.int64)
    step = tflm_integer_step if p.tflm is not None else integer_step
    out, h, c = run_sequence(p, x, np.asarray(output_state, np.int64), np.asarray(cell_state, np.int64),
                             step, values)
    dtype = np.int16 if p.kind == "int16" else np.int8
    return KernelResult(outputs=(out.astype(dtype),),
                        variable_updates={OUTPUT_STATE: h.astype(dtype).reshape(output_state.shape),
                                          CELL_STATE: c.astype(np.int16).reshape(cell_state.shape)})


# ------------------------------------------------------------------------------------------------
# TFLM (profile "tflm"): tensorflow/lite/micro/kernels/unidirectional_sequence_lstm.cc (Prepare, Eval),
# lstm_eval_common.cc (ValidateTensorSize, CreateGateParams, CreateInterGateMulParams, CreateLstmCellStateInfo,
# PrepareGateParametersInteger), lstm_eval.h/.cc (LstmStep, CalculateLstmGate, UpdateLstmCell, UpdateLstmHidden,
# and their FullyConnected / Mul / Sigmoid / Tanh / AddElementWise / Clipping). A rewrite that runs the standard
# LSTM only (no CIFG, peephole, projection or layer norm: Prepare rejects them) through TFLite's reference
# integer kernels. One time step, gates g in {i, f, z, o} (int16 Q3.12 before the activation, Q0.15 after)::
#
#     a_g = sat16(MBQM(bias[g] + W_x[g] . (x - zp_x), m_x[g]))        FullyConnected (int32 accumulator; int16
#     b_g = sat16(MBQM(W_h[g] . (h - zp_h), m_h[g]))                   activations: int64 and MBQM's int64 form)
#     g   = sat16(a_g + b_g)                                           AddElementWise
#     i, f, o = Logistic16(g)      z = Tanh16(g)       (another fused activation than TANH: z = g, unactivated)
#     c = sat16(sat16(MBQM(f * c, m_fc)) + sat16(MBQM(i * z, m_iz)))   MulElementwise twice, AddElementWise
#     c = clip(c, +-quantized_cell_clip)                               whenever the float cell_clip > 0
#     h = clamp(MBQM(Tanh16_cell(c) * o, m_h) + zp_h)                  MulElementwise to the hidden state's type
#
# Logistic16 and Tanh16 are reference_integer_ops::Logistic / Tanh on int16 (the 256-entry sigmoid table with
# interpolation, refinterp/ops/softmax_logistic.py): Logistic with (multiplier 0, shift 0), i.e. x * 3; the gate
# Tanh likewise; the cell's Tanh with ``shift = 15 + log2(s_cell) - 3``: (0, shift) when shift >= 0 (x * 3 <<
# shift), else (3, -shift) (``(x * 3 + round) >> -shift``). The multipliers are QuantizeMultiplier of doubles:
# ``m_x = f64(f32(s_x * s_W)) / 2**-12`` (GetQuantizedConvolutionMultipler: the scale product in float), ``m_fc
# = f64(2**-15) * f64(s_c) / f64(s_c)``, ``m_iz = 2**-30 / f64(s_c)``, ``m_h = 2**-30 / f64(s_h)`` with the
# output state's scale s_h and zero point zp_h (LiteRT uses intermediate 4 and rounds these in float). Where
# LiteRT differs: its products by the cell state are RDBPOT(., 15) and RDBPOT(., 30 + log2 s_c) truncated to
# int16 (TFLM: a doubly-rounded MBQM, saturated), its recurrent term is not saturated before the add, its
# gate activations are gemmlowp's fixed-point logistic and tanh (TFLM: the table), and it clips the cell only
# when the quantized clip is > 0.


def prepare_tflm(ctx: OpContext) -> LstmParams:
    """TFLM's UnidirectionalSequenceLstmPrepare (LstmTensors::ValidateTensorStatus, ValidateTensorSize) for
    int8 and int16 activations with int8 weights and an int16 cell."""
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    if ctx.num_inputs != 24:
        raise ctx.fail(f"TFLM's LSTM expects 24 inputs, got {ctx.num_inputs}")
    x = ctx.require_input(INPUT)
    output_state, cell_state = ctx.input(OUTPUT_STATE), ctx.input(CELL_STATE)
    if output_state is None or not output_state.is_variable:
        raise ctx.fail("the output state (input 18) must be a variable tensor")
    if output_state.type_name != x.type_name:
        raise ctx.fail(f"the output state is {output_state.type_name}, the input {x.type_name}")
    if cell_state is None or not cell_state.is_variable:
        raise ctx.fail("the cell state (input 19) must be a variable tensor")
    y = ctx.output(0)
    if y.type_name != x.type_name:
        raise ctx.fail(f"the output is {y.type_name}, the input {x.type_name}")
    weights = [ctx.input(position) for position in (*INPUT_TO_GATE, *RECURRENT_TO_GATE)]
    if any(w is None for w in weights):
        raise ctx.fail("TFLM's LSTM needs all eight gate weights (no CIFG)")
    weight_type = ctx.require_input(INPUT_TO_GATE[FG]).type_name
    if any(w.type_name != weight_type for w in weights if w is not None):
        raise ctx.fail("the eight gate weights must have one type")
    biases = [ctx.input(position) for position in GATE_BIAS]
    if any(b is None for b in biases):
        raise ctx.fail("TFLM's LSTM needs all four gate biases")
    bias_type = ctx.require_input(GATE_BIAS[FG]).type_name
    if any(b.type_name != bias_type for b in biases if b is not None):
        raise ctx.fail("the four gate biases must have one type")
    for positions, what in (((9, 10, 11), "peephole"), ((PROJECTION_WEIGHTS, PROJECTION_BIAS), "projection"),
                            (LAYER_NORM, "layer norm")):
        if any(ctx.input(p) is not None for p in positions):
            raise ctx.fail(f"TFLM's LSTM has no {what}")
    x_shape, state_shape = ctx.shape(x), ctx.shape(output_state)
    if len(x_shape) != 3 or len(state_shape) != 2:
        # CreateLstmSizeInfo reads dims[2] of the input and dims[1] of the output state unchecked
        raise ctx.unsupported(f"an input of shape {list(x_shape)} and an output state of shape "
                              f"{list(state_shape)} (TFLM reads a third input and a second state dimension)")
    time_major = bool(ctx.options.get("time_major", False))
    max_time, n_batch = (x_shape[0], x_shape[1]) if time_major else (x_shape[1], x_shape[0])
    n_input, n_state = x_shape[2], state_shape[1]
    for gate in range(4):
        _check_dims(ctx, ctx.require_input(INPUT_TO_GATE[gate]), (n_state, n_input),
                    f"input-to-{GATE_NAMES[gate]} weights")
        _check_dims(ctx, ctx.require_input(RECURRENT_TO_GATE[gate]), (n_state, n_state),
                    f"recurrent-to-{GATE_NAMES[gate]} weights")
        _check_dims(ctx, ctx.require_input(GATE_BIAS[gate]), (n_state,), f"{GATE_NAMES[gate]} gate bias")
    for tensor, role in ((output_state, "output state"), (cell_state, "cell state")):
        if math.prod(ctx.shape(tensor)) != n_batch * n_state:
            raise ctx.fail(f"the {role} has {math.prod(ctx.shape(tensor))} elements, expected {n_batch * n_state}")
    y_shape = tuple(y.shape)
    if len(y_shape) != 3 or y_shape[:2] != tuple(x_shape[:2]) or y_shape[2] != n_state:
        raise ctx.fail(f"the output has shape {list(y_shape)}, expected {[*x_shape[:2], n_state]}")
    if cell_state.type_name != "int16":
        # float32 cells are TFLM's float LSTM, which refinterp does not run under profile "tflm"
        raise ctx.unsupported(f"a {cell_state.type_name} cell state under profile tflm (refinterp runs TFLM's "
                              "integer LSTM)")
    expected = {"int8": ("int8", "int32"), "int16": ("int8", "int64")}.get(x.type_name)
    if expected is None or (weight_type, bias_type) != expected:
        raise ctx.unsupported(f"{x.type_name} activations with {weight_type} weights and {bias_type} biases "
                              "(TFLM's integer LSTM: int8 with int32 biases or int16 with int64, int8 weights)")
    # CalculateLstmGate applies Sigmoid or Tanh to the cell gate as the fused activation says; any other is
    # TFLITE_ASSERT_FALSE, a no-op in TFLM's release build: the gate stays as the FC sums left it (measured).
    # The flatbuffer schema has no SIGMOID, so TANH is the one activation a model can name.
    cell_gate_tanh = int(ctx.options.get("fused_activation_function", 0)) == ACT_TANH
    output_shape = (*x_shape[:2], n_state)
    ctx.set_output_shape(0, output_shape)

    input_scale, input_zero_point = per_tensor_qparams(ctx, x, "input")
    state_scale, state_zero_point = per_tensor_qparams(ctx, output_state, "output state")
    cell_scale, _ = per_tensor_qparams(ctx, cell_state, "cell state")

    def fc_multiplier(activation_scale: float, position: int, role: str) -> tuple[int, int]:
        weight_scale, weight_zero_point = per_tensor_qparams(ctx, ctx.require_input(position), role)
        product = float(np.float32(np.float32(activation_scale) * np.float32(weight_scale)))
        return _tflm_multiplier(ctx, product / float(np.float32(2.0 ** -12)), f"the {role} scale")

    input_multipliers = tuple(fc_multiplier(input_scale, INPUT_TO_GATE[g], f"input-to-{GATE_NAMES[g]} weights")
                              for g in range(4))
    recurrent_multipliers = tuple(
        fc_multiplier(state_scale, RECURRENT_TO_GATE[g], f"recurrent-to-{GATE_NAMES[g]} weights") for g in range(4))
    gate_output_scale = float(np.float32(2.0 ** -15))
    cell32 = float(np.float32(cell_scale))
    _, cell_scale_power = checked_log2(cell32)  # CreateLstmCellStateInfo ignores whether it is a power of two
    tanh_shift = 15 + cell_scale_power - 3
    cell_tanh = (0, tanh_shift) if tanh_shift >= 0 else (3, -tanh_shift)
    if tanh_shift > 20:
        raise ctx.unsupported(f"a cell state scale of {cell32:.6g} (TFLM's Tanh would shift 3 by {tanh_shift})")
    cell_clip = float(np.float32(ctx.options.get("cell_clip", 0.0)))
    # static_cast<int16_t>(min(max(f64(clip) / f64(scale), -32768.0), 32767.0))
    quantized_cell_clip = int(np.trunc(min(max(cell_clip / cell32, -32768.0), 32767.0))) if cell32 > 0 else 0
    return LstmParams(
        kind=x.type_name, time_major=time_major, max_time=max_time, n_batch=n_batch, n_input=n_input,
        n_cell=n_state, n_output=n_state, use_cifg=False, use_peephole=False, use_projection=False,
        use_layer_norm=False, output_shape=output_shape, output_state_shape=tuple(state_shape),
        cell_state_shape=tuple(ctx.shape(cell_state)),
        tflm=TflmIntegerLstm(
            input_zero_point=input_zero_point, state_zero_point=state_zero_point,
            input_multipliers=input_multipliers, recurrent_multipliers=recurrent_multipliers,
            forget_cell_multiplier=_tflm_multiplier(ctx, gate_output_scale * cell32 / cell32, "the forget x cell"),
            input_cell_multiplier=_tflm_multiplier(ctx, gate_output_scale * gate_output_scale / cell32,
                                                   "the input x cell gate"),
            hidden_multiplier=_tflm_multiplier(ctx, gate_output_scale * gate_output_scale / float(np.float32(
                state_scale)), "the hidden"),
            hidden_zero_point=state_zero_point, cell_tanh=cell_tanh, cell_gate_tanh=cell_gate_tanh,
            cell_clip=cell_clip > 0, quantized_cell_clip=quantized_cell_clip, wide=x.type_name == "int16"))


def _tflm_multiplier(ctx: OpContext, real: float, what: str) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier(float(real))
    if shift > 30:
        raise ctx.unsupported(f"{what} scale {float(real):.6g} is 2**30 or more (TFLM would shift by {shift} "
                              "bits: undefined)")
    return multiplier, shift


def tflm_fully_connected(x: np.ndarray, zero_point: int, weights: np.ndarray, bias: np.ndarray | None,
                         multiplier: tuple[int, int], wide: bool) -> np.ndarray:
    """reference_integer_ops::FullyConnected to int16 with output zero point 0: ``sat16(MBQM(bias + W . (x -
    zp), m))``; int8 activations accumulate in int32 (wrapping), int16 ones in int64 (MBQM's int64 form)."""
    acc = (x - zero_point) @ weights.T
    if bias is not None:
        acc = acc + bias[None, :]
    if wide:
        return _sat16(multiply_by_quantized_multiplier_int64(acc, *multiplier))
    return _sat16(multiply_by_quantized_multiplier(wrap_int32(acc), *multiplier))


def tflm_integer_step(p: LstmParams, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                      inputs: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """TFLM's LstmStep (lstm_eval.h) on int64 arrays: the new (h, c) for the rows of x."""
    q = p.tflm
    assert q is not None

    def gate(g: int, activation: str) -> np.ndarray:
        bias = inputs[GATE_BIAS[g]]
        from_input = tflm_fully_connected(x, q.input_zero_point, _w(inputs, INPUT_TO_GATE[g]),
                                          None if bias is None else np.asarray(bias, np.int64),
                                          q.input_multipliers[g], q.wide)
        from_state = tflm_fully_connected(h, q.state_zero_point, _w(inputs, RECURRENT_TO_GATE[g]), None,
                                          q.recurrent_multipliers[g], q.wide)
        total = _sat16(from_input + from_state)
        # Sigmoid: Logistic(0, 0); Tanh(cell_state_scale_power = -12): shift 0, multiplier 0
        if activation == "sigmoid":
            return logistic_int16(total, 0, 0).astype(np.int64)
        return tanh_int16(total, 0, 0).astype(np.int64) if activation == "tanh" else total

    forget_gate = gate(FG, "sigmoid")
    input_gate = gate(IG, "sigmoid")
    cell_gate = gate(CG, "tanh" if q.cell_gate_tanh else "none")
    # UpdateLstmCell: MulElementwise (int16 out) twice, AddElementWise, Clipping
    kept = _sat16(multiply_by_quantized_multiplier(forget_gate * c, *q.forget_cell_multiplier))
    added = _sat16(multiply_by_quantized_multiplier(input_gate * cell_gate, *q.input_cell_multiplier))
    c = _sat16(kept + added)
    if q.cell_clip:
        c = np.clip(c, -q.quantized_cell_clip, q.quantized_cell_clip)
    output_gate = gate(OG, "sigmoid")
    # UpdateLstmHidden: Tanh(cell_state_scale_power), MulElementwise to the hidden state's type
    cell_tanh = tanh_int16(c, *q.cell_tanh).astype(np.int64)
    low, high = (-32768, 32767) if p.kind == "int16" else (-128, 127)
    h = np.clip(multiply_by_quantized_multiplier(cell_tanh * output_gate, *q.hidden_multiplier)
                + q.hidden_zero_point, low, high)
    return h, c


# ------------------------------------------------------------------------------------------------
# float32 (LiteRT): lstm_eval.cc EvalFloat, LstmStepFloat, CalculateLstmGateFloat, UpdateLstmCellFloat,
# CalculateLstmOutputFloat, and its MatrixBatchVectorMultiplyAccumulate, which is optimized_ops::FullyConnected
# (cpu_backend_gemm, Eigen on ai-edge-litert 2.3.0's x86 build) even under BUILTIN_REF. One step for one batch
# row (batch-major inputs run row by row; a time-major input with one batch row likewise)::
#
#     G = bias (zeros with layer norm)
#     if x is not all zeros (IsZeroVector):  A = FC(W_x, x, G)          FC(W, v, b) = clamp(GEMV(W, v) + b)
#     final = FC(W_h, h, A or G)            (into G after an input FC, into A otherwise)
#     final += w_c * c                       (peephole; i, f, o; over n_cell)
#     final = LN(final) * ln + bias          (layer norm: PortableMeanStddevNormalization, float sums in order)
#     G = activation(final)                  (sigmoid for i, f, o: Eigen's logistic, its packet and scalar forms
#                                             by the alignment of G in LiteRT's scratch tensor; the fused
#                                             activation for z: Eigen's tanh, RELU..., and NONE writes nothing)
#     c = f * c;  c = c + z * i              (CIFG: i = 1 - f); c = clip(c, +-cell_clip) when cell_clip > 0
#     C = activation(c) into the cell gate's buffer (NONE: writes nothing, C keeps z); C = o * C
#     h = FC(P, C, projection bias or 0), clipped to +-proj_clip when > 0; without projection h = C
#
# GEMV is Eigen's row-major general_matrix_vector_product with SSE Packet4f and no FMA (measured bit for bit):
# per row, four lane sums over the column blocks of four (``lane += w * v``, each rounded), reduced as
# ``(l0 + l2) + (l1 + l3)``, then the remaining columns added one by one, then ``0 + sum`` (the destination is
# zeroed first: -0 becomes +0). clamp is BiasAndClamp's ``min(max(s + b, lowest), max)`` (infinities saturate).
# The scratch tensor holds the gate buffers at ``k * n_cell * n_batch`` floats (k: input 0, cell 1, forget 2,
# output 3; CIFG: cell 0, forget 1, output 2), batch row b at ``+ b * n_cell``: the 16-byte alignment that picks
# Eigen's logistic form per element.

_F32 = np.float32


def eigen_gemv(weights: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Eigen's row-major GEMV (SSE Packet4f, no FMA) of float32 ``weights [rows, depth]`` and ``vector [depth]``."""
    rows, depth = weights.shape
    full = depth // 4 * 4
    lanes = np.zeros((rows, 4), _F32)
    with np.errstate(all="ignore"):
        for k in range(0, full, 4):
            lanes = (lanes + (weights[:, k:k + 4] * vector[k:k + 4][None, :]).astype(_F32)).astype(_F32)
        total = ((lanes[:, 0] + lanes[:, 2]).astype(_F32) + (lanes[:, 1] + lanes[:, 3]).astype(_F32)).astype(_F32)
        for k in range(full, depth):
            total = (total + (weights[:, k] * vector[k]).astype(_F32)).astype(_F32)
        return (_F32(0.0) + total).astype(_F32)


def float_fully_connected(weights: np.ndarray, vector: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """optimized_ops::FullyConnected with one batch row: GEMV then BiasAndClamp to [lowest, max]."""
    with np.errstate(all="ignore"):
        total = (eigen_gemv(weights, vector) + bias).astype(_F32)
        total = np.where(total < FLOAT32_LOWEST, FLOAT32_LOWEST, total)  # std::max(x, lowest): NaN stays
        return np.where(FLOAT32_MAX < total, FLOAT32_MAX, total).astype(_F32)


def mean_stddev_normalization(v: np.ndarray) -> np.ndarray:
    """PortableMeanStddevNormalization of one row: float sums in order, ``1 / sqrt(var + 1e-8f)``."""
    n = v.size
    with np.errstate(all="ignore"):
        total = _F32(0.0)
        for value in v:
            total = _F32(total + value)
        mean = _F32(total / _F32(n))
        sum_diff_sq = _F32(0.0)
        for value in v:
            diff = _F32(value - mean)
            sum_diff_sq = _F32(sum_diff_sq + _F32(diff * diff))
        variance = _F32(sum_diff_sq / _F32(n))
        stddev_inv = _F32(_F32(1.0) / np.sqrt(_F32(variance + _F32(1e-8))))
        return ((v - mean).astype(_F32) * stddev_inv).astype(_F32)


def _clip(v: np.ndarray, clip: np.float32) -> np.ndarray:
    """CwiseClipping: ``std::max(std::min(clip, v), -clip)`` (a NaN becomes clip)."""
    low = np.where(v < clip, v, clip)
    return np.where(low < -clip, -clip, low).astype(_F32)


def float_gate_offsets(p: LstmParams) -> dict[int, int]:
    """Each gate buffer's float offset in LiteRT's scratch tensor (EvalFloat), for batch row 0."""
    stride = p.n_cell * p.n_batch
    order = (CG, FG, OG) if p.use_cifg else (IG, CG, FG, OG)
    return {gate: k * stride for k, gate in enumerate(order)}


def float_step(p: LstmParams, x: np.ndarray, h: np.ndarray, c: np.ndarray, inputs: list[np.ndarray | None],
               row: int) -> tuple[np.ndarray, np.ndarray]:
    """LstmStepFloat for one batch row (``row``: its index, for the scratch buffers' alignment): new (h, c)."""
    offsets = float_gate_offsets(p)
    input_all_zeros = not np.any(x != 0)

    def gate(g: int, activation: int) -> np.ndarray:
        bias = np.asarray(inputs[GATE_BIAS[g]], _F32)
        buffer = np.zeros(p.n_cell, _F32) if p.use_layer_norm else bias.copy()
        if input_all_zeros:
            final = float_fully_connected(_wf(inputs, RECURRENT_TO_GATE[g]), h, buffer)
        else:
            from_input = float_fully_connected(_wf(inputs, INPUT_TO_GATE[g]), x, buffer)
            final = buffer = float_fully_connected(_wf(inputs, RECURRENT_TO_GATE[g]), h, from_input)
        peephole = CELL_TO_GATE[g]
        if p.use_peephole and peephole is not None:
            final = (final + (_wf(inputs, peephole) * c).astype(_F32)).astype(_F32)
        if p.use_layer_norm:
            final = (mean_stddev_normalization(final) * _wf(inputs, LAYER_NORM[g])).astype(_F32)
            final = (final + bias).astype(_F32)
        if not input_all_zeros:
            buffer = final  # the peephole and layer norm worked in G itself
        if activation == ACT_NONE:
            return buffer  # ApplyActivationToVector writes nothing: G keeps what it holds
        return _float_activation(final, activation, offsets[g] + row * p.n_cell)

    input_gate = None if p.use_cifg else gate(IG, -1)
    forget_gate = gate(FG, -1)
    cell_gate = gate(CG, p.activation)
    # UpdateLstmCellFloat
    with np.errstate(all="ignore"):
        c = (forget_gate * c).astype(_F32)
        if p.use_cifg:
            input_gate = (_F32(1.0) - forget_gate).astype(_F32)
        c = (c + (cell_gate * input_gate).astype(_F32)).astype(_F32)
        if p.cell_clip > 0:
            c = _clip(c, p.cell_clip)
        output_gate = gate(OG, -1)
        # CalculateLstmOutputFloat: the cell gate's buffer is its scratch
        activated = cell_gate if p.activation == ACT_NONE else _float_activation(c, p.activation, 0)
        hidden = (output_gate * activated).astype(_F32)
        if p.use_projection:
            bias = inputs[PROJECTION_BIAS]
            h = float_fully_connected(_wf(inputs, PROJECTION_WEIGHTS), hidden,
                                      np.zeros(p.n_output, _F32) if bias is None else np.asarray(bias, _F32))
            if p.proj_clip > 0:
                h = _clip(h, p.proj_clip)
        else:
            h = hidden[:p.n_output]
    return h, c


def _float_activation(v: np.ndarray, activation: int, offset: int) -> np.ndarray:
    """ApplyActivationToVector into a buffer ``offset`` floats past a 16-byte boundary (-1: sigmoid)."""
    if activation == -1:
        return eigen_logistic(v, offset)
    if activation == ACT_TANH:
        return eigen_tanh(v)
    return apply_activation_to_vector(v, activation)


def _wf(inputs: list[np.ndarray | None], position: int) -> np.ndarray:
    value = inputs[position]
    assert value is not None
    return np.asarray(value, _F32)


def float_lstm_spec(p: LstmParams, values: list[np.ndarray | None]) -> KernelResult:
    """EvalFloat: batch-major row by row (a time-major input has one batch row here)."""
    output_state, cell_state = values[OUTPUT_STATE], values[CELL_STATE]
    assert output_state is not None and cell_state is not None
    x = np.asarray(values[INPUT], _F32)
    h_all = np.asarray(output_state, _F32).reshape(p.n_batch, p.n_output).copy()
    c_all = np.asarray(cell_state, _F32).reshape(p.n_batch, p.n_cell).copy()
    out = np.zeros((*x.shape[:2], p.n_output), _F32)
    for b in range(p.n_batch):
        h, c = h_all[b], c_all[b]
        for t in range(p.max_time):
            row = x[t, b] if p.time_major else x[b, t]
            h, c = float_step(p, row, h, c, values, b)
            if p.time_major:
                out[t, b] = h
            else:
                out[b, t] = h
        h_all[b], c_all[b] = h, c
    return KernelResult(outputs=(out,), variable_updates={OUTPUT_STATE: h_all.reshape(output_state.shape),
                                                          CELL_STATE: c_all.reshape(cell_state.shape)})


# ------------------------------------------------------------------------------------------------
# hybrid (LiteRT): float32 activations and states, int8 weights with per-tensor scales. lstm_eval.cc EvalHybrid,
# LstmStepHybrid, CalculateLstmGateHybrid, CalculateLstmOutputHybrid; the products are
# MatrixBatchVectorMultiplyAccumulate with scaling factors (refinterp/ops/hybrid.py: the rules of LiteRT's hybrid
# FULLY_CONNECTED). One step on a block of rows (time-major: all batch rows at once; batch-major: one row)::
#
#     qx, sx, zx = BatchQuantizeFloats(x)    unless the whole block x is zero (IsZeroVector), then no product
#     qh, sh, zh = BatchQuantizeFloats(h)    likewise for the output state
#     G = bias (zeros with layer norm)
#     G += f32(dot(W_x, qx) - zx * rowsum(W_x)) * f32(sx * s_Wx)          (the zero-point term: asymmetric only)
#     G += f32(dot(W_h, qh) - zh * rowsum(W_h)) * f32(sh * s_Wh)
#     G += f32(w_c * s_c) * c                 (peephole: the int8 weights recovered in float32)
#     G = LN(G) * ln + bias                   (layer norm, float coefficients)
#     G = activation(G)                       (as the float LSTM: Eigen's logistic by scratch offset, ...)
#     c = f * c;  c += z * i (CIFG: i = 1 - f);  clip
#     C = activation(c) into the cell gate's buffer;  C = o * C
#     h = bias_P (or 0) + the hybrid product of P with the quantized C (skipped when C is all zero); proj clip
#         (no projection: h = C)
#
# BatchQuantizeFloats is symmetric, or asymmetric (per-row zero point) with asymmetric_quantize_inputs.


def _hybrid_accumulate(result: np.ndarray, weights: np.ndarray, scale: float,
                       quantized: tuple[np.ndarray, np.ndarray, np.ndarray], asymmetric: bool) -> np.ndarray:
    """MatrixBatchVectorMultiplyAccumulate(int8 matrix, quantized rows, scaling factors ``f32(s_row * scale)``)."""
    q, row_scales, zero_points = quantized
    w = np.asarray(weights, np.int64)
    factors = (row_scales * np.float32(scale)).astype(_F32)
    sums = sse_dot(w, q)
    if asymmetric:
        sums = wrap_int32(sums - wrap_int32(zero_points[:, None] * sse_row_sums(w)[None, :]))
    with np.errstate(over="ignore", invalid="ignore"):
        return (result + (sums.astype(_F32) * factors[:, None]).astype(_F32)).astype(_F32)


def hybrid_step(p: LstmParams, x: np.ndarray, h: np.ndarray, c: np.ndarray, inputs: list[np.ndarray | None],
                row: int) -> tuple[np.ndarray, np.ndarray]:
    """LstmStepHybrid on a block of rows ``x [rows, n_input]``, ``h [rows, n_output]``, ``c [rows, n_cell]``
    (``row``: the block's first batch row, for the gate buffers' alignment in the scratch tensor)."""
    scales = dict(p.weight_scales)
    offsets = float_gate_offsets(p)
    rows = x.shape[0]
    quantized_x = None if is_zero_vector(x) else quantize_rows(x, p.asymmetric)
    quantized_h = None if is_zero_vector(h) else quantize_rows(h, p.asymmetric)

    def gate(g: int, activation: int) -> np.ndarray:
        bias = np.asarray(inputs[GATE_BIAS[g]], _F32)
        buffer = np.zeros((rows, p.n_cell), _F32) if p.use_layer_norm else np.tile(bias, (rows, 1))
        if quantized_x is not None:
            buffer = _hybrid_accumulate(buffer, _w(inputs, INPUT_TO_GATE[g]), scales[INPUT_TO_GATE[g]],
                                        quantized_x, p.asymmetric)
        if quantized_h is not None:
            buffer = _hybrid_accumulate(buffer, _w(inputs, RECURRENT_TO_GATE[g]), scales[RECURRENT_TO_GATE[g]],
                                        quantized_h, p.asymmetric)
        peephole = CELL_TO_GATE[g]
        with np.errstate(all="ignore"):
            if p.use_peephole and peephole is not None:
                recovered = (np.asarray(_w(inputs, peephole), _F32) * _F32(scales[peephole])).astype(_F32)
                buffer = (buffer + (recovered[None, :] * c).astype(_F32)).astype(_F32)
            if p.use_layer_norm:
                normalized = np.stack([mean_stddev_normalization(r) for r in buffer])
                buffer = (normalized * _wf(inputs, LAYER_NORM[g])[None, :]).astype(_F32)
                buffer = (buffer + bias[None, :]).astype(_F32)
        if activation == ACT_NONE:
            return buffer
        return _float_activation(buffer, activation, offsets[g] + row * p.n_cell)

    input_gate = None if p.use_cifg else gate(IG, -1)
    forget_gate = gate(FG, -1)
    cell_gate = gate(CG, p.activation)
    with np.errstate(all="ignore"):
        c = (forget_gate * c).astype(_F32)
        if p.use_cifg:
            input_gate = (_F32(1.0) - forget_gate).astype(_F32)
        c = (c + (cell_gate * input_gate).astype(_F32)).astype(_F32)
        if p.cell_clip > 0:
            c = _clip(c, p.cell_clip)
        output_gate = gate(OG, -1)
        activated = cell_gate if p.activation == ACT_NONE else _float_activation(c, p.activation, 0)
        hidden = (output_gate * activated).astype(_F32)
        if not p.use_projection:
            return hidden, c
        bias = inputs[PROJECTION_BIAS]
        h = np.zeros((rows, p.n_output), _F32) if bias is None else np.tile(np.asarray(bias, _F32), (rows, 1))
        if not is_zero_vector(hidden):
            h = _hybrid_accumulate(h, _w(inputs, PROJECTION_WEIGHTS), scales[PROJECTION_WEIGHTS],
                                   quantize_rows(hidden, p.asymmetric), p.asymmetric)
        if p.proj_clip > 0:
            h = _clip(h, p.proj_clip)
    return h, c


def hybrid_lstm_spec(p: LstmParams, values: list[np.ndarray | None]) -> KernelResult:
    """EvalHybrid: time-major steps run all batch rows at once, batch-major ones row by row."""
    output_state, cell_state = values[OUTPUT_STATE], values[CELL_STATE]
    assert output_state is not None and cell_state is not None
    x = np.asarray(values[INPUT], _F32)
    h = np.asarray(output_state, _F32).reshape(p.n_batch, p.n_output).copy()
    c = np.asarray(cell_state, _F32).reshape(p.n_batch, p.n_cell).copy()
    out = np.zeros((*x.shape[:2], p.n_output), _F32)
    if p.time_major:
        for t in range(p.max_time):
            h, c = hybrid_step(p, x[t], h, c, values, 0)
            out[t] = h
    else:
        for b in range(p.n_batch):
            hb, cb = h[b:b + 1], c[b:b + 1]
            for t in range(p.max_time):
                hb, cb = hybrid_step(p, x[b, t:t + 1], hb, cb, values, b)
                out[b, t] = hb[0]
            h[b], c[b] = hb[0], cb[0]
    return KernelResult(outputs=(out,), variable_updates={OUTPUT_STATE: h.reshape(output_state.shape),
                                                          CELL_STATE: c.reshape(cell_state.shape)})


# ------------------------------------------------------------------------------------------------
# BIDIRECTIONAL_SEQUENCE_LSTM float32 and hybrid (LiteRT): tensorflow/lite/kernels/bidirectional_sequence_lstm.cc.
# Two LSTMs (no layer norm) over the same input: the forward cell's inputs are 1-17 (laid out as inputs 1-17
# of UNIDIRECTIONAL_SEQUENCE_LSTM), the backward cell's 18-34, then the states 35-38 (forward output state and
# cell state, backward output state and cell state: variable tensors), the auxiliary input 39 and its weights
# 40-47. Each cell is lstm_eval.cc EvalFloat (the float section above) with its own scratch tensor, or
# EvalHybrid (the hybrid section; Eval calls it time-major whatever time_major says: refinterp refuses a
# batch-major hybrid, which LiteRT reads with swapped sizes); the
# backward one walks the time steps from last to first (``t_rel = max_time - 1 - t``). merge_outputs writes
# the backward cell's output into the forward output after the forward cell's columns (one output tensor);
# otherwise output 1 holds it. In batch-major order EvalFloat offsets the output state by ``b * (the output's
# last dimension)``: merged outputs with batch > 1 read and write past the state tensors there: refused, as are
# the auxiliary weights (stacking with cross links), and a float time-major input with batch > 1 (Eigen's GEMM
# order, as for the unidirectional float LSTM). An auxiliary input without weights (stacking without cross links)
# is the backward cell's input instead of input 0.

BIDI_BACKWARD_BASE = 17  # backward cell input k (1-17 in the unidirectional layout) is input 17 + k
BIDI_STATES = ((35, 36), (37, 38))  # (output state, cell state) of the forward and backward cells
BIDI_AUX_INPUT = 39
BIDI_INPUTS = 48


@dataclass(frozen=True)
class BidirectionalLstmParams:
    cells: tuple[LstmParams, LstmParams]  # forward, backward
    merge_outputs: bool
    backward_reads_aux: bool = False  # an auxiliary input without weights: the backward cell's input


def _bidi_position(direction: int, position: int) -> int:
    """The operator input holding unidirectional input ``position`` (1-17) of a cell."""
    return position + (BIDI_BACKWARD_BASE if direction else 0)


def prepare_bidirectional_sequence_lstm(ctx: OpContext) -> BidirectionalLstmParams:
    """Prepare of bidirectional_sequence_lstm.cc (CheckLstmTensorDimensionsAndTypes for each cell, the state
    sizes, the output shapes) for float32."""
    if ctx.profile == "tflm":
        raise ctx.unsupported("TFLM has no BIDIRECTIONAL_SEQUENCE_LSTM kernel")
    if ctx.num_inputs != BIDI_INPUTS:
        raise ctx.fail(f"the bidirectional LSTM expects {BIDI_INPUTS} inputs, got {ctx.num_inputs}")
    merge_outputs = bool(ctx.options.get("merge_outputs", False))
    if len(ctx.op.outputs) != (1 if merge_outputs else 2):
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected {1 if merge_outputs else 2}")
    x = ctx.require_input(INPUT)
    x_shape = tuple(ctx.shape(x))
    if len(x_shape) != 3:
        raise ctx.fail(f"input must have 3 dimensions, got {list(x_shape)}")
    time_major = bool(ctx.options.get("time_major", True))
    max_time, n_batch = (x_shape[0], x_shape[1]) if time_major else (x_shape[1], x_shape[0])
    n_input = x_shape[2]
    cell_clip, proj_clip = float(ctx.options.get("cell_clip", 0.0)), float(ctx.options.get("proj_clip", 0.0))
    if not cell_clip >= 0 or not proj_clip >= 0:
        raise ctx.fail(f"cell_clip {cell_clip} and proj_clip {proj_clip} must be >= 0")
    if any(ctx.input(p) is not None for p in range(40, 48)):
        raise ctx.unsupported("the auxiliary input weights of BIDIRECTIONAL_SEQUENCE_LSTM (stacking with cross "
                              "links)")
    aux = ctx.input(BIDI_AUX_INPUT)
    backward_reads_aux = aux is not None
    if aux is not None and (tuple(ctx.shape(aux)) != x_shape or aux.type_name != x.type_name):
        # without auxiliary weights the backward cell runs on the auxiliary input, its sizes read from it but its
        # weights checked against the input: other shapes read out of bounds
        raise ctx.unsupported(f"an auxiliary input of shape {list(ctx.shape(aux))} ({aux.type_name}) for an "
                              f"input of shape {list(x_shape)} ({x.type_name})")
    if x.type_name != "float32":
        raise ctx.fail(f"{x.type_name} input (LiteRT's Prepare requires float32)")
    activation = int(ctx.options.get("fused_activation_function", 0))
    if activation not in FLOAT_LSTM_ACTIVATIONS:
        raise ctx.unsupported(f"fused activation {activation}")
    hybrid = ctx.require_input(_bidi_position(0, INPUT_TO_GATE[OG])).type_name == "int8"
    if hybrid and not time_major:
        # Eval passes time_major=true to EvalHybrid whatever the option says: a batch-major input is read as
        # time-major, with max_time and n_batch swapped against the state tensors' sizes
        raise ctx.unsupported("a batch-major hybrid bidirectional LSTM (LiteRT's EvalHybrid is called time-major "
                              "and reads the states with the wrong batch size)")
    if time_major and n_batch > 1 and not hybrid:
        raise ctx.unsupported("a time-major float32 LSTM with batch > 1 (LiteRT's Eigen GEMM order)")
    if merge_outputs and not time_major and n_batch > 1:
        raise ctx.unsupported("merged outputs, batch-major with batch > 1: LiteRT offsets the state tensors by the "
                              "merged output's width and reads past them")
    cells = []
    for direction in (0, 1):
        cells.append(_prepare_bidi_cell(ctx, direction, time_major, max_time, n_batch, n_input, activation,
                                        cell_clip, proj_clip, hybrid))
    forward, backward = cells
    if (forward.n_cell, forward.n_output) != (backward.n_cell, backward.n_output):
        # CheckInputTensorDimensions checks both cells' tensors against each cell's sizes in turn
        raise ctx.fail(f"the forward cell has {forward.n_cell} cells and {forward.n_output} outputs, the backward "
                       f"one {backward.n_cell} and {backward.n_output}: LiteRT requires the same sizes")
    leading = (max_time, n_batch) if time_major else (n_batch, max_time)
    if merge_outputs:
        ctx.set_output_shape(0, (*leading, forward.n_output + backward.n_output))
    else:
        ctx.set_output_shape(0, (*leading, forward.n_output))
        ctx.set_output_shape(1, (*leading, backward.n_output))
    for k in range(len(ctx.op.outputs)):
        if ctx.output(k).type_name != "float32":
            raise ctx.unsupported(f"a {ctx.output(k).type_name} output {k}")
    return BidirectionalLstmParams(cells=(forward, backward), merge_outputs=merge_outputs,
                                   backward_reads_aux=backward_reads_aux)


def _prepare_bidi_cell(ctx: OpContext, direction: int, time_major: bool, max_time: int, n_batch: int,
                       n_input: int, activation: int, cell_clip: float, proj_clip: float,
                       hybrid: bool) -> LstmParams:
    name = ("forward", "backward")[direction]

    def at(position: int) -> int:
        return _bidi_position(direction, position)

    w_io = ctx.require_input(at(INPUT_TO_GATE[OG]))
    w_io_shape = tuple(ctx.shape(w_io))
    if len(w_io_shape) != 2 or w_io_shape[1] != n_input:
        raise ctx.fail(f"{name} input-to-output weights have shape {list(w_io_shape)}, expected [n_cell, "
                       f"{n_input}]")
    n_cell = w_io_shape[0]
    w_ro_shape = tuple(ctx.shape(ctx.require_input(at(RECURRENT_TO_GATE[OG]))))
    if len(w_ro_shape) != 2 or w_ro_shape[0] != n_cell:
        raise ctx.fail(f"{name} recurrent-to-output weights have shape {list(w_ro_shape)}, expected [{n_cell}, "
                       "n_output]")
    n_output = w_ro_shape[1]
    for gate in (IG, FG, CG):
        _check_optional_2d(ctx, at(INPUT_TO_GATE[gate]), (n_cell, n_input), gate != IG,
                           f"{name} input-to-{GATE_NAMES[gate]}")
        _check_optional_2d(ctx, at(RECURRENT_TO_GATE[gate]), (n_cell, n_output), gate != IG,
                           f"{name} recurrent-to-{GATE_NAMES[gate]}")
    use_cifg = ctx.input(at(INPUT_TO_GATE[IG])) is None
    if use_cifg != (ctx.input(at(RECURRENT_TO_GATE[IG])) is None):
        raise ctx.fail(f"the {name} input gate's input and recurrent weights must be both present or both absent")
    peepholes = [None if p is None else ctx.input(at(p)) for p in CELL_TO_GATE]
    for gate in (IG, FG, OG):
        if peepholes[gate] is not None:
            _check_dims(ctx, peepholes[gate], (n_cell,), f"{name} cell-to-{GATE_NAMES[gate]} weights")
    all_peepholes = (peepholes[IG] is not None or use_cifg) and peepholes[FG] is not None \
        and peepholes[OG] is not None
    if not (all_peepholes or all(p is None for p in peepholes)):
        raise ctx.fail(f"the {name} peephole (cell-to-gate) weights must be all present or all absent")
    _check_gate_vectors(ctx, tuple(at(p) for p in GATE_BIAS), n_cell, use_cifg, "float32", f"{name} gate bias")
    projection, projection_bias = ctx.input(at(PROJECTION_WEIGHTS)), ctx.input(at(PROJECTION_BIAS))
    if projection is not None:
        _check_dims(ctx, projection, (n_output, n_cell), f"{name} projection weights")
    if projection_bias is not None:
        _check_dims(ctx, projection_bias, (n_output,), f"{name} projection bias")
        if projection_bias.type_name != "float32":
            raise ctx.fail(f"{name} projection bias is {projection_bias.type_name}, expected float32")
        if projection is None:
            raise ctx.fail(f"a {name} projection bias without projection weights")
    weight_type = "int8" if hybrid else "float32"
    weight_scales = []
    for position in (*INPUT_TO_GATE, *RECURRENT_TO_GATE, *(p for p in CELL_TO_GATE if p is not None),
                     PROJECTION_WEIGHTS):
        tensor = ctx.input(at(position))
        if tensor is None:
            continue
        if tensor.type_name != weight_type:
            raise ctx.unsupported(f"{tensor.type_name} {name} weights (input {at(position)}) with "
                                  f"{'int8' if hybrid else 'float32'} input-to-output weights")
        if hybrid:
            weight_scales.append((position, float(np.float32(_scale(ctx, tensor, f"input {at(position)}")))))
    if hybrid and projection is None and n_output != n_cell:
        raise ctx.unsupported(f"{n_output} outputs and {n_cell} cells without a projection")
    output_state_position, cell_state_position = BIDI_STATES[direction]
    output_state, cell_state = ctx.input(output_state_position), ctx.input(cell_state_position)
    for tensor, role, position, size in ((output_state, "output state", output_state_position, n_output),
                                         (cell_state, "cell state", cell_state_position, n_cell)):
        if tensor is None or not tensor.is_variable:
            raise ctx.fail(f"the {name} {role} (input {position}) must be a variable tensor")
        if math.prod(ctx.shape(tensor)) != n_batch * size:
            raise ctx.fail(f"the {name} {role} has {math.prod(ctx.shape(tensor))} elements, expected "
                           f"{n_batch * size}")
        if tensor.type_name != "float32":
            raise ctx.unsupported(f"a {tensor.type_name} {name} {role}")
    leading = (max_time, n_batch) if time_major else (n_batch, max_time)
    return LstmParams(kind="hybrid" if hybrid else "float32", time_major=time_major, max_time=max_time,
                      n_batch=n_batch, n_input=n_input, n_cell=n_cell, n_output=n_output, use_cifg=use_cifg,
                      use_peephole=peepholes[OG] is not None, use_projection=projection is not None,
                      use_layer_norm=False, output_shape=(*leading, n_output),
                      output_state_shape=tuple(ctx.shape(output_state)), cell_state_shape=tuple(ctx.shape(cell_state)),
                      activation=activation, cell_clip=np.float32(cell_clip), proj_clip=np.float32(proj_clip),
                      asymmetric=hybrid and bool(ctx.options.get("asymmetric_quantize_inputs", False)),
                      weight_scales=tuple(weight_scales))


def bidi_cell_values(values: list[np.ndarray | None], direction: int) -> list[np.ndarray | None]:
    """One cell's inputs in the unidirectional layout (24 positions, no layer norm)."""
    cell: list[np.ndarray | None] = [None] * 24
    cell[INPUT] = values[INPUT]
    for position in range(1, 18):
        cell[position] = values[_bidi_position(direction, position)]
    cell[OUTPUT_STATE], cell[CELL_STATE] = (values[p] for p in BIDI_STATES[direction])
    return cell


def float_lstm_pass(p: LstmParams, values: list[np.ndarray | None],
                    forward: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EvalFloat with forward_sequence = ``forward``: (output [..., n_output], new h, new c)."""
    x = np.asarray(values[INPUT], _F32)
    h_all = np.asarray(values[OUTPUT_STATE], _F32).reshape(p.n_batch, p.n_output).copy()
    c_all = np.asarray(values[CELL_STATE], _F32).reshape(p.n_batch, p.n_cell).copy()
    out = np.zeros((*x.shape[:2], p.n_output), _F32)
    times = range(p.max_time) if forward else range(p.max_time - 1, -1, -1)
    for b in range(p.n_batch):
        h, c = h_all[b], c_all[b]
        for t in times:
            row = x[t, b] if p.time_major else x[b, t]
            h, c = float_step(p, row, h, c, values, b)
            if p.time_major:
                out[t, b] = h
            else:
                out[b, t] = h
        h_all[b], c_all[b] = h, c
    return out, h_all, c_all


def hybrid_lstm_pass(p: LstmParams, values: list[np.ndarray | None],
                     forward: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EvalHybrid time-major with forward_sequence = ``forward``: (output, new h, new c)."""
    x = np.asarray(values[INPUT], _F32)
    h = np.asarray(values[OUTPUT_STATE], _F32).reshape(p.n_batch, p.n_output).copy()
    c = np.asarray(values[CELL_STATE], _F32).reshape(p.n_batch, p.n_cell).copy()
    out = np.zeros((*x.shape[:2], p.n_output), _F32)
    for t in (range(p.max_time) if forward else range(p.max_time - 1, -1, -1)):
        h, c = hybrid_step(p, x[t], h, c, values, 0)
        out[t] = h
    return out, h, c


def bidirectional_sequence_lstm_spec(p: BidirectionalLstmParams, *inputs: np.ndarray | None) -> KernelResult:
    values = list(inputs) + [None] * (BIDI_INPUTS - len(inputs))
    outputs, updates = [], {}
    for direction, cell in enumerate(p.cells):
        cell_values = bidi_cell_values(values, direction)
        if direction == 1 and p.backward_reads_aux:
            cell_values[INPUT] = values[BIDI_AUX_INPUT]  # Eval's non-stacking mode: bw_input = aux_input
        if cell.kind == "hybrid":
            out, h, c = hybrid_lstm_pass(cell, cell_values, forward=direction == 0)
        else:
            out, h, c = float_lstm_pass(cell, cell_values, forward=direction == 0)
        outputs.append(out)
        output_state_position, cell_state_position = BIDI_STATES[direction]
        updates[output_state_position] = h.reshape(np.shape(values[output_state_position]))
        updates[cell_state_position] = c.reshape(np.shape(values[cell_state_position]))
    if p.merge_outputs:
        return KernelResult(outputs=(np.concatenate(outputs, axis=-1),), variable_updates=updates)
    return KernelResult(outputs=tuple(outputs), variable_updates=updates)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def _explain_gate_part(trace, name: str, vector: np.ndarray, weights: np.ndarray, effective_bias: np.ndarray | None,
                       multiplier: tuple[int, int], accumulator: int, unit: int) -> int:
    """One ``PortableMatrixBatchVectorMultiplyAccumulate`` term of a gate at one unit:
    ``sat16(MBQM(effective_bias + W . v, m) + accumulator)``, as :func:`matrix_batch_vector_multiply_accumulate`."""
    row = np.asarray(weights[unit], np.int64)
    products = [int(w) * int(v) for w, v in zip(row, vector)]
    trace.add(f"{name} products", products, f"W[{unit}, k] * v[k] (raw int8 values: the zero point is in the "
              "effective bias)",
              items=[{"k": k, "w": int(w), "v": int(v)} for k, (w, v) in enumerate(zip(row, vector))])
    bias = 0 if effective_bias is None else int(effective_bias[unit])
    acc = trace.add(f"{name} accumulator", int(wrap_int32(bias + sum(products))), f"effective bias {bias} (bias - "
                    f"zp * rowsum(W)) + {sum(products)}, int32")
    scaled = trace.mbqm(acc, *multiplier)
    total = scaled + accumulator
    value = int(np.clip(total, INT16_MIN, INT16_MAX))
    trace.add(f"{name} into the gate", value, f"{scaled}" + (f" + {accumulator}" if accumulator else "")
              + " saturated to int16 (Q3.12)")
    expected = int(matrix_batch_vector_multiply_accumulate(
        np.asarray(vector, np.int64)[None, :], np.asarray([bias], np.int64), row[None, :], multiplier, 0,
        np.asarray([[accumulator]], np.int64), INT16_MIN, INT16_MAX)[0, 0])
    if expected != value:  # the parts above are the spec's function on one unit: this cannot differ
        raise AssertionError("traced gate term differs from matrix_batch_vector_multiply_accumulate")
    return value


def explain_unidirectional_sequence_lstm(ctx: OpContext, p: LstmParams, inputs: list, index: tuple[int, ...],
                                         trace) -> object:
    """UNIDIRECTIONAL_SEQUENCE_LSTM output ``index`` under LiteRT's integer 8x8_16 rule (module docstring): the
    state entering the time step (earlier steps run with the spec's :func:`integer_step` from the reset state),
    each gate's pre-activation at the element's cell (input and recurrent terms in detail, peephole and layer norm
    from the spec's functions), the activations, the cell update, the hidden state."""
    if p.kind == "float32":
        return _explain_float_lstm(ctx, p, inputs, index, trace)
    if p.kind == "hybrid":
        return _explain_hybrid_lstm(ctx, p, inputs, index, trace)
    if p.tflm is not None:
        return _explain_tflm_lstm(ctx, p, inputs, index, trace)
    if p.kind != "int8" or p.integer is None:
        raise trace.not_detailed(f"the {p.kind} rule")
    q = p.integer
    values, t, b, unit, h, c, block_x, row = _integer_states_entering(ctx, p, inputs, index, trace, integer_step)
    trace.add("output element", [t, b, unit] if p.time_major else [b, t, unit], f"batch {b}, time step {t}, output "
              f"{unit}" + (f"; the states entering step {t} come from running steps 0..{t - 1}" if t else "")
              + ("; with a projection every cell feeds it: the gates below are at cell "
                 f"{unit if unit < p.n_cell else 0}" if p.use_projection else ""))
    cell = unit if not p.use_projection else min(unit, p.n_cell - 1)
    trace.add("input", block_x[row].tolist(), f"x at batch {b}, time {t}")
    trace.add("output state (h)", h[row].tolist(), "the hidden state entering this step (int8)")
    trace.add("cell state (c)", int(c[row, cell]), f"cell {cell} entering this step (int16, scale 2^{q.cell_scale})")
    gates = {}
    for gate in ((FG, CG) if p.use_cifg else (IG, FG, CG)):
        gates[gate] = _explain_gate(trace, p, gate, block_x, h, c, values, row, cell)
    forget, cell_gate = gates[FG], gates[CG]
    kept = int(cwise_mul_shift(np.int64(forget), np.int64(c[row, cell]), 15))
    trace.add("forget x cell", kept, f"int16(RoundingDivideByPOT({forget} * {int(c[row, cell])}, 15))",
              rule="round to nearest, ties away from zero")
    input_gate = int(wrap_int16(INT16_MAX - forget)) if p.use_cifg else gates[IG]
    if p.use_cifg:
        trace.add("input gate (CIFG)", input_gate, f"32767 - {forget}")
    added = int(cwise_mul_shift(np.int64(input_gate), np.int64(cell_gate), 30 + q.cell_scale))
    trace.add("input x cell gate", added, f"int16(RoundingDivideByPOT({input_gate} * {cell_gate}, "
              f"{30 + q.cell_scale}))", rule="round to nearest, ties away from zero")
    new_cell = int(np.clip(kept + added, INT16_MIN, INT16_MAX))
    trace.add("new cell state", new_cell, f"sat16({kept} + {added})")
    if q.quantized_cell_clip > 0:
        new_cell = int(trace.clamp(new_cell, -q.quantized_cell_clip, q.quantized_cell_clip, "the cell clip"))
    # the step's new cell state and output gate for the whole block, by the spec's own functions
    input_gate_block = None if p.use_cifg else integer_gate(p, IG, block_x, h, c, values)
    forget_block = integer_gate(p, FG, block_x, h, c, values)
    cell_gate_block = integer_gate(p, CG, block_x, h, c, values)
    c_new = cwise_mul_shift(forget_block, c, 15)
    if p.use_cifg:
        input_gate_block = wrap_int16(INT16_MAX - forget_block)
    c_new = _sat16(c_new + cwise_mul_shift(input_gate_block, cell_gate_block, 30 + q.cell_scale))
    if q.quantized_cell_clip > 0:
        c_new = np.clip(c_new, -q.quantized_cell_clip, q.quantized_cell_clip)
    if int(c_new[row, cell]) != new_cell:
        raise AssertionError("traced cell update differs from the spec's")
    output_gate = _explain_gate(trace, p, OG, block_x, h, c_new, values, row, cell)
    cell_tanh = int(tanh_fixed_point(np.int64(new_cell), 15 + q.cell_scale, raw_bits=16))
    trace.add("tanh of the cell", cell_tanh, f"gemmlowp tanh of {new_cell} (Q{15 + q.cell_scale}) to Q0.15: "
              f"{cell_tanh / 32768!r}")
    if p.use_projection:
        h_new, _ = integer_step(p, block_x, h, c, values)
        trace.add("projection", int(h_new[row, unit]), f"o * tanh(c) of every cell requantized to int8 (minus the "
                  f"hidden zero point), then the projection weights' row {unit}, its effective bias, "
                  f"MBQM({list(q.projection_multiplier)}) + {q.output_state_zero_point}, clamped"
                  + (f", clipped to +-{q.quantized_proj_clip}" if q.quantized_proj_clip > 0 else ""))
        return int(h_new[row, unit])
    product = output_gate * cell_tanh
    trace.add("output gate x tanh(cell)", product, f"{output_gate} * {cell_tanh} (Q0.30)")
    value = trace.requantize(product, *q.hidden_multiplier, q.hidden_zero_point, -128, 127, "int8")
    h_new, _ = integer_step(p, block_x, h, c, values)
    if int(h_new[row, unit]) != value:
        raise AssertionError("traced LSTM output differs from integer_step's")
    return value


def _explain_gate(trace, p: LstmParams, gate: int, block_x: np.ndarray, h: np.ndarray, c: np.ndarray,
                  values: list, row: int, cell: int) -> int:
    """One gate at one cell: input term, recurrent term (both in detail), peephole and layer norm (the spec's
    functions on the block), the activation (gemmlowp fixed point, int16)."""
    q = p.integer
    name = GATE_NAMES[gate]
    trace.add(f"{name} gate", cell, f"the {name} gate at cell {cell}: W_x . x + W_h . h"
              + (" + peephole" if p.use_peephole and CELL_TO_GATE[gate] is not None else "")
              + (", layer norm" if p.use_layer_norm else "") + ", then " + ("tanh" if gate == CG else "logistic"))
    part = _explain_gate_part(trace, f"{name} gate, x term", block_x[row], _w(values, INPUT_TO_GATE[gate]),
                              q.input_effective_bias[gate], q.input_multipliers[gate], 0, cell)
    part = _explain_gate_part(trace, f"{name} gate, h term", h[row], _w(values, RECURRENT_TO_GATE[gate]),
                              q.recurrent_effective_bias[gate], q.recurrent_multipliers[gate], part, cell)
    g = np.zeros((block_x.shape[0], p.n_cell), dtype=np.int64)
    g = matrix_batch_vector_multiply_accumulate(block_x, q.input_effective_bias[gate], _w(values, INPUT_TO_GATE[gate]),
                                                q.input_multipliers[gate], 0, g, INT16_MIN, INT16_MAX)
    g = matrix_batch_vector_multiply_accumulate(h, q.recurrent_effective_bias[gate],
                                                _w(values, RECURRENT_TO_GATE[gate]), q.recurrent_multipliers[gate],
                                                0, g, INT16_MIN, INT16_MAX)
    if int(g[row, cell]) != part:
        raise AssertionError("traced gate differs from the spec's")
    peephole = CELL_TO_GATE[gate]
    if p.use_peephole and peephole is not None:
        g = peephole_accumulate(g, _w(values, peephole), c, p.n_output, q.cell_multipliers[gate])
        trace.add(f"{name} gate: plus peephole", int(g[row, cell]), "sat16(g + MBQM(w_c * c, m_c)) over n_output "
                  "elements per batch row of the flat buffers (LiteRT's rule)")
    if p.use_layer_norm:
        g = apply_layer_norm(g, _w(values, LAYER_NORM[gate]), _w(values, GATE_BIAS[gate]),
                             q.layer_norm_multipliers[gate], q.variance_guards[gate])
        trace.add(f"{name} gate: layer norm", int(g[row, cell]), "PortableApplyLayerNorm over the row's cells: integer "
                  "mean and variance, 1/sqrt as a multiplier, times the coefficient, plus the gate bias")
    pre = int(g[row, cell])
    trace.add(f"{name} gate: pre-activation", pre, f"Q3.12: {pre / 4096!r}")
    if gate == CG:
        activated = int(tanh_fixed_point(np.int64(pre), 3, raw_bits=16))
        said = "tanh"
    else:
        activated = int(logistic_fixed_point(np.int64(pre), 3, raw_bits=16))
        said = "logistic"
    trace.add(f"{name} gate: activation", activated, f"gemmlowp {said} on FixedPoint<int16, 3>, Q0.15: "
              f"{activated / 32768!r}")
    return activated


def _explain_float_gate(trace, p: LstmParams, gate: int, activation: int, x: np.ndarray, h: np.ndarray,
                        c: np.ndarray, values: list, row: int, cell: int) -> np.ndarray:
    """One gate of ``float_step`` (LstmStepFloat) for batch row ``row``, its whole vector computed with the
    module's functions in float_step's order, its values at ``cell`` recorded."""
    name = GATE_NAMES[gate]
    bias = np.asarray(values[GATE_BIAS[gate]], _F32)
    buffer = np.zeros(p.n_cell, _F32) if p.use_layer_norm else bias.copy()
    trace.add(f"{name} gate", cell, f"the {name} gate at cell {cell}: starts from "
              + ("0 (layer norm adds the bias later)" if p.use_layer_norm else f"bias[{cell}] = {float(bias[cell])!r}"))
    if not np.any(x != 0):
        final = float_fully_connected(_wf(values, RECURRENT_TO_GATE[gate]), h, buffer)
        trace.add(f"{name} gate: plus W_h . h", final[cell], "the input is all zero: only the recurrent product (Eigen "
                  "GEMV: four float32 lanes, (l0 + l2) + (l1 + l3), then the rest), clamped to [lowest, max]",
                  rule="round to nearest, ties to even")
    else:
        from_input = float_fully_connected(_wf(values, INPUT_TO_GATE[gate]), x, buffer)
        trace.add(f"{name} gate: plus W_x . x", from_input[cell], "Eigen GEMV (four float32 lanes, (l0 + l2) + "
                  "(l1 + l3), then the rest), then the bias added, clamped to [lowest, max]",
                  rule="round to nearest, ties to even")
        final = buffer = float_fully_connected(_wf(values, RECURRENT_TO_GATE[gate]), h, from_input)
        trace.add(f"{name} gate: plus W_h . h", final[cell], "the same GEMV of the recurrent weights, added",
                  rule="round to nearest, ties to even")
    peephole = CELL_TO_GATE[gate]
    with np.errstate(all="ignore"):
        if p.use_peephole and peephole is not None:
            final = (final + (_wf(values, peephole) * c).astype(_F32)).astype(_F32)
            trace.add(f"{name} gate: plus peephole", final[cell], f"+ w_c[{cell}] * c[{cell}], float32")
        if p.use_layer_norm:
            final = (mean_stddev_normalization(final) * _wf(values, LAYER_NORM[gate])).astype(_F32)
            final = (final + bias).astype(_F32)
            trace.add(f"{name} gate: layer norm", final[cell], "(g - mean) / sqrt(variance + 1e-8) over the cells, "
                      f"times the coefficient, plus bias[{cell}]")
    if np.any(x != 0):
        buffer = final
    trace.add(f"{name} gate: pre-activation", final[cell], "float32")
    if activation == ACT_NONE:
        trace.add(f"{name} gate: activation", buffer[cell], "none (the gate buffer keeps what it holds)")
        return buffer
    offsets = float_gate_offsets(p)
    activated = _float_activation(final, activation, offsets[gate] + row * p.n_cell)
    trace.add(f"{name} gate: activation", activated[cell], "Eigen's logistic (by the buffer's alignment)"
              if activation == -1 else f"fused activation {activation}" + (" (Eigen's tanh)" if activation == ACT_TANH
                                                                         else ""))
    return activated


def _explain_float_lstm(ctx: OpContext, p: LstmParams, inputs: list, index: tuple[int, ...], trace,
                        states: tuple[np.ndarray, np.ndarray] | None = None, backward: bool = False) -> object:
    """The float32 LSTM (``float_lstm_spec`` / ``float_step``) at one element: the states entering its time step
    (earlier steps by ``float_step``), each gate at the element's cell, the cell update, the output. ``states``:
    the (output, cell) states the cell starts from (default: the reset values of inputs 18 and 19); ``backward``:
    the input's time axis is reversed (a bidirectional LSTM's backward cell), the steps are named by their time."""
    values = list(inputs) + [None] * (24 - len(inputs))
    if states is None:
        states = explain_initial_state(ctx, OUTPUT_STATE, trace), explain_initial_state(ctx, CELL_STATE, trace)
    h_all = np.asarray(states[0]).astype(_F32).reshape(p.n_batch, p.n_output)
    c_all = np.asarray(states[1]).astype(_F32).reshape(p.n_batch, p.n_cell)
    x_all = np.asarray(values[INPUT], _F32)
    if p.time_major:
        t, b, unit = (int(v) for v in index)
    else:
        b, t, unit = (int(v) for v in index)
    h, c = h_all[b], c_all[b]
    for step in range(t):
        h, c = float_step(p, x_all[step, b] if p.time_major else x_all[b, step], h, c, values, b)
    x = x_all[t, b] if p.time_major else x_all[b, t]
    cell = unit if not p.use_projection else min(unit, p.n_cell - 1)
    time, earlier = _step_names(p, t, backward)
    trace.add("output element", _shown_index(p, index, time), f"batch {b}, time step {time}, output {unit}"
              + (f"; the states entering step {time} come from running steps {earlier} (LstmStepFloat)"
                 if t else "") + (f"; with a projection every cell feeds it: the gates below are at cell {cell}"
                                  if p.use_projection else ""))
    trace.add("input", x.tolist(), f"x at batch {b}, time {time}")
    trace.add("output state (h)", h.tolist(), "entering this step")
    trace.add("cell state (c)", c[cell], f"cell {cell} entering this step")
    input_gate = None if p.use_cifg else _explain_float_gate(trace, p, IG, -1, x, h, c, values, b, cell)
    forget_gate = _explain_float_gate(trace, p, FG, -1, x, h, c, values, b, cell)
    cell_gate = _explain_float_gate(trace, p, CG, p.activation, x, h, c, values, b, cell)
    with np.errstate(all="ignore"):
        new_c = (forget_gate * c).astype(_F32)
        trace.add("forget x cell", new_c[cell], f"{float(forget_gate[cell])!r} * {float(c[cell])!r}, float32")
        if p.use_cifg:
            input_gate = (_F32(1.0) - forget_gate).astype(_F32)
            trace.add("input gate (CIFG)", input_gate[cell], "1 - forget gate")
        new_c = (new_c + (cell_gate * input_gate).astype(_F32)).astype(_F32)
        trace.add("new cell state", new_c[cell], "+ cell gate x input gate, float32", rule="round to nearest, "
                  "ties to even")
        if p.cell_clip > 0:
            new_c = _clip(new_c, p.cell_clip)
            trace.add("cell clip", new_c[cell], f"to +-{float(p.cell_clip)!r}")
        output_gate = _explain_float_gate(trace, p, OG, -1, x, h, new_c, values, b, cell)
        activated = cell_gate if p.activation == ACT_NONE else _float_activation(new_c, p.activation, 0)
        trace.add("activation of the cell", activated[cell], "none: the cell gate's buffer" if p.activation == ACT_NONE
                  else f"fused activation {p.activation}" + (" (Eigen's tanh)" if p.activation == ACT_TANH else ""))
        hidden = (output_gate * activated).astype(_F32)
        trace.add("output gate x activation", hidden[cell], "float32")
    new_h, step_c = float_step(p, x, h, c, values, b)
    if not np.array_equal(step_c, new_c, equal_nan=True):
        raise AssertionError("traced float LSTM cell update differs from float_step's")
    if p.use_projection:
        trace.add("projection", new_h[unit], f"row {unit} of the projection weights times o * activation(c) of every "
                  "cell (Eigen GEMV), plus the projection bias, clamped" + (
                      f", clipped to +-{float(p.proj_clip)!r}" if p.proj_clip > 0 else ""))
        return new_h[unit]
    if not (hidden[unit] == new_h[unit] or (hidden[unit] != hidden[unit] and new_h[unit] != new_h[unit])):
        raise AssertionError("traced float LSTM output differs from float_step")
    trace.approximates(float(hidden[unit]))
    return hidden[unit]


def _explain_hybrid_term(trace, name: str, what: str, weights: np.ndarray, scale: float, block: np.ndarray,
                         quantized: tuple[np.ndarray, np.ndarray, np.ndarray] | None, row: int, cell: int,
                         before: np.float32, asymmetric: bool) -> np.float32:
    """One ``_hybrid_accumulate`` term of a hybrid LSTM gate at one cell: the row's quantization, the SSE dot,
    the zero-point correction, the scaling factor, the float32 add."""
    if quantized is None:
        trace.add(f"{name} gate: {what} term skipped", before, f"the whole block of {what} rows is zero "
                  "(IsZeroVector): nothing added")
        return before
    q_row, row_scale, zero_point = explain_quantize_row(trace, block[row], asymmetric, what=f"{what} row")
    if not np.array_equal(q_row, quantized[0][row]):
        raise AssertionError("the quantized row differs from quantize_rows'")
    w = np.asarray(weights, np.int64)
    sums = explain_hybrid_dot(trace, w[cell], q_row, f"{name} gate: {what} weights", sse=True)
    if asymmetric:
        row_sum = int(sse_row_sums(w)[cell])
        sums = trace.add("minus zero point x row sum", int(wrap_int32(sums - int(wrap_int32(zero_point * row_sum)))),
                         f"{sums} - {zero_point} * {row_sum} (int32)")
    factor = trace.add("scaling factor", _F32(np.float32(row_scale) * _F32(scale)),
                       f"f32(row scale {float(row_scale)!r} * s_w {scale!r})")
    with np.errstate(over="ignore", invalid="ignore"):
        total = _F32(before + _F32(_F32(sums) * factor))
    return trace.add(f"{name} gate: plus {what} term", total, f"{float(before)!r} + f32(f32({sums}) * "
                     f"{float(factor)!r})", rule="round to nearest, ties to even")


def _explain_hybrid_gate(trace, p: LstmParams, gate: int, activation: int, x: np.ndarray, h: np.ndarray,
                         c: np.ndarray, quantized_x, quantized_h, values: list, first_row: int, row: int,
                         cell: int) -> np.ndarray:
    """One gate of ``hybrid_step`` for the block, computed in hybrid_step's order with the module's functions
    (its whole block: the activation depends on the buffer's alignment), its values at (row, cell) recorded."""
    name = GATE_NAMES[gate]
    scales = dict(p.weight_scales)
    rows = x.shape[0]
    bias = np.asarray(values[GATE_BIAS[gate]], _F32)
    buffer = np.zeros((rows, p.n_cell), _F32) if p.use_layer_norm else np.tile(bias, (rows, 1))
    trace.add(f"{name} gate", cell, f"the {name} gate at cell {cell}: starts from "
              + ("0 (layer norm adds the bias later)" if p.use_layer_norm else f"bias[{cell}] = {float(bias[cell])!r}"))
    value = _explain_hybrid_term(trace, name, "input", _w(values, INPUT_TO_GATE[gate]), scales[INPUT_TO_GATE[gate]],
                                 x, quantized_x, row, cell, buffer[row, cell], p.asymmetric)
    if quantized_x is not None:
        buffer = _hybrid_accumulate(buffer, _w(values, INPUT_TO_GATE[gate]), scales[INPUT_TO_GATE[gate]],
                                    quantized_x, p.asymmetric)
    value = _explain_hybrid_term(trace, name, "output state", _w(values, RECURRENT_TO_GATE[gate]),
                                 scales[RECURRENT_TO_GATE[gate]], h, quantized_h, row, cell, value, p.asymmetric)
    if quantized_h is not None:
        buffer = _hybrid_accumulate(buffer, _w(values, RECURRENT_TO_GATE[gate]), scales[RECURRENT_TO_GATE[gate]],
                                    quantized_h, p.asymmetric)
    if not (buffer[row, cell] == value or (buffer[row, cell] != buffer[row, cell] and value != value)):
        raise AssertionError("traced hybrid gate term differs from _hybrid_accumulate's")
    peephole = CELL_TO_GATE[gate]
    with np.errstate(all="ignore"):
        if p.use_peephole and peephole is not None:
            recovered = (np.asarray(_w(values, peephole), _F32) * _F32(scales[peephole])).astype(_F32)
            buffer = (buffer + (recovered[None, :] * c).astype(_F32)).astype(_F32)
            trace.add(f"{name} gate: plus peephole", buffer[row, cell], f"+ f32(w_c[{cell}] * s_wc) * c[{cell}]")
        if p.use_layer_norm:
            normalized = np.stack([mean_stddev_normalization(r) for r in buffer])
            buffer = (normalized * _wf(values, LAYER_NORM[gate])[None, :]).astype(_F32)
            buffer = (buffer + bias[None, :]).astype(_F32)
            trace.add(f"{name} gate: layer norm", buffer[row, cell], "(g - mean) / sqrt(variance + 1e-8) over the "
                      f"cells, times the coefficient, plus bias[{cell}]")
    trace.add(f"{name} gate: pre-activation", buffer[row, cell], "float32")
    if activation == ACT_NONE:
        trace.add(f"{name} gate: activation", buffer[row, cell], "none")
        return buffer
    activated = _float_activation(buffer, activation, float_gate_offsets(p)[gate] + first_row * p.n_cell)
    trace.add(f"{name} gate: activation", activated[row, cell], "Eigen's logistic (by the buffer's alignment)"
              if activation == -1 else f"fused activation {activation}" + (" (Eigen's tanh)" if activation == ACT_TANH
                                                                         else ""))
    return activated


def _step_names(p: LstmParams, t: int, backward: bool) -> tuple[int, str]:
    """The time step at position ``t`` of the cell's walk and the steps before it, named by their time (the
    backward cell walks ``max_time - 1 .. 0``)."""
    if not backward:
        return t, f"0..{t - 1}"
    last = p.max_time - 1
    return last - t, f"{last}..{last - t + 1} (the backward cell runs from the last step)"


def _shown_index(p: LstmParams, index: tuple[int, ...], time: int) -> list[int]:
    """``index`` with its time coordinate ``time`` (the backward cell's walk position named by its time)."""
    shown = [int(v) for v in index]
    shown[0 if p.time_major else 1] = time
    return shown


def _explain_hybrid_lstm(ctx: OpContext, p: LstmParams, inputs: list, index: tuple[int, ...], trace,
                         states: tuple[np.ndarray, np.ndarray] | None = None, backward: bool = False) -> object:
    """The hybrid LSTM (``hybrid_lstm_spec`` / ``hybrid_step``) at one element: the states entering its time step
    (earlier steps by ``hybrid_step``), each gate at the element's cell, the cell update, the output. ``states``,
    ``backward``: as for :func:`_explain_float_lstm`."""
    values = list(inputs) + [None] * (24 - len(inputs))
    if states is None:
        states = explain_initial_state(ctx, OUTPUT_STATE, trace), explain_initial_state(ctx, CELL_STATE, trace)
    h = np.asarray(states[0]).astype(_F32).reshape(p.n_batch, p.n_output)
    c = np.asarray(states[1]).astype(_F32).reshape(p.n_batch, p.n_cell)
    x_all = np.asarray(values[INPUT], _F32)
    if p.time_major:
        t, b, unit = (int(v) for v in index)
        for step in range(t):
            h, c = hybrid_step(p, x_all[step], h, c, values, 0)
        x, first_row, row = x_all[t], 0, b
    else:
        b, t, unit = (int(v) for v in index)
        h, c = h[b:b + 1], c[b:b + 1]
        for step in range(t):
            h, c = hybrid_step(p, x_all[b, step:step + 1], h, c, values, b)
        x, first_row, row = x_all[b, t:t + 1], b, 0
    cell = unit if not p.use_projection else min(unit, p.n_cell - 1)
    time, earlier = _step_names(p, t, backward)
    trace.add("output element", _shown_index(p, index, time), f"batch {b}, time step {time}, output {unit}"
              + (f"; the states entering step {time} come from running steps {earlier} (LstmStepHybrid)"
                 if t else "") + (f"; with a projection every cell feeds it: the gates below are at cell {cell}"
                                  if p.use_projection else ""))
    trace.add("cell state (c)", c[row, cell], f"cell {cell} entering this step")
    quantized_x = None if is_zero_vector(x) else quantize_rows(x, p.asymmetric)
    quantized_h = None if is_zero_vector(h) else quantize_rows(h, p.asymmetric)
    common = (x, h, c, quantized_x, quantized_h, values, first_row, row, cell)
    input_gate = None if p.use_cifg else _explain_hybrid_gate(trace, p, IG, -1, *common)
    forget_gate = _explain_hybrid_gate(trace, p, FG, -1, *common)
    cell_gate = _explain_hybrid_gate(trace, p, CG, p.activation, *common)
    with np.errstate(all="ignore"):
        new_c = (forget_gate * c).astype(_F32)
        trace.add("forget x cell", new_c[row, cell], "float32")
        if p.use_cifg:
            input_gate = (_F32(1.0) - forget_gate).astype(_F32)
            trace.add("input gate (CIFG)", input_gate[row, cell], "1 - forget gate")
        new_c = (new_c + (cell_gate * input_gate).astype(_F32)).astype(_F32)
        trace.add("new cell state", new_c[row, cell], "+ cell gate x input gate, float32",
                  rule="round to nearest, ties to even")
        if p.cell_clip > 0:
            new_c = _clip(new_c, p.cell_clip)
            trace.add("cell clip", new_c[row, cell], f"to +-{float(p.cell_clip)!r}")
        output_gate = _explain_hybrid_gate(trace, p, OG, -1, x, h, new_c, quantized_x, quantized_h, values,
                                           first_row, row, cell)
        activated = cell_gate if p.activation == ACT_NONE else _float_activation(new_c, p.activation, 0)
        trace.add("activation of the cell", activated[row, cell], "none: the cell gate's buffer"
                  if p.activation == ACT_NONE else f"fused activation {p.activation}"
                  + (" (Eigen's tanh)" if p.activation == ACT_TANH else ""))
        hidden = (output_gate * activated).astype(_F32)
        trace.add("output gate x activation", hidden[row, cell], "float32")
    new_h, step_c = hybrid_step(p, x, h, c, values, first_row)
    if not np.array_equal(step_c, new_c, equal_nan=True):
        raise AssertionError("traced hybrid LSTM cell update differs from hybrid_step's")
    if p.use_projection:
        trace.add("projection", new_h[row, unit], f"the projection bias plus the hybrid product of row {unit} of the "
                  "projection weights with o * activation(c) of every cell, quantized (skipped when all zero)"
                  + (f", clipped to +-{float(p.proj_clip)!r}" if p.proj_clip > 0 else ""))
        return new_h[row, unit]
    value = hidden[row, unit]
    if not (value == new_h[row, unit] or (value != value and new_h[row, unit] != new_h[row, unit])):
        raise AssertionError("traced hybrid LSTM output differs from hybrid_step's")
    trace.approximates(float(value))
    return value


def _explain_tflm_fully_connected(trace, name: str, vector: np.ndarray, zero_point: int, weights: np.ndarray,
                                  bias: np.ndarray | None, multiplier: tuple[int, int], wide: bool, cell: int) -> int:
    """One ``tflm_fully_connected`` output at one cell: ``sat16(MBQM(bias + W . (v - zp), m))``."""
    row = np.asarray(weights, np.int64)[cell]
    shifted = np.asarray(vector, np.int64) - zero_point
    products = [int(w) * int(v) for w, v in zip(row, shifted)]
    trace.add(f"{name} products", products, f"W[{cell}, k] * (v[k] - {zero_point})",
              items=[{"k": k, "w": int(w), "v - zp": int(v)} for k, (w, v) in enumerate(zip(row, shifted))])
    acc = sum(products) + (0 if bias is None else int(np.asarray(bias, np.int64).reshape(-1)[cell]))
    trace.add(f"{name} accumulator", acc if wide else int(wrap_int32(acc)), (
        f"+ bias[{cell}]" if bias is not None else "no bias") + (", int64 (int16 activations)" if wide else ", int32"))
    scaled = trace.mbqm_int64(acc, *multiplier) if wide else trace.mbqm(int(wrap_int32(acc)), *multiplier)
    value = int(np.clip(scaled, INT16_MIN, INT16_MAX))
    trace.add(f"{name} (int16)", value, f"{scaled} saturated to int16 (Q3.12)")
    expected = int(tflm_fully_connected(np.asarray(vector, np.int64)[None, :], zero_point, row[None, :],
                                        None if bias is None else np.asarray([np.asarray(bias).reshape(-1)[cell]],
                                                                             np.int64), multiplier, wide)[0, 0])
    if expected != value:  # the parts above are tflm_fully_connected's on one unit: this cannot differ
        raise AssertionError("traced TFLM fully connected differs from tflm_fully_connected")
    return value


def _integer_states_entering(ctx: OpContext, p: LstmParams, inputs: list, index: tuple[int, ...], trace,
                             step_function) -> tuple:
    """The integer LSTM's inputs padded to 24, the element's (time step, batch, unit), the hidden and cell states
    entering its time step (the reset states run through ``step_function`` for the earlier steps), the input
    block of that step and the element's row in it."""
    values = list(inputs) + [None] * (24 - len(inputs))
    h0 = explain_initial_state(ctx, OUTPUT_STATE, trace).astype(np.int64).reshape(p.n_batch, p.n_output)
    c0 = explain_initial_state(ctx, CELL_STATE, trace).astype(np.int64).reshape(p.n_batch, p.n_cell)
    x = np.asarray(values[INPUT], np.int64)
    if p.time_major:
        t, b, unit = (int(v) for v in index)
        h, c = h0, c0
        for step in range(t):
            h, c = step_function(p, x[step], h, c, values)
        return values, t, b, unit, h, c, x[t], b
    b, t, unit = (int(v) for v in index)
    h, c = h0[b:b + 1], c0[b:b + 1]
    for step in range(t):
        h, c = step_function(p, x[b, step:step + 1], h, c, values)
    return values, t, b, unit, h, c, x[b, t:t + 1], 0


def _explain_tflm_lstm(ctx: OpContext, p: LstmParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """TFLM's integer LSTM (``tflm_integer_step``, the section comment above) at one element: the states entering
    its time step (earlier steps by ``tflm_integer_step``), each gate at the element's cell (two fully connected
    layers, the saturating add, the int16 logistic / tanh), the cell update, the hidden state."""
    q = p.tflm
    values, t, b, cell, h, c, block_x, row = _integer_states_entering(ctx, p, inputs, index, trace,
                                                                      tflm_integer_step)
    trace.add("output element", [int(v) for v in index], f"batch {b}, time step {t}, cell {cell}"
              + (f"; the states entering step {t} come from running steps 0..{t - 1} (TFLM's LstmStep)" if t else ""))
    trace.add("cell state (c)", int(c[row, cell]), f"cell {cell} entering this step (int16)")
    gates = {}
    for gate, activation in ((FG, "sigmoid"), (IG, "sigmoid"), (CG, "tanh" if q.cell_gate_tanh else "none"),
                             (OG, "sigmoid")):
        name = GATE_NAMES[gate]
        if gate == OG:  # computed after the cell update, as LstmStep does (it does not read the cell)
            kept = int(np.clip(multiply_by_quantized_multiplier(np.int64(gates[FG] * int(c[row, cell])),
                                                                *q.forget_cell_multiplier), INT16_MIN, INT16_MAX))
            trace.add("forget x cell", kept, f"sat16(MBQM({gates[FG]} * {int(c[row, cell])}, "
                      f"{list(q.forget_cell_multiplier)}))", rule="round to nearest, ties away from zero")
            added = int(np.clip(multiply_by_quantized_multiplier(np.int64(gates[IG] * gates[CG]),
                                                                 *q.input_cell_multiplier), INT16_MIN, INT16_MAX))
            trace.add("input x cell gate", added, f"sat16(MBQM({gates[IG]} * {gates[CG]}, "
                      f"{list(q.input_cell_multiplier)}))", rule="round to nearest, ties away from zero")
            new_cell = int(np.clip(kept + added, INT16_MIN, INT16_MAX))
            trace.add("new cell state", new_cell, f"sat16({kept} + {added})")
            if q.cell_clip:
                new_cell = int(trace.clamp(new_cell, -q.quantized_cell_clip, q.quantized_cell_clip, "the cell clip"))
        trace.add(f"{name} gate", cell, f"the {name} gate at cell {cell}")
        bias = values[GATE_BIAS[gate]]
        from_input = _explain_tflm_fully_connected(trace, f"{name} gate, x term", block_x[row], q.input_zero_point,
                                                   _w(values, INPUT_TO_GATE[gate]), bias, q.input_multipliers[gate],
                                                   q.wide, cell)
        from_state = _explain_tflm_fully_connected(trace, f"{name} gate, h term", h[row], q.state_zero_point,
                                                   _w(values, RECURRENT_TO_GATE[gate]), None,
                                                   q.recurrent_multipliers[gate], q.wide, cell)
        total = int(np.clip(from_input + from_state, INT16_MIN, INT16_MAX))
        trace.add(f"{name} gate: pre-activation", total, f"sat16({from_input} + {from_state}), Q3.12: {total / 4096!r}")
        if activation == "sigmoid":
            gates[gate] = int(logistic_int16(np.asarray([total], np.int64), 0, 0)[0])
            said = "Logistic int16 (x * 3, the 256-entry sigmoid table, interpolated)"
        elif activation == "tanh":
            gates[gate] = int(tanh_int16(np.asarray([total], np.int64), 0, 0)[0])
            said = "Tanh int16 (x * 3, the sigmoid table, interpolated)"
        else:
            gates[gate], said = total, "not activated (the fused activation is not TANH)"
        trace.add(f"{name} gate: activation", gates[gate], f"{said}, Q0.15: {gates[gate] / 32768!r}")
    cell_tanh = int(tanh_int16(np.asarray([new_cell], np.int64), *q.cell_tanh)[0])
    trace.add("tanh of the cell", cell_tanh, f"Tanh int16 with (multiplier, shift) {list(q.cell_tanh)} for the cell "
              f"scale, Q0.15: {cell_tanh / 32768!r}")
    product = cell_tanh * gates[OG]
    trace.add("tanh(cell) x output gate", product, f"{cell_tanh} * {gates[OG]}")
    low, high = (-32768, 32767) if p.kind == "int16" else (-128, 127)
    value = trace.requantize(product, *q.hidden_multiplier, q.hidden_zero_point, low, high, f"{p.kind}")
    new_h, new_c = tflm_integer_step(p, block_x, h, c, values)
    if int(new_c[row, cell]) != new_cell or int(new_h[row, cell]) != value:
        raise AssertionError("traced TFLM LSTM step differs from tflm_integer_step")
    return value


def explain_bidirectional_sequence_lstm(ctx: OpContext, p: BidirectionalLstmParams, inputs: list,
                                        index: tuple[int, ...], trace) -> object:
    """BIDIRECTIONAL_SEQUENCE_LSTM output ``index`` (the section comment above): the cell the element belongs to
    (output 1, or the merged output's columns after the forward cell's outputs: the backward cell), then that
    cell's float32 or hybrid LSTM explained as UNIDIRECTIONAL_SEQUENCE_LSTM's (:func:`_explain_float_lstm`,
    :func:`_explain_hybrid_lstm`) on the cell's inputs (the auxiliary input for the backward cell when the model
    has one without weights) from its own states' reset values; the backward cell on its input with the time
    axis reversed, as it walks the steps from last to first."""
    values = list(inputs) + [None] * (BIDI_INPUTS - len(inputs))
    forward_outputs = p.cells[0].n_output
    time_axis = 0 if p.cells[0].time_major else 1
    unit = int(index[2])
    if p.merge_outputs:
        direction = 1 if unit >= forward_outputs else 0
        unit -= forward_outputs * direction
    else:
        direction = 1 if trace.output == 1 else 0
    cell = p.cells[direction]
    cell_values = bidi_cell_values(values, direction)
    reads_aux = direction == 1 and p.backward_reads_aux
    if reads_aux:
        cell_values[INPUT] = values[BIDI_AUX_INPUT]  # Eval's non-stacking mode: bw_input = aux_input
    trace.add("output element", [int(v) for v in index], f"output {unit} of the {('forward', 'backward')[direction]} "
              "cell" + (f" (column {int(index[2])} of the merged output: the backward cell's outputs follow the "
                        f"{forward_outputs} forward ones)" if p.merge_outputs else f" (output {direction})")
              + ("; it reads the auxiliary input (given without auxiliary weights) instead of x" if reads_aux else "")
              + ("; it walks the time steps from last to first" if direction else ""))
    output_state, cell_state = BIDI_STATES[direction]
    states = explain_initial_state(ctx, output_state, trace), explain_initial_state(ctx, cell_state, trace)
    element = [int(v) for v in index]
    element[2] = unit
    if direction:
        cell_values[INPUT] = np.flip(np.asarray(cell_values[INPUT], _F32), axis=time_axis)
        element[time_axis] = cell.max_time - 1 - element[time_axis]
    explain = _explain_hybrid_lstm if cell.kind == "hybrid" else _explain_float_lstm
    return explain(ctx, cell, cell_values, tuple(element), trace, states=states, backward=direction == 1)
