"""Property tests for the operators of issue 4, part B, against LiteRT BUILTIN_REF and TFLM.

ADD, SUB, MUL, MINIMUM, MAXIMUM, RELU, RELU6, RELU_N1_TO_1, PAD, PADV2, TRANSPOSE, STRIDED_SLICE, SHAPE,
PACK, TILE, RESIZE_BILINEAR and QUANTIZE's uint8 paths: for every (op, dtype) kind of
tests/random_cases_b.GENERATORS, seeded random single-op models (refinterp.modelbuilder) run on LiteRT's
reference kernels and on refinterp (profile "litert-ref"); outputs must be equal bit for bit (integers
exactly, float32 by bit pattern: NaN and the sign of zero included). Where LiteRT rejects a case, refinterp
must raise a RefinterpError. Where the runtimes differ by design (MUL's multiplier, RELU's multiplier,
RELU6), the same cases also run on TFLM against refinterp's "tflm" profile.

Case counts: 200 per int8 kind, 100 per uint8 / requantize kind, 50 per float32 / int32 kind, 100 per TFLM
kind; REFINTERP_RANDOM_CASES overrides them all. Failure messages name the first failing seed, its drawn
parameters and the command that rebuilds it.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pytest
from oracle import Rejected, _run_litert_api, run_litert_ref, run_tflm, tflm_available
from random_cases import Case
from random_cases_b import GENERATORS, make_case, mul_all_pairs_case
from test_random_ops import check_agreement, run

import refinterp
from refinterp.errors import PrepareError, RefinterpError, UnsupportedOpError
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model, single_op_model
from refinterp.registry import REGISTRY

KINDS = sorted(GENERATORS)
FAST_KINDS = [k for k in KINDS if REGISTRY[k[0]].fast is not None and k[1] in ("int8", "uint8")]
TFLM_KINDS = [("MUL", "int8"), ("MUL", "float32"), ("RELU", "int8"), ("RELU", "float32"), ("RELU6", "int8"),
              ("RELU6", "float32"), ("ADD", "int8"), ("SUB", "int8")]
SPEC_VS_FAST_CASES = 40

needs_tflm = pytest.mark.skipif(not tflm_available(), reason="tflite-micro is not installed")


def case_count(kind: tuple[str, str], default: int | None = None) -> int:
    override = os.environ.get("REFINTERP_RANDOM_CASES")
    if override:
        return int(override)
    if default is not None:
        return default
    dtype = kind[1]
    if dtype == "int8":
        return 200
    if dtype == "uint8" or "->" in dtype:
        return 100
    return 50


def run_refinterp(model: bytes, inputs: list[np.ndarray], profile: str = "litert-ref",
                  kernels: str = "fast") -> list[np.ndarray]:
    def make() -> refinterp.Interpreter:
        return refinterp.Interpreter(model_content=model, profile=profile, kernels=kernels)

    return _run_litert_api(f"refinterp[{profile},{kernels}]", make, inputs, (RefinterpError,))


def reproduce_hint(case: Case) -> str:
    return f"rebuild: python tests/random_cases_b.py {case.op} {case.dtype} {case.seed} --save /tmp/case"


def failure_message(kind: str, total: int, failures: list[tuple[Case, str]]) -> str:
    case, reason = failures[0]
    lines = [f"{kind}: {len(failures)} of {total} cases fail. First failing case:", f"  {case.describe()}",
             f"  {reason}", f"  {reproduce_hint(case)}"]
    if len(failures) > 1:
        lines.append("  other failing seeds: " + ", ".join(str(c.seed) for c, _ in failures[1:11]))
    return "\n".join(lines)


def kind_id(kind: tuple[str, str]) -> str:
    return f"{kind[0]}-{kind[1]}"


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
def test_matches_litert_ref(kind: tuple[str, str]) -> None:
    failures: list[tuple[Case, str]] = []
    rejected: Counter[str] = Counter()
    count = case_count(kind)
    for seed in range(count):
        case = make_case(*kind, seed)
        expected = run(run_litert_ref, case)
        if isinstance(expected, Rejected):
            if "probe" not in case.params:  # a generator bug, not a refinterp one
                failures.append((case, f"LiteRT rejects an ordinary case: {expected}"))
                continue
            rejected[case.params["probe"]] += 1
        failure, _ = check_agreement(case, expected, run(run_refinterp, case))
        if failure is not None:
            failures.append((case, failure))
    assert not failures, failure_message(kind_id(kind), count, failures)


@pytest.mark.parametrize("kind", FAST_KINDS, ids=kind_id)
def test_spec_equals_fast(kind: tuple[str, str]) -> None:
    failures: list[tuple[Case, str]] = []
    count = min(case_count(kind), SPEC_VS_FAST_CASES)
    for seed in range(count):
        case = make_case(*kind, seed)
        spec = run(run_refinterp, case, kernels="spec")
        fast = run(run_refinterp, case, kernels="fast")
        failure, _ = check_agreement(case, spec, fast, "refinterp spec", "refinterp fast")
        if failure is not None:
            failures.append((case, failure))
    assert not failures, failure_message(f"{kind_id(kind)} spec vs fast", count, failures)


@needs_tflm
@pytest.mark.parametrize("kind", TFLM_KINDS, ids=kind_id)
def test_matches_tflm(kind: tuple[str, str]) -> None:
    failures: list[tuple[Case, str]] = []
    count = case_count(kind, default=100)
    for seed in range(count):
        case = make_case(*kind, seed)
        if any(len(s) > 4 for s in case.params.get("shapes", ())):
            continue  # TFLM broadcasts up to 4-D only
        expected = run(run_tflm, case)
        got = run(run_refinterp, case, profile="tflm")
        if "probe" in case.params and isinstance(got, Rejected) and not isinstance(expected, Exception):
            continue  # an invalid model TFLM does not check (ADD/SUB of int8 and uint8): refinterp may refuse
        failure, _ = check_agreement(case, expected, got, "TFLM")
        if failure is not None:
            failures.append((case, failure))
    assert not failures, failure_message(f"{kind_id(kind)} (profile tflm)", count, failures)


# Scale triples (s1, s2, s_out) and zero points for which LiteRT's float32 MUL multiplier and TFLM's double
# one round some int8 product differently; found with random_cases_b.find_mul_profile_split (seed 1234).
MUL_PROFILE_SPLITS = [
    ([0.17728997766971588, 0.006343021988868713, 0.419525146484375], [-66, -127, 34]),
    ([0.3017836809158325, 0.011358878575265408, 0.25511643290519714], [-96, -34, -104]),
    ([0.30743950605392456, 0.001313913380727172, 0.011506730690598488], [62, -87, -56]),
]


@needs_tflm
@pytest.mark.parametrize("scales,zero_points", MUL_PROFILE_SPLITS)
def test_mul_profiles_follow_their_runtime(scales: list[float], zero_points: list[int]) -> None:
    """All 65 536 int8 pairs: LiteRT and TFLM disagree, and each profile agrees with its own runtime."""
    model, inputs = mul_all_pairs_case(scales, zero_points)
    litert, tflm = run_litert_ref(model, inputs)[0], run_tflm(model, inputs)[0]
    assert np.any(litert != tflm), "the runtimes agree here: the case no longer shows the profile difference"
    for profile, expected in (("litert-ref", litert), ("tflm", tflm)):
        got = run_refinterp(model, inputs, profile=profile)[0]
        differs = got != expected
        assert not differs.any(), (f"profile {profile}: {int(differs.sum())} of 65536 outputs differ from its "
                                   f"runtime, first at {tuple(np.argwhere(differs)[0])}")


@needs_tflm
def test_relu6_profiles_differ_when_parameters_change() -> None:
    """TFLM's RELU6 clamps the raw input; LiteRT's requantizes: with different in/out parameters they differ."""
    x = np.arange(-128, 128, dtype=np.int8)
    model = single_op_model("RELU6", [TensorSpec((256,), "int8", 0.05, -10)], [TensorSpec((256,), "int8", 0.03, 5)])
    litert, tflm = run_litert_ref(model, [x])[0], run_tflm(model, [x])[0]
    assert np.any(litert != tflm)
    assert np.array_equal(run_refinterp(model, [x])[0], litert)
    assert np.array_equal(run_refinterp(model, [x], profile="tflm")[0], tflm)


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


def test_runtime_shape_chain_like_ssd() -> None:
    """SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE and TILE with a computed multiples tensor: the pattern of the
    SSD models, whose new shapes exist only at run time. Every tensor is compared with LiteRT's."""
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
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    oracle = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    oracle.allocate_tensors()
    oracle.set_tensor(0, x)
    oracle.invoke()
    ours = refinterp.Interpreter(model_content=model)
    ours.allocate_tensors()
    ours.set_tensor(0, x)
    ours.invoke()
    for index in (1, 4, 7, 8, 10, 12):
        expected, got = oracle.get_tensor(index), ours.get_tensor(index)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), f"tensor {index} differs"
