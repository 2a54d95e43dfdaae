"""``refinterp conformance generate``: the suite's layout, its expected outputs (LiteRT BUILTIN_REF's and
TFLM's, run here afresh without refinterp), byte-identical regeneration, and bad arguments."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from oracle import require_tflm, run_litert_ref, run_tflm

from refinterp.cli import main as cli_main
from refinterp.tools.conformance.generate import generate_suite, output_difference, path_safe
from refinterp.tools.conformance.generators import TFLM_KINDS

OPS = ["CONV_2D", "ADD", "QUANTIZE", "CEIL"]  # CEIL: LiteRT's builtin resolver is its oracle
DTYPES = ["int8", "float32", "float32->int8"]
CASES = 3


def suite_files(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def load_case(directory: Path) -> tuple[dict, bytes, list[np.ndarray], list[np.ndarray]]:
    record = json.loads((directory / "case.json").read_text())
    inputs = [np.load(directory / f"input_{i}.npy", allow_pickle=False) for i in range(len(record["inputs"]))]
    expected = [np.load(directory / f"expected_{j}.npy", allow_pickle=False) for j in range(len(record["outputs"]))]
    return record, (directory / "model.tflite").read_bytes(), inputs, expected


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """The same small suite generated twice: once in this process, once with two worker processes."""
    first = tmp_path_factory.mktemp("suite") / "a"
    second = tmp_path_factory.mktemp("suite") / "b"
    suite = generate_suite(first, ops=OPS, dtypes=DTYPES, cases_per_kind=CASES, seed=3)
    generate_suite(second, ops=OPS, dtypes=DTYPES, cases_per_kind=CASES, seed=3, jobs=2)
    return first, suite, second


def test_layout_and_index(suites: tuple[Path, dict, Path]) -> None:
    root, suite, _ = suites
    assert json.loads((root / "suite.json").read_text()) == suite
    assert suite["format"] == "refinterp-conformance" and suite["format_version"] == 1
    assert suite["profile"] == "litert-ref" and suite["oracle"]["name"] == "litert-ref"
    assert suite["oracle"]["builtin_resolver"]["operators"] == ["CEIL"]
    assert not suite["disagreements"] and not suite["short"] and not suite["generator_failures"]
    assert set(suite["counts"]) == set(OPS)
    assert set(suite["counts"]["QUANTIZE"]) == {"float32->int8"}
    assert all(n >= CASES for kinds in suite["counts"].values() for n in kinds.values())
    assert suite["total"] == len(suite["cases"]) == sum(n for k in suite["counts"].values() for n in k.values())
    assert suite["cases"] == sorted(suite["cases"])
    on_disk = sorted(str(p.parent.relative_to(root)) for p in root.rglob("case.json"))
    assert on_disk == suite["cases"]
    for case_id in suite["cases"]:
        record, _, inputs, expected = load_case(root / case_id)
        op, kind_dir, number = case_id.split("/")
        assert record["id"] == case_id and path_safe(record["operator"]) == op
        assert path_safe(record["kind"]) == kind_dir and len(number) == 4
        assert record["verify"] == {"mode": "exact"} and "random" in record["targets"]
        assert record["oracle"]["name"] == ("litert" if record["operator"] == "CEIL" else "litert-ref")
        assert [list(a.shape) for a in inputs] == [t["shape"] for t in record["inputs"]]
        assert [str(a.dtype) for a in expected] == [t["dtype"] for t in record["outputs"]]
        if "saturation-high" in record["targets"]:
            assert any(a.dtype.kind in "iu" and (a == np.iinfo(a.dtype).max).any() for a in expected)
        files = sorted(p.name for p in (root / case_id).iterdir())
        assert files == sorted(["model.tflite", "case.json", *(f"input_{i}.npy" for i in range(len(inputs))),
                                *(f"expected_{j}.npy" for j in range(len(expected)))])
    conv_targets = set().union(*(json.loads((root / c / "case.json").read_text())["targets"]
                                 for c in suite["cases"] if c.startswith("CONV_2D/int8/")))
    # the sweep draws every padding of the generator, and per-channel as well as per-tensor weights
    assert {"padding-same", "padding-valid", "per-channel", "per-tensor-weights"} <= conv_targets


def test_expected_outputs_are_litert_builtin_ref(suites: tuple[Path, dict, Path]) -> None:
    root, suite, _ = suites
    for case_id in suite["cases"]:
        record, model, inputs, expected = load_case(root / case_id)
        fresh = run_litert_ref(model, inputs, op=record["operator"])
        assert output_difference(fresh, expected) is None, case_id


def test_regeneration_is_byte_identical(suites: tuple[Path, dict, Path]) -> None:
    """Same seed, same versions: the same bytes, whether one process or two wrote the suite."""
    first, _, second = suites
    assert suite_files(first) == suite_files(second)


def test_profile_tflm(tmp_path: Path) -> None:
    require_tflm()
    kind = ("ADD", "int8")
    assert kind in TFLM_KINDS
    suite = generate_suite(tmp_path / "tflm", ops=[kind[0]], dtypes=[kind[1]], cases_per_kind=CASES,
                           profile="tflm")
    assert suite["oracle"]["name"] == "tflm" and suite["counts"] == {"ADD": {"int8": suite["total"]}}
    assert suite["total"] >= CASES and not suite["disagreements"]
    for case_id in suite["cases"]:
        record, model, inputs, expected = load_case(tmp_path / "tflm" / case_id)
        assert record["oracle"]["name"] == "tflm"
        assert output_difference(run_tflm(model, inputs), expected) is None, case_id


def test_kinds_without_a_generator_are_listed(tmp_path: Path) -> None:
    suite = generate_suite(tmp_path / "s", ops=["WHILE", "ABS"], dtypes=["all", "int8"], cases_per_kind=1)
    assert suite["counts"] == {"ABS": {"int8": suite["total"]}}
    assert [(k["operator"], k["kind"]) for k in suite["not_covered"]] == [("WHILE", "all")]


@pytest.mark.parametrize("arguments", [
    [],
    ["--cases-per-kind", "0"],
    ["--cases-per-kind", "many"],
    ["--ops", "NO_SUCH_OP"],
    ["--ops", "ADD", "--dtypes", "int3"],
    ["--profile", "tflite"],
    ["-j", "0"],
    ["--seed", "-1"],
    ["--bogus"],
], ids=lambda a: " ".join(a) or "no OUT")
def test_bad_arguments_exit_2_with_one_line(arguments: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = [str(tmp_path / "out")] if arguments else []
    status = cli_main(["conformance", "generate", *out, *arguments])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.count("\n") == 1 and captured.err.startswith("refinterp: error: "), captured.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_refuses_a_directory_that_is_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert cli_main(["conformance", "generate", str(tmp_path), "--ops", "ABS", "--dtypes", "int8"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"
