"""Stateful models over several invocations: every tensor after every invoke() equals LiteRT's (BUILTIN_REF).

LSTM kernels keep their output state and cell state in variable tensors that carry from one invoke() to the
next; refinterp's kernels return the new state (KernelResult) and the interpreter stores it. Here a model is
invoked five times on different inputs, on LiteRT and on refinterp side by side, and after each invoke every
tensor of the model (inputs, constants, the variable state tensors, outputs) must be equal, floats bit for bit.
Then ``reset_all_variables()`` must bring both back to where a fresh interpreter starts.

Models: UNIDIRECTIONAL_SEQUENCE_LSTM int8, float32 and hybrid and BIDIRECTIONAL_SEQUENCE_LSTM float32 and hybrid
(four state tensors), built with refinterp.modelbuilder over the variants (CIFG, peephole, projection, layer norm,
time-major, batch > 1), and the LSTM models of ../shared/models (used by path; a missing file skips the test, and
fails it under CI). Under profile "tflm" the same against TFLite Micro (every
tensor through its kPreserveAllTensors interpreter), including its int16x8 LSTM, which LiteRT does not run.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from oracle import (
    Rejected,
    invoke_with,
    litert_ref_interpreter,
    random_inputs,
    require_tflm,
    run_litert_ref,
    run_refinterp,
    run_tflm,
)

import refinterp
from refinterp.tools.conformance.generators.core import TFLM_UNDEFINED
from refinterp.tools.conformance.generators.recurrent import (
    bidi_lstm_float_model,
    gen_lstm_int16_tflm,
    lstm_float_model,
    lstm_hybrid_model,
    lstm_int8_model,
)

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
LSTM_MODELS = ("tflite-micro/mnist_lstm_int8.tflite", "tflite-micro/micro_speech_lstm.tflite",
               "tflite-micro/dtln.tflite")
FLOAT_LSTM_MODELS = ("tflite-micro/mnist_lstm_float.tflite",)
INVOKES = 5


class _SideBySide:
    """One LiteRT BUILTIN_REF interpreter and one refinterp interpreter on the same model."""

    def __init__(self, model: bytes, **refinterp_options: Any) -> None:
        self.litert = litert_ref_interpreter(model)
        self.litert.allocate_tensors()
        self.refinterp = refinterp.Interpreter(model_content=model, **refinterp_options)
        self.refinterp.allocate_tensors()
        self.n_tensors = len(self.refinterp.model.subgraphs[0].tensors)

    def invoke(self, inputs: list[np.ndarray]) -> None:
        invoke_with(self.litert, inputs)
        invoke_with(self.refinterp, inputs)

    def reset_all_variables(self) -> None:
        self.litert.reset_all_variables()
        self.refinterp.reset_all_variables()

    def litert_tensors(self) -> dict[int, np.ndarray]:
        # only the model's own tensors (LiteRT appends its kernels' temporaries after them)
        return {i: np.array(self.litert.get_tensor(i)) for i in range(self.n_tensors)}

    def differences(self, expected: dict[int, np.ndarray] | None = None) -> list[str]:
        """The tensors whose refinterp value differs from LiteRT's (or from ``expected``)."""
        expected = self.litert_tensors() if expected is None else expected
        got = self.refinterp.tensor_values()
        problems = []
        for index, want in expected.items():
            if want.size == 0:
                continue  # intermediates that only carry quantization (LSTM gate scales)
            have = got.get(index)
            if have is None:
                problems.append(f"tensor {index}: no value in refinterp")
            elif have.dtype != want.dtype or have.shape != want.shape:
                problems.append(f"tensor {index}: {have.dtype}{list(have.shape)}, LiteRT {want.dtype}"
                                f"{list(want.shape)}")
            elif not np.array_equal(np.asarray(have).view(np.uint8), want.view(np.uint8)):
                count = int(np.sum(np.asarray(have) != want))
                problems.append(f"tensor {index}: {count} of {want.size} elements differ")
        return problems


def check_over_invokes(model: bytes, seed: int, **refinterp_options: Any) -> None:
    """Five invokes side by side, every tensor compared after each; then reset_all_variables() against a
    fresh interpreter."""
    rng = np.random.default_rng(seed)
    both = _SideBySide(model, **refinterp_options)
    for k in range(INVOKES):
        both.invoke(random_inputs(both.litert, rng))
        problems = both.differences()
        assert not problems, f"invoke {k + 1}: " + "; ".join(problems[:5])
    inputs = random_inputs(both.litert, rng)
    both.reset_all_variables()
    both.invoke(inputs)
    fresh = _SideBySide(model, **refinterp_options)
    fresh.invoke(inputs)
    assert not both.differences(), "after reset_all_variables: " + "; ".join(both.differences()[:5])
    problems = both.differences(fresh.litert_tensors())
    assert not problems, "after reset_all_variables, refinterp differs from a fresh LiteRT: " + "; ".join(problems)
    fresh_refinterp = fresh.refinterp.tensor_values()
    for index, value in both.refinterp.tensor_values().items():
        assert np.array_equal(np.asarray(value), np.asarray(fresh_refinterp[index])), \
            f"after reset_all_variables, tensor {index} differs from a fresh refinterp interpreter"


LSTM_VARIANTS = {
    "plain": {},
    "cifg": {"cifg": True},
    "peephole": {"peephole": True},
    "projection": {"projection": True, "n_output": 3, "projection_bias": True, "proj_clip": 0.5},
    "layer_norm": {"layer_norm": True},
    "time_major_batch3": {"time_major": True, "n_batch": 3},
    "everything": {"cifg": True, "peephole": True, "projection": True, "n_output": 4, "layer_norm": True,
                   "n_batch": 2, "cell_clip": 1.0},
    "everything_time_major": {"peephole": True, "projection": True, "n_output": 6, "layer_norm": True,
                              "n_batch": 2, "time_major": True},
}


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_int8_over_invokes(variant: str, kernels: str) -> None:
    drawn = dict(n_batch=2, max_time=3, n_input=5, n_cell=6, n_output=6, time_major=False, cifg=False,
                 peephole=False, projection=False, projection_bias=False, layer_norm=False, cell_scale_log2=-11,
                 cell_clip=0.0, proj_clip=0.0)
    drawn.update(LSTM_VARIANTS[variant])
    model, _ = lstm_int8_model(np.random.default_rng(sorted(LSTM_VARIANTS).index(variant)), **drawn)
    check_over_invokes(model, seed=7, kernels=kernels)


def _shared_model(relative: str) -> bytes:
    path = SHARED_MODELS / relative
    if not path.exists():
        reason = f"{path} is missing (the shared corpus of ../shared/models)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path.read_bytes()


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("relative", LSTM_MODELS + FLOAT_LSTM_MODELS)
def test_lstm_corpus_model_over_invokes(relative: str, kernels: str) -> None:
    check_over_invokes(_shared_model(relative), seed=3, kernels=kernels)


FLOAT_LSTM_VARIANTS = {
    "plain": {},
    "cifg_peephole": {"cifg": True, "peephole": True},
    "projection_clip": {"projection": True, "n_output": 3, "projection_bias": True, "proj_clip": 0.4,
                        "cell_clip": 0.7},
    "layer_norm": {"layer_norm": True},
    "time_major": {"time_major": True, "n_batch": 1},
    "activation_none": {"activation": "NONE"},
}


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("variant", sorted(FLOAT_LSTM_VARIANTS))
def test_lstm_float_over_invokes(variant: str, kernels: str) -> None:
    drawn = dict(n_batch=2, max_time=3, n_input=5, n_cell=6, n_output=6, time_major=False, cifg=False,
                 peephole=False, projection=False, projection_bias=False, layer_norm=False, activation="TANH",
                 cell_clip=0.0, proj_clip=0.0, weight_scale=0.7)
    drawn.update(FLOAT_LSTM_VARIANTS[variant])
    model = lstm_float_model(np.random.default_rng(sorted(FLOAT_LSTM_VARIANTS).index(variant)), **drawn)
    check_over_invokes(model, seed=9, kernels=kernels)


HYBRID_LSTM_VARIANTS = {
    "plain": {},
    "asymmetric": {"asymmetric": True},
    "cifg_peephole": {"cifg": True, "peephole": True, "asymmetric": True},
    "projection_clip": {"projection": True, "n_output": 3, "projection_bias": True, "proj_clip": 0.4,
                        "cell_clip": 0.7},
    "layer_norm": {"layer_norm": True, "n_input": 17},
    "time_major_batch3": {"time_major": True, "n_batch": 3, "asymmetric": True, "projection": True,
                          "n_output": 4},
}


@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("variant", sorted(HYBRID_LSTM_VARIANTS))
def test_lstm_hybrid_over_invokes(variant: str, kernels: str) -> None:
    drawn = dict(n_batch=2, max_time=3, n_input=5, n_cell=6, n_output=6, time_major=False, cifg=False,
                 peephole=False, projection=False, projection_bias=False, layer_norm=False, activation="TANH",
                 cell_clip=0.0, proj_clip=0.0, weight_scale=0.7, asymmetric=False)
    drawn.update(HYBRID_LSTM_VARIANTS[variant])
    model = lstm_hybrid_model(np.random.default_rng(sorted(HYBRID_LSTM_VARIANTS).index(variant)), **drawn)
    check_over_invokes(model, seed=11, kernels=kernels)


BIDI_LSTM_VARIANTS = {
    "plain": {},
    "merged_time_major": {"merge_outputs": True, "time_major": True, "n_batch": 1},
    "cifg_peephole_projection": {"cells": ({"cifg": True, "peephole": True, "projection": True, "n_output": 3},
                                           {"peephole": True, "projection": True, "projection_bias": True,
                                            "n_output": 3}), "cell_clip": 0.8, "proj_clip": 0.5},
    "hybrid": {"hybrid": True, "time_major": True, "n_batch": 3},
    "hybrid_asymmetric_merged": {"hybrid": True, "asymmetric": True, "time_major": True, "merge_outputs": True,
                                 "n_input": 18, "cells": ({"cifg": True, "peephole": True},
                                                          {"projection": True, "projection_bias": True})},
}


@pytest.mark.parametrize("variant", sorted(BIDI_LSTM_VARIANTS))
def test_bidirectional_lstm_float_over_invokes(variant: str) -> None:
    """BIDIRECTIONAL_SEQUENCE_LSTM float32 and hybrid: both cells' states (four variable tensors) carried across
    invokes."""
    drawn: dict[str, Any] = dict(n_batch=2, max_time=3, n_input=5, time_major=False, merge_outputs=False,
                                 activation="TANH", cell_clip=0.0, proj_clip=0.0, weight_scale=0.7)
    variant_params = dict(BIDI_LSTM_VARIANTS[variant])
    overrides = variant_params.pop("cells", ({}, {}))
    drawn.update(variant_params)
    cell = dict(n_cell=6, n_output=6, cifg=False, peephole=False, projection=False, projection_bias=False)
    drawn["cells"] = tuple({**cell, **override} for override in overrides)
    model = bidi_lstm_float_model(np.random.default_rng(sorted(BIDI_LSTM_VARIANTS).index(variant)), **drawn)
    check_over_invokes(model, seed=13)


def test_reset_all_variables_restores_the_zero_points() -> None:
    """The state tensors start (and restart) at their zero point (int8) or zero (int16), as LiteRT's."""
    drawn = dict(n_batch=1, max_time=2, n_input=3, n_cell=4, n_output=4, time_major=False, cifg=False,
                 peephole=False, projection=False, projection_bias=False, layer_norm=False, cell_scale_log2=-12,
                 cell_clip=0.0, proj_clip=0.0)
    model, scales = lstm_int8_model(np.random.default_rng(1), **drawn)
    interpreter = refinterp.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    state_index = interpreter.model.subgraphs[0].operators[0].inputs[18]
    expected = np.full((1, 4), scales["state_q"][1], dtype=np.int8)
    assert np.array_equal(interpreter.get_tensor(state_index), expected)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.full((1, 2, 3), 100, np.int8))
    interpreter.invoke()
    interpreter.reset_all_variables()
    assert np.array_equal(interpreter.get_tensor(state_index), expected)


# ------------------------------------------------------------------------------------------------
# TFLM (profile "tflm"): TFLM's own integer LSTM, every tensor over several invokes, and its int16x8 LSTM


class _TflmSideBySide:
    """One TFLM interpreter (kPreserveAllTensors: every tensor readable) and one refinterp interpreter under
    profile "tflm"."""

    def __init__(self, model: bytes, **refinterp_options: Any) -> None:
        from tflite_micro.python.tflite_micro import runtime

        self.tflm = runtime.Interpreter.from_bytes(
            model, arena_size=max(1 << 22, 32 * len(model)),
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
        self.refinterp = refinterp.Interpreter(model_content=model, profile="tflm", **refinterp_options)
        self.refinterp.allocate_tensors()
        self.subgraph = self.refinterp.model.subgraphs[0]

    def invoke(self, inputs: list[np.ndarray]) -> None:
        for position, (detail, value) in enumerate(zip(self.refinterp.get_input_details(), inputs, strict=True)):
            self.tflm.set_input(value, position)
            self.refinterp.set_tensor(detail["index"], value)
        self.tflm.invoke()
        self.refinterp.invoke()

    def reset_all_variables(self) -> None:
        self.tflm.reset()
        self.refinterp.reset_all_variables()

    def differences(self) -> list[str]:
        got = self.refinterp.tensor_values()
        problems = []
        for tensor in self.subgraph.tensors:
            if math.prod(tensor.shape) == 0:
                continue
            found = self.tflm.GetTensor(tensor.index, 0)
            want = np.array(found.get("tensor_data") if isinstance(found, dict) else found)
            have = got.get(tensor.index)
            if have is None:
                problems.append(f"tensor {tensor.index}: no value in refinterp")
            elif not np.array_equal(np.asarray(have).reshape(-1).view(np.uint8), want.reshape(-1).view(np.uint8)):
                count = int(np.sum(np.asarray(have).reshape(-1) != want.reshape(-1)))
                problems.append(f"tensor {tensor.index}: {count} of {want.size} elements differ from TFLM")
        return problems


def check_over_invokes_tflm(model: bytes, seed: int, **refinterp_options: Any) -> None:
    """Five invokes on TFLM and refinterp (profile tflm), every tensor compared after each; then both reset
    (TFLM's Reset, refinterp's reset_all_variables) and compared again."""
    rng = np.random.default_rng(seed)
    both = _TflmSideBySide(model, **refinterp_options)
    for k in range(INVOKES):
        both.invoke(random_inputs(both.refinterp, rng))
        problems = both.differences()
        assert not problems, f"invoke {k + 1}: " + "; ".join(problems[:5])
    both.reset_all_variables()
    both.invoke(random_inputs(both.refinterp, rng))
    problems = both.differences()
    assert not problems, "after reset: " + "; ".join(problems[:5])


TFLM_LSTM_VARIANTS = {
    "batch_major": {},
    "time_major_batch3": {"time_major": True, "n_batch": 3},
    "cell_clip": {"cell_clip": 0.3, "cell_scale_log2": -13},
}


@pytest.mark.parametrize("act_type", ["int8", "int16"])
@pytest.mark.parametrize("kernels", ["fast", "spec"])
@pytest.mark.parametrize("variant", sorted(TFLM_LSTM_VARIANTS))
def test_lstm_tflm_over_invokes(variant: str, kernels: str, act_type: str) -> None:
    require_tflm()
    drawn = dict(n_batch=2, max_time=3, n_input=5, n_cell=6, n_output=6, time_major=False, cifg=False,
                 peephole=False, projection=False, projection_bias=False, layer_norm=False, cell_scale_log2=-11,
                 cell_clip=0.0, proj_clip=0.0)
    drawn.update(TFLM_LSTM_VARIANTS[variant])
    model, _ = lstm_int8_model(np.random.default_rng(sorted(TFLM_LSTM_VARIANTS).index(variant)), **drawn,
                               act_type=act_type)
    check_over_invokes_tflm(model, seed=11, kernels=kernels)


@pytest.mark.parametrize("relative", LSTM_MODELS)
def test_lstm_corpus_model_over_invokes_tflm(relative: str) -> None:
    require_tflm()
    check_over_invokes_tflm(_shared_model(relative), seed=5)


#: the minimum number of int16x8 LSTM cases compared against TFLM (the single-operator harness compares every
#: advertised kind against LiteRT, which has no int16 LSTM, so this kind is held to TFLM here)
INT16_TFLM_CASES = int(os.environ.get("REFINTERP_RANDOM_CASES", "200"))


def test_lstm_int16_cases_against_tflm() -> None:
    """Random int16x8 LSTMs: LiteRT and refinterp (profile litert-ref) reject every one; TFLM and refinterp
    (profile tflm, both kernel sets) give equal outputs, or refinterp refuses what TFLM runs undefined."""
    require_tflm()
    compared, seed, failures = 0, 0, []
    while compared < INT16_TFLM_CASES and seed < 2 * INT16_TFLM_CASES + 20:
        case = gen_lstm_int16_tflm(np.random.default_rng(seed))
        seed += 1
        for run, options in ((run_litert_ref, {}), (run_refinterp, {}), (run_refinterp, {"kernels": "spec"})):
            try:
                run(case.model, case.inputs, **options)
                failures.append(f"seed {seed - 1}: {run.__name__} {options} runs it (LiteRT has no int16 LSTM)")
            except Rejected:
                pass
        if case.tflm == TFLM_UNDEFINED:
            for kernels in ("fast", "spec"):
                with pytest.raises(Rejected):
                    run_refinterp(case.model, case.inputs, kernels=kernels, profile="tflm")
            continue
        want = run_tflm(case.model, case.inputs)
        for kernels in ("fast", "spec"):
            got = run_refinterp(case.model, case.inputs, kernels=kernels, profile="tflm")
            if not np.array_equal(got[0], want[0]) or got[0].dtype != want[0].dtype:
                failures.append(f"seed {seed - 1} ({kernels}): {int(np.sum(got[0] != want[0]))} elements differ "
                                f"from TFLM; {case.describe()}")
        compared += 1
    assert not failures, f"{len(failures)} failures; first: {failures[0]}"
    assert compared >= INT16_TFLM_CASES, f"only {compared} int16 LSTM cases compared against TFLM"
