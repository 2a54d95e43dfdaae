"""Property tests: random single-op models, refinterp vs LiteRT's reference kernels.

For every (op, dtype) kind in tests/random_cases.GENERATORS, N seeded random
cases are built with refinterp.modelbuilder and run on LiteRT BUILTIN_REF (the
oracle) and on refinterp. The outputs must be equal:

* integer outputs: exactly;
* float32 outputs: bit for bit (NaN payloads and the sign of zero included).
  That holds even for CONV_2D float32, whose result depends on the summation
  order, because refinterp sums in TFLite's reference order (ky, kx, ic, then
  bias). Should that ever change, the failure message says whether the
  difference stays within the summation-order bound 2*gamma_n*Σ|x·w|
  (random_cases.gen_conv2d_float32); FLOAT_SUMMATION_TOLERANCE = True would then
  accept such differences instead.

When LiteRT rejects a case (at load, Prepare or Eval), refinterp must raise a
RefinterpError too.

N is 200 per integer kind and 50 per float32 kind; the environment variable
REFINTERP_RANDOM_CASES overrides both, and REFINTERP_RANDOM_SEED shifts the
seeds (default 0) to explore new cases.

Each kind is one pytest test that loops over its cases; the assertion names
the first failing case (seed and drawn parameters) and the command that
rebuilds it. Run with -s to see, per kind, how many cases LiteRT rejected and why.

What LiteRT (ai-edge-litert 2.3.0, BUILTIN_REF) rejects among the drawn cases,
all at Prepare (allocate_tensors):

* CONV_2D without a bias, both as 2 inputs ("conv.cc:411 has_bias was not
  true") and as input index -1 ("Tensor at index 2 was optional but was
  expected"), int8 and float32 alike. (TFLM accepts both.)
* CONV_2D with VALID padding whose window outgrows the input so that the output
  size is negative (no message; a size of exactly 0 is accepted and gives an
  empty output).
* CONCATENATION with a fused activation other than NONE (concatenation.cc:143),
  any dtype; int8 CONCATENATION whose inputs' scale or zero point differ from
  the output's (concatenation.cc:235/237). uint8 with differing params is
  accepted and requantized.
* RESHAPE with two -1 entries (reshape_utils.h:57) or an element count that
  does not match the input's.

Accepted although odd: LEAKY_RELU with any alpha (negative, 0, >1);
MAX_POOL_2D and RESIZE_NEAREST_NEIGHBOR whose output (scale, zero point) differ
from the input's (values are copied, not requantized; TFLM rejects the pool);
MAX_POOL_2D with a negative VALID output size (the output is empty, reported as
shape (b, 0, 0, c) when the width is negative, (b, 0, w, c) when the height is);
RESIZE_NEAREST_NEIGHBOR with both align_corners and half_pixel_centers.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import pytest

# tests/ is on sys.path (conftest.py), as for the other test helpers.
from oracle import Rejected, refinterp_available, run_litert_ref, run_refinterp, run_tflm, tflm_available
from random_cases import (
    CONCAT_MISMATCHES,
    FLOAT_KINDS,
    GENERATORS,
    Case,
    make_case,
    make_concat_mismatch_case,
    rejection_probe,
)

# Accept float results that differ from LiteRT only within the summation-order
# error bound (cases that carry a float_tolerance). Off: refinterp is bit-exact.
FLOAT_SUMMATION_TOLERANCE = False
INT_CASES_DEFAULT = 200
FLOAT_CASES_DEFAULT = 50
SPEC_VS_FAST_CASES = 30
MISMATCH_CASES = 30
TFLM_CASES = 30

KINDS = sorted(GENERATORS)
KIND_IDS = [f"{op}-{dtype}" for op, dtype in KINDS]

needs_refinterp = pytest.mark.skipif(not refinterp_available(), reason="refinterp.Interpreter is not available")


def case_count(kind: tuple[str, str]) -> int:
    override = os.environ.get("REFINTERP_RANDOM_CASES")
    if override:
        return int(override)
    return FLOAT_CASES_DEFAULT if kind in FLOAT_KINDS else INT_CASES_DEFAULT


def seeds(count: int) -> range:
    offset = int(os.environ.get("REFINTERP_RANDOM_SEED", "0"))
    return range(offset, offset + count)


def reproduce_hint(case: Case) -> str:
    return f"rebuild: python -m tests.random_cases {case.op} {case.dtype} {case.seed} --save /tmp/case"


Outcome = list[np.ndarray] | Rejected | Exception


def run(runner: Callable[..., list[np.ndarray]], case: Case, **kwargs: object) -> Outcome:
    """The outputs of one runtime on one case, or how it refused (Rejected) or
    crashed (any other exception: a bug, reported with the case's seed)."""
    try:
        return runner(case.model, case.inputs, **kwargs)
    except Rejected as rejection:
        return rejection
    except Exception as crash:  # reported as a test failure that names the seed
        return crash


def _ran(outcome: Outcome) -> bool:
    return isinstance(outcome, list)


def _first_difference(expected: np.ndarray, got: np.ndarray, differs: np.ndarray) -> str:
    where = tuple(int(i) for i in np.argwhere(differs)[0])
    return (
        f"{int(differs.sum())} of {differs.size} elements differ; first at {where}: "
        f"expected {expected[where]!r}, got {got[where]!r}"
    )


def compare_outputs(case: Case, expected: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> tuple[str | None, bool]:
    """(description of the first mismatch or None, whether all outputs are bit-exact)."""
    if len(expected) != len(got):
        return f"{len(got)} outputs, expected {len(expected)}", False
    bit_exact = True
    for position, (want, have) in enumerate(zip(expected, got, strict=True)):
        have = np.asarray(have)
        if have.dtype != want.dtype or have.shape != want.shape:
            return (
                f"output {position}: got {have.dtype}{list(have.shape)}, expected {want.dtype}{list(want.shape)}",
                False,
            )
        if want.dtype.kind == "f":
            # Compare bit patterns: NaN == NaN and -0.0 != +0.0, as bit-exact means.
            unsigned = np.dtype(f"u{want.dtype.itemsize}")
            differs = np.ascontiguousarray(want).view(unsigned) != np.ascontiguousarray(have).view(unsigned)
        else:
            differs = want != have
        if not differs.any():
            continue
        bit_exact = False
        if case.float_tolerance is not None:
            error = np.abs(want.astype(np.float64) - have.astype(np.float64))
            outside = error > case.float_tolerance[position]
            if not outside.any():
                if FLOAT_SUMMATION_TOLERANCE:
                    continue
                return (
                    f"output {position}: not bit-exact but within the summation-order bound "
                    f"(the float sum runs in another order than TFLite's): {_first_difference(want, have, differs)}",
                    False,
                )
            return f"output {position}: beyond the float error bound: {_first_difference(want, have, outside)}", False
        return f"output {position}: {_first_difference(want, have, differs)}", False
    return None, bit_exact


def check_agreement(
    case: Case, expected: Outcome, got: Outcome, expected_name: str = "LiteRT", got_name: str = "refinterp"
) -> tuple[str | None, bool]:
    """Compare two outcomes of the same case: (failure or None, bit-exact)."""
    for outcome in (expected, got):
        if isinstance(outcome, Exception) and not isinstance(outcome, Rejected):
            return f"crashed: {type(outcome).__name__}: {outcome}", False
    if isinstance(expected, Rejected):
        if isinstance(got, Rejected):
            return None, True
        return f"{expected}; but {got_name} ran it without a RefinterpError", False
    if isinstance(got, Rejected):
        return f"{got}; but {expected_name} runs it", False
    return compare_outputs(case, expected, got)


def failure_message(kind: str, total: int, failures: list[tuple[Case, str]]) -> str:
    case, reason = failures[0]
    lines = [
        f"{kind}: {len(failures)} of {total} cases fail. First failing case:",
        f"  {case.describe()}",
        f"  {reason}",
        f"  {reproduce_hint(case)}",
    ]
    if len(failures) > 1:
        more = ", ".join(str(c.seed) for c, _ in failures[1:11])
        lines.append(f"  other failing seeds: {more}{' ...' if len(failures) > 11 else ''}")
    return "\n".join(lines)


def test_generated_models_are_valid_for_litert() -> None:
    """The generators themselves: every case LiteRT rejects was drawn as a probe.

    Runs without refinterp, so a generator bug cannot masquerade as a refinterp one.
    """
    unexpected: list[tuple[Case, str]] = []
    total = 0
    for kind in KINDS:
        for seed in seeds(case_count(kind)):
            case = make_case(*kind, seed)
            outcome = run(run_litert_ref, case)
            total += 1
            if isinstance(outcome, Rejected) and rejection_probe(case) is None:
                unexpected.append((case, str(outcome)))
    assert not unexpected, failure_message("generators (LiteRT rejects an ordinary case)", total, unexpected)


@needs_refinterp
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_random_op_matches_litert(kind: tuple[str, str]) -> None:
    op, dtype = kind
    failures: list[tuple[Case, str]] = []
    rejections: Counter[str] = Counter()
    count = case_count(kind)
    exact = 0
    for seed in seeds(count):
        case = make_case(op, dtype, seed)
        expected = run(run_litert_ref, case)
        got = run(run_refinterp, case)
        if isinstance(expected, Rejected):
            rejections[f"{expected.stage}: {rejection_probe(case)}"] += 1
        failure, bit_exact = check_agreement(case, expected, got)
        exact += bit_exact and not isinstance(expected, Rejected)
        if failure is not None:
            failures.append((case, failure))
    summary = ", ".join(f"{n}x {what}" for what, n in rejections.most_common()) or "none"
    print(f"\n{op}/{dtype}: {count} cases, {exact} run and bit-exact; LiteRT rejected {summary}")
    assert not failures, failure_message(f"{op}/{dtype}", count, failures)


@needs_refinterp
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_spec_kernels_equal_fast_kernels(kind: tuple[str, str]) -> None:
    """The NumPy spec kernels and the numba fast kernels agree bit for bit
    (and on what they reject), on the first cases of every kind."""
    op, dtype = kind
    failures: list[tuple[Case, str]] = []
    count = min(SPEC_VS_FAST_CASES, case_count(kind))
    for seed in seeds(count):
        case = make_case(op, dtype, seed)
        fast = run(run_refinterp, case, kernels="fast")
        spec = run(run_refinterp, case, kernels="spec")
        failure, _ = check_agreement(case, spec, fast, "the spec kernels", "the fast kernels")
        if failure is not None:
            failures.append((case, f"spec vs fast: {failure}"))
    assert not failures, failure_message(f"{op}/{dtype} spec vs fast", count, failures)


def test_tflm_oracle_agrees_with_litert_on_int8_conv() -> None:
    """The optional TFLM runner works: reference CONV_2D int8 is double-rounded
    in both runtimes, so they agree on every valid case."""
    if not tflm_available():
        pytest.skip("tflite-micro is not installed")
    failures: list[tuple[Case, str]] = []
    count = 0
    for seed in seeds(TFLM_CASES):
        case = make_case("CONV_2D", "int8", seed)
        if rejection_probe(case) is not None:
            continue  # TFLM accepts a missing bias and never resizes outputs
        count += 1
        failure, _ = check_agreement(case, run(run_litert_ref, case), run(run_tflm, case), got_name="TFLM")
        if failure is not None:
            failures.append((case, failure))
    assert not failures, failure_message("CONV_2D/int8 TFLM vs LiteRT", count, failures)


@needs_refinterp
def test_concatenation_int8_mismatched_quantization_is_rejected() -> None:
    """int8 CONCATENATION requires all (scale, zp) equal: LiteRT rejects it at
    Prepare (concatenation.cc), so refinterp must raise a RefinterpError."""
    failures: list[tuple[Case, str]] = []
    for seed in seeds(MISMATCH_CASES):
        case = make_concat_mismatch_case(seed)
        expected = run(run_litert_ref, case)
        if not isinstance(expected, Rejected):
            failures.append((case, "LiteRT accepted it: the test's premise is wrong"))
            continue
        got = run(run_refinterp, case)
        if not isinstance(got, Rejected):
            failures.append((case, "refinterp ran it without a RefinterpError"))
    assert not failures, failure_message(
        f"CONCATENATION/int8 mismatched {'/'.join(CONCAT_MISMATCHES)}", MISMATCH_CASES, failures
    )
