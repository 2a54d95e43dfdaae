"""The fuzzer (refinterp/tools/fuzz): its classification on hand-made cases, then a bounded run.

The bounded run prints its counts by class and fails on any mutant of a failure class (a traceback, crash,
hang, out-of-memory, kernel error, bad message, a disagreement with LiteRT, or a file LiteRT refuses that
refinterp runs); the failing mutants are saved under the test's temporary directory and named in the message.
Its seed is REFINTERP_FUZZ_SEED when set, else today's date, and is printed, so a run can be repeated:
``refinterp fuzz --seed SEED --mutants N --no-shared --no-golden``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from refinterp.errors import InputError
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.fuzz import CLASSES, FAILURE_CLASSES, Campaign, FuzzConfig, classify, fuzz_main, mutators
from refinterp.tools.fuzz.command import format_report
from refinterp.tools.fuzz.seeds import SEED_BUILDERS, builder_seeds, ops_without_builder

pytest.importorskip("ai_edge_litert", reason="the fuzzer compares against ai-edge-litert (pip install -e '.[test]')")

SEED = int(os.environ.get("REFINTERP_FUZZ_SEED", time.strftime("%Y%m%d")))
BOUNDED_MUTANTS = 3000
BOUNDED_SECONDS = 60.0


def add_model() -> bytes:
    return single_op_model(
        "ADD",
        [TensorSpec((1, 4, 4, 3), "int8", 0.05, 3), TensorSpec((1, 4, 4, 3), "int8", 0.04, -7)],
        [TensorSpec((1, 4, 4, 3), "int8", 0.09, 1)],
    )


def conv_without_bias() -> bytes:
    """LiteRT's reference CONV_2D requires a bias (conv.cc: TF_LITE_ENSURE(has_bias)) and refuses at Prepare."""
    return single_op_model(
        "CONV_2D",
        [TensorSpec((1, 5, 5, 2), "int8", 0.02, 0),
         TensorSpec((3, 3, 3, 2), "int8", [0.01] * 3, [0] * 3, data=np.ones((3, 3, 3, 2), np.int8))],
        [TensorSpec((1, 5, 5, 3), "int8", 0.05, 0)],
        {"padding": "SAME"},
    )


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    config = FuzzConfig(seed=SEED, out_dir=tmp_path_factory.mktemp("fuzz-cases"), timeout=3.0, progress=False,
                        shared_dir=None, golden=False)
    fuzz = Campaign(config)
    yield fuzz
    fuzz.stop()


def test_every_registry_operator_has_a_seed_builder():
    assert ops_without_builder() == []
    names = {seed.name.split("/")[0] for seed in builder_seeds(SEED, 1)}
    assert set(SEED_BUILDERS) <= names


def test_structure_mutations_pack_into_models_the_object_api_reads_back():
    seeds = builder_seeds(SEED, 1)
    rng = np.random.default_rng(SEED)
    for seed in seeds:
        model = mutators.unpack(seed.content)
        for _ in range(10):  # a draw may pick mutators that find nothing to edit in this model (a ValueError)
            try:
                content, applied, _ = mutators.structure_mutation(rng, model, 1)
                break
            except ValueError:
                continue
        else:
            raise AssertionError(f"{seed.name}: no structure mutation applied in 10 draws")
        assert content[4:8] == b"TFL3" and applied
        mutators.unpack(content)  # well-formed flatbuffer again


def test_a_valid_model_agrees(campaign):
    verdict = campaign.run_one(add_model())
    assert verdict.klass == "agree", verdict


def test_a_truncated_file_is_refused_by_both(campaign):
    content = add_model()
    verdict = campaign.run_one(content[: len(content) // 2])
    assert verdict.klass == "both-refuse", verdict
    assert verdict.signature == "verifier"


def test_a_model_litert_refuses_at_prepare(campaign):
    verdict = campaign.run_one(conv_without_bias())
    assert verdict.litert["status"] == "refused" and verdict.litert["stage"] == "prepare", verdict.litert
    assert verdict.klass in ("both-refuse", "litert-refuses"), verdict
    if verdict.klass == "litert-refuses":
        assert verdict.signature.startswith("prepare: conv.cc"), verdict.signature


def test_a_crashing_child_is_a_crash(campaign):
    verdict = campaign.run_one(add_model(), hook="abort")
    assert verdict.klass == "crash", verdict
    assert verdict.signature.startswith("SIGABRT"), verdict.signature
    assert campaign.run_one(add_model()).klass == "agree"  # the worker was replaced


def test_a_sleeping_child_is_a_hang(campaign):
    verdict = campaign.run_one(add_model(), hook="sleep", timeout=1.0)
    assert verdict.klass == "hang", verdict
    assert campaign.run_one(add_model()).klass == "agree"


def test_memory_error_and_traceback_in_the_child(campaign):
    assert campaign.run_one(add_model(), hook="memory").klass == "oom"
    verdict = campaign.run_one(add_model(), hook="raise")
    assert verdict.klass == "traceback" and verdict.signature.startswith("ZeroDivisionError"), verdict


def test_classify_messages_and_disagreements():
    ok = {"status": "ok", "stage": "outputs", "outputs": [
        {"dtype": "int8", "shape": [2], "sha256": "a", "array": np.array([1, 2], np.int8)}]}
    other = {"status": "ok", "stage": "outputs", "outputs": [
        {"dtype": "int8", "shape": [2], "sha256": "b", "array": np.array([1, 3], np.int8)}]}
    assert classify(ok, ok).klass == "agree"
    assert classify(ok, other).klass == "disagree"
    refused = {"status": "refused", "stage": "prepare", "error": "PrepareError", "message": "bad\nthing"}
    litert_refused = {"status": "refused", "stage": "prepare", "message": "conv.cc:1 x != y"}
    assert classify(refused, litert_refused).klass == "message"
    assert classify(dict(refused, message="x" * 301), litert_refused).klass == "message"
    assert classify(dict(refused, message="fine"), litert_refused).klass == "both-refuse"
    assert classify(ok, litert_refused).klass == "litert-refuses"
    assert classify(dict(refused, message="fine", kernel_error=True), ok).klass == "kernel-error"
    assert classify(None, ok, refinterp_death="SIGSEGV").klass == "crash"
    assert set(FAILURE_CLASSES) <= set(CLASSES)


def test_a_scalar_output_keeps_its_shape_and_an_unwritten_scalar_is_not_compared():
    """Campaign 20261214: a RESHAPE mutant whose scalar output LiteRT never writes. The harness summarized 0-d
    outputs as shape [1] (``np.ascontiguousarray`` makes them 1-d) and its unwritten mask came out 0-d, so the
    undefined element was compared: a disagreement that was the harness's."""
    from refinterp.tools.fuzz import worker

    (summary,) = worker.summarize_outputs([np.array(1.5, np.float32)])
    assert summary["shape"] == [] and summary["array"].shape == ()
    model = single_op_model("RESHAPE", [TensorSpec((), "float32")], [TensorSpec((), "float32")])
    result = worker.run_litert({"content": model, "input_seed": 1})
    assert result["status"] == "ok" and result["outputs"][0]["shape"] == []
    ours = {"status": "ok", "stage": "outputs", "outputs": [
        {"dtype": "float32", "shape": [], "sha256": "a", "array": np.array(np.nan, np.float32)}]}
    theirs = {"status": "ok", "stage": "outputs", "outputs": [
        {"dtype": "float32", "shape": [], "sha256": "b", "array": np.array(1.5e16, np.float32),
         "unwritten": np.array(True)}]}
    assert classify(ours, theirs).klass == "agree"
    assert classify(ours, dict(theirs, outputs=[dict(theirs["outputs"][0], unwritten=np.array(False))])).klass \
        == "disagree"


def test_bad_arguments_are_one_line_errors():
    for argv in (["--mutants", "x"], ["--jobs", "0"], ["--seconds", "-1"], ["--bogus"]):
        with pytest.raises(InputError):
            fuzz_main(argv)
    result = subprocess.run([sys.executable, "-m", "refinterp.tools.fuzz", "--mutants", "0"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--mutants" in result.stderr


def test_bounded_run(tmp_path, capsys):
    """N mutants of the project's own seed models: no failure of any class."""
    config = FuzzConfig(mutants=BOUNDED_MUTANTS, seconds=BOUNDED_SECONDS, seed=SEED, out_dir=tmp_path / "out",
                        shared_dir=None, golden=False, progress=False)
    report = Campaign(config).run()
    with capsys.disabled():
        print(f"\nfuzz seed {SEED} (REFINTERP_FUZZ_SEED={SEED} to repeat)\n{format_report(report)}")
    assert report.mutants > 0
    assert sum(report.counts.values()) == report.mutants
    assert report.baselines.get("agree", 0) == sum(report.baselines.values()), report.baseline_problems
    assert report.failures == sum(report.counts.get(k, 0) for k in FAILURE_CLASSES)
    assert report.failures == 0, (
        f"fuzz seed {SEED}: {report.failures} failing mutants saved in {tmp_path / 'out'}; repeat with "
        f"REFINTERP_FUZZ_SEED={SEED} or `refinterp fuzz --seed {SEED} --mutants {BOUNDED_MUTANTS} --no-shared "
        f"--no-golden`")
