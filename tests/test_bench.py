"""refinterp bench on a small model: the gate, missing runtimes, the written reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from refinterp.cli import main as cli_main
from refinterp.errors import RuntimeUnavailableError
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools import bench


@pytest.fixture()
def small_model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    model = single_op_model(
        "CONV_2D",
        inputs=[TensorSpec((1, 12, 12, 8), "int8", scale=0.05, zero_point=-4),
                TensorSpec((16, 3, 3, 8), "int8", scale=[0.01] * 16, zero_point=[0] * 16,
                           data=rng.integers(-127, 128, (16, 3, 3, 8), dtype=np.int8)),
                TensorSpec((16,), "int32", scale=[0.0005] * 16, zero_point=[0] * 16,
                           data=rng.integers(-500, 500, 16).astype(np.int32))],
        outputs=[TensorSpec((1, 12, 12, 16), "int8", scale=0.3, zero_point=2)],
        options={"padding": "SAME", "stride_h": 1, "stride_w": 1, "fused_activation_function": "RELU"},
    )
    path = tmp_path / "conv.tflite"
    path.write_bytes(model)
    return path


def test_bench_writes_json_and_markdown(small_model: Path, tmp_path: Path) -> None:
    json_path, md_path = tmp_path / "r.json", tmp_path / "r.md"
    status = cli_main(["bench", "--model", str(small_model), "--runs", "2", "--warmup", "1",
                               "--runtimes", "refinterp,litert-ref,litert", "--json", str(json_path),
                               "--markdown", str(md_path), "--threads", "1"])
    assert status == 0
    result = json.loads(json_path.read_text())
    assert result["verification"]["equal"] and result["verification"]["against"] == "LiteRT BUILTIN_REF"
    by_name = {row["name"]: row for row in result["runtimes"]}
    assert by_name["refinterp"]["runs"] == 2 and by_name["refinterp"]["ratio_to_refinterp"] == pytest.approx(1.0)
    assert by_name["litert-ref"]["median_ms"] > 0
    assert result["memory"]["peak_bytes"] > 0
    assert [row["op"] for row in result["refinterp_per_op"]] == ["CONV_2D"]
    markdown = md_path.read_text()
    assert "| LiteRT BUILTIN_REF | 1 |" in markdown and "cores" in markdown


def test_missing_runtime_is_reported_not_fatal(small_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*args, **kwargs):
        raise RuntimeUnavailableError("tflite-micro is not installed")

    monkeypatch.setattr(bench, "_tflm_invoker", unavailable)
    result = bench.run_benchmark(small_model, runs=1, warmup=0, threads=1, runtimes=("refinterp", "tflm"),
                                 log=lambda message: None)
    tflm = next(row for row in result["runtimes"] if row["name"] == "tflm")
    assert tflm["status"] == "not installed" and "median_ms" not in tflm
    assert "| TFLite Micro |  | not installed |" in bench.render_markdown(result)


def test_refuses_to_report_when_refinterp_differs(small_model: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    real_verify = bench.verify_refinterp

    def tampered(*args, **kwargs):
        verdict = real_verify(*args, **kwargs)
        verdict.update(equal=False, differing_tensors=[3])
        return verdict

    monkeypatch.setattr(bench, "verify_refinterp", tampered)
    assert cli_main(["bench", "--model", str(small_model), "--runs", "1", "--runtimes", "refinterp"]) == 1
    assert "not reporting timings" in capsys.readouterr().err


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert cli_main(["bench", "--model", str(tmp_path / "missing.tflite")]) == 2
    assert cli_main(["bench", "--runtimes", "litert"]) == 2  # refinterp must be one of them
