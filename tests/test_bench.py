"""refinterp bench on a small model: the gate, missing runtimes, the written reports."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from oracle import require_tflm

from refinterp import interpreter as interpreter_module
from refinterp.cli import main as cli_main
from refinterp.errors import RefinterpError, RuntimeUnavailableError
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools import bench


@pytest.fixture(autouse=True)
def short_idle_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other processes' CPU use is sampled for a second before each timing: a twentieth is enough here."""
    monkeypatch.setattr(bench, "IDLE_SAMPLE_S", 0.05)


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


# --------------------------------------------------------------------------------------------------
# --models: many models in one table


def _binary_model(op: str = "ADD") -> bytes:
    """``op`` (ADD, SUB) of two int8 inputs with different scales (the rescaling path)."""
    return single_op_model(
        op,
        inputs=[TensorSpec((1, 6, 6, 4), "int8", scale=0.02, zero_point=3),
                TensorSpec((1, 6, 6, 4), "int8", scale=0.05, zero_point=-7)],
        outputs=[TensorSpec((1, 6, 6, 4), "int8", scale=0.07, zero_point=1)],
        options={"fused_activation_function": "NONE"})


@pytest.fixture()
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with add.tflite and nested/refused.tflite (SUB, which refinterp is made not to know here)."""
    directory = tmp_path / "models"
    (directory / "nested").mkdir(parents=True)
    (directory / "add.tflite").write_bytes(_binary_model("ADD"))
    (directory / "nested" / "refused.tflite").write_bytes(_binary_model("SUB"))
    (directory / "notes.txt").write_text("not a model")
    real_lookup = interpreter_module.lookup
    monkeypatch.setattr(interpreter_module, "lookup", lambda name: None if name == "SUB" else real_lookup(name))
    return directory


def test_models_table_json_and_markdown(small_model: Path, model_dir: Path, tmp_path: Path) -> None:
    json_path, md_path = tmp_path / "m.json", tmp_path / "m.md"
    status = cli_main(["bench", "--models", str(model_dir), str(small_model), str(model_dir / "add.tflite"),
                       "--runs", "3", "--warmup", "1", "--rounds", "3", "--threads", "1", "--in-process",
                       "--runtimes", "refinterp,litert-ref,litert", "--json", str(json_path),
                       "--markdown", str(md_path)])
    assert status == 0
    result = json.loads(json_path.read_text())
    by_name = {Path(e["model"]).name: e for e in result["models"]}
    assert sorted(by_name) == ["add.tflite", "conv.tflite", "refused.tflite"]  # add.tflite given twice: once
    assert result["timed_models"] == 2
    refused = by_name["refused.tflite"]
    assert refused["status"] == "unsupported" and refused["unsupported"] == "SUB #0" and "runtimes" not in refused
    for name in ("add.tflite", "conv.tflite"):
        entry = by_name[name]
        assert entry["status"] == "timed"
        assert entry["verification"]["equal"] and entry["verification"]["against"] == "LiteRT BUILTIN_REF"
        rows = {row["name"]: row for row in entry["runtimes"]}
        assert rows["refinterp"]["runs"] == 3 and rows["refinterp"]["ratio_to_refinterp"] == pytest.approx(1.0)
        assert len(rows["refinterp"]["round_medians_ms"]) == 3 and rows["refinterp"]["round_spread"] >= 1.0
        assert rows["litert-ref"]["threads"] == 1 and rows["litert"]["threads"] == 1
        assert entry["refinterp_per_op"] and entry["memory"]["peak_bytes"] > 0
    ratios = [next(r for r in by_name[n]["runtimes"] if r["name"] == "litert-ref")["ratio_to_refinterp"]
              for n in ("add.tflite", "conv.tflite")]
    means = result["geometric_means"]
    assert means["litert-ref"]["models"] == 2
    assert means["litert-ref"]["geomean"] == pytest.approx((ratios[0] * ratios[1]) ** 0.5)
    assert means["litert-ref"]["min"] == pytest.approx(min(ratios))
    machine = result["machine"]
    assert machine["conv_backend"] and machine["conv_backend_reason"] and machine["cpu_model"]
    markdown = md_path.read_text()
    assert "refinterp CONV_2D backend: `" in markdown and "SIMD" in markdown
    assert "| models/add.tflite | 1 | BUILTIN_REF |" in markdown and "| **geometric mean** |" in markdown
    assert "| models/nested/refused.tflite | 1 | unsupported | SUB #0 |" in markdown


def test_a_model_that_differs_is_listed_not_timed(small_model: Path, model_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_verify = bench.verify_refinterp

    def tampered(model_path, *args, **kwargs):
        verdict = real_verify(model_path, *args, **kwargs)
        if Path(model_path).name == "conv.tflite":
            verdict.update(equal=False, differing_tensors=[2])
        return verdict

    monkeypatch.setattr(bench, "verify_refinterp", tampered)
    json_path = tmp_path / "m.json"
    status = cli_main(["bench", "--models", str(small_model), str(model_dir / "add.tflite"), "--runs", "1",
                       "--warmup", "0", "--runtimes", "refinterp", "--threads", "1", "--in-process",
                       "--json", str(json_path)])
    assert status == 1  # a mismatch is a finding: the table is still written
    entries = {Path(e["model"]).name: e for e in json.loads(json_path.read_text())["models"]}
    assert entries["conv.tflite"]["status"] == "mismatch" and "runtimes" not in entries["conv.tflite"]
    assert "1 of" in entries["conv.tflite"]["detail"]
    assert entries["add.tflite"]["status"] == "timed"


def test_tflm_is_the_oracle_where_litert_refuses(tmp_path: Path) -> None:
    """As benchmarks/corpus_table.py decides (person_detect): ADD version 99 is refused by LiteRT at load, TFLM
    ignores operator versions and runs it; refinterp then runs its tflm profile, gated against TFLM."""
    require_tflm()
    path = tmp_path / "add_v99.tflite"
    path.write_bytes(single_op_model("ADD", inputs=[TensorSpec((1, 4), "int8", scale=0.1, zero_point=0)] * 2,
                                     outputs=[TensorSpec((1, 4), "int8", scale=0.2, zero_point=0)], version=99))
    entry = bench.bench_model(path, runs=1, warmup=0, threads=1, seed=0, runtimes=("refinterp", "litert-ref", "tflm"),
                              rounds=1, log=lambda message: None)
    assert entry["status"] == "timed"
    assert entry["verification"]["against"] == "TFLite Micro" and entry["verification"]["profile"] == "tflm"
    rows = {row["name"]: row for row in entry["runtimes"]}
    assert rows["litert-ref"]["status"].startswith("cannot run") and rows["tflm"]["median_ms"] > 0
    means = bench.geometric_means([entry], ("refinterp", "litert-ref", "tflm"))
    assert means["litert-ref"]["geomean"] is None and means["tflm"]["models"] == 1


def test_no_oracle_is_reported_not_timed(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing_runs(spec: str, **kwargs):
        raise RefinterpError(f"{spec} cannot load x.tflite: simulated refusal")

    monkeypatch.setattr(bench, "get_runtime", nothing_runs)
    entry = bench.bench_model(model_dir / "add.tflite", runs=1, warmup=0, threads=1, seed=0,
                              runtimes=("refinterp",), rounds=1, log=lambda message: None)
    assert entry["status"] == "not verified" and "LiteRT BUILTIN_REF refuses it" in entry["detail"]
    assert "runtimes" not in entry


def test_models_bad_arguments_exit_2(model_dir: Path, tmp_path: Path) -> None:
    assert cli_main(["bench", "--models", str(tmp_path / "missing")]) == 2
    assert cli_main(["bench", "--models", str(tmp_path / "missing.tflite")]) == 2
    (tmp_path / "empty").mkdir()
    assert cli_main(["bench", "--models", str(tmp_path / "empty")]) == 2  # no .tflite inside
    assert cli_main(["bench", "--models", str(model_dir), "--startup"]) == 2  # --startup measures one model
    assert cli_main(["bench", "--models", str(model_dir), "--model", str(model_dir / "add.tflite")]) == 2
    assert cli_main(["bench", "--models", str(model_dir), "--rounds", "0"]) == 2


def test_startup_cold_uses_a_new_empty_cache_directory(small_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's processes get a NUMBA_CACHE_DIR that is empty for cold and filled by cold for warm."""
    seen = []

    class Finished:
        returncode, stdout, stderr = 0, "0.1 0.2 0.3\n", ""

    def fake_run(command, env, **kwargs):
        cache = Path(env["NUMBA_CACHE_DIR"])
        seen.append((cache, sorted(p.name for p in cache.iterdir())))
        (cache / "kernel.nbi").write_text("compiled")  # what the cold process leaves behind
        return Finished()

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(small_model.parent))  # the user's cache must not be reused
    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    result = bench.measure_startup(small_model, [np.zeros((1, 12, 12, 8), np.int8)], threads=1)
    (cold_dir, cold_files), (warm_dir, warm_files) = seen
    assert cold_dir == warm_dir and cold_dir != small_model.parent and not cold_dir.exists()
    assert cold_files == [] and warm_files == ["kernel.nbi"]
    assert result["cold"]["cache_files_before"] == 0 and result["warm"]["cache_files_before"] == 1
    assert result["cold"]["import_to_first_result_s"] == pytest.approx(0.6)


def test_a_file_refinterp_refuses_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes(b"\x00" * 64)
    entry = bench.bench_model(path, runs=1, warmup=0, threads=1, seed=0, runtimes=("refinterp",), rounds=1,
                              log=lambda message: None)
    assert entry["status"] == "refused" and entry["detail"] and "runtimes" not in entry


def test_a_slow_runtime_gets_fewer_invokes(small_model: Path) -> None:
    """--time-budget: every invoke here takes longer than the (tiny) budget, so each runtime is invoked once."""
    result = bench.run_benchmark(small_model, runs=4, warmup=2, threads=1, runtimes=("refinterp", "litert-ref"),
                                 budget_s=1e-9, log=lambda message: None)
    assert [row["runs"] for row in result["runtimes"]] == [1, 1]
    markdown = bench.render_markdown(result)
    assert "| LiteRT BUILTIN_REF | 1 | " in markdown and "(1 runs)" in markdown


def test_each_model_in_its_own_process(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default of the command: a fresh process per model; one that dies is an error entry saying what it
    was doing, and the run goes on."""
    result = bench.run_models_benchmark([model_dir / "add.tflite"], runs=2, warmup=1, threads=1,
                                        runtimes=("refinterp", "litert-ref"), isolate=True, log=lambda m: None)
    (entry,) = result["models"]
    assert result["isolated"] and entry["status"] == "timed" and entry["runtimes"][1]["runs"] == 2
    crash = ("import json, os, signal, sys\n"
             "arguments = json.loads(sys.argv[1])\n"
             "open(arguments['stage_path'], 'w').write('timing refinterp, litert-ref ...\\n')\n"
             "os.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setattr(bench, "_CHILD_SCRIPT", crash)
    entry = bench.bench_model_in_child(model_dir / "add.tflite", log=lambda m: None, runs=1, warmup=0, threads=1,
                                       seed=0, runtimes=["refinterp"], rounds=1)
    assert entry["status"] == "error"
    assert f"signal {int(signal.SIGSEGV)}" in entry["detail"] and "while: timing refinterp" in entry["detail"]


def test_waits_while_other_processes_keep_the_cpu_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = iter([0.9, 0.5, 0.02])
    monkeypatch.setattr(bench, "others_cpu_busy", lambda: next(samples))
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: None)
    messages: list[str] = []
    state = bench.wait_until_idle(600, messages.append)
    assert state["others_cpu_busy"] == 0.02 and len(messages) == 2 and "90% of the cores busy" in messages[0]
    samples = iter([0.9])
    state = bench.wait_until_idle(0, messages.append)  # no waiting: measured and reported
    assert state["others_cpu_busy"] == 0.9 and "timing anyway" not in messages[-1]
