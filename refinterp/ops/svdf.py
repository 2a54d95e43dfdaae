"""SVDF: int8 (int16 state), float32 and hybrid (float32 with int8 weights), with its state carried across invokes.

Inputs: ``x [batch, input_size]``, ``weights_feature [filters, input_size]``, ``weights_time [filters, memory]``,
``bias [units]`` (optional), ``state [batch, filters * memory]`` (a variable tensor); ``units = filters / rank``.
The output is ``[batch, units]``. The state holds, per batch and filter, the last ``memory`` feature activations,
oldest first; the kernel returns the new state (:class:`~refinterp.ops.common.KernelResult`, input 4), which
the interpreter keeps for the next ``invoke()`` as LiteRT's kernel keeps it (it writes the tensor in place).

Every rule (sources: LiteRT ``tflite/kernels/svdf.cc`` and ``kernels/internal/reference/svdf.h``
``EvalIntegerSVDF`` / ``EvalFloatSVDF`` / ``EvalHybridSVDF``; TFLM ``micro/kernels/svdf_common.cc``) runs:

1. shift the state left by one (``std::copy(state + 1, state + n, state)``): every filter's row loses its
   oldest value; its newest slot is then overwritten by
2. the feature activation of this invoke: ``a[b, f] = weights_feature[f] . x[b]``;
3. ``scratch[b, f] = weights_time[f] . state[b, f, :]`` (the new state);
4. ``out[b, u] = sum_r scratch[b, u * rank + r]`` (+ bias), then the activation.

int8 (LiteRT)::

    a     = clamp(MBQM(sum_c wf[f, c] * (x[b, c] - zp_in), M1, s1), -32768, 32767)     (int16 state)
    acc   = bias[u] + sum_r sum_m wt[f, m] * state[b, f, m]                         (int32, wrapping)
    y     = clamp(MBQM(acc, M2, s2) + zp_out, -128, 127)

with ``M1, s1 = QuantizeMultiplier(f64(f32(f32(s_in * s_wf) / s_state)))`` and ``M2, s2 =
QuantizeMultiplier(f64(f32(f32(s_state * s_wt) / s_out)))``: float32 products, as ai-edge-litert 2.3.0
computes them (measured; the double products of LiteRT's later sources give other multipliers). LiteRT
requires the RELU activation (its Eval refuses any other) and never applies it: the output is only clamped to
int8. The state's zero point is not read (assumed 0). TFLM's rule (``EvalIntegerSvdfReference``) adds the
state's zero point before the clamp to the state type and subtracts it in the time dot product, and takes an
int8 state with int8 time weights too (the clamp is then to int8); it ignores the activation, requires the
bias and a bias scale within 1e-5 of ``f32(s_state * s_wt)``.

float32 (LiteRT, measured with ai-edge-litert 2.3.0: its tensor_utils are the NEON ones through NEON_2_SSE):
every dot product and the rank reduction sum in four float32 lanes over blocks of four, the lanes added
``((l0 + l1) + l2) + l3``, then the remaining elements one at a time (``NeonMatrixBatchVectorMultiplyAccumulate``
adds the lane sum and the remainder to the result, which starts at 0.0f; ``NeonVectorVectorDotProduct`` and
``NeonReductionSumVector`` start from the lane sum); the bias is added after the reduction
(``VectorBatchVectorAdd``). TFLM computes everything in plain order: each dot product from 0.0f, element by
element, and the output starts from the bias and adds the rank's values.

hybrid (LiteRT only): the feature activation is the hybrid fully-connected rule of ``refinterp/ops/hybrid.py``
(an all-zero input gives 0; else per batch row symmetric or, with ``asymmetric_quantize_inputs``, asymmetric
quantization, ``scale_b = f32(scale_b * s_wf)``, ``a = f32(0 + f32(f32(dot - zp_b * row_sum) * scale_b))``);
the time weights are dequantized once (``f32(wt * s_wt)``, int8 and uint8 read as int8), and steps 3-4 are the
float32 rule. The fused activation (float32 and hybrid) is ``ApplyActivationToVector``: NONE, RELU, RELU6,
RELU_N1_TO_1, SIGN_BIT, and TANH through Eigen's vectorized tanh (``refinterp/ops/eigen_math.py``; the flatbuffer
schema has no SIGMOID fused activation: ConvertActivation reads any other value as NONE). TFLM's float SVDF
applies ``ActivationValFloat`` element by element: TANH is the C library's ``tanhf`` there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import KernelResult, OpContext, checked_quantize_multiplier, per_tensor_qparams
from refinterp.ops.eigen_math import eigen_tanh
from refinterp.ops.fully_connected import apply_activation_to_vector
from refinterp.ops.hybrid import (
    explain_hybrid_dot,
    explain_quantize_row,
    hybrid_weights,
    is_zero_vector,
    quantize_rows,
    sse_dot,
    sse_row_sums,
)
from refinterp.ops.softmax_logistic import tanhf
from refinterp.quant import (
    ACT_NONE,
    ACT_RELU,
    ACT_RELU6,
    ACT_RELU_N1_TO_1,
    ACT_SIGN_BIT,
    ACT_TANH,
    multiply_by_quantized_multiplier,
    wrap_int32,
)

FLOAT_ACTIVATIONS = (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT)
NEON_LANES = 4  # kFloatValuesPerNeonVector


@dataclass(frozen=True)
class SvdfParams:
    kind: str  # "int8", "float32", "hybrid"
    rank: int
    batch: int
    input_size: int
    filters: int
    units: int
    memory: int
    activation: int = ACT_NONE
    plain_float: bool = False  # tflm: plain-order float sums (litert-ref: NEON lanes)
    # int8
    multiplier_1: int = 0
    shift_1: int = 0
    multiplier_2: int = 0
    shift_2: int = 0
    input_zero_point: int = 0
    output_zero_point: int = 0
    state_zero_point: int = 0  # read by TFLM only
    state_dtype: np.dtype = np.dtype(np.int16)
    # hybrid
    feature_scale: float = 1.0  # float32 s_wf
    time_scale: float = 1.0  # float32 s_wt
    asymmetric: bool = False


def prepare_svdf(ctx: OpContext) -> SvdfParams:
    """svdf.cc Prepare (LiteRT) / PrepareSvdf (TFLM), plus the type checks of their Eval."""
    ctx.check_inputs(5, 5)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    x, wf, wt = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2)
    bias, state, y = ctx.input(3), ctx.require_input(4), ctx.output(0)
    ctx.check_dtype(x, ("int8", "float32"), "input")
    rank = int(ctx.options.get("rank", 0))
    x_shape, wf_shape, wt_shape, state_shape = ctx.shape(x), ctx.shape(wf), ctx.shape(wt), ctx.shape(state)
    if len(x_shape) != 2 or len(wf_shape) != 2 or len(wt_shape) != 2:
        # LiteRT reads dims[0] and dims[1] of each without checking the rank (TFLM checks it)
        raise ctx.fail(f"input {list(x_shape)}, weights_feature {list(wf_shape)} and weights_time "
                       f"{list(wt_shape)} must be 2-D")
    batch, input_size = x_shape
    filters, memory = wf_shape[0], wt_shape[1]
    if rank <= 0:
        raise ctx.fail(f"rank is {rank}, must be positive")
    if filters % rank:
        raise ctx.fail(f"{filters} filters are not a multiple of rank {rank}")
    units = filters // rank
    if wf_shape[1] != input_size:
        raise ctx.fail(f"weights_feature has {wf_shape[1]} columns, the input {input_size}")
    if wt_shape[0] != filters:
        raise ctx.fail(f"weights_time has {wt_shape[0]} rows, weights_feature {filters} filters")
    if memory < 1:
        raise ctx.fail("weights_time has no memory columns")
    if bias is not None and (len(ctx.shape(bias)) < 1 or ctx.shape(bias)[0] != units):
        raise ctx.fail(f"bias shape {list(ctx.shape(bias))}, expected [{units}]")
    if bias is not None and math.prod(ctx.shape(bias)) < units:
        # LiteRT and TFLM check the first dimension only, then read `units` values: past the end of this one
        raise ctx.fail(f"bias shape {list(ctx.shape(bias))} holds fewer than {units} values")
    if state_shape != (batch, memory * filters):
        raise ctx.fail(f"state shape {list(state_shape)}, expected [{batch}, {memory * filters}]")
    if not state.is_variable:
        # LiteRT's GetVariableInput returns null for a non-variable state and Eval fails; TFLM checks it
        raise ctx.fail(f"state tensor {state.index} is not a variable tensor")
    if bias is None and ctx.profile == "tflm":
        # TFLM reads the bias's data (float) or scale (int8) without a null check (its TODO #1751)
        raise ctx.fail("TFLM's SVDF reads the bias without checking it: a bias is required")
    ctx.set_output_shape(0, (batch, units))
    activation = int(ctx.options.get("fused_activation_function", ACT_NONE))
    base = dict(rank=rank, batch=batch, input_size=input_size, filters=filters, units=units, memory=memory,
                activation=activation, plain_float=ctx.profile == "tflm")
    if x.type_name == "int8":
        return _prepare_int8(ctx, x, wf, wt, bias, state, y, base)
    if wf.type_name == "float32":
        for tensor, role in ((wt, "weights_time"), (state, "state"), (y, "output")):
            if tensor.type_name != "float32":
                raise ctx.unsupported(f"float32 SVDF with {tensor.type_name} {role}")
        if bias is not None and bias.type_name != "float32":
            raise ctx.unsupported(f"float32 SVDF with {bias.type_name} bias")
        _check_float_activation(ctx, activation)
        return SvdfParams(kind="float32", **base)
    return _prepare_hybrid(ctx, wf, wt, bias, state, y, base, activation)


def _check_float_activation(ctx: OpContext, activation: int) -> None:
    if activation not in FLOAT_ACTIVATIONS:  # the parser maps every other value to NONE, as ConvertActivation
        raise ctx.unsupported(f"fused activation {activation}")


def apply_float_activation(v: np.ndarray, activation: int, tflm: bool = False) -> np.ndarray:
    """LiteRT's ``tensor_utils::ApplyActivationToVector`` (TANH: Eigen's tanh, ``refinterp/ops/eigen_math.py``;
    it is elementwise, whatever the vector's alignment), or with ``tflm`` TFLM's ``ActivationValFloat`` (TANH:
    ``std::tanh(float)``, the C library's ``tanhf``)."""
    if activation == ACT_TANH:
        return tanhf(v) if tflm else eigen_tanh(v)
    return apply_activation_to_vector(v, activation)


def _prepare_int8(ctx: OpContext, x, wf, wt, bias, state, y, base: dict) -> SvdfParams:
    tflm = ctx.profile == "tflm"
    if wf.type_name != "int8":
        raise ctx.unsupported(f"int8 SVDF with {wf.type_name} weights_feature")
    allowed_state = ("int16", "int8") if tflm else ("int16",)
    if wt.type_name not in allowed_state or state.type_name != wt.type_name:
        # LiteRT reads both as int16 whatever their type; TFLM reads the state as the time weights' type
        raise ctx.unsupported(f"int8 SVDF with {wt.type_name} weights_time and {state.type_name} state "
                              f"(supported: both {' or both '.join(allowed_state)})")
    if y.type_name != "int8":
        raise ctx.unsupported(f"int8 SVDF with {y.type_name} output")
    if bias is not None and bias.type_name != "int32":
        raise ctx.unsupported(f"int8 SVDF with {bias.type_name} bias")
    s_in, zp_in = per_tensor_qparams(ctx, x, "input")
    s_wf, _ = per_tensor_qparams(ctx, wf, "weights_feature")
    s_wt, _ = per_tensor_qparams(ctx, wt, "weights_time")
    s_state, zp_state = per_tensor_qparams(ctx, state, "state")
    s_out, zp_out = per_tensor_qparams(ctx, y, "output")
    if tflm:
        s_bias, _ = per_tensor_qparams(ctx, bias, "bias")
        if not abs(float(s_bias) - float(np.float32(np.float32(s_state) * np.float32(s_wt)))) < 1e-5:
            raise ctx.fail(f"bias scale {s_bias:g} differs from state scale x weights_time scale by 1e-5 or more")
    elif base["activation"] != ACT_RELU:
        # svdf.cc Eval: "Currently supports only ReLU" (and then applies none)
        raise ctx.fail(f"fused activation {base['activation']}: LiteRT's int8 SVDF requires RELU")
    # both compute the effective scales in float32 and only then widen them to double (measured with
    # ai-edge-litert 2.3.0: the double product gives another multiplier, e.g. in keyword_scrambled.tflite)
    f = np.float32
    scale_1 = float(f(f(s_in) * f(s_wf)) / f(s_state))
    scale_2 = float(f(f(s_state) * f(s_wt)) / f(s_out))
    m1, sh1 = checked_quantize_multiplier(ctx, scale_1, "the feature multiplier s_in * s_wf / s_state")
    m2, sh2 = checked_quantize_multiplier(ctx, scale_2, "the output multiplier s_state * s_wt / s_out")
    return SvdfParams(kind="int8", multiplier_1=m1, shift_1=sh1, multiplier_2=m2, shift_2=sh2,
                      input_zero_point=zp_in, output_zero_point=zp_out,
                      state_zero_point=zp_state if tflm else 0, state_dtype=np.dtype(state.type_name), **base)


def _prepare_hybrid(ctx: OpContext, wf, wt, bias, state, y, base: dict, activation: int) -> SvdfParams:
    if ctx.profile == "tflm":
        raise ctx.fail(f"float32 input with {wf.type_name} weights_feature: TFLM has no hybrid SVDF")
    if wf.type_name not in ("int8", "uint8"):
        raise ctx.unsupported(f"SVDF with float32 input and {wf.type_name} weights_feature")
    if wt.type_name not in ("int8", "uint8"):
        raise ctx.unsupported(f"hybrid SVDF with {wt.type_name} weights_time (LiteRT reads them as int8)")
    for tensor, role in ((state, "state"), (y, "output")):
        if tensor.type_name != "float32":
            raise ctx.unsupported(f"hybrid SVDF with {tensor.type_name} {role}")
    if bias is not None and bias.type_name != "float32":
        raise ctx.unsupported(f"hybrid SVDF with {bias.type_name} bias")
    _check_float_activation(ctx, activation)
    s_wf, _ = per_tensor_qparams(ctx, wf, "weights_feature")
    s_wt, _ = per_tensor_qparams(ctx, wt, "weights_time")
    return SvdfParams(kind="hybrid", feature_scale=float(np.float32(s_wf)), time_scale=float(np.float32(s_wt)),
                      asymmetric=bool(ctx.options.get("asymmetric_quantize_inputs", False)), **base)


# ------------------------------------------------------------------------------------------------
# float32 tensor_utils as LiteRT 2.3.0 runs them (NEON through NEON_2_SSE), and TFLM's plain loops


def lane_sum(lanes: np.ndarray) -> np.ndarray:
    """AccumulateNeonLane (not aarch64): ``((l0 + l1) + l2) + l3`` over the last axis, in float32."""
    return (((lanes[..., 0] + lanes[..., 1]).astype(np.float32) + lanes[..., 2]).astype(np.float32)
            + lanes[..., 3]).astype(np.float32)


def neon_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NeonVectorVectorDotProduct along the last axis (broadcasting): four lanes over blocks of four
    (``acc += a * b``, the product rounded, then the sum), their sum, then the remaining products one by one."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    n = a.shape[-1]
    blocks = n - n % NEON_LANES
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    lanes = np.zeros((*shape, NEON_LANES), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for c in range(0, blocks, NEON_LANES):
            lanes = (lanes + (a[..., c:c + NEON_LANES] * b[..., c:c + NEON_LANES]).astype(np.float32)).astype(
                np.float32)
        total = lane_sum(lanes)
        for c in range(blocks, n):
            total = (total + (a[..., c] * b[..., c]).astype(np.float32)).astype(np.float32)
    return total


def neon_reduction_sum(v: np.ndarray) -> np.ndarray:
    """NeonReductionSumVector along the last axis: the same four lanes, then the rest one by one."""
    v = np.asarray(v, np.float32)
    ones = np.ones(v.shape[-1], np.float32)  # x * 1.0f is x exactly
    return neon_dot(v, ones)


def plain_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TFLM's loops: ``s = 0.0f; s += a[i] * b[i]`` for i = 0, 1, ... (each product and sum in float32)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    total = np.zeros(np.broadcast_shapes(a.shape[:-1], b.shape[:-1]), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for c in range(a.shape[-1]):
            total = (total + (a[..., c] * b[..., c]).astype(np.float32)).astype(np.float32)
    return total


# ------------------------------------------------------------------------------------------------
# Spec kernel


def shifted_state(p: SvdfParams, state: np.ndarray) -> np.ndarray:
    """Step 1: ``[batch, filters, memory]``, every row moved one to the left (the newest slot keeps a stale
    value: step 2 overwrites it)."""
    rows = np.array(state).reshape(p.batch, p.filters, p.memory)
    rows[:, :, :-1] = rows[:, :, 1:].copy()
    return rows


def svdf_spec(p: SvdfParams, x: np.ndarray, weights_feature: np.ndarray, weights_time: np.ndarray,
              bias: np.ndarray | None, state: np.ndarray) -> KernelResult:
    rows = shifted_state(p, state)
    if p.kind == "int8":
        return _svdf_int8(p, x, weights_feature, weights_time, bias, rows)
    if p.kind == "float32":
        dot = plain_dot if p.plain_float else neon_dot
        if p.plain_float:
            activations = plain_dot(weights_feature[None, :, :], x[:, None, :])
        else:  # NeonMatrixBatchVectorMultiplyAccumulate into a zeroed scratch: 0.0f + lanes, then the rest
            activations = _neon_matrix_batch_vector(weights_feature, x)
        rows[:, :, -1] = activations
        time_weights = np.asarray(weights_time, np.float32)
    else:
        rows[:, :, -1] = _hybrid_activations(p, x, weights_feature)
        dot = neon_dot
        time_weights = (hybrid_weights(weights_time).astype(np.float32) * np.float32(p.time_scale)).astype(
            np.float32)
    output = _time_bias_activation(p, rows, time_weights, bias, dot)
    return KernelResult(outputs=(output,), variable_updates={4: rows.reshape(p.batch, p.filters * p.memory)})


def _neon_matrix_batch_vector(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``result[b, r] = 0.0f``, then ``+= lane sum``, then ``+= m[r, c] * v[b, c]`` for the last ``cols % 4``."""
    matrix, vectors = np.asarray(matrix, np.float32), np.asarray(vectors, np.float32)
    cols = matrix.shape[1]
    blocks = cols - cols % NEON_LANES
    lanes_only = neon_dot(matrix[None, :, :blocks], vectors[:, None, :blocks])
    result = (np.float32(0.0) + lanes_only).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for c in range(blocks, cols):
            result = (result + (matrix[None, :, c] * vectors[:, None, c]).astype(np.float32)).astype(np.float32)
    return result


def _hybrid_activations(p: SvdfParams, x: np.ndarray, weights_feature: np.ndarray) -> np.ndarray:
    """EvalHybridSVDF's feature step (the hybrid rule of refinterp/ops/hybrid.py) into a zeroed scratch."""
    x = np.asarray(x, np.float32)
    scratch = np.zeros((p.batch, p.filters), np.float32)
    if is_zero_vector(x):
        return scratch
    q, scales, zero_points = quantize_rows(x, p.asymmetric)
    scales = (scales * np.float32(p.feature_scale)).astype(np.float32)  # scaling_factors[b] *= s_wf
    weights = hybrid_weights(weights_feature).reshape(p.filters, p.input_size)
    sums = sse_dot(weights, q)
    if p.asymmetric:
        sums = wrap_int32(sums - wrap_int32(zero_points[:, None] * sse_row_sums(weights)[None, :]))
    with np.errstate(over="ignore", invalid="ignore"):
        return (scratch + (sums.astype(np.float32) * scales[:, None]).astype(np.float32)).astype(np.float32)


def bias_values(p: SvdfParams, bias: np.ndarray, dtype: type) -> np.ndarray:
    """The bias as the kernels read it: its first ``units`` values. LiteRT's and TFLM's Prepare check only its
    first dimension (svdf.cc: ``bias->dims->data[0] == num_units``), so a bias [units, k] is read flat."""
    return np.asarray(bias, dtype).reshape(-1)[:p.units]


def _time_bias_activation(p: SvdfParams, rows: np.ndarray, time_weights: np.ndarray, bias: np.ndarray | None,
                          dot) -> np.ndarray:
    """ApplyTimeWeightsBiasAndActivation (float): time dot products, rank reduction, bias, activation."""
    scratch = dot(time_weights[None, :, :], rows)  # [batch, filters]
    by_unit = scratch.reshape(p.batch, p.units, p.rank)
    with np.errstate(over="ignore", invalid="ignore"):
        if p.plain_float:  # TFLM: output = bias (or 0); output += scratch, rank by rank
            out = np.zeros((p.batch, p.units), np.float32)
            if bias is not None:
                out[:] = bias_values(p, bias, np.float32)
            for r in range(p.rank):
                out = (out + by_unit[:, :, r]).astype(np.float32)
        else:  # LiteRT: ReductionSumVector, then VectorBatchVectorAdd
            out = neon_reduction_sum(by_unit)
            if bias is not None:
                out = (out + bias_values(p, bias, np.float32)).astype(np.float32)
    return apply_float_activation(out, p.activation, tflm=p.plain_float)


def _svdf_int8(p: SvdfParams, x: np.ndarray, weights_feature: np.ndarray, weights_time: np.ndarray,
               bias: np.ndarray | None, rows: np.ndarray) -> KernelResult:
    """EvalIntegerSVDF (LiteRT) / EvalIntegerSvdfReference (TFLM) on the shifted state ``rows``."""
    info = np.iinfo(p.state_dtype)
    centered = x.astype(np.int64) - p.input_zero_point
    dots = wrap_int32(centered @ weights_feature.astype(np.int64).T)  # [batch, filters]
    activations = multiply_by_quantized_multiplier(dots, p.multiplier_1, p.shift_1) + p.state_zero_point
    rows[:, :, -1] = np.clip(activations, info.min, info.max)
    time_sums = wrap_int32(np.einsum("fm,bfm->bf", weights_time.astype(np.int64),
                                     rows.astype(np.int64) - p.state_zero_point))
    acc = time_sums.reshape(p.batch, p.units, p.rank).sum(axis=2)
    if bias is not None:
        acc = acc + bias_values(p, bias, np.int64)
    scaled = multiply_by_quantized_multiplier(wrap_int32(acc), p.multiplier_2, p.shift_2) + p.output_zero_point
    output = np.clip(scaled, -128, 127).astype(np.int8)
    return KernelResult(outputs=(output,),
                        variable_updates={4: rows.reshape(p.batch, p.filters * p.memory).astype(p.state_dtype)})


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def explain_initial_state(ctx: OpContext, position: int, trace) -> np.ndarray:
    """The value a recurrent operator's variable input ``position`` held when the operator ran, for a model run
    once (as ``refinterp explain`` runs it): the reset value (refinterp/interpreter.py ``reset_variables``, LiteRT's
    ResetVariableTensor: the zero point's byte for a quantized int8 tensor, zero bytes otherwise), unless an earlier
    operator of the subgraph reads the same tensor (it may have written it first: not covered)."""
    tensor = ctx.require_input(position)
    earlier = [op.index for op in ctx.subgraph.operators[:ctx.op.index] if tensor.index in op.inputs]
    if earlier:
        raise trace.not_detailed(f"a state tensor that operator {earlier[-1]} ran on before this one")
    fill = tensor.reset_fill(tflm=ctx.profile == "tflm")
    shape = ctx.shape(tensor)
    state = np.full(int(np.prod(shape, dtype=np.int64)) * tensor.dtype.itemsize, fill & 0xFF, np.uint8)
    state = state.view(tensor.dtype).reshape(shape)
    trace.add("state read", f"{tensor.type_name} {list(shape)}, every value {fill if state.size else 0}",
              f"the variable tensor {tensor.index} as the operator read it: its reset value (the model runs once; "
              "AllocateTensors resets the variable tensors)")
    return state


def explain_svdf(ctx: OpContext, p: SvdfParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """SVDF output ``index`` = (b, u) (module docstring): for each of the unit's ``rank`` filters its feature
    activation (this invoke's newest state slot) and the time weights' dot product with the filter's state row, then
    the rank sum, the bias, the requantization (int8) or the activation (float32, hybrid)."""
    x, wf, wt = np.asarray(inputs[0]), np.asarray(inputs[1]), np.asarray(inputs[2])
    bias = None if len(inputs) < 4 or inputs[3] is None else np.asarray(inputs[3])
    b, u = (int(v) for v in index)
    state = explain_initial_state(ctx, 4, trace)
    rows = shifted_state(p, state)
    filters = list(range(u * p.rank, (u + 1) * p.rank))
    trace.add("output element", [b, u], f"batch {b}, unit {u}: filters {filters} (rank {p.rank}), memory {p.memory}; "
              "each filter's state row moves one to the left, its newest slot takes this invoke's feature activation")
    spec_rows = shifted_state(p, state)
    if p.kind == "int8":
        info = np.iinfo(p.state_dtype)
        input_scale, _ = per_tensor_qparams(ctx, ctx.require_input(0), "input")
        total = 0
        for f in filters:
            trace.add(f"filter {f}", f, f"feature activation: weights_feature[{f}] . (x[{b}] - zp_in), to the state "
                      "scale")
            dot, _ = trace.dot([(c,) for c in range(p.input_size)], ("c",), x[b], p.input_zero_point, input_scale,
                               wf[f], 0, float(ctx.require_input(1).quantization.scale[0]), what="input row",
                               weight_names=("c",))
            activation = trace.mbqm(trace.wrap(dot), p.multiplier_1, p.shift_1)
            if p.state_zero_point:
                activation = trace.add("plus state zero point", activation + p.state_zero_point,
                                       f"{activation} + {p.state_zero_point} (TFLM)")
            activation = int(trace.clamp(activation, int(info.min), int(info.max), f"the {p.state_dtype} state"))
            rows[b, f, -1] = activation
            row = rows[b, f].astype(np.int64) - p.state_zero_point
            products = [int(w) * int(s) for w, s in zip(wt[f], row)]
            trace.add(f"filter {f} time products", products, "weights_time[f, m] * (state[b, f, m] - zp_state), the "
                      "state row oldest first",
                      items=[{"m": m, "w": int(wt[f, m]), "state": int(row[m])} for m in range(p.memory)])
            time_sum = int(wrap_int32(sum(products)))
            trace.add(f"filter {f} time sum", time_sum, "int32")
            total += time_sum
        trace.add("rank sum", total, f"the {p.rank} filters' time sums")
        if bias is not None:
            bias_value = int(bias.reshape(-1)[u])
            total = trace.add("plus bias", total + bias_value, f"+ bias[{u}] = {bias_value}")
        value = trace.requantize(int(wrap_int32(total)), p.multiplier_2, p.shift_2, p.output_zero_point, -128, 127,
                                 "int8 (LiteRT never applies the activation)")
        spec = _svdf_int8(p, x, wf, wt, bias, spec_rows).outputs[0]
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            if p.kind == "float32":
                if p.plain_float:
                    activations = plain_dot(wf[None, :, :], x[:, None, :])
                else:
                    activations = _neon_matrix_batch_vector(wf, x)
                time_weights = np.asarray(wt, np.float32)
                dot = plain_dot if p.plain_float else neon_dot
                order = ("each product rounded, added from 0.0f in order (TFLM)" if p.plain_float else
                         "four float32 lanes over blocks of four, ((l0 + l1) + l2) + l3, then the rest one by one "
                         "(NeonMatrixBatchVectorMultiplyAccumulate)")
            else:
                activations = _hybrid_activations(p, x, wf)
                time_weights = (hybrid_weights(wt).astype(np.float32) * np.float32(p.time_scale)).astype(np.float32)
                dot = neon_dot
                order = "the hybrid rule (refinterp/ops/hybrid.py), below"
            time_sums = []
            for f in filters:
                if p.kind == "hybrid":
                    trace.add(f"filter {f}", f, f"feature activation: weights_feature[{f}] . x[{b}], hybrid")
                    if is_zero_vector(x):
                        trace.add("all-zero input", np.float32(0.0), "the whole input is zero: the activation is 0")
                    else:
                        q, scale, zero_point = explain_quantize_row(trace, x[b], p.asymmetric)
                        weights = hybrid_weights(wf).reshape(p.filters, p.input_size)
                        sums = explain_hybrid_dot(trace, weights[f], q, "weights_feature", sse=True)
                        if p.asymmetric:
                            row_sum = int(sse_row_sums(weights)[f])
                            sums = trace.add("minus zero point x row sum",
                                             int(wrap_int32(sums - int(wrap_int32(zero_point * row_sum)))),
                                             f"{sums} - {zero_point} * {row_sum} (int32)")
                        trace.add("scale", np.float32(scale * np.float32(p.feature_scale)),
                                  f"f32(row scale * s_wf {p.feature_scale!r})")
                else:
                    trace.add(f"filter {f}", f, f"feature activation: weights_feature[{f}] . x[{b}], {order}",
                              items=[{"c": c, "x": float(x[b, c]), "w": float(wf[f, c])} for c in range(p.input_size)])
                rows[b, f, -1] = activations[b, f]
                trace.add(f"filter {f} activation", np.float32(activations[b, f]), "the newest state slot")
                time_sum = np.float32(dot(time_weights[f][None, :], rows[b, f][None, :])[0])
                trace.add(f"filter {f} time sum", time_sum, "weights_time[f] . state row (oldest first), "
                          + ("plain order" if p.plain_float else "NEON lanes") + (
                              f"; time weights dequantized f32(wt * {p.time_scale!r})" if p.kind == "hybrid" else ""),
                          items=[{"m": m, "w": float(time_weights[f, m]), "state": float(rows[b, f, m])}
                                 for m in range(p.memory)])
                time_sums.append(time_sum)
            scratch = np.asarray(time_sums, np.float32)
            if p.plain_float:
                out = np.float32(0.0) if bias is None else np.float32(np.asarray(bias, np.float32).reshape(-1)[u])
                for v in scratch:
                    out = np.float32(out + v)
                trace.add("rank sum plus bias", out, "the bias (or 0), then each filter's time sum added (TFLM)")
            else:
                out = np.float32(neon_reduction_sum(scratch[None, :])[0])
                trace.add("rank sum", out, "NeonReductionSumVector over the unit's filters")
                if bias is not None:
                    out = trace.add("plus bias", np.float32(out + np.float32(np.asarray(bias).reshape(-1)[u])),
                                    f"+ bias[{u}], float32")
            value = np.float32(apply_float_activation(np.asarray([out], np.float32), p.activation,
                                                      tflm=p.plain_float)[0])
            if p.activation != ACT_NONE:
                trace.add("activation", value, f"fused activation {p.activation} (ApplyActivationToVector"
                          + (", TANH through Eigen" if p.activation == ACT_TANH and not p.plain_float else "") + ")")
        spec = svdf_spec(p, x, wf, wt, bias, state).outputs[0]
    if not (spec[b, u] == value or (spec[b, u] != spec[b, u] and value != value)):
        # the steps above are the spec's own functions on the reset state: this cannot differ
        raise AssertionError(f"traced SVDF {value} != spec {spec[b, u]}")
    return value
