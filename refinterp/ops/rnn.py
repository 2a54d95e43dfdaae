"""RNN, UNIDIRECTIONAL_SEQUENCE_RNN and BIDIRECTIONAL_SEQUENCE_RNN: float32 and hybrid (float32 with int8 weights),
the hidden state(s) carried across invokes.

Inputs: ``x``, ``weights [units, input_size]``, ``recurrent_weights [units, units]``, ``bias [units]``,
``hidden_state [batch, units]`` (a variable tensor, input 4). RNN: ``x [batch, input_size]``, output
``[batch, units]``. UNIDIRECTIONAL_SEQUENCE_RNN: ``x [batch, time, input_size]`` (``time_major``: ``[time,
batch, input_size]``), output of the same layout with ``units`` last. The kernel returns the new hidden state
(:class:`~refinterp.ops.common.KernelResult`, input 4), as LiteRT's kernel leaves it in the variable tensor.

One step (``kernel_utils::RnnBatchStep``, LiteRT ``tflite/kernels/internal/kernel_utils.cc``; the kernels are
``basic_rnn.cc`` and ``unidirectional_sequence_rnn.cc``) for a block of batch rows::

    out = bias;  out += weights . x;  out += recurrent_weights . hidden;  out = activation(out);  hidden = out

float32: each ``+=`` is ``NeonMatrixBatchVectorMultiplyAccumulate`` as ai-edge-litert 2.3.0 runs it (NEON
through NEON_2_SSE; the rule and its measurement are in ``refinterp/ops/svdf.py``): four float32 lanes over
blocks of four columns, their sum ``((l0 + l1) + l2) + l3`` added to ``out``, then the remaining columns'
products added one by one.

hybrid: each ``+=`` is the hybrid rule of ``refinterp/ops/hybrid.py`` on the block (skipped when the whole
block of x, or of the hidden state, is zero: ``IsZeroVector``): per row symmetric (or, with
``asymmetric_quantize_inputs``, asymmetric) quantization, ``scale_b = f32(scale_b * s_w)``, ``out = f32(out +
f32(f32(dot - zp_b * row_sum) * scale_b))``.

The sequence kernel runs a time-major input as one block of all batch rows per time step, and a batch-major
input batch row by batch row (a block of one row), as LiteRT does: the zero-vector checks see different blocks.
The activation is ``ApplyActivationToVector``: NONE, RELU, RELU6, RELU_N1_TO_1, SIGN_BIT, and TANH through Eigen's
vectorized tanh (``refinterp/ops/eigen_math.py``: elementwise, whatever the alignment of the rows; the flatbuffer
schema has no SIGMOID fused activation). TFLM has no kernel for any of the three operators.

BIDIRECTIONAL_SEQUENCE_RNN (LiteRT ``tflite/kernels/bidirectional_sequence_rnn.cc``): inputs ``x``, forward
``weights, recurrent_weights, bias, hidden_state`` (1-4), backward the same (5-8), then the optional
``aux_input`` (9), ``fw_aux_weights`` (10), ``bw_aux_weights`` (11); outputs ``fw_output`` and, without
``merge_outputs``, ``bw_output``. Each direction is ``RnnBatchStep`` with the auxiliary product added after the
input one (``out = bias; += w . x; += aux_w . aux; += rw . hidden; activation``), the forward cell over
``t = 0 .. T-1``, the backward one over ``t = T-1 .. 0``; with ``merge_outputs`` the backward rows go to the
columns ``fw_units ..`` of ``fw_output``. The kernel's pointer arithmetic, followed here to the element:

* aux weights present ("cross links"): both cells add ``aux_w . aux_input``; aux weights absent but an
  ``aux_input`` given ("non-stacking"): the backward cell reads ``aux_input`` instead of ``x`` when time-major,
  and ``x`` (ignoring ``aux_input``) when batch-major.
* a time-major step reads its auxiliary rows at ``aux + t * input_size * batch`` (``input_size``, not
  ``aux_input_size``), a hybrid batch-major one at ``aux + b * input_size * T + t * input_size``; refinterp refuses
  a model where that would read past the auxiliary input.
* hybrid time-major runs the whole forward-then-backward pass ``T`` times over (an outer ``for t`` loop around
  both cells): the outputs are the last pass's, the hidden states have stepped ``T * T`` times.
* hybrid time-major with ``merge_outputs``, batch > 1 and symmetric quantization crashes LiteRT (a null
  zero-point array plus the row index is dereferenced): refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refinterp.ops.common import KernelResult, OpContext, per_tensor_qparams
from refinterp.ops.hybrid import (
    explain_hybrid_dot,
    explain_quantize_row,
    hybrid_weights,
    is_zero_vector,
    quantize_rows,
    sse_dot,
    sse_row_sums,
)
from refinterp.ops.svdf import FLOAT_ACTIVATIONS, NEON_LANES, apply_float_activation, explain_initial_state, neon_dot
from refinterp.quant import ACT_NONE, wrap_int32


@dataclass(frozen=True)
class RnnParams:
    kind: str  # "float32" or "hybrid"
    sequence: bool
    time_major: bool
    batch: int
    time: int
    input_size: int
    units: int
    activation: int = ACT_NONE
    weights_scale: float = 1.0  # hybrid: float32 s_w
    recurrent_scale: float = 1.0  # hybrid: float32 s_rw
    asymmetric: bool = False


def prepare_rnn(ctx: OpContext) -> RnnParams:
    """basic_rnn.cc / unidirectional_sequence_rnn.cc Prepare."""
    sequence = ctx.op.name == "UNIDIRECTIONAL_SEQUENCE_RNN"
    if ctx.profile == "tflm":
        raise ctx.unsupported("TFLite Micro has no kernel for this operator")
    ctx.check_inputs(5, 5)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    x, w, rw = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2)
    bias, hidden, y = ctx.require_input(3), ctx.require_input(4), ctx.output(0)
    if x.type_name != "float32":
        raise ctx.fail(f"input type {x.type_name}, LiteRT requires float32")
    if w.type_name != rw.type_name:
        raise ctx.fail(f"weights are {w.type_name} but recurrent weights {rw.type_name}")
    x_shape, w_shape, rw_shape = ctx.shape(x), ctx.shape(w), ctx.shape(rw)
    b_shape, h_shape = ctx.shape(bias), ctx.shape(hidden)
    rank = 3 if sequence else 2
    if len(x_shape) != rank or len(w_shape) != 2 or len(rw_shape) != 2 or len(b_shape) != 1 or len(h_shape) != 2:
        raise ctx.fail(f"input {list(x_shape)} must be {rank}-D, weights {list(w_shape)} and recurrent weights "
                       f"{list(rw_shape)} 2-D, bias {list(b_shape)} 1-D, hidden state {list(h_shape)} 2-D")
    time_major = bool(ctx.options.get("time_major", False)) if sequence else False
    if sequence:
        time, batch = (x_shape[0], x_shape[1]) if time_major else (x_shape[1], x_shape[0])
        input_size = x_shape[2]
    else:
        batch, input_size = x_shape
        time = 1
    units = w_shape[0]
    if w_shape[1] != input_size:
        raise ctx.fail(f"weights have {w_shape[1]} columns, the input {input_size}")
    if b_shape[0] != units or rw_shape != (units, units):
        raise ctx.fail(f"bias {list(b_shape)} and recurrent weights {list(rw_shape)} do not match {units} units")
    if h_shape != (batch, units):
        raise ctx.fail(f"hidden state shape {list(h_shape)}, expected [{batch}, {units}]")
    if not hidden.is_variable:
        raise ctx.fail(f"hidden state tensor {hidden.index} is not a variable tensor")
    for tensor, role in ((bias, "bias"), (hidden, "hidden state"), (y, "output")):
        if tensor.type_name != "float32":
            raise ctx.unsupported(f"{tensor.type_name} {role} (supported: float32)")
    if sequence:
        ctx.set_output_shape(0, (time, batch, units) if time_major else (batch, time, units))
    else:
        ctx.set_output_shape(0, (batch, units))
    activation = int(ctx.options.get("fused_activation_function", ACT_NONE))
    if activation not in FLOAT_ACTIVATIONS:  # the parser maps every other value to NONE, as ConvertActivation
        raise ctx.unsupported(f"fused activation {activation}")
    base = dict(sequence=sequence, time_major=time_major, batch=batch, time=time, input_size=input_size,
                units=units, activation=activation)
    if w.type_name == "float32":
        return RnnParams(kind="float32", **base)
    if w.type_name not in ("int8", "uint8"):
        raise ctx.unsupported(f"{w.type_name} weights (supported: float32, int8, uint8)")
    s_w, _ = per_tensor_qparams(ctx, w, "weights")
    s_rw, _ = per_tensor_qparams(ctx, rw, "recurrent weights")
    return RnnParams(kind="hybrid", weights_scale=float(np.float32(s_w)), recurrent_scale=float(np.float32(s_rw)),
                     asymmetric=bool(ctx.options.get("asymmetric_quantize_inputs", False)), **base)


@dataclass(frozen=True)
class Cell:
    """One direction of BIDIRECTIONAL_SEQUENCE_RNN as ``RnnBatchStep`` sees it (scales: hybrid, float32)."""
    units: int
    weights_scale: float = 1.0
    recurrent_scale: float = 1.0
    aux_scale: float = 1.0


@dataclass(frozen=True)
class BidiRnnParams:
    kind: str  # "float32" or "hybrid"
    time_major: bool
    merge_outputs: bool
    batch: int
    time: int
    input_size: int
    forward: Cell
    backward: Cell
    activation: int = ACT_NONE
    asymmetric: bool = False
    aux_mode: str = "none"  # "none"; "cross": aux weights, both cells add aux_w . aux; "bw_input": see module doc
    aux_input_size: int = 0


def _quantized_scale(ctx: OpContext, tensor, role: str) -> float:
    scale, _ = per_tensor_qparams(ctx, tensor, role)
    return float(np.float32(scale))


def prepare_bidirectional_rnn(ctx: OpContext) -> BidiRnnParams:
    """bidirectional_sequence_rnn.cc Prepare (and what its Eval reads without checking: refused here)."""
    if ctx.profile == "tflm":
        raise ctx.unsupported("TFLite Micro has no kernel for this operator")
    ctx.check_inputs(12, 12)
    merge_outputs = bool(ctx.options.get("merge_outputs", False))
    if len(ctx.op.outputs) != (1 if merge_outputs else 2):
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected {1 if merge_outputs else 2} "
                       f"(merge_outputs {merge_outputs})")
    x = ctx.require_input(0)
    fw_w, fw_rw, fw_b, fw_h = (ctx.require_input(i) for i in (1, 2, 3, 4))
    bw_w, bw_rw, bw_b, bw_h = (ctx.require_input(i) for i in (5, 6, 7, 8))
    aux, fw_aux_w, bw_aux_w = ctx.input(9), ctx.input(10), ctx.input(11)
    if (fw_aux_w is None) != (bw_aux_w is None):
        raise ctx.fail("forward and backward auxiliary weights must be both present or both absent")
    if x.type_name != "float32":
        raise ctx.fail(f"input type {x.type_name}, LiteRT requires float32")
    x_shape = ctx.shape(x)
    if len(x_shape) != 3:
        raise ctx.fail(f"input {list(x_shape)} must be 3-D")
    time_major = bool(ctx.options.get("time_major", False))
    time, batch = (x_shape[0], x_shape[1]) if time_major else (x_shape[1], x_shape[0])
    input_size = x_shape[2]
    shapes = {}
    for tensor, role, rank in ((fw_w, "forward weights", 2), (fw_rw, "forward recurrent weights", 2),
                               (fw_b, "forward bias", 1), (fw_h, "forward hidden state", 2),
                               (bw_w, "backward weights", 2), (bw_rw, "backward recurrent weights", 2),
                               (bw_b, "backward bias", 1), (bw_h, "backward hidden state", 2)):
        shape = ctx.shape(tensor)
        if len(shape) != rank:
            # LiteRT reads dims[0] and dims[1] of the weights and biases unchecked, and checks the hidden states
            raise ctx.fail(f"{role} {list(shape)} must be {rank}-D")
        shapes[role] = shape
    fw_units, bw_units = shapes["forward weights"][0], shapes["backward weights"][0]
    for direction, units in (("forward", fw_units), ("backward", bw_units)):
        if shapes[f"{direction} weights"][1] != input_size:
            raise ctx.fail(f"{direction} weights have {shapes[f'{direction} weights'][1]} columns, the input "
                           f"{input_size}")
        if shapes[f"{direction} bias"][0] != units:
            raise ctx.fail(f"{direction} bias {list(shapes[f'{direction} bias'])} does not match {units} units")
        if shapes[f"{direction} recurrent weights"] != (units, units):
            # LiteRT checks one dimension of each and reads units x units
            raise ctx.fail(f"{direction} recurrent weights {list(shapes[f'{direction} recurrent weights'])} "
                           f"must be [{units}, {units}]")
        if shapes[f"{direction} hidden state"] != (batch, units):
            raise ctx.fail(f"{direction} hidden state {list(shapes[f'{direction} hidden state'])}, expected "
                           f"[{batch}, {units}]")
    for tensor, role in ((fw_h, "forward hidden state"), (bw_h, "backward hidden state")):
        if not tensor.is_variable:  # GetVariableInput returns null and Eval fails
            raise ctx.fail(f"{role} tensor {tensor.index} is not a variable tensor")
    if fw_h.index == bw_h.index:
        raise ctx.unsupported("the forward and backward hidden states are the same tensor")
    outputs = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    for tensor, role in ((fw_b, "forward bias"), (bw_b, "backward bias"), (fw_h, "forward hidden state"),
                         (bw_h, "backward hidden state"), *((t, "output") for t in outputs)):
        if tensor.type_name != "float32":
            raise ctx.unsupported(f"{tensor.type_name} {role} (supported: float32)")

    aux_mode, aux_input_size = "none", 0
    if fw_aux_w is not None:
        if aux is None:
            raise ctx.fail("auxiliary weights without an auxiliary input (LiteRT's Prepare reads its shape)")
        aux_shape, fw_aux_shape, bw_aux_shape = ctx.shape(aux), ctx.shape(fw_aux_w), ctx.shape(bw_aux_w)
        if len(aux_shape) != 3 or len(fw_aux_shape) != 2 or len(bw_aux_shape) != 2:
            raise ctx.fail(f"auxiliary input {list(aux_shape)} must be 3-D, auxiliary weights "
                           f"{list(fw_aux_shape)} and {list(bw_aux_shape)} 2-D")
        aux_input_size = aux_shape[2]
        # TF_LITE_ASSERT_EQ: LiteRT aborts the process on a mismatch
        if aux_shape[:2] != x_shape[:2] or fw_aux_shape != (fw_units, aux_input_size) or \
                bw_aux_shape != (bw_units, aux_input_size):
            raise ctx.fail(f"auxiliary input {list(aux_shape)} and weights {list(fw_aux_shape)}, "
                           f"{list(bw_aux_shape)} do not match the input {list(x_shape)} and "
                           f"{fw_units}/{bw_units} units (LiteRT aborts)")
        aux_mode = "cross"
    elif aux is not None:
        aux_mode = "bw_input"
    if aux is not None and aux.type_name != "float32":
        raise ctx.unsupported(f"{aux.type_name} auxiliary input (LiteRT reads it as float32)")

    weight_type = fw_w.type_name
    kind = "float32" if weight_type == "float32" else "hybrid"
    if weight_type not in ("float32", "int8", "uint8"):
        raise ctx.unsupported(f"{weight_type} weights (supported: float32, int8, uint8)")
    weights = [(fw_rw, "forward recurrent weights"), (bw_w, "backward weights"), (bw_rw, "backward recurrent weights")]
    if fw_aux_w is not None:
        weights += [(fw_aux_w, "forward auxiliary weights"), (bw_aux_w, "backward auxiliary weights")]
    for tensor, role in weights:
        if (tensor.type_name == "float32") != (kind == "float32") or tensor.type_name not in ("float32", "int8",
                                                                                             "uint8"):
            # the kernel reads every weight tensor as the forward weights' type
            raise ctx.unsupported(f"{weight_type} forward weights with {tensor.type_name} {role}")

    aux_elements = int(np.prod(ctx.shape(aux))) if aux is not None else 0
    if time_major and aux_mode == "cross":
        needed = (time - 1) * input_size * batch + batch * aux_input_size if time else 0
    elif time_major and aux_mode == "bw_input":
        needed = time * batch * input_size
    elif aux_mode == "cross" and kind == "hybrid":
        needed = (batch - 1) * input_size * time + (time - 1) * input_size + aux_input_size if batch and time else 0
    else:
        needed = 0
    if needed > aux_elements:
        raise ctx.unsupported(f"LiteRT would read {needed} auxiliary input values (it steps through the auxiliary "
                              f"input by input_size {input_size}), the auxiliary input has {aux_elements}")

    asymmetric = kind == "hybrid" and bool(ctx.options.get("asymmetric_quantize_inputs", False))
    if kind == "hybrid" and time_major and merge_outputs and batch > 1 and not asymmetric:
        # RnnBatchStep's unrolled rows pass zero_points + k with zero_points null (symmetric): a non-null bad
        # pointer the accumulation dereferences (LiteRT 2.3.0 crashes with a segmentation fault)
        raise ctx.unsupported("hybrid time-major merged outputs with batch > 1 and symmetric quantization "
                              "(LiteRT dereferences a null zero-point array plus the row and crashes)")
    activation = int(ctx.options.get("fused_activation_function", ACT_NONE))
    if activation not in FLOAT_ACTIVATIONS:  # the parser maps every other value to NONE, as ConvertActivation
        raise ctx.unsupported(f"fused activation {activation}")
    fw_step = fw_units + bw_units if merge_outputs else fw_units
    ctx.set_output_shape(0, (time, batch, fw_step) if time_major else (batch, time, fw_step))
    if not merge_outputs:
        ctx.set_output_shape(1, (time, batch, bw_units) if time_major else (batch, time, bw_units))
    if kind == "float32":
        forward, backward = Cell(fw_units), Cell(bw_units)
    else:
        forward = Cell(fw_units, _quantized_scale(ctx, fw_w, "forward weights"),
                       _quantized_scale(ctx, fw_rw, "forward recurrent weights"),
                       _quantized_scale(ctx, fw_aux_w, "forward auxiliary weights") if fw_aux_w is not None else 0.0)
        backward = Cell(bw_units, _quantized_scale(ctx, bw_w, "backward weights"),
                        _quantized_scale(ctx, bw_rw, "backward recurrent weights"),
                        _quantized_scale(ctx, bw_aux_w, "backward auxiliary weights") if bw_aux_w is not None else 0.0)
    return BidiRnnParams(kind=kind, time_major=time_major, merge_outputs=merge_outputs, batch=batch, time=time,
                         input_size=input_size, forward=forward, backward=backward, activation=activation,
                         asymmetric=asymmetric,
                         aux_mode=aux_mode, aux_input_size=aux_input_size)


# ------------------------------------------------------------------------------------------------
# Spec kernels


def neon_matrix_batch_vector_accumulate(matrix: np.ndarray, vectors: np.ndarray, result: np.ndarray) -> np.ndarray:
    """NeonMatrixBatchVectorMultiplyAccumulate (float): ``result[b, r] += lane sum of the blocks of four``,
    then ``result[b, r] += m[r, c] * v[b, c]`` for each remaining column."""
    matrix, vectors = np.asarray(matrix, np.float32), np.asarray(vectors, np.float32)
    cols = matrix.shape[1]
    blocks = cols - cols % NEON_LANES
    with np.errstate(over="ignore", invalid="ignore"):
        result = (result + neon_dot(matrix[None, :, :blocks], vectors[:, None, :blocks])).astype(np.float32)
        for c in range(blocks, cols):
            result = (result + (matrix[None, :, c] * vectors[:, None, c]).astype(np.float32)).astype(np.float32)
    return result


def hybrid_accumulate(weights: np.ndarray, scale: float, vectors: np.ndarray, result: np.ndarray,
                      asymmetric: bool) -> np.ndarray:
    """The hybrid MatrixBatchVectorMultiplyAccumulate on a block of rows, skipped for an all-zero block."""
    if is_zero_vector(vectors):
        return result
    q, scales, zero_points = quantize_rows(np.asarray(vectors, np.float32), asymmetric)
    scales = (scales * np.float32(scale)).astype(np.float32)
    sums = sse_dot(weights, q)
    if asymmetric:
        sums = wrap_int32(sums - wrap_int32(zero_points[:, None] * sse_row_sums(weights)[None, :]))
    with np.errstate(over="ignore", invalid="ignore"):
        return (result + (sums.astype(np.float32) * scales[:, None]).astype(np.float32)).astype(np.float32)


def batch_step(kind: str, activation: int, asymmetric: bool, cell: Cell, x: np.ndarray, weights: np.ndarray,
               recurrent_weights: np.ndarray, bias: np.ndarray, hidden: np.ndarray, aux: np.ndarray | None = None,
               aux_weights: np.ndarray | None = None) -> np.ndarray:
    """RnnBatchStep (kernel_utils.cc) on a block of rows ``x [rows, input_size]``, ``hidden [rows, units]``
    (``aux [rows, aux_input_size]`` with its weights, when given): the new output, also the new hidden state."""
    out = np.broadcast_to(np.asarray(bias, np.float32).reshape(-1), (x.shape[0], cell.units)).astype(np.float32)
    if kind == "float32":
        out = neon_matrix_batch_vector_accumulate(weights, x, out)
        if aux is not None and aux.shape[1] > 0:
            out = neon_matrix_batch_vector_accumulate(aux_weights, aux, out)
        out = neon_matrix_batch_vector_accumulate(recurrent_weights, hidden, out)
    else:
        out = hybrid_accumulate(hybrid_weights(weights), cell.weights_scale, x, out, asymmetric)
        if aux is not None and aux.shape[1] > 0:
            out = hybrid_accumulate(hybrid_weights(aux_weights), cell.aux_scale, aux, out, asymmetric)
        out = hybrid_accumulate(hybrid_weights(recurrent_weights), cell.recurrent_scale, hidden, out, asymmetric)
    return apply_float_activation(out, activation)


def rnn_batch_step(p: RnnParams, x: np.ndarray, weights: np.ndarray, recurrent_weights: np.ndarray,
                   bias: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """RnnBatchStep on a block of rows ``x [rows, input_size]``, ``hidden [rows, units]``: the new output,
    which is also the new hidden state."""
    cell = Cell(p.units, p.weights_scale, p.recurrent_scale)
    return batch_step(p.kind, p.activation, p.asymmetric, cell, x, weights, recurrent_weights, bias, hidden)


def rnn_spec(p: RnnParams, x: np.ndarray, weights: np.ndarray, recurrent_weights: np.ndarray, bias: np.ndarray,
             hidden_state: np.ndarray) -> KernelResult:
    hidden = np.array(hidden_state, np.float32)
    x = np.asarray(x, np.float32)
    if not p.sequence:
        output = rnn_batch_step(p, x, weights, recurrent_weights, bias, hidden)
        return KernelResult(outputs=(output,), variable_updates={4: output.copy()})
    if p.time_major:  # one block of every batch row per time step
        output = np.empty((p.time, p.batch, p.units), np.float32)
        for t in range(p.time):
            hidden = rnn_batch_step(p, x[t], weights, recurrent_weights, bias, hidden)
            output[t] = hidden
    else:  # batch row by batch row, each over the whole sequence
        output = np.empty((p.batch, p.time, p.units), np.float32)
        for b in range(p.batch):
            for t in range(p.time):
                hidden[b:b + 1] = rnn_batch_step(p, x[b, t:t + 1], weights, recurrent_weights, bias, hidden[b:b + 1])
                output[b, t] = hidden[b]
    return KernelResult(outputs=(output,), variable_updates={4: hidden})


def bidirectional_rnn_spec(p: BidiRnnParams, x: np.ndarray, fw_weights: np.ndarray, fw_recurrent: np.ndarray,
                           fw_bias: np.ndarray, fw_hidden_state: np.ndarray, bw_weights: np.ndarray,
                           bw_recurrent: np.ndarray, bw_bias: np.ndarray, bw_hidden_state: np.ndarray,
                           aux_input: np.ndarray | None, fw_aux_weights: np.ndarray | None,
                           bw_aux_weights: np.ndarray | None) -> KernelResult:
    """EvalFloat / EvalHybrid of bidirectional_sequence_rnn.cc, their pointer arithmetic on flat buffers."""
    batch, time, size, aux_size = p.batch, p.time, p.input_size, p.aux_input_size
    fw_units, bw_units = p.forward.units, p.backward.units
    fw_step = fw_units + bw_units if p.merge_outputs else fw_units
    bw_step = fw_units + bw_units if p.merge_outputs else bw_units
    x_flat = np.asarray(x, np.float32).reshape(-1)
    aux_flat = np.asarray(aux_input, np.float32).reshape(-1) if aux_input is not None else None
    real_aux = aux_flat if p.aux_mode == "cross" else None
    fw_out = np.zeros(time * batch * fw_step, np.float32)
    bw_out = fw_out if p.merge_outputs else np.zeros(batch * time * bw_units, np.float32)
    bw_base = fw_units if p.merge_outputs else 0
    fw_hidden = np.array(fw_hidden_state, np.float32)
    bw_hidden = np.array(bw_hidden_state, np.float32)
    fw = (p.forward, fw_weights, fw_recurrent, fw_bias, fw_aux_weights)
    bw = (p.backward, bw_weights, bw_recurrent, bw_bias, bw_aux_weights)

    def step(cell, rows, aux_rows, hidden):
        c, weights, recurrent, bias, aux_weights = cell
        return batch_step(p.kind, p.activation, p.asymmetric, c, rows, weights, recurrent, bias, hidden, aux_rows,
                          aux_weights)

    def store(buffer, offset, rows, leading, units):
        for k in range(rows.shape[0]):
            buffer[offset + k * leading:offset + k * leading + units] = rows[k]

    if p.time_major:
        bw_source = aux_flat if p.aux_mode == "bw_input" else x_flat
        for _ in range(time if p.kind == "hybrid" else 1):  # EvalHybrid's extra outer loop
            for t in range(time):
                start = t * size * batch
                aux_rows = real_aux[start:start + batch * aux_size].reshape(batch, aux_size) \
                    if real_aux is not None else None
                fw_hidden = step(fw, x_flat[start:start + batch * size].reshape(batch, size), aux_rows, fw_hidden)
                store(fw_out, t * fw_step * batch, fw_hidden, fw_step, fw_units)
            for t in range(time - 1, -1, -1):
                start = t * size * batch
                aux_rows = real_aux[start:start + batch * aux_size].reshape(batch, aux_size) \
                    if real_aux is not None else None
                bw_hidden = step(bw, bw_source[start:start + batch * size].reshape(batch, size), aux_rows, bw_hidden)
                store(bw_out, bw_base + t * bw_step * batch, bw_hidden, bw_step, bw_units)
    else:
        aux_stride = size if p.kind == "hybrid" else aux_size  # EvalHybrid steps by input_size
        for b in range(batch):
            for cell, hidden, out, base, out_step, units, order in (
                    (fw, fw_hidden, fw_out, 0, fw_step, fw_units, range(time)),
                    (bw, bw_hidden, bw_out, bw_base, bw_step, bw_units, range(time - 1, -1, -1))):
                row = hidden[b:b + 1]
                for t in order:
                    start = b * size * time + t * size
                    aux_start = b * aux_stride * time + t * aux_stride
                    aux_rows = real_aux[aux_start:aux_start + aux_size].reshape(1, aux_size) \
                        if real_aux is not None else None
                    row = step(cell, x_flat[start:start + size].reshape(1, size), aux_rows, row)
                    store(out, base + b * out_step * time + t * out_step, row, out_step, units)
                hidden[b] = row[0]
    fw_output = fw_out.reshape((time, batch, fw_step) if p.time_major else (batch, time, fw_step))
    outputs = (fw_output,) if p.merge_outputs else (
        fw_output, bw_out.reshape((time, batch, bw_units) if p.time_major else (batch, time, bw_units)))
    return KernelResult(outputs=outputs, variable_updates={4: fw_hidden, 8: bw_hidden})


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)


def _explain_product(trace, kind: str, what: str, weights: np.ndarray, scale: float, block: np.ndarray, row: int,
                     unit: int, out: np.float32, asymmetric: bool) -> np.float32:
    """One ``out += weights . vector`` of RnnBatchStep for row ``row`` of the block and one unit, as
    :func:`neon_matrix_batch_vector_accumulate` / :func:`hybrid_accumulate` compute it (their own code on the
    one row and unit: each (row, unit) is independent; the hybrid zero check sees the whole block)."""
    vector = np.asarray(block, np.float32)[row]
    if kind == "float32":
        total = np.float32(neon_matrix_batch_vector_accumulate(weights[unit:unit + 1], vector[None, :],
                                                               np.full((1, 1), out, np.float32))[0, 0])
        trace.add(f"plus {what} product", total, f"{float(out)!r} + {what}[{unit}] . vector: four float32 lanes over "
                  "blocks of four, ((l0 + l1) + l2) + l3 added, then the remaining products one by one "
                  "(NeonMatrixBatchVectorMultiplyAccumulate)", rule="round to nearest, ties to even",
                  items=[{"k": k, "x": float(v), "w": float(w)} for k, (v, w) in enumerate(zip(vector, weights[unit]))])
        return total
    if is_zero_vector(block):
        trace.add(f"{what} product skipped", out, "the whole block of rows is zero (IsZeroVector): nothing added")
        return out
    weights8 = hybrid_weights(weights)
    q, row_scale, zero_point = explain_quantize_row(trace, vector, asymmetric, what=f"{what} vector")
    sums = explain_hybrid_dot(trace, weights8[unit], q, f"{what} weights", sse=True)
    if asymmetric:
        row_sum = int(sse_row_sums(weights8)[unit])
        sums = trace.add("minus zero point x row sum", int(wrap_int32(sums - int(wrap_int32(zero_point * row_sum)))),
                         f"{sums} - {zero_point} * {row_sum} (int32)")
    scale32 = trace.add("scale", np.float32(row_scale * np.float32(scale)), f"f32(row scale * s_w {scale!r})")
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.float32(out + np.float32(np.float32(sums) * scale32))
    trace.add(f"plus {what} product", total, f"{float(out)!r} + f32(f32({sums}) * {float(scale32)!r})",
              rule="round to nearest, ties to even")
    expected = hybrid_accumulate(weights8, scale, block, np.full((block.shape[0], weights8.shape[0]), out,
                                                                  np.float32), asymmetric)[row, unit]
    if expected != total and not (expected != expected and total != total):
        raise AssertionError("traced hybrid product differs from hybrid_accumulate")
    return total


def explain_rnn(ctx: OpContext, p: RnnParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """RNN / UNIDIRECTIONAL_SEQUENCE_RNN output ``index``: the hidden state entering its time step (the earlier
    steps run with the spec's own :func:`rnn_batch_step` from the reset state), then RnnBatchStep for its row and
    unit: bias, input product, recurrent product, activation."""
    x = np.asarray(inputs[0], np.float32)
    weights, recurrent, bias = np.asarray(inputs[1]), np.asarray(inputs[2]), np.asarray(inputs[3])
    hidden = np.array(explain_initial_state(ctx, 4, trace), np.float32)
    if not p.sequence:
        b, unit = (int(v) for v in index)
        t, block_x, block_h, row = 0, x, hidden, b
    elif p.time_major:
        t, b, unit = (int(v) for v in index)
        for step in range(t):  # one block of every batch row per time step
            hidden = rnn_batch_step(p, x[step], weights, recurrent, bias, hidden)
        block_x, block_h, row = x[t], hidden, b
    else:
        b, t, unit = (int(v) for v in index)
        row_hidden = hidden[b:b + 1]
        for step in range(t):  # batch row by batch row: a block of one row
            row_hidden = rnn_batch_step(p, x[b, step:step + 1], weights, recurrent, bias, row_hidden)
        block_x, block_h, row = x[b, t:t + 1], row_hidden, 0
    trace.add("output element", [b, t, unit] if p.sequence else [b, unit], f"batch {b}"
              + (f", time step {t}" if p.sequence else "") + f", unit {unit}"
              + (f"; the hidden state entering step {t} comes from running steps 0..{t - 1} (RnnBatchStep)"
                 if t else ""))
    trace.add("hidden state", block_h[row].tolist(), f"batch {b}'s hidden state entering this step")
    cell = Cell(p.units, p.weights_scale, p.recurrent_scale)
    value = _explain_rnn_step(trace, p.kind, p.activation, p.asymmetric, cell, block_x, weights, recurrent, bias,
                              block_h, row, unit)
    trace.approximates(float(value))
    return value


def _explain_rnn_step(trace, kind: str, activation: int, asymmetric: bool, cell: Cell, block_x: np.ndarray,
                      weights: np.ndarray, recurrent: np.ndarray, bias: np.ndarray, block_h: np.ndarray, row: int,
                      unit: int, block_aux: np.ndarray | None = None, aux_weights: np.ndarray | None = None
                      ) -> np.float32:
    """RnnBatchStep (:func:`batch_step`) for row ``row`` of the block and one unit: bias, input product, the
    auxiliary product (when given), recurrent product, activation; checked against :func:`batch_step` itself."""
    out = trace.add("bias", np.float32(bias.reshape(-1)[unit]), f"bias[{unit}]: the output starts from it")
    out = _explain_product(trace, kind, "weights", weights, cell.weights_scale, block_x, row, unit, out, asymmetric)
    if block_aux is not None and block_aux.shape[1] > 0:
        out = _explain_product(trace, kind, "aux_weights", aux_weights, cell.aux_scale, block_aux, row, unit, out,
                               asymmetric)
    out = _explain_product(trace, kind, "recurrent_weights", recurrent, cell.recurrent_scale, block_h, row, unit, out,
                           asymmetric)
    value = np.float32(apply_float_activation(np.asarray([out], np.float32), activation)[0])
    if activation != ACT_NONE:
        trace.add("activation", value, f"fused activation {activation} (ApplyActivationToVector; TANH through "
                  "Eigen's tanh)")
    step_out = batch_step(kind, activation, asymmetric, cell, block_x, weights, recurrent, bias, block_h, block_aux,
                          aux_weights)[row, unit]
    if step_out != value and not (step_out != step_out and value != value):
        raise AssertionError(f"traced RNN step {value} != batch_step {step_out}")
    return value


def explain_bidirectional_rnn(ctx: OpContext, p: BidiRnnParams, inputs: list, index: tuple[int, ...],
                              trace) -> object:
    """BIDIRECTIONAL_SEQUENCE_RNN output ``index`` (module docstring): the direction the element belongs to (output
    1, or the merged output's columns ``fw_units ..``: the backward cell), the hidden state entering its time step
    (the cell's earlier steps, in its order, run with the spec's own :func:`batch_step` from the reset state, on the
    rows the kernel's pointer arithmetic reads), then RnnBatchStep for its row and unit as for RNN, with the
    auxiliary product when the model has auxiliary weights."""
    if p.time_major:
        t, b, unit = (int(v) for v in index)
    else:
        b, t, unit = (int(v) for v in index)
    if p.merge_outputs:
        backward = unit >= p.forward.units
        column, unit = unit, unit - p.forward.units if backward else unit
    else:
        backward, column = trace.output == 1, unit
    cell = p.backward if backward else p.forward
    # the weights, recurrent weights, bias and auxiliary weights of the cell (its hidden state, input 4 or 8, holds
    # the value after the run: its reset value is read instead)
    weights, recurrent, bias, aux_weights = (inputs[k] for k in ((5, 6, 7, 11) if backward else (1, 2, 3, 10)))
    weights, recurrent, bias = np.asarray(weights), np.asarray(recurrent), np.asarray(bias)
    aux_weights = np.asarray(aux_weights) if p.aux_mode == "cross" else None
    hidden = np.array(explain_initial_state(ctx, 8 if backward else 4, trace), np.float32)
    size, aux_size, batch, time = p.input_size, p.aux_input_size, p.batch, p.time
    x_flat = np.asarray(inputs[0], np.float32).reshape(-1)
    aux_flat = np.asarray(inputs[9], np.float32).reshape(-1) if len(inputs) > 9 and inputs[9] is not None else None
    order = list(range(time - 1, -1, -1) if backward else range(time))
    reads_aux = backward and p.aux_mode == "bw_input" and p.time_major

    def block(step: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows of ``x`` (or the auxiliary input) and of the auxiliary input the kernel reads at ``step``."""
        if p.time_major:
            start = aux_start = step * size * batch
            rows, count, source = batch, batch * size, aux_flat if reads_aux else x_flat
        else:
            start = b * size * time + step * size
            stride = size if p.kind == "hybrid" else aux_size  # EvalHybrid steps by input_size
            aux_start = b * stride * time + step * stride
            rows, count, source = 1, size, x_flat
        x_rows = source[start:start + count].reshape(rows, size)
        aux_rows = aux_flat[aux_start:aux_start + rows * aux_size].reshape(rows, aux_size) \
            if p.aux_mode == "cross" else None
        return x_rows, aux_rows

    def run(step: int, h: np.ndarray) -> np.ndarray:
        x_rows, aux_rows = block(step)
        return batch_step(p.kind, p.activation, p.asymmetric, cell, x_rows, weights, recurrent, bias, h, aux_rows,
                          aux_weights)

    passes = time if p.kind == "hybrid" and p.time_major else 1
    h = hidden if p.time_major else hidden[b:b + 1]
    for _ in range(passes - 1):  # EvalHybrid's outer loop: whole passes before the one the outputs keep
        for step in order:
            h = run(step, h)
    earlier = order[:order.index(t)]
    for step in earlier:
        h = run(step, h)
    block_x, block_aux = block(t)
    row = b if p.time_major else 0
    direction = "backward" if backward else "forward"
    where = f"time step {t}, batch {b}" if p.time_major else f"batch {b}, time step {t}"
    trace.add("output element", [int(v) for v in index], f"{where}, unit {unit} of the {direction} cell"
              + (f" (column {column} of the merged output: the backward units follow the {p.forward.units} forward "
                 "ones)" if p.merge_outputs else f" (output {1 if backward else 0})"))
    trace.add("direction", direction, (f"the backward cell runs the time steps from last to first ({time - 1} .. 0)"
                                       if backward else f"the forward cell runs the time steps 0 .. {time - 1}")
              + (f"; the hidden state entering step {t} comes from running steps {earlier} (RnnBatchStep)"
                 if earlier else "; the element's step is the cell's first")
              + (f"; EvalHybrid time-major runs the whole pass {time} times (an outer loop): the outputs are the "
                 f"last pass's, entered with the state of {passes - 1} earlier passes" if passes > 1 else ""))
    if reads_aux:
        trace.add("input read", "aux_input", "no auxiliary weights but an auxiliary input, time-major: the backward "
                  "cell reads the auxiliary input instead of x")
    elif p.aux_mode == "cross":
        trace.add("auxiliary input", block_aux[row].tolist(), "the auxiliary rows the kernel reads at this step "
                  "(cross links: aux_weights . aux is added after the input product)")
    trace.add("input", block_x[row].tolist(), "the input row of this step")
    trace.add("hidden state", h[row].tolist(), f"batch {b}'s {direction} hidden state entering this step")
    value = _explain_rnn_step(trace, p.kind, p.activation, p.asymmetric, cell, block_x, weights, recurrent, bias, h,
                              row, unit, block_aux, aux_weights)
    trace.approximates(float(value))
    return value
