"""One test per failure class the fuzzer found (refinterp fuzz, issue 10), each rebuilt with the project's own
model builder (never a copy of a mutant or of a third-party file).

Each pins what LiteRT BUILTIN_REF does with the file: it runs it and refinterp must give the same outputs, or
it refuses it and refinterp must refuse it too. Where LiteRT runs a file into C++ undefined behaviour (a
shift past 31 bits), refinterp refuses it with a one-line PrepareError that says so: running it would give a
number no rule reproduces (see ``checked_quantize_multiplier``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from oracle import Rejected, run_litert_ref, run_refinterp
from test_shapes_and_limits import refuse

from refinterp.errors import EvalError, KernelError, PrepareError, RefinterpError, UnsupportedOpError
from refinterp.modelbuilder import OpSpec, SubgraphSpec, TensorSpec, build_model, single_op_model
from refinterp.tools.fuzz import mutators

KERNELS = ("fast", "spec")


def assert_same(model: bytes, inputs: list[np.ndarray]) -> None:
    expected = run_litert_ref(model, inputs)
    for kernels in KERNELS:
        got = run_refinterp(model, inputs, kernels=kernels)
        for want, have in zip(expected, got):
            assert have.dtype == want.dtype and have.shape == want.shape
            np.testing.assert_array_equal(have, want, err_msg=f"kernels={kernels}")


def assert_both_refuse(model: bytes, inputs: list[np.ndarray]) -> None:
    with pytest.raises(Rejected):
        run_litert_ref(model, inputs)
    for kernels in KERNELS:
        with pytest.raises(Rejected) as refused:
            run_refinterp(model, inputs, kernels=kernels)
        assert "\n" not in str(refused.value)


def refinterp_error(model: bytes, inputs: list[np.ndarray]) -> RefinterpError:
    """The RefinterpError refinterp raises on the file (the Interpreter API, not the oracle wrapper)."""
    from refinterp.interpreter import Interpreter

    with pytest.raises(RefinterpError) as raised:
        interpreter = Interpreter(model_content=model)
        interpreter.allocate_tensors()
        for detail, value in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
    assert not isinstance(raised.value, KernelError), raised.value
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 400
    return raised.value


# ------------------------------------------------------------------------------------------------ disagreements


def test_quantize_past_int32_wraps_with_the_zero_point_like_x86():
    """static_cast<int32>(round(x / 1e-12)) is INT32_MIN on x86, and INT32_MIN + (-127) wraps to a large
    positive number: LiteRT's output is 127 for every input, negative ones included."""
    x = np.array([[0.17, 0.65, -0.77, -0.25, 0.0, 1e-13]], np.float32)
    model = single_op_model("QUANTIZE", [TensorSpec(x.shape, "float32")], [TensorSpec(x.shape, "int8", 1e-12, -127)])
    assert_same(model, [x])
    # by hand: |x| / 1e-12 beyond int32 -> INT32_MIN - 127 wraps -> 127; 0 and 0.1 round to 0 -> -127
    np.testing.assert_array_equal(run_refinterp(model, [x])[0], [[127, 127, 127, 127, -127, -127]])


def test_sqrt_int8_past_int32_wraps_like_x86():
    """SQRT int8's table: static_cast<int32>(sqrt(x) / s_out) + zp_out; with s_out 1e-12 LiteRT gives -128."""
    x = np.array([[-22, -58, -84, 113, 75, 82, -128, 0]], np.int8)
    model = single_op_model("SQRT", [TensorSpec(x.shape, "int8", 0.0051, -128)],
                            [TensorSpec(x.shape, "int8", 1e-12, 111)])
    assert_same(model, [x])


def test_rsqrt_and_abs_rescales_past_31_bits_are_refused_as_undefined():
    """A denormal input scale (RSQRT) or a 1e-12 output scale (ABS) needs a left shift of more than 31 bits in
    MultiplyByQuantizedMultiplier: LiteRT runs into undefined behaviour, refinterp refuses and says why."""
    x = np.arange(-6, 6, dtype=np.int8).reshape(1, 12)
    rsqrt = single_op_model("RSQRT", [TensorSpec(x.shape, "int8", 1.4e-45, -128)],
                            [TensorSpec(x.shape, "int8", 0.0015, -101)])
    abs_model = single_op_model("ABS", [TensorSpec(x.shape, "int8", 0.003, 0)], [TensorSpec(x.shape, "int8", 1e-12, 0)])
    underflow = single_op_model("RSQRT", [TensorSpec(x.shape, "int8", 0.0958, -128)],
                                [TensorSpec(x.shape, "int8", 1e-45, -101)])  # 1 / f32(sqrt(s_in) * s_out) = 1 / 0
    for model in (rsqrt, abs_model, underflow):
        run_litert_ref(model, [x])  # LiteRT runs it
        error = refinterp_error(model, [x])
        assert isinstance(error, PrepareError) and "undefined" in str(error), error


# ------------------------------------------------------------------------------------------------ LiteRT refuses


def conv_model(op: str, option: str, value: int) -> bytes:
    weights = np.ones((2, 1, 1, 2) if op == "CONV_2D" else (1, 1, 1, 2), np.int8)
    options = {"padding": "VALID", option: value}
    if op == "DEPTHWISE_CONV_2D":
        options["depth_multiplier"] = 1
    out_shape = {"stride_h": (1, 1, 3, 2), "stride_w": (1, 3, 1, 2)}.get(option, (1, 3, 3, 2))
    return single_op_model(op, [
        TensorSpec((1, 3, 3, 2), "int8", 0.02, 0),
        TensorSpec(weights.shape, "int8", [0.01] * 2, [0] * 2, data=weights,
                   quantized_dimension=0 if op == "CONV_2D" else 3),
        TensorSpec((2,), "int32", [0.0002] * 2, [0] * 2, data=np.array([5, -7], np.int32))],
        [TensorSpec(out_shape, "int8", 0.05, 0)], options)


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("option", ["stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor"])
def test_conv_strides_and_dilations_above_int16_are_refused_like_litert(op, option):
    x = np.arange(18, dtype=np.int8).reshape(1, 3, 3, 2)
    assert_same(conv_model(op, option, 32767), [x])
    assert_both_refuse(conv_model(op, option, 32768), [x])


@pytest.mark.parametrize("option", ["stride_h", "stride_w"])
def test_transpose_conv_strides_above_int16_are_refused_like_litert(option):
    weights = np.ones((2, 1, 1, 2), np.int8)

    def model(stride: int) -> bytes:
        options = {"padding": "VALID", "stride_h": 1, "stride_w": 1, option: stride}
        return single_op_model("TRANSPOSE_CONV", [
            TensorSpec((4,), "int32", data=np.array([1, 1, 1, 2], np.int32)),
            TensorSpec(weights.shape, "int8", [0.01] * 2, [0] * 2, data=weights),
            TensorSpec((1, 1, 1, 2), "int8", 0.02, 0)], [TensorSpec((1, 1, 1, 2), "int8", 0.05, 0)], options)

    x = np.array([[[[3, -4]]]], np.int8)
    assert_same(model(32767), [x])
    assert_both_refuse(model(32768), [x])


def test_an_output_sharing_a_constant_buffer_is_refused():
    """REDUCE_MAX whose output tensor points at the axis constant's buffer: LiteRT writes into that buffer and
    then fails at invoke; refinterp refuses the file when it loads."""
    model = single_op_model("REDUCE_MAX", [TensorSpec((2, 1, 2, 4), "int8", 0.01, -79),
                                           TensorSpec((1,), "int32", data=np.array([3], np.int32))],
                            [TensorSpec((2, 1, 2, 1), "int8", 0.01, -79)], {"keep_dims": True})
    flat = mutators.unpack(model)
    subgraph = flat.subgraphs[0]
    subgraph.tensors[2].buffer = subgraph.tensors[1].buffer  # 4 bytes of int32 [3] read as int8 (2, 1, 2, 1)
    shared = mutators.pack(flat)
    x = np.arange(16, dtype=np.int8).reshape(2, 1, 2, 4)
    assert_both_refuse(shared, [x])
    assert isinstance(refinterp_error(shared, [x]), UnsupportedOpError)


def test_padv2_constant_zero_point_is_compared_to_an_unquantized_output():
    """pad.cc compares the output's params (0.0, 0 when it has none) with constant_values': both refuse."""
    model = single_op_model("PADV2", [
        TensorSpec((1, 2, 2, 1), "int8", 0.005, -8),
        TensorSpec((4, 2), "int32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)),
        TensorSpec((1,), "int8", 0.005, -8, data=np.array([3], np.int8))],
        [TensorSpec((1, 4, 4, 1), "int8")])
    assert_both_refuse(model, [np.arange(4, dtype=np.int8).reshape(1, 2, 2, 1)])


def test_reduce_prod_of_a_quantized_float_input_is_refused_like_litert():
    model = single_op_model("REDUCE_PROD", [TensorSpec((2, 3), "float32", 0.5, 0),
                                            TensorSpec((1,), "int32", data=np.array([1], np.int32))],
                            [TensorSpec((2,), "float32")])
    assert_both_refuse(model, [np.ones((2, 3), np.float32)])


# ------------------------------------------------------------------------------------------------ kernel errors


def test_transpose_conv_bias_of_any_shape_with_cout_elements():
    """LiteRT checks only the bias's element count: a [1, 1] bias for one output channel runs."""
    model = single_op_model("TRANSPOSE_CONV", [
        TensorSpec((4,), "int32", data=np.array([2, 3, 4, 1], np.int32)),
        TensorSpec((1, 1, 3, 3), "int8", [0.0027], [0], data=np.array([[[[-48, -82, -46], [88, -53, 125],
                                                                          [-27, -77, 3]]]], np.int8)),
        TensorSpec((2, 3, 2, 3), "int8", 0.0021, -35),
        TensorSpec((1, 1), "int32", 5.7e-6, 0, data=np.array([[-657]], np.int32))],
        [TensorSpec((2, 3, 4, 1), "int8", 0.0052, 127)], {"padding": "VALID", "stride_w": 1, "stride_h": 1})
    x = np.random.default_rng(5).integers(-128, 128, (2, 3, 2, 3)).astype(np.int8)
    assert_same(model, [x])


def test_softmax_of_empty_rows():
    """Rows of no element: LiteRT computes nothing. A declared output that is not the input's shape is a
    one-line refusal (LiteRT resizes the output), never a crashed kernel."""
    empty = single_op_model("SOFTMAX", [TensorSpec((6, 5, 0), "int8", 0.011, 12)],
                            [TensorSpec((6, 5, 0), "int8", 1 / 256, -128)], {"beta": 1.0})
    x = np.zeros((6, 5, 0), np.int8)
    assert_same(empty, [x])
    declared_otherwise = single_op_model("SOFTMAX", [TensorSpec((6, 5, 0), "int8", 0.011, 12)],
                                         [TensorSpec((6, 5, 1), "int8", 1 / 256, -128)], {"beta": 1.0})
    assert isinstance(refinterp_error(declared_otherwise, [x]), (EvalError, PrepareError))


def test_pad_of_an_unquantized_int8_input_pads_with_zero_in_litert_and_the_zero_point_in_tflm():
    """LiteRT pads with the output's zero point only when the input is quantized; TFLM always does."""
    from oracle import require_tflm, run_tflm

    paddings = TensorSpec((2, 2), "int32", data=np.array([[0, 0], [1, 2]], np.int32))
    x = np.array([[1, 2, 3]], np.int8)
    for op in ("PAD", "PADV2"):
        model = single_op_model(op, [TensorSpec((1, 3), "int8"), paddings], [TensorSpec((1, 6), "int8", 0.1, -50)])
        assert_same(model, [x])
        np.testing.assert_array_equal(run_litert_ref(model, [x])[0], [[0, 1, 2, 3, 0, 0]])  # by hand too
        require_tflm()
        expected = run_tflm(model, [x])
        np.testing.assert_array_equal(expected[0], [[-50, 1, 2, 3, -50, -50]])
        for kernels in KERNELS:
            np.testing.assert_array_equal(run_refinterp(model, [x], kernels=kernels, profile="tflm")[0], expected[0])


def test_div_checks_the_whole_buffer_of_a_constant_divisor_like_litert():
    """div.cc looks for the divisor's zero point over tensor->bytes: a constant's whole buffer, longer than its
    shape here (3 then 0): LiteRT fails, and so does refinterp."""
    for dtype, q in (("int32", (None, None)), ("int8", (0.1, 0))):
        divisor = TensorSpec((), dtype, *q, data=np.array(3, dtype))
        model = single_op_model("DIV", [TensorSpec((1,), dtype, *q), divisor],
                                [TensorSpec((1,), dtype, *((0.05, 0) if dtype == "int8" else q))])
        flat = mutators.unpack(model)
        buffer = flat.buffers[flat.subgraphs[0].tensors[1].buffer]
        buffer.data = np.frombuffer(np.array([3, 0, 0, 0], dtype).tobytes(), np.uint8)
        assert_both_refuse(mutators.pack(flat), [np.array([7], dtype)])
        assert_same(model, [np.array([7], dtype)])  # the buffer of the right length runs


def test_mean_and_rsqrt_rescales_past_31_bits_are_refused_as_undefined():
    """MEAN with an output scale of 1e-12 needs a left shift of 32 or more; RSQRT with an output scale of 1e10 a
    right shift of 51: both undefined in TFLite's int32 arithmetic (LiteRT runs them into numbers no rule gives)."""
    mean = single_op_model("MEAN", [TensorSpec((1, 4), "int8", 0.0446, 0),
                                    TensorSpec((1,), "int32", data=np.array([1], np.int32))],
                           [TensorSpec((1, 1), "int8", 1e-12, 0)], {"keep_dims": True})
    x = np.arange(12, dtype=np.int8).reshape(3, 4)
    rsqrt = single_op_model("RSQRT", [TensorSpec((3, 4), "int8", 0.0958, -128)],
                            [TensorSpec((3, 4), "int8", 1e10, -101)])
    for model, inputs in ((mean, [x[:1]]), (rsqrt, [x])):
        run_litert_ref(model, inputs)  # LiteRT runs it
        error = refinterp_error(model, inputs)
        assert isinstance(error, PrepareError) and "undefined" in str(error), error


def test_every_message_is_one_short_line():
    """A shape of thousands of dimensions in a message (BROADCAST_TO) is shortened where it is written, and
    every RefinterpError is one line of at most MAX_MESSAGE_CHARS by construction."""
    from refinterp.errors import MAX_MESSAGE_CHARS

    shape = np.zeros(3000, np.int32)
    model = single_op_model("BROADCAST_TO",
                            [TensorSpec((2, 1), "float32"), TensorSpec(shape.shape, "int32", data=shape)],
                            [TensorSpec((2, 1), "float32")], version=2)
    error = refinterp_error(model, [np.ones((2, 1), np.float32)])
    assert "more]" in str(error), error
    long = EvalError("x" * 1000 + "\nsecond line")
    assert len(str(long)) == MAX_MESSAGE_CHARS and "\n" not in str(long)


def test_an_operator_output_that_is_a_variable_tensor_is_refused():
    """Variable tensors are state an operator updates in place: written as an output, LiteRT fails at invoke
    ("Input tensor lacks data" in the next operator); refinterp refuses the file when it loads."""
    model = single_op_model("RELU", [TensorSpec((1, 4), "int8", 0.1, 0)], [TensorSpec((1, 4), "int8", 0.1, 0)])
    flat = mutators.unpack(model)
    flat.subgraphs[0].tensors[1].isVariable = True
    assert isinstance(refinterp_error(mutators.pack(flat), [np.zeros((1, 4), np.int8)]), UnsupportedOpError)


def test_int16_fully_connected_without_options_is_refused_like_litert():
    """No FullyConnectedOptions table: LiteRT's quantized_bias_type stays kTfLiteNoType, which its int16
    Prepare refuses (int8 and float32 run)."""
    weights = TensorSpec((2, 3), "int8", [0.05, 0.05], [0, 0], data=np.ones((2, 3), np.int8))
    bias = TensorSpec((2,), "int64", [0.005, 0.005], [0, 0], data=np.ones(2, np.int64))
    model = single_op_model("FULLY_CONNECTED", [TensorSpec((1, 3), "int16", 0.1, 0), weights, bias],
                            [TensorSpec((1, 2), "int16", 0.2, 0)])
    flat = mutators.unpack(model)
    flat.subgraphs[0].operators[0].builtinOptions = None
    flat.subgraphs[0].operators[0].builtinOptionsType = 0
    assert_both_refuse(mutators.pack(flat), [np.ones((1, 3), np.int16)])


@pytest.mark.parametrize("input_scale", [1e10, 3.4e38])
def test_int16_logistic_input_multiplier_beyond_int32_casts_like_x86(input_scale):
    """SigmoidPrepare's static_cast<int32_t>(input_scale * 4096 * 3) past int32: x86's INT32_MIN."""
    x = np.array([[23513, -1, 0, 1, 32767, -32768]], np.int16)
    model = single_op_model("LOGISTIC", [TensorSpec(x.shape, "int16", input_scale, 0)],
                            [TensorSpec(x.shape, "int16", 1 / 32768, 0)])
    assert_same(model, [x])


def test_a_sparse_constant_into_any_operator_but_densify_is_refused():
    """LiteRT's kernels read a sparse constant's stored values as if dense, custom operators included."""
    from refinterp.errors import UnsupportedOpError
    from refinterp.model import parse_model
    from refinterp.modelbuilder import sparsify

    dense = np.array([[0.0, 1.0], [2.0, 0.0]], np.float32)
    values, sparsity = sparsify(dense)
    for op in ("ADD", "CUSTOM:TFLite_Detection_PostProcess"):
        constant = TensorSpec(dense.shape, "float32", data=values, sparsity=sparsity)
        model = single_op_model(op, [TensorSpec(dense.shape, "float32"), constant],
                                [TensorSpec(dense.shape, "float32")],
                                custom_options=b"" if op.startswith("CUSTOM") else None)
        with pytest.raises(UnsupportedOpError, match="sparse"):
            parse_model(model)
    # nor is one a model output (LiteRT hands out its stored values as the dense tensor's)
    flat = mutators.unpack(single_op_model(
        "DENSIFY", [TensorSpec(dense.shape, "float32", data=values, sparsity=sparsity)],
        [TensorSpec(dense.shape, "float32")]))
    flat.subgraphs[0].outputs = [0]
    with pytest.raises(UnsupportedOpError, match="sparse constant"):
        parse_model(mutators.pack(flat))


def test_a_state_tensor_read_twice_by_a_stateful_operator_is_refused():
    """A sequence RNN whose recurrent weights are its own state: LiteRT updates the state in place while it still
    reads it as weights; refinterp refuses the order it does not follow (one line, at invoke)."""
    units, size = 2, 2  # a batch of 2: the state [batch, units] has the recurrent weights' shape [units, units]
    state = TensorSpec((2, units), "float32", is_variable=True)
    model = single_op_model("UNIDIRECTIONAL_SEQUENCE_RNN", [
        TensorSpec((2, 3, size), "float32"),
        TensorSpec((units, size), "float32", data=np.full((units, size), 0.5, np.float32)),
        TensorSpec((units, units), "float32", data=np.eye(units, dtype=np.float32)),
        TensorSpec((units,), "float32", data=np.zeros(units, np.float32)), state],
        [TensorSpec((2, 3, units), "float32")], {"time_major": False, "fused_activation_function": "NONE"})
    flat = mutators.unpack(model)
    op = flat.subgraphs[0].operators[0]
    op.inputs[2] = op.inputs[4]  # the recurrent weights are the state tensor
    shared = mutators.pack(flat)
    assert isinstance(refinterp_error(shared, [np.ones((2, 3, size), np.float32)]), EvalError)


def test_an_operator_without_its_output_is_refused_before_its_kernel_sizes_anything():
    """RESIZE_NEAREST_NEIGHBOR with its output removed and a size of 2**30: LiteRT's Prepare fails on the missing
    output; refinterp refuses at allocate instead of running a kernel that sizes 4 GiB of indices."""
    model = single_op_model("RESIZE_NEAREST_NEIGHBOR", [
        TensorSpec((1, 2, 2, 1), "int8", 0.1, 0), TensorSpec((2,), "int32", data=np.array([1 << 30, 4], np.int32))],
        [TensorSpec((1, 1 << 30, 4, 1), "int8", 0.1, 0)])
    flat = mutators.unpack(model)
    flat.subgraphs[0].operators[0].outputs = []
    flat.subgraphs[0].outputs = [0]
    x = np.zeros((1, 2, 2, 1), np.int8)
    stripped = mutators.pack(flat)
    with pytest.raises(Rejected):
        run_litert_ref(stripped, [x])
    assert isinstance(refinterp_error(stripped, [x]), PrepareError)


def test_concatenation_of_rank_0_inputs_is_refused_like_litert():
    """concatenation.cc: t0->dims->size > 0 (TFLM crashes on it, so it is not run here)."""
    for dtype, q in (("float32", (None, None)), ("int8", (0.1, 0))):
        model = single_op_model("CONCATENATION", [TensorSpec((), dtype, *q), TensorSpec((), dtype, *q)],
                                [TensorSpec((), dtype, *q)], {"axis": 0})
        assert_both_refuse(model, [np.array(1, dtype), np.array(2, dtype)])


def test_a_shape_whose_element_count_overflows_is_refused_at_load_like_litert():
    """util.cc BytesRequired multiplies the dimensions left to right in size_t and refuses an overflow, even when
    a later dimension is 0; refinterp refuses the same file when it loads (NumPy could not hold the shape)."""
    from refinterp.model import parse_model

    model = single_op_model("SQRT", [TensorSpec((2, 3), "int8", 0.1, 0)], [TensorSpec((2, 3), "int8", 0.1, 0)])
    flat = mutators.unpack(model)
    flat.subgraphs[0].tensors[0].shape = np.array([7, 1970302569, 3170164, 786444, 0], np.int32)
    huge = mutators.pack(flat)
    with pytest.raises(Rejected):
        run_litert_ref(huge, [np.zeros((2, 3), np.int8)])
    with pytest.raises(RefinterpError, match="overflows"):
        parse_model(huge)


def test_cumsum_of_an_empty_tensor_with_a_long_axis_returns_at_once():
    """[4, 0, 2**31 - 1]: no element, but the spec's loop ran over the 2**31 - 1 positions of the axis (a hang)."""
    shape = (4, 0, (1 << 31) - 1)
    model = single_op_model("CUMSUM", [TensorSpec(shape, "int32"), TensorSpec((), "int32", data=np.array(2, np.int32))],
                            [TensorSpec(shape, "int32")])
    x = np.zeros(shape, np.int32)
    for kernels in KERNELS:
        (out,) = run_refinterp(model, [x], kernels=kernels)
        assert out.shape == shape


def test_a_bfloat16_constant_shorter_than_its_shape_is_refused_at_load_like_litert():
    """refinterp keeps no bfloat16 arrays, but LiteRT checks the buffer's size for it all the same."""
    from refinterp.model import parse_model

    model = single_op_model("ADD", [TensorSpec((1, 6), "int8", 0.1, 0),
                                    TensorSpec((1, 6), "int8", 0.1, 0, data=np.ones((1, 6), np.int8))],
                            [TensorSpec((1, 6), "int8", 0.1, 0)])
    flat = mutators.unpack(model)
    flat.subgraphs[0].tensors[1].type = 18  # BFLOAT16: 12 bytes needed, the buffer holds 6
    retyped = mutators.pack(flat)
    with pytest.raises(Rejected):
        run_litert_ref(retyped, [np.ones((1, 6), np.int8)])
    with pytest.raises(RefinterpError, match="needs 12"):
        parse_model(retyped)


def test_an_operator_output_with_constant_data_is_refused():
    """ARG_MAX writing a tensor that has constant data: LiteRT cannot resize the read-only tensor (measured:
    "Attempting to resize a fixed-size tensor"); refinterp refuses any such output when it loads the file."""
    model = single_op_model("ARG_MAX", [TensorSpec((1, 4), "float32"), TensorSpec((), "int32", data=np.array(1))],
                            [TensorSpec((1,), "int32")])
    flat = mutators.unpack(model)
    flat.subgraphs[0].tensors[2].buffer = flat.subgraphs[0].tensors[1].buffer
    error = refinterp_error(mutators.pack(flat), [np.zeros((1, 4), np.float32)])
    assert isinstance(error, UnsupportedOpError) and "has constant data" in str(error), error


def test_detection_postprocess_with_a_missing_box_scale_is_refused():
    """A flexbuffer key corrupted away reads 0 (AsFloat of a null): LiteRT divides by it and its NMS then
    compares NaN overlaps in an order refinterp does not follow; refinterp refuses the options."""
    import flatbuffers.flexbuffers as flexbuffers

    options = {"max_detections": 3, "max_classes_per_detection": 1, "detections_per_class": 3,
               "use_regular_nms": True, "nms_score_threshold": 0.04, "nms_iou_threshold": 0.3, "num_classes": 2,
               "y_scale": 10.0, "x_scale": 10.0, "w_scale": 5.0}  # no h_scale
    anchors = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (8, 1))
    model = single_op_model("CUSTOM:TFLite_Detection_PostProcess", [
        TensorSpec((1, 8, 4), "float32"), TensorSpec((1, 8, 3), "float32", data=np.full((1, 8, 3), 0.5, np.float32)),
        TensorSpec((8, 4), "float32", data=anchors)],
        [TensorSpec((1, 3, 4), "float32"), TensorSpec((1, 3), "float32"), TensorSpec((1, 3), "float32"),
         TensorSpec((1,), "float32")], custom_options=bytes(flexbuffers.Dumps(options)))
    error = refinterp_error(model, [np.zeros((1, 8, 4), np.float32)])
    assert isinstance(error, UnsupportedOpError) and "box scales" in str(error), error


@pytest.mark.parametrize("dtype", ["int16", "float16"])
def test_per_channel_dequantize_of_anything_but_int8_is_refused_like_litert(dtype):
    """dequantize.cc: "Type N not supported for per-channel" at invoke, for int16 and float16 alike."""
    data = None if dtype == "int16" else np.ones((3, 2), np.float16)
    model = single_op_model("DEQUANTIZE", [TensorSpec((3, 2), dtype, [0.1, 0.2, 0.3], [0, 0, 0], data=data)],
                            [TensorSpec((3, 2), "float32")])
    inputs = [np.ones((3, 2), np.int16)] if dtype == "int16" else []
    assert_both_refuse(model, inputs)


def test_reduce_prod_int8_adds_the_output_zero_point_in_int32():
    """QuantizedReduceProd: ``int32_t result = MBQM64(temp_prod, M, shift) + output_zero_point``. With an input
    scale of 11,064 the rescaled product of the third row lands on INT32_MIN; adding the zero point -124 wraps
    to a large positive value, which saturates at 127 (LiteRT), not at -128."""
    rows = np.array([[106, -50, -59, 125, 20, 76, 118, -9, 7, 50, -92, 26, 102, 4, -88, 57],
                     [-5, 74, 4, -27, 67, 101, 95, -68, 121, 21, 85, -63, 123, 12, 90, -62],
                     [20, 27, -122, -67, -56, -107, -23, 22, 70, 5, -70, -17, 117, -68, -47, -84]], np.int8)
    x = rows.reshape(3, 4, 4, 1)
    model = single_op_model("REDUCE_PROD", [TensorSpec(x.shape, "int8", 11063.5849609375, -114),
                                            TensorSpec((2,), "int32", data=np.array([1, 2], np.int32))],
                            [TensorSpec((3, 1), "int8", 0.03957241, -124)], {"keep_dims": False})
    assert_same(model, [x])
    np.testing.assert_array_equal(run_refinterp(model, [x])[0], [[-124], [-128], [127]])


def test_sqrt_int8_divides_by_a_subnormal_output_scale():
    """SQRT int8 divides by s_out: with a subnormal s_out (4.6e-41), 1 / s_out is inf in float32 and
    sqrt(0) * inf NaN, but LiteRT maps an input at the zero point (sqrt(0) = 0) to zp_out."""
    subnormal = float(np.array([32768], np.int32).view(np.float32)[0])
    x = np.array([[-128, -127, 0, 127, -128]], np.int8)
    model = single_op_model("SQRT", [TensorSpec(x.shape, "int8", 0.06056578, -128)],
                            [TensorSpec(x.shape, "int8", subnormal, 94)])
    assert_same(model, [x])
    np.testing.assert_array_equal(run_refinterp(model, [x])[0][0, [0, 4]], [94, 94])


def test_a_large_quantized_comparison_runs_within_the_memory_limits():
    """NOT_EQUAL int8 of 32 Mi elements against a broadcast operand: LiteRT runs it; refinterp rescales each
    input through a table of its 256 codes, 4 bytes per element, instead of int64 temporaries (a MemoryError
    under the fuzzer's 2 GiB limit)."""
    import resource

    a_shape, b_shape, out_shape = (2, 1 << 24, 1), (2, 1, 4), (2, 1 << 24, 4)
    model = single_op_model("NOT_EQUAL", [TensorSpec(a_shape, "int8", 0.02, 3), TensorSpec(b_shape, "int8", 0.03, -5)],
                            [TensorSpec(out_shape, "bool")])
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, a_shape, dtype=np.int8)
    b = rng.integers(-128, 128, b_shape, dtype=np.int8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = run_refinterp(model, [a, b], kernels="spec")[0]
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10
    assert grown_mib < 512, grown_mib
    # the real values compared, by hand: 0.02 * (a - 3) != 0.03 * (b + 5), exact in integers: 2(a-3) != 3(b+5)
    np.testing.assert_array_equal(got, 2 * (a.astype(np.int64) - 3) != 3 * (b.astype(np.int64) + 5))
    small = single_op_model("NOT_EQUAL", [TensorSpec((2, 64, 1), "int8", 0.02, 3),
                                          TensorSpec(b_shape, "int8", 0.03, -5)], [TensorSpec((2, 64, 4), "bool")])
    assert_same(small, [a[:, :64], b])


def test_detection_postprocess_reads_its_options_by_binary_search_like_litert():
    """flexbuffers' Map::operator[] is std::bsearch over the keys: with a key corrupted out of order
    ("nms_score_threshold" -> "n" before "nms_iou_threshold"), "nms_iou_threshold" is there but not found,
    reads 0 and fails Eval's check (0 < iou <= 1): LiteRT refuses the file, and so must refinterp."""
    import flatbuffers.flexbuffers as flexbuffers

    options = {"max_detections": 3, "max_classes_per_detection": 1, "detections_per_class": 3,
               "use_regular_nms": True, "nms_score_threshold": 0.04, "nms_iou_threshold": 0.3, "num_classes": 2,
               "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
    raw = bytearray(flexbuffers.Dumps(options))
    at = raw.index(b"nms_score_threshold\x00")
    raw[at + 1] = 0  # the key now reads "n": the keys vector is no longer sorted
    anchors = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (8, 1))
    inputs = [TensorSpec((1, 8, 4), "float32"),
              TensorSpec((1, 8, 3), "float32", data=np.full((1, 8, 3), 0.5, np.float32)),
              TensorSpec((8, 4), "float32", data=anchors)]
    outputs = [TensorSpec((1, 3, 4), "float32"), TensorSpec((1, 3), "float32"), TensorSpec((1, 3), "float32"),
               TensorSpec((1,), "float32")]
    model = single_op_model("CUSTOM:TFLite_Detection_PostProcess", inputs, outputs, custom_options=bytes(raw))
    boxes = np.zeros((1, 8, 4), np.float32)
    assert_both_refuse(model, [boxes])
    assert "nms_iou_threshold 0.0" in str(refinterp_error(model, [boxes]))
    intact = single_op_model("CUSTOM:TFLite_Detection_PostProcess", inputs, outputs,
                             custom_options=bytes(flexbuffers.Dumps(options)))
    assert_same(intact, [boxes])


def test_assign_variable_with_a_handle_of_two_elements_is_refused_at_prepare_like_litert():
    """assign_variable.cc Prepare: NumElements(handle) == 1. A READ_VARIABLE output declared [2] used as the
    handle keeps that shape through Prepare (read_variable.cc makes only a rank-0 output dynamic), so LiteRT's
    AllocateTensors refuses the file; refinterp refuses it at allocate_tensors too."""
    from refinterp.interpreter import Interpreter

    tensors = [TensorSpec((1,), "int32", name="x"), TensorSpec((), "resource", name="handle"),
               TensorSpec((2,), "int32", name="state"), TensorSpec((1,), "int32", name="y")]
    operators = [OpSpec("CALL_ONCE", [], [], {"init_subgraph_index": 1}),
                 OpSpec("VAR_HANDLE", [], [1], {"container": "", "shared_name": "v"}),
                 OpSpec("READ_VARIABLE", [1], [2]), OpSpec("ADD", [0, 0], [3]), OpSpec("ASSIGN_VARIABLE", [2, 3], [])]
    init = SubgraphSpec([TensorSpec((), "resource", name="init_handle"),
                         TensorSpec((2,), "int32", name="initial", data=np.array([1, 2], np.int32))],
                        [OpSpec("VAR_HANDLE", [], [0], {"container": "", "shared_name": "v"}),
                         OpSpec("ASSIGN_VARIABLE", [0, 1], [])], [], [], "init")
    model = build_model(tensors, operators, [0], [3], subgraphs=[init])
    x = np.array([5], np.int32)
    assert_both_refuse(model, [x])
    with pytest.raises(PrepareError, match="resource handle"):
        Interpreter(model_content=model).allocate_tensors()


def test_bidirectional_lstm_without_options_is_batch_major_like_litert():
    """No BidirectionalSequenceLSTMOptions table: ParseOpData leaves its zeroed struct, so time_major is false
    (the schema's default, true, applies only to a table without the field). A [time, 1, input] input then reads
    as batch = time: the [1, cell] states no longer fit and LiteRT refuses (a fuzz finding); with one time step
    both run, batch-major, with no activation (merge_outputs reads false too: two outputs)."""
    from refinterp.model import parse_model
    from refinterp.tools.fuzz.seeds import bidirectional_lstm

    seen = set()
    for seed in range(200):
        model = bidirectional_lstm(np.random.default_rng(seed))
        parsed = parse_model(model)
        max_time = parsed.subgraphs[0].tensors[0].shape[0]
        if (max_time > 1) in seen or len(parsed.subgraphs[0].operators[0].outputs) != 2:  # merge_outputs reads false
            continue
        seen.add(max_time > 1)
        flat = mutators.unpack(model)
        flat.subgraphs[0].operators[0].builtinOptions = None
        flat.subgraphs[0].operators[0].builtinOptionsType = 0
        stripped = mutators.pack(flat)
        n_input = parsed.subgraphs[0].tensors[0].shape[2]
        inputs = [np.random.default_rng(seed).standard_normal((max_time, 1, n_input)).astype(np.float32)]
        if max_time > 1:
            assert_both_refuse(stripped, inputs)
        else:
            assert_same(stripped, inputs)
        if len(seen) == 2:
            return
    pytest.fail("the seed builder drew no model with one and with several time steps")


def test_outputs_litert_never_writes_are_not_compared():
    """TFLite_Detection_PostProcess writes only num_detections slots: with no detection, LiteRT's boxes and
    classes hold whatever its arena held (a different value on each run; a fuzz finding, scores unquantized),
    while refinterp writes zeros. The fuzzer's LiteRT worker runs twice with outputs pre-filled by two byte
    patterns; elements that differ were never written and are not compared."""
    import flatbuffers.flexbuffers as flexbuffers

    from refinterp.tools.fuzz.classify import classify
    from refinterp.tools.fuzz.worker import run_litert, run_refinterp

    options = {"max_detections": 3, "max_classes_per_detection": 1, "detections_per_class": 3,
               "use_regular_nms": False, "nms_score_threshold": 2.0, "nms_iou_threshold": 0.3, "num_classes": 2,
               "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}  # no score passes 2.0
    anchors = np.tile(np.array([[0.5, 0.5, 0.2, 0.2]], np.float32), (8, 1))
    model = single_op_model("CUSTOM:TFLite_Detection_PostProcess", [
        TensorSpec((1, 8, 4), "float32"), TensorSpec((1, 8, 3), "float32", data=np.full((1, 8, 3), 0.5, np.float32)),
        TensorSpec((8, 4), "float32", data=anchors)],
        [TensorSpec((1, 3, 4), "float32"), TensorSpec((1, 3), "float32"), TensorSpec((1, 3), "float32"),
         TensorSpec((1,), "float32")], custom_options=bytes(flexbuffers.Dumps(options)))
    job = {"content": model, "input_seed": 0}
    theirs, ours = run_litert(job), run_refinterp(job)
    assert theirs["status"] == ours["status"] == "ok"
    assert any("unwritten" in output for output in theirs["outputs"])
    assert classify(ours, theirs).klass == "agree"


def test_the_unwritten_output_check_never_fills_an_output_that_is_also_read():
    """The fuzzer's pre-fill of LiteRT's outputs (above) must skip an output that is also a model input or an
    operator's input (mutants list input 0 among the outputs): filling it would change what LiteRT computes."""
    from refinterp.tools.fuzz.classify import classify
    from refinterp.tools.fuzz.worker import run_litert, run_refinterp

    model = single_op_model("ADD", [TensorSpec((1, 4), "int8", 0.1, 3), TensorSpec((1, 4), "int8", 0.2, -5)],
                            [TensorSpec((1, 4), "int8", 0.25, 1)])
    flat = mutators.unpack(model)
    flat.subgraphs[0].outputs = [2, 0]  # the sum, and input 0 again
    job = {"content": mutators.pack(flat), "input_seed": 0}
    theirs, ours = run_litert(job), run_refinterp(job)
    assert theirs["status"] == ours["status"] == "ok"
    assert classify(ours, theirs).klass == "agree"


@pytest.mark.parametrize("op,dtype,in_q,out_q", [
    ("SOFTMAX", "float32", (None, None), (None, None)),
    ("SOFTMAX", "int8", (0.011, 12), (1 / 256, -128)),
    ("SOFTMAX", "uint8", (0.011, 140), (1 / 256, 0)),
    ("SOFTMAX", "int16", (0.002, 0), (1 / 32768, 0)),
    ("LOG_SOFTMAX", "float32", (None, None), (None, None)),
    ("LOG_SOFTMAX", "int8", (0.011, 12), (16 / 256, 127)),
])
def test_softmax_of_rows_of_no_element_in_every_type(op, dtype, in_q, out_q):
    """A last dimension of 0 (fuzz: SOFTMAX float32 [5, 4, 5, 0]): LiteRT runs it into an empty output; the
    float kernels took the maximum of empty rows (a crashed kernel)."""
    shape = (5, 4, 5, 0)
    options = {"beta": 1.0} if op == "SOFTMAX" else {}
    model = single_op_model(op, [TensorSpec(shape, dtype, *in_q)], [TensorSpec(shape, dtype, *out_q)], options)
    assert_same(model, [np.zeros(shape, dtype)])


def test_div_int32_compares_divisors_with_the_divisor_zero_point_like_litert():
    """div.cc's CheckNonZero compares every int32 divisor with input2->params.zero_point: a divisor tensor
    carrying quantization (scale 0.1, zero point 3) fails at invoke on a 3, and runs a division by 0 never
    reaches (fuzz: DIV int32 whose divisor gets a zero point)."""
    divisor = TensorSpec((3, 4, 1), "int32", 0.1, 3)
    model = single_op_model("DIV", [TensorSpec((3, 1, 1), "int32"), divisor], [TensorSpec((3, 4, 1), "int32")])
    x = np.array([7, -9, 100], np.int32).reshape(3, 1, 1)
    with_three = np.array([1, 2, 3, 4, -1, -2, -4, 5, 6, 7, 8, 9], np.int32).reshape(3, 4, 1)
    assert_both_refuse(model, [x, with_three])
    without = np.where(with_three == 3, 11, with_three)
    assert_same(model, [x, without])
    np.testing.assert_array_equal(run_refinterp(model, [x, without])[0], np.trunc(x / without))  # by hand
    constant = single_op_model("DIV", [TensorSpec((3, 1, 1), "int32"),
                                       TensorSpec((3, 4, 1), "int32", 1.0, 3, data=with_three)],
                               [TensorSpec((3, 4, 1), "int32")])
    assert_both_refuse(constant, [x])


def strided_slice_model(stride: int, constant: bool) -> bytes:
    def index(values: list[int]) -> TensorSpec:
        return TensorSpec((1,), "int32", data=np.array(values, np.int32) if constant else None)
    return single_op_model("STRIDED_SLICE", [TensorSpec((4,), "int8", 0.1, 0), index([3]), index([0]),
                                             index([stride])], [TensorSpec((1,), "int8", 0.1, 0)])


@pytest.mark.parametrize("constant", [True, False])
def test_strided_slice_stride_int32_min_is_refused_like_litert(constant):
    """strided_slice.cc: "stride value INT32_MIN is not supported", at Prepare for constant strides, at Invoke
    for strides given as an input (fuzz: a constant stride mutated to INT32_MIN)."""
    x = np.array([1, 2, 3, 4], np.int8)
    inputs = [x] if constant else [x, np.array([3], np.int32), np.array([0], np.int32)]
    stride_input = [] if constant else [np.array([-(1 << 31)], np.int32)]
    assert_both_refuse(strided_slice_model(-(1 << 31), constant), inputs + stride_input)
    fine = [] if constant else [np.array([-(1 << 31) + 1], np.int32)]
    assert_same(strided_slice_model(-(1 << 31) + 1, constant), inputs + fine)  # one element: x[3]
    if not constant:
        error = refinterp_error(strided_slice_model(0, constant), inputs + [np.array([-(1 << 31)], np.int32)])
        assert isinstance(error, EvalError) and "INT32_MIN" in str(error)


def topk_model(shape: tuple[int, ...], dtype: str, k: int) -> bytes:
    q = (0.05, 3) if dtype in ("int8", "uint8") else (None, None)
    out_shape = shape[:-1] + (k,)
    return single_op_model("TOPK_V2", [TensorSpec(shape, dtype, *q), TensorSpec((1,), "int32",
                                                                            data=np.array([k], np.int32))],
                           [TensorSpec(out_shape, dtype, *q), TensorSpec(out_shape, "int32")])


def test_topk_v2_of_a_long_row_runs_within_the_memory_limits():
    """TOPK_V2 int8 of one row of 16 Mi elements (fuzz: 543 MiB of int64 sort temporaries): refinterp selects
    the k largest by a partition and sorts only those (values descending, ties by the smaller index)."""
    import resource

    n = 1 << 24
    model = topk_model((n,), "int8", 3)
    x = np.random.default_rng(5).integers(-128, 127, n, dtype=np.int8)  # no 127: place three by hand
    x[[900, 40, n - 1]] = 127
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    values, indices = run_refinterp(model, [x], kernels="spec")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10
    assert grown_mib < 128, grown_mib
    np.testing.assert_array_equal(values, [127, 127, 127])  # by hand: the three 127s, by position
    np.testing.assert_array_equal(indices, [40, 900, n - 1])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "float32"])
def test_topk_v2_long_row_path_keeps_litert_tie_order(dtype, monkeypatch):
    """The long-row path (rows longer than TOPK_BLOCK_ELEMENTS, made small here) against LiteRT on rows full
    of ties, k within, at and across a run of equal values."""
    from refinterp.ops import indexing

    monkeypatch.setattr(indexing, "TOPK_BLOCK_ELEMENTS", 8)
    rng = np.random.default_rng(11)
    x = rng.integers(0, 4, (3, 40)).astype(dtype)
    for k in (1, 5, 17, 40):
        assert_same(topk_model((3, 40), dtype, k), [x])
    monkeypatch.setattr(indexing, "TOPK_BLOCK_ELEMENTS", 100)  # several rows sorted together
    assert_same(topk_model((3, 40), dtype, 17), [x])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_conv_filter_with_zero_output_channels_is_refused(dtype):
    """conv.cc Prepare: TF_LITE_ENSURE(filter->dims->data[0] > 0) for every type (fuzz: an int16 CONV_2D whose
    filter and bias lost their channels reached the float64 GEMM plan with a traceback)."""
    x = np.zeros((1, 4, 4, 1), np.dtype(dtype))
    weights_type = "uint8" if dtype == "uint8" else "int8"
    bias_type = "int64" if dtype == "int16" else "int32"
    model = single_op_model("CONV_2D", [
        TensorSpec(x.shape, dtype, 0.1, 0),
        TensorSpec((0, 3, 3, 1), weights_type, 0.02, 0, data=np.zeros((0, 3, 3, 1), np.dtype(weights_type))),
        TensorSpec((0,), bias_type, 0.002, 0, data=np.zeros(0, np.dtype(bias_type)))],
        [TensorSpec((1, 2, 2, 0), dtype, 0.1, 0)], {"padding": "VALID"})
    assert_both_refuse(model, [x])


def test_extra_output_of_an_operator_in_an_untaken_if_branch_is_refused():
    """add.cc Prepare: NumOutputs(node) == 1. LiteRT prepares both IF branches, so an ADD given two outputs in
    the branch that never runs is refused all the same (fuzz: refinterp ran the other branch)."""
    def f32(shape, name, data=None):
        return TensorSpec(shape, "float32", name=name, data=None if data is None else np.array(data, np.float32))

    main = ([TensorSpec((), "bool", name="c"), f32((2, 3), "x"), f32((2, 3), "y")],
            [OpSpec("IF", [0, 1], [2], {"then_subgraph_index": 1, "else_subgraph_index": 2})], [0, 1], [2])
    then = SubgraphSpec([f32((2, 3), "tx"), f32((), "one", 1.0), f32((2, 3), "ty")],
                        [OpSpec("ADD", [0, 1], [2, 2])], [0], [2], "then")
    other = SubgraphSpec([f32((2, 3), "ex"), f32((2, 3), "ey")], [OpSpec("MUL", [0, 0], [1])], [0], [1], "else")
    model = build_model(*main, subgraphs=[then, other])
    assert_both_refuse(model, [np.array(False), np.ones((2, 3), np.float32)])


def _gather_nd_model(indices_shape: tuple[int, ...], buffer_values: list[int] | None) -> bytes:
    """GATHER_ND of an int8 [2] by constant int32 indices of ``indices_shape``, whose buffer is then rewritten
    to ``buffer_values`` (any length; [] for a buffer without a data vector)."""
    indices = np.zeros(indices_shape, np.int32)
    model = single_op_model("GATHER_ND", [TensorSpec((2,), "int8", 0.1, 0), TensorSpec(indices_shape, "int32",
                                                                                      data=indices)],
                            [TensorSpec(indices_shape[:-1] + (2,)[indices_shape[-1]:], "int8", 0.1, 0)])
    if buffer_values is None:
        return model
    flat = mutators.unpack(model)
    flat.buffers[flat.subgraphs[0].tensors[1].buffer].data = None if not buffer_values else np.frombuffer(
        np.array(buffer_values, np.int32).tobytes(), np.uint8)
    return mutators.pack(flat)


def test_gather_nd_scans_the_whole_buffer_of_constant_indices_for_negatives():
    """gather_nd.cc looks for a negative index over indices->bytes: a constant's whole buffer, longer than its
    [1, 0] shape here (fuzz: LiteRT refused, refinterp gathered)."""
    x = np.array([3, -4], np.int8)
    assert_both_refuse(_gather_nd_model((1, 0), [1, -5]), [x])
    assert_same(_gather_nd_model((1, 0), [1, 5]), [x])  # nothing negative: every slice is all of params


def test_gather_nd_of_empty_index_vectors_from_a_buffer_without_data_is_refused():
    """A zero-element constant whose buffer has no data vector has a null data pointer in LiteRT (ParseTensors makes
    it a read-write tensor): GatherNd returns an error ("gather_nd index out of bounds") though it reads no index."""
    assert_both_refuse(_gather_nd_model((1, 0), []), [np.array([3, -4], np.int8)])
    assert_same(_gather_nd_model((1, 0), None), [np.array([3, -4], np.int8)])  # an empty data vector runs


def test_softmax_output_shape_is_checked_at_prepare():
    """softmax.cc resizes the output to the input's shape. An output declared otherwise (fuzz: [3] for a row of
    16 Mi elements, a timeout in the kernel's per-column Python loop) is refused before any kernel runs; LiteRT
    runs it, resizing the output."""
    from refinterp.interpreter import Interpreter

    model = single_op_model("SOFTMAX", [TensorSpec((1 << 20,), "float32")], [TensorSpec((3,), "float32")],
                            {"beta": 1.0})
    run_litert_ref(model, [np.zeros(1 << 20, np.float32)])  # LiteRT runs it
    with pytest.raises(PrepareError, match="gets shape"):
        Interpreter(model_content=model).allocate_tensors()


def test_strided_slice_masks_that_read_past_begin_are_refused():
    """new_axis_mask and ellipsis_mask bits past the begin vector make strided_slice.cc read begin_data[3] of a
    3-element begin (fuzz: LiteRT ran on whatever follows the tensor; refinterp raised IndexError). Undefined in
    LiteRT: refinterp refuses in one line."""
    constant = [TensorSpec((3,), "int32", data=np.array(v, np.int32)) for v in ([4, 2, 1], [5, 4, 3], [1, 1, 1])]
    model = single_op_model("STRIDED_SLICE", [TensorSpec((5, 4, 5), "int8", 0.1, 0), *constant],
                            [TensorSpec((1, 2, 2), "int8", 0.1, 0)],
                            {"new_axis_mask": 363393591, "ellipsis_mask": 16})
    error = refinterp_error(model, [np.zeros((5, 4, 5), np.int8)])
    assert isinstance(error, PrepareError) and "reads past" in str(error)


def test_batch_matmul_of_many_batches_prepares_in_bounded_memory():
    """BATCH_MATMUL's fast prepare built four int64 index tables per output batch (fuzz: 1.3 GiB for 16 Mi
    batches); the kernels now compute each batch's indices from the batch geometry."""
    import resource

    batches = 1 << 22
    x = np.ones((1, batches, 1, 2), np.int8)
    model = single_op_model("BATCH_MATMUL", [TensorSpec(x.shape, "int8", 0.5, 0),
                                             TensorSpec((2, 1), "int8", 0.5, 0, data=np.array([[1], [2]], np.int8))],
                            [TensorSpec((1, batches, 1, 1), "int8", 1.0, 0)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    [y] = run_refinterp(model, [x], kernels="fast")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10
    assert grown_mib < 100, grown_mib  # the tables alone were 4 x 32 MiB, their temporaries more
    np.testing.assert_array_equal(y.reshape(-1)[:4], [1, 1, 1, 1])  # by hand: (1*1 + 1*2) * 0.25 = 0.75 -> 1


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_integer_resize_bilinear_past_int32_coordinates_is_refused(dtype):
    """ResizeBilinearInteger computes ``(1 << 10) * input_height`` in int32: a height of 2**21 or more overflows
    (fuzz: 16 Mi rows, LiteRT ran on wrapped coordinates and 16 of 18 outputs differed). Undefined in LiteRT:
    refinterp refuses; just below the bound both runtimes agree."""
    size = TensorSpec((2,), "int32", data=np.array([9, 2], np.int32))
    for height, runs in ((1 << 21, False), (2097150, True)):
        x = (np.arange(height * 2) % 251 - 125).astype(dtype).reshape(1, height, 2, 1)
        model = single_op_model("RESIZE_BILINEAR", [TensorSpec(x.shape, dtype, 0.1, 0), size],
                                [TensorSpec((1, 9, 2, 1), dtype, 0.1, 0)])
        if runs:
            assert_same(model, [x])
        else:  # LiteRT runs on wrapped coordinates: wrong values, or a segmentation fault on these inputs
            error = refinterp_error(model, [x])
            assert isinstance(error, PrepareError) and "overflows int32" in str(error)


def test_a_model_output_of_a_type_refinterp_holds_no_array_of_is_refused():
    """A float8_e4m3fn constant as the model's output (fuzz: LiteRT's get_tensor gives an int8 view of its first
    2 bytes, refinterp gave the 8 raw bytes of the buffer): refused, in one line."""
    model = single_op_model("ADD", [TensorSpec((2,), "int32"), TensorSpec((2,), "int32", data=np.array([1, 2],
                                                                                                    np.int32))],
                            [TensorSpec((2,), "int32")])
    flat = mutators.unpack(model)
    flat.subgraphs[0].tensors[1].type = 21  # FLOAT8_E4M3FN
    flat.subgraphs[0].operators = []
    flat.subgraphs[0].outputs = [1]
    flat.subgraphs[0].inputs = []
    error = refinterp_error(mutators.pack(flat), [])
    assert isinstance(error, UnsupportedOpError) and "float8_e4m3fn" in str(error)


def test_lstm_layer_norm_bias_past_int32_follows_the_x86_build():
    """PortableApplyLayerNorm's ``int64_t val3 = rescaled * weight + bias`` has int32 operands; the x86-64 build
    computes it in 64 bits. Fuzz (seed 20261211): the campaign's LSTM seed model with a cell-gate bias of
    INT32_MAX under layer norm; 2 of 6 outputs differed while refinterp wrapped val3 to int32. Rebuilt here from
    the seed builder, the same mutation and the same inputs; both kernel sets against LiteRT."""
    from refinterp.registry import REGISTRY
    from refinterp.tools.fuzz import seeds
    from refinterp.tools.fuzz.worker import _input_arrays

    index = 0  # the seed's position in builder_seeds(20261211): its rng is default_rng([20261211, index])
    for op in sorted(REGISTRY):
        if op == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            break
        if op in seeds.SEED_BUILDERS:
            index += 2 + len(seeds.SEED_BUILDERS[op][1]) - 1
    model = seeds.lstm(np.random.default_rng([20261211, index]), "int8")
    flat = mutators.unpack(model)
    bias_tensor = flat.subgraphs[0].tensors[flat.subgraphs[0].operators[0].inputs[14]]
    values = np.frombuffer(bytes(flat.buffers[bias_tensor.buffer].data), np.int32).copy()
    assert values.tolist() == [-77, 302, -3271]  # the seed the fuzzer mutated
    values[2] = np.iinfo(np.int32).max
    flat.buffers[bias_tensor.buffer].data = np.frombuffer(values.tobytes(), np.uint8)
    model = mutators.pack(flat)
    from refinterp.interpreter import Interpreter

    inputs = _input_arrays(Interpreter(model_content=model).get_input_details(), 924)
    assert_same(model, inputs)


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int16"])
@pytest.mark.parametrize("input_shape", [(1, 0, 3, 2), (1, 3, 0, 2), (0, 3, 3, 2)])
def test_convolution_of_an_empty_image_is_refused_but_an_empty_batch_runs(op, dtype, input_shape):
    """Seed 20261212: a CONV_2D input of height 0 ran here (an empty output). conv.cc and depthwise_conv.cc
    Prepare refuse a height or width of 0 for every type (TF_LITE_ENSURE(input->dims->data[1] > 0)); an empty
    batch passes both and gives an empty output."""
    quantized = dtype != "float32"
    zero_point = 128 if dtype == "uint8" else 0
    weight_dtype = "uint8" if dtype == "uint8" else ("int8" if quantized else "float32")
    bias_dtype = "int64" if dtype == "int16" else ("int32" if quantized else "float32")
    channels = input_shape[3]
    filter_shape = (3, 1, 1, channels) if op == "CONV_2D" else (1, 1, 1, channels)
    channels_out = filter_shape[0] if op == "CONV_2D" else filter_shape[3]
    scale = 0.5 if quantized else None
    weights = np.ones(filter_shape, np.dtype(weight_dtype))
    bias = np.arange(channels_out).astype(bias_dtype)
    options = dict(padding="VALID", stride_w=1, stride_h=1)
    if op == "DEPTHWISE_CONV_2D":
        options["depth_multiplier"] = 1
    output_shape = (*input_shape[:3], channels_out)
    model = single_op_model(op, [
        TensorSpec(input_shape, dtype, scale=scale, zero_point=zero_point if quantized else None),
        TensorSpec(filter_shape, weight_dtype, scale=scale, zero_point=zero_point if quantized else None,
                   data=weights),
        TensorSpec((channels_out,), bias_dtype, scale=0.25 if quantized else None, data=bias)],
        [TensorSpec(output_shape, dtype, scale=scale, zero_point=zero_point if quantized else None)], options)
    inputs = [np.zeros(input_shape, np.dtype(dtype))]
    if input_shape[0] == 0:
        assert_same(model, inputs)
    else:
        assert_both_refuse(model, inputs)
        assert "height and width must be positive" in str(refinterp_error(model, inputs))


@pytest.mark.parametrize("outputs_order", ["next-then-old", "swap", "other-then-next"])
def test_while_body_returning_its_own_input_follows_litert_copy_order(outputs_order):
    """Seed 20261213: a WHILE body whose outputs list one of its own inputs (i_next = i + 1, then i itself as the
    second loop variable). LiteRT's Eval_static copies the body's outputs into the WHILE's outputs one after the
    other, and the body's inputs share that memory: the second copy reads the first one's result (n becomes
    i + 1, not i). refinterp returned the body's input as it was when the body ran."""
    # every order makes progress (i grows or jumps to n = 7), so that LiteRT's loop ends
    body_outputs = {"next-then-old": [3, 0], "swap": [1, 0], "other-then-next": [1, 3]}[outputs_order]
    main = ([TensorSpec((), "int32", name="i"), TensorSpec((), "int32", name="n"),
             TensorSpec((), "int32", name="i_out"), TensorSpec((), "int32", name="n_out")],
            [OpSpec("WHILE", [0, 1], [2, 3], {"cond_subgraph_index": 1, "body_subgraph_index": 2})], [0, 1], [2, 3])
    cond = SubgraphSpec([TensorSpec((), "int32", name="ci"), TensorSpec((), "int32", name="cn"),
                         TensorSpec((), "int32", name="limit", data=np.array(3, np.int32)),
                         TensorSpec((), "bool", name="go")], [OpSpec("LESS", [0, 2], [3])], [0, 1], [3], "cond")
    body = SubgraphSpec([TensorSpec((), "int32", name="bi"), TensorSpec((), "int32", name="bn"),
                         TensorSpec((), "int32", name="one", data=np.array(1, np.int32)),
                         TensorSpec((), "int32", name="bi_next")],
                        [OpSpec("ADD", [0, 2], [3])], [0, 1], body_outputs, "body")
    model = build_model(*main, subgraphs=[cond, body])
    for start in (0, 2, 5):
        assert_same(model, [np.array(start, np.int32), np.array(7, np.int32)])


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"])
def test_pooling_with_a_valid_window_wider_than_the_input_gives_an_empty_output(op):
    """A VALID window wider than the input: pooling.cc resizes the output to what ComputeOutSize gives (LiteRT
    reports both spatial sizes 0), and runs it. Found by the op-case exploration (AVERAGE_POOL_2D int8, case
    seed 15151399): the spec kernel's window slices wrapped around on the empty output."""
    dtype = "float32" if op == "L2_POOL_2D" else "int8"
    scale, zero_point = (None, None) if dtype == "float32" else (0.0865, -50)
    model = single_op_model(op, [TensorSpec((1, 8, 1, 2), dtype, scale, zero_point)],
                            [TensorSpec((1, 4, 0, 2), dtype, scale, zero_point)],
                            {"padding": "VALID", "filter_height": 2, "filter_width": 7, "stride_h": 2,
                             "stride_w": 3, "fused_activation_function": "RELU"})
    x = np.arange(16).reshape(1, 8, 1, 2).astype(dtype)
    assert_same(model, [x])
    assert run_refinterp(model, [x], kernels="spec")[0].shape == (1, 0, 0, 2)


def test_a_reduction_over_millions_of_axis_values_runs_like_litert():
    """Campaign 20261214: a REDUCE_ALL whose axis tensor (a variable, all zeros) had 2**24 values. LiteRT resolves
    them in 0.5 s; refinterp's axis loop ran in Python, once at prepare of the output shape and once in the
    kernel (a hang under the fuzzer's coverage tracing). The axes are now resolved vectorized (``resolve_axes``),
    for the constant axis lists of the arithmetic reductions too."""
    count = 1 << 24
    axis_values = np.where(np.arange(count) % 3 == 0, -1, 1).astype(np.int32)  # duplicates, negative values
    model = single_op_model("REDUCE_ALL", [TensorSpec((2, 3), "bool"), TensorSpec((count,), "int32")],
                            [TensorSpec((2,), "bool")], {"keep_dims": False})
    x = np.array([[True, True, True], [True, False, True]])
    assert_same(model, [x, axis_values])
    constant = single_op_model("SUM", [TensorSpec((2, 3), "float32"),
                                       TensorSpec((1 << 22,), "int32", data=axis_values[:1 << 22])],
                               [TensorSpec((2,), "float32")], {"keep_dims": False})
    assert_same(constant, [np.arange(6, dtype=np.float32).reshape(2, 3)])
    out_of_range = axis_values.copy()
    out_of_range[count - 5] = 2
    assert_both_refuse(model, [x, out_of_range])
    message = str(refinterp_error(model, [x, out_of_range]))
    assert "axis 2 is out of range for a rank-2 input" in message


def test_seeded_boolean_inputs_take_one_byte_per_value():
    """Campaign 20261215: a REDUCE_ANY mutant with a [2, 2**24, 2] boolean input (64 MiB) grew by 575 MiB: the
    seeded inputs (``refinterp run --seed``, the fuzzer) drew booleans as int64 first. Now as uint8 (NumPy's
    allocations are traced by tracemalloc: the peak is the array itself)."""
    import tracemalloc

    from refinterp.io import seeded_inputs

    tracemalloc.start()
    try:
        (values,) = seeded_inputs([((2, 1 << 22, 2), np.bool_)], 3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert values.dtype == np.bool_ and values.shape == (2, 1 << 22, 2) and 0.45 < values.mean() < 0.55
    assert peak < 2 * values.nbytes


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("output_scale", [1.4e-45, 1e-39, 1e-30, 1e-10, 2e-10, 1e-9])
def test_tanh_table_past_int32_follows_the_x86_build(dtype, output_scale):
    """Campaign 20261215: an 8-bit TANH with an output scale of 1.4e-45. LUTPopulate's cast of a value past int32
    is undefined; LiteRT's x86-64 build turns it into 0 for uint8 (INT32_MIN, clamped) and saturates int8 (a NaN
    entry, 0 * inf, is 0). refinterp saturated both, a NaN to the minimum."""
    zero_point = 128 if dtype == "uint8" else 0
    model = single_op_model("TANH", [TensorSpec((256,), dtype, 0.04, 153 if dtype == "uint8" else 25)],
                            [TensorSpec((256,), dtype, output_scale, zero_point)])
    info = np.iinfo(dtype)
    assert_same(model, [np.arange(info.min, info.max + 1).astype(dtype)])


def test_detection_fast_nms_best_class_skips_nan_scores_like_litert():
    """Campaign 20261215: TFLite_Detection_PostProcess (fast NMS, one class per box) with a NaN class score.
    LiteRT's x86 ArgMaxVector (read from the machine code of DecreasingPartialArgSort) never picks a NaN unless
    the whole row is NaN, in its own lane order from 4 classes on; refinterp kept a NaN in class 0 (TFLM's
    std::partial_sort does, and still does under profile "tflm")."""
    from flatbuffers import flexbuffers

    rng = np.random.default_rng(20261215)
    for classes in (2, 3, 4, 5, 8, 9, 13, 23):
        for trial in range(6):
            scores = (rng.choice([0.2, 0.5, 0.9], size=(1, classes)) if trial % 2 else
                      rng.uniform(0.1, 0.9, (1, classes))).astype(np.float32)
            scores[0, rng.choice(classes, int(rng.integers(1, classes + 1)), replace=False)] = np.nan
            options = {"max_detections": 1, "max_classes_per_detection": 1, "nms_iou_threshold": 0.5,
                       "num_classes": classes, "nms_score_threshold": 0.0, "use_regular_nms": False,
                       "y_scale": 10.0, "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}
            anchors = np.array([[0.5, 0.5, 0.1, 0.1]], np.float32)
            model = single_op_model(
                "CUSTOM:TFLite_Detection_PostProcess",
                [TensorSpec((1, 1, 4), "float32"), TensorSpec((1, 1, classes), "float32", data=scores[None]),
                 TensorSpec((1, 4), "float32", data=anchors)],
                [TensorSpec((1, 1, 4), "float32"), TensorSpec((1, 1), "float32"), TensorSpec((1, 1), "float32"),
                 TensorSpec((1,), "float32")], custom_options=flexbuffers.Dumps(options))
            inputs = [np.zeros((1, 1, 4), np.float32)]
            expected = run_litert_ref(model, inputs)
            for kernels in KERNELS:
                got = run_refinterp(model, inputs, kernels=kernels)
                assert got[3][0] == expected[3][0], (classes, scores)
                if expected[3][0]:  # (no detection: LiteRT leaves the rows unwritten)
                    for want, have in zip(expected, got):
                        np.testing.assert_array_equal(have, want, err_msg=f"{classes} classes {scores}")


@pytest.mark.parametrize("op,input_scale", [("EXP", 2.0), ("LOG", 0.04)])
def test_an_int8_table_entry_that_is_nan_is_zero_like_x86(op, input_scale):
    """Campaign 20261216: an int8 ELU with an output scale of 1e-45 (``1 / s_out`` is inf, so an entry whose
    value is 0 becomes ``0 * inf``, NaN). LiteRT's x86 build casts the NaN to INT32_MIN, whose low byte is 0;
    refinterp gave -128. EXP (exp underflowing to 0) and LOG (log 1) reach it through the reference resolver."""
    model = single_op_model(op, [TensorSpec((256,), "int8", input_scale, 0)], [TensorSpec((256,), "int8", 1e-45, 0)])
    assert_same(model, [np.arange(-128, 128).astype(np.int8)])


@pytest.mark.parametrize("details_type", [1, 2, 3, 4, 255])
@pytest.mark.parametrize("tensor", ["input", "weights", "bias", "output"])
def test_quantization_details_types_without_a_table_are_read_like_litert(details_type, tensor):
    """A details_type with no details table: LiteRT refuses block-wise (2) and multi-axis (3) quantization
    without their table and ignores the others (custom, and union types it does not know); measured on every
    value 0 to 255 on each tensor of a DEPTHWISE_CONV_2D (the fuzzer's find was 3 on the bias)."""
    def quantized(spec: TensorSpec, name: str) -> TensorSpec:
        return replace(spec, quantization_details_type=details_type) if name == tensor else spec

    weights = np.ones((1, 1, 1, 2), np.int8)
    model = single_op_model("DEPTHWISE_CONV_2D", [
        quantized(TensorSpec((1, 3, 3, 2), "int8", 0.02, 0), "input"),
        quantized(TensorSpec(weights.shape, "int8", [0.01] * 2, [0] * 2, data=weights, quantized_dimension=3),
                  "weights"),
        quantized(TensorSpec((2,), "int32", [0.0002] * 2, [0] * 2, data=np.array([5, -7], np.int32)), "bias")],
        [quantized(TensorSpec((1, 3, 3, 2), "int8", 0.05, 0), "output")],
        {"padding": "VALID", "depth_multiplier": 1})
    inputs = [np.arange(18, dtype=np.int8).reshape(1, 3, 3, 2)]
    if details_type in (2, 3):
        assert_both_refuse(model, inputs)
    else:
        assert_same(model, inputs)


@pytest.mark.parametrize("per_channel", [False, True])
def test_an_int8_variable_resets_to_its_legacy_zero_point_in_litert_and_zero_point_0_in_tflm(per_channel):
    """ResetVariableTensor memsets an int8 variable with ``params.zero_point``: LiteRT's GetLegacyQuantization
    keeps it for a per-tensor quantization only (per-channel: 0), TFLM copies ``zero_point[0]`` (fuzz seed
    20261219: a model output that is a variable no operator writes, given two scales)."""
    from oracle import require_tflm, run_tflm

    scale, zero_point = ([0.002, 0.002], [30, 0]) if per_channel else (0.002, 30)
    tensors = [TensorSpec((2, 3), "int8", 0.01, -74, name="input"),
               TensorSpec((2, 3), "int8", scale, zero_point, name="state", is_variable=True),
               TensorSpec((2, 3), "int8", 0.01, -74, name="copy")]
    model = build_model(tensors, [OpSpec("RESHAPE", [0], [2], {"new_shape": [2, 3]})], inputs=[0], outputs=[2, 1])
    x = np.zeros((2, 3), np.int8)
    assert_same(model, [x])
    np.testing.assert_array_equal(run_litert_ref(model, [x])[1], np.full((2, 3), 0 if per_channel else 30))
    require_tflm()
    expected = run_tflm(model, [x])
    np.testing.assert_array_equal(expected[1], np.full((2, 3), 30))  # by hand: zero_point[0]
    for kernels in KERNELS:
        np.testing.assert_array_equal(run_refinterp(model, [x], kernels=kernels, profile="tflm")[1], expected[1])


def test_strided_slice_prepare_sizes_nothing_by_the_axes_it_slices():
    """Campaign 20261220: a STRIDED_SLICE of an int8 input of 2**31 - 1 values; its Prepare built an index array
    per axis (16 GiB of int64) before the output shape was checked against the declared one and the memory
    limit. Prepare now keeps ranges; the kernel makes index arrays of the allowed output only (2**26 values
    here: an int64 array of them would be 512 MiB)."""
    n = 1 << 26
    model = single_op_model("STRIDED_SLICE", [
        TensorSpec((n,), "int8", 0.1, 0),
        TensorSpec((1,), "int32", data=np.array([0], np.int32)),
        TensorSpec((1,), "int32", data=np.array([n], np.int32)),
        TensorSpec((1,), "int32", data=np.array([1], np.int32))],
        [TensorSpec((1,), "int8", 0.1, 0)], {"new_axis_mask": 1})
    refuse(model, [], PrepareError, f"gets shape [1, {n}]")


def test_hybrid_embedding_lookup_prepare_sizes_nothing_by_the_rows_of_its_table():
    """Found reading the Prepare functions after campaign 20261220: a hybrid EMBEDDING_LOOKUP (int8 table,
    float32 output) with one scale made a float32 scale per table row at Prepare, 8 GiB for a table input of
    2**31 - 1 rows (2 GiB, within the tensor limit). Now one value for every row."""
    rows = 1 << 26
    model = single_op_model("EMBEDDING_LOOKUP", [TensorSpec((3,), "int32"), TensorSpec((rows, 1), "int8", 0.5, 0)],
                            [TensorSpec((3, 2), "float32")])
    refuse(model, [], PrepareError, "gets shape [3, 1]")


@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED"])
def test_per_tensor_requantization_is_computed_once_not_per_output_channel(op, monkeypatch):
    """Found reading the Prepare functions after campaign 20261220: with a weights tensor that is a model input,
    the output channels come from its shape (2**31 - 1 of them in a mutant), and a per-tensor int8 weight scale
    was turned into a multiplier channel by channel in a Python loop (a hang). Now QuantizeMultiplier runs once
    for a per-tensor scale and its result fills the per-channel arrays."""
    import refinterp.ops.common
    import refinterp.ops.fully_connected
    from refinterp.interpreter import Interpreter

    calls = []
    for module in (refinterp.ops.common, refinterp.ops.fully_connected):
        real = module.quantize_multiplier
        monkeypatch.setattr(module, "quantize_multiplier", lambda value, real=real: calls.append(value) or real(value))
    n = 1 << 16
    weights = TensorSpec((1, 1, 1, n) if op == "DEPTHWISE_CONV_2D" else (n, 1) if op == "FULLY_CONNECTED"
                         else (n, 1, 1, 1), "int8", 0.1, 0)
    x = TensorSpec((1, 1) if op == "FULLY_CONNECTED" else (1, 1, 1, 1 if op != "DEPTHWISE_CONV_2D" else n), "int8",
                   0.1, 0)
    y = TensorSpec((1, n) if op == "FULLY_CONNECTED" else (1, 1, 1, n), "int8", 0.1, 0)
    options = {"padding": "VALID", "stride_w": 1, "stride_h": 1}
    if op == "DEPTHWISE_CONV_2D":
        options["depth_multiplier"] = 1
    if op == "FULLY_CONNECTED":
        options = {}
    inputs = [x, weights, TensorSpec((n,), "int32", 0.01, 0)]
    if op == "TRANSPOSE_CONV":
        inputs = [TensorSpec((4,), "int32", data=np.array([1, 1, 1, n], np.int32)), weights, x]
    Interpreter(model_content=single_op_model(op, inputs, [y], options)).allocate_tensors()
    assert 1 <= len(calls) <= 4


def test_gather_of_constants_checks_its_output_size_before_computing_it():
    """Found reading the Prepare functions after campaign 20261220: a GATHER of two constants was computed at
    Prepare, before its output's shape was checked against the declared one and the limits (8 KiB and 256 KiB
    of constants here ask for 256 MiB). Prepare now checks the positions only (LiteRT evaluates such a GATHER at
    Prepare: a bad position fails there), and the kernel computes the values."""
    positions = 1 << 16
    model = single_op_model("GATHER", [
        TensorSpec((4096, 2), "int8", 0.1, 0, data=np.ones((4096, 2), np.int8)),
        TensorSpec((positions,), "int32", data=np.zeros(positions, np.int32))],
        [TensorSpec((1,), "int8", 0.1, 0)], {"axis": 1})
    refuse(model, [], PrepareError, f"gets shape [4096, {positions}]")


def test_densify_refuses_a_dense_level_past_the_stored_vectors_before_walking_it():
    """Found reading the Prepare functions after campaign 20261220: DENSIFY walked a sparse constant's levels
    within its dense size, so one DENSE level of 2**26 over a single stored value built 512 MiB index arrays
    before finding that the levels reach more elements than the file stores. The bound is now the file's own
    vectors (stored values, segments, indices)."""
    from refinterp.modelbuilder import DimensionMetadataSpec, SparsitySpec

    n = 1 << 26
    sparsity = SparsitySpec([0], [DimensionMetadataSpec("DENSE", dense_size=n)])
    model = single_op_model("DENSIFY", [TensorSpec((n,), "float32", data=np.ones(1, np.float32), sparsity=sparsity)],
                            [TensorSpec((n,), "float32")])
    refuse(model, [], PrepareError, f"level 0 reaches {n} positions, more than the 1")


@pytest.mark.parametrize("case", ["FULLY_CONNECTED/int8", "FULLY_CONNECTED/int16", "CONV_2D/uint8"])
def test_a_bias_with_several_scales_fails_the_legacy_bias_scale_check_like_litert(case):
    """Campaign 20261221: GetQuantizedConvolutionMultipler (per-tensor weights) compares s_in * s_w with
    ``bias->params.scale``, which GetLegacyQuantization leaves 0 for a bias with several scales, so LiteRT
    refuses the file even when every one of them is right; refinterp read scale[0] and ran it."""
    op, dtype = case.split("/")
    bias_scale = float(np.float32(0.5) * np.float32(0.25))
    zero_point = 128 if dtype == "uint8" else 0
    if op == "FULLY_CONNECTED":
        x, y = TensorSpec((1, 3), dtype, 0.5, 0), TensorSpec((1, 2), dtype, 0.1, 0)
        w = TensorSpec((2, 3), "int8", 0.25, 0, data=np.ones((2, 3), np.int8))
        bias_type, options = "int64" if dtype == "int16" else "int32", {}
    else:
        x, y = TensorSpec((1, 1, 1, 3), dtype, 0.5, zero_point), TensorSpec((1, 1, 1, 2), dtype, 0.1, zero_point)
        w = TensorSpec((2, 1, 1, 3), dtype, 0.25, zero_point, data=np.full((2, 1, 1, 3), zero_point + 1, np.uint8))
        bias_type, options = "int32", {"padding": "VALID", "stride_w": 1, "stride_h": 1}
    bias = TensorSpec((2,), bias_type, [bias_scale] * 2, [0, 0], data=np.array([3, -4], bias_type))
    model = single_op_model(op, [x, w, bias], [y], options)
    inputs = [np.ones(x.shape, dtype)]
    assert_both_refuse(model, inputs)
    assert "bias scale 0 does not match" in str(refinterp_error(model, inputs))
    # the same file with one bias scale runs in both, equal
    assert_same(single_op_model(op, [x, w, replace(bias, scale=bias_scale, zero_point=0)], [y], options), inputs)
