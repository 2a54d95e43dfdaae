"""Pinned single-operator cases: where LiteRT and TFLM differ by design, models refinterp must refuse, and the
runtime-shape chain of the SSD models. The random cases of every operator are in tests/test_op_cases.py.

Expected values come from the runtimes themselves (LiteRT BUILTIN_REF, TFLM); the pinned parameters were
found by random search and are kept because they show a difference the random cases rarely draw.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import require_tflm, run_litert_ref, run_refinterp, run_tflm

import refinterp
from refinterp.errors import PrepareError, UnsupportedOpError
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model, single_op_model

# ------------------------------------------------------------------------------------------------
# Profiles: each runtime's rule where they differ by design (docs/profiles.md)


def find_mul_profile_split(rng: np.random.Generator) -> tuple[list[float], list[int]]:
    """Scales and zero points for which LiteRT's float32 MUL multiplier and TFLM's double one give a
    different int8 result for some input pair (a brute force over all 65 536 pairs; the expected outputs
    then still come from the two runtimes). How MUL_PROFILE_SPLITS were found (seed 1234)."""
    from refinterp.quant import multiply_by_quantized_multiplier, quantize_multiplier

    while True:
        scales = [float(np.float32(np.exp(rng.uniform(np.log(1e-3), 0.0)))) for _ in range(3)]
        zps = [int(rng.integers(-128, 128)) for _ in range(3)]
        s1, s2, so = (np.float32(s) for s in scales)
        m32 = quantize_multiplier(float(np.float32(np.float32(s1 * s2) / so)))
        m64 = quantize_multiplier(float(s1) * float(s2) / float(so))
        if m32 == m64:
            continue
        q = np.arange(-128, 128, dtype=np.int64)
        products = ((q[:, None] - zps[0]) * (q[None, :] - zps[1])).reshape(-1)
        y32 = np.clip(multiply_by_quantized_multiplier(products, *m32) + zps[2], -128, 127)
        y64 = np.clip(multiply_by_quantized_multiplier(products, *m64) + zps[2], -128, 127)
        if np.any(y32 != y64):
            return scales, zps


def mul_all_pairs_case(scales: list[float], zps: list[int]) -> tuple[bytes, list[np.ndarray]]:
    """An int8 MUL over every (q1, q2) pair: a 256 x 256 model and its two inputs."""
    q = np.arange(-128, 128, dtype=np.int8)
    x1, x2 = np.repeat(q, 256).reshape(256, 256), np.tile(q, 256).reshape(256, 256)
    model = single_op_model("MUL", [TensorSpec((256, 256), "int8", scales[0], zps[0]),
                                    TensorSpec((256, 256), "int8", scales[1], zps[1])],
                            [TensorSpec((256, 256), "int8", scales[2], zps[2])])
    return model, [x1, x2]


# (s1, s2, s_out) and zero points where LiteRT's float32 MUL multiplier and TFLM's double one round some
# int8 product differently.
MUL_PROFILE_SPLITS = [
    ([0.17728997766971588, 0.006343021988868713, 0.419525146484375], [-66, -127, 34]),
    ([0.3017836809158325, 0.011358878575265408, 0.25511643290519714], [-96, -34, -104]),
    ([0.30743950605392456, 0.001313913380727172, 0.011506730690598488], [62, -87, -56]),
]


@pytest.mark.parametrize("scales,zero_points", MUL_PROFILE_SPLITS)
def test_mul_profiles_follow_their_runtime(scales: list[float], zero_points: list[int]) -> None:
    """All 65 536 int8 pairs: LiteRT and TFLM disagree, and each profile agrees with its own runtime."""
    require_tflm()
    model, inputs = mul_all_pairs_case(scales, zero_points)
    litert, tflm = run_litert_ref(model, inputs)[0], run_tflm(model, inputs)[0]
    assert np.any(litert != tflm), "the runtimes agree here: the case no longer shows the profile difference"
    for profile, expected in (("litert-ref", litert), ("tflm", tflm)):
        for kernels in ("fast", "spec"):
            got = run_refinterp(model, inputs, kernels=kernels, profile=profile)[0]
            differs = got != expected
            assert not differs.any(), (f"profile {profile}, {kernels} kernels: {int(differs.sum())} of 65536 "
                                       f"outputs differ from its runtime, first at {tuple(np.argwhere(differs)[0])}")


def test_relu6_profiles_differ_when_parameters_change() -> None:
    """TFLM's RELU6 clamps the raw input; LiteRT's requantizes: with different in/out parameters they differ."""
    require_tflm()
    x = np.arange(-128, 128, dtype=np.int8)
    model = single_op_model("RELU6", [TensorSpec((256,), "int8", 0.05, -10)], [TensorSpec((256,), "int8", 0.03, 5)])
    litert, tflm = run_litert_ref(model, [x])[0], run_tflm(model, [x])[0]
    assert np.any(litert != tflm), "the runtimes agree here: the case no longer shows the profile difference"
    for kernels in ("fast", "spec"):
        assert np.array_equal(run_refinterp(model, [x], kernels=kernels)[0], litert)
        assert np.array_equal(run_refinterp(model, [x], kernels=kernels, profile="tflm")[0], tflm)


# (input scale, input zero point) pairs where LiteRT's LOGISTIC table and TFLM's fixed point give different
# int8 outputs for one of the 256 inputs (a sweep of 20 000 random pairs found 19; confirmed on both runtimes).
LOGISTIC_DIVERGENT_PAIRS = [(0.016748549416661263, 122), (0.007737468462437391, -34), (0.008942941203713417, 10),
                            (0.001139604253694415, -106), (0.08882831037044525, -52)]


@pytest.mark.parametrize(("input_scale", "input_zero_point"), LOGISTIC_DIVERGENT_PAIRS)
def test_logistic_profiles_where_runtimes_differ(input_scale: float, input_zero_point: int) -> None:
    """Every int8 input: LiteRT and TFLM disagree on one, and each profile agrees with its own runtime."""
    require_tflm()
    x = np.arange(-128, 128, dtype=np.int8)
    model = single_op_model("LOGISTIC", [TensorSpec(x.shape, "int8", input_scale, input_zero_point)],
                            [TensorSpec(x.shape, "int8", 1.0 / 256, -128)])
    litert, tflm = run_litert_ref(model, [x])[0], run_tflm(model, [x])[0]
    assert (litert != tflm).any(), "the runtimes agree here: this pair no longer shows the designed difference"
    for expected, profile in ((litert, "litert-ref"), (tflm, "tflm")):
        for kernels in ("fast", "spec"):
            got = run_refinterp(model, [x], kernels=kernels, profile=profile)[0]
            assert np.array_equal(got, expected), f"profile {profile}, {kernels} kernels differ from the runtime"


# ------------------------------------------------------------------------------------------------
# Models refinterp refuses where a runtime aborts or computes garbage


def test_add_output_multiplier_of_one_or_more_is_refused() -> None:
    """LiteRT's ADD aborts the process (TFLITE_CHECK in QuantizeMultiplierSmallerThanOneExp) when
    2*max(s1, s2) / (2**20 * s_out) >= 1; refinterp refuses it at Prepare instead."""
    model = single_op_model("ADD", [TensorSpec((4,), "int8", 1.0, 0), TensorSpec((4,), "int8", 1.0, 0)],
                            [TensorSpec((4,), "int8", 1e-7, 0)])
    with pytest.raises(PrepareError, match="output multiplier"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


def test_sub_output_multiplier_above_one_is_unsupported() -> None:
    """SUB accepts a multiplier > 1 but then right-shifts by a negative amount (undefined in C++)."""
    model = single_op_model("SUB", [TensorSpec((4,), "int8", 1.0, 0), TensorSpec((4,), "int8", 1.0, 0)],
                            [TensorSpec((4,), "int8", 1e-7, 0)])
    with pytest.raises(UnsupportedOpError, match="SUB"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


def test_transpose_repeated_axis_is_refused() -> None:
    """A perm that repeats an axis: LiteRT HEAD rejects it in Prepare (transpose.cc); ai-edge-litert 2.3.0
    still runs it and returns a meaningless tensor. refinterp follows HEAD."""
    model = single_op_model("TRANSPOSE", [TensorSpec((2, 3), "int8", 0.1, 0),
                                          TensorSpec((2,), "int32", data=np.array([1, 1], np.int32))],
                            [TensorSpec((3, 3), "int8", 0.1, 0)])
    with pytest.raises(PrepareError, match="repeats an axis"):
        refinterp.Interpreter(model_content=model).allocate_tensors()


# ------------------------------------------------------------------------------------------------
# Shapes known only at run time


def test_runtime_shape_chain_like_ssd() -> None:
    """SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE and TILE with a computed multiples tensor: the pattern of the
    SSD models, whose new shapes exist only at run time. Every tensor is compared with LiteRT's."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    q = (0.05, 3)
    tensors = [
        TensorSpec((1, 3, 3, 20), "int8", *q, name="x"),                                    # 0
        TensorSpec((4,), "int32", name="shape"),                                            # 1
        TensorSpec((1,), "int32", data=np.array([0], np.int32), name="begin"),              # 2
        TensorSpec((1,), "int32", data=np.array([1], np.int32), name="end"),                # 3
        TensorSpec((), "int32", name="batch"),                                              # 4
        TensorSpec((), "int32", data=np.array(-1, np.int32), name="minus_one"),             # 5
        TensorSpec((), "int32", data=np.array(4, np.int32), name="four"),                   # 6
        TensorSpec((3,), "int32", name="new_shape"),                                        # 7
        TensorSpec((1, 45, 4), "int8", *q, name="reshaped"),                                # 8
        TensorSpec((), "int32", data=np.array(1, np.int32), name="one"),                    # 9
        TensorSpec((3,), "int32", name="multiples"),                                        # 10
        TensorSpec((1, 5, 4), "int8", *q, data=np.arange(20, dtype=np.int8).reshape(1, 5, 4), name="anchors"),
        TensorSpec((1, 5, 4), "int8", *q, name="tiled"),                                    # 12
    ]
    operators = [
        OpSpec("SHAPE", [0], [1], {"out_type": "INT32"}),
        OpSpec("STRIDED_SLICE", [1, 2, 3, 3], [4], {"shrink_axis_mask": 1}),
        OpSpec("PACK", [4, 5, 6], [7], {"axis": 0, "values_count": 3}),
        OpSpec("RESHAPE", [0, 7], [8]),
        OpSpec("PACK", [4, 9, 9], [10], {"axis": 0, "values_count": 3}),
        OpSpec("TILE", [11, 10], [12]),
    ]
    model = build_model(tensors, operators, inputs=[0], outputs=[8, 12])
    x = np.random.default_rng(0).integers(-128, 128, (1, 3, 3, 20)).astype(np.int8)
    oracle = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    oracle.allocate_tensors()
    oracle.set_tensor(0, x)
    oracle.invoke()
    for kernels in ("fast", "spec"):
        ours = refinterp.Interpreter(model_content=model, kernels=kernels)
        ours.allocate_tensors()
        ours.set_tensor(0, x)
        ours.invoke()
        for index in (1, 4, 7, 8, 10, 12):
            expected, got = oracle.get_tensor(index), ours.get_tensor(index)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), f"{kernels}: tensor {index} differs"
