"""``refinterp explain``: one element's integer computation, step by step, held to LiteRT BUILTIN_REF.

The explanation's final value must be the element LiteRT's reference kernels produce, computed from LiteRT's
own input tensors for that operator, for random elements of every computing operator of the golden model and
of corpus models; the operators with detailed steps must give them (never the generic fallback, which would
mean the steps drifted from the spec kernel). The command's errors are one line (exit 2), its JSON has the
documented keys (docs/explain.md), ``--vs`` finds the step where two profiles part.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import GOLDEN_DIR, shared_model

from refinterp import cli
from refinterp.errors import InputError, RefinterpError
from refinterp.interpreter import Interpreter
from refinterp.io import model_input_specs, seeded_inputs
from refinterp.model import load_model
from refinterp.ops import trace as trace_module
from refinterp.tools import explain
from refinterp.tools.explain import (
    EXPLAINERS,
    HYBRID_EXPLAINERS,
    explain_element,
    explain_main,
    explanation_report,
    parted_at,
)

GOLDEN_MODEL = GOLDEN_DIR / "yolov3_tiny_int8.tflite"
#: corpus models whose operators cover the detailed explainers (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
#: AVERAGE_POOL_2D, MAX_POOL_2D, ADD, MUL, PAD, QUANTIZE, DEQUANTIZE, CONCATENATION, RESIZE_NEAREST_NEIGHBOR,
#: RESHAPE, SOFTMAX, MEAN, LOGISTIC, HARD_SWISH, RESIZE_BILINEAR), the data-movement ones (TRANSPOSE, GATHER, SPLIT,
#: STRIDED_SLICE, PACK), TRANSPOSE_CONV and SHAPE; uint8 (legacy) and float32 rules
CORPUS_MODELS = (
    "mlcommons-tiny/kws_ref_model.tflite",
    "stm32-model-zoo/audio_event_detection__miniresnetv2_1stacks_64x50_int8.tflite",
    "stm32-model-zoo/image_classification__stmnist_v1_int8.tflite",
    "infineon-deepcraft/deeplabv3_mobilenetv3_int8.tflite",
    "nxp-eiq/fastestdet_shufflenetv2_int8.tflite",
    "stm32-model-zoo/image_classification__fdmobilenet_0.25_128_int8.tflite",
    "mlkit/automl_labeler_uint8.tflite",
    "mlcommons-tiny/ic_resnet_float.tflite",
)
#: operators that compute nothing an element could be explained by (handles, control flow)
NOT_ELEMENTWISE = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE", "WHILE", "IF"})


def _litert_tensors(path: Path, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the LiteRT oracle) is not installed")
    from refinterp.runtimes import get_runtime

    return get_runtime("litert-ref").run(str(path), inputs).tensors


def tensor_values(subgraph, inputs, outputs=()) -> dict:
    """Every tensor value of a single-operator subgraph: its constants, the model inputs given, and the outputs
    given (LiteRT's), by tensor index."""
    values = {t.index: t.data for t in subgraph.tensors if t.data is not None}
    values.update({i: np.asarray(v, subgraph.tensors[i].dtype) for i, v in zip(subgraph.inputs, inputs)})
    values.update(dict(zip(subgraph.outputs, outputs)))
    return values


def _check_model_against_litert(path: Path, elements_per_op: int, seed: int = 0) -> dict[str, int]:
    """Every operator of the model: random elements explained on LiteRT's tensors equal LiteRT's outputs. Returns
    how many elements each operator type had explained in detail."""
    model = load_model(path)
    inputs = seeded_inputs(model_input_specs(model), seed)
    litert = _litert_tensors(path, inputs)
    subgraph = model.subgraphs[0]
    values = {t.index: t.data for t in subgraph.tensors if t.data is not None}
    values.update(litert)
    rng = np.random.default_rng(seed)
    cache: dict = {}
    detailed: dict[str, int] = {}
    for op in subgraph.operators:
        if op.name in NOT_ELEMENTWISE or any(i >= 0 and i not in values for i in op.inputs):
            continue
        for output, tensor_index in enumerate(op.outputs):
            expected = litert.get(tensor_index)
            if expected is None or expected.size == 0:
                continue
            for _ in range(elements_per_op):
                element = tuple(int(rng.integers(0, d)) for d in expected.shape)
                report = explain_element(model, values, op.index, element, "litert-ref", output, cache)
                where = f"{path.name} operator {op.index} {op.name} output {output} element {list(element)}"
                want = expected[element].item()
                assert report["value"] == want or (want != want and report["value"] != report["value"]), (
                    f"{where}: explained {report['value']}, LiteRT {want}")
                assert not any("please report" in note for note in report["notes"]), f"{where}: {report['notes']}"
                if report["detailed"]:
                    detailed[op.name] = detailed.get(op.name, 0) + 1
                elif op.name in EXPLAINERS:
                    # an explained operator falls back only for a rule its steps do not cover (float, hybrid)
                    assert any("do not cover" in note for note in report["notes"]), f"{where}: {report['notes']}"
    return detailed


def test_golden_model_every_operator_explained_in_detail_equals_litert() -> None:
    detailed = _check_model_against_litert(GOLDEN_MODEL, elements_per_op=3)
    assert set(detailed) == {"CONV_2D", "LEAKY_RELU", "MAX_POOL_2D", "CONCATENATION", "RESIZE_NEAREST_NEIGHBOR",
                             "RESHAPE"}


@pytest.mark.parametrize("relative", CORPUS_MODELS)
def test_corpus_model_explanations_equal_litert(relative: str) -> None:
    detailed = _check_model_against_litert(shared_model(relative), elements_per_op=2)
    assert detailed, "no operator of the model was explained in detail"


@pytest.fixture(scope="module")
def golden_run() -> tuple:
    interpreter = Interpreter(model_path=str(GOLDEN_MODEL))
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(),
                             seeded_inputs(model_input_specs(interpreter.model), 0)):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return interpreter.model, interpreter.tensor_values()


def test_conv_steps_name_every_stage_and_the_rounding_rules(golden_run) -> None:
    model, values = golden_run
    report = explain_element(model, values, 0, (0, 10, 20, 5))
    names = [step["name"] for step in report["steps"]]
    for name in ("input window", "input minus zero point", "weights", "products", "sum of products", "bias",
                 "accumulator", "real multiplier", "frexp", "Q31 multiplier", "multiplier and shift",
                 "SaturatingRoundingDoublingHighMul", "RoundingDivideByPOT", "plus output zero point", "clamp"):
        assert name in names
    rules = {step["name"]: step.get("rule") for step in report["steps"]}
    assert rules["SaturatingRoundingDoublingHighMul"] == trace_module.TIES_UP
    assert rules["RoundingDivideByPOT"] == trace_module.TIES_AWAY
    window = report["steps"][names.index("input window")]
    assert len(window["value"]) == 27 and len(window["items"]) == 27  # 3x3 taps x 3 channels, all in the image
    products = report["steps"][names.index("products")]["value"]
    assert report["steps"][names.index("sum of products")]["value"] == sum(products)
    assert report["value"] == values[model.subgraphs[0].operators[0].outputs[0]][0, 10, 20, 5]
    assert abs(report["error_lsb"]) <= 0.5 + 1e-9  # one rounding of an accumulator that is exact


def test_padding_taps_are_skipped_and_said(golden_run) -> None:
    model, values = golden_run
    report = explain_element(model, values, 0, (0, 0, 0, 0))  # the corner: 5 of 9 taps outside the image
    window = report["steps"][1]
    assert len(window["value"]) == 4 * 3 and "15 taps fall outside the image" in window["note"]


def test_a_drifted_explanation_is_never_shown_as_the_computation(golden_run, monkeypatch) -> None:
    model, values = golden_run
    honest = EXPLAINERS["LEAKY_RELU"]
    monkeypatch.setitem(EXPLAINERS, "LEAKY_RELU", lambda *args: honest(*args) + 1)
    report = explain_element(model, values, 1, (0, 3, 4, 1))
    assert not report["detailed"] and any("do not describe" in note for note in report["notes"])
    assert report["value"] == values[model.subgraphs[0].operators[1].outputs[0]][0, 3, 4, 1]


def test_steps_that_fail_leave_the_generic_explanation(golden_run, monkeypatch) -> None:
    model, values = golden_run

    def broken(*args):
        raise IndexError("a bug in the steps")

    monkeypatch.setitem(EXPLAINERS, "MAX_POOL_2D", broken)
    report = explain_element(model, values, 2, (0, 3, 4, 1))
    assert not report["detailed"] and any("IndexError: a bug in the steps" in note for note in report["notes"])
    assert report["value"] == values[model.subgraphs[0].operators[2].outputs[0]][0, 3, 4, 1]


def test_vs_profile_parts_where_the_rules_differ() -> None:
    path = shared_model("tflite-micro/hello_world_int8.tflite")
    model = load_model(path)
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.array([[57]], np.int8))
    interpreter.invoke()
    report = explanation_report(model, interpreter.tensor_values(), 0, (0, 3), "litert-ref", vs="tflm")
    parted = report["parted_at"]
    assert parted is not None, "FULLY_CONNECTED requantizes in double under litert-ref, with MBQM under tflm"
    assert report["steps"][parted]["name"] == "effective scale"
    assert report["vs"]["steps"][parted]["name"] == "real multiplier"
    assert report["steps"][:parted] == report["vs"]["steps"][:parted]  # the same operands and sums before
    assert report["vs"]["detailed"] and report["vs"]["profile"] == "tflm"


def test_parted_at() -> None:
    a = [{"name": "x", "value": 1}, {"name": "y", "value": 2}]
    assert parted_at(a, a) is None
    assert parted_at(a, [{"name": "x", "value": 1}, {"name": "y", "value": 3}]) == 1
    assert parted_at(a, a[:1]) == 1


def test_command_json_and_html(tmp_path, capsys) -> None:
    json_path, html_path = tmp_path / "e.json", tmp_path / "e.html"
    status = explain_main([str(GOLDEN_MODEL), "--op", "0", "--element", "0,10,20,5", "--json", str(json_path),
                           "--html", str(html_path)])
    assert status == 0
    text = capsys.readouterr().out
    assert "SaturatingRoundingDoublingHighMul" in text and "final value:" in text and "error" in text
    report = json.loads(json_path.read_text())
    for key in ("format", "op", "element", "value", "steps", "profile", "operator", "detailed", "real_value",
                "error_lsb", "spec_value", "interpreter_value", "inputs", "model"):
        assert key in report
    assert report["op"] == 0 and report["element"] == [0, 10, 20, 5] and report["operator"] == "CONV_2D"
    assert report["value"] == report["spec_value"] == report["interpreter_value"]
    assert all({"name", "value"} <= set(step) for step in report["steps"])
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "RoundingDivideByPOT" in page


def test_command_vs_prints_both_profiles(capsys) -> None:
    assert explain_main([str(GOLDEN_MODEL), "--op", "1", "--element", "0,100,7,3", "--vs", "tflm"]) == 0
    text = capsys.readouterr().out
    assert "litert-ref" in text and "tflm" in text


@pytest.mark.parametrize("argv, message", [
    (["--op", "34", "--element", "0"], "--op 34: the model has operators 0 to 33"),
    (["--op", "-1", "--element", "0"], "--op -1"),
    (["--op", "0", "--element", "0,416,0,0"], "index 416 of dimension 1 is outside [0, 416)"),
    (["--op", "0", "--element", "0,1,2"], "has 3 indices, the output has 4 dimensions"),
    (["--op", "0", "--element", "a,b"], "not a list of integers"),
    (["--op", "0"], "--element is required"),
    (["--op", "0", "--element", "0,0,0,0", "--output", "1"], "--output 1"),
    (["--op", "0", "--element", "0,0,0,0", "--profile", "nope"], "invalid choice"),
])
def test_bad_arguments_are_one_line_errors(argv, message, capsys) -> None:
    with pytest.raises(InputError) as info:
        explain_main([str(GOLDEN_MODEL), *argv])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_generic_explanation_for_an_operator_without_detailed_steps(monkeypatch) -> None:
    path = shared_model("mlcommons-tiny/kws_ref_model.tflite")
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    model = interpreter.model
    for detail, value in zip(interpreter.get_input_details(), seeded_inputs(model_input_specs(model), 0)):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    values = interpreter.tensor_values()
    softmax = next(op for op in model.subgraphs[0].operators if op.name == "SOFTMAX")
    monkeypatch.delitem(EXPLAINERS, "SOFTMAX")
    report = explain_element(model, values, softmax.index, (0, 3))
    assert not report["detailed"] and report["value"] == values[softmax.outputs[0]][0, 3]
    assert report["steps"][1]["name"] == "operand 0" and report["steps"][-1]["name"] == "output"
    assert any("not written yet" in note for note in report["notes"])


def test_cli_table_knows_explain_or_the_lead_adds_it() -> None:
    """The command is reached through refinterp.cli once the lead adds its row (see the helper's report)."""
    if "explain" not in cli.COMMANDS:
        pytest.skip("refinterp/cli.py has no explain row yet")
    assert cli.main(["explain", str(GOLDEN_MODEL), "--op", "99", "--element", "0"]) == 2


def test_explainers_are_the_ops_modules_functions() -> None:
    """Every explain function lives next to its spec kernel (refinterp/ops/<family>.py), not in the tool."""
    for name, function in (*EXPLAINERS.items(), *HYBRID_EXPLAINERS.items()):
        assert function.__module__.startswith("refinterp.ops."), name
    assert explain.REPORT_FORMAT == "refinterp-explain/1"


def _single_operator_kinds() -> list[tuple[str, str]]:
    from refinterp.tools.conformance.generators import GENERATORS

    return sorted(kind for kind in GENERATORS if kind[0] in EXPLAINERS or kind[0] in explain.MOVEMENT_OPS)


@pytest.mark.parametrize("kind", _single_operator_kinds(), ids="/".join)
def test_random_single_operator_cases_equal_litert(kind: tuple[str, str]) -> None:
    """The random single-operator cases (refinterp/tools/conformance/generators) of every operator with detailed
    steps, every dtype kind: int16, uint8, float32 and hybrid rules too. Random elements of each output,
    explained on the case's inputs, equal LiteRT BUILTIN_REF's output; under profile "tflm" they equal the spec
    kernel's value (explain_element withdraws steps that do not). An element of an operator with steps that gets
    none says which rule its steps do not cover (never a fallback without a reason; a data-movement operator's
    element in padding has no source and gets the generic explanation)."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the LiteRT oracle) is not installed")
    from oracle import Rejected, run_litert_ref

    from refinterp.errors import RefinterpError
    from refinterp.model import parse_model
    from refinterp.tools.conformance.generators import make_case

    op_name, dtype_kind = kind
    explained = 0
    for seed in range(2):
        case = make_case(op_name, dtype_kind, seed)
        if case.probe:
            continue
        try:
            outputs = run_litert_ref(case.model, case.inputs, op_name)
        except Rejected:
            continue
        model = parse_model(case.model)
        subgraph = model.subgraphs[0]
        if len(subgraph.operators) != 1:
            continue
        op = subgraph.operators[0]
        values = tensor_values(subgraph, case.inputs, outputs)
        rng = np.random.default_rng(seed)
        for output, tensor_index in enumerate(op.outputs):
            expected = values.get(tensor_index)
            if expected is None or expected.size == 0 or tensor_index not in subgraph.outputs:
                continue
            element = tuple(int(rng.integers(0, d)) for d in expected.shape)
            where = f"{case.describe()} output {output} element {list(element)}"
            for profile in ("litert-ref", "tflm"):
                try:
                    report = explain_element(model, values, 0, element, profile, output)
                except RefinterpError:  # the profile refuses the case (TFLM's rules differ by design)
                    continue
                assert not any("please report" in note for note in report["notes"]), f"{where}: {report['notes']}"
                assert report["detailed"] or op_name not in EXPLAINERS or any(
                    "do not cover" in note for note in report["notes"]), f"{where} ({profile}): {report['notes']}"
                if profile == "litert-ref":
                    want = expected[element].item()
                    assert report["value"] == want or (want != want and report["value"] != report["value"]), (
                        f"{where}: explained {report['value']}, LiteRT {want}")
                    explained += report["detailed"]
    del explained  # some kinds have no detailed rule (hybrid); the value check is the point


def test_emulation_profiles_explain_with_their_own_kernel(golden_run) -> None:
    """Under an emulation profile (refinterp/ops/emulation), an operator its table computes differently is
    explained with that kernel's value and the rule named (detailed steps when the table entry has an explain
    function); the others keep the reference profile's detailed steps."""
    from refinterp.ops.common import ALL_PROFILES, PROFILES

    model, values = golden_run
    emulations = [p for p in ALL_PROFILES if p not in PROFILES]
    if not emulations:
        pytest.skip("no emulation profile yet")
    for profile in emulations:
        for op_index, element in ((0, (0, 10, 20, 5)), (1, (0, 10, 20, 5)), (2, (0, 3, 4, 1))):
            report = explain_element(model, values, op_index, element, profile)
            assert report["profile"] == profile and report["value"] == report["spec_value"]
            assert report["detailed"] or any(profile in note for note in report["notes"]), report["notes"]


#: the recurrent operators explained from their variable inputs' reset state (refinterp/ops/svdf.py
#: ``explain_initial_state``), and the kinds with detailed steps
RECURRENT_KINDS = (("SVDF", "int8"), ("SVDF", "float32"), ("SVDF", "hybrid"), ("RNN", "float32"), ("RNN", "hybrid"),
                   ("UNIDIRECTIONAL_SEQUENCE_RNN", "float32"), ("UNIDIRECTIONAL_SEQUENCE_RNN", "hybrid"),
                   ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int8"), ("UNIDIRECTIONAL_SEQUENCE_LSTM", "float32"),
                   ("UNIDIRECTIONAL_SEQUENCE_LSTM", "hybrid"))


@pytest.mark.parametrize("kind", RECURRENT_KINDS, ids="/".join)
def test_recurrent_operators_are_explained_from_the_reset_state(kind: tuple[str, str], tmp_path) -> None:
    """The generators chain several recurrent operators on one state tensor: the first reads the reset state and
    is explained in detail (its value LiteRT's), each later one reads a state an earlier operator wrote, which the
    steps do not cover (the generic explanation, LiteRT's value, the reason said)."""
    from refinterp.model import parse_model
    from refinterp.tools.conformance.generators import make_case

    detailed = 0
    for seed in range(3):
        case = make_case(*kind, seed)
        if case.probe:
            continue
        path = tmp_path / f"{seed}.tflite"
        path.write_bytes(case.model)
        litert = _litert_tensors(path, case.inputs)
        model = parse_model(case.model)
        subgraph = model.subgraphs[0]
        values = {t.index: t.data for t in subgraph.tensors if t.data is not None}
        values.update(litert)
        rng = np.random.default_rng(seed)
        for op in subgraph.operators:
            expected = litert[op.outputs[0]]
            for _ in range(2):
                element = tuple(int(rng.integers(0, d)) for d in expected.shape)
                report = explain_element(model, values, op.index, element)
                where = f"{case.describe()} operator {op.index} element {list(element)}"
                assert report["value"] == expected[element].item(), where
                if op.index == 0:
                    assert report["detailed"], f"{where}: {report['notes']}"
                    detailed += 1
                else:
                    assert not report["detailed"] and any("ran on before" in note for note in report["notes"]), where
    assert detailed


@pytest.mark.parametrize("kind, names", [
    (("SOFTMAX", "int16->int16"), ("row maximum", "SaturatingRoundingDoublingHighMul", "exp lookup", "sum of exps",
                                   "1/(1+x) lookup", "scaled exp", "clamp")),
    (("LOGISTIC", "int16"), ("scaled input", "table position", "output")),
    (("BATCH_MATMUL", "int8"), ("LHS row", "products", "sum of products", "real multiplier",
                                "SaturatingRoundingDoublingHighMul", "plus output zero point", "clamp")),
    (("FULLY_CONNECTED", "hybrid"), ("input row", "row scale", "quantized row", "weights", "products",
                                     "sum of products", "scale", "rescaled", "plus bias")),
    (("DIV", "int8"), ("input 1 minus zero point", "reciprocal of the divisor", "times the reciprocal",
                       "RoundingDivideByPOT", "clamp")),
    (("UNIDIRECTIONAL_SEQUENCE_LSTM", "int8"), ("forget gate: pre-activation", "forget gate: activation",
                                                "cell gate: activation", "new cell state",
                                                "output gate: pre-activation", "tanh of the cell")),
])
def test_detailed_steps_name_the_rule(kind: tuple[str, str], names: tuple[str, ...]) -> None:
    """A few of the rules explained in detail, with the steps a reader looks for (spec kernel's value checked by
    explain_element; LiteRT's by the random-case tests)."""
    from refinterp.model import parse_model
    from refinterp.tools.conformance.generators import make_case

    case = make_case(*kind, 0)
    model = parse_model(case.model)
    subgraph = model.subgraphs[0]
    values = tensor_values(subgraph, case.inputs)
    op = subgraph.operators[0]
    interpreter = Interpreter(model_content=case.model)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), case.inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    values.update({i: v for i, v in interpreter.tensor_values().items() if i not in values})
    shape = values[op.outputs[0]].shape
    report = explain_element(model, values, 0, tuple(d - 1 for d in shape))
    assert report["detailed"], report["notes"]
    steps = [step["name"] for step in report["steps"]]
    for name in names:
        assert name in steps, (name, steps)


def test_tflm_integer_lstm_explained_equals_tflm() -> None:
    """Under profile "tflm" the integer LSTM is explained with TFLM's rule (tflm_integer_step: two fully connected
    layers per gate, the int16 table logistic and tanh, the MBQM cell update); the value is TFLM's own output."""
    pytest.importorskip("tflite_micro", reason="tflite-micro (the TFLM oracle) is not installed")
    from oracle import Rejected, run_tflm

    from refinterp.model import parse_model
    from refinterp.tools.conformance.generators import make_case

    explained = 0
    for seed in range(8):
        case = make_case("UNIDIRECTIONAL_SEQUENCE_LSTM", "int8", seed)
        if case.probe:
            continue
        try:
            outputs = run_tflm(case.model, case.inputs)
        except Rejected:
            continue
        model = parse_model(case.model)
        subgraph = model.subgraphs[0]
        op = subgraph.operators[0]
        if op.outputs[0] not in subgraph.outputs:
            continue
        values = tensor_values(subgraph, case.inputs, outputs)
        expected = values[op.outputs[0]]
        rng = np.random.default_rng(seed)
        for _ in range(3):
            element = tuple(int(rng.integers(0, d)) for d in expected.shape)
            try:
                report = explain_element(model, values, 0, element, "tflm")
            except RefinterpError:
                break  # TFLM's Prepare rules refuse what TFLM ran: not this test's concern
            assert report["detailed"], report["notes"]
            assert report["value"] == expected[element].item(), f"{case.describe()} element {list(element)}"
            assert "tanh of the cell" in [step["name"] for step in report["steps"]]
            explained += 1
    assert explained


def _edge_models() -> dict[str, tuple[bytes, list[np.ndarray]]]:
    """Single-operator models (refinterp.modelbuilder) at the edges of the L2_POOL_2D, TOPK_V2, ONE_HOT and
    SCATTER_ND rules: padding and the fused clamp, NaN and infinity; ties (the smaller position first), -0.0 and
    +0.0; int64 indices truncated to int32, out-of-range indices; duplicate indices whose float32 sum depends on the
    order, int8 sums that wrap, bool OR."""
    from refinterp.modelbuilder import TensorSpec, single_op_model

    rng = np.random.default_rng(15)
    models: dict[str, tuple[bytes, list[np.ndarray]]] = {}
    pool = rng.normal(0, 3, (1, 5, 6, 2)).astype(np.float32)
    pool[0, 0, 0, 0], pool[0, 4, 5, 1], pool[0, 2, 3, 0] = np.inf, np.nan, -0.0
    models["L2_POOL_2D same relu6"] = (single_op_model(
        "L2_POOL_2D", [TensorSpec(pool.shape, "float32")], [TensorSpec((1, 3, 3, 2), "float32")],
        {"padding": "SAME", "stride_h": 2, "stride_w": 2, "filter_height": 3, "filter_width": 3,
         "fused_activation_function": "RELU6"}), [pool])
    models["L2_POOL_2D valid"] = (single_op_model(
        "L2_POOL_2D", [TensorSpec(pool.shape, "float32")], [TensorSpec((1, 4, 3, 2), "float32")],
        {"padding": "VALID", "stride_h": 1, "stride_w": 2, "filter_height": 2, "filter_width": 2}),
        [np.nan_to_num(pool, nan=1.5, posinf=2.5)])
    ties = rng.integers(-2, 3, (2, 3, 7)).astype(np.int8)
    models["TOPK_V2 int8 ties"] = (single_op_model(
        "TOPK_V2", [TensorSpec(ties.shape, "int8", 0.5, -3), TensorSpec((1,), "int32", data=np.array([5], np.int32))],
        [TensorSpec((2, 3, 5), "int8", 0.5, -3), TensorSpec((2, 3, 5), "int16")]), [ties])
    signed_zeros = np.array([[0.0, -0.0, 1.5, -0.0, 0.0, -2.0], [-1.0, -1.0, 3.0, 3.0, -0.0, 0.0]], np.float32)
    models["TOPK_V2 float32 signed zeros, k at run time"] = (single_op_model(
        "TOPK_V2", [TensorSpec(signed_zeros.shape, "float32"), TensorSpec((1,), "int32")],
        [TensorSpec((2, 6), "float32"), TensorSpec((2, 6), "int32")]), [signed_zeros, np.array([6], np.int32)])
    hot = np.array([[0, 2, 2**32 + 1, -1], [3, 2**32, -(2**32) + 2, 1]], np.int64)
    models["ONE_HOT int64 axis 0"] = (single_op_model(
        "ONE_HOT", [TensorSpec(hot.shape, "int64"), TensorSpec((), "int32", data=np.array(3, np.int32)),
                    TensorSpec((), "int8", data=np.array(7, np.int8)),
                    TensorSpec((), "int8", data=np.array(-9, np.int8))],
        [TensorSpec((3, 2, 4), "int8")], {"axis": 0}), [hot])
    models["ONE_HOT int32 last axis, depth at run time"] = (single_op_model(
        "ONE_HOT", [TensorSpec((5,), "int32"), TensorSpec((), "int32"),
                    TensorSpec((), "float32", data=np.array(-0.0, np.float32)),
                    TensorSpec((), "float32", data=np.array(2.5, np.float32))],
        [TensorSpec((5, 4), "float32")], {"axis": -1}), [np.array([3, 0, 4, -1, 1], np.int32), np.array(4, np.int32)])
    order = np.array([[1], [1], [0], [1], [2], [1]], np.int32)
    models["SCATTER_ND float32 order"] = (single_op_model(
        "SCATTER_ND", [TensorSpec(order.shape, "int32"), TensorSpec((6, 2), "float32"),
                       TensorSpec((2,), "int32", data=np.array([4, 2], np.int32))], [TensorSpec((4, 2), "float32")]),
        [order, np.array([[1e8, 3.0], [1.0, -0.0], [2.5, 1.0], [-1e8, -0.0], [4.0, 5.0], [1.0, 1e-8]], np.float32)])
    models["SCATTER_ND int8 wraps"] = (single_op_model(
        "SCATTER_ND", [TensorSpec((3, 2), "int32"), TensorSpec((3,), "int8"),
                       TensorSpec((2,), "int32", data=np.array([2, 3], np.int32))], [TensorSpec((2, 3), "int8")]),
        [np.array([[1, 2], [1, 2], [0, 0]], np.int32), np.array([100, 100, -128], np.int8)])
    models["SCATTER_ND bool, shape at run time"] = (single_op_model(
        "SCATTER_ND", [TensorSpec((3, 1), "int32"), TensorSpec((3, 2), "bool"), TensorSpec((2,), "int32")],
        [TensorSpec((3, 2), "bool")]),
        [np.array([[2], [0], [2]], np.int32), np.array([[True, False], [False, False], [False, True]]),
         np.array([3, 2], np.int32)])
    return models


EDGE_STEPS = {"L2_POOL_2D": ("window", "squares", "sum of squares", "mean square", "square root", "clamp"),
              "TOPK_V2": ("row", "k", "largest values in order", "output"),
              "ONE_HOT": ("index", "equals the coordinate", "output"),
              "SCATTER_ND": ("output slice", "updates scattered here", "output")}


@pytest.mark.parametrize("name", sorted(_edge_models()))
def test_l2_pool_topk_one_hot_scatter_nd_every_element_equals_litert(name: str) -> None:
    """Every element of every output of the edge models above, explained in detail on the model's inputs, equals
    LiteRT BUILTIN_REF's element (the random cases of test_random_single_operator_cases_equal_litert cover one
    element per output; these cover the rules' corners)."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the LiteRT oracle) is not installed")
    from oracle import run_litert_ref

    from refinterp.model import parse_model

    model_bytes, inputs = _edge_models()[name]
    op_name = name.split()[0]
    outputs = run_litert_ref(model_bytes, inputs, op_name)
    model = parse_model(model_bytes)
    subgraph = model.subgraphs[0]
    op = subgraph.operators[0]
    values = tensor_values(subgraph, inputs, outputs)
    cache: dict = {}
    for output, tensor_index in enumerate(op.outputs):
        expected = values[tensor_index]
        assert expected.size
        for element in np.ndindex(*expected.shape):
            report = explain_element(model, values, 0, element, "litert-ref", output, cache)
            where = f"{name} output {output} element {list(element)}"
            assert report["detailed"], f"{where}: {report['notes']}"
            want = expected[element].item()
            got = report["value"]
            assert got == want or (want != want and got != got), f"{where}: explained {got}, LiteRT {want}"
            if isinstance(want, float) and want == 0.0:
                assert math.copysign(1.0, got) == math.copysign(1.0, want), f"{where}: the sign of zero"
            steps = [step["name"] for step in report["steps"]]
            assert set(EDGE_STEPS[op_name]) <= set(steps), (where, steps)


# --------------------------------------------------------------------------------------------------
# Detection post-processing and non-max suppression (refinterp/ops/detection.py): selection steps

DETECTION = "CUSTOM:TFLite_Detection_PostProcess"


def _nms_model(op_name: str, boxes: np.ndarray, scores: np.ndarray, size: int, iou: float, score_threshold: float,
               sigma: float | None = None) -> tuple[bytes, list[np.ndarray]]:
    from refinterp.modelbuilder import TensorSpec, single_op_model

    specs = [TensorSpec(boxes.shape, "float32"), TensorSpec(scores.shape, "float32"),
             TensorSpec((), "int32", data=np.array(size, np.int32)),
             TensorSpec((), "float32", data=np.array(iou, np.float32)),
             TensorSpec((), "float32", data=np.array(score_threshold, np.float32))]
    outputs = [TensorSpec((size,), "int32")]
    if sigma is not None:
        specs.append(TensorSpec((), "float32", data=np.array(sigma, np.float32)))
        outputs.append(TensorSpec((size,), "float32"))
    outputs.append(TensorSpec((), "int32"))
    return single_op_model(op_name, specs, outputs), [boxes, scores]


def _selection_models() -> dict[str, tuple[str, bytes, list[np.ndarray]]]:
    """Hand-built NMS models (tied scores the priority queue orders, identical and degenerate boxes, V5 soft-NMS
    decay) and generated cases (refinterp/tools/conformance/generators/detection.py) picked by what they draw:
    TFLite_Detection_PostProcess fast and regular NMS, uint8 and float32, tied scores, several classes per
    detection."""
    from refinterp.tools.conformance.generators import make_case

    tied = np.array([0.5, 0.9, 0.5, 0.5, 0.9, 0.2, 0.5, 0.7], np.float32)
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0.1, 0, 1.1, 1], [2, 2, 3, 3], [2.05, 2, 3, 3.05],
                      [1, 1, 0, 0], [4, 4, 4, 5], [3, 3, 2, 2]], np.float32)
    models = {
        "NON_MAX_SUPPRESSION_V4 ties": ("NON_MAX_SUPPRESSION_V4",
                                        *_nms_model("NON_MAX_SUPPRESSION_V4", boxes, tied, 7, 0.5, 0.1)),
        "NON_MAX_SUPPRESSION_V5 ties, soft sigma": ("NON_MAX_SUPPRESSION_V5",
                                                    *_nms_model("NON_MAX_SUPPRESSION_V5", boxes, tied, 8, 0.95,
                                                                0.15, sigma=0.4)),
        "NON_MAX_SUPPRESSION_V5 ties, hard": ("NON_MAX_SUPPRESSION_V5",
                                              *_nms_model("NON_MAX_SUPPRESSION_V5", boxes, tied, 5, 0.3, 0.0,
                                                          sigma=0.0)),
    }
    wanted = {
        "NON_MAX_SUPPRESSION_V5 generated soft": ("NON_MAX_SUPPRESSION_V5", "float32",
                                                  lambda p: p.get("sigma", 0) > 0 and p["num_boxes"] > 8),
        "NON_MAX_SUPPRESSION_V4 generated ties": ("NON_MAX_SUPPRESSION_V4", "float32",
                                                  lambda p: "tied" in p.get("edge", "") and p["num_boxes"] > 8),
        "detection fast float32 ties": (DETECTION, "float32", lambda p: not p["regular"] and p["ties"]),
        "detection fast uint8 classes per detection": (DETECTION, "uint8", lambda p: not p["regular"]
                                                       and p["max_classes_per_detection"] > 1),
        "detection regular float32": (DETECTION, "float32", lambda p: p["regular"]),
        "detection regular uint8 ties": (DETECTION, "uint8", lambda p: p["regular"] and p["ties"]),
    }
    for name, (op_name, kind, predicate) in wanted.items():
        for seed in range(200):
            case = make_case(op_name, kind, seed)
            if not case.probe and predicate(case.params):
                models[name] = (op_name, case.model, case.inputs)
                break
        else:
            raise AssertionError(f"no generated {op_name}/{kind} case is a {name!r}")
    return models


SELECTION_STEPS = {"NON_MAX_SUPPRESSION_V4": ("parameters", "candidates in score order", "output"),
                   "NON_MAX_SUPPRESSION_V5": ("parameters", "candidates in score order", "output"),
                   DETECTION: ("options", "output")}


@pytest.mark.parametrize("name", sorted(_selection_models()))
def test_nms_and_detection_postprocess_every_element_equals_litert(name: str) -> None:
    """Every element of every output (at most 120 per output) of the selection models above, explained in detail,
    equals LiteRT BUILTIN_REF's element; an element the kernel selected shows the selection loop, a detection's
    box element its decoding (the uint8 inputs dequantized first), a V5 soft-NMS one the score decay."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the LiteRT oracle) is not installed")
    from oracle import run_litert_ref

    from refinterp.model import parse_model

    op_name, model_bytes, inputs = _selection_models()[name]
    outputs = run_litert_ref(model_bytes, inputs, op_name)
    model = parse_model(model_bytes)
    subgraph = model.subgraphs[0]
    op = subgraph.operators[0]
    values = tensor_values(subgraph, inputs, outputs)
    cache: dict = {}
    seen: set[str] = set()
    rng = np.random.default_rng(3)
    for output, tensor_index in enumerate(op.outputs):
        expected = values[tensor_index]
        elements = list(np.ndindex(*expected.shape))
        if len(elements) > 120:
            elements = [elements[k] for k in sorted(rng.choice(len(elements), 120, replace=False))]
        for element in elements:
            report = explain_element(model, values, 0, element, "litert-ref", output, cache)
            where = f"{name} output {output} element {list(element)}"
            assert report["detailed"], f"{where}: {report['notes']}"
            want = expected[element].item()
            assert report["value"] == want, f"{where}: explained {report['value']}, LiteRT {want}"
            steps = [step["name"] for step in report["steps"]]
            assert set(SELECTION_STEPS[op_name]) <= set(steps), (where, steps)
            assert len(steps) <= 20, (where, steps)  # bounded: long lists are items of one step
            seen.update(steps)
    if op_name == DETECTION:
        assert {"decoded box", "centre", "half size"} <= seen, seen
        if "uint8" in name:
            assert {"box encoding (stored)", "anchor (stored)", "class scores dequantized"} <= seen, seen
        assert ("per-class NMS" in seen) == ("regular" in name), seen
    else:
        assert "candidates popped" in seen, seen
        if "soft" in name:
            assert "decay scale" in seen, seen


# ------------------------------------------------------------------------------------------------
# BIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_LSTM, DENSIFY: every element of single-operator models


def _every_element_equals_litert(model_bytes: bytes, inputs: list[np.ndarray], op_name: str,
                                 elements: int | None = None, seed: int = 0) -> list[dict]:
    """Every element (or ``elements`` random ones) of every output of the model's one operator, explained on the
    model's inputs, in detail and equal to LiteRT BUILTIN_REF's element. Returns the reports."""
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert (the LiteRT oracle) is not installed")
    from oracle import run_litert_ref

    from refinterp.model import parse_model

    outputs = run_litert_ref(model_bytes, inputs, op_name)
    model = parse_model(model_bytes)
    subgraph = model.subgraphs[0]
    op = subgraph.operators[0]
    values = tensor_values(subgraph, inputs, outputs)
    rng = np.random.default_rng(seed)
    cache: dict = {}
    reports = []
    for output, tensor_index in enumerate(op.outputs):
        expected = values[tensor_index]
        every = list(np.ndindex(*expected.shape))
        if elements is not None and len(every) > elements:
            every = [every[int(k)] for k in rng.choice(len(every), elements, replace=False)]
        for element in every:
            report = explain_element(model, values, 0, element, "litert-ref", output, cache)
            where = f"{op_name} output {output} element {list(element)}"
            assert report["detailed"], f"{where}: {report['notes']}"
            want, got = expected[element].item(), report["value"]
            assert got == want or (want != want and got != got), f"{where}: explained {got}, LiteRT {want}"
            reports.append(report)
    return reports


def _step_names(reports: list[dict]) -> set[str]:
    return {step["name"] for report in reports for step in report["steps"]}


def _bidirectional_rnn_model(kind: str, time_major: bool, merge: bool, aux: str) -> tuple[bytes, list[np.ndarray]]:
    """One BIDIRECTIONAL_SEQUENCE_RNN (batch 2, 3 steps, 4 forward and 3 backward units) with its inputs; ``aux``:
    "none", "cross" (auxiliary input and weights, wider than the input) or "bw_input" (auxiliary input only: the
    backward cell's input when time-major, ignored when batch-major)."""
    from refinterp.modelbuilder import TensorSpec
    from refinterp.tools.conformance.generators.svdf_rnn import bidirectional_model

    rng = np.random.default_rng([time_major, merge, ("none", "cross", "bw_input").index(aux)])
    batch, time, size, fw_units, bw_units = 2, 3, 5, 4, 3
    aux_size = size + 2 if aux == "cross" else size

    def weights(shape: tuple[int, int]) -> TensorSpec:
        if kind == "float32":
            return TensorSpec(shape, "float32", data=(rng.standard_normal(shape) * 0.5).astype(np.float32))
        return TensorSpec(shape, "int8", 0.01, 0, data=rng.integers(-127, 128, shape))

    constants = {1: weights((fw_units, size)), 2: weights((fw_units, fw_units)),
                 3: TensorSpec((fw_units,), "float32", data=rng.standard_normal(fw_units).astype(np.float32)),
                 5: weights((bw_units, size)), 6: weights((bw_units, bw_units)),
                 7: TensorSpec((bw_units,), "float32", data=rng.standard_normal(bw_units).astype(np.float32))}
    if aux == "cross":
        constants.update({10: weights((fw_units, aux_size)), 11: weights((bw_units, aux_size))})
    states = {4: TensorSpec((batch, fw_units), "float32", is_variable=True),
              8: TensorSpec((batch, bw_units), "float32", is_variable=True)}
    shape = (time, batch, size) if time_major else (batch, time, size)
    fw_step = fw_units + bw_units if merge else fw_units
    outputs = [TensorSpec((*shape[:2], fw_step), "float32")]
    if not merge:
        outputs.append(TensorSpec((*shape[:2], bw_units), "float32"))
    options = {"fused_activation_function": "TANH" if time_major else "RELU", "time_major": time_major,
               "merge_outputs": merge}
    if kind == "hybrid":  # symmetric time-major merged with batch > 1 crashes LiteRT (refused)
        options["asymmetric_quantize_inputs"] = merge or not time_major
    aux_shape = (*shape[:2], aux_size)
    model = bidirectional_model(1, TensorSpec(shape, "float32"),
                                TensorSpec(aux_shape, "float32") if aux != "none" else None, constants, states,
                                outputs, options, version=1 if kind == "float32" else 2)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    if kind == "hybrid":
        x.reshape(-1, size)[1] = 0.0  # a row of zeros (the whole block is zero only batch-major)
    inputs = [x] + ([(rng.standard_normal(aux_shape) * 2).astype(np.float32)] if aux != "none" else [])
    return model, inputs


@pytest.mark.parametrize("aux", ["none", "cross", "bw_input"])
@pytest.mark.parametrize("merge", [False, True], ids=["two outputs", "merged"])
@pytest.mark.parametrize("time_major", [False, True], ids=["batch-major", "time-major"])
@pytest.mark.parametrize("kind", ["float32", "hybrid"])
def test_bidirectional_rnn_every_element_equals_litert(kind: str, time_major: bool, merge: bool, aux: str) -> None:
    """Both cells (two outputs, or the merged one's columns), time-major (hybrid: EvalHybrid's repeated passes) or
    batch-major, the auxiliary input with weights (cross links) or without (the backward cell's input)."""
    reports = _every_element_equals_litert(*_bidirectional_rnn_model(kind, time_major, merge, aux),
                                           "BIDIRECTIONAL_SEQUENCE_RNN")
    names = _step_names(reports)
    assert {"direction", "bias", "plus weights product", "activation"} <= names, names
    assert {step["value"] for report in reports for step in report["steps"] if step["name"] == "direction"} == {
        "forward", "backward"}
    assert "plus recurrent_weights product" in names and ("quantized row" in names) == (kind == "hybrid"), names
    assert ("plus aux_weights product" in names) == (aux == "cross")
    assert ("input read" in names) == (aux == "bw_input" and time_major)


def _bidirectional_lstm_model(kind: str, time_major: bool, merge: bool, aux: bool,
                              asymmetric: bool = False) -> tuple[bytes, list[np.ndarray]]:
    """One BIDIRECTIONAL_SEQUENCE_LSTM (refinterp's generators' builder): the forward cell CIFG with peepholes and
    cell clipping, the backward one with a projection and its bias; batch 2 batch-major with two outputs, else
    batch 1 (LiteRT's float time-major batch order and merged batch-major states are refused), 3 steps."""
    from refinterp.tools.conformance.generators.recurrent import bidi_lstm_float_model

    rng = np.random.default_rng([time_major, merge, aux, asymmetric])
    n_batch = 2 if kind == "hybrid" or not (time_major or merge) else 1
    cells = (dict(n_cell=4, n_output=4, cifg=True, peephole=True, projection=False, projection_bias=False),
             dict(n_cell=4, n_output=4, cifg=False, peephole=False, projection=True, projection_bias=True))
    model = bidi_lstm_float_model(rng, n_batch=n_batch, max_time=3, n_input=5, cells=cells, time_major=time_major,
                                  merge_outputs=merge, activation="TANH", cell_clip=1.5, proj_clip=0.0,
                                  weight_scale=0.6, hybrid=kind == "hybrid", asymmetric=asymmetric, aux_input=aux)
    shape = (3, n_batch, 5) if time_major else (n_batch, 3, 5)
    inputs = [(rng.standard_normal(shape) * 1.5).astype(np.float32) for _ in range(2 if aux else 1)]
    if kind == "hybrid":
        inputs[0][1] = 0.0  # a time step of zeros: its whole block is skipped (IsZeroVector)
    return model, inputs


@pytest.mark.parametrize("kind, time_major, merge, aux, asymmetric", [
    ("float32", False, False, False, False), ("float32", False, True, True, False),
    ("float32", True, False, True, False), ("float32", True, True, False, False),
    ("hybrid", True, False, False, False), ("hybrid", True, True, False, True), ("hybrid", True, False, True, True),
])
def test_bidirectional_lstm_every_element_equals_litert(kind: str, time_major: bool, merge: bool, aux: bool,
                                                        asymmetric: bool) -> None:
    """Both cells (two outputs, or the merged one's columns) explained as the unidirectional float32 / hybrid LSTM
    from their own states, the backward one over the reversed time axis (reading the auxiliary input when given
    without weights); time-major and batch-major (float32; LiteRT runs the hybrid one time-major only)."""
    reports = _every_element_equals_litert(*_bidirectional_lstm_model(kind, time_major, merge, aux, asymmetric),
                                           "BIDIRECTIONAL_SEQUENCE_LSTM")
    names = _step_names(reports)
    assert {"forget gate: activation", "new cell state", "cell clip", "input gate (CIFG)", "projection"} <= names
    notes = " ".join(step["note"] for report in reports for step in report["steps"]
                     if step["name"] == "output element")
    assert "of the forward cell" in notes and "of the backward cell" in notes
    assert ("reads the auxiliary input" in notes) == aux


@pytest.mark.parametrize("kind", ["float32", "float16", "int8"])
def test_densify_random_cases_equal_litert(kind: str) -> None:
    """The random DENSIFY cases (refinterp/tools/conformance/generators/densify.py): random elements, stored or
    not, of blocked and permuted traversals, dense and CSR levels."""
    from refinterp.tools.conformance.generators import make_case

    names: set[str] = set()
    for seed in range(10):
        case = make_case("DENSIFY", kind, seed)
        if case.probe:
            continue
        names |= _step_names(_every_element_equals_litert(case.model, case.inputs, "DENSIFY", 30, seed))
    assert {"stored value", "not stored", "path", "expanded coordinates"} <= names, names


def _densify_models() -> dict[str, tuple[bytes, list[np.ndarray]]]:
    """Sparse constants (refinterp.modelbuilder.sparsify) at DENSIFY's corners: blocks traversed in reverse with
    a permuted, CSR original order; a CSR level repeating an index (the later value stays); int8 per channel."""
    from refinterp.modelbuilder import TensorSpec, single_op_model, sparsify

    rng = np.random.default_rng(7)
    models = {}
    dense = rng.standard_normal((4, 6)).astype(np.float32)
    dense[rng.random(dense.shape) < 0.5] = 0.0
    dense[2:4, 0:3] = 0.0  # a block of zeros: not stored (the stored blocks keep their zeros)
    values, sparsity = sparsify(dense, [1, 0, 3, 2], [0, 1], [2, 3], ["SPARSE_CSR", "SPARSE_CSR", "DENSE", "DENSE"])
    models["float32 two blocks, reversed"] = (single_op_model(
        "DENSIFY", [TensorSpec(dense.shape, "float32", data=values, sparsity=sparsity)],
        [TensorSpec(dense.shape, "float32")]), [])
    dense = np.array([[0.0, 1.0, 2.0, 0.0], [3.0, 0.0, 4.0, 5.0], [0.0, 0.0, 0.0, 6.0]], np.float16)
    values, sparsity = sparsify(dense, None, None, None, ["DENSE", "SPARSE_CSR"])
    indices = list(sparsity.dim_metadata[1].indices)
    indices[3] = indices[2]  # row 1 lists column 0 twice: 4.0 lands on [1, 0] after 3.0
    sparsity.dim_metadata[1].indices = indices
    models["float16 repeated index"] = (single_op_model(
        "DENSIFY", [TensorSpec(dense.shape, "float16", data=values, sparsity=sparsity)],
        [TensorSpec(dense.shape, "float16")]), [])
    dense8 = rng.integers(-128, 128, (3, 2, 4)).astype(np.int8)
    dense8[rng.random(dense8.shape) < 0.6] = 0
    values, sparsity = sparsify(dense8, [2, 0, 1], None, None, ["DENSE", "SPARSE_CSR", "SPARSE_CSR"])
    scales, zero_points = [0.5, 0.25, 0.125, 1.0], [0, 0, 0, 0]
    models["int8 per channel, CSR inner levels"] = (single_op_model(
        "DENSIFY", [TensorSpec(dense8.shape, "int8", scales, zero_points, 2, data=values, sparsity=sparsity)],
        [TensorSpec(dense8.shape, "int8", scales, zero_points, 2)]), [])
    return models


@pytest.mark.parametrize("name", sorted(_densify_models()))
def test_densify_every_element_equals_litert(name: str) -> None:
    reports = _every_element_equals_litert(*_densify_models()[name], "DENSIFY")
    names = _step_names(reports)
    assert {"stored value", "not stored", "path"} <= names, names
    if "repeated" in name:
        assert any("the last one written stays" in step.get("note", "") for report in reports
                   for step in report["steps"])
