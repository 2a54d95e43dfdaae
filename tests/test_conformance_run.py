"""`refinterp conformance run`: a suite through every kind of runtime under test, judged exactly.

The suite here is written by hand (five cases of three kinds, expected outputs from LiteRT's BUILTIN_REF
kernels through tests/oracle.py), so these tests need nothing of the generator; one test also runs a suite
that `conformance generate` wrote. The runtimes under test that misbehave on purpose are small scripts
written to tmp_path: a ``command:`` program that computes with LiteRT's reference kernels and then perturbs,
crashes, hangs or refuses on one operator, and ``python:`` callables that do the same in process.
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from conftest import json_schema_validator
from oracle import run_litert_ref

from refinterp.errors import InputError, RefinterpError
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.report import format_summary
from refinterp.tools.conformance.run import compare_output, judge_outputs, parse_against, run_main, run_suite

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "conformance.schema.json"

# ------------------------------------------------------------------------------------------------
# A hand-written suite


def _add_int8(seed: int) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    spec = TensorSpec((1, 4, 4, 3), "int8", scale=0.05, zero_point=-3)
    model = single_op_model("ADD", [spec, TensorSpec((1, 4, 4, 3), "int8", scale=0.04, zero_point=5)],
                            [TensorSpec((1, 4, 4, 3), "int8", scale=0.09, zero_point=2)],
                            {"fused_activation_function": "NONE"}, version=2)
    return model, [rng.integers(-128, 128, (1, 4, 4, 3)).astype(np.int8) for _ in range(2)]


def _fully_connected_int8(seed: int) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = rng.integers(-127, 128, (5, 8)).astype(np.int8)
    bias = rng.integers(-2000, 2000, (5,)).astype(np.int32)
    model = single_op_model(
        "FULLY_CONNECTED",
        [TensorSpec((2, 8), "int8", scale=0.1, zero_point=1), TensorSpec((5, 8), "int8", scale=0.02, data=weights),
         TensorSpec((5,), "int32", scale=0.1 * 0.02, data=bias)],
        [TensorSpec((2, 5), "int8", scale=0.15, zero_point=-1)], {"fused_activation_function": "NONE"}, version=4)
    return model, [rng.integers(-128, 128, (2, 8)).astype(np.int8)]


def _add_float32(seed: int) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    model = single_op_model("ADD", [TensorSpec((2, 3), "float32"), TensorSpec((2, 3), "float32")],
                            [TensorSpec((2, 3), "float32")], {"fused_activation_function": "NONE"})
    return model, [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2)]


HAND_CASES = {("ADD", "int8"): (_add_int8, 2), ("FULLY_CONNECTED", "int8"): (_fully_connected_int8, 2),
              ("ADD", "float32"): (_add_float32, 1)}


def _dump(value: object) -> str:
    return json.dumps(value, sort_keys=True, indent=1) + "\n"


def write_hand_suite(out: Path) -> dict[str, int]:
    """The suite format of docs/conformance.md, five cases; returns the case count per operator."""
    ids, counts = [], {}
    for (operator, kind), (make, count) in HAND_CASES.items():
        for number in range(count):
            case_id = f"{operator}/{kind}/{number:04d}"
            directory = out / case_id
            directory.mkdir(parents=True)
            model, inputs = make(number)
            expected = run_litert_ref(model, inputs)
            (directory / "model.tflite").write_bytes(model)
            for i, value in enumerate(inputs):
                np.save(directory / f"input_{i}.npy", value)
            for j, value in enumerate(expected):
                np.save(directory / f"expected_{j}.npy", value)
            tensors = [{"shape": list(v.shape), "dtype": str(v.dtype)} for v in inputs]
            (directory / "case.json").write_text(_dump({
                "id": case_id, "operator": operator, "kind": kind, "version": 1, "inputs": tensors,
                "outputs": [{"shape": list(v.shape), "dtype": str(v.dtype)} for v in expected], "options": {},
                "quantization": {}, "params": {}, "seed": number, "targets": ["random"],
                "oracle": {"name": "litert-ref", "version": "2.3.0"}, "verify": {"mode": "exact"}}))
            ids.append(case_id)
            counts.setdefault(operator, {}).setdefault(kind, 0)
            counts[operator][kind] += 1
    (out / "suite.json").write_text(_dump({
        "format": "refinterp-conformance", "format_version": 1,
        "generator": {"refinterp": "test", "generator_version": 0, "seed": 0}, "profile": "litert-ref",
        "oracle": {"name": "litert-ref", "package": "ai-edge-litert", "version": "2.3.0"},
        "counts": counts, "total": len(ids), "cases": sorted(ids)}))
    return {op: sum(kinds.values()) for op, kinds in counts.items()}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("ai_edge_litert")
    out = tmp_path_factory.mktemp("suite")
    write_hand_suite(out)
    return out


@pytest.fixture(scope="module")
def validator():
    return json_schema_validator(SCHEMA_PATH)


# A runtime under test as an external program: LiteRT's reference kernels, then a misdeed on one operator.
COMMAND_SCRIPT = r'''
import os, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

model, inputs, outputs, mode = sys.argv[1:5]
action, _, target = mode.partition(":")
interpreter = Interpreter(model_path=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
interpreter.allocate_tensors()
operator = interpreter._get_ops_details()[0]["op_name"]
if operator == target:
    if action == "abort":
        os.abort()
    if action == "sleep":
        time.sleep(60)
    if action == "unsupported":
        print(f"no kernel for {operator}", file=sys.stderr)
        sys.exit(77)
    if action == "refuse":
        print(f"cannot run {operator}: bad parameters", file=sys.stderr)
        sys.exit(3)
for i, detail in enumerate(interpreter.get_input_details()):
    interpreter.set_tensor(detail["index"], np.load(os.path.join(inputs, f"input_{i}.npy")))
interpreter.invoke()
for j, detail in enumerate(interpreter.get_output_details()):
    value = interpreter.get_tensor(detail["index"])
    if action == "perturb" and operator == target:  # one LSB up (down where that would overflow)
        top = np.iinfo(value.dtype).max
        value = np.where(value < top, value.astype(np.int64) + 1, value.astype(np.int64) - 1).astype(value.dtype)
    np.save(os.path.join(outputs, f"output_{j}.npy"), value)
'''

PYTHON_RUNTIME = r'''
import os
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def _run(model_bytes, inputs):
    interpreter = Interpreter(model_content=model_bytes, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    operator = interpreter._get_ops_details()[0]["op_name"]
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return operator, [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def exact(model_bytes, inputs):
    print("a runtime that talks on stdout")  # must not break the worker's protocol
    return _run(model_bytes, inputs)[1]


def no_fully_connected(model_bytes, inputs):
    operator, outputs = _run(model_bytes, inputs)
    if operator == "FULLY_CONNECTED":
        raise NotImplementedError("FULLY_CONNECTED is not offloaded")
    return outputs


def abort_on_fully_connected(model_bytes, inputs):
    operator, outputs = _run(model_bytes, inputs)
    if operator == "FULLY_CONNECTED":
        os.abort()
    return outputs
'''


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("runtimes")
    (directory / "fake_runtime.py").write_text(COMMAND_SCRIPT)
    (directory / "pyruntime.py").write_text(PYTHON_RUNTIME)
    return directory


def command(scripts: Path, mode: str) -> str:
    return f"command:{sys.executable} {scripts / 'fake_runtime.py'} {{model}} {{inputs}} {{outputs}} {mode}"


def by_status(report: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for case in report["cases"]:
        found.setdefault(case["status"], []).append(case["id"])
    return found


# ------------------------------------------------------------------------------------------------
# Reference runtimes pass, and every report is written


@pytest.mark.parametrize("runtime", ["litert-ref", "refinterp"])
def test_reference_runtimes_pass_every_case(runtime, suite, tmp_path, capsys, validator):
    paths = {name: tmp_path / f"report.{name}" for name in ("json", "xml", "html")}
    status = run_main([str(suite), "--against", runtime, "--json", str(paths["json"]), "--junit", str(paths["xml"]),
                       "--html", str(paths["html"]), "--no-progress"])
    assert status == 0
    report = json.loads(paths["json"].read_text())
    validator.validate(report)
    assert report["counts"] == {"cases": 5, "pass": 5, "fail": 0, "error": 0, "unsupported": 0}
    assert all(case["exact"] for case in report["cases"])
    assert [(row["operator"], row["kind"], row["cases"]) for row in report["summary"]] == [
        ("ADD", "float32", 1), ("ADD", "int8", 2), ("FULLY_CONNECTED", "int8", 2)]
    root = ElementTree.parse(paths["xml"]).getroot()
    assert root.get("tests") == "5" and root.get("failures") == "0" and root.get("errors") == "0"
    assert len(root.findall(".//testcase")) == 5
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    printed = capsys.readouterr().out
    assert "FULLY_CONNECTED" in printed and "5 passed, 0 failed, 0 errors, 0 unsupported" in printed


def test_a_generated_suite_passes_against_the_oracle_and_refinterp(tmp_path):
    generate = pytest.importorskip("refinterp.tools.conformance.generate")
    generate.generate_suite(tmp_path / "suite", ops=["MUL"], dtypes=["int8", "float32"], cases_per_kind=2)
    for runtime in ("litert-ref", "refinterp"):
        report = run_suite(tmp_path / "suite", runtime)
        assert report["counts"]["cases"] >= 4
        assert report["counts"]["pass"] == report["counts"]["cases"], format_summary(report)
        assert report["exit_status"] == 0


# ------------------------------------------------------------------------------------------------
# command: runtimes


def test_a_one_lsb_perturbation_fails_exactly_that_operator(suite, scripts, tmp_path, capsys, validator):
    junit, html, out_json = tmp_path / "r.xml", tmp_path / "r.html", tmp_path / "r.json"
    status = run_main([str(suite), "--against", command(scripts, "perturb:FULLY_CONNECTED"), "--junit", str(junit),
                       "--html", str(html), "--json", str(out_json), "--no-progress"])
    assert status == 1
    report = json.loads(out_json.read_text())
    validator.validate(report)
    statuses = by_status(report)
    assert sorted(statuses["fail"]) == ["FULLY_CONNECTED/int8/0000", "FULLY_CONNECTED/int8/0001"]
    assert len(statuses["pass"]) == 3
    row = next(r for r in report["summary"] if r["operator"] == "FULLY_CONNECTED")
    assert row["max_lsb"] == 1 and row["fail"] == 2
    assert set(row["histogram_lsb"]) <= {"+1", "-1"} and sum(row["histogram_lsb"].values()) == 20
    assert row["bias_lsb"] == pytest.approx(sum(int(k) * n for k, n in row["histogram_lsb"].items()) / 20)
    case = next(c for c in report["cases"] if c["id"] == "FULLY_CONNECTED/int8/0000")
    output = case["outputs"][0]
    assert output["differing"] == 10 and output["max_diff"] == 1 and output["first_difference"]["index"] == [0, 0]
    assert "max 1 LSB" in case["message"]
    root = ElementTree.parse(junit).getroot()
    assert root.get("failures") == "2" and root.get("tests") == "5"
    failed = [tc.get("classname") for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert failed == ["FULLY_CONNECTED.int8", "FULLY_CONNECTED.int8"]
    page = html.read_text()
    assert "FULLY_CONNECTED/int8/0000" in page and "<script" not in page and "http" not in page.split("<body>")[1]
    printed = capsys.readouterr().out
    assert "FULLY_CONNECTED/int8/0000: fail: output 0: 10 of 10 elements differ, max 1 LSB" in printed


def test_a_tolerance_passes_the_perturbation_but_reports_it(suite, scripts):
    report = run_suite(suite, command(scripts, "perturb:FULLY_CONNECTED"), tolerance=1)
    assert report["exit_status"] == 0 and report["counts"]["pass"] == 5
    row = next(r for r in report["summary"] if r["operator"] == "FULLY_CONNECTED")
    assert row["inexact"] == 2 and row["max_lsb"] == 1 and sum(row["histogram_lsb"].values()) == 20
    inexact = [c for c in report["cases"] if not c["exact"]]
    assert [c["operator"] for c in inexact] == ["FULLY_CONNECTED"] * 2
    assert all(c["message"].startswith("within tolerance: output 0: 10 of 10 elements differ") for c in inexact)
    assert "2 within tolerance, not exact" in format_summary(report)


def test_a_crashing_command_is_an_error_and_the_run_goes_on(suite, scripts):
    report = run_suite(suite, command(scripts, "abort:FULLY_CONNECTED"))
    statuses = by_status(report)
    assert sorted(statuses["error"]) == ["FULLY_CONNECTED/int8/0000", "FULLY_CONNECTED/int8/0001"]
    assert len(statuses["pass"]) == 3 and report["exit_status"] == 1
    message = next(c["message"] for c in report["cases"] if c["status"] == "error")
    assert message.startswith("the command crashed: killed by SIGABRT")


def test_a_hanging_command_times_out(suite, scripts):
    report = run_suite(suite, command(scripts, "sleep:FULLY_CONNECTED"), ops=["FULLY_CONNECTED"], timeout=2,
                       max_cases_per_kind=1)
    [case] = report["cases"]
    assert case["status"] == "error" and case["message"].startswith("timed out after 2 s")


def test_command_refusals_unsupported_and_error(suite, scripts):
    report = run_suite(suite, command(scripts, "unsupported:FULLY_CONNECTED"))
    assert sorted(by_status(report)["unsupported"]) == ["FULLY_CONNECTED/int8/0000", "FULLY_CONNECTED/int8/0001"]
    assert report["cases"][-1]["message"] == "no kernel for FULLY_CONNECTED"
    assert report["exit_status"] == 0  # unsupported cases do not fail the run ...
    strict = run_suite(suite, command(scripts, "unsupported:FULLY_CONNECTED"), unsupported_fails=True,
                       ops=["FULLY_CONNECTED"])
    assert strict["exit_status"] == 1  # ... unless asked to
    refused = run_suite(suite, command(scripts, "refuse:FULLY_CONNECTED"), ops=["FULLY_CONNECTED"])
    assert by_status(refused) == {"error": ["FULLY_CONNECTED/int8/0000", "FULLY_CONNECTED/int8/0001"]}
    assert refused["cases"][0]["message"] == "exited with status 3: cannot run FULLY_CONNECTED: bad parameters"
    assert refused["exit_status"] == 1


# ------------------------------------------------------------------------------------------------
# python: runtimes (and the worker subprocess that holds them)


def test_python_runtimes(suite, scripts, monkeypatch):
    module = scripts / "pyruntime.py"
    report = run_suite(suite, f"python:{module}:exact")
    assert report["counts"]["pass"] == 5 and report["against"]["kind"] == "python", [
        (c["case"], c["status"], c.get("message")) for c in report["cases"]]
    report = run_suite(suite, f"python:{module}:no_fully_connected")
    assert sorted(by_status(report)["unsupported"]) == ["FULLY_CONNECTED/int8/0000", "FULLY_CONNECTED/int8/0001"]
    # a module on the import path, by name; a crash costs its case only (the worker is restarted)
    monkeypatch.syspath_prepend(str(scripts))
    report = run_suite(suite, "python:pyruntime:abort_on_fully_connected")
    statuses = by_status(report)
    assert len(statuses["pass"]) == 3 and len(statuses["error"]) == 2
    assert all("crashed: killed by SIGABRT" in c["message"] for c in report["cases"] if c["status"] == "error")
    # a runtime that cannot be set up stops the run with one line (exit status 2), it does not err every case
    with pytest.raises(InputError, match="pyruntime.py has no callable 'nothing'"):
        run_suite(suite, f"python:{module}:nothing")


def test_parallel_jobs_give_the_same_results(suite, scripts):
    serial = run_suite(suite, command(scripts, "perturb:ADD"))
    parallel = run_suite(suite, command(scripts, "perturb:ADD"), jobs=2)

    def timeless(report: dict) -> list[dict]:
        return [{k: v for k, v in case.items() if k != "seconds"} for case in report["cases"]]

    assert timeless(serial) == timeless(parallel)
    assert parallel["executor"] == {"name": "local", "jobs": 2, "address": None}
    assert by_status(serial)["fail"] == ["ADD/int8/0000", "ADD/int8/0001"]


def test_ray_gives_the_same_results_as_local(suite, scripts):
    pytest.importorskip("ray")
    runtime = f"python:{scripts / 'pyruntime.py'}:abort_on_fully_connected"  # a crash in a Ray worker's child
    local = run_suite(suite, runtime)
    on_ray = run_suite(suite, runtime, executor="ray", jobs=2)
    assert [{k: v for k, v in c.items() if k != "seconds"} for c in local["cases"]] == \
        [{k: v for k, v in c.items() if k != "seconds"} for c in on_ray["cases"]]
    assert on_ray["counts"] == {"cases": 5, "pass": 3, "fail": 0, "error": 2, "unsupported": 0}
    assert on_ray["executor"] == {"name": "ray", "jobs": 2, "address": None}


# ------------------------------------------------------------------------------------------------
# Exit status 2: bad arguments and suites


@pytest.mark.parametrize("argv, message", [
    (["--against", "nonsense"], "unknown runtime 'nonsense'"),
    (["--against", "command:true {model}"], "must take {outputs}"),
    (["--against", "command:no-such-program {inputs} {outputs}"], "command not found"),
    (["--against", "command:x {inputs} {outputs} {oops}"], "unknown placeholder {oops}"),
    (["--against", "python:nomodule"], "expected python:MODULE:FUNCTION"),
    (["--against", "python:no_such_module_here:f"], "cannot import no_such_module_here"),
    (["--against", "refinterp:nope"], "unknown refinterp profile 'nope'"),
    (["--against", "litert-ref", "--tolerance", "-1"], "must be >= 0"),
    (["--against", "litert-ref", "--ops", "CONV_2D"], "CONV_2D not in the suite"),
    (["--against", "litert-ref", "--tolerance", "x"], "invalid int value"),
    (["--against", "litert-ref", "--address", "auto"], "--address needs --executor ray"),
])
def test_bad_arguments_are_one_line(argv, message, suite):
    with pytest.raises(RefinterpError, match=message.replace("{", r"\{").replace("(", r"\(")):
        run_main([str(suite), *argv])


def test_bad_suites_are_one_line(tmp_path, suite):
    with pytest.raises(InputError, match="no such suite directory"):
        run_main([str(tmp_path / "absent"), "--against", "litert-ref"])
    with pytest.raises(InputError, match="no suite.json"):
        run_main([str(tmp_path), "--against", "litert-ref"])
    (tmp_path / "suite.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="not a refinterp conformance suite"):
        run_main([str(tmp_path), "--against", "litert-ref"])
    index = json.loads((suite / "suite.json").read_text())
    (tmp_path / "suite.json").write_text(json.dumps({**index, "cases": ["ADD/int8/9999"]}))
    with pytest.raises(InputError, match="lack case.json or model.tflite, e.g. ADD/int8/9999"):
        run_main([str(tmp_path), "--against", "litert-ref"])


def test_the_cli_exit_status(suite, scripts, capsys):
    from refinterp import cli

    if "conformance" not in cli.COMMANDS:
        pytest.skip("`refinterp conformance` is not registered in refinterp/cli.py yet")
    assert cli.main(["conformance", "run", str(suite), "--against", "litert-ref", "--no-progress"]) == 0
    assert cli.main(["conformance", "run", str(suite), "--against", command(scripts, "perturb:ADD"),
                     "--no-progress"]) == 1
    assert cli.main(["conformance", "run", str(suite), "--against", "nonsense"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# ------------------------------------------------------------------------------------------------
# The exact figures


def test_integer_figures():
    expected = np.array([[-128, 0, 5], [127, 3, 3]], np.int8)
    actual = np.array([[-128, 1, 5], [120, 3, 4]], np.int8)
    output = compare_output(0, expected, actual)
    assert output["unit"] == "lsb" and output["differing"] == 3 and output["max_diff"] == 7
    assert output["histogram"] == {"-7": 1, "+1": 2}
    assert output["bias"] == pytest.approx(-5 / 6)
    assert output["first_difference"] == {"index": [0, 1], "expected": 0, "actual": 1}
    big = compare_output(0, np.zeros(3, np.int32), np.array([0, 100, -9], np.int32))
    assert big["histogram"] == {"<-8": 1, ">+8": 1}
    assert judge_outputs([expected], [actual], 7, 0)[0] == "pass"
    assert judge_outputs([expected], [actual], 6, 0)[0] == "fail"


def test_float_figures_are_bits_and_ulps():
    one = np.float32(1.0)
    expected = np.array([one, 0.0, np.nan, 2.0], np.float32)
    actual = np.array([np.nextafter(one, np.float32(2)), -0.0, np.nan, 2.0], np.float32)
    output = compare_output(0, expected, actual)
    assert output["unit"] == "ulp" and output["differing"] == 2 and output["max_diff"] == 1  # -0.0 is 1 ULP from 0.0
    assert output["histogram"] == {"-1": 1, "+1": 1} and output["mismatch"] is None
    assert judge_outputs([expected], [actual], 0, 0)[0] == "fail"
    assert judge_outputs([expected], [actual], 5, 0)[0] == "fail"  # an LSB tolerance says nothing of floats
    assert judge_outputs([expected], [actual], 0, 1)[0] == "pass"
    # NaN against a number never passes; another NaN payload is a difference, not an unbounded one
    other_nan = np.array([0x7FC00001], np.uint32).view(np.float32)
    nan_payload = compare_output(0, np.array([np.nan], np.float32), other_nan)
    assert nan_payload["differing"] == 1 and nan_payload["histogram"] == {"nan": 1} and nan_payload["max_diff"] == 0
    nan_number = compare_output(0, np.array([1.0], np.float32), np.array([np.nan], np.float32))
    assert nan_number["mismatch"] == "nan" and nan_number["max_diff"] is None
    assert judge_outputs([np.array([1.0], np.float32)], [np.array([np.nan], np.float32)], 0, 10**9)[0] == "fail"
    json.dumps(nan_number)  # NaN values are written as strings: the report stays valid JSON
    assert nan_number["first_difference"]["actual"] == "nan"


def test_shape_dtype_and_count_mismatches_fail():
    expected = np.zeros((2, 2), np.int8)
    status, outputs, reason = judge_outputs([expected], [np.zeros((4,), np.int8)], 5, 5)
    assert status == "fail" and outputs[0]["mismatch"] == "shape" and "shape mismatch" in reason
    status, outputs, _ = judge_outputs([expected], [np.zeros((2, 2), np.uint8)], 5, 5)
    assert outputs[0]["mismatch"] == "dtype"
    status, outputs, reason = judge_outputs([expected], [], 0, 0)
    assert status == "fail" and outputs[0]["mismatch"] == "missing"
    assert judge_outputs([expected], [expected, expected], 0, 0)[2] == "2 outputs given, 1 expected"


def test_against_specs():
    assert parse_against("refinterp", "tflm").profile == "tflm"
    assert parse_against("refinterp:litert-ref", "tflm").profile == "litert-ref"
    spec = parse_against(f"command:{sys.executable} run.py {{model}} {{inputs}} {{outputs}}")
    assert spec.kind == "command" and spec.command[-3:] == ("{model}", "{inputs}", "{outputs}")
    assert parse_against("python:pkg.module:run").module == "pkg.module"
    assert parse_against(f"python:{os.sep}tmp{os.sep}x.py:run").function == "run"
    with pytest.raises(InputError, match="golden DIR is no runtime under test"):
        parse_against("golden:golden/x")
