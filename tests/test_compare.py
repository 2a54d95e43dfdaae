"""`refinterp compare`: every runtime adapter through it, exit codes, JSON (against the schema), CSV, --isolate.

Expected divergences come from the runtimes themselves (LiteRT's optimized x86 kernels and XNNPACK round
differently from the reference kernels: docs/int8-semantics.md §2.5, §2.7, §4.6); expected counts are
recomputed here by diffing the runtimes' own tensors with NumPy, never taken from refinterp.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from compare_models import chain_model
from conftest import GOLDEN_MODEL, json_schema_validator, needs_golden

from refinterp import cli
from refinterp.model import parse_model
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model
from refinterp.tools.compare import (
    CSV_COLUMNS,
    TERMINAL_WIDTH,
    Isolator,
    Progress,
    aggregate_rows,
    compare,
    compare_tensors,
    difference,
    format_report,
    format_table,
    short_op_type,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "compare.schema.json"


def _litert_available() -> bool:
    try:
        from ai_edge_litert import interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def _tflm_available() -> bool:
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except ImportError:
        return False
    return True


needs_litert = pytest.mark.skipif(not _litert_available(), reason="ai-edge-litert is not installed")
needs_tflm = pytest.mark.skipif(not _tflm_available(), reason="tflite-micro is not installed")


def concat_model() -> bytes:
    """Two int8 inputs concatenated on the channel axis (a two-input model for --inputs DIR)."""
    tensors = [
        TensorSpec((1, 4, 4, 3), "int8", scale=0.1, zero_point=1, name="left"),
        TensorSpec((1, 4, 4, 5), "int8", scale=0.1, zero_point=1, name="right"),
        TensorSpec((1, 4, 4, 8), "int8", scale=0.1, zero_point=1, name="joined"),
    ]
    return build_model(tensors, [OpSpec("CONCATENATION", [0, 1], [2], {"axis": 3})], [0, 1], [2])


@pytest.fixture(scope="module")
def chain_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compare") / "chain.tflite"
    path.write_bytes(chain_model())
    return path


@pytest.fixture(scope="module")
def schema_validator():
    return json_schema_validator(SCHEMA_PATH)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(["compare", *[str(a) for a in args], "--no-progress"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write_input(path: Path, seed: int, shape: tuple[int, ...] = (1, 16, 16, 8)) -> Path:
    np.save(path, np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8))
    return path


# --------------------------------------------------------------------------------------------------
# difference(): the numbers in each row, on hand-made arrays


def test_difference_integer_histogram_counts_lsb():
    reference = np.array([0, 0, 0, 0, 0, 0, 0, 5], np.int8)
    against = np.array([-2, -1, -1, 1, 2, 3, -7, 5], np.int8)
    row = difference(reference, against)
    assert row["status"] == "differs"
    assert row["mismatches"] == 7
    assert row["max_abs_diff"] == 7
    assert row["histogram"] == {"-2": 1, "-1": 2, "+1": 1, "+2": 1, "beyond": 2}
    assert row["max_rel_diff"] is None


def test_difference_int8_extremes_do_not_wrap():
    # -128 vs 127 is 255 LSB apart: an int8 subtraction would wrap to -1.
    row = difference(np.array([-128], np.int8), np.array([127], np.int8))
    assert row["max_abs_diff"] == 255
    assert row["histogram"]["beyond"] == 1


def test_difference_equal_and_float():
    assert difference(np.arange(6, dtype=np.int8), np.arange(6, dtype=np.int8))["status"] == "equal"
    reference = np.array([1.0, -4.0, np.nan, 0.0], np.float32)
    against = np.array([1.0, -4.5, np.nan, 0.25], np.float32)
    row = difference(reference, against)
    assert row["mismatches"] == 2  # NaN == NaN counts as equal
    assert row["max_abs_diff"] == 0.5
    assert row["max_rel_diff"] == 0.5 / 4.0  # relative to the largest |reference|
    assert row["histogram"] is None


def test_difference_missing_and_incompatible():
    value = np.zeros((2, 3), np.int8)
    assert difference(value, None)["status"] == "missing_against"
    assert difference(None, value)["status"] == "missing_reference"
    row = difference(value, np.zeros((3, 2), np.int8))
    assert row["status"] == "incompatible" and row["mismatches"] == 6 and "[2, 3]" in row["detail"]
    assert difference(value, value.astype(np.int16))["status"] == "incompatible"


def _hand_row(mismatches: int, isolation_class: str | None) -> dict:
    row = {"op_index": 0, "op_type": "CONV_2D", "output_position": 0, "tensor_index": 3, "tensor_name": "t",
           "shape": [4], "dtype": "int8", "scale": 0.1, "zero_point": 0, "detail": None, "elements": 4,
           "max_rel_diff": None, "isolation": None}
    row.update(difference(np.zeros(4, np.int8), np.array([1] * mismatches + [0] * (4 - mismatches), np.int8)))
    if isolation_class is not None:
        row["isolation"] = {"class": isolation_class, "inputs_differ": isolation_class == "inherited",
                            "local_mismatches": mismatches if isolation_class == "local" else 0,
                            "local_max_abs_diff": 1 if isolation_class == "local" else 0, "reason": None}
    return row


@pytest.mark.parametrize("classes, expected", [
    (["exact", "exact"], "exact"),
    (["exact", "inherited"], "inherited"),
    (["inherited", "unavailable"], "unavailable"),  # unchecked in one case: it might be local there
    (["unavailable", "local", "inherited"], "local"),  # rounding differently once is enough
])
def test_aggregate_isolation_class(classes, expected):
    cases = [{"tensors": [_hand_row(1 if kind != "exact" else 0, kind)]} for kind in classes]
    row = aggregate_rows(cases)[0]
    assert row["isolation"]["class"] == expected
    assert row["isolation"]["counts"] == {k: classes.count(k) for k in ("exact", "local", "inherited", "unavailable")}
    assert row["mismatches"] == sum(kind != "exact" for kind in classes)
    assert row["diverging_cases"] == sum(kind != "exact" for kind in classes)
    assert row["histogram"]["+1"] == row["mismatches"]


# --------------------------------------------------------------------------------------------------
# Every adapter through compare, on the small chain model


@needs_litert
@pytest.mark.parametrize("runtime", ["litert-ref", "refinterp", pytest.param("tflm", marks=needs_tflm)])
def test_reference_runtimes_are_equal(runtime, chain_path, tmp_path, capsys, schema_validator):
    json_path = tmp_path / "report.json"
    status, out, _ = run_cli([chain_path, "--against", runtime, "--isolate", "--json", json_path], capsys)
    assert status == 0, out
    assert "EQUAL" in out
    report = json.loads(json_path.read_text())
    schema_validator.validate(report)
    assert report["equal"] is True and report["exit_status"] == 0
    assert report["first_divergence"]["op_index"] is None
    assert report["local_ops"] == []
    assert [r["isolation"]["class"] for r in report["cases"][0]["tensors"]] == ["exact"] * 4


def _direct_differences(model_path: Path, reference: str, against: str, inputs: list[np.ndarray]) -> dict[int, int]:
    """Mismatching elements per tensor, from the two runtimes' own tensors (no refinterp involved)."""
    from refinterp.runtimes import get_runtime

    expected = get_runtime(reference).run(str(model_path), inputs).tensors
    actual = get_runtime(against).run(str(model_path), inputs).tensors
    return {i: int(np.count_nonzero(expected[i] != actual[i])) for i in (3, 4, 5, 7)}


@needs_litert
@pytest.mark.parametrize("against, local_ops", [("litert", [0]), ("xnnpack", [0, 1])])
def test_optimized_runtimes_diverge_at_the_conv(against, local_ops, chain_path, tmp_path, capsys, schema_validator):
    """litert (x86 ruy, §2.5) rounds CONV_2D differently; xnnpack also LEAKY_RELU (fp32 §2.7, 8.8 §4.6)."""
    x = write_input(tmp_path / "x.npy", seed=3)
    json_path = tmp_path / "report.json"
    status, out, _ = run_cli([chain_path, "--against", against, "--reference", "litert-ref", "--input", x,
                              "--isolate", "--json", json_path], capsys)
    assert status == 1, out
    report = json.loads(json_path.read_text())
    schema_validator.validate(report)
    first = report["first_divergence"]
    assert (first["op_index"], first["op_type"], first["isolation"]) == (0, "CONV_2D", "local")
    assert "first divergence: op 0 CONV_2D" in out
    rows = report["cases"][0]["tensors"]
    direct = _direct_differences(chain_path, "litert-ref", against, [np.load(x)])
    assert {r["tensor_index"]: r["mismatches"] for r in rows} == direct
    assert direct[3] > 0  # the runtime really rounds the conv differently on this input
    assert report["local_ops"] == local_ops
    # The first diverging op had equal inputs, so all its mismatches are local.
    assert rows[0]["isolation"]["inputs_differ"] is False
    assert rows[0]["isolation"]["local_mismatches"] == rows[0]["mismatches"]
    hist = rows[0]["histogram"]
    assert hist["-1"] + hist["+1"] == rows[0]["mismatches"] and rows[0]["max_abs_diff"] == 1
    for row in rows[2:]:  # MAX_POOL_2D and RESHAPE move data: never local
        assert row["isolation"]["class"] in ("exact", "inherited"), row
        assert row["isolation"]["class"] == ("exact" if row["mismatches"] == 0 else "inherited")


@needs_litert
def test_golden_dir_adapter(chain_path, tmp_path, capsys, schema_validator):
    from refinterp.tools.golden import make_golden

    golden = tmp_path / "golden"
    inputs = {"a": [np.load(write_input(tmp_path / "a.npy", 1))], "b": [np.load(write_input(tmp_path / "b.npy", 2))]}
    make_golden(chain_path, golden, runtime="litert-ref", inputs=inputs, confirm_with=())
    # With a golden runtime and no inputs given, the golden DIR's own cases are compared.
    json_path = tmp_path / "report.json"
    status, out, _ = run_cli([chain_path, "--against", f"golden:{golden}", "--json", json_path], capsys)
    assert status == 0, out
    report = json.loads(json_path.read_text())
    schema_validator.validate(report)
    assert [c["name"] for c in report["cases"]] == ["a", "b"]
    assert report["inputs"]["source"] == "golden"
    # The golden as the reference: litert (optimized) must diverge from it at the conv.
    status, out, _ = run_cli([chain_path, "--reference", f"golden:{golden}", "--against", "litert"], capsys)
    assert status == 1 and "first divergence: op 0 CONV_2D" in out
    # Inputs that are not a golden case are an error, not a divergence.
    status, _, err = run_cli([chain_path, "--against", f"golden:{golden}", "--seed", "7"], capsys)
    assert status == 2 and "no case" in err


def test_delegate_with_a_bad_path_exits_2(chain_path, tmp_path, capsys):
    status, out, err = run_cli([chain_path, "--against", f"delegate:{tmp_path}/nope.so"], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "nope.so" in err and "does not exist" in err


# --------------------------------------------------------------------------------------------------
# Errors: exit 2 with one line


def test_unknown_runtime_lists_the_valid_ones(chain_path, capsys):
    status, _, err = run_cli([chain_path, "--against", "onnxruntime"], capsys)
    assert status == 2 and err.count("\n") == 1
    for name in ("litert-ref", "litert", "xnnpack", "tflm", "golden:DIR", "refinterp", "delegate:PATH.so"):
        assert name in err


def test_missing_runtime_package_names_it(chain_path, capsys, monkeypatch):
    # An import of ai_edge_litert now fails as if the package were not installed.
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    status, out, err = run_cli([chain_path, "--against", "xnnpack"], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "ai-edge-litert" in err


def test_wrong_input_shape_exits_2(chain_path, tmp_path, capsys):
    x = write_input(tmp_path / "small.npy", seed=0, shape=(1, 8, 8, 8))
    status, _, err = run_cli([chain_path, "--against", "refinterp", "--input", x], capsys)
    assert status == 2 and "expects shape [1, 16, 16, 8]" in err and err.count("\n") == 1


def test_wrong_input_count_and_bad_dir_exit_2(chain_path, tmp_path, capsys):
    x = write_input(tmp_path / "x.npy", seed=0)
    status, _, err = run_cli([chain_path, "--against", "refinterp", "--input", x, x], capsys)
    assert status == 2 and "1 input(s), 2 given" in err
    (tmp_path / "empty").mkdir()
    status, _, err = run_cli([chain_path, "--against", "refinterp", "--inputs", tmp_path / "empty"], capsys)
    assert status == 2 and "no .npy files" in err
    status, _, err = run_cli([chain_path, "--against", "refinterp", "--input", x, "--seed", "1"], capsys)
    assert status == 2 and "not allowed with" in err


# --------------------------------------------------------------------------------------------------
# Input directories, CSV, progress


@needs_litert
def test_inputs_dir_gives_per_case_and_aggregate_figures(chain_path, tmp_path, capsys, schema_validator):
    cases = tmp_path / "cases"
    cases.mkdir()
    inputs = [np.load(write_input(cases / f"case{k}.npy", seed=10 + k)) for k in range(3)]
    json_path, csv_path = tmp_path / "r.json", tmp_path / "r.csv"
    status, out, _ = run_cli([chain_path, "--against", "litert", "--reference", "litert-ref", "--inputs", cases,
                              "--json", json_path, "--csv", csv_path], capsys)
    report = json.loads(json_path.read_text())
    schema_validator.validate(report)
    assert [c["name"] for c in report["cases"]] == ["case0", "case1", "case2"]
    per_case = [_direct_differences(chain_path, "litert-ref", "litert", [x]) for x in inputs]
    aggregate = {r["tensor_index"]: r for r in report["aggregate"]["tensors"]}
    for tensor_index in (3, 4, 5, 7):
        assert aggregate[tensor_index]["mismatches"] == sum(d[tensor_index] for d in per_case)
        assert aggregate[tensor_index]["diverging_cases"] == sum(d[tensor_index] > 0 for d in per_case)
        assert aggregate[tensor_index]["elements"] == 3 * int(np.prod(aggregate[tensor_index]["shape"]))
    assert status == (1 if any(sum(d.values()) for d in per_case) else 0)
    assert "aggregate over 3 cases" in out
    for case in report["cases"]:
        assert f"case {case['name']}: " in out

    rows = list(csv.reader(io.StringIO(csv_path.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0][:6] == ["case", "op_index", "op_type", "output_position", "tensor_index", "tensor_name"]
    assert len(rows) == 1 + 3 * 4  # one row per (case, operator output tensor)
    by_key = {(r[0], int(r[4])): r for r in rows[1:]}
    for case_name, direct in zip(["case0", "case1", "case2"], per_case, strict=True):
        for tensor_index, count in direct.items():
            assert int(by_key[(case_name, tensor_index)][CSV_COLUMNS.index("mismatches")]) == count


def test_inputs_dir_for_a_two_input_model(tmp_path, capsys):
    model = tmp_path / "concat.tflite"
    model.write_bytes(concat_model())
    cases = tmp_path / "cases"
    cases.mkdir()
    for name, seed in (("a", 0), ("b", 1)):
        write_input(cases / f"{name}_0.npy", seed, (1, 4, 4, 3))
        write_input(cases / f"{name}_1.npy", seed + 5, (1, 4, 4, 5))
    json_path = tmp_path / "r.json"
    # against the oracle, so that exit status 0 means every tensor of both cases equals LiteRT BUILTIN_REF's
    status, out, _ = run_cli([model, "--against", "litert-ref", "--inputs", cases, "--json", json_path], capsys)
    assert status == 0, out
    report = json.loads(json_path.read_text())
    assert [c["name"] for c in report["cases"]] == ["a", "b"]
    assert report["cases"][0]["inputs"][1].endswith("a_1.npy")
    (cases / "b_1.npy").unlink()
    status, _, err = run_cli([model, "--against", "refinterp", "--inputs", cases], capsys)
    assert status == 2 and "'b'" in err and "b_1.npy" in err


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_long_runs(monkeypatch):
    quiet = io.StringIO()
    progress = Progress(5, stream=quiet)
    for done in range(6):
        progress.update(done, "case")
    progress.close()
    assert quiet.getvalue() == ""  # a quick run into a log writes nothing

    terminal = _FakeTerminal()
    progress = Progress(4, stream=terminal)
    progress.update(1, "case")
    assert terminal.getvalue() == ""  # not yet: the run is younger than PROGRESS_AFTER_SECONDS
    progress.started -= 60  # pretend the run has lasted a minute
    progress.update(2, "case")
    assert "\r" in terminal.getvalue() and "2/4" in terminal.getvalue()
    progress.close()
    assert terminal.getvalue().endswith("\r")

    log = io.StringIO()
    progress = Progress(4, stream=log)
    progress.started -= 60
    progress.last_log -= 60
    progress.update(3)
    assert log.getvalue() == "compare: 3/4 input cases done, 60 s\n"


# --------------------------------------------------------------------------------------------------
# The terminal table: 100 columns, the tensor index always visible


def _table_row(op_index: int, op_type: str, tensor_index: int, name: str, reference: np.ndarray,
               against: np.ndarray | None, isolation: dict | None = None) -> dict:
    row = {"op_index": op_index, "op_type": op_type, "output_position": 0, "tensor_index": tensor_index,
           "tensor_name": name, "shape": list(reference.shape), "dtype": str(reference.dtype), "isolation": isolation}
    row.update(difference(reference, against))
    return row


def test_table_fits_100_columns_and_keeps_the_tensor_index():
    a = np.arange(-60, 60, dtype=np.int8).reshape(1, 2, 3, 20)
    f = np.linspace(-1, 1, 120, dtype=np.float32).reshape(1, 2, 3, 20)
    local = {"class": "local", "inputs_differ": False, "local_mismatches": 1234567, "local_max_abs_diff": 3,
             "reason": None, "diverging_cases": 3}
    rows = [
        _table_row(0, "DEPTHWISE_CONV_2D", 1234, "model/" + "block_" * 20 + "conv/BiasAdd", a, a + np.int8(1), local),
        _table_row(1, "RESIZE_NEAREST_NEIGHBOR", 7, "float/out", f, f * np.float32(1.5), None),
        _table_row(2, "A_VERY_LONG_CUSTOM_OPERATOR", 8, "kept/inside/the/delegate", a, None, None),
        _table_row(3, "ADD", 9, "bad", a, a.reshape(2, 60), None),
        _table_row(4, "RESHAPE", 10, "same", a, a.copy(), None),
    ]
    for row in rows:
        row["diverging_cases"] = 2
    for show_cases in (False, True):
        lines = format_table(rows, first_op=0, show_cases=show_cases).splitlines()
        assert max(len(line) for line in lines) <= TERMINAL_WIDTH == 100
        body = lines[1:1 + len(rows)]
        for line, row in zip(body, rows, strict=True):
            assert f" {row['tensor_index']} " in line  # the index is never cut away
        assert body[0].startswith(">") and "DW_CONV_2D" in body[0]
        assert "asAdd " in body[0]  # the end of the name, cut from the left
        assert "local 1234567 max 3" in body[0] and " 120 " in body[0]  # 120 elements differ, all +1
        assert "rel " in body[1] and "RESIZE_NN" in body[1]
        assert "missing" in body[2] and "in against" in body[2] and "A_VERY_LONG~" in body[2]
        assert "incompat." in body[3] and lines[-1].startswith("  tensor 9: reference int8")
        assert "equal" in body[4]
    assert short_op_type("CONV_2D") == "CONV_2D"


def test_report_text_fits_100_columns(chain_path):
    report = compare(chain_path, "refinterp", "refinterp")
    for row in report["cases"][0]["tensors"]:
        row["tensor_name"] = "yolov3_tiny_1/" * 8 + row["tensor_name"]
    row = report["cases"][0]["tensors"][0]
    row.update(status="differs", mismatches=5, max_abs_diff=2, histogram={"-2": 1, "-1": 2, "+1": 2, "+2": 0,
                                                                          "beyond": 0})
    report["first_divergence"].update(op_index=0, op_type="CONV_2D", tensor_index=row["tensor_index"],
                                      tensor_name=row["tensor_name"], mismatches=5, max_abs_diff=2)
    report["equal"] = False
    report["summary"]["differing_tensors"] = 1
    report["isolate"], report["local_ops"] = True, [0] * 30
    text = format_report(report)
    assert max(len(line) for line in text.splitlines()) <= 100, text
    assert f"first divergence: op 0 CONV_2D (tensor {row['tensor_index']} '..." in text
    assert text.count("0 CONV_2D") >= 30  # the local ops, wrapped between items


# --------------------------------------------------------------------------------------------------
# Isolation when the other runtime keeps tensors to itself


def test_isolation_is_unavailable_without_the_other_runtimes_tensors(chain_path):
    from refinterp.runtimes import get_runtime

    model = parse_model(chain_path.read_bytes())
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 16, 16, 8), dtype=np.int8)
    tensors = get_runtime("refinterp").run(str(chain_path), [x]).tensors
    # A delegate that fused CONV_2D + LEAKY_RELU would not write the conv output (tensor 3).
    against = {i: v for i, v in tensors.items() if i != 3}
    rows = compare_tensors(model, tensors, against, Isolator(chain_path, model, "litert-ref"), "fused")
    by_op = {r["op_index"]: r for r in rows}
    assert by_op[0]["status"] == "missing_against"  # not compared, and not a divergence
    assert by_op[0]["isolation"]["class"] == "unavailable"
    assert by_op[1]["isolation"]["class"] == "unavailable"
    assert "no value for input tensor(s) 3" in by_op[1]["isolation"]["reason"]
    assert [by_op[i]["isolation"]["class"] for i in (2, 3)] == ["exact", "exact"]


class _DroppingRuntime:
    """refinterp, but its result lacks tensor 3 (as a delegate that keeps an intermediate internal)."""

    name = "dropping"

    def version(self) -> str:
        return "test double"

    def run(self, model_path, inputs):
        from refinterp.runtimes import RefinterpRuntime

        result = RefinterpRuntime().run(model_path, inputs)
        del result.tensors[3]
        return result


def test_missing_tensors_are_not_a_divergence(chain_path, monkeypatch, schema_validator):
    from refinterp.tools import compare as compare_module

    real_runtime_for = compare_module._runtime_for
    monkeypatch.setattr(compare_module, "_runtime_for", lambda spec, profile: _DroppingRuntime()
                        if spec == "dropping" else real_runtime_for(spec, profile))
    report = compare(chain_path, "dropping", "refinterp", isolate=True)
    schema_validator.validate(report)
    assert report["equal"] is True and report["exit_status"] == 0
    assert report["summary"]["missing_tensors"] == 1
    assert report["first_divergence"]["op_index"] is None
    assert report["cases"][0]["tensors"][0]["status"] == "missing_against"
    assert [r["isolation"]["class"] for r in report["cases"][0]["tensors"]] == [
        "unavailable", "unavailable", "exact", "exact"]


# --------------------------------------------------------------------------------------------------
# The golden YOLOv3-tiny model: the acceptance runs of issue 3


@needs_golden
@needs_litert
@pytest.mark.parametrize("runtime", ["litert-ref", pytest.param("tflm", marks=needs_tflm)])
def test_golden_model_equal_on_reference_runtimes(runtime, capsys):
    status, out, _ = run_cli([GOLDEN_MODEL, "--against", runtime], capsys)
    assert status == 0, out


@needs_golden
@needs_litert
@pytest.mark.parametrize("runtime", ["litert", "xnnpack"])
def test_golden_model_local_ops(runtime, tmp_path, capsys, schema_validator):
    json_path = tmp_path / "report.json"
    status, out, _ = run_cli([GOLDEN_MODEL, "--against", runtime, "--isolate", "--json", json_path], capsys)
    assert status == 1, out
    report = json.loads(json_path.read_text())
    schema_validator.validate(report)
    assert (report["first_divergence"]["op_index"], report["first_divergence"]["op_type"]) == (0, "CONV_2D")
    rows = report["aggregate"]["tensors"]
    classes = {r["op_index"]: (r["op_type"], r["isolation"]["class"]) for r in rows}
    convs = {i for i, (op, _) in classes.items() if op == "CONV_2D"}
    leaky = {i for i, (op, _) in classes.items() if op == "LEAKY_RELU"}
    local = set(report["local_ops"])
    if runtime == "litert":
        # x86 ruy (§2.5) rounds every conv's requantization differently; LEAKY_RELU is the reference rule.
        assert local == convs
    else:
        # XNNPACK: fp32 requantization in every conv (§2.7), 8.8 fixed-point LEAKY_RELU (§4.6).
        assert local == convs | leaky
    for op_type, kind in classes.values():
        if op_type in ("MAX_POOL_2D", "CONCATENATION", "RESIZE_NEAREST_NEIGHBOR", "RESHAPE"):
            assert kind in ("exact", "inherited")
