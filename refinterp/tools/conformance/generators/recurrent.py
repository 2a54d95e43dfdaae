"""Random single-operator cases for UNIDIRECTIONAL_SEQUENCE_LSTM (issue 12).

int8 (LiteRT's integer LSTM 8x8_16: int8 input, weights and output state, int16 cell state, int32 biases, five
intermediate tensors carrying the gate scales and the hidden scale) is drawn over the variants: CIFG (no input
gate), peephole (int16 cell-to-gate weights), projection (with or without bias; to fewer, as many or more
outputs than cells), layer norm (int16 coefficients, intermediates 0-3 quantized), time-major or batch-major,
batch 1 to 3, 1 to 5 time steps, cell state scales 2**-15 to 2**-9, cell and projection clipping, biases that
saturate the gates. The output state and the cell state are variable tensors (zero point / zero at the start).

A peephole with more outputs than cells reads past LiteRT's peephole weights (its integer peephole runs over
n_output elements): not drawn. Probes: the four gate intermediates missing (LiteRT's integer Prepare requires
five), a CIFG LSTM with an input gate bias. More than half the int8 cases are the standard LSTM, the one TFLM runs
(int8 is a TFLM kind: the variants are cases TFLM must reject; so are fused activations other than TANH, which
LiteRT ignores and TFLM leaves the cell gate unactivated with; tiny cell clips quantize to 0).

float32 (LiteRT's EvalFloat): see gen_lstm_float32. int16x8 (gen_lstm_int16_tflm) runs on TFLM only; LiteRT
rejects it, so it is not a registry kind and tests/test_stateful.py holds it to TFLM.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    TFLM_AS_LITERT,
    TFLM_INVALID,
    TFLM_UNDEFINED,
    TFLM_VALID,
    Case,
    Generator,
    case,
    choice,
    int_values,
    join,
    log_uniform,
    zero_point,
)

OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
GATES = ("input", "forget", "cell", "output")


def _weights(rng: np.random.Generator, shape: tuple[int, ...], dtype: str = "int8") -> np.ndarray:
    if dtype == "int16":
        return rng.integers(-32768, 32768, size=shape).astype(np.int16) if rng.random() < 0.3 else \
            rng.integers(-4096, 4097, size=shape).astype(np.int16)
    return rng.integers(-128 if rng.random() < 0.1 else -127, 128, size=shape).astype(np.int8)


def lstm_int8_model(rng: np.random.Generator, *, n_batch: int, max_time: int, n_input: int, n_cell: int,
                    n_output: int, time_major: bool, cifg: bool, peephole: bool, projection: bool,
                    projection_bias: bool, layer_norm: bool, cell_scale_log2: int, cell_clip: float,
                    proj_clip: float, drop_gate_intermediates: bool = False,
                    cifg_input_bias: bool = False, activation: str = "TANH", act_type: str = "int8",
                    bias_type: str | None = None,
                    activation_zero_points: bool = False) -> tuple[bytes, dict[str, Any]]:
    """An int8x8_16 LSTM model (one operator) and the scales drawn for it; ``act_type="int16"``: int16
    activations and output state (zero point 0 unless ``activation_zero_points``, scales 256 times finer),
    int64 biases by default."""
    wide = act_type == "int16"
    bias_type = bias_type or ("int64" if wide else "int32")
    step = 1 / 256 if wide else 1.0

    def activation_q(low: float, high: float) -> tuple[float, int]:
        if wide:
            return (log_uniform(rng, low, high) * step,
                    int(rng.integers(-300, 301)) if activation_zero_points else 0)
        return (log_uniform(rng, low, high), zero_point(rng, "int8"))

    input_q = activation_q(1e-3, 0.5)
    state_q = activation_q(2e-3, 0.05)
    output_q = state_q if rng.random() < 0.9 else activation_q(2e-3, 0.05)
    hidden_q = activation_q(2e-3, 0.05) if projection else state_q
    cell_scale = 2.0 ** cell_scale_log2
    gate_scales = [log_uniform(rng, 2 ** -14, 2 ** -10) for _ in range(4)]
    specs: list[TensorSpec | None] = [None] * 24
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    specs[0] = TensorSpec(shape, act_type, *input_q)
    bias_spread = int(2 ** rng.integers(4, 22))
    for gate in range(4):
        if gate == 0 and cifg:
            continue
        # weight scales that put W . x (in real units about spread / 8) across the activations' range
        # (about 0.04 to 8) and now and then past it (saturation)
        scale_x = log_uniform(rng, 0.3, 64) * 2 ** -12 / (input_q[0] / step * 64 * np.sqrt(max(n_input, 1)) / 8)
        scale_h = log_uniform(rng, 0.3, 64) * 2 ** -12 / (state_q[0] / step * 64 * np.sqrt(max(n_output, 1)) / 8)
        specs[1 + gate] = TensorSpec((n_cell, n_input), "int8", float(np.float32(scale_x)), 0,
                                     data=_weights(rng, (n_cell, n_input)))
        specs[5 + gate] = TensorSpec((n_cell, n_output), "int8", float(np.float32(scale_h)), 0,
                                     data=_weights(rng, (n_cell, n_output)))
        bias_scale = float(np.float32(scale_x * input_q[0]))
        specs[12 + gate] = TensorSpec((n_cell,), bias_type, bias_scale, 0,
                                      data=rng.integers(-bias_spread, bias_spread + 1, n_cell).astype(bias_type))
    if cifg_input_bias:
        specs[12] = TensorSpec((n_cell,), bias_type, 1e-5, 0, data=np.zeros(n_cell, bias_type))
    if peephole:
        for gate, position in ((0, 9), (1, 10), (3, 11)):
            if gate == 0 and cifg:
                continue
            specs[position] = TensorSpec((n_cell,), "int16", log_uniform(rng, 1e-4, 1e-2), 0,
                                         data=_weights(rng, (n_cell,), "int16"))
    if projection:
        proj_scale = log_uniform(rng, 1e-2, 0.5) * state_q[0] / (hidden_q[0] * np.sqrt(n_cell) * 8)
        specs[16] = TensorSpec((n_output, n_cell), "int8", float(np.float32(proj_scale)), 0,
                               data=_weights(rng, (n_output, n_cell)))
        if projection_bias:
            specs[17] = TensorSpec((n_output,), bias_type, float(np.float32(proj_scale * hidden_q[0])), 0,
                                   data=rng.integers(-bias_spread, bias_spread + 1, n_output).astype(bias_type))
    specs[18] = TensorSpec((n_batch, n_output), act_type, *state_q, is_variable=True)
    specs[19] = TensorSpec((n_batch, n_cell), "int16", cell_scale, 0, is_variable=True)
    if layer_norm:
        for gate in range(4):
            if gate == 0 and cifg:
                continue
            specs[20 + gate] = TensorSpec((n_cell,), "int16", log_uniform(rng, 1e-5, 1e-3), 0,
                                          data=_weights(rng, (n_cell,), "int16"))
    intermediates = [TensorSpec((0,), "int16", gate_scales[g], 0) if layer_norm else TensorSpec((0,), "float32")
                     for g in range(4)]
    intermediates.append(TensorSpec((0,), act_type, *hidden_q))
    if drop_gate_intermediates:
        intermediates = intermediates[4:]
    out_shape = (*shape[:2], n_output)
    options = {"fused_activation_function": activation, "cell_clip": cell_clip, "proj_clip": proj_clip,
               "time_major": time_major}
    model = single_op_model(OP, specs, [TensorSpec(out_shape, act_type, *output_q)], options,
                            intermediates=intermediates)
    return model, {"input_q": input_q, "state_q": state_q, "output_q": output_q, "hidden_q": hidden_q,
                   "gate_scales": gate_scales if layer_norm else "2**-12", "bias_spread": bias_spread}


def gen_lstm_int8(rng: np.random.Generator) -> Case:
    """UNIDIRECTIONAL_SEQUENCE_LSTM int8x8_16; see the module docstring."""
    n_batch = int(choice(rng, (1, 1, 2, 3)))
    max_time = int(rng.integers(1, 6))
    n_input = int(rng.integers(1, 9))
    n_cell = int(rng.integers(1, 9))
    # more than half are the standard LSTM, the one TFLM runs; the rest draw each variant
    standard = rng.random() < 0.55
    projection = not standard and bool(rng.random() < 0.4)
    peephole = not standard and bool(rng.random() < 0.4)
    n_output = n_cell
    if projection:
        n_output = int(rng.integers(1, n_cell + 1)) if peephole else int(rng.integers(1, 9))
    cifg = not standard and bool(rng.random() < 0.35)
    layer_norm = not standard and bool(rng.random() < 0.4)
    time_major = bool(rng.random() < 0.5)
    cell_scale_log2 = int(choice(rng, (-15, -14, -13, -12, -11, -11, -10, -9)))
    cell_clip = float(choice(rng, (0.0, 0.0, 10.0, float(rng.uniform(0.05, 3.0)))))
    edges = []
    if rng.random() < 0.05:
        # below one cell-state step: LiteRT then does not clip, TFLM clips the cell to 0
        cell_clip = float(2.0 ** cell_scale_log2 * rng.uniform(0.1, 0.9))
        edges.append("a cell clip that quantizes to 0")
    proj_clip = float(choice(rng, (0.0, 0.0, float(rng.uniform(0.01, 1.0))))) if projection else 0.0
    probes = []
    drop, cifg_bias = False, False
    if rng.random() < 0.02:
        drop = True
        probes.append("four of the five intermediates missing")
    elif cifg and rng.random() < 0.05:
        cifg_bias = True
        probes.append("CIFG with an input gate bias")
    activation = "TANH"
    if rng.random() < 0.08:
        # LiteRT's integer LSTM applies tanh to the cell gate whatever the option says; TFLM leaves it unactivated
        activation = str(choice(rng, ("NONE", "RELU", "RELU6", "SIGN_BIT")))
        edges.append(f"fused activation {activation}")
    params: dict[str, Any] = dict(n_batch=n_batch, max_time=max_time, n_input=n_input, n_cell=n_cell,
                                  n_output=n_output, time_major=time_major, cifg=cifg, peephole=peephole,
                                  projection=projection, layer_norm=layer_norm, cell_scale_log2=cell_scale_log2,
                                  cell_clip=cell_clip, proj_clip=proj_clip, activation=activation)
    model, drawn = lstm_int8_model(rng, **params, projection_bias=bool(rng.random() < 0.5),
                                   drop_gate_intermediates=drop, cifg_input_bias=cifg_bias)
    params.update(drawn)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    # TFLM runs the standard LSTM only (its Prepare rejects CIFG, peephole, projection and layer norm) and
    # needs no intermediates
    variant = cifg or peephole or projection or layer_norm or cifg_bias
    if variant:
        edges.append("a variant TFLM lacks")
    tflm = TFLM_INVALID if variant else (TFLM_VALID if drop else TFLM_AS_LITERT)
    return case(OP, "int8", model, [int_values(rng, shape, "int8")], params, join(*probes), join(*edges),
                tflm=tflm)


def gen_lstm_int16_tflm(rng: np.random.Generator) -> Case:
    """UNIDIRECTIONAL_SEQUENCE_LSTM int16x8 (int16 activations and output state, int8 weights, int64 biases,
    int16 cell): TFLM runs it; LiteRT's Prepare takes a non-int8 input for a float LSTM and rejects the integer
    biases. The standard LSTM TFLM runs, over time-major or not, batch 1 to 3, cell scales 2**-15 to 2**-9,
    cell clipping; now and then nonzero activation zero points (TFLM subtracts them) or int32 biases (TFLM
    would read them as int64: undefined, profile tflm refuses)."""
    n_batch = int(choice(rng, (1, 1, 2, 3)))
    max_time = int(rng.integers(1, 6))
    n_input = int(rng.integers(1, 9))
    n_cell = int(rng.integers(1, 9))
    time_major = bool(rng.random() < 0.5)
    cell_scale_log2 = int(choice(rng, (-15, -14, -13, -12, -11, -11, -10, -9)))
    cell_clip = float(choice(rng, (0.0, 0.0, 10.0, float(rng.uniform(0.05, 3.0)))))
    edges, tflm = [], TFLM_VALID
    bias_type = "int64"
    if rng.random() < 0.03:
        bias_type = "int32"
        tflm = TFLM_UNDEFINED
        edges.append("int32 biases")
    params: dict[str, Any] = dict(n_batch=n_batch, max_time=max_time, n_input=n_input, n_cell=n_cell,
                                  n_output=n_cell, time_major=time_major, cifg=False, peephole=False,
                                  projection=False, layer_norm=False, cell_scale_log2=cell_scale_log2,
                                  cell_clip=cell_clip, proj_clip=0.0)
    model, drawn = lstm_int8_model(rng, **params, projection_bias=False, act_type="int16", bias_type=bias_type,
                                   activation_zero_points=rng.random() < 0.15)
    params.update(drawn)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    return case(OP, "int16", model, [int_values(rng, shape, "int16")], params,
                "LiteRT has no int16 LSTM", join(*edges), tflm=tflm)


def lstm_float_model(rng: np.random.Generator, *, n_batch: int, max_time: int, n_input: int, n_cell: int,
                     n_output: int, time_major: bool, cifg: bool, peephole: bool, projection: bool,
                     projection_bias: bool, layer_norm: bool, activation: str, cell_clip: float, proj_clip: float,
                     weight_scale: float, twenty_inputs: bool = False) -> bytes:
    """A float32 LSTM model (one operator)."""
    def tensor(*shape: int) -> TensorSpec:
        return TensorSpec(shape, "float32", data=(rng.standard_normal(shape) * weight_scale).astype(np.float32))

    specs: list[TensorSpec | None] = [None] * (20 if twenty_inputs else 24)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    specs[0] = TensorSpec(shape, "float32")
    for gate in range(4):
        if gate == 0 and cifg:
            continue
        specs[1 + gate] = tensor(n_cell, n_input)
        specs[5 + gate] = tensor(n_cell, n_output)
        specs[12 + gate] = tensor(n_cell)
        if peephole and gate != 2:
            specs[9 + (gate if gate < 2 else 2)] = tensor(n_cell)
        if layer_norm:
            specs[20 + gate] = tensor(n_cell)
    if projection:
        specs[16] = tensor(n_output, n_cell)
        if projection_bias:
            specs[17] = tensor(n_output)
    specs[18] = TensorSpec((n_batch, n_output), "float32", is_variable=True)
    specs[19] = TensorSpec((n_batch, n_cell), "float32", is_variable=True)
    options = {"fused_activation_function": activation, "cell_clip": cell_clip, "proj_clip": proj_clip,
               "time_major": time_major}
    return single_op_model(OP, specs, [TensorSpec((*shape[:2], n_output), "float32")], options)


def gen_lstm_float32(rng: np.random.Generator) -> Case:
    """UNIDIRECTIONAL_SEQUENCE_LSTM float32 (LiteRT's EvalFloat) over the variants: CIFG, peephole, projection
    (with or without bias, to fewer or more outputs), layer norm, every fused activation (NONE leaves the cell
    gate's buffer unwritten), cell and projection clipping, batch-major batch 1 to 3 or time-major batch 1, 1 to
    5 steps, 20 or 24 inputs, input rows that are all zeros (LiteRT skips their product), weights and inputs
    scaled to saturate the activations now and then."""
    time_major = bool(rng.random() < 0.3)
    n_batch = 1 if time_major else int(choice(rng, (1, 1, 2, 3)))
    max_time = int(rng.integers(1, 6))
    n_input = int(rng.integers(1, 11))
    n_cell = int(rng.integers(1, 11))
    projection = bool(rng.random() < 0.3)
    n_output = int(rng.integers(1, 11)) if projection else n_cell
    layer_norm = bool(rng.random() < 0.3)
    activation = "TANH" if rng.random() < 0.7 else str(choice(rng, ("NONE", "RELU", "RELU6", "RELU_N1_TO_1",
                                                                     "SIGN_BIT")))
    params: dict[str, Any] = dict(
        n_batch=n_batch, max_time=max_time, n_input=n_input, n_cell=n_cell, n_output=n_output,
        time_major=time_major, cifg=bool(rng.random() < 0.3), peephole=bool(rng.random() < 0.3),
        projection=projection, projection_bias=bool(rng.random() < 0.5), layer_norm=layer_norm,
        activation=activation, cell_clip=float(choice(rng, (0.0, 0.0, float(rng.uniform(0.1, 3.0))))),
        proj_clip=float(choice(rng, (0.0, float(rng.uniform(0.05, 1.0))))) if projection else 0.0,
        weight_scale=float(log_uniform(rng, 0.05, 3.0)), twenty_inputs=not layer_norm and rng.random() < 0.3)
    model = lstm_float_model(rng, **params)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    x = (rng.standard_normal(shape) * log_uniform(rng, 0.1, 10.0)).astype(np.float32)
    edges = []
    if rng.random() < 0.3:
        x.reshape(-1, n_input)[rng.random(x.size // n_input) < 0.5] = 0.0
        edges.append("input rows of zeros")
    return case(OP, "float32", model, [x], params, edge=join(*edges))


def lstm_hybrid_model(rng: np.random.Generator, *, n_batch: int, max_time: int, n_input: int, n_cell: int,
                      n_output: int, time_major: bool, cifg: bool, peephole: bool, projection: bool,
                      projection_bias: bool, layer_norm: bool, activation: str, cell_clip: float, proj_clip: float,
                      weight_scale: float, asymmetric: bool, twenty_inputs: bool = False) -> bytes:
    """A hybrid LSTM model (one operator): float32 input, states, biases and layer-norm coefficients; int8
    weights (input, recurrent, peephole, projection) with per-tensor scales."""
    def weights(*shape: int) -> TensorSpec:
        scale = float(np.float32(weight_scale * log_uniform(rng, 0.3, 3.0) / 127))
        return TensorSpec(shape, "int8", scale, 0, data=_weights(rng, shape))

    def floats(*shape: int) -> TensorSpec:
        return TensorSpec(shape, "float32", data=(rng.standard_normal(shape) * weight_scale).astype(np.float32))

    specs: list[TensorSpec | None] = [None] * (20 if twenty_inputs else 24)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    specs[0] = TensorSpec(shape, "float32")
    for gate in range(4):
        if gate == 0 and cifg:
            continue
        specs[1 + gate] = weights(n_cell, n_input)
        specs[5 + gate] = weights(n_cell, n_output)
        specs[12 + gate] = floats(n_cell)
        if peephole and gate != 2:
            specs[9 + (gate if gate < 2 else 2)] = weights(n_cell)
        if layer_norm:
            specs[20 + gate] = floats(n_cell)
    if projection:
        specs[16] = weights(n_output, n_cell)
        if projection_bias:
            specs[17] = floats(n_output)
    specs[18] = TensorSpec((n_batch, n_output), "float32", is_variable=True)
    specs[19] = TensorSpec((n_batch, n_cell), "float32", is_variable=True)
    options = {"fused_activation_function": activation, "cell_clip": cell_clip, "proj_clip": proj_clip,
               "time_major": time_major, "asymmetric_quantize_inputs": asymmetric}
    return single_op_model(OP, specs, [TensorSpec((*shape[:2], n_output), "float32")], options)


def gen_lstm_hybrid(rng: np.random.Generator) -> Case:
    """UNIDIRECTIONAL_SEQUENCE_LSTM hybrid (LiteRT's EvalHybrid: float32 activations, int8 weights, the inputs
    and the output state quantized per batch row at every step, symmetric or asymmetric) over the variants:
    CIFG, peephole (int8 weights recovered in float), projection (with or without bias), layer norm, every fused
    activation, cell and projection clipping, time-major (all batch rows in one step) or batch-major, batch 1
    to 3, 1 to 5 steps, 20 or 24 inputs, input rows of zeros (and whole zero steps, whose products LiteRT
    skips), weights of -128 (the SSE dot product's sign trick)."""
    time_major = bool(rng.random() < 0.5)
    n_batch = int(choice(rng, (1, 1, 2, 3)))
    max_time = int(rng.integers(1, 6))
    n_input = int(rng.integers(1, 21))
    n_cell = int(rng.integers(1, 11))
    projection = bool(rng.random() < 0.3)
    n_output = int(rng.integers(1, 11)) if projection else n_cell
    layer_norm = bool(rng.random() < 0.3)
    activation = "TANH" if rng.random() < 0.7 else str(choice(rng, ("NONE", "RELU", "RELU6", "RELU_N1_TO_1",
                                                                     "SIGN_BIT")))
    params: dict[str, Any] = dict(
        n_batch=n_batch, max_time=max_time, n_input=n_input, n_cell=n_cell, n_output=n_output,
        time_major=time_major, cifg=bool(rng.random() < 0.3), peephole=bool(rng.random() < 0.3),
        projection=projection, projection_bias=bool(rng.random() < 0.5), layer_norm=layer_norm,
        activation=activation, cell_clip=float(choice(rng, (0.0, 0.0, float(rng.uniform(0.1, 3.0))))),
        proj_clip=float(choice(rng, (0.0, float(rng.uniform(0.05, 1.0))))) if projection else 0.0,
        weight_scale=float(log_uniform(rng, 0.05, 3.0)), asymmetric=bool(rng.random() < 0.5),
        twenty_inputs=not layer_norm and rng.random() < 0.3)
    model = lstm_hybrid_model(rng, **params)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    x = (rng.standard_normal(shape) * log_uniform(rng, 0.1, 10.0)).astype(np.float32)
    edges = []
    if rng.random() < 0.3:
        x.reshape(-1, n_input)[rng.random(x.size // n_input) < 0.5] = 0.0
        edges.append("input rows of zeros")
    return case(OP, "hybrid", model, [x], params, edge=join(*edges))


BIDI_OP = "BIDIRECTIONAL_SEQUENCE_LSTM"


def bidi_lstm_float_model(rng: np.random.Generator, *, n_batch: int, max_time: int, n_input: int,
                          cells: tuple[dict[str, Any], dict[str, Any]], time_major: bool, merge_outputs: bool,
                          activation: str, cell_clip: float, proj_clip: float, weight_scale: float,
                          hybrid: bool = False, asymmetric: bool = False, aux_input: bool = False) -> bytes:
    """A float32 BIDIRECTIONAL_SEQUENCE_LSTM model (one operator, 48 inputs, no auxiliary input); ``cells``:
    the forward and backward cells' n_cell, n_output, cifg, peephole, projection, projection_bias.
    ``hybrid``: int8 weights (input, recurrent, peephole, projection) with per-tensor scales; ``aux_input``: an
    auxiliary input (a second model input, no auxiliary weights: the backward cell's input)."""
    def floats(*shape: int) -> TensorSpec:
        return TensorSpec(shape, "float32", data=(rng.standard_normal(shape) * weight_scale).astype(np.float32))

    def tensor(*shape: int) -> TensorSpec:
        if not hybrid:
            return floats(*shape)
        scale = float(np.float32(weight_scale * log_uniform(rng, 0.3, 3.0) / 127))
        return TensorSpec(shape, "int8", scale, 0, data=_weights(rng, shape))

    specs: list[TensorSpec | None] = [None] * 48
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    specs[0] = TensorSpec(shape, "float32")
    for direction, cell in enumerate(cells):
        base = 17 * direction
        n_cell, n_output = cell["n_cell"], cell["n_output"]
        for gate in range(4):
            if gate == 0 and cell["cifg"]:
                continue
            specs[base + 1 + gate] = tensor(n_cell, n_input)
            specs[base + 5 + gate] = tensor(n_cell, n_output)
            specs[base + 12 + gate] = floats(n_cell)
            if cell["peephole"] and gate != 2:
                specs[base + 9 + (gate if gate < 2 else 2)] = tensor(n_cell)
        if cell["projection"]:
            specs[base + 16] = tensor(n_output, n_cell)
            if cell["projection_bias"]:
                specs[base + 17] = floats(n_output)
        specs[35 + 2 * direction] = TensorSpec((n_batch, n_output), "float32", is_variable=True)
        specs[36 + 2 * direction] = TensorSpec((n_batch, n_cell), "float32", is_variable=True)
    if aux_input:
        specs[39] = TensorSpec(shape, "float32")
    fw_out, bw_out = cells[0]["n_output"], cells[1]["n_output"]
    outputs = [TensorSpec((*shape[:2], fw_out + bw_out), "float32")] if merge_outputs else \
        [TensorSpec((*shape[:2], fw_out), "float32"), TensorSpec((*shape[:2], bw_out), "float32")]
    options = {"fused_activation_function": activation, "cell_clip": cell_clip, "proj_clip": proj_clip,
               "merge_outputs": merge_outputs, "time_major": time_major, "asymmetric_quantize_inputs": asymmetric}
    return single_op_model(BIDI_OP, specs, outputs, options)


def _bidi_cells(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    # LiteRT checks both cells' tensors against each cell's sizes: one n_cell and n_output for both
    n_cell = int(rng.integers(1, 9))
    n_output = int(rng.integers(1, 9)) if rng.random() < 0.3 else n_cell
    cells = []
    for _ in range(2):
        projection = n_output != n_cell or bool(rng.random() < 0.3)
        cells.append(dict(n_cell=n_cell, n_output=n_output, cifg=bool(rng.random() < 0.3),
                          peephole=bool(rng.random() < 0.3), projection=projection,
                          projection_bias=bool(rng.random() < 0.5)))
    return cells[0], cells[1]


def gen_bidi_lstm_hybrid(rng: np.random.Generator) -> Case:
    """BIDIRECTIONAL_SEQUENCE_LSTM hybrid (two EvalHybrid passes, time-major: LiteRT calls EvalHybrid
    time-major whatever the option, so batch-major models are not drawn): int8 weights, symmetric or asymmetric
    input quantization, per cell CIFG, peephole, projection; merged outputs or two, every fused activation, cell
    and projection clipping, batch 1 to 3, 1 to 5 steps, input rows of zeros."""
    n_batch = int(choice(rng, (1, 1, 2, 3)))
    max_time = int(rng.integers(1, 6))
    n_input = int(rng.integers(1, 21))
    cells = _bidi_cells(rng)
    any_projection = cells[0]["projection"] or cells[1]["projection"]
    activation = "TANH" if rng.random() < 0.7 else str(choice(rng, ("NONE", "RELU", "RELU6", "RELU_N1_TO_1",
                                                                     "SIGN_BIT")))
    params: dict[str, Any] = dict(
        n_batch=n_batch, max_time=max_time, n_input=n_input, cells=cells, time_major=True,
        merge_outputs=bool(rng.random() < 0.5), activation=activation,
        cell_clip=float(choice(rng, (0.0, 0.0, float(rng.uniform(0.1, 3.0))))),
        proj_clip=float(choice(rng, (0.0, float(rng.uniform(0.05, 1.0))))) if any_projection else 0.0,
        weight_scale=float(log_uniform(rng, 0.05, 3.0)), hybrid=True, asymmetric=bool(rng.random() < 0.5))
    model = bidi_lstm_float_model(rng, **params)
    shape = (max_time, n_batch, n_input)
    x = (rng.standard_normal(shape) * log_uniform(rng, 0.1, 10.0)).astype(np.float32)
    edges = []
    if rng.random() < 0.3:
        x.reshape(-1, n_input)[rng.random(x.size // n_input) < 0.5] = 0.0
        edges.append("input rows of zeros")
    return case(BIDI_OP, "hybrid", model, [x], params, edge=join(*edges))


def gen_bidi_lstm_float32(rng: np.random.Generator) -> Case:
    """BIDIRECTIONAL_SEQUENCE_LSTM float32 (two EvalFloat passes, the backward one from the last step): per
    cell CIFG, peephole, projection (with or without bias, to fewer or more outputs; both cells have the same
    sizes, as LiteRT requires); merged outputs or two,
    every fused activation, cell and projection clipping, batch-major batch 1 to 3 (merged: batch 1, LiteRT
    reads past the states otherwise) or time-major batch 1, 1 to 5 steps, input rows of zeros, an auxiliary
    input without weights (the backward cell's input)."""
    time_major = bool(rng.random() < 0.4)
    merge_outputs = bool(rng.random() < 0.5)
    n_batch = 1 if time_major or merge_outputs else int(choice(rng, (1, 2, 3)))
    max_time = int(rng.integers(1, 6))
    n_input = int(rng.integers(1, 11))
    cells = _bidi_cells(rng)
    any_projection = cells[0]["projection"] or cells[1]["projection"]
    activation = "TANH" if rng.random() < 0.7 else str(choice(rng, ("NONE", "RELU", "RELU6", "RELU_N1_TO_1",
                                                                     "SIGN_BIT")))
    params: dict[str, Any] = dict(
        n_batch=n_batch, max_time=max_time, n_input=n_input, cells=cells, time_major=time_major,
        merge_outputs=merge_outputs, activation=activation,
        cell_clip=float(choice(rng, (0.0, 0.0, float(rng.uniform(0.1, 3.0))))),
        proj_clip=float(choice(rng, (0.0, float(rng.uniform(0.05, 1.0))))) if any_projection else 0.0,
        weight_scale=float(log_uniform(rng, 0.05, 3.0)), aux_input=bool(rng.random() < 0.2))
    model = bidi_lstm_float_model(rng, **params)
    shape = (max_time, n_batch, n_input) if time_major else (n_batch, max_time, n_input)
    scale = log_uniform(rng, 0.1, 10.0)
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    edges = []
    if rng.random() < 0.3:
        x.reshape(-1, n_input)[rng.random(x.size // n_input) < 0.5] = 0.0
        edges.append("input rows of zeros")
    inputs = [x]
    if params["aux_input"]:
        inputs.append((rng.standard_normal(shape) * scale).astype(np.float32))
        edges.append("an auxiliary input (the backward cell's input)")
    return case(BIDI_OP, "float32", model, inputs, params, edge=join(*edges))


GENERATORS: dict[tuple[str, str], Generator] = {(OP, "int8"): gen_lstm_int8, (OP, "float32"): gen_lstm_float32,
                                                (OP, "hybrid"): gen_lstm_hybrid,
                                                (BIDI_OP, "float32"): gen_bidi_lstm_float32,
                                                (BIDI_OP, "hybrid"): gen_bidi_lstm_hybrid}
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset({(OP, "int8")})
