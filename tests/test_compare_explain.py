"""`refinterp compare --explain` and `--fail-on unexplained` (issue 15, item 2).

Every divergence here comes from a runtime, never from refinterp: a runtime that is LiteRT BUILTIN_REF but one
operator's output one LSB off (no profile may explain it), TFLM where it differs from LiteRT by design
(docs/profiles.md: the profile "tflm" must explain it), and LiteRT's optimized kernels and XNNPACK (the emulation
profiles "litert-opt" and "xnnpack" must explain every operator they round differently). Whether the runtimes
really differ is checked with the runtimes themselves (tests/oracle.py), and every report is validated against
docs/compare.schema.json.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from compare_models import chain_specs
from conftest import GOLDEN_MODEL, json_schema_validator
from oracle import require_tflm, run_litert_ref, run_tflm

from refinterp import cli
from refinterp.model import load_model
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model, single_op_model
from refinterp.ops.common import ALL_PROFILES
from refinterp.runtimes import get_runtime
from refinterp.tools import compare as compare_module
from refinterp.tools.compare import (
    CSV_COLUMNS,
    TERMINAL_WIDTH,
    Explainer,
    InputCase,
    aggregate_rows,
    compare,
    csv_text,
    emulation_rule,
    exit_status,
    explain_profiles,
    format_report,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "compare.schema.json"

# (input scale, input zero point) where LiteRT's int8 LOGISTIC table and TFLM's fixed point differ on one input
# (tests/test_op_regressions.py LOGISTIC_DIVERGENT_PAIRS; confirmed on both runtimes in the test below).
LOGISTIC_SPLITS = [(0.016748549416661263, 122), (0.08882831037044525, -52)]


@pytest.fixture(scope="module")
def schema_validator():
    return json_schema_validator(SCHEMA_PATH)


def validated(report: dict, validator) -> dict:
    """The report after a JSON round trip (what --json writes), validated against the schema."""
    report = json.loads(json.dumps(report))
    validator.validate(report)
    return report


def run_cli(args: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(["compare", *[str(a) for a in args], "--no-progress"])
    return status, capsys.readouterr().out


def rows_by_op(report: dict) -> dict[int, dict]:
    """The first aggregate row of each operator."""
    rows: dict[int, dict] = {}
    for row in report["aggregate"]["tensors"]:
        rows.setdefault(row["op_index"], row)
    return rows


def explanation_of(row: dict) -> dict | None:
    return row["isolation"]["explanation"]


# --------------------------------------------------------------------------------------------------
# Models


def logistic_model(input_scale: float, input_zero_point: int) -> bytes:
    """LOGISTIC over all 256 int8 values, then RESHAPE to 16 x 16 (which only passes the values on)."""
    tensors = [TensorSpec((256,), "int8", input_scale, input_zero_point, name="x"),
               TensorSpec((256,), "int8", 1.0 / 256, -128, name="sigmoid"),
               TensorSpec((2,), "int32", data=np.array([16, 16], np.int32), name="shape"),
               TensorSpec((16, 16), "int8", 1.0 / 256, -128, name="out")]
    operators = [OpSpec("LOGISTIC", [0], [1]), OpSpec("RESHAPE", [1, 2], [3], {"new_shape": [16, 16]})]
    return build_model(tensors, operators, [0], [3])


ALL_INT8 = np.arange(-128, 128, dtype=np.int8)


@pytest.fixture(scope="module")
def chain_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tensors, operators = chain_specs()
    path = tmp_path_factory.mktemp("explain") / "chain.tflite"
    path.write_bytes(build_model(tensors, operators, [0], [7]))
    return path


def chain_input(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(1, 16, 16, 8), dtype=np.int8)


# --------------------------------------------------------------------------------------------------
# A runtime with a bug: LiteRT BUILTIN_REF, one operator's output one LSB off


class PerturbedRuntime:
    """LiteRT BUILTIN_REF, except that operator ``op_index`` of the chain adds one LSB to its output (every
    element, or only ``element``; never past the int8 maximum) and the operators after it compute from that
    output, with LiteRT BUILTIN_REF too: the head (operators up to ``op_index``) and the tail (the rest) run as
    two models holding the same tensor list, so tensor indices are the full model's."""

    def __init__(self, workdir: Path, op_index: int, element: int | None = None):
        self.name = f"perturbed-op{op_index}"
        self.op_index = op_index
        self.element = element
        tensors, operators = chain_specs()
        self.perturbed_tensor = operators[op_index].outputs[0]
        self.head = workdir / f"head{op_index}.tflite"
        self.head.write_bytes(build_model(tensors, operators[:op_index + 1], [0], [self.perturbed_tensor]))
        self.tail_operators = operators[op_index + 1:]
        self.tail = workdir / f"tail{op_index}.tflite"
        if self.tail_operators:
            self.tail.write_bytes(build_model(tensors, self.tail_operators, [self.perturbed_tensor], [7]))
        self.litert = get_runtime("litert-ref")

    def version(self) -> str:
        return f"test double: litert-ref with op {self.op_index} +1 LSB"

    def run(self, model_path: str, inputs: list[np.ndarray]):
        result = self.litert.run(str(self.head), inputs)
        tensors = dict(result.tensors)
        value = tensors[self.perturbed_tensor].astype(np.int16)
        bump = np.zeros(value.shape, np.int16)
        if self.element is None:
            bump[...] = 1
        else:
            bump.reshape(-1)[self.element] = 1
        tensors[self.perturbed_tensor] = np.minimum(value + bump, 127).astype(np.int8)
        if self.tail_operators:
            tail = self.litert.run(str(self.tail), [tensors[self.perturbed_tensor]])
            for op in self.tail_operators:
                for index in op.outputs:
                    tensors[index] = tail.tensors[index]
        result.tensors = tensors
        result.outputs = [tensors[7]]
        return result


@pytest.fixture()
def perturbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Makes the runtime spec "perturbed-op<K>[-e<N>]" a PerturbedRuntime for compare (and its CLI)."""
    pytest.importorskip("ai_edge_litert")
    real_runtime_for = compare_module._runtime_for

    def runtime_for(spec: str, profile: str):
        if spec.startswith("perturbed-op"):
            op, _, element = spec[len("perturbed-op"):].partition("-e")
            return PerturbedRuntime(tmp_path, int(op), int(element) if element else None)
        return real_runtime_for(spec, profile)

    monkeypatch.setattr(compare_module, "_runtime_for", runtime_for)


# --------------------------------------------------------------------------------------------------
# (a) a one-LSB bug is unexplained, on exactly that operator


@pytest.mark.parametrize("spec, bad_op", [("perturbed-op0", 0), ("perturbed-op1", 1), ("perturbed-op1-e37", 1),
                                          ("perturbed-op0-e0", 0)])
def test_a_one_lsb_bug_is_unexplained_on_exactly_that_operator(spec, bad_op, perturbed, chain_path,
                                                               schema_validator):
    report = validated(compare(chain_path, spec, "litert-ref", [InputCase("x", [chain_input()])], explain=True),
                       schema_validator)
    assert report["explain"] is True and report["isolate"] is True
    assert report["explain_profiles"] == explain_profiles("litert-ref", spec)
    assert report["first_divergence"]["op_index"] == bad_op
    assert report["local_ops"] == [bad_op]
    assert report["unexplained_ops"] == [bad_op]
    assert report["exit_status"] == 1
    rows = rows_by_op(report)
    explanation = explanation_of(rows[bad_op])
    assert explanation["status"] == "unexplained" and explanation["profile"] is None
    assert explanation["reproduced_by"] == []
    # every profile was tried and ran (none refused the model), and none gave the runtime's output
    assert [a["profile"] for a in explanation["tried"]] == report["explain_profiles"]
    assert all(a["reason"] is None and a["mismatches"] > 0 for a in explanation["tried"]), explanation["tried"]
    for op_index, row in rows.items():
        if op_index < bad_op:
            assert row["isolation"]["class"] == "exact"
        elif op_index > bad_op:  # computed by LiteRT from the perturbed values: passed on, not the bug
            assert row["isolation"]["class"] in ("inherited", "exact")
        if op_index != bad_op:
            assert explanation_of(row) is None
    text = format_report(report)
    assert f"op {bad_op} {rows[bad_op]['op_type']}: unexplained (closest: " in text
    assert "explained: 0 of 1 local ops; unexplained: " + str(bad_op) in text


# --------------------------------------------------------------------------------------------------
# TFLM where it differs from LiteRT by design: the profile "tflm" explains it


@pytest.mark.parametrize("input_scale, input_zero_point", LOGISTIC_SPLITS)
def test_tflm_logistic_is_explained_by_the_tflm_profile(input_scale, input_zero_point, tmp_path, schema_validator):
    require_tflm()
    model = logistic_model(input_scale, input_zero_point)
    litert, tflm = run_litert_ref(model, [ALL_INT8])[0], run_tflm(model, [ALL_INT8])[0]
    assert np.any(litert != tflm), "the runtimes agree here: the model no longer shows the designed difference"
    path = tmp_path / "logistic.tflite"
    path.write_bytes(model)
    report = validated(compare(path, "tflm", "litert-ref", [InputCase("all", [ALL_INT8])], explain=True),
                       schema_validator)
    assert report["explain_profiles"][0] == "tflm"  # the profile that emulates the runtime comes first
    assert report["local_ops"] == [0] and report["unexplained_ops"] == []
    rows = rows_by_op(report)
    assert rows[0]["mismatches"] == int(np.count_nonzero(litert != tflm))
    explanation = explanation_of(rows[0])
    assert (explanation["status"], explanation["profile"]) == ("explained", "tflm")
    assert "tflm" in explanation["reproduced_by"] and explanation["counts"] == {"explained": 1, "unexplained": 0}
    assert rows[1]["isolation"]["class"] == "inherited" and explanation_of(rows[1]) is None
    assert report["exit_status"] == 1  # --fail-on any (the default): still a divergence
    assert "  LOGISTIC op 0: explained: tflm" in format_report(report)
    again = compare(path, "tflm", "litert-ref", [InputCase("all", [ALL_INT8])], fail_on="unexplained")
    assert again["explain"] is True and again["exit_status"] == 0


def test_the_other_way_round_litert_is_explained_by_litert_ref(tmp_path, schema_validator):
    """TFLM as the reference (isolation under profile tflm): LiteRT's LOGISTIC is the litert-ref rule."""
    require_tflm()
    pytest.importorskip("ai_edge_litert")
    path = tmp_path / "logistic.tflite"
    path.write_bytes(logistic_model(*LOGISTIC_SPLITS[0]))
    report = validated(compare(path, "litert-ref", "tflm", [InputCase("all", [ALL_INT8])], explain=True),
                       schema_validator)
    assert report["profile"] == "tflm" and report["explain_profiles"][0] == "litert-ref"
    explanation = explanation_of(rows_by_op(report)[0])
    assert (explanation["status"], explanation["profile"]) == ("explained", "litert-ref")


# --------------------------------------------------------------------------------------------------
# (b), (c) the optimized runtimes: every local operator explained by the runtime's emulation profile.
# These FAIL (never skip) while the emulation profile is missing or does not yet reproduce the runtime.


def _require_profile(profile: str) -> None:
    if profile not in ALL_PROFILES:
        pytest.fail(f"emulation profile {profile!r} is not among refinterp.ops.common.ALL_PROFILES "
                    f"{ALL_PROFILES}: compare --explain cannot explain this runtime", pytrace=False)


def _unexplained_summary(report: dict) -> str:
    rows = rows_by_op(report)
    parts = []
    for op_index in report["unexplained_ops"]:
        tried = {a["profile"]: a["mismatches"] if a["reason"] is None else a["reason"]
                 for a in explanation_of(rows[op_index])["tried"]}
        parts.append(f"op {op_index} {rows[op_index]['op_type']} {tried}")
    return "; ".join(parts)


def _check_all_explained(report: dict, profile: str) -> None:
    assert report["local_ops"], "the runtime no longer diverges: nothing to explain"
    assert report["unexplained_ops"] == [], f"not explained by {profile}: {_unexplained_summary(report)}"
    for op_index, row in rows_by_op(report).items():
        if op_index in report["local_ops"]:
            explanation = explanation_of(row)
            assert explanation["profile"] == profile, (op_index, explanation)
            assert explanation["rule"], f"op {op_index} {row['op_type']}: {profile} states no rule for it"
    assert report["exit_status"] == 0  # fail_on="unexplained"


@pytest.mark.parametrize("against, profile", [("xnnpack", "xnnpack"), ("litert", "litert-opt")])
def test_optimized_runtimes_on_the_chain_are_explained(against, profile, chain_path, schema_validator):
    pytest.importorskip("ai_edge_litert")
    _require_profile(profile)
    report = validated(compare(chain_path, against, "litert-ref", [InputCase("x", [chain_input()])],
                               fail_on="unexplained"), schema_validator)
    _check_all_explained(report, profile)


@pytest.mark.parametrize("against, profile", [("xnnpack", "xnnpack"), ("litert", "litert-opt")])
def test_golden_model_every_local_divergence_is_explained(against, profile, tmp_path, capsys, schema_validator):
    """The acceptance run of issue 15: `compare golden --against xnnpack --explain` (and litert)."""
    pytest.importorskip("ai_edge_litert")
    if not GOLDEN_MODEL.is_file():
        pytest.fail("golden/yolov3_tiny_int8.tflite is missing", pytrace=False)
    _require_profile(profile)
    json_path = tmp_path / "report.json"
    status, out = run_cli([GOLDEN_MODEL, "--against", against, "--explain", "--fail-on", "unexplained",
                           "--json", json_path], capsys)
    report = json.loads(json_path.read_text())
    schema_validator.validate(report)
    _check_all_explained(report, profile)
    assert status == 0, out


# --------------------------------------------------------------------------------------------------
# (d) exit status


def test_fail_on_exit_codes_through_the_cli(perturbed, chain_path, tmp_path, capsys):
    require_tflm()
    x = tmp_path / "x.npy"
    np.save(x, chain_input())
    # the one-LSB bug: exit 1 whatever --fail-on says
    for extra in ([], ["--explain"], ["--fail-on", "any"], ["--fail-on", "unexplained"]):
        status, out = run_cli([chain_path, "--against", "perturbed-op1", "--reference", "litert-ref",
                               "--input", x, *extra], capsys)
        assert status == 1, (extra, out)
    assert "a divergence no profile explains (exit 1)" in out
    # TFLM's designed difference: exit 1 unless --fail-on unexplained
    model = tmp_path / "logistic.tflite"
    model.write_bytes(logistic_model(*LOGISTIC_SPLITS[0]))
    all_int8 = tmp_path / "all.npy"
    np.save(all_int8, ALL_INT8)
    base = [model, "--against", "tflm", "--reference", "litert-ref", "--input", all_int8]
    assert run_cli([*base], capsys)[0] == 1
    assert run_cli([*base, "--explain"], capsys)[0] == 1
    status, out = run_cli([*base, "--fail-on", "unexplained"], capsys)
    assert status == 0, out
    assert "every divergence is explained or inherited (exit 0)" in out and "explained: tflm" in out
    # nothing diverges: 0 either way
    assert run_cli([chain_path, "--against", "litert-ref", "--input", x, "--fail-on", "unexplained"], capsys)[0] == 0
    # a bad value is a usage error
    assert cli.main(["compare", str(model), "--against", "tflm", "--fail-on", "some"]) == 2
    assert "--fail-on" in capsys.readouterr().err


def _row(op_index: int, status: str, kind: str | None, explained: bool | None = None) -> dict:
    explanation = None
    if explained is not None:
        explanation = {"status": "explained" if explained else "unexplained",
                       "profile": "xnnpack" if explained else None, "rule": None,
                       "reproduced_by": ["xnnpack"] if explained else [],
                       "tried": [{"profile": "xnnpack", "rule": None, "mismatches": 0 if explained else 3,
                                  "max_abs_diff": 0 if explained else 1, "reason": None}]}
    isolation = None if kind is None else {"class": kind, "inputs_differ": False, "local_mismatches": 1,
                                           "local_max_abs_diff": 1, "reason": None, "explanation": explanation}
    return {"op_index": op_index, "op_type": "CONV_2D", "output_position": 0, "tensor_index": op_index,
            "tensor_name": "t", "shape": [4], "dtype": "int8", "scale": 1.0, "zero_point": 0, "status": status,
            "detail": None, "elements": 4, "mismatches": 0 if status == "equal" else 1, "max_abs_diff": 1,
            "max_rel_diff": None, "histogram": None, "isolation": isolation}


@pytest.mark.parametrize("rows, expected", [
    ([_row(0, "equal", "exact")], 0),
    ([_row(0, "differs", "local", True), _row(1, "differs", "inherited")], 0),
    ([_row(0, "differs", "local", False), _row(1, "differs", "inherited")], 1),
    ([_row(0, "differs", "unavailable")], 1),  # not checked: not explained
    ([_row(0, "differs", None)], 1),  # no isolation (another subgraph)
    ([_row(0, "incompatible", "local", False)], 1),
])
def test_exit_status_rule(rows, expected):
    cases = [{"tensors": rows}]
    assert exit_status(cases, aggregate_rows(cases), "unexplained") == expected
    assert exit_status(cases, aggregate_rows(cases), "any") == (0 if all(r["status"] == "equal" for r in rows)
                                                                else 1)


def test_aggregate_needs_one_profile_for_every_local_case():
    """Explained by xnnpack in one case and by nothing in another: unexplained over the cases."""
    cases = [{"tensors": [_row(0, "differs", "local", True)]}, {"tensors": [_row(0, "differs", "local", False)]},
             {"tensors": [_row(0, "differs", "inherited")]}]
    aggregate = aggregate_rows(cases)[0]["isolation"]["explanation"]
    assert aggregate["status"] == "unexplained" and aggregate["counts"] == {"explained": 1, "unexplained": 1}
    assert aggregate["tried"][0]["mismatches"] == 3
    assert exit_status(cases, aggregate_rows(cases), "unexplained") == 1
    both = [{"tensors": [_row(0, "differs", "local", True)]}, {"tensors": [_row(0, "differs", "local", True)]}]
    aggregate = aggregate_rows(both)[0]["isolation"]["explanation"]
    assert (aggregate["status"], aggregate["profile"], aggregate["counts"]["explained"]) == ("explained", "xnnpack", 2)


# --------------------------------------------------------------------------------------------------
# (e) the reports: JSON schema, text, CSV


def test_reports_without_explain_still_validate(chain_path, schema_validator):
    for kwargs in ({}, {"isolate": True}):
        report = validated(compare(chain_path, "refinterp", "refinterp", **kwargs), schema_validator)
        assert report["explain"] is False and report["explain_profiles"] is None
        assert report["unexplained_ops"] is None and report["fail_on"] == "any"
        assert all(r["isolation"] is None or r["isolation"]["explanation"] is None
                   for r in report["aggregate"]["tensors"])


def test_schema_rejects_a_bad_explanation(perturbed, chain_path, schema_validator):
    import jsonschema

    report = validated(compare(chain_path, "perturbed-op1", "litert-ref", [InputCase("x", [chain_input()])],
                               explain=True), schema_validator)
    row = report["cases"][0]["tensors"][1]
    row["isolation"]["explanation"]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        schema_validator.validate(report)
    row["isolation"]["explanation"]["status"] = "unexplained"
    row["isolation"]["explanation"]["counts"] = {"explained": 0, "unexplained": 1}  # aggregate rows only
    with pytest.raises(jsonschema.ValidationError):
        schema_validator.validate(report)


def test_text_and_csv_carry_the_explanation(perturbed, chain_path, tmp_path):
    report = compare(chain_path, "perturbed-op1", "litert-ref", [InputCase("a", [chain_input(1)]),
                                                                 InputCase("b", [chain_input(2)])], explain=True)
    text = format_report(report)
    assert max(len(line) for line in text.splitlines()) <= TERMINAL_WIDTH, text
    assert "local " in text and ", unexplained" in text  # the isolate column
    assert "explain: each local op re-run under " in text
    rows = list(csv.reader(io.StringIO(csv_text(report))))
    assert tuple(rows[0]) == CSV_COLUMNS and CSV_COLUMNS[-2:] == ("explanation", "explained_by")
    by_op = {(r[0], int(r[1])): r for r in rows[1:]}
    for case in ("a", "b"):
        assert by_op[(case, 1)][-2:] == ["unexplained", ""]
        assert by_op[(case, 0)][-2:] == ["", ""]


# --------------------------------------------------------------------------------------------------
# The pieces: which profiles, which rule, a profile that refuses the model


def test_explain_profiles_put_the_runtimes_own_profile_first():
    for against, own in (("xnnpack", "xnnpack"), ("litert", "litert-opt"), ("tflm", "tflm")):
        if own not in ALL_PROFILES:
            pytest.fail(f"profile {own!r} is not among {ALL_PROFILES}", pytrace=False)
        profiles = explain_profiles("litert-ref", against)
        assert profiles[0] == own and sorted(profiles) == sorted(p for p in ALL_PROFILES if p != "litert-ref")
    # a runtime no profile emulates: every other profile, in ALL_PROFILES order
    assert explain_profiles("tflm", "delegate:x.so") == [p for p in ALL_PROFILES if p != "tflm"]


def test_rules_come_from_the_emulation_modules():
    import importlib

    for profile in ALL_PROFILES:
        module_name = "refinterp.ops.emulation." + profile.replace("-", "_")
        if profile in ("litert-ref", "tflm"):  # reference profiles: no emulation module, no rule
            assert emulation_rule(profile, "CONV_2D") is None
            continue
        table = importlib.import_module(module_name).TABLE
        for op_type, entry in table.items():
            assert emulation_rule(profile, op_type) == entry.rule
        assert emulation_rule(profile, "NO_SUCH_OPERATOR") is None


def test_a_profile_that_refuses_the_model_explains_nothing(tmp_path):
    """TFLM has no uint8 RELU: profile tflm refuses the model; the attempt records why."""
    path = tmp_path / "relu_u8.tflite"
    path.write_bytes(single_op_model("RELU", [TensorSpec((4,), "uint8", 0.1, 128)],
                                     [TensorSpec((4,), "uint8", 0.1, 128)]))
    op = load_model(path).subgraphs[0].operators[0]
    x = np.array([0, 100, 128, 255], np.uint8)
    explanation = Explainer(path, ["tflm", "litert-ref"]).explain(op, [x], {op.outputs[0]: np.full(4, 7, np.uint8)})
    tflm, litert = explanation["tried"]
    assert tflm["mismatches"] is None and "cannot prepare the model under profile tflm" in tflm["reason"]
    assert litert["reason"] is None and litert["mismatches"] == 4  # max(x, 128) is not 7 anywhere
    assert explanation["status"] == "unexplained" and explanation["reproduced_by"] == []
    reproduced = Explainer(path, ["tflm", "litert-ref"]).explain(op, [x], {op.outputs[0]: np.maximum(x, 128)})
    assert (reproduced["status"], reproduced["profile"], reproduced["rule"]) == ("explained", "litert-ref", None)


def test_html_report_carries_the_explanation(perturbed, chain_path, tmp_path, capsys):
    x = tmp_path / "x.npy"
    np.save(x, chain_input())
    page = tmp_path / "report.html"
    status, _ = run_cli([chain_path, "--against", "perturbed-op1", "--reference", "litert-ref", "--input", x,
                         "--explain", "--html", page], capsys)
    assert status == 1
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    rows = html.split("<tr>")[2:]  # after the header row
    assert len(rows) == 4  # one per operator output tensor
    assert f'style="{compare_module.HTML_UNEXPLAINED}">unexplained</td>' in rows[1]
    assert "<td class=\"text\">inherited</td>" in rows[2] and "<td class=\"text\">exact</td>" in rows[0]
    assert "<li>op 1 LEAKY_RELU: unexplained (closest: " in html
    # without --isolate: no isolation columns
    status, _ = run_cli([chain_path, "--against", "litert-ref", "--input", x, "--html", page], capsys)
    assert status == 0 and "<th>explanation</th>" not in page.read_text() and "EQUAL" in page.read_text()


def test_html_report_of_an_explained_divergence(tmp_path):
    require_tflm()
    path = tmp_path / "logistic.tflite"
    path.write_bytes(logistic_model(*LOGISTIC_SPLITS[0]))
    report = compare(path, "tflm", "litert-ref", [InputCase("all", [ALL_INT8])], fail_on="unexplained")
    html = compare_module.report_html(report)
    assert f'style="{compare_module.HTML_EXPLAINED}">explained: tflm</td>' in html
    assert "<li>--fail-on unexplained: every divergence is explained or inherited (exit 0)</li>" in html
