"""Data movement, indexing, comparison and select operators: the rules random cases cannot reach.

The random cases (conformance/generators/movement.py) hold these operators to LiteRT; they never draw a model on which
LiteRT aborts or crashes the process. Here refinterp must refuse those models with a one-line reason (no
LiteRT run), and a few rules are checked against values derived by hand from the C++ sources.
"""

from __future__ import annotations

import numpy as np
import pytest

import refinterp
import refinterp.tools.conformance.generators.movement  # noqa: F401  (registers the options tables modelbuilder may not list yet)
from refinterp.errors import EvalError, PrepareError, UnsupportedOpError
from refinterp.modelbuilder import TensorSpec, single_op_model


def run(model: bytes, *inputs: np.ndarray, **options: object) -> list[np.ndarray]:
    interpreter = refinterp.Interpreter(model_content=model, **options)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def i32(*values: int) -> np.ndarray:
    return np.array(values, np.int32)


# ------------------------------------------------------------------------------------------------
# Quantized comparisons


@pytest.mark.parametrize("scale", [None, 1.0])
def test_comparison_scales_on_which_litert_aborts_are_refused(scale: float | None) -> None:
    """QuantizeMultiplierSmallerThanOneExp/GreaterThanOne TFLITE_CHECK-fail (abort) on 0 (no quantization)
    and on exactly 1 (negative and non-finite scales are refused when the model is read)."""
    q = (None, None) if scale is None else (scale, 0)
    model = single_op_model("LESS", [TensorSpec((3,), "int8", *q), TensorSpec((3,), "int8", 0.5, 0)],
                            [TensorSpec((3,), "bool")])
    with pytest.raises(PrepareError, match="abort"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


def test_comparison_scale_above_one_is_the_sign_of_the_offset_value() -> None:
    """Scale 2 (shift +2): RDBPOT with exponent -2 evaluates to 1 for q >= zp, -1 below, on x86. Against
    the other input at scale 1/16 (exact rescale: (q - zp) * 2**8 / 16 = 16 (q - zp))."""
    a = np.array([-3, 0, 5, 2, -1], np.int8)
    b = np.array([0, 0, 0, 1, -1], np.int8)
    model = single_op_model("LESS", [TensorSpec((5,), "int8", 2.0, 0), TensorSpec((5,), "int8", 0.0625, 0)],
                            [TensorSpec((5,), "bool")])
    # a -> [-1, 1, 1, 1, -1]; b -> [0, 0, 0, 16, -16]
    assert run(model, a, b)[0].tolist() == [True, False, False, True, False]


def test_comparison_scale_where_the_compiled_code_decides_is_unsupported() -> None:
    model = single_op_model("EQUAL", [TensorSpec((3,), "int8", 1e6, 0), TensorSpec((3,), "int8", 0.5, 0)],
                            [TensorSpec((3,), "bool")])
    with pytest.raises(UnsupportedOpError, match="undefined behaviour"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


def test_not_equal_on_unquantized_int16_is_unsupported() -> None:
    """LiteRT's NotEqualEval does nothing for unquantized int16 (the output is never written)."""
    model = single_op_model("NOT_EQUAL", [TensorSpec((3,), "int16"), TensorSpec((3,), "int16")],
                            [TensorSpec((3,), "bool")])
    with pytest.raises(UnsupportedOpError, match="unwritten"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


def test_equal_rescales_both_inputs_to_compare_real_values() -> None:
    """int8 (scale 0.5, zp 1) and (scale 0.25, zp -2): q1 = 3 is real 1.0, q2 = 2 is real 1.0: equal."""
    model = single_op_model("EQUAL", [TensorSpec((2,), "int8", 0.5, 1), TensorSpec((2,), "int8", 0.25, -2)],
                            [TensorSpec((2,), "bool")])
    assert run(model, np.array([3, 3], np.int8), np.array([2, 3], np.int8))[0].tolist() == [True, False]


# ------------------------------------------------------------------------------------------------
# Indexing: out-of-range indices, and what LiteRT would do with memory


def test_gather_index_out_of_range_fails_at_invoke() -> None:
    model = single_op_model("GATHER", [TensorSpec((4, 2), "float32"), TensorSpec((2,), "int32")],
                            [TensorSpec((2, 2), "float32")])
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert run(model, x, i32(3, 0))[0].tolist() == [[6, 7], [0, 1]]
    with pytest.raises(EvalError, match="out of bounds"):
        run(model, x, i32(4, 0))
    with pytest.raises(EvalError, match="negative"):
        run(model, x, i32(-1, 0))


def test_gather_of_constants_is_folded_and_checked_at_prepare() -> None:
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    model = single_op_model("GATHER", [TensorSpec((4, 2), "float32", data=x),
                                       TensorSpec((1,), "int32", data=i32(7))], [TensorSpec((1, 2), "float32")])
    with pytest.raises(PrepareError, match="out of bounds"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


@pytest.mark.parametrize("op", ["GATHER_ND", "SCATTER_ND", "EMBEDDING_LOOKUP"])
def test_index_out_of_range_is_an_eval_error(op: str) -> None:
    if op == "GATHER_ND":
        model = single_op_model(op, [TensorSpec((3, 2), "int8"), TensorSpec((1, 2), "int32")],
                                [TensorSpec((1,), "int8")])
        inputs = [np.zeros((3, 2), np.int8), np.array([[1, 2]], np.int32)]
    elif op == "SCATTER_ND":
        model = single_op_model(op, [TensorSpec((1, 1), "int32"), TensorSpec((1, 2), "int8"),
                                     TensorSpec((2,), "int32", data=i32(3, 2))], [TensorSpec((3, 2), "int8")])
        inputs = [np.array([[3]], np.int32), np.ones((1, 2), np.int8)]
    else:
        model = single_op_model(op, [TensorSpec((1,), "int32"), TensorSpec((3, 2), "int8")],
                                [TensorSpec((1, 2), "int8")])
        inputs = [i32(3), np.zeros((3, 2), np.int8)]
    with pytest.raises(EvalError, match="out of bounds"):
        run(model, *inputs)


def test_embedding_lookup_refusals() -> None:
    """An empty table (LiteRT returns without writing the output) and a type change LiteRT does as a raw byte
    copy (int8 rows into an int32 output)."""
    model = single_op_model("EMBEDDING_LOOKUP", [TensorSpec((2,), "int32"), TensorSpec((0, 3), "int8")],
                            [TensorSpec((2, 3), "int8")])
    with pytest.raises(EvalError, match="empty table"):
        run(model, i32(0, 0), np.zeros((0, 3), np.int8))
    model = single_op_model("EMBEDDING_LOOKUP", [TensorSpec((2,), "int32"), TensorSpec((4, 3), "int8")],
                            [TensorSpec((2, 3), "int32")])
    with pytest.raises(UnsupportedOpError, match="raw bytes"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


def test_embedding_lookup_hybrid_reads_uint8_as_int8() -> None:
    """LiteRT's hybrid path reads the table through an int8 pointer: uint8 200 counts as -56."""
    table = np.array([[200, 10]], np.uint8)
    model = single_op_model("EMBEDDING_LOOKUP", [TensorSpec((1,), "int32"),
                                                 TensorSpec((1, 2), "uint8", 0.5, 0, data=table)],
                            [TensorSpec((1, 2), "float32")])
    assert run(model, i32(0))[0].tolist() == [[-28.0, 5.0]]


def test_gather_nd_with_empty_index_vectors() -> None:
    """nd == 0 copies all of params per slice when the indices are a constant; LiteRT fails otherwise."""
    params = np.array([1, 2, 3], np.int8)
    constant = single_op_model("GATHER_ND", [TensorSpec((3,), "int8"),
                                             TensorSpec((2, 0), "int32", data=np.zeros((2, 0), np.int32))],
                               [TensorSpec((2, 3), "int8")])
    assert run(constant, params)[0].tolist() == [[1, 2, 3], [1, 2, 3]]
    dynamic = single_op_model("GATHER_ND", [TensorSpec((3,), "int8"), TensorSpec((2, 0), "int32")],
                              [TensorSpec((2, 3), "int8")])
    with pytest.raises(EvalError, match="empty index vectors"):
        run(dynamic, params, np.zeros((2, 0), np.int32))


def test_scatter_nd_adds_duplicates_in_order() -> None:
    """float32 adds one at a time in index order: (1e8 + 1) + (-1e8) = 0 in float32 (1e8 + 1 rounds to 1e8)."""
    model = single_op_model("SCATTER_ND", [TensorSpec((3, 1), "int32"), TensorSpec((3,), "float32"),
                                           TensorSpec((1,), "int32", data=i32(2))], [TensorSpec((2,), "float32")])
    out = run(model, np.array([[0], [0], [0]], np.int32), np.array([1e8, 1.0, -1e8], np.float32))[0]
    assert out.tolist() == [0.0, 0.0]


def test_topk_nan_is_refused_and_ties_go_to_the_smaller_index() -> None:
    model = single_op_model("TOPK_V2", [TensorSpec((5,), "float32"), TensorSpec((), "int32", data=np.int32(3))],
                            [TensorSpec((3,), "float32"), TensorSpec((3,), "int32")])
    values, indices = run(model, np.array([1.0, 2.0, 2.0, -0.0, 0.0], np.float32))
    assert values.tolist() == [2.0, 2.0, 1.0] and indices.tolist() == [1, 2, 0]
    with pytest.raises(EvalError, match="NaN"):
        run(model, np.array([1.0, np.nan, 2.0, 0.0, 0.0], np.float32))


# ------------------------------------------------------------------------------------------------
# Data movement: crashes refused, value-dependent shapes


def test_reverse_v2_crash_cases_are_refused() -> None:
    empty_axes = single_op_model("REVERSE_V2", [TensorSpec((2, 3), "int8"),
                                                TensorSpec((0,), "int32", data=np.zeros(0, np.int32))],
                                 [TensorSpec((2, 3), "int8")])
    with pytest.raises(PrepareError, match="empty axis list"):
        refinterp.Interpreter(model_content=empty_axes).allocate_tensors()
    empty_rows = single_op_model("REVERSE_V2", [TensorSpec((3, 0), "float32"), TensorSpec((1,), "int32", data=i32(0))],
                                 [TensorSpec((3, 0), "float32")])
    with pytest.raises(EvalError, match="writes outside"):
        run(empty_rows, np.zeros((3, 0), np.float32))


def test_broadcast_args_of_incompatible_shapes_is_refused() -> None:
    """LiteRT aborts the process on them (a TFLITE_CHECK in BroadcastArgs)."""
    constant = single_op_model("BROADCAST_ARGS", [TensorSpec((2,), "int32", data=i32(2, 3)),
                                                  TensorSpec((1,), "int32", data=i32(4))], [TensorSpec((2,), "int32")])
    with pytest.raises(PrepareError, match="aborts"):
        refinterp.Interpreter(model_content=constant).allocate_tensors()
    dynamic = single_op_model("BROADCAST_ARGS", [TensorSpec((2,), "int32"), TensorSpec((1,), "int32")],
                              [TensorSpec((2,), "int32")])
    assert run(dynamic, i32(2, 1), i32(4))[0].tolist() == [2, 4]
    with pytest.raises(EvalError, match="aborts"):
        run(dynamic, i32(2, 3), i32(4))


def test_fill_with_a_huge_dynamic_shape_is_refused_before_allocating() -> None:
    model = single_op_model("FILL", [TensorSpec((3,), "int32"), TensorSpec((), "float32", data=np.float32(1))],
                            [TensorSpec((2, 2, 2), "float32")])
    assert run(model, i32(2, 2, 2))[0].shape == (2, 2, 2)
    with pytest.raises(EvalError):
        run(model, i32(100000, 100000, 100000))


def test_space_to_batch_pads_with_the_zero_point() -> None:
    """8-bit types: memset with the output zero point (here -5); a negative padding crops."""
    x = np.arange(4, dtype=np.int8).reshape(1, 2, 2, 1)
    model = single_op_model("SPACE_TO_BATCH_ND", [TensorSpec(x.shape, "int8", 0.5, -5),
                                                  TensorSpec((2,), "int32", data=i32(2, 1)),
                                                  TensorSpec((2, 2), "int32", data=np.array([[1, 1], [0, -1]],
                                                                                            np.int32))],
                            [TensorSpec((2, 2, 1, 1), "int8", 0.5, -5)])
    assert run(model, x)[0].reshape(-1).tolist() == [-5, 2, 0, -5]


@pytest.mark.parametrize(("value", "dtype", "expected"), [
    (np.nan, "int32", 2147483647), (-np.inf, "int8", -128), (3e9, "int32", 2147483647), (-2.7, "uint8", 0),
    (2.9, "int16", 2), (300.5, "uint8", 255), (-0.0, "bool", False), (np.nan, "bool", True),
])
def test_cast_float_saturates_and_truncates(value: float, dtype: str, expected: object) -> None:
    model = single_op_model("CAST", [TensorSpec((1,), "float32")], [TensorSpec((1,), dtype)])
    assert run(model, np.array([value], np.float32))[0].tolist() == [expected]
