"""Random single-operator cases for BATCH_MATMUL (issues 11 and 12): float32, int8, int8->int32, int16 (int16 x
int16 and int16 x int8) and hybrid (float32 x constant int8).

Drawn: output ranks 2 to 5, batch dimensions 1 to 3 that each side holds or broadcasts (a 1, or a lower rank),
now and then a RHS ``[..., 1, X, Y]`` (the compression LiteRT's Eval applies), ``adj_x`` and ``adj_y``, matrices
of 1 to 12 rows and columns and depths up to 64, a constant RHS or a second model input, and now and then an
empty output (a 0 among the batch, row or column sizes, or a depth of 0). int8: zero points over the whole
range, output scales that saturate, multipliers above 1 and tiny ones (flushed to 0 by QuantizeMultiplier).
int16: zero points 0, RHS int16 or int8 (LiteRT only), typical and saturating output scales. int8->int32: the
raw int32 sums (no quantization read; the LHS sometimes unquantized). hybrid: per-tensor or per-channel RHS
scales, ``asymmetric_quantize_inputs``, input rows of different magnitudes, all-zero and constant rows, weights
of -128, several non-1 batch dimensions (LiteRT's scale indexing by offsets), a non-constant RHS with symmetric
inputs only, and a rank-5 RHS only with symmetric inputs (asymmetric ones would read row sums LiteRT never
computed).

Probes (3%): accumulation dimensions that differ, batch dimensions that do not broadcast, a rank-6 LHS, an int16
zero point that is not 0, a LHS/RHS type pair neither runtime takes (int8 or int16 x float32, float32 x int16).
TFLM refuses int16 x int8, int32 outputs and hybrid models (its Prepare requires LHS, RHS and output of one
type); it is compared for float32, int8 and int16, and not on empty tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import (
    TFLM_AS_LITERT,
    TFLM_INVALID,
    TFLM_NOT_COMPARED,
    Case,
    Generator,
    case,
    choice,
    f32,
    float_values,
    int_values,
    join,
    log_uniform,
    typical_output_scale,
    zero_point,
)

VERSIONS = {"float32": 1, "int8": 2, "int8->int32": 2, "int16": 3, "hybrid": 1}


def output_shape(lhs: tuple[int, ...], rhs: tuple[int, ...], adj_x: bool, adj_y: bool) -> tuple[int, ...]:
    """LiteRT's ResizeOutputTensor (batch_matmul.cc): rank ``max(rank_lhs, rank_rhs)``, both shapes extended with
    leading 1s to it; each batch dimension the LHS's unless it is 1 and the RHS's differs; then the LHS's rows
    and the RHS's columns."""
    rank = max(len(lhs), len(rhs))
    lhs_x, rhs_x = (1,) * (rank - len(lhs)) + tuple(lhs), (1,) * (rank - len(rhs)) + tuple(rhs)
    batch = tuple(r if (a != r and a == 1) else a for a, r in zip(lhs_x[:-2], rhs_x[:-2]))
    return (*batch, lhs_x[-1] if adj_x else lhs_x[-2], rhs_x[-2] if adj_y else rhs_x[-1])


def _shapes(rng: np.random.Generator, kind: str, edges: list[str]) -> dict[str, Any]:
    """LHS/RHS shapes (as stored: the adjoints applied), the output shape and the matmul sizes."""
    out_rank = int(choice(rng, (2, 3, 3, 4, 4, 5)))
    batch = [int(rng.integers(1, 4)) for _ in range(out_rank - 2)]
    empty = choice(rng, ("rows", "units", "depth", "batch")) if rng.random() < 0.04 else None
    if empty == "batch" and batch:
        batch[int(rng.integers(len(batch)))] = 0  # a 0 broadcasts against a 1, or meets a 0
    elif empty == "batch":
        empty = "rows"
    if empty == "depth" and kind == "hybrid":
        empty = "rows"  # LiteRT 2.3.0's hybrid kernel dies (SIGSEGV) on a depth of 0: no oracle for it
    # one side of a lower rank half the time (its batch dimensions broadcast as leading 1s)
    lhs_rank = out_rank if rng.random() < 0.55 else int(rng.integers(2, out_rank + 1))
    rhs_rank = out_rank if lhs_rank < out_rank or rng.random() < 0.55 else int(rng.integers(2, out_rank + 1))
    lhs_batch = [b if rng.random() < 0.75 else 1 for b in batch][out_rank - lhs_rank:]
    rhs_batch = [b if rng.random() < 0.75 else 1 for b in batch][out_rank - rhs_rank:]
    if rhs_batch and rng.random() < 0.25:
        rhs_batch[-1] = 1  # RHS [..., 1, X, Y]: LiteRT's Eval compresses the LHS's batch into its rows
    wide = rng.random() < 0.15
    rows, units = (int(v) for v in rng.integers(1, 13, 2))
    depth = int(rng.integers(1, 65 if wide else 13))
    if empty == "rows":
        rows = 0
    elif empty == "units":
        units = 0
    elif empty == "depth":
        depth = 0
    if empty:
        edges.append(f"empty ({empty} 0)")
    adj_x, adj_y = bool(rng.random() < 0.35), bool(rng.random() < 0.35)
    lhs_shape = (*lhs_batch, *((depth, rows) if adj_x else (rows, depth)))
    rhs_shape = (*rhs_batch, *((units, depth) if adj_y else (depth, units)))
    return {"lhs": lhs_shape, "rhs": rhs_shape, "output": output_shape(lhs_shape, rhs_shape, adj_x, adj_y),
            "adj_x": adj_x,
            "adj_y": adj_y, "rows": rows, "depth": depth, "units": units}


def _probe(rng: np.random.Generator, kind: str, s: dict[str, Any]) -> str | None:
    """Now and then break one rule both runtimes check (the shapes are edited in place)."""
    if rng.random() >= 0.03:
        return None
    rules = ["accumulation dimensions differ", "rank-6 LHS"]
    lhs_batch, rhs_batch = s["lhs"][:-2], s["rhs"][:-2]
    if len(lhs_batch) == len(rhs_batch) and lhs_batch:
        rules.append("batch dimensions do not broadcast")
    rule = choice(rng, rules)
    if rule == "accumulation dimensions differ":
        lhs = list(s["lhs"])
        lhs[-2 if s["adj_x"] else -1] += 1
        s["lhs"] = tuple(lhs)
    elif rule == "rank-6 LHS":
        s["lhs"] = (1,) * (6 - len(s["lhs"])) + tuple(s["lhs"])
        s["output"] = (1,) * (6 - len(s["output"])) + tuple(s["output"])
    else:
        lhs, rhs = list(s["lhs"]), list(s["rhs"])
        lhs[0], rhs[0] = 2, 3
        s["lhs"], s["rhs"] = tuple(lhs), tuple(rhs)
    return rule


def gen_batch_matmul(rng: np.random.Generator, kind: str) -> Case:
    """BATCH_MATMUL of any kind; see the module docstring for what is drawn."""
    edges: list[str] = []
    s = _shapes(rng, kind, edges)
    probe = _probe(rng, kind, s)
    tflm = TFLM_NOT_COMPARED if edges else TFLM_AS_LITERT
    lhs_shape, rhs_shape, out_shape, depth = s["lhs"], s["rhs"], s["output"], s["depth"]
    params: dict[str, Any] = {k: s[k] for k in ("lhs", "rhs", "output", "adj_x", "adj_y")}
    options: dict[str, Any] = {"adj_x": s["adj_x"], "adj_y": s["adj_y"]}
    constant = rng.random() < 0.6
    version = VERSIONS[kind]

    if kind == "float32":
        x = float_values(rng, lhs_shape, spread=float(log_uniform(rng, 0.01, 100)))
        w = float_values(rng, rhs_shape, spread=float(log_uniform(rng, 0.01, 100)))
        lhs_spec, rhs_type, rhs_q, out_spec = TensorSpec(lhs_shape, "float32"), "float32", (None, None), \
            TensorSpec(out_shape, "float32")
    elif kind in ("int8", "int8->int32"):
        x = int_values(rng, lhs_shape, "int8")
        w = int_values(rng, rhs_shape, "int8")
        lhs_q = (log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "int8"))
        rhs_q = (log_uniform(rng, 1e-3, 1e-1), zero_point(rng, "int8") if rng.random() < 0.5 else 0)
        rhs_type = "int8"
        if kind == "int8":
            draw = rng.random()
            if draw < 0.03:
                out_scale, regime = f32(lhs_q[0] * rhs_q[0] * 2.0 ** rng.uniform(33, 40)), "tiny multiplier"
            else:
                out_scale, regime = typical_output_scale(rng, lhs_q[0] * rhs_q[0], depth, lhs_q[1])
            out_q = (out_scale, zero_point(rng, "int8"))
            out_spec = TensorSpec(out_shape, "int8", *out_q)
            params.update(output_q=out_q, regime=regime)
        else:
            if rng.random() < 0.2:
                lhs_q = (None, None)
                rhs_q = (None, None)
                edges.append("unquantized inputs")
            out_spec = TensorSpec(out_shape, "int32")
            tflm = TFLM_INVALID if not probe else tflm
        lhs_spec = TensorSpec(lhs_shape, "int8", *lhs_q)
        params.update(lhs_q=lhs_q, rhs_q=rhs_q)
    elif kind == "int16":
        rhs_type = "int8" if rng.random() < 0.3 else "int16"
        x = int_values(rng, lhs_shape, "int16")
        w = int_values(rng, rhs_shape, rhs_type)
        lhs_q = (log_uniform(rng, 1e-5, 1e-2), 0)
        rhs_q = (log_uniform(rng, 1e-4, 1e-1) if rhs_type == "int8" else log_uniform(rng, 1e-6, 1e-3), 0)
        typical = lhs_q[0] * rhs_q[0] * 18900.0 * (74.0 if rhs_type == "int8" else 18900.0) * max(depth, 1) ** 0.5
        if rng.random() < 0.05:
            out_scale, regime = f32(lhs_q[0] * rhs_q[0] * rng.uniform(0.2, 0.95)), ">1"
        else:
            out_scale, regime = f32(typical / 16000.0 * 2.0 ** rng.uniform(-3, 3)), "typical"
        out_q = (out_scale, 0)
        if probe is None and rng.random() < 0.03:
            probe = "int16 zero point not 0"
            out_q = (out_scale, int(rng.integers(1, 100)))
        lhs_spec = TensorSpec(lhs_shape, "int16", *lhs_q)
        out_spec = TensorSpec(out_shape, "int16", *out_q)
        params.update(rhs_type=rhs_type, lhs_q=lhs_q, rhs_q=rhs_q, output_q=out_q, regime=regime)
        if rhs_type == "int8" and not probe:
            tflm = TFLM_INVALID
            edges.append("int16 x int8 (LiteRT only)")
    else:  # hybrid
        asymmetric = bool(rng.random() < 0.5)
        options["asymmetric_quantize_inputs"] = asymmetric
        if asymmetric:
            version = 4
            constant = True
            if len(rhs_shape) == 5 and not probe:  # keep the RHS within rank 4: see the module docstring
                rhs_shape = rhs_shape[1:]
                # the output's rank is then the LHS's if higher, else 4 (ResizeOutputTensor)
                out_shape = output_shape(lhs_shape, rhs_shape, s["adj_x"], s["adj_y"])
                s["rhs"], s["output"] = rhs_shape, out_shape
                params["rhs"], params["output"] = rhs_shape, out_shape
        elif rng.random() < 0.15:
            constant = False
        rows_scale = np.exp(rng.uniform(-4, 4, size=lhs_shape[:-1] + (1,))).astype(np.float32)
        x = (float_values(rng, lhs_shape) * rows_scale).astype(np.float32)
        if x.size and rng.random() < 0.2:
            flat = x.reshape(-1, lhs_shape[-1]) if lhs_shape[-1] else x.reshape(-1, 1)
            flat[int(rng.integers(flat.shape[0]))] = choice(rng, (0.0, 0.5, -3.0))  # a zero or constant row
            edges.append("zero or constant input row")
        w = int_values(rng, rhs_shape, "int8")
        rhs_type = "int8"
        units = s["units"]
        if units > 1 and rng.random() < 0.5:
            scales = [log_uniform(rng, 1e-3, 1e-1) for _ in range(units)]
            rhs_q = (scales, 0)
            channel_axis = len(rhs_shape) - (2 if s["adj_y"] else 1)
            params["rhs_scales"] = "per-channel"
        else:
            rhs_q = (log_uniform(rng, 1e-3, 1e-1), 0)
            channel_axis = 0
            params["rhs_scales"] = "per-tensor"
        params.update(asymmetric=asymmetric)
        lhs_spec, out_spec = TensorSpec(lhs_shape, "float32"), TensorSpec(out_shape, "float32")
        rhs_spec = TensorSpec(rhs_shape, "int8", rhs_q[0], rhs_q[1], quantized_dimension=channel_axis,
                              data=w if constant else None)
        tflm = TFLM_INVALID if not probe else tflm

    if kind != "hybrid":
        if probe is None and rng.random() < 0.02:
            probe = "LHS and RHS types no runtime pairs"
            rhs_type, w, rhs_q = ("float32", w.astype(np.float32), (None, None)) if kind != "float32" else \
                ("int16", int_values(rng, rhs_shape, "int16"), (0.05, 0))
        rhs_spec = TensorSpec(rhs_shape, rhs_type, *rhs_q, data=w if constant else None)
    if probe:
        tflm = TFLM_AS_LITERT if not edges else TFLM_NOT_COMPARED
    params["rhs_input"] = "constant" if constant else "input"
    model = single_op_model("BATCH_MATMUL", [lhs_spec, rhs_spec], [out_spec], options, version=version)
    inputs = [x] if constant else [x, w]
    return case("BATCH_MATMUL", kind, model, inputs, params, probe, join(*edges), tflm)


def _table() -> dict[tuple[str, str], Generator]:
    def bound(kind: str) -> Generator:
        return lambda rng: gen_batch_matmul(rng, kind)

    return {("BATCH_MATMUL", kind): bound(kind) for kind in ("float32", "int8", "int8->int32", "int16", "hybrid")}


GENERATORS: dict[tuple[str, str], Generator] = _table()
# TFLM's BATCH_MATMUL takes float32, int8 and int16 (one type for LHS, RHS and output).
TFLM_KINDS = frozenset({("BATCH_MATMUL", "float32"), ("BATCH_MATMUL", "int8"), ("BATCH_MATMUL", "int16")})

__all__ = ["GENERATORS", "TFLM_KINDS", "Case"]
