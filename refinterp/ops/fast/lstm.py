"""numba kernel of UNIDIRECTIONAL_SEQUENCE_LSTM int8x8_16 (the rule: refinterp/ops/lstm.py).

The whole sequence runs in one compiled function: per time step the four gates (int32 dot products, MBQM,
saturating int16 accumulation, peephole, layer norm), the cell update and the output. The 16-bit gemmlowp
logistic and tanh are 65536-entry tables evaluated from the spec's fixed-point functions at fast-prepare time
(sigmoid and tanh of Q3.12 gates, tanh of the cell state in Q(15 + cell_scale)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from refinterp.ops import lstm
from refinterp.ops.common import KernelResult, OpContext
from refinterp.ops.eigen_math import eigen_packet_mask
from refinterp.ops.fast.eigen_math import eigen_logistic_packet_nb, eigen_logistic_scalar_nb, eigen_tanh_nb
from refinterp.ops.fast.unary_math import inv_sqrt_multiplier_exp_nb
from refinterp.ops.softmax_logistic import logistic_fixed_point, logistic_int16, tanh_fixed_point, tanh_int16
from refinterp.quant import mbqm64_nb, mbqm_nb, rdbpot_nb, wrap_int32_nb


@dataclass(frozen=True)
class FastLstmParams:
    spec: lstm.LstmParams
    weights_x: np.ndarray  # (4, n_cell, n_input) int32; zeros for the absent input gate
    weights_h: np.ndarray  # (4, n_cell, n_output) int32
    bias_x: np.ndarray  # (4, n_cell) int64 effective biases
    bias_h: np.ndarray
    multipliers: np.ndarray  # (5, 4, 2) int64: input, recurrent, cell (peephole), layer norm; row 4: misc
    peephole: np.ndarray  # (4, n_cell) int64
    layer_norm: np.ndarray  # (4, n_cell) int64 coefficients
    gate_bias: np.ndarray  # (4, n_cell) int64 (added after the layer norm)
    variance_guards: np.ndarray  # (4,) int64
    projection: np.ndarray  # (n_output, n_cell) int32
    projection_bias: np.ndarray  # (n_output,) int64
    sigmoid_table: np.ndarray  # (65536,) int16, index q + 32768
    tanh_gate_table: np.ndarray
    tanh_cell_table: np.ndarray
    scalars: np.ndarray  # int64: see _SCALARS


# scalars: flags and constants of the step
_CIFG, _PEEPHOLE, _PROJECTION, _LAYER_NORM, _TIME_MAJOR, _HIDDEN_ZP, _STATE_ZP, _CELL_SHIFT, _CELL_CLIP, \
    _PROJ_CLIP = range(10)


def _stack(values: tuple, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    for i, value in enumerate(values):
        if value is not None:
            out[i] = value
    return out


def _constant_or_zeros(ctx: OpContext, position: int | None, shape: tuple[int, ...]) -> np.ndarray:
    tensor = ctx.input(position) if position is not None else None
    if tensor is None:
        return np.zeros(shape, dtype=np.int64)
    if tensor.data is None:
        raise ctx.unsupported(f"input {position} is not constant (the fast integer LSTM packs it at prepare)")
    return np.asarray(tensor.data, dtype=np.int64).reshape(shape)


@dataclass(frozen=True)
class FastTflmLstmParams:
    """TFLM's integer LSTM (profile "tflm"; the rule: refinterp/ops/lstm.py, section TFLM)."""

    spec: lstm.LstmParams
    weights_x: np.ndarray  # (4, n_cell, n_input) int64
    weights_h: np.ndarray  # (4, n_cell, n_cell) int64
    bias: np.ndarray  # (4, n_cell) int64
    multipliers: np.ndarray  # (4, 2, 2) int64: per gate (input FC, recurrent FC) x (multiplier, shift)
    cell_multipliers: np.ndarray  # (3, 2) int64: forget x cell, input x cell gate, output x tanh(cell)
    sigmoid_table: np.ndarray  # (65536,) int64, index q + 32768: Logistic(0, 0)
    tanh_gate_table: np.ndarray  # Tanh(0, 0) (the identity when the fused activation is not TANH)
    tanh_cell_table: np.ndarray  # Tanh of the cell state's scale
    scalars: np.ndarray  # int64: see _TFLM_SCALARS


_T_INPUT_ZP, _T_STATE_ZP, _T_HIDDEN_ZP, _T_CLIP, _T_CLIP_VALUE, _T_WIDE, _T_TIME_MAJOR, _T_LOW, _T_HIGH = range(9)


def _prepare_tflm_fast(ctx: OpContext, p: lstm.LstmParams) -> FastTflmLstmParams:
    q = p.tflm
    assert q is not None

    def constant(position: int) -> np.ndarray:
        tensor = ctx.require_input(position)
        if tensor.data is None:
            raise ctx.unsupported(f"input {position} is not constant (the fast LSTM packs it at prepare)")
        return np.asarray(tensor.data, dtype=np.int64)

    multipliers = np.array([[q.input_multipliers[g], q.recurrent_multipliers[g]] for g in range(4)],
                           dtype=np.int64)
    scalars = np.zeros(9, dtype=np.int64)
    low, high = (-32768, 32767) if p.kind == "int16" else (-128, 127)
    scalars[:] = (q.input_zero_point, q.state_zero_point, q.hidden_zero_point, q.cell_clip, q.quantized_cell_clip,
                  q.wide, p.time_major, low, high)
    every_int16 = np.arange(-32768, 32768, dtype=np.int64)
    return FastTflmLstmParams(
        spec=p, weights_x=np.stack([constant(pos).reshape(p.n_cell, p.n_input) for pos in lstm.INPUT_TO_GATE]),
        weights_h=np.stack([constant(pos).reshape(p.n_cell, p.n_cell) for pos in lstm.RECURRENT_TO_GATE]),
        bias=np.stack([constant(pos).reshape(p.n_cell) for pos in lstm.GATE_BIAS]), multipliers=multipliers,
        cell_multipliers=np.array([q.forget_cell_multiplier, q.input_cell_multiplier, q.hidden_multiplier],
                                  dtype=np.int64),
        sigmoid_table=logistic_int16(every_int16, 0, 0).astype(np.int64),
        tanh_gate_table=tanh_int16(every_int16, 0, 0).astype(np.int64) if q.cell_gate_tanh else every_int16,
        tanh_cell_table=tanh_int16(every_int16, *q.cell_tanh).astype(np.int64), scalars=scalars)


def prepare_unidirectional_sequence_lstm_fast(
        ctx: OpContext) -> FastLstmParams | FastTflmLstmParams | FastFloatLstmParams | lstm.LstmParams:
    p = lstm.prepare_unidirectional_sequence_lstm(ctx)
    if p.tflm is not None:
        return _prepare_tflm_fast(ctx, p)
    if p.kind == "float32":
        return _prepare_float_fast(ctx, p)
    if p.kind == "hybrid":
        return p  # no numba kernel yet: the spec kernel runs (its products are NumPy matrix products)
    q = p.integer
    assert q is not None
    n_cell, n_input, n_output = p.n_cell, p.n_input, p.n_output
    weights_x = np.stack([_constant_or_zeros(ctx, pos, (n_cell, n_input)) for pos in lstm.INPUT_TO_GATE])
    weights_h = np.stack([_constant_or_zeros(ctx, pos, (n_cell, n_output)) for pos in lstm.RECURRENT_TO_GATE])
    multipliers = np.zeros((5, 4, 2), dtype=np.int64)
    multipliers[0] = q.input_multipliers
    multipliers[1] = q.recurrent_multipliers
    multipliers[2] = q.cell_multipliers
    multipliers[3] = q.layer_norm_multipliers
    multipliers[4, 0] = q.hidden_multiplier
    multipliers[4, 1] = q.projection_multiplier
    scalars = np.zeros(10, dtype=np.int64)
    scalars[[_CIFG, _PEEPHOLE, _PROJECTION, _LAYER_NORM, _TIME_MAJOR]] = (
        p.use_cifg, p.use_peephole, p.use_projection, p.use_layer_norm, p.time_major)
    scalars[[_HIDDEN_ZP, _STATE_ZP, _CELL_SHIFT, _CELL_CLIP, _PROJ_CLIP]] = (
        q.hidden_zero_point, q.output_state_zero_point, 30 + q.cell_scale, q.quantized_cell_clip,
        q.quantized_proj_clip)
    every_int16 = np.arange(-32768, 32768, dtype=np.int64)
    return FastLstmParams(
        spec=p, weights_x=weights_x.astype(np.int32), weights_h=weights_h.astype(np.int32),
        bias_x=_stack(q.input_effective_bias, (4, n_cell), np.int64),
        bias_h=_stack(q.recurrent_effective_bias, (4, n_cell), np.int64), multipliers=multipliers,
        peephole=np.stack([_constant_or_zeros(ctx, pos, (n_cell,)) for pos in lstm.CELL_TO_GATE]),
        layer_norm=np.stack([_constant_or_zeros(ctx, pos if p.use_layer_norm else None, (n_cell,))
                             for pos in lstm.LAYER_NORM]),
        gate_bias=np.stack([_constant_or_zeros(ctx, pos, (n_cell,)) for pos in lstm.GATE_BIAS]),
        variance_guards=np.asarray(q.variance_guards, dtype=np.int64),
        projection=_constant_or_zeros(ctx, lstm.PROJECTION_WEIGHTS if p.use_projection else None,
                                      (n_output, n_cell)).astype(np.int32),
        projection_bias=q.projection_effective_bias if q.projection_effective_bias is not None
        else np.zeros(n_output, dtype=np.int64),
        sigmoid_table=logistic_fixed_point(every_int16, 3, raw_bits=16).astype(np.int16),
        tanh_gate_table=tanh_fixed_point(every_int16, 3, raw_bits=16).astype(np.int16),
        tanh_cell_table=tanh_fixed_point(every_int16, 15 + q.cell_scale, raw_bits=16).astype(np.int16),
        scalars=scalars)


@numba.njit(cache=True, nogil=True)
def _clamp(v, low, high):
    return low if v < low else (high if v > high else v)


@numba.njit(cache=True, nogil=True)
def _div_trunc(a, b):
    return a // b if a >= 0 else -((-a) // b)


@numba.njit(cache=True, nogil=True)
def _gate(gate, x, h, c, weights_x, weights_h, bias_x, bias_h, multipliers, peephole, layer_norm, gate_bias,
          variance_guards, table, scalars, n_output, out):
    """CalculateLstmGateInteger8x8_16 for the rows of x: out[rows, n_cell] int64 (activated, Q0.15)."""
    rows, n_input = x.shape
    n_cell = out.shape[1]
    m_x, s_x = multipliers[0, gate, 0], multipliers[0, gate, 1]
    m_h, s_h = multipliers[1, gate, 0], multipliers[1, gate, 1]
    for r in range(rows):
        for i in range(n_cell):
            acc = bias_x[gate, i]
            for k in range(n_input):
                acc += np.int64(x[r, k]) * weights_x[gate, i, k]
            g = _clamp(mbqm_nb(wrap_int32_nb(acc), m_x, s_x), -32768, 32767)
            acc = bias_h[gate, i]
            for k in range(n_output):
                acc += np.int64(h[r, k]) * weights_h[gate, i, k]
            out[r, i] = _clamp(mbqm_nb(wrap_int32_nb(acc), m_h, s_h) + g, -32768, 32767)
    if scalars[_PEEPHOLE] and gate != 2:
        # over n_output elements per row of the flat buffers (LiteRT's integer peephole)
        m_c, s_c = multipliers[2, gate, 0], multipliers[2, gate, 1]
        for flat in range(rows * n_output):
            r, i = flat // n_cell, flat % n_cell
            product = peephole[gate, flat % n_output] * c[r, i]
            out[r, i] = _clamp(mbqm_nb(product, m_c, s_c) + out[r, i], -32768, 32767)
    if scalars[_LAYER_NORM]:
        m_l, s_l = multipliers[3, gate, 0], multipliers[3, gate, 1]
        for r in range(rows):
            total = np.int64(0)
            sum_sq = np.int64(0)
            for i in range(n_cell):
                total += out[r, i]
                sum_sq += out[r, i] * out[r, i]
            mean = _div_trunc(total * 1024, n_cell)
            variance = sum_sq * ((1 << 20) // n_cell) - mean * mean
            variance2 = wrap_int32_nb(_div_trunc(variance, 1 << 20))
            if variance2 < 1:
                variance2 = variance_guards[gate]
            inv_a, inv_b = inv_sqrt_multiplier_exp_nb(variance2, -1)
            for i in range(n_cell):
                shifted = wrap_int32_nb(1024 * out[r, i] - mean)
                rescaled = mbqm_nb(shifted, inv_a, inv_b)
                # 64 bits, as the x86-64 build computes PortableApplyLayerNorm's val3 (see the spec)
                val3 = np.int64(rescaled) * np.int64(layer_norm[gate, i]) + np.int64(gate_bias[gate, i])
                val4 = wrap_int32_nb(_div_trunc(val3 + 512 if val3 > 0 else val3 - 512, 1024))
                out[r, i] = _clamp(mbqm_nb(val4, m_l, s_l + 12), -32768, 32767)
    for r in range(rows):
        for i in range(n_cell):
            out[r, i] = table[out[r, i] + 32768]


@numba.njit(cache=True, nogil=True)
def _step(x, h, c, weights_x, weights_h, bias_x, bias_h, multipliers, peephole, layer_norm, gate_bias,
          variance_guards, projection, projection_bias, sigmoid_table, tanh_gate_table, tanh_cell_table, scalars,
          gates):
    """LstmStepInteger8x8_16: updates h (int64 [rows, n_output]) and c (int64 [rows, n_cell]) in place."""
    rows = x.shape[0]
    n_output = h.shape[1]
    n_cell = c.shape[1]
    args = (weights_x, weights_h, bias_x, bias_h, multipliers, peephole, layer_norm, gate_bias, variance_guards)
    if not scalars[_CIFG]:
        _gate(0, x, h, c, *args, sigmoid_table, scalars, n_output, gates[0])
    _gate(1, x, h, c, *args, sigmoid_table, scalars, n_output, gates[1])
    _gate(2, x, h, c, *args, tanh_gate_table, scalars, n_output, gates[2])
    cell_shift, cell_clip = scalars[_CELL_SHIFT], scalars[_CELL_CLIP]
    for r in range(rows):
        for i in range(n_cell):
            forget = gates[1, r, i]
            kept = rdbpot_nb(forget * c[r, i], 15)
            kept = ((kept + 32768) & 0xFFFF) - 32768  # int16 truncation
            input_gate = 32767 - forget if scalars[_CIFG] else gates[0, r, i]
            added = rdbpot_nb(input_gate * gates[2, r, i], cell_shift)
            added = ((added + 32768) & 0xFFFF) - 32768
            value = _clamp(kept + added, -32768, 32767)
            if cell_clip > 0:
                value = _clamp(value, -cell_clip, cell_clip)
            c[r, i] = value
    _gate(3, x, h, c, *args, sigmoid_table, scalars, n_output, gates[3])
    m_hidden, s_hidden = multipliers[4, 0, 0], multipliers[4, 0, 1]
    hidden_zp = scalars[_HIDDEN_ZP]
    if scalars[_PROJECTION]:
        hidden = np.empty((rows, n_cell), dtype=np.int64)
        for r in range(rows):
            for i in range(n_cell):
                t = np.int64(tanh_cell_table[c[r, i] + 32768])
                hidden[r, i] = _clamp(mbqm_nb(gates[3, r, i] * t, m_hidden, s_hidden) - hidden_zp, -128, 127)
        m_p, s_p = multipliers[4, 1, 0], multipliers[4, 1, 1]
        proj_clip = scalars[_PROJ_CLIP]
        for r in range(rows):
            for j in range(n_output):
                acc = projection_bias[j]
                for i in range(n_cell):
                    acc += hidden[r, i] * projection[j, i]
                value = _clamp(mbqm_nb(wrap_int32_nb(acc), m_p, s_p) + scalars[_STATE_ZP], -128, 127)
                if proj_clip > 0:
                    value = _clamp(value, -proj_clip, proj_clip)
                h[r, j] = value
    else:
        for r in range(rows):
            for i in range(n_cell):
                t = np.int64(tanh_cell_table[c[r, i] + 32768])
                h[r, i] = _clamp(mbqm_nb(gates[3, r, i] * t, m_hidden, s_hidden) + hidden_zp, -128, 127)


@numba.njit(cache=True, nogil=True)
def _sequence_nb(x, h0, c0, weights_x, weights_h, bias_x, bias_h, multipliers, peephole, layer_norm, gate_bias,
                 variance_guards, projection, projection_bias, sigmoid_table, tanh_gate_table, tanh_cell_table,
                 scalars, out):
    """EvalInteger8x8_16: x [T, B, n_input] (time-major) or [B, T, n_input]; h0 [B, n_output], c0 [B, n_cell]
    int64, updated in place; out int8 like x with n_output last."""
    n_batch, n_output = h0.shape
    n_cell = c0.shape[1]
    tables = (sigmoid_table, tanh_gate_table, tanh_cell_table)
    if scalars[_TIME_MAJOR]:
        gates = np.zeros((4, n_batch, n_cell), dtype=np.int64)
        for t in range(x.shape[0]):
            _step(x[t], h0, c0, weights_x, weights_h, bias_x, bias_h, multipliers, peephole, layer_norm, gate_bias,
                  variance_guards, projection, projection_bias, *tables, scalars, gates)
            for b in range(n_batch):
                for j in range(n_output):
                    out[t, b, j] = h0[b, j]
    else:
        gates = np.zeros((4, 1, n_cell), dtype=np.int64)
        for b in range(n_batch):
            h = h0[b:b + 1]
            c = c0[b:b + 1]
            for t in range(x.shape[1]):
                _step(x[b, t:t + 1], h, c, weights_x, weights_h, bias_x, bias_h, multipliers, peephole, layer_norm,
                      gate_bias, variance_guards, projection, projection_bias, *tables, scalars, gates)
                for j in range(n_output):
                    out[b, t, j] = h[0, j]


@numba.njit(cache=True, nogil=True)
def _tflm_gate(gate, x, h, weights_x, weights_h, bias, multipliers, scalars, table, out):
    """CalculateLstmGate for the rows of x: two FullyConnected to int16, AddElementWise, the activation."""
    rows, n_input = x.shape
    n_cell = out.shape[1]
    wide = scalars[_T_WIDE]
    for r in range(rows):
        for i in range(n_cell):
            acc = bias[gate, i]
            for k in range(n_input):
                acc += (np.int64(x[r, k]) - scalars[_T_INPUT_ZP]) * weights_x[gate, i, k]
            if wide:
                a = mbqm64_nb(acc, multipliers[gate, 0, 0], multipliers[gate, 0, 1])
            else:
                a = mbqm_nb(wrap_int32_nb(acc), multipliers[gate, 0, 0], multipliers[gate, 0, 1])
            acc = np.int64(0)
            for k in range(n_cell):
                acc += (h[r, k] - scalars[_T_STATE_ZP]) * weights_h[gate, i, k]
            if wide:
                b = mbqm64_nb(acc, multipliers[gate, 1, 0], multipliers[gate, 1, 1])
            else:
                b = mbqm_nb(wrap_int32_nb(acc), multipliers[gate, 1, 0], multipliers[gate, 1, 1])
            total = _clamp(a, -32768, 32767) + _clamp(b, -32768, 32767)
            out[r, i] = table[_clamp(total, -32768, 32767) + 32768]


@numba.njit(cache=True, nogil=True)
def _tflm_step(x, h, c, weights_x, weights_h, bias, multipliers, cell_multipliers, sigmoid_table, tanh_gate_table,
               tanh_cell_table, scalars, gates):
    """TFLM's LstmStep: updates h and c (int64 [rows, n_cell]) in place."""
    rows, n_cell = c.shape
    _tflm_gate(1, x, h, weights_x, weights_h, bias, multipliers, scalars, sigmoid_table, gates[1])
    _tflm_gate(0, x, h, weights_x, weights_h, bias, multipliers, scalars, sigmoid_table, gates[0])
    _tflm_gate(2, x, h, weights_x, weights_h, bias, multipliers, scalars, tanh_gate_table, gates[2])
    for r in range(rows):
        for i in range(n_cell):
            kept = _clamp(mbqm_nb(gates[1, r, i] * c[r, i], cell_multipliers[0, 0], cell_multipliers[0, 1]),
                          -32768, 32767)
            added = _clamp(mbqm_nb(gates[0, r, i] * gates[2, r, i], cell_multipliers[1, 0], cell_multipliers[1, 1]),
                           -32768, 32767)
            value = _clamp(kept + added, -32768, 32767)
            if scalars[_T_CLIP]:
                value = _clamp(value, -scalars[_T_CLIP_VALUE], scalars[_T_CLIP_VALUE])
            c[r, i] = value
    _tflm_gate(3, x, h, weights_x, weights_h, bias, multipliers, scalars, sigmoid_table, gates[3])
    for r in range(rows):
        for i in range(n_cell):
            t = tanh_cell_table[c[r, i] + 32768]
            value = mbqm_nb(t * gates[3, r, i], cell_multipliers[2, 0], cell_multipliers[2, 1]) + scalars[_T_HIDDEN_ZP]
            h[r, i] = _clamp(value, scalars[_T_LOW], scalars[_T_HIGH])


@numba.njit(cache=True, nogil=True)
def _tflm_sequence_nb(x, h0, c0, weights_x, weights_h, bias, multipliers, cell_multipliers, sigmoid_table,
                      tanh_gate_table, tanh_cell_table, scalars, out):
    """TFLM's EvalLstm: time-major steps all batches at once, batch-major runs batch by batch."""
    n_batch, n_cell = c0.shape
    if scalars[_T_TIME_MAJOR]:
        gates = np.zeros((4, n_batch, n_cell), dtype=np.int64)
        for t in range(x.shape[0]):
            _tflm_step(x[t], h0, c0, weights_x, weights_h, bias, multipliers, cell_multipliers, sigmoid_table,
                       tanh_gate_table, tanh_cell_table, scalars, gates)
            for b in range(n_batch):
                for j in range(n_cell):
                    out[t, b, j] = h0[b, j]
    else:
        gates = np.zeros((4, 1, n_cell), dtype=np.int64)
        for b in range(n_batch):
            h = h0[b:b + 1]
            c = c0[b:b + 1]
            for t in range(x.shape[1]):
                _tflm_step(x[b, t:t + 1], h, c, weights_x, weights_h, bias, multipliers, cell_multipliers,
                           sigmoid_table, tanh_gate_table, tanh_cell_table, scalars, gates)
                for j in range(n_cell):
                    out[b, t, j] = h[0, j]


def _tflm_fast(fp: FastTflmLstmParams, inputs: tuple[np.ndarray | None, ...]) -> KernelResult:
    p = fp.spec
    x = inputs[lstm.INPUT]
    output_state, cell_state = inputs[lstm.OUTPUT_STATE], inputs[lstm.CELL_STATE]
    assert x is not None and output_state is not None and cell_state is not None
    h = np.asarray(output_state, dtype=np.int64).reshape(p.n_batch, p.n_output).copy()
    c = np.asarray(cell_state, dtype=np.int64).reshape(p.n_batch, p.n_cell).copy()
    dtype = np.int16 if p.kind == "int16" else np.int8
    out = np.empty(p.output_shape, dtype=dtype)
    _tflm_sequence_nb(np.ascontiguousarray(x), h, c, fp.weights_x, fp.weights_h, fp.bias, fp.multipliers,
                      fp.cell_multipliers, fp.sigmoid_table, fp.tanh_gate_table, fp.tanh_cell_table, fp.scalars, out)
    return KernelResult(outputs=(out,),
                        variable_updates={lstm.OUTPUT_STATE: h.astype(dtype).reshape(output_state.shape),
                                          lstm.CELL_STATE: c.astype(np.int16).reshape(cell_state.shape)})


# ------------------------------------------------------------------------------------------------
# float32 (LiteRT's LstmStepFloat; the rule: refinterp/ops/lstm.py, section float32)


@dataclass(frozen=True)
class FastFloatLstmParams:
    spec: lstm.LstmParams
    weights_x: np.ndarray  # (4, n_cell, n_input) float32; zeros for an absent input gate
    weights_h: np.ndarray  # (4, n_cell, n_output)
    bias: np.ndarray  # (4, n_cell)
    peephole: np.ndarray  # (4, n_cell)
    layer_norm: np.ndarray  # (4, n_cell)
    projection: np.ndarray  # (n_output, n_cell)
    projection_bias: np.ndarray  # (n_output,)
    packet: np.ndarray  # (4, n_batch, n_cell) bool: Eigen's packet logistic for this element of the gate buffer
    flags: np.ndarray  # int64: cifg, peephole, projection, layer norm, activation, time major


def _prepare_float_fast(ctx: OpContext, p: lstm.LstmParams) -> FastFloatLstmParams:
    def constant(position: int | None, shape: tuple[int, ...]) -> np.ndarray:
        tensor = ctx.input(position) if position is not None else None
        if tensor is None:
            return np.zeros(shape, np.float32)
        if tensor.data is None:
            raise ctx.unsupported(f"input {position} is not constant (the fast LSTM packs it at prepare)")
        return np.asarray(tensor.data, np.float32).reshape(shape)

    n_cell, n_input, n_output = p.n_cell, p.n_input, p.n_output
    offsets = lstm.float_gate_offsets(p)
    packet = np.zeros((4, p.n_batch, n_cell), bool)
    for gate, offset in offsets.items():
        for b in range(p.n_batch):
            packet[gate, b] = eigen_packet_mask(n_cell, offset + b * n_cell)
    flags = np.array([p.use_cifg, p.use_peephole, p.use_projection, p.use_layer_norm, p.activation, p.time_major],
                     np.int64)
    return FastFloatLstmParams(
        spec=p, weights_x=np.stack([constant(pos, (n_cell, n_input)) for pos in lstm.INPUT_TO_GATE]),
        weights_h=np.stack([constant(pos, (n_cell, n_output)) for pos in lstm.RECURRENT_TO_GATE]),
        bias=np.stack([constant(pos, (n_cell,)) for pos in lstm.GATE_BIAS]),
        peephole=np.stack([constant(pos, (n_cell,)) for pos in lstm.CELL_TO_GATE]),
        layer_norm=np.stack([constant(pos if p.use_layer_norm else None, (n_cell,)) for pos in lstm.LAYER_NORM]),
        projection=constant(lstm.PROJECTION_WEIGHTS if p.use_projection else None, (n_output, n_cell)),
        projection_bias=constant(lstm.PROJECTION_BIAS if p.use_projection else None, (n_output,)),
        packet=packet, flags=flags)


_LOWEST, _HIGHEST = np.float32(np.finfo(np.float32).min), np.float32(np.finfo(np.float32).max)


@numba.njit(cache=True, nogil=True)
def _fc_nb(weights, vector, bias, out):
    """Eigen's row-major GEMV (Packet4f lanes, (l0 + l2) + (l1 + l3), the tail in order, 0 + sum), then
    BiasAndClamp: ``out = min(max(sum + bias, lowest), max)``."""
    rows, depth = weights.shape
    full = depth // 4 * 4
    zero = np.float32(0.0)
    for i in range(rows):
        l0, l1, l2, l3 = zero, zero, zero, zero
        for k in range(0, full, 4):
            l0 = np.float32(l0 + np.float32(weights[i, k] * vector[k]))
            l1 = np.float32(l1 + np.float32(weights[i, k + 1] * vector[k + 1]))
            l2 = np.float32(l2 + np.float32(weights[i, k + 2] * vector[k + 2]))
            l3 = np.float32(l3 + np.float32(weights[i, k + 3] * vector[k + 3]))
        total = np.float32(np.float32(l0 + l2) + np.float32(l1 + l3))
        for k in range(full, depth):
            total = np.float32(total + np.float32(weights[i, k] * vector[k]))
        total = np.float32(np.float32(zero + total) + bias[i])
        total = _LOWEST if total < _LOWEST else total
        out[i] = _HIGHEST if _HIGHEST < total else total


@numba.njit(cache=True, nogil=True)
def _activate_nb(v, activation, packet, out):
    """ApplyActivationToVector (activation -1: Eigen's logistic, packet or scalar form per element)."""
    zero, one, six = np.float32(0.0), np.float32(1.0), np.float32(6.0)
    for i in range(v.size):
        a = v[i]
        if activation == -1:
            out[i] = eigen_logistic_packet_nb(a) if packet[i] else eigen_logistic_scalar_nb(a)
        elif activation == 4:  # TANH
            out[i] = eigen_tanh_nb(a)
        elif activation == 1:  # RELU
            out[i] = a if zero < a else zero
        elif activation == 3:  # RELU6
            low = six if six < a else a
            out[i] = low if zero < low else zero
        elif activation == 2:  # RELU_N1_TO_1
            low = one if one < a else a
            out[i] = low if -one < low else -one
        elif activation == 5:  # SIGN_BIT
            out[i] = one if math.copysign(one, a) < zero else zero


@numba.njit(cache=True, nogil=True)
def _float_gate_nb(g, activation, x, h, c, weights_x, weights_h, bias, peephole, layer_norm, packet, flags,
                   input_all_zeros, buffer, scratch, final):
    """CalculateLstmGateFloat: ``buffer`` is the gate buffer G (its value after the gate), ``final`` the
    pre-activation sums."""
    n_cell = buffer.size
    for i in range(n_cell):
        buffer[i] = np.float32(0.0) if flags[3] else bias[g, i]
    if input_all_zeros:
        _fc_nb(weights_h[g], h, buffer, final)
    else:
        _fc_nb(weights_x[g], x, buffer, scratch)
        _fc_nb(weights_h[g], h, scratch, final)
    if flags[1] and g != 2:
        for i in range(n_cell):
            final[i] = np.float32(final[i] + np.float32(peephole[g, i] * c[i]))
    if flags[3]:
        total = np.float32(0.0)
        for i in range(n_cell):
            total = np.float32(total + final[i])
        mean = np.float32(total / np.float32(n_cell))
        sum_diff_sq = np.float32(0.0)
        for i in range(n_cell):
            diff = np.float32(final[i] - mean)
            sum_diff_sq = np.float32(sum_diff_sq + np.float32(diff * diff))
        variance = np.float32(sum_diff_sq / np.float32(n_cell))
        stddev_inv = np.float32(np.float32(1.0) / np.sqrt(np.float32(variance + np.float32(1e-8))))
        for i in range(n_cell):
            value = np.float32(np.float32(final[i] - mean) * stddev_inv)
            final[i] = np.float32(np.float32(value * layer_norm[g, i]) + bias[g, i])
    if activation == 0:  # NONE writes nothing: G holds the sums after an input FC, else its initial value
        if not input_all_zeros:
            for i in range(n_cell):
                buffer[i] = final[i]
    else:
        _activate_nb(final, activation, packet, buffer)


@numba.njit(cache=True, nogil=True)
def _clip_nb(v, clip):
    for i in range(v.size):
        low = v[i] if v[i] < clip else clip
        v[i] = -clip if low < -clip else low


@numba.njit(cache=True, nogil=True)
def _float_sequence_nb(x, h0, c0, weights_x, weights_h, bias, peephole, layer_norm, projection, projection_bias,
                       packet, flags, cell_clip, proj_clip, out):
    """EvalFloat row by row: x [B, T, n_input] (time-major inputs reach here as [1, T, n_input] views);
    h0 [B, n_output] and c0 [B, n_cell] updated in place; out [B, T, n_output]."""
    n_batch, n_cell = c0.shape
    n_output = h0.shape[1]
    gates = np.zeros((4, n_cell), np.float32)
    scratch = np.zeros(n_cell, np.float32)
    final = np.zeros(n_cell, np.float32)
    hidden = np.zeros(n_cell, np.float32)
    activation = flags[4]
    for b in range(n_batch):
        h = h0[b]
        c = c0[b]
        for t in range(x.shape[1]):
            row = x[b, t]
            input_all_zeros = True
            for k in range(row.size):
                if row[k] != 0:
                    input_all_zeros = False
                    break
            if not flags[0]:
                _float_gate_nb(0, -1, row, h, c, weights_x, weights_h, bias, peephole, layer_norm, packet[0, b],
                               flags, input_all_zeros, gates[0], scratch, final)
            _float_gate_nb(1, -1, row, h, c, weights_x, weights_h, bias, peephole, layer_norm, packet[1, b], flags,
                           input_all_zeros, gates[1], scratch, final)
            _float_gate_nb(2, activation, row, h, c, weights_x, weights_h, bias, peephole, layer_norm, packet[2, b],
                           flags, input_all_zeros, gates[2], scratch, final)
            for i in range(n_cell):
                kept = np.float32(gates[1, i] * c[i])
                input_gate = np.float32(np.float32(1.0) - gates[1, i]) if flags[0] else gates[0, i]
                c[i] = np.float32(kept + np.float32(gates[2, i] * input_gate))
            if cell_clip > 0:
                _clip_nb(c, cell_clip)
            _float_gate_nb(3, -1, row, h, c, weights_x, weights_h, bias, peephole, layer_norm, packet[3, b], flags,
                           input_all_zeros, gates[3], scratch, final)
            if activation == 0:
                for i in range(n_cell):
                    hidden[i] = gates[2, i]
            else:
                _activate_nb(c, activation, packet[2, b], hidden)
            for i in range(n_cell):
                hidden[i] = np.float32(gates[3, i] * hidden[i])
            if flags[2]:
                _fc_nb(projection, hidden, projection_bias, h)
                if proj_clip > 0:
                    _clip_nb(h, proj_clip)
            else:
                for j in range(n_output):
                    h[j] = hidden[j]
            for j in range(n_output):
                out[b, t, j] = h[j]


def _float_fast(fp: FastFloatLstmParams, inputs: tuple[np.ndarray | None, ...]) -> KernelResult:
    p = fp.spec
    x = inputs[lstm.INPUT]
    output_state, cell_state = inputs[lstm.OUTPUT_STATE], inputs[lstm.CELL_STATE]
    assert x is not None and output_state is not None and cell_state is not None
    h = np.asarray(output_state, np.float32).reshape(p.n_batch, p.n_output).copy()
    c = np.asarray(cell_state, np.float32).reshape(p.n_batch, p.n_cell).copy()
    rows = np.ascontiguousarray(np.swapaxes(x, 0, 1) if p.time_major else x, dtype=np.float32)
    out = np.empty((p.n_batch, p.max_time, p.n_output), np.float32)
    _float_sequence_nb(rows, h, c, fp.weights_x, fp.weights_h, fp.bias, fp.peephole, fp.layer_norm, fp.projection,
                       fp.projection_bias, fp.packet, fp.flags, p.cell_clip, p.proj_clip, out)
    if p.time_major:
        out = np.ascontiguousarray(np.swapaxes(out, 0, 1))
    return KernelResult(outputs=(out,), variable_updates={lstm.OUTPUT_STATE: h.reshape(output_state.shape),
                                                          lstm.CELL_STATE: c.reshape(cell_state.shape)})


def unidirectional_sequence_lstm_fast(fp: FastLstmParams | FastTflmLstmParams | FastFloatLstmParams | lstm.LstmParams,
                                      *inputs: np.ndarray | None) -> KernelResult:
    if isinstance(fp, FastTflmLstmParams):
        return _tflm_fast(fp, inputs)
    if isinstance(fp, FastFloatLstmParams):
        return _float_fast(fp, inputs)
    if isinstance(fp, lstm.LstmParams):
        return lstm.unidirectional_sequence_lstm_spec(fp, *inputs)
    p = fp.spec
    x = inputs[lstm.INPUT]
    output_state, cell_state = inputs[lstm.OUTPUT_STATE], inputs[lstm.CELL_STATE]
    assert x is not None and output_state is not None and cell_state is not None
    h = np.asarray(output_state, dtype=np.int64).reshape(p.n_batch, p.n_output).copy()
    c = np.asarray(cell_state, dtype=np.int64).reshape(p.n_batch, p.n_cell).copy()
    out = np.empty(p.output_shape, dtype=np.int8)
    _sequence_nb(np.ascontiguousarray(x), h, c, fp.weights_x, fp.weights_h, fp.bias_x, fp.bias_h, fp.multipliers,
                 fp.peephole, fp.layer_norm, fp.gate_bias, fp.variance_guards, fp.projection, fp.projection_bias,
                 fp.sigmoid_table, fp.tanh_gate_table, fp.tanh_cell_table, fp.scalars, out)
    return KernelResult(outputs=(out,),
                        variable_updates={lstm.OUTPUT_STATE: h.astype(np.int8).reshape(output_state.shape),
                                          lstm.CELL_STATE: c.astype(np.int16).reshape(cell_state.shape)})
