"""`refinterp qerror`: metric arithmetic, tensor matching, the float shadow, isolation, the CLI's outputs.

Expected metric values are worked out by hand (known arrays -> known SQNR); expected int8 values come from
LiteRT BUILTIN_REF; expected float values from NumPy float64 arithmetic on the dequantized weights (with a
declared tolerance, because refinterp's float32 kernels round every step to float32).
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import importlib.util
import json
import math
import sys
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
from conftest import GOLDEN_DIR, ROOT, shared_model

import refinterp.tools.qerror as qerror_package
from refinterp.cli import main as cli_main
from refinterp.errors import RuntimeUnavailableError
from refinterp.io import model_input_specs, seeded_inputs
from refinterp.model import Quantization, Tensor, load_model, parse_model
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model
from refinterp.tools.qerror import (
    MATPLOTLIB_MISSING,
    ErrorAccumulator,
    analyze,
    build_float_shadow,
    build_parser,
    layer_metrics,
    litert_available,
    match_tensors,
    plot_figure,
    plot_png,
    quantize_like,
    range_bounds,
)

DEBUGGER_COLUMNS = ["op_name", "tensor_idx", "num_elements", "stddev", "mean_error", "max_abs_error",
                    "mean_squared_error"]

# ==================================================================================================
# Metric arithmetic, by hand


def test_metrics_of_known_arrays():
    # e = [0, 0, 0, 1]; sum ref^2 = 1+4+9+16 = 30; sum approx^2 = 1+4+9+25 = 39; sum ref*approx = 34
    m = layer_metrics(np.array([1.0, 2.0, 3.0, 5.0]), np.array([1.0, 2.0, 3.0, 4.0]), scale=0.5)
    assert m["num_elements"] == 4
    assert m["mean_error"] == 0.25
    assert m["mean_squared_error"] == 0.25
    assert m["rmse"] == 0.5
    assert m["stddev"] == pytest.approx(math.sqrt(0.25 - 0.0625), abs=1e-15)
    assert m["max_abs_error"] == 1.0
    assert m["rmse_lsb"] == 1.0  # 0.5 / 0.5
    assert m["max_abs_error_lsb"] == 2.0
    assert m["sqnr_db"] == pytest.approx(10 * math.log10(30.0), abs=1e-12)
    assert m["cosine"] == pytest.approx(34 / math.sqrt(30 * 39), abs=1e-15)


def test_sqnr_of_a_round_case_is_exactly_20_db():
    # reference energy 3^2 + 4^2 = 25, error energy 0.5^2 = 0.25: ratio 100 -> 20 dB
    m = layer_metrics(np.array([3.0, 4.5]), np.array([3.0, 4.0]))
    assert m["sqnr_db"] == pytest.approx(20.0, abs=1e-12)
    assert m["mean_error"] == 0.25  # the sign is dequantized minus float, as QuantizationDebugger's


def test_no_error_is_infinite_sqnr_and_unit_cosine():
    m = layer_metrics(np.array([0.0, 1.5]), np.array([0.0, 1.5]), scale=0.5)
    assert m["sqnr_db"] == math.inf
    assert m["cosine"] == 1.0
    assert m["rmse_lsb"] == 0.0
    both_zero = layer_metrics(np.zeros(3), np.zeros(3))
    assert both_zero["cosine"] == 1.0 and both_zero["sqnr_db"] == math.inf
    assert layer_metrics(np.ones(2), np.zeros(2))["sqnr_db"] == -math.inf


def test_metrics_pool_over_cases():
    rng = np.random.default_rng(3)
    reference = rng.standard_normal(1000)
    approx = reference + 0.01 * rng.standard_normal(1000)
    pooled = ErrorAccumulator()
    pooled.add(approx[:300], reference[:300])
    pooled.add(approx[300:], reference[300:])
    whole = layer_metrics(approx, reference, scale=0.02)
    for name, value in pooled.metrics(0.02, with_range_fractions=False).items():
        if value is not None:
            assert value == pytest.approx(whole[name], rel=1e-12), name


def test_quantize_like_follows_tflite_quantize():
    tensor = _int8_tensor(scale=0.5, zero_point=3)
    # x / 0.5 = 0.5 -> 1 (half away from zero), -0.5 -> -1, 1.5 -> 2 (half-even would give 2 as well),
    # 2.5 -> 3 (half-even would give 2), then + zp 3, clamped to [-128, 127]
    x = np.array([0.25, -0.25, 0.75, 1.25, 100.0, -100.0])
    assert quantize_like(tensor, x).tolist() == [4, 2, 5, 6, 127, -128]


def test_saturated_and_clipped_counts():
    # RELU, scale 0.1, zp -128: the ReLU floor (real 0) is -128, the type's floor too -> clipped, not saturated;
    # 127 is only the type's limit -> saturated.
    op = _FakeOp("CONV_2D", fused_activation_function=1)
    bounds = range_bounds(op, _int8_tensor(scale=0.1, zero_point=-128))
    assert (bounds.activation_low, bounds.activation_high) == (-128, None)
    q = np.array([-128, -128, -5, 127, 126], dtype=np.int8)
    assert bounds.counts(q) == (1, 2)
    # RELU6 with scale 6/255, zp -128: Q(6) = -128 + round(6 / (6/255)) = 127 -> 127 is the activation's
    # ceiling (clipped), and nothing is saturated.
    relu6 = range_bounds(_FakeOp("CONV_2D", fused_activation_function=3), _int8_tensor(6 / 255, -128))
    assert (relu6.activation_low, relu6.activation_high) == (-128, 127)
    assert relu6.counts(q) == (0, 3)
    # No activation, zp 0: both type limits are saturation.
    plain = range_bounds(_FakeOp("CONV_2D"), _int8_tensor(0.1, 0))
    assert plain.counts(np.array([-128, 0, 127, 127], dtype=np.int8)) == (3, 0)
    # RELU with zp -100: the floor is -100; -128 cannot occur but would be saturation.
    relu = range_bounds(_FakeOp("CONV_2D", fused_activation_function=1), _int8_tensor(0.1, -100))
    assert relu.counts(np.array([-100, -100, -99, 127], dtype=np.int8)) == (1, 2)


@dataclasses.dataclass
class _FakeOp:
    name: str
    fused_activation_function: int = 0

    @property
    def options(self):
        return {"fused_activation_function": self.fused_activation_function}


def _int8_tensor(scale: float, zero_point: int) -> Tensor:
    quantization = Quantization(np.array([scale], np.float32), np.array([zero_point], np.int64), 0)
    return Tensor(index=0, name="t", type_name="int8", dtype=np.dtype(np.int8), shape=(4,), shape_signature=(4,),
                  quantization=quantization, buffer=0, data=None)


# ==================================================================================================
# Small models


def _per_channel(rng, shape, channels):
    weights = rng.integers(-127, 128, shape, dtype=np.int8)
    scales = [float(s) for s in rng.uniform(0.002, 0.006, channels).astype(np.float32)]
    return weights, scales


def chain_models(float_noise: float = 0.0) -> tuple[bytes, bytes]:
    """An int8 model float-in -> QUANTIZE -> CONV(RELU) -> MAX_POOL -> CONV -> DEQUANTIZE -> float-out, and its
    float twin without QUANTIZE/DEQUANTIZE and with every tensor named differently."""
    rng = np.random.default_rng(7)
    s_x, s_c1, s_c3 = 0.02, 0.05, 0.15
    w1, sw1 = _per_channel(rng, (4, 3, 3, 3), 4)
    w3, sw3 = _per_channel(rng, (2, 1, 1, 4), 2)
    b1 = rng.integers(-400, 400, 4).astype(np.int32)
    b3 = rng.integers(-400, 400, 2).astype(np.int32)
    sb1 = [float(np.float32(s_x) * np.float32(s)) for s in sw1]
    sb3 = [float(np.float32(s_c1) * np.float32(s)) for s in sw3]
    int8_tensors = [
        TensorSpec((1, 8, 8, 3), "float32", name="image"),
        TensorSpec((1, 8, 8, 3), "int8", scale=s_x, zero_point=-3, name="image_int8"),
        TensorSpec((4, 3, 3, 3), "int8", scale=sw1, zero_point=0, data=w1, name="conv1/w"),
        TensorSpec((4,), "int32", scale=sb1, zero_point=0, data=b1, name="conv1/b"),
        TensorSpec((1, 8, 8, 4), "int8", scale=s_c1, zero_point=-128, name="conv1/relu"),
        TensorSpec((1, 4, 4, 4), "int8", scale=s_c1, zero_point=-128, name="pool"),
        TensorSpec((2, 1, 1, 4), "int8", scale=sw3, zero_point=0, data=w3, name="conv3/w"),
        TensorSpec((2,), "int32", scale=sb3, zero_point=0, data=b3, name="conv3/b"),
        TensorSpec((1, 4, 4, 2), "int8", scale=s_c3, zero_point=3, name="conv3/out"),
        TensorSpec((1, 4, 4, 2), "float32", name="logits"),
    ]
    int8_ops = [
        OpSpec("QUANTIZE", [0], [1]),
        OpSpec("CONV_2D", [1, 2, 3], [4], {"padding": "SAME", "fused_activation_function": "RELU"}),
        OpSpec("MAX_POOL_2D", [4], [5], {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2,
                                         "filter_height": 2}),
        OpSpec("CONV_2D", [5, 6, 7], [8], {"padding": "SAME"}),
        OpSpec("DEQUANTIZE", [8], [9]),
    ]

    def real(q, scales, axis_shape):
        return (q.astype(np.float64) * np.array(scales).reshape(axis_shape)).astype(np.float32)

    def noisy(values):
        return (values + float_noise * rng.standard_normal(values.shape)).astype(np.float32)

    float_tensors = [
        TensorSpec((1, 8, 8, 3), "float32", name="x"),
        TensorSpec((4, 3, 3, 3), "float32", data=noisy(real(w1, sw1, (4, 1, 1, 1))), name="k1"),
        TensorSpec((4,), "float32", data=noisy(real(b1, sb1, (4,))), name="k1_bias"),
        TensorSpec((1, 8, 8, 4), "float32", name="a1"),
        TensorSpec((1, 4, 4, 4), "float32", name="a2"),
        TensorSpec((2, 1, 1, 4), "float32", data=noisy(real(w3, sw3, (2, 1, 1, 1))), name="k3"),
        TensorSpec((2,), "float32", data=noisy(real(b3, sb3, (2,))), name="k3_bias"),
        TensorSpec((1, 4, 4, 2), "float32", name="y"),
    ]
    float_ops = [
        OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "fused_activation_function": "RELU"}),
        OpSpec("MAX_POOL_2D", [3], [4], {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2,
                                         "filter_height": 2}),
        OpSpec("CONV_2D", [4, 5, 6], [7], {"padding": "SAME"}),
    ]
    return (build_model(int8_tensors, int8_ops, [0], [9]), build_model(float_tensors, float_ops, [0], [7]))


def branch_models(same_filter_shapes: bool) -> tuple[bytes, bytes]:
    """int8: x -> conv A, x -> conv B -> CONCAT. The float twin lists B before A and renames everything; with
    equal filter shapes only the weights tell A from B."""
    rng = np.random.default_rng(11)
    k_b = 1 if same_filter_shapes else 3
    wa, swa = _per_channel(rng, (4, 1, 1, 3), 4)
    wb, swb = _per_channel(rng, (4, k_b, k_b, 3), 4)
    s_x, s_out = 0.03, 0.06
    int8_tensors = [
        TensorSpec((1, 6, 6, 3), "int8", scale=s_x, zero_point=0, name="in"),
        TensorSpec(wa.shape, "int8", scale=swa, data=wa, name="a/w"),
        TensorSpec((1, 6, 6, 4), "int8", scale=s_out, zero_point=0, name="a/out"),
        TensorSpec(wb.shape, "int8", scale=swb, data=wb, name="b/w"),
        TensorSpec((1, 6, 6, 4), "int8", scale=s_out, zero_point=0, name="b/out"),
        TensorSpec((1, 6, 6, 8), "int8", scale=s_out, zero_point=0, name="cat"),
    ]
    int8_ops = [OpSpec("CONV_2D", [0, 1, -1], [2], {"padding": "SAME"}),
                OpSpec("CONV_2D", [0, 3, -1], [4], {"padding": "SAME"}),
                OpSpec("CONCATENATION", [2, 4], [5], {"axis": 3})]
    real_a = (wa * np.array(swa).reshape(4, 1, 1, 1)).astype(np.float32)
    real_b = (wb * np.array(swb).reshape(4, 1, 1, 1)).astype(np.float32)
    float_tensors = [
        TensorSpec((1, 6, 6, 3), "float32", name="f0"),
        TensorSpec(wb.shape, "float32", data=real_b, name="f1"),
        TensorSpec((1, 6, 6, 4), "float32", name="f2"),
        TensorSpec(wa.shape, "float32", data=real_a, name="f3"),
        TensorSpec((1, 6, 6, 4), "float32", name="f4"),
        TensorSpec((1, 6, 6, 8), "float32", name="f5"),
    ]
    float_ops = [OpSpec("CONV_2D", [0, 1, -1], [2], {"padding": "SAME"}),  # B first
                 OpSpec("CONV_2D", [0, 3, -1], [4], {"padding": "SAME"}),  # then A
                 OpSpec("CONCATENATION", [4, 2], [5], {"axis": 3})]
    return build_model(int8_tensors, int8_ops, [0], [5]), build_model(float_tensors, float_ops, [0], [5])


# ==================================================================================================
# Matching


def test_matching_survives_renames_and_missing_edge_qdq():
    int8_bytes, float_bytes = chain_models()
    matches, notes = match_tensors(parse_model(int8_bytes).main, parse_model(float_bytes).main)
    assert notes == []
    found = {index: (m.float_index, m.method) for index, m in matches.items()}
    assert found == {
        0: (0, "input"),  # the float input of the int8 model
        1: (0, "input"),  # its QUANTIZE output: the same real value
        4: (3, "structure"), 5: (4, "structure"), 8: (7, "structure"),
        9: (7, "structure"),  # the DEQUANTIZE output: the float model has no DEQUANTIZE
    }


@pytest.mark.parametrize("same_filter_shapes", [False, True], ids=["by-filter-shape", "by-weights"])
def test_matching_pairs_parallel_branches_listed_in_another_order(same_filter_shapes):
    int8_bytes, float_bytes = branch_models(same_filter_shapes)
    matches, notes = match_tensors(parse_model(int8_bytes).main, parse_model(float_bytes).main)
    assert notes == []
    assert matches[2].float_index == 4  # int8 conv A -> float conv A (listed second)
    assert matches[4].float_index == 2
    assert matches[5].float_index == 5  # CONCAT inputs in the same order in both


def test_matching_prefers_names_when_they_agree():
    golden = load_model(GOLDEN_DIR / "yolov3_tiny_int8.tflite").main
    float_sg = load_model(GOLDEN_DIR / "yolov3_tiny_float.tflite").main
    matches, notes = match_tensors(golden, float_sg)
    outputs = [o for op in golden.operators for o in op.outputs]
    assert notes == []
    assert all(matches[o].method == "name" for o in outputs)
    assert all(golden.tensors[o].name == float_sg.tensors[matches[o].float_index].name for o in outputs)
    # With every float tensor renamed, structure alone must find the same counterparts.
    renamed, notes = match_tensors(golden, _renamed(float_sg))
    assert notes == []
    assert {o: renamed[o].float_index for o in outputs} == {o: matches[o].float_index for o in outputs}
    assert {renamed[o].method for o in outputs} == {"structure"}


def _renamed(subgraph):
    tensors = tuple(dataclasses.replace(t, name=f"renamed_{t.index}") for t in subgraph.tensors)
    return dataclasses.replace(subgraph, tensors=tensors)


# ==================================================================================================
# The float shadow and the whole analysis on a one-op model, by hand


def _one_conv_model() -> tuple[bytes, dict]:
    rng = np.random.default_rng(5)
    w, sw = _per_channel(rng, (3, 3, 3, 2), 3)
    s_x, zp_x, s_y, zp_y = 0.05, 4, 0.08, -10
    sb = [float(np.float32(s_x) * np.float32(s)) for s in sw]
    b = rng.integers(-2000, 2000, 3).astype(np.int32)
    model = build_model([
        TensorSpec((1, 5, 5, 2), "int8", scale=s_x, zero_point=zp_x, name="x"),
        TensorSpec(w.shape, "int8", scale=sw, data=w, name="w"),
        TensorSpec((3,), "int32", scale=sb, data=b, name="b"),
        TensorSpec((1, 5, 5, 3), "int8", scale=s_y, zero_point=zp_y, name="y"),
    ], [OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "fused_activation_function": "RELU6"})], [0], [3])
    return model, dict(w=w, sw=sw, b=b, sb=sb, s_x=s_x, zp_x=zp_x, s_y=s_y, zp_y=zp_y)


def test_float_shadow_dequantizes_constants_exactly():
    model_bytes, p = _one_conv_model()
    shadow = parse_model(build_float_shadow(parse_model(model_bytes))).main
    assert [t.type_name for t in shadow.tensors] == ["float32"] * 4
    assert all(t.quantization is None for t in shadow.tensors)
    expected_w = (p["w"].astype(np.float64) * np.array(p["sw"]).reshape(3, 1, 1, 1)).astype(np.float32)
    expected_b = (p["b"].astype(np.float64) * np.array(p["sb"])).astype(np.float32)
    np.testing.assert_array_equal(shadow.tensors[1].data, expected_w)
    np.testing.assert_array_equal(shadow.tensors[2].data, expected_b)
    assert shadow.operators[0].options["fused_activation_function"] == 3  # RELU6 kept


def test_shadow_analysis_matches_hand_arithmetic(tmp_path):
    from oracle import run_litert_ref

    model_bytes, p = _one_conv_model()
    path = tmp_path / "conv.tflite"
    path.write_bytes(model_bytes)
    x = np.random.default_rng(1).integers(-128, 128, (1, 5, 5, 2), dtype=np.int8)
    report = analyze(str(path), None, [[x]], isolate=True)
    row = next(r for r in report.rows if r.op_name == "CONV_2D")

    # int8 output from LiteRT's reference kernels, float output by hand in float64 (SAME 3x3, RELU6).
    q = run_litert_ref(model_bytes, [x])[0]
    x_real = (x.astype(np.float64) - p["zp_x"]) * np.float32(p["s_x"])
    w_real = p["w"].astype(np.float64) * np.array(p["sw"], np.float64).reshape(3, 1, 1, 1)
    padded = np.pad(x_real, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = np.zeros((1, 5, 5, 3))
    for oy in range(5):
        for ox in range(5):
            y[0, oy, ox] = np.einsum("hwc,ohwc->o", padded[0, oy:oy + 3, ox:ox + 3], w_real)
    y = np.clip(y + p["b"] * np.array(p["sb"], np.float64), 0.0, 6.0)
    expected = layer_metrics((q.astype(np.float64) - p["zp_y"]) * np.float32(p["s_y"]), y, scale=p["s_y"])
    got = row.metrics()
    # refinterp's float kernels compute in float32: relative differences of ~1e-6 in the reference values
    for name in ("mean_error", "max_abs_error", "mean_squared_error", "rmse_lsb", "sqnr_db", "cosine"):
        assert got[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-6), name
    # The input is exact, so the isolated run is the same run: own share 1.
    assert row.isolated_metrics()["mean_squared_error"] == got["mean_squared_error"]
    assert row.own_share() == 1.0
    input_row = report.rows[0]
    assert input_row.op_name == "INPUT" and input_row.metrics()["sqnr_db"] == math.inf


@pytest.mark.skipif(not litert_available(), reason="ai-edge-litert is not installed")
def test_shadow_model_runs_the_same_on_litert(tmp_path):
    from oracle import run_litert_ref

    import refinterp

    int8_bytes, _ = chain_models()
    shadow = build_float_shadow(parse_model(int8_bytes))
    x = np.random.default_rng(2).uniform(-2, 2, (1, 8, 8, 3)).astype(np.float32)
    expected = run_litert_ref(shadow, [x])[0]
    interpreter = refinterp.Interpreter(model_content=shadow)
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, x)
    interpreter.invoke()
    # refinterp's float kernels sum in the reference kernels' order: bit for bit, no tolerance
    got = interpreter.get_tensor(9)
    assert got.dtype == expected.dtype and np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_twin_analysis_chain(tmp_path):
    int8_bytes, float_bytes = chain_models(float_noise=0.001)
    (tmp_path / "q.tflite").write_bytes(int8_bytes)
    (tmp_path / "f.tflite").write_bytes(float_bytes)
    x = np.random.default_rng(4).uniform(-2, 2, (1, 8, 8, 3)).astype(np.float32)
    report = analyze(str(tmp_path / "q.tflite"), str(tmp_path / "f.tflite"), [[x]], isolate=True)
    assert [r.op_name for r in report.rows] == ["QUANTIZE", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "DEQUANTIZE"]
    assert not report.unmatched_ops()
    quantize_row, dequantize_row = report.rows[0], report.rows[-1]
    # The QUANTIZE output against the float input: rounding only, at most half a step.
    assert quantize_row.metrics()["max_abs_error"] <= 0.02 / 2 + 1e-9
    # DEQUANTIZE changes nothing: its error is the last CONV's.
    assert dequantize_row.metrics()["mean_squared_error"] == pytest.approx(
        report.rows[3].metrics()["mean_squared_error"], rel=1e-6)
    # MAX_POOL commutes with quantization: fed the quantized float input its own error is rounding only.
    pool_iso = report.rows[2].isolated_metrics()
    assert pool_iso["max_abs_error_lsb"] <= 0.5 + 1e-6


# ==================================================================================================
# The golden pair and the real pairs


@pytest.fixture(scope="module")
def golden_report():
    x = np.load(GOLDEN_DIR / "yolov3_tiny_int8" / "inputs" / "smooth.npy")
    return analyze(str(GOLDEN_DIR / "yolov3_tiny_int8.tflite"), str(GOLDEN_DIR / "yolov3_tiny_float.tflite"),
                   [[x]], isolate=True)


def _check_isolation(report) -> None:
    """Own (isolated) SQNR is not below the accumulated SQNR, except where the layer's own error is the
    whole error (own share >= 0.9): then both runs see nearly the same input and the small inherited part
    can cancel a little of the own error; such a deficit stays under 0.5 dB."""
    for row in report.rows:
        if row.isolated is None:
            continue
        own, accumulated = row.isolated_metrics()["sqnr_db"], row.metrics()["sqnr_db"]
        if own < accumulated - 1e-9:
            assert row.own_share() >= 0.9 and accumulated - own < 0.5, (row.op_index, own, accumulated)


def test_golden_pair_every_op_output_matched_and_isolation(golden_report):
    ops = [r for r in golden_report.rows if r.op_index >= 0]
    assert len(ops) == 34
    assert not golden_report.unmatched_ops()
    assert all(r.metrics()["num_elements"] > 0 for r in ops)
    _check_isolation(golden_report)
    # Pure data movement fed the quantized float reference: rounding error only, 1/sqrt(12) LSB = 0.289.
    for row in ops:
        if row.op_name in ("RESIZE_NEAREST_NEIGHBOR", "CONCATENATION"):
            assert row.isolated_metrics()["rmse_lsb"] == pytest.approx(1 / math.sqrt(12), abs=0.02)


REAL_PAIRS = [("ad01_int8", "ad01_fp32"), ("ic_resnet_quant", "ic_resnet_float"),
              ("ic_resnet_large_int8", "ic_resnet_large_float"), ("kws_ref_model", "kws_ref_model_float32"),
              ("vww_96_int8", "vww_96_float")]


@pytest.mark.parametrize("int8_name,float_name", REAL_PAIRS, ids=[p[0] for p in REAL_PAIRS])
def test_real_pair(int8_name, float_name):
    int8_path = shared_model(f"mlcommons-tiny/{int8_name}.tflite")
    float_path = shared_model(f"mlcommons-tiny/{float_name}.tflite")
    int8_sg, float_sg = load_model(int8_path).main, load_model(float_path).main
    outputs = [o for op in int8_sg.operators for o in op.outputs]
    matches, _ = match_tensors(int8_sg, float_sg)
    assert all(o in matches for o in outputs)
    renamed, _ = match_tensors(int8_sg, _renamed(float_sg))
    assert {o: renamed[o].float_index for o in outputs} == {o: matches[o].float_index for o in outputs}
    try:
        report = analyze(str(int8_path), str(float_path), [seeded_inputs(model_input_specs(load_model(int8_path)), 0)],
                         isolate=True)
    except RuntimeUnavailableError as exc:  # a float op only LiteRT has, and LiteRT absent
        pytest.skip(str(exc))
    assert not report.unmatched_ops()
    assert all(r.metrics()["num_elements"] for r in report.rows)
    _check_isolation(report)


# ==================================================================================================
# CLI


@pytest.fixture()
def chain_files(tmp_path):
    int8_bytes, float_bytes = chain_models(float_noise=0.001)
    (tmp_path / "q.tflite").write_bytes(int8_bytes)
    (tmp_path / "f.tflite").write_bytes(float_bytes)
    x = np.random.default_rng(4).uniform(-2, 2, (3, 1, 8, 8, 3)).astype(np.float32)  # three cases
    np.save(tmp_path / "x.npy", x)
    return tmp_path


def test_cli_writes_every_output(chain_files, capsys):
    d = chain_files
    argv = ["qerror", str(d / "q.tflite"), "--float", str(d / "f.tflite"), "--input", str(d / "x.npy"),
            "--isolate", "--csv", str(d / "r.csv"), "--json", str(d / "r.json"), "--html", str(d / "r.html")]
    pytest.importorskip("matplotlib")
    argv += ["--plot", str(d / "r.png")]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "5 of 5 int8 operator outputs matched" in out and "(3 cases)" in out
    with open(d / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys())
    assert header[:len(DEBUGGER_COLUMNS)] == DEBUGGER_COLUMNS
    assert header.index("scale") < header.index("zero_point") < header.index("tensor_name")
    assert [r["op_name"] for r in rows] == ["QUANTIZE", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "DEQUANTIZE"]
    assert int(rows[1]["num_elements"]) == 3 * 8 * 8 * 4
    document = json.loads((d / "r.json").read_text())
    assert document["cases"] == 3 and len(document["layers"]) == 5
    assert document["layers"][1]["isolated"]["sqnr_db"] is not None
    assert (d / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (d / "r.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html and "src=\"http" not in html


def test_cli_float_shadow_and_seed(chain_files, capsys):
    assert cli_main(["qerror", str(chain_files / "q.tflite"), "--seed", "3", "--quiet",
                     "--json", str(chain_files / "s.json")]) == 0
    document = json.loads((chain_files / "s.json").read_text())
    assert document["reference"]["kind"] == "float shadow"
    assert {layer["match"] for layer in document["layers"]} == {"shadow"}


def _hide_matplotlib(monkeypatch) -> None:
    """Make every `import matplotlib...` fail, as on a machine without it."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_cli_without_matplotlib_writes_everything_else(chain_files, monkeypatch, capsys):
    _hide_matplotlib(monkeypatch)
    d = chain_files
    argv = ["qerror", str(d / "q.tflite"), "--float", str(d / "f.tflite"), "--input", str(d / "x.npy"), "--quiet",
            "--plot", str(d / "p.png"), "--html", str(d / "p.html"), "--csv", str(d / "p.csv"),
            "--json", str(d / "p.json")]
    assert cli_main(argv) == 2  # the plot was asked for and could not be written
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, err
    assert "p.png" in err[0] and "matplotlib is not installed" in err[0] and "pip install 'refinterp[plot]'" in err[0]
    assert not (d / "p.png").exists()
    # everything else is written: the CSV, the JSON, and the HTML report with a note where the plot would be
    assert "wrote" in captured.out and "p.html (without the plot)" in captured.out
    assert len(list(csv.DictReader(open(d / "p.csv", newline="")))) == 5
    assert len(json.loads((d / "p.json").read_text())["layers"]) == 5
    html = (d / "p.html").read_text()
    assert f"no plot in this report: {html_escape(MATPLOTLIB_MISSING)}" in html
    assert "base64" not in html and "<table>" in html


def test_cli_html_without_matplotlib_is_complete_but_says_so(chain_files, monkeypatch, capsys):
    _hide_matplotlib(monkeypatch)
    d = chain_files
    assert cli_main(["qerror", str(d / "q.tflite"), "--quiet", "--html", str(d / "p.html")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no plot" in err[0] and "pip install 'refinterp[plot]'" in err[0]
    assert "no plot in this report" in (d / "p.html").read_text()


def test_plot_without_matplotlib_is_a_one_line_error(chain_files, monkeypatch):
    report = analyze(str(chain_files / "q.tflite"), None, [[np.zeros((1, 8, 8, 3), np.float32)]])
    _hide_matplotlib(monkeypatch)
    with pytest.raises(RuntimeUnavailableError, match=r"pip install 'refinterp\[plot\]'"):
        plot_png(report)


def test_cli_unwritable_output_does_not_stop_the_others(chain_files, capsys):
    d = chain_files
    (d / "taken").mkdir()  # a directory where the CSV should go: it cannot be written
    argv = ["qerror", str(d / "q.tflite"), "--quiet", "--csv", str(d / "taken"), "--json", str(d / "r.json")]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "taken: cannot write" in err[0]
    assert json.loads((d / "r.json").read_text())["layers"]


def test_plot_log_axis_has_labelled_major_ticks_only(chain_files):
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    report = analyze(str(chain_files / "q.tflite"), str(chain_files / "f.tflite"),
                     [[np.random.default_rng(4).uniform(-2, 2, (1, 8, 8, 3)).astype(np.float32)]], isolate=True)
    figure = plot_figure(report)
    FigureCanvasAgg(figure).draw()
    ax_sqnr, ax_lsb = figure.axes
    assert ax_lsb.get_yscale() == "log"
    low, high = ax_lsb.get_ylim()
    # No minor tick has a label (the old plot labelled 2, 3, ... 9 between decades, one on top of another).
    minor = [v for v in ax_lsb.yaxis.get_minorticklocs() if low <= v <= high]
    assert minor and all(ax_lsb.yaxis.get_minor_formatter()(v) == "" for v in minor)
    # The labelled major ticks are at least one label height apart on screen.
    formatter = ax_lsb.yaxis.get_major_formatter()
    major = [v for v in ax_lsb.yaxis.get_majorticklocs() if low <= v <= high]
    labels = [formatter(v) for v in major]
    assert len(major) >= 2 and all(labels), labels
    pixels = [ax_lsb.transData.transform((0, v))[1] for v in major]
    label_height = figure.dpi * ax_lsb.yaxis.get_ticklabels()[0].get_fontsize() / 72
    assert min(np.diff(pixels)) >= label_height, (labels, pixels)
    # Readable at its default size: at most 13 inches wide, every operator labelled.
    assert figure.get_size_inches()[0] <= 13
    assert [t.get_text() for t in ax_lsb.get_xticklabels()] == ["0 quantize", "1 conv", "2 maxpool", "3 conv",
                                                                 "4 dequantize"]


def test_plot_png_is_deterministic(chain_files):
    pytest.importorskip("matplotlib")
    report = analyze(str(chain_files / "q.tflite"), None, [[np.zeros((1, 8, 8, 3), np.float32)]], isolate=True)
    first = plot_png(report)
    assert first[:8] == b"\x89PNG\r\n\x1a\n" and plot_png(report) == first
    assert b"matplotlib version" not in first  # no Software metadata


def test_help_gives_every_option_a_one_line_description(monkeypatch, capsys):
    parser = build_parser()
    for action in parser._actions:
        assert action.help and "\n" not in action.help, action.option_strings
    # In an 80-column terminal each description is one line of `--help` (argparse leaves it 54 columns).
    monkeypatch.setenv("COLUMNS", "80")
    assert cli_main(["qerror", "--help"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    for action in parser._actions:
        assert any(line.endswith(action.help) for line in lines), action.help


def test_package_imports_no_cli_and_only_optional_imports_in_functions():
    """No module of the package imports refinterp.cli; function-level imports are for matplotlib only."""
    for path in sorted(Path(qerror_package.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        top_level = set(id(node) for node in tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "refinterp.cli" or n.startswith("refinterp.cli.") for n in names), path.name
            if id(node) not in top_level:
                assert all(n.split(".")[0] == "matplotlib" for n in names), (path.name, names)


def test_doc_example_is_current():
    """benchmarks/qerror_doc.py --check: docs/qerror.md's tables and the CSV are what the code gives now."""
    shared_model("mlcommons-tiny/vww_96_int8.tflite")
    shared_model("mlcommons-tiny/vww_96_float.tflite")
    spec = importlib.util.spec_from_file_location("qerror_doc", ROOT / "benchmarks" / "qerror_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0


@pytest.mark.parametrize("args", [
    ["/nonexistent/model.tflite"],
    ["{q}", "--float", "/nonexistent/float.tflite"],
    ["{q}", "--inputs", "/nonexistent/dir"],
    ["{q}", "--input", "/nonexistent/x.npy"],
    ["{q}", "--csv", "/nonexistent/dir/r.csv"],
    ["{q}", "--bogus-option"],
], ids=["model", "float", "inputs", "input", "csv-dir", "option"])
def test_cli_errors_exit_2_with_one_line(chain_files, capsys, args):
    argv = ["qerror"] + [a.format(q=chain_files / "q.tflite") for a in args]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refinterp: error:")


def test_cli_unmatched_op_exits_1(tmp_path, capsys):
    int8_bytes, _ = chain_models()
    # A "float twin" with a different op type cannot match the int8 convolutions.
    other = build_model([TensorSpec((1, 8, 8, 3), "float32", name="a"), TensorSpec((1, 8, 8, 3), "float32", name="b")],
                        [OpSpec("RELU", [0], [1])], [0], [1])
    (tmp_path / "q.tflite").write_bytes(int8_bytes)
    (tmp_path / "f.tflite").write_bytes(other)
    assert cli_main(["qerror", str(tmp_path / "q.tflite"), "--float", str(tmp_path / "f.tflite")]) == 1
    out = capsys.readouterr().out
    assert "has no float counterpart" in out



def _two_input_add_model() -> bytes:
    tensors = [TensorSpec((1, 4, 4, 2), "int8", scale=0.05, zero_point=2, name="left"),
               TensorSpec((1, 4, 4, 2), "int8", scale=0.03, zero_point=-1, name="right"),
               TensorSpec((1, 4, 4, 2), "int8", scale=0.07, zero_point=0, name="sum")]
    return build_model(tensors, [OpSpec("ADD", [0, 1], [2])], [0, 1], [2])


def test_cli_inputs_directory_of_npz_cases(tmp_path, capsys):
    (tmp_path / "add.tflite").write_bytes(_two_input_add_model())
    cases = tmp_path / "cases"
    cases.mkdir()
    rng = np.random.default_rng(8)
    # one case named by input, one positional with a stack of two cases: three cases in all
    np.savez(cases / "a.npz", left=rng.uniform(-3, 3, (1, 4, 4, 2)).astype(np.float32),
             right=rng.uniform(-3, 3, (1, 4, 4, 2)).astype(np.float32))
    np.savez(cases / "b.npz", rng.integers(-128, 128, (2, 1, 4, 4, 2), dtype=np.int8),
             rng.integers(-128, 128, (2, 1, 4, 4, 2), dtype=np.int8))
    assert cli_main(["qerror", str(tmp_path / "add.tflite"), "--inputs", str(cases), "--isolate",
                     "--json", str(tmp_path / "r.json")]) == 0
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["cases"] == 3
    layers = {layer["op_name"]: layer for layer in document["layers"] if layer["op_name"] != "INPUT"}
    assert layers["ADD"]["num_elements"] == 3 * 32
    # Float values quantized for the int8 inputs: the INPUT rows show their rounding, at most half a step.
    inputs = [layer for layer in document["layers"] if layer["op_name"] == "INPUT"]
    assert [layer["tensor_name"] for layer in inputs] == ["left", "right"]
    assert inputs[0]["max_abs_error"] <= 0.05 / 2 + 1e-7 and inputs[1]["max_abs_error"] <= 0.03 / 2 + 1e-7
    # A missing array is a one-line error.
    np.savez(cases / "c.npz", left=np.zeros((1, 4, 4, 2), np.float32))
    assert cli_main(["qerror", str(tmp_path / "add.tflite"), "--inputs", str(cases)]) == 2
    assert "no array for input 1 'right'" in capsys.readouterr().err
