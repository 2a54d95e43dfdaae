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
from refinterp.model import parse_model
from refinterp.tools.conformance.generate import TARGETED, generate_suite, output_difference, path_safe
from refinterp.tools.conformance.generators import TFLM_KINDS

# CEIL: LiteRT's builtin resolver is its oracle. The quantized kinds get targeted variants too (rounding ties,
# zero points at the limits, tiny and huge output scales).
OPS = ["CONV_2D", "FULLY_CONNECTED", "ADD", "QUANTIZE", "CEIL"]
DTYPES = ["int8", "float32", "float32->int8", "int8->int8"]
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
    assert set(suite["counts"]["QUANTIZE"]) == {"float32->int8", "int8->int8"}
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
        assert record["verify"] == {"mode": "exact"}
        assert ("random" in record["targets"]) != ("targeted" in record["targets"])
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


def test_targeted_variants(suites: tuple[Path, dict, Path]) -> None:
    """Every target has variants; each rewrites only what its params say (the expected outputs of every case,
    variants included, are LiteRT's: test_expected_outputs_are_litert_builtin_ref)."""
    root, suite, _ = suites
    assert suite["generator"]["targeted"] is True
    assert all(suite["targeted"]["written"][target] >= 1 for target in TARGETED), suite["targeted"]
    seen = {target: set() for target in TARGETED}
    for case_id in suite["cases"]:
        record, _, _, _ = load_case(root / case_id)
        if "targeted" not in record["targets"]:
            continue
        rewrite = record["params"]["targeted"]
        target = rewrite["target"]
        assert target in record["targets"] and target in TARGETED
        seen[target].add(record["operator"])
        output = record["outputs"][0]
        assert {"scale": output["scale"], "zero_point": output["zero_point"]} == rewrite["output_after"]
        before, after = rewrite["output_before"], rewrite["output_after"]
        if target.startswith("zero-point"):
            low, high = np.iinfo(output["dtype"]).min, np.iinfo(output["dtype"]).max
            assert after == {"scale": before["scale"], "zero_point": low if target == "zero-point-min" else high}
        elif target.startswith("scale"):
            factor = 1e-3 if target == "scale-tiny" else 1e3
            assert after["zero_point"] == before["zero_point"]
            assert after["scale"] == pytest.approx(before["scale"] * factor, rel=1e-6)
        else:
            assert after["zero_point"] == before["zero_point"] and 0 < rewrite["multiplier"] <= 0.5
    assert seen["rounding-tie"] >= {"CONV_2D", "FULLY_CONNECTED", "ADD", "QUANTIZE"}, seen
    assert all(seen[t] >= {"CONV_2D", "FULLY_CONNECTED", "ADD", "QUANTIZE"} for t in TARGETED), seen


def conv_accumulators(record: dict, model_bytes: bytes, x: np.ndarray) -> np.ndarray:
    """CONV_2D's int32 accumulators (bias included), NHWC input and OHWI filter, derived here in int64."""
    tensors = parse_model(model_bytes).subgraphs[0].tensors
    by_name = {q["tensor"]: q for q in record["quantization"]}
    weights, bias = tensors[1], tensors[2]
    w = weights.data.astype(np.int64) - np.asarray(by_name[1]["zero_point"], np.int64).reshape(-1, 1, 1, 1)
    b = bias.data.astype(np.int64) if bias.data is not None else np.zeros(w.shape[0], np.int64)
    o = record["options"]
    sh, sw, dh, dw = o["stride_h"], o["stride_w"], o["dilation_h_factor"], o["dilation_w_factor"]
    n, h, wd, c = x.shape
    out_c, kh, kw, group_c = w.shape
    groups = c // group_c
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if o["padding"] == "SAME":
        oh, ow = -(-h // sh), -(-wd // sw)
        top, left = max((oh - 1) * sh + eh - h, 0) // 2, max((ow - 1) * sw + ew - wd, 0) // 2
    else:
        oh, ow, top, left = (h - eh) // sh + 1, (wd - ew) // sw + 1, 0, 0
    centered = x.astype(np.int64) - by_name[0]["zero_point"]
    padded = np.zeros((n, h + 2 * eh, wd + 2 * ew, c), np.int64)
    padded[:, top:top + h, left:left + wd] = centered
    acc = np.zeros((n, oh, ow, out_c), np.int64)
    per_group = out_c // groups
    for oc in range(out_c):
        g = oc // per_group
        for i in range(kh):
            for j in range(kw):
                window = padded[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw,
                                g * group_c:(g + 1) * group_c]
                acc[..., oc] += window @ w[oc, i, j]
    return acc + b


def test_conv_rounding_tie_variant_holds_exact_ties(suites: tuple[Path, dict, Path]) -> None:
    """acc * s_in * s_w / s_out in float64 lies exactly on .5 for some outputs, and there LiteRT rounds half
    away from zero (derived by hand from the model's constants, not by refinterp)."""
    root, suite, _ = suites
    ties = 0
    for case_id in suite["cases"]:
        if not case_id.startswith("CONV_2D/int8/"):
            continue
        record, model, inputs, expected = load_case(root / case_id)
        if "rounding-tie" not in record["targets"] or "targeted" not in record["targets"]:
            continue
        acc = conv_accumulators(record, model, inputs[0])
        assert acc.shape == expected[0].shape and record["options"]["fused_activation_function"] == "NONE"
        q = {t["tensor"]: t for t in record["quantization"]}
        s_w = q[1]["scale"] if isinstance(q[1]["scale"], float) else q[1]["scale"][0]
        out = record["outputs"][0]
        real = acc.astype(np.float64) * (q[0]["scale"] * s_w / out["scale"])
        assert record["params"]["targeted"]["multiplier"] == q[0]["scale"] * s_w / out["scale"]  # exact: powers of 2
        on_tie = np.abs(real - np.trunc(real)) == 0.5
        ties += int(on_tie.sum())
        # LiteRT rounds ties half away from zero; where the output is not clamped (by the activation or the
        # type), it is that rounding
        rounded = np.sign(real) * np.floor(np.abs(real) + 0.5) + out["zero_point"]
        got = expected[0].astype(np.float64)
        clamped = (got == got.min()) | (got == got.max())
        assert np.array_equal(got[on_tie & ~clamped], rounded[on_tie & ~clamped]), case_id
    assert ties > 0


def test_oracle_refusals_are_counted_in_the_same_bytes(tmp_path: Path) -> None:
    """CONCATENATION int8 requires the output's quantization to equal the inputs': LiteRT refuses the variants
    (counted per target), and its message, whose float operands it prints with %d, is kept without them."""
    for name in ("a", "b"):
        generate_suite(tmp_path / name, ops=["CONCATENATION"], dtypes=["int8"], cases_per_kind=1)
    first = (tmp_path / "a" / "suite.json").read_text()
    assert first == (tmp_path / "b" / "suite.json").read_text()
    suite = json.loads(first)
    assert suite["targeted"]["rejected_by_oracle"]["zero-point-min"] >= 1
    assert any(reason.startswith("zero-point-min: ")
               for reason in suite["rejected_by_oracle"]["CONCATENATION/int8"]["reasons"])


def test_no_targeted(tmp_path: Path) -> None:
    suite = generate_suite(tmp_path / "s", ops=["ADD"], dtypes=["int8"], cases_per_kind=1, targeted=False)
    assert suite["generator"]["targeted"] is False and sum(suite["targeted"]["written"].values()) == 0
    assert all("random" in json.loads((tmp_path / "s" / c / "case.json").read_text())["targets"]
               for c in suite["cases"])


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
