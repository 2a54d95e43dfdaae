"""SVDF state across invokes: refinterp against LiteRT BUILTIN_REF (every tensor, after every invoke) and TFLM.

The state input of SVDF is a variable tensor that the kernel writes in place in LiteRT and TFLM; refinterp's
kernel returns it (KernelResult) and the interpreter keeps it for the next invoke. Each model here is invoked
five times with different inputs; after each invoke every tensor of the model (the state included) must equal
LiteRT's bit for bit. After ``reset_all_variables()`` the next invoke must equal a fresh interpreter's.
The MLPerf Tiny keyword models of ../shared/models (int16 input -> QUANTIZE -> SVDF x7 -> FC -> SOFTMAX) run
the same way: keyword_scrambled.tflite (int16 state) against LiteRT, keyword_scrambled_8bit.tflite (int8 state
and time weights: TFLM only; LiteRT reads both as int16, outside the tensors) against TFLM under "tflm".
BIDIRECTIONAL_SEQUENCE_RNN (two variable hidden states) runs the same five invokes against LiteRT.

Eigen's float32 tanh and logistic (refinterp/ops/eigen_math.py) are held to LiteRT on every 4099th float32 bit
pattern: tanh through RNN's fused TANH (BUILTIN_REF, the ApplyActivationToVector path) and the optimized TANH
kernel, logistic through the optimized LOGISTIC kernel (the packet form on aligned vectors, the scalar form on
vectors shorter than a packet and on tails) and through a float LSTM's forget gate (ApplySigmoidToVector at an
unaligned offset of its scratch buffer: the scalar head).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from oracle import invoke_with, litert_ref_interpreter, random_inputs, require_tflm

import refinterp
from refinterp.errors import PrepareError, UnsupportedOpError
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.ops.eigen_math import eigen_logistic, eigen_logistic_packet, eigen_logistic_scalar, eigen_tanh
from refinterp.ops.fast.eigen_math import eigen_logistic_fast, eigen_tanh_fast

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
KEYWORD = MODELS / "tflite-micro" / "keyword_scrambled.tflite"
KEYWORD_8BIT = MODELS / "tflite-micro" / "keyword_scrambled_8bit.tflite"
INVOKES = 5


def _require(path: Path) -> None:
    if path.exists():
        return
    reason = f"{path} is absent (the model corpus ../shared/models)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _litert(model: bytes | None = None, path: Path | None = None) -> Any:
    interpreter = litert_ref_interpreter(model, str(path) if path else None)
    interpreter.allocate_tensors()
    return interpreter


def _refinterp(model: bytes | None = None, path: Path | None = None, **options: Any) -> refinterp.Interpreter:
    interpreter = refinterp.Interpreter(model_content=model, model_path=str(path) if path else None, **options)
    interpreter.allocate_tensors()
    return interpreter


def _bits(value: np.ndarray) -> np.ndarray:
    value = np.ascontiguousarray(value)
    return value.view(np.dtype(f"u{value.dtype.itemsize}")) if value.dtype.kind == "f" else value


def _assert_same_tensors(expected: Any, ours: refinterp.Interpreter, when: str) -> None:
    """Every tensor of the model (LiteRT's own scratch tensors, numbered after them, excluded)."""
    compared = 0
    for detail in ours.get_tensor_details():
        index = detail["index"]
        want = expected.get_tensor(index)
        got = ours.get_tensor(index)
        assert got.dtype == want.dtype and got.shape == want.shape, f"{when}: tensor {index} {detail['name']}"
        assert np.array_equal(_bits(got), _bits(want)), (
            f"{when}: tensor {index} {detail['name']} differs in {int(np.sum(_bits(got) != _bits(want)))} elements")
        compared += 1
    assert compared == len(ours.get_tensor_details())


def svdf_model(kind: str, batch: int = 2, input_size: int = 11, rank: int = 2, units: int = 3,
               memory: int = 5, seed: int = 0, bias_shape: tuple[int, ...] | None = None) -> bytes:
    """One SVDF with a variable state: int8 (int16 state), float32 or hybrid (int8 weights); the bias is [units]
    unless ``bias_shape`` says otherwise."""
    rng = np.random.default_rng(seed)
    filters = rank * units
    bias_shape = bias_shape or (units,)
    state_shape = (batch, filters * memory)
    if kind == "int8":
        specs = [TensorSpec((batch, input_size), "int8", 0.05, -3),
                 TensorSpec((filters, input_size), "int8", 0.02, 0,
                            data=rng.integers(-127, 128, (filters, input_size))),
                 TensorSpec((filters, memory), "int16", 0.0005, 0, data=rng.integers(-3000, 3001, (filters, memory))),
                 TensorSpec(bias_shape, "int32", float(np.float32(np.float32(0.0004) * np.float32(0.0005))), 0,
                            data=rng.integers(-20000, 20001, bias_shape)),
                 TensorSpec(state_shape, "int16", 0.0004, 0, is_variable=True)]
        output = TensorSpec((batch, units), "int8", 0.01, 5)
        activation = "RELU"
    else:
        weights_dtype = "float32" if kind == "float32" else "int8"
        feature = rng.standard_normal((filters, input_size)).astype(np.float32) if kind == "float32" else \
            rng.integers(-127, 128, (filters, input_size))
        time = rng.standard_normal((filters, memory)).astype(np.float32) if kind == "float32" else \
            rng.integers(-127, 128, (filters, memory))
        scale = None if kind == "float32" else 0.01
        specs = [TensorSpec((batch, input_size), "float32"),
                 TensorSpec((filters, input_size), weights_dtype, scale, data=feature),
                 TensorSpec((filters, memory), weights_dtype, scale, data=time),
                 TensorSpec(bias_shape, "float32", data=rng.standard_normal(bias_shape).astype(np.float32)),
                 TensorSpec(state_shape, "float32", is_variable=True)]
        output = TensorSpec((batch, units), "float32")
        activation = "RELU6"
    return single_op_model("SVDF", specs, [output], {"rank": rank, "fused_activation_function": activation},
                           version=1 if kind == "float32" else 2)


def _check_against_litert(model: bytes | None, path: Path | None, kernels: str) -> None:
    litert = _litert(model, path)
    ours = _refinterp(model, path, kernels=kernels)
    rng = np.random.default_rng(7)
    history = []
    for step in range(INVOKES):
        inputs = random_inputs(ours, rng)
        history.append(inputs)
        invoke_with(litert, inputs)
        invoke_with(ours, inputs)
        _assert_same_tensors(litert, ours, f"invoke {step + 1}")
    # reset_all_variables: the next invoke is a fresh interpreter's first
    litert.reset_all_variables()
    ours.reset_all_variables()
    fresh = _litert(model, path)
    for interpreter in (litert, ours, fresh):
        invoke_with(interpreter, history[2])
    _assert_same_tensors(fresh, ours, "after reset_all_variables")
    _assert_same_tensors(litert, ours, "after reset_all_variables (LiteRT reset)")


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("kind", ["int8", "float32", "hybrid"])
def test_stateful_svdf_matches_litert_after_every_invoke(kind: str, kernels: str) -> None:
    _check_against_litert(svdf_model(kind), None, kernels)


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("kind", ["int8", "float32", "hybrid"])
def test_svdf_reads_a_bias_of_more_dimensions_flat_like_litert(kind: str, kernels: str) -> None:
    """LiteRT's Prepare checks only the bias's first dimension (fuzz seed 20261218): a bias [units, 2] runs and
    its first `units` values are added; one of [units, 0] would be read past its end and is refused."""
    _check_against_litert(svdf_model(kind, bias_shape=(3, 2)), None, kernels)
    with pytest.raises(PrepareError, match="fewer than 3 values"):
        _refinterp(svdf_model(kind, bias_shape=(3, 0)), None, kernels=kernels).allocate_tensors()


@pytest.mark.parametrize("kernels", ["fast", "spec"])
def test_keyword_scrambled_over_several_invokes(kernels: str) -> None:
    _require(KEYWORD)
    _check_against_litert(None, KEYWORD, kernels)


def _tflm_outputs_over_invokes(model: bytes, inputs: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=max(1 << 20, 16 * len(model)))
    outputs = []
    for values in inputs:
        for position, value in enumerate(values):
            interpreter.set_input(value, position)
        interpreter.invoke()
        count = len(refinterp.Interpreter(model_content=model).get_output_details())
        outputs.append([np.array(interpreter.get_output(i)) for i in range(count)])
    return outputs


def _check_against_tflm(model: bytes) -> None:
    require_tflm()
    rng = np.random.default_rng(3)
    for kernels in ("fast", "spec"):
        ours = _refinterp(model, profile="tflm", kernels=kernels)
        inputs = [random_inputs(ours, rng) for _ in range(INVOKES)]
        expected = _tflm_outputs_over_invokes(model, inputs)
        for step, values in enumerate(inputs):
            invoke_with(ours, values)
            for position, detail in enumerate(ours.get_output_details()):
                got, want = ours.get_tensor(detail["index"]), expected[step][position]
                assert np.array_equal(_bits(got), _bits(want)), f"{kernels} kernels, invoke {step + 1}"


@pytest.mark.parametrize("kind", ["int8", "float32"])
def test_stateful_svdf_matches_tflm(kind: str) -> None:
    _check_against_tflm(svdf_model(kind))


def test_keyword_scrambled_8bit_under_tflm() -> None:
    """int8 state and int8 time weights: TFLM's int8 SVDF; LiteRT reads them as int16 (refused there)."""
    _require(KEYWORD_8BIT)
    _check_against_tflm(KEYWORD_8BIT.read_bytes())
    with pytest.raises(UnsupportedOpError, match="int8 state"):
        _refinterp(path=KEYWORD_8BIT)


def test_keyword_scrambled_under_tflm() -> None:
    _require(KEYWORD)
    _check_against_tflm(KEYWORD.read_bytes())


# ------------------------------------------------------------------------------------------------
# BIDIRECTIONAL_SEQUENCE_RNN over several invokes


def bidirectional_rnn_model(kind: str, time_major: bool, merge_outputs: bool, aux: str = "none", batch: int = 2,
                            time: int = 3, input_size: int = 6, fw_units: int = 5, bw_units: int = 3,
                            activation: str = "TANH", asymmetric: bool = True, seed: int = 0) -> bytes:
    """One BIDIRECTIONAL_SEQUENCE_RNN with its two variable hidden states; ``aux``: "none", "cross" (auxiliary
    input and weights) or "bw_input" (auxiliary input only)."""
    rng = np.random.default_rng(seed)

    def weights(shape: tuple[int, int]) -> TensorSpec:
        if kind == "float32":
            return TensorSpec(shape, "float32", data=(rng.standard_normal(shape) * 0.5).astype(np.float32))
        return TensorSpec(shape, "int8", 0.01, 0, data=rng.integers(-127, 128, shape))

    shape = (time, batch, input_size) if time_major else (batch, time, input_size)
    aux_size = input_size + 2 if aux == "cross" else input_size
    specs: list[TensorSpec | None] = [
        TensorSpec(shape, "float32"), weights((fw_units, input_size)), weights((fw_units, fw_units)),
        TensorSpec((fw_units,), "float32", data=rng.standard_normal(fw_units).astype(np.float32)),
        TensorSpec((batch, fw_units), "float32", is_variable=True), weights((bw_units, input_size)),
        weights((bw_units, bw_units)),
        TensorSpec((bw_units,), "float32", data=rng.standard_normal(bw_units).astype(np.float32)),
        TensorSpec((batch, bw_units), "float32", is_variable=True),
        TensorSpec((shape[0], shape[1], aux_size), "float32") if aux != "none" else None,
        weights((fw_units, aux_size)) if aux == "cross" else None,
        weights((bw_units, aux_size)) if aux == "cross" else None]
    fw_step = fw_units + bw_units if merge_outputs else fw_units
    outputs = [TensorSpec((time, batch, fw_step) if time_major else (batch, time, fw_step), "float32")]
    if not merge_outputs:
        outputs.append(TensorSpec((time, batch, bw_units) if time_major else (batch, time, bw_units), "float32"))
    options = {"time_major": time_major, "merge_outputs": merge_outputs, "fused_activation_function": activation,
               "asymmetric_quantize_inputs": asymmetric}
    return single_op_model("BIDIRECTIONAL_SEQUENCE_RNN", specs, outputs, options,
                           version=1 if kind == "float32" else 2)


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize(("kind", "time_major", "merge_outputs", "aux"), [
    ("float32", False, False, "none"), ("float32", True, True, "cross"), ("float32", True, False, "bw_input"),
    ("hybrid", False, True, "cross"), ("hybrid", True, False, "none"), ("hybrid", True, True, "bw_input")])
def test_stateful_bidirectional_rnn_matches_litert_after_every_invoke(kind: str, time_major: bool,
                                                                      merge_outputs: bool, aux: str,
                                                                      kernels: str) -> None:
    _check_against_litert(bidirectional_rnn_model(kind, time_major, merge_outputs, aux), None, kernels)


def test_bidirectional_rnn_refuses_what_crashes_litert() -> None:
    """Hybrid, time-major, merged outputs, batch > 1, symmetric: LiteRT dereferences a null zero-point array plus
    the row index (a segmentation fault in 2.3.0), never run here; refinterp refuses it at allocate."""
    model = bidirectional_rnn_model("hybrid", True, True, asymmetric=False)
    with pytest.raises(UnsupportedOpError, match="crashes"):
        _refinterp(model)


# ------------------------------------------------------------------------------------------------
# Eigen's tanh and logistic (refinterp/ops/eigen_math.py) against LiteRT


def _sampled_floats() -> np.ndarray:
    """Every 4099th float32 bit pattern: zeros, denormals, every binade, infinities, NaNs of many payloads,
    plus dense runs around the clamps and the cut-offs."""
    sampled = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = []
    for edge in (7.90738964080810547, 16.6355324, -104.0, -9.0, 0.0004, 1.25, 8.0):
        for sign in (1.0, -1.0):
            center = np.float32(sign * edge).view(np.int32)
            edges.append((center + np.arange(-300, 301, dtype=np.int32)).view(np.float32))
    return np.concatenate([sampled, *edges])


def _litert_resolver(resolver: str, model: bytes) -> Any:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=model, experimental_op_resolver_type=getattr(OpResolverType, resolver),
                              experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    return interpreter


def _same_bits(got: np.ndarray, want: np.ndarray) -> int:
    """How many elements differ in their bits (NaN payloads included)."""
    return int(np.sum(_bits(np.asarray(got, np.float32)) != _bits(np.asarray(want, np.float32))))


def test_eigen_tanh_is_litert_rnn_fused_tanh() -> None:
    """RNN x [n, 1], one unit of weight 1, recurrent weight and bias -0.0: the pre-activation is x itself; the
    output is ApplyActivationToVector(TANH) on n contiguous floats (packets and scalar tail)."""
    x = _sampled_floats()
    n = x.size
    specs = [TensorSpec((n, 1), "float32"), TensorSpec((1, 1), "float32", data=np.ones((1, 1), np.float32)),
             TensorSpec((1, 1), "float32", data=np.full((1, 1), -0.0, np.float32)),
             TensorSpec((1,), "float32", data=np.full((1,), -0.0, np.float32)),
             TensorSpec((n, 1), "float32", is_variable=True)]
    model = single_op_model("RNN", specs, [TensorSpec((n, 1), "float32")], {"fused_activation_function": "TANH"})
    litert = _litert_resolver("BUILTIN_REF", model)
    invoke_with(litert, [x.reshape(n, 1)])
    want = litert.get_tensor(litert.get_output_details()[0]["index"]).reshape(-1)
    pre_activation = np.where(x == 0, np.float32(0.0), x)  # -0.0 + -0.0 * 1 ... gives +0.0 for a zero input
    assert _same_bits(eigen_tanh(pre_activation), want) == 0
    assert _same_bits(eigen_tanh_fast(pre_activation), want) == 0
    ours = _refinterp(model)
    invoke_with(ours, [x.reshape(n, 1)])
    assert _same_bits(ours.get_tensor(ours.get_output_details()[0]["index"]).reshape(-1), want) == 0


def _optimized_unary(op: str, x: np.ndarray) -> np.ndarray:
    """LiteRT's optimized float kernel of ``op`` (Eigen over a whole, 64-byte-aligned tensor)."""
    model = single_op_model(op, [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "float32")])
    interpreter = _litert_resolver("BUILTIN_WITHOUT_DEFAULT_DELEGATES", model)
    invoke_with(interpreter, [x])
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def test_eigen_tanh_is_litert_optimized_tanh_at_every_offset() -> None:
    x = _sampled_floats()
    for shift in range(5):  # the same values at every position modulo a packet: tanh has one form
        shifted = np.concatenate([np.zeros(shift, np.float32), x])
        assert _same_bits(eigen_tanh(shifted), _optimized_unary("TANH", shifted)) == 0, shift


def test_eigen_logistic_packet_and_scalar_forms() -> None:
    x = _sampled_floats()
    x = x[: x.size - x.size % 4]
    want = _optimized_unary("LOGISTIC", x)
    assert _same_bits(eigen_logistic_packet(x), want) == 0  # an aligned whole number of packets
    assert _same_bits(eigen_logistic(x), want) == 0
    assert _same_bits(eigen_logistic_fast(x), want) == 0
    short = x[::97][:3 * 400].reshape(-1, 3)  # three-float tensors: all scalar
    got = np.concatenate([_optimized_unary("LOGISTIC", row) for row in short[:400]])
    assert _same_bits(eigen_logistic_scalar(short[:400].reshape(-1)), got) == 0
    differ = np.sum(_bits(eigen_logistic_scalar(x)) != _bits(eigen_logistic_packet(x)))
    assert differ > 10000  # the two forms really differ (about 40% of the values in [-20, 20]): position matters
    for size in (5, 6, 7, 9, 13):  # packets then a scalar tail
        values = x[::131][:size * 50].reshape(50, size)
        for row in values:
            assert _same_bits(eigen_logistic(row), _optimized_unary("LOGISTIC", row)) == 0
            assert _same_bits(eigen_logistic_fast(row), eigen_logistic(row)) == 0


def _lstm_forget_gate_model(n_cell: int, forget_bias: np.ndarray) -> bytes:
    """A float LSTM (batch 1, input 1, two steps) whose cell state after the second step is exactly the forget
    gate sigmoid(forget_bias): step 1 (x = 1) sets c = 1 (input and cell gates saturated at +1e30), step 2
    (x = -1) gives i = 0, so c = f * 1 + 0 * g. The forget gate sits at 2 * n_cell floats into the scratch."""
    big = np.full((n_cell, 1), 1e30, np.float32)
    zero_w = np.zeros((n_cell, 1), np.float32)
    zero_r = np.zeros((n_cell, n_cell), np.float32)
    zero_b = np.zeros(n_cell, np.float32)

    def const(data: np.ndarray) -> TensorSpec:
        return TensorSpec(data.shape, "float32", data=data)

    specs: list[TensorSpec | None] = [
        TensorSpec((1, 2, 1), "float32"), const(big), const(zero_w), const(big), const(zero_w),
        const(zero_r), const(zero_r), const(zero_r), const(zero_r), None, None, None,
        const(zero_b), const(forget_bias.astype(np.float32)), const(zero_b), const(zero_b), None, None,
        TensorSpec((1, n_cell), "float32", is_variable=True), TensorSpec((1, n_cell), "float32", is_variable=True),
        None, None, None, None]
    return single_op_model("UNIDIRECTIONAL_SEQUENCE_LSTM", specs, [TensorSpec((1, 2, n_cell), "float32")],
                           {"fused_activation_function": "TANH", "time_major": False})


def test_eigen_logistic_scalar_head_in_litert_lstm() -> None:
    """ApplySigmoidToVector on the forget gate at float offset 2 * n_cell of LiteRT's scratch buffer: for odd
    n_cell the first two elements are before a 16-byte boundary and take the scalar form."""
    rng = np.random.default_rng(11)
    candidates = rng.uniform(-20, 20, 100000).astype(np.float32)
    differing = candidates[_bits(eigen_logistic_scalar(candidates)) != _bits(eigen_logistic_packet(candidates))]
    for n_cell in range(1, 12):
        bias = differing[rng.choice(differing.size, n_cell)]
        litert = _litert_resolver("BUILTIN_REF", _lstm_forget_gate_model(n_cell, bias))
        invoke_with(litert, [np.array([[[1.0], [-1.0]]], np.float32)])
        cell = [d["index"] for d in litert.get_tensor_details() if d["name"] == "state_19"]
        got = litert.get_tensor(cell[0]).reshape(-1)
        assert _same_bits(eigen_logistic(bias, offset=2 * n_cell), got) == 0, n_cell
        if n_cell % 2 and n_cell >= 5:  # the offset matters: an aligned start would give other values
            assert _same_bits(eigen_logistic(bias, offset=0), got) > 0, n_cell
