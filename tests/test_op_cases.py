"""Random single-operator models: refinterp against LiteRT's reference kernels and TFLite Micro.

One test per (operator, dtype kind) that refinterp.registry advertises ("any" stands for
opcases.ANY_DTYPES). Each draws seeded cases from the generator table (tests/opcase_table.py, which joins
refinterp/tools/conformance/generators/core.py and tests/opcases_*.py) and runs every case on

* LiteRT with the BUILTIN_REF op resolver (the oracle) and on refinterp with both kernel sets
  (``kernels="fast"`` and ``kernels="spec"``, profile "litert-ref"; only "fast" for an operator that has
  no fast kernel, where both sets run the same spec kernel);
* for the kinds of opcase_table.TFLM_KINDS, also on TFLite Micro and on refinterp with ``profile="tflm"``
  (both kernel sets).

Rules, per oracle:

* an ordinary case must run on the oracle and on refinterp, with equal outputs: same dtype and shape,
  integers equal, floats equal bit for bit (NaN payloads and the sign of zero included; no tolerance);
* a probe (a case built on purpose to be invalid) must be rejected by the oracle and by refinterp
  (a RefinterpError); an ordinary case that a runtime rejects fails the test, and so does a probe that
  runs (the generator's rule would be wrong);
* refinterp raising KernelError (a kernel crashed) or anything that is not a RefinterpError fails.

Each kind must reach a minimum number of oracle comparisons (cases compared, rejections not counted):
200 per integer kind, 50 per float kind, against LiteRT and, for the TFLM kinds, against TFLM too. The
regression cases are seeds 0, 1, 2, ... until the minimum is reached. The environment variable
REFINTERP_RANDOM_CASES overrides the minimum.

Exploration: every kind also runs 20 cases from a seed drawn fresh for each session (printed once per
session; REFINTERP_RANDOM_SEED=N repeats the session whose seed was N). A failure names the kind, the case
seed, every drawn parameter and the command that rebuilds the case. Run with -s for a line per kind
(comparisons, rejections by reason).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from opcase_table import (
    DUPLICATES,
    GENERATORS,
    TFLM_KINDS,
    announce_exploration_seed,
    exploration_seed,
    is_float_kind,
    make_case,
    registry_kinds,
)
from oracle import Rejected, require_tflm, run_litert_ref, run_refinterp, run_tflm, tflm_available

from refinterp.registry import REGISTRY
from refinterp.tools.conformance.generate import output_difference
from refinterp.tools.conformance.generators.core import (
    TFLM_AS_LITERT,
    TFLM_INVALID,
    TFLM_NOT_COMPARED,
    TFLM_UNDEFINED,
    TFLM_VALID,
    Case,
)

INT_CASES = 200
FLOAT_CASES = 50
EXPLORATION_CASES = 20
KERNEL_SETS = ("fast", "spec")


def kernel_sets(op: str) -> tuple[str, ...]:
    """Both kernel sets; only "fast" for an operator without a fast kernel (both sets then run the spec one)."""
    opdef = REGISTRY.get(op)
    return KERNEL_SETS if opdef is None or opdef.fast is not None else ("fast",)


# "all": control flow and resource variables (tests/test_control_flow.py holds them to LiteRT)
KINDS = sorted(k for k in set(registry_kinds()) if k[1] != "all")


def kind_id(kind: tuple[str, str]) -> str:
    return f"{kind[0]}-{kind[1]}"


def minimum_comparisons(kind: tuple[str, str]) -> int:
    override = os.environ.get("REFINTERP_RANDOM_CASES")
    if override:
        return int(override)
    return FLOAT_CASES if is_float_kind(kind) else INT_CASES


@dataclass
class Crash:
    """A runtime raised something that is not a rejection: a bug (refinterp) or a broken oracle."""

    runtime: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.runtime} crashed: {type(self.error).__name__}: {' '.join(str(self.error).split())[:300]}"


Outcome = list[np.ndarray] | Rejected | Crash


def outcome(runtime: str, runner: Callable[..., list[np.ndarray]], case: Case, **options: object) -> Outcome:
    try:
        return runner(case.model, case.inputs, **options)
    except Rejected as rejection:
        return rejection
    except Exception as error:  # noqa: BLE001 - reported as a failure that names the case
        return Crash(runtime, error)


def judge(case: Case, must_reject: bool, oracle: str, expected: Outcome | None,
          ours: list[tuple[str, Outcome]]) -> tuple[str | None, bool]:
    """(the failure or None, whether outputs were compared) for one case on one oracle.

    ``expected`` None: the oracle is not run (it cannot run the case); refinterp must reject it."""
    for runtime_outcome in [expected, *(o for _, o in ours)]:
        if isinstance(runtime_outcome, Crash):
            return str(runtime_outcome), False
    if must_reject:
        if expected is not None and not isinstance(expected, Rejected):
            why = case.params.get("probe") or case.params.get("edge")
            return f"built to be invalid for {oracle} ({why}), but {oracle} runs it: the generator's rule is wrong", \
                False
        for name, got in ours:
            if not isinstance(got, Rejected):
                because = str(expected) if expected is not None else f"{oracle} cannot run it ({case.tflm})"
                return f"{because}; but {name} runs it", False
        return None, False
    if isinstance(expected, Rejected):
        return f"an ordinary case, but {expected} (a generator bug, or a probe not marked as one)", False
    for name, got in ours:
        if isinstance(got, Rejected):
            return f"{oracle} runs it, but {got}", False
        difference = output_difference(expected, got)
        if difference is not None:
            return f"{name} differs from {oracle}: {difference}", False
    return None, True


@dataclass
class KindRun:
    """What one kind's cases did."""

    kind: tuple[str, str]
    compare_tflm: bool
    cases: int = 0
    litert_compared: int = 0
    tflm_compared: int = 0
    rejected: Counter = field(default_factory=Counter)
    not_on_tflm: Counter = field(default_factory=Counter)
    failures: list[tuple[Case, str]] = field(default_factory=list)

    def run(self, seed: int) -> None:
        self.cases += 1
        try:
            case = make_case(*self.kind, seed)
        except Exception as error:  # noqa: BLE001 - a generator bug, reported with the seed
            self.failures.append((Case(*self.kind, b"", [], {}, seed=seed),
                                  f"the generator failed: {type(error).__name__}: {error}"))
            return
        litert = outcome("LiteRT", run_litert_ref, case, op=case.op)
        ours = [(f"refinterp ({k} kernels)", outcome(f"refinterp ({k} kernels)", run_refinterp, case, kernels=k))
                for k in kernel_sets(case.op)]
        failure, compared = judge(case, case.probe, "LiteRT", litert, ours)
        self.litert_compared += compared
        if case.probe and failure is None:
            self.rejected[f"LiteRT: {case.params['probe']}"] += 1
        if failure is not None:
            self.failures.append((case, failure))
        if not self.compare_tflm:
            return
        if case.tflm == TFLM_NOT_COMPARED:
            self.not_on_tflm[case.params.get("probe") or case.params.get("edge") or "?"] += 1
            return
        tflm = None if case.tflm == TFLM_UNDEFINED else outcome("TFLM", run_tflm, case)
        ours = [(f"refinterp (profile tflm, {k} kernels)",
                 outcome(f"refinterp (profile tflm, {k} kernels)", run_refinterp, case, kernels=k, profile="tflm"))
                for k in kernel_sets(case.op)]
        must_reject = {TFLM_AS_LITERT: case.probe, TFLM_VALID: False, TFLM_INVALID: True,
                       TFLM_UNDEFINED: True}[case.tflm]
        failure, compared = judge(case, must_reject, "TFLM", tflm, ours)
        self.tflm_compared += compared
        if must_reject and failure is None:
            self.rejected[f"TFLM: {case.params.get('probe') or case.params.get('edge')}"] += 1
        if failure is not None:
            self.failures.append((case, f"[profile tflm] {failure}"))

    def enough(self, minimum: int) -> bool:
        return self.litert_compared >= minimum and (not self.compare_tflm or self.tflm_compared >= minimum)

    def summary(self, label: str) -> str:
        tflm = f", {self.tflm_compared} against TFLM" if self.compare_tflm else ""
        rejected = ", ".join(f"{n}x {why}" for why, n in self.rejected.most_common()) or "none"
        skipped = ", ".join(f"{n}x {why}" for why, n in self.not_on_tflm.most_common())
        return (f"{kind_id(self.kind)} {label}: {self.cases} cases, {self.litert_compared} compared against LiteRT"
                f"{tflm}; rejected as required: {rejected}" + (f"; not run on TFLM: {skipped}" if skipped else ""))

    def failure_message(self, label: str, extra: str = "") -> str:
        case, reason = self.failures[0]
        lines = [f"{kind_id(self.kind)} {label}: {len(self.failures)} of {self.cases} cases fail. First failing case:",
                 f"  {case.describe()}", f"  {reason}", f"  rebuild: {case.rebuild_command()}"]
        if len(self.failures) > 1:
            more = ", ".join(str(c.seed) for c, _ in self.failures[1:11])
            lines.append(f"  other failing seeds: {more}{' ...' if len(self.failures) > 11 else ''}")
        if extra:
            lines.append(f"  {extra}")
        return "\n".join(lines)


@pytest.fixture(scope="session")
def session_seed(request: pytest.FixtureRequest) -> int:
    """The exploration seed of this session, announced on the terminal unless the header already did."""
    line = announce_exploration_seed()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if line is not None and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # fd capture is on while fixtures are set up
            reporter.write_line(line)
    return exploration_seed()


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
def test_op_cases(kind: tuple[str, str], session_seed: int) -> None:
    if kind not in GENERATORS:
        pytest.fail(f"{kind_id(kind)}: refinterp.registry advertises it but no generator draws it "
                    f"(tests/opcase_table.py): 0 oracle comparisons", pytrace=False)
    compare_tflm = kind in TFLM_KINDS and tflm_available()
    minimum = minimum_comparisons(kind)
    regression = KindRun(kind, compare_tflm)
    seed = 0
    while not regression.enough(minimum) and seed < 2 * minimum + 20:
        regression.run(seed)
        seed += 1
    print("\n" + regression.summary("regression"))
    exploration = KindRun(kind, compare_tflm)
    for seed in range(session_seed, session_seed + EXPLORATION_CASES):
        exploration.run(seed)
    print(exploration.summary(f"exploration (seed {session_seed})"))
    if regression.failures:
        pytest.fail(regression.failure_message("regression cases"), pytrace=False)
    if exploration.failures:
        pytest.fail(exploration.failure_message(
            f"exploration cases (session seed {session_seed})",
            f"REFINTERP_RANDOM_SEED={session_seed} repeats this exploration"), pytrace=False)
    if not regression.enough(minimum):
        pytest.fail(f"{regression.summary('regression')}\n  fewer oracle comparisons than the minimum {minimum} "
                    f"after {regression.cases} cases: the generator draws too many rejected cases", pytrace=False)
    if kind in TFLM_KINDS and not compare_tflm:
        require_tflm()  # the LiteRT comparisons passed; the TFLM ones could not run


def test_every_generator_is_for_an_advertised_kind() -> None:
    """The generator table and the registry agree: no generator for a kind refinterp no longer claims."""
    extra = sorted(set(GENERATORS) - set(KINDS))
    assert not extra, f"generators for kinds refinterp.registry does not advertise: {extra}"


def test_each_kind_has_one_generator() -> None:
    """tests/opcase_table.py joins several generator modules: none may define a kind another one defines."""
    assert not DUPLICATES, f"kinds with more than one generator: {DUPLICATES}"


def test_outputs_compare_bit_for_bit() -> None:
    """The comparison itself: -0.0 is not +0.0, NaN equals the same NaN, dtypes and shapes must match."""
    zero = [np.array([0.0], np.float32)]
    assert output_difference(zero, [np.array([-0.0], np.float32)]) is not None
    assert output_difference([np.array([np.nan], np.float32)], [np.array([np.nan], np.float32)]) is None
    assert output_difference(zero, [np.array([0.0], np.float64)]) is not None
    assert output_difference([np.zeros((1, 2), np.int8)], [np.zeros((2, 1), np.int8)]) is not None
    assert output_difference([np.array([1], np.int8)], [np.array([1], np.int8)]) is None
