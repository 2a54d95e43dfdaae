"""refinterp.Interpreter is a drop-in for LiteRT's Python Interpreter: same calls, same dicts, same exceptions.

Every expectation is LiteRT's own answer (ai_edge_litert.interpreter.Interpreter, BUILTIN_REF) to the same
call, compared field by field, or a stored LiteRT BUILTIN_REF golden tensor.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import GOLDEN_DIR

import refinterp
from refinterp import InputError
from refinterp.errors import EvalError, ModelFormatError, PrepareError, UnsupportedOpError
from refinterp.modelbuilder import OP_OPTIONS, OpSpec, TensorSpec, build_model, single_op_model
from refinterp.registry import REGISTRY

MODEL = GOLDEN_DIR / "yolov3_tiny_int8.tflite"


def litert_interpreter(**kwargs):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return litert.Interpreter(experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF, **kwargs)


def fc_model(version: int = 1) -> bytes:
    """FULLY_CONNECTED without bias (an absent optional input, -1), int8."""
    return single_op_model(
        "FULLY_CONNECTED",
        [TensorSpec((1, 4), "int8", scale=0.1, zero_point=0),
         TensorSpec((3, 4), "int8", scale=0.05, zero_point=0, data=np.arange(12, dtype=np.int8).reshape(3, 4)),
         None],
        [TensorSpec((1, 3), "int8", scale=0.2, zero_point=1)], version=version)


def two_output_model() -> bytes:
    """A LEAKY_RELU and a MAX_POOL_2D on one input: two inputs-to-outputs paths, two signature outputs."""
    tensors = [TensorSpec((1, 4, 4, 2), "int8", scale=0.1, zero_point=-3, name="x"),
               TensorSpec((1, 4, 4, 2), "int8", scale=0.05, zero_point=2, name="leaky"),
               TensorSpec((1, 2, 2, 2), "int8", scale=0.1, zero_point=-3, name="pooled")]
    operators = [OpSpec("LEAKY_RELU", [0], [1], {"alpha": 0.25}),
                 OpSpec("MAX_POOL_2D", [0], [2], {"padding": "VALID", "stride_w": 2, "stride_h": 2,
                                                  "filter_width": 2, "filter_height": 2})]
    return build_model(tensors, operators, [0], [1, 2])


def assert_same_details(ours: dict, theirs: dict) -> None:
    """Every key of LiteRT's details dict, and nothing else, with equal values and types."""
    assert ours.keys() == theirs.keys()
    for key in ("name", "index", "dtype", "quantization", "sparsity_parameters"):
        assert ours[key] == theirs[key], key
    for key in ("shape", "shape_signature"):
        assert ours[key].dtype == theirs[key].dtype and np.array_equal(ours[key], theirs[key]), key
    ours_q, theirs_q = ours["quantization_parameters"], theirs["quantization_parameters"]
    assert ours_q.keys() == theirs_q.keys()
    for key in ("scales", "zero_points"):
        assert ours_q[key].dtype == theirs_q[key].dtype and np.array_equal(ours_q[key], theirs_q[key]), key
    assert ours_q["quantized_dimension"] == theirs_q["quantized_dimension"]
    assert ours_q["block_size"] == theirs_q["block_size"]


def assert_same_ops_details(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.keys() == b.keys()
        assert (a["index"], a["op_name"]) == (b["index"], b["op_name"])
        for key in ("inputs", "outputs"):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
        assert a["operand_types"] == b["operand_types"] and a["result_types"] == b["result_types"]


# --------------------------------------------------------------------------------------------------
# Details


def test_details_match_litert_on_the_golden_model():
    theirs = litert_interpreter(model_path=str(MODEL))
    ours = refinterp.Interpreter(model_path=str(MODEL))
    theirs.allocate_tensors()
    ours.allocate_tensors()
    for a, b in zip(ours.get_input_details(), theirs.get_input_details(), strict=True):
        assert_same_details(a, b)
    for a, b in zip(ours.get_output_details(), theirs.get_output_details(), strict=True):
        assert_same_details(a, b)
    for details in (lambda i: i.get_tensor_details(), lambda i: i.get_tensor_details(0),
                    lambda i: i.get_tensor_details(subgraph_index=0)):
        for a, b in zip(details(ours), details(theirs), strict=True):
            assert_same_details(a, b)
    assert ours.get_signature_list() == theirs.get_signature_list()
    assert ours.num_subgraphs() == theirs.num_subgraphs() == 1
    for index in (-1, 1):
        with pytest.raises(ValueError, match="subgraph_index is out of range"):
            theirs.get_tensor_details(index)
        with pytest.raises(InputError, match="subgraph_index is out of range"):
            ours.get_tensor_details(index)


@pytest.mark.parametrize("model", ["golden", "fc"])
def test_ops_details_match_litert(model):
    kwargs = {"model_path": str(MODEL)} if model == "golden" else {"model_content": fc_model()}
    theirs = litert_interpreter(**kwargs)
    ours = refinterp.Interpreter(**kwargs)
    theirs.allocate_tensors()
    ours.allocate_tensors()
    assert_same_ops_details(ours._get_ops_details(), theirs._get_ops_details())
    if model == "fc":  # the absent bias is -1 in inputs and left out of operand_types
        (details,) = ours._get_ops_details()
        assert details["inputs"].tolist() == [0, 1, -1] and len(details["operand_types"]) == 2


# --------------------------------------------------------------------------------------------------
# tensor(): a function returning a view


def test_tensor_views_fill_inputs_in_place_as_with_litert():
    content = two_output_model()
    x = np.random.default_rng(5).integers(-128, 128, (1, 4, 4, 2), dtype=np.int8)
    results = {}
    for name, interpreter in (("litert", litert_interpreter(model_content=content)),
                              ("refinterp", refinterp.Interpreter(model_content=content))):
        interpreter.allocate_tensors()
        (detail,) = interpreter.get_input_details()
        view = interpreter.tensor(detail["index"])
        assert callable(view)
        assert view().shape == (1, 4, 4, 2) and view().dtype == np.int8
        view()[...] = x  # LiteRT's documented pattern: write through the view, then invoke
        interpreter.invoke()
        results[name] = [np.array(interpreter.tensor(d["index"])()) for d in interpreter.get_output_details()]
        assert np.array_equal(view(), x)
        # a second round with another input, through a fresh view
        view().fill(7)
        interpreter.invoke()
        results[name] += [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    for ours, theirs in zip(results["refinterp"], results["litert"], strict=True):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_tensor_view_is_read_only_for_kernel_outputs_and_snapshot_at_invoke():
    interpreter = refinterp.Interpreter(model_content=two_output_model())
    interpreter.allocate_tensors()
    with pytest.raises(InputError, match="no value yet"):
        interpreter.tensor(1)()
    held = interpreter.tensor(0)()
    held.fill(10)
    interpreter.invoke()
    output = interpreter.tensor(2)()
    assert not output.flags.writeable
    before = output.copy()
    held.fill(-100)  # held across invoke (LiteRT forbids it): the last invoke's values do not move
    assert np.array_equal(interpreter.get_tensor(2), before)
    with pytest.raises(InputError, match="out of range"):
        interpreter.tensor(99)


# --------------------------------------------------------------------------------------------------
# The exceptions LiteRT users catch


@pytest.mark.parametrize("num_threads", [-2, -1, 0, 2.0, np.int64(2), "2"])
def test_num_threads_is_validated_as_litert_does(num_threads):
    with pytest.raises(ValueError, match="num_threads"):
        litert_interpreter(model_path=str(MODEL), num_threads=num_threads)
    with pytest.raises(InputError, match="num_threads"):
        refinterp.Interpreter(model_path=str(MODEL), num_threads=num_threads)


@pytest.mark.parametrize("num_threads", [1, True, None])
def test_num_threads_litert_accepts(num_threads):
    litert_interpreter(model_path=str(MODEL), num_threads=num_threads)
    assert refinterp.Interpreter(model_path=str(MODEL), num_threads=num_threads).num_threads >= 1


def test_errors_litert_raises_as_valueerror_are_valueerrors(tmp_path):
    assert issubclass(InputError, ValueError) and issubclass(ModelFormatError, ValueError)
    assert issubclass(UnsupportedOpError, ValueError)
    assert issubclass(PrepareError, RuntimeError) and issubclass(EvalError, RuntimeError)
    cases = {
        "garbage bytes": lambda make: make(model_content=b"garbage" * 10),
        "no such file": lambda make: make(model_path=str(tmp_path / "absent.tflite")),
        "neither path nor content": lambda make: make(),
    }
    for what, call in cases.items():
        with pytest.raises(ValueError):
            call(litert_interpreter)
        with pytest.raises(ValueError) as info:
            call(refinterp.Interpreter)
        assert isinstance(info.value, refinterp.RefinterpError), what
    # an operator the runtime has no kernel for: LiteRT (at construction) and refinterp (at allocate_tensors)
    with pytest.raises(ValueError, match="FULLY_CONNECTED"):
        litert_interpreter(model_content=fc_model(version=99))
    missing = sorted(set(OP_OPTIONS) - set(REGISTRY))[0]  # an operator refinterp does not implement (yet)
    unsupported = single_op_model(missing, [TensorSpec((1, 4), "float32")], [TensorSpec((1, 4), "float32")])
    with pytest.raises(ValueError, match=missing):
        refinterp.Interpreter(model_content=unsupported).allocate_tensors()

    calls = {
        "get_tensor out of range": lambda i: i.get_tensor(1000),
        "set_tensor out of range": lambda i: i.set_tensor(1000, np.zeros(3, np.int8)),
        "set_tensor wrong dtype": lambda i: i.set_tensor(0, np.zeros((1, 4), np.float32)),
        "unknown signature": lambda i: i.get_signature_runner("nope"),
        "runner without its input": lambda i: i.get_signature_runner()(),
        "runner with an unknown input": lambda i: i.get_signature_runner()(nope=np.zeros((1, 4), np.int8)),
    }
    theirs = litert_interpreter(model_content=fc_model())
    ours = refinterp.Interpreter(model_content=fc_model())
    theirs.allocate_tensors()
    ours.allocate_tensors()
    for what, call in calls.items():
        with pytest.raises(ValueError):
            call(theirs)
        with pytest.raises(InputError):
            call(ours)
            pytest.fail(f"refinterp accepted: {what}")


def test_prepare_failures_are_runtimeerrors_as_in_litert():
    model = single_op_model("MAX_POOL_2D", [TensorSpec((1, 4, 4, 2), "int8", scale=0.1, zero_point=0)],
                            [TensorSpec((1, 2, 2, 2), "float32")],
                            {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2})
    with pytest.raises(RuntimeError, match="MAX_POOL_2D"):
        litert_interpreter(model_content=model).allocate_tensors()
    with pytest.raises(PrepareError):
        refinterp.Interpreter(model_content=model).allocate_tensors()


# --------------------------------------------------------------------------------------------------
# SignatureRunner


def test_signature_runner_matches_litert():
    content = two_output_model()
    x = np.random.default_rng(9).integers(-128, 128, (1, 4, 4, 2), dtype=np.int8)
    theirs = litert_interpreter(model_content=content).get_signature_runner()
    ours = refinterp.Interpreter(model_content=content).get_signature_runner()
    for a, b in ((ours.get_input_details(), theirs.get_input_details()),
                 (ours.get_output_details(), theirs.get_output_details())):
        assert list(a) == list(b)
        for name in a:
            assert_same_details(a[name], b[name])
    (input_name,) = theirs.get_input_details()
    expected = theirs(**{input_name: x})
    for outputs in (ours(**{input_name: x}), ours.invoke(**{input_name: x})):
        assert list(outputs) == list(expected)
        for name in expected:
            assert outputs[name].dtype == expected[name].dtype and np.array_equal(outputs[name], expected[name])
    ours.allocate_tensors()  # LiteRT's C++ SignatureRunner::AllocateTensors: harmless once allocated
    # constructed directly, as LiteRT's class is
    direct = refinterp.SignatureRunner(refinterp.Interpreter(model_content=content), "serving_default")
    assert np.array_equal(direct(**{input_name: x})[next(iter(expected))], expected[next(iter(expected))])
    with pytest.raises(InputError, match="Invalid signature_key"):
        refinterp.SignatureRunner(refinterp.Interpreter(model_content=content), "nope")


def test_signature_runner_on_the_golden_model_matches_the_stored_litert_tensors():
    interpreter = refinterp.Interpreter(model_path=str(MODEL))
    runner = interpreter.get_signature_runner()
    (input_name,) = runner.get_input_details()
    x = np.load(GOLDEN_DIR / "yolov3_tiny_int8" / "inputs" / "smooth.npy")
    outputs = runner(**{input_name: x})
    stored = np.load(GOLDEN_DIR / "yolov3_tiny_int8" / "tensors" / "smooth.npz")
    for name, detail in runner.get_output_details().items():
        assert np.array_equal(outputs[name], stored[f"t{detail['index']}"])
    with pytest.raises(InputError, match="missing"):
        runner()


# --------------------------------------------------------------------------------------------------
# Keyword arguments, progress, the rest


def test_litert_keyword_arguments_are_accepted_and_typos_are_not():
    refinterp.Interpreter(
        model_path=str(MODEL), experimental_preserve_all_tensors=True, experimental_op_resolver_type=None,
        num_threads=1, experimental_compress_quantization_zero_points=False,
        experimental_force_delegate_node_profiling=False,
    )
    with pytest.raises(TypeError, match="unexpected"):
        refinterp.Interpreter(model_path=str(MODEL), experimental_preserve_al_tensors=True)
    with pytest.raises(InputError, match="profile"):
        refinterp.Interpreter(model_path=str(MODEL), profile="xnnpack-fast")
    with pytest.raises(InputError, match="exactly one"):
        refinterp.Interpreter()


def test_delegates_are_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="experimental_delegates"):
        interpreter = refinterp.Interpreter(model_content=fc_model(), experimental_delegates=[object()])
    interpreter.allocate_tensors()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none given, none warned about
        refinterp.Interpreter(model_content=fc_model(), experimental_delegates=None)
        refinterp.Interpreter(model_content=fc_model(), experimental_delegates=[])


def test_positional_arguments_follow_litert():
    # LiteRT: Interpreter(model_path, model_content, experimental_delegates, num_threads, ...)
    interpreter = refinterp.Interpreter(None, fc_model(), None, 1)
    assert interpreter.num_threads == 1


def test_progress_callback_sees_every_operator_in_order():
    calls = []
    interpreter = refinterp.Interpreter(model_content=two_output_model(),
                                        progress=lambda stage, k, n, op: calls.append((stage, k, n, op.name)))
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, np.zeros((1, 4, 4, 2), np.int8))
    interpreter.invoke()
    assert calls == [("prepare", 0, 2, "LEAKY_RELU"), ("prepare", 1, 2, "MAX_POOL_2D"),
                     ("invoke", 0, 2, "LEAKY_RELU"), ("invoke", 1, 2, "MAX_POOL_2D")]


def test_get_tensor_returns_copies_and_intermediates():
    model = single_op_model(
        "LEAKY_RELU",
        [TensorSpec((1, 3), "int8", scale=0.1, zero_point=0)],
        [TensorSpec((1, 3), "int8", scale=0.1, zero_point=0)],
        {"alpha": 0.5},
    )
    interpreter = refinterp.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, np.array([[-4, 0, 4]], np.int8))
    with pytest.raises(InputError, match="no value yet"):
        interpreter.get_tensor(1)
    interpreter.invoke()
    y = interpreter.get_tensor(1)
    # LEAKY_RELU with equal scales and alpha 0.5: -4 -> -2 exactly, positives unchanged (hand arithmetic)
    assert y.tolist() == [[-2, 0, 4]]
    y[0, 0] = 100
    assert interpreter.get_tensor(1)[0, 0] == -2


def test_constant_data_are_read_only_views_not_copies():
    model = refinterp.load_model(MODEL)
    weights = [t for t in model.main.tensors if t.is_constant and t.type_name == "int8"]
    assert weights
    content = model._buffer
    for tensor in weights:
        assert not tensor.data.flags.writeable
        assert np.shares_memory(tensor.data, np.frombuffer(content, dtype=np.uint8))


def test_resize_tensor_input_keeps_declared_static_shapes():
    """yolov3's shape signatures are static: resizing its input is accepted (LiteRT's non-strict resize), but the
    shapes it gives downstream contradict the declared ones, which refinterp refuses at allocate_tensors;
    strict=True refuses it at once, as LiteRT does."""
    interpreter = refinterp.Interpreter(model_path=str(MODEL))
    interpreter.resize_tensor_input(0, [1, 416, 416, 3])  # the declared shape: nothing changes
    interpreter.allocate_tensors()
    interpreter.resize_tensor_input(0, [2, 416, 416, 3])
    with pytest.raises(PrepareError, match=r"operator 0 \(CONV_2D\): output 0 \(tensor \d+ .*\) gets shape "
                                           r"\[2, 416, 416, 16\] from its inputs, which does not fit its shape "
                                           r"signature \[1, 416, 416, 16\]"):
        interpreter.allocate_tensors()
    theirs = litert_interpreter(model_path=str(MODEL))
    with pytest.raises(RuntimeError, match="only allows mutating unknown dimensions"):
        theirs.resize_tensor_input(0, [2, 416, 416, 3], strict=True)
    with pytest.raises(InputError, match=r"only its -1 dimensions may change"):
        interpreter.resize_tensor_input(0, [2, 416, 416, 3], strict=True)
    with pytest.raises(InputError, match="not an input"):
        interpreter.resize_tensor_input(5, [1])
    with pytest.raises(InputError, match="negative dimension"):
        interpreter.resize_tensor_input(0, [1, -416, 416, 3])
    interpreter.resize_tensor_input(0, [1, 416, 416, 3])  # back to the declared shape: runs again
    interpreter.allocate_tensors()


def dynamic_conv_model() -> bytes:
    """int8 CONV_2D (3x3, SAME, stride 2) + ADD of a constant, every non-constant tensor with signature
    [-1, -1, -1, C]: what a converter writes for a model with unknown batch and image size."""
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated", reason="ai-edge-litert is not installed")
    import flatbuffers

    rng = np.random.default_rng(7)
    content = build_model(
        [TensorSpec((1, 8, 8, 3), "int8", scale=0.05, zero_point=-2, name="x"),
         TensorSpec((4, 3, 3, 3), "int8", scale=[0.02, 0.03, 0.01, 0.04], zero_point=[0] * 4,
                    data=rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8), name="w"),
         TensorSpec((4,), "int32", scale=[0.001, 0.0015, 0.0005, 0.002], zero_point=[0] * 4,
                    data=rng.integers(-500, 500, 4).astype(np.int32), name="b"),
         TensorSpec((1, 4, 4, 4), "int8", scale=0.1, zero_point=3, name="conv"),
         TensorSpec((4,), "int8", scale=0.1, zero_point=0, data=np.array([1, -2, 3, -4], np.int8), name="c"),
         TensorSpec((1, 4, 4, 4), "int8", scale=0.12, zero_point=-1, name="y")],
        [OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "stride_w": 2, "stride_h": 2}),
         OpSpec("ADD", [3, 4], [5])], [0], [5])
    model = schema.ModelT.InitFromPackedBuf(content, 0)
    for index in (0, 3, 5):
        tensor = model.subgraphs[0].tensors[index]
        tensor.shapeSignature = [-1, -1, -1, int(tensor.shape[-1])]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("strict", [False, True])
def test_resize_tensor_input_propagates_shapes_like_litert(strict):
    content = dynamic_conv_model()
    ours = refinterp.Interpreter(model_content=content)
    theirs = litert_interpreter(model_content=content)
    rng = np.random.default_rng(8)
    for shape in ([1, 8, 8, 3], [3, 5, 7, 3], [2, 1, 16, 3], [1, 8, 8, 3]):
        for interpreter in (ours, theirs):
            interpreter.resize_tensor_input(0, shape, strict=strict)
            interpreter.allocate_tensors()
        assert ours.get_input_details()[0]["shape"].tolist() == theirs.get_input_details()[0]["shape"].tolist()
        x = rng.integers(-128, 128, shape).astype(np.int8)
        for interpreter in (ours, theirs):
            interpreter.set_tensor(0, x)
            interpreter.invoke()
        for index in (3, 5):
            want = theirs.get_tensor(index)
            assert ours.get_tensor(index).shape == want.shape
            np.testing.assert_array_equal(ours.get_tensor(index), want)
        assert ours.get_output_details()[0]["shape"].tolist() == list(want.shape)
    with pytest.raises(InputError, match="expects shape"):
        ours.set_tensor(0, np.zeros((3, 5, 7, 3), np.int8))  # the input is [1, 8, 8, 3] again
    with pytest.raises(InputError, match=r"only its -1 dimensions may change"):
        ours.resize_tensor_input(0, [1, 8, 8, 4], strict=True)
