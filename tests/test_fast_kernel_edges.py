"""Edge cases of the fast kernels for RESIZE_BILINEAR, RELU / RELU6 / RELU_N1_TO_1, MAX_POOL_2D and float32
CONV_2D, against LiteRT BUILTIN_REF (the expected values), and the same kernels run with numba's bounds
checking on.

The random cases of tests/test_op_cases.py draw ordinary values; these add what those rarely reach: float
specials (NaN, infinities, signed zeros) through the float32 resize, pooling and convolution, non-finite
convolution weights (the fast CONV_2D then leaves its zero-padded planar kernel: ``0 * inf`` is NaN), strides
and dilations whose reads end exactly at the padded buffer's last column, 1x1 images, one channel, windows
larger than the image, and every value of each 8-bit and int16 type through the RELU tables.

numba compiles its kernels without bounds checks: an index past an array reads or writes other memory
silently. ``test_fast_kernels_under_numba_boundscheck`` runs every case in a fresh process with
``NUMBA_BOUNDSCHECK=1`` (and a private numba cache, so that kernels compiled with the checks are neither
reused from nor left in the ordinary cache): an out-of-range index is then an IndexError, which refinterp
reports as a KernelError. numba drops the checks inside ``prange`` loops (measured, numba 0.68: a parallel
kernel reading ``a[i + 1]`` past the end raises nothing), so that process compiles every kernel without
``parallel`` (``prange`` is then ``range``, the loop bodies are the same).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from oracle import run_litert_ref, run_refinterp

from refinterp.modelbuilder import TensorSpec, single_op_model

SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 3.0e38, -3.0e38, 1e-40], np.float32)


@dataclass(frozen=True)
class EdgeCase:
    name: str
    model: bytes
    inputs: tuple[np.ndarray, ...]


def _float_tensor(rng: np.random.Generator, shape: tuple[int, ...], specials: bool) -> np.ndarray:
    values = rng.standard_normal(shape).astype(np.float32)
    values[rng.random(shape) < 0.1] = -0.0
    if specials:
        flat = values.reshape(-1)
        picks = rng.choice(flat.size, size=min(flat.size, 6), replace=False)
        flat[picks] = rng.choice(SPECIALS, size=picks.size)
    return values


def _int_tensor(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=np.dtype(dtype), endpoint=True)


def _resize_cases(rng: np.random.Generator) -> list[EdgeCase]:
    cases = []
    geometries = [((1, 1, 1, 1), (3, 5)), ((2, 3, 4, 33), (7, 2)), ((1, 5, 7, 3), (1, 1)), ((1, 8, 8, 16), (32, 32)),
                  ((1, 9, 6, 2), (4, 13))]
    for dtype in ("int8", "int16", "uint8", "float32"):
        q = () if dtype == "float32" else ((0.05, 0) if dtype == "int16" else (0.05, 3))
        for shape, (out_h, out_w) in geometries:
            for align_corners, half_pixel in ((False, False), (True, False), (False, True)):
                if dtype == "float32":
                    x = _float_tensor(rng, shape, specials=shape[1] * shape[2] > 1)
                else:
                    x = _int_tensor(rng, shape, dtype)
                model = single_op_model(
                    "RESIZE_BILINEAR",
                    [TensorSpec(shape, dtype, *q), TensorSpec((2,), "int32", data=np.array([out_h, out_w], np.int32))],
                    [TensorSpec((shape[0], out_h, out_w, shape[3]), dtype, *q)],
                    {"align_corners": align_corners, "half_pixel_centers": half_pixel})
                cases.append(EdgeCase(f"RESIZE_BILINEAR-{dtype}-{shape}->{out_h}x{out_w}-ac{int(align_corners)}"
                                      f"-hp{int(half_pixel)}", model, (x,)))
    return cases


def _relu_cases() -> list[EdgeCase]:
    cases = []
    for op in ("RELU", "RELU6", "RELU_N1_TO_1"):
        for dtype in ("int8", "uint8", "int16"):
            if dtype == "int16" and op == "RELU_N1_TO_1":
                continue  # no int16 kernel in LiteRT
            info = np.iinfo(dtype)
            x = np.arange(info.min, info.max + 1, dtype=dtype).reshape(1, -1, 4 if dtype == "int16" else 2, 2)
            if dtype == "int16":
                qin, qout = (0.002, 0), (0.0007, 0)
            else:
                qin, qout = (0.05, int(info.min) + 100), (0.03, int(info.min) + 7)
            model = single_op_model(op, [TensorSpec(x.shape, dtype, *qin)], [TensorSpec(x.shape, dtype, *qout)])
            cases.append(EdgeCase(f"{op}-{dtype}-every-value", model, (x,)))
    return cases


def _pool_cases(rng: np.random.Generator) -> list[EdgeCase]:
    cases = []
    for dtype in ("int8", "float32"):
        q = () if dtype == "float32" else (0.1, -3)
        for shape, filter_hw, stride, padding in (((1, 7, 9, 19), (3, 2), (2, 3), "SAME"),
                                                  ((2, 4, 4, 1), (5, 5), (1, 1), "SAME"),
                                                  ((1, 1, 1, 40), (2, 2), (2, 2), "SAME"),
                                                  ((1, 8, 6, 33), (2, 2), (2, 2), "VALID")):
            x = _float_tensor(rng, shape, specials=True) if dtype == "float32" else _int_tensor(rng, shape, dtype)
            if padding == "SAME":
                out_hw = tuple(-(-shape[1 + i] // stride[i]) for i in range(2))
            else:
                out_hw = tuple((shape[1 + i] - filter_hw[i]) // stride[i] + 1 for i in range(2))
            options = {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                       "filter_height": filter_hw[0], "filter_width": filter_hw[1], "fused_activation_function": "NONE"}
            model = single_op_model("MAX_POOL_2D", [TensorSpec(shape, dtype, *q)],
                                    [TensorSpec((shape[0], *out_hw, shape[3]), dtype, *q)], options)
            cases.append(EdgeCase(f"MAX_POOL_2D-{dtype}-{shape}-{filter_hw}-{stride}-{padding}", model, (x,)))
    return cases


def _conv_cases(rng: np.random.Generator) -> list[EdgeCase]:
    cases = []
    geometries = [  # input shape, [Cout, KH, KW, Cin/groups], stride, dilation, padding, groups
        ((1, 11, 13, 5), (8, 3, 3, 5), (1, 1), (1, 1), "SAME", 1),
        ((2, 9, 10, 4), (6, 3, 2, 2), (2, 3), (1, 1), "SAME", 2),
        ((1, 12, 12, 3), (5, 3, 3, 3), (1, 2), (2, 3), "SAME", 1),
        ((1, 10, 11, 6), (4, 2, 3, 6), (3, 2), (2, 2), "VALID", 1),
        ((1, 1, 1, 7), (3, 3, 3, 7), (1, 1), (1, 1), "SAME", 1),
        ((1, 6, 20, 1), (16, 1, 1, 1), (1, 1), (1, 1), "VALID", 1),
    ]
    for index, (shape, filter_shape, stride, dilation, padding, groups) in enumerate(geometries):
        for weights_form in ("finite", "non-finite"):
            x = _float_tensor(rng, shape, specials=index % 2 == 0)
            w = _float_tensor(rng, filter_shape, specials=False)
            if weights_form == "non-finite":
                w.reshape(-1)[rng.integers(w.size)] = np.inf
            bias = _float_tensor(rng, (filter_shape[0],), specials=False)
            if padding == "SAME":
                out_hw = tuple(-(-shape[1 + i] // stride[i]) for i in range(2))
            else:
                out_hw = tuple((shape[1 + i] - dilation[i] * (filter_shape[1 + i] - 1) - 1) // stride[i] + 1
                               for i in range(2))
            options = {"padding": padding, "stride_h": stride[0], "stride_w": stride[1],
                       "dilation_h_factor": dilation[0], "dilation_w_factor": dilation[1],
                       "fused_activation_function": "RELU6" if index == 3 else "NONE"}
            model = single_op_model("CONV_2D", [TensorSpec(shape, "float32"),
                                                TensorSpec(filter_shape, "float32", data=w),
                                                TensorSpec(bias.shape, "float32", data=bias)],
                                    [TensorSpec((shape[0], *out_hw, filter_shape[0]), "float32")], options)
            cases.append(EdgeCase(f"CONV_2D-float32-{shape}-{filter_shape}-s{stride}-d{dilation}-{padding}-"
                                  f"g{groups}-{weights_form}", model, (x,)))
    return cases


def _all_cases() -> list[EdgeCase]:
    rng = np.random.default_rng(20261130)
    return [*_resize_cases(rng), *_relu_cases(), *_pool_cases(rng), *_conv_cases(rng)]


CASES = _all_cases()


def _difference(expected: list[np.ndarray], got: list[np.ndarray]) -> str | None:
    for want, have in zip(expected, got, strict=True):
        have = np.asarray(have)
        if have.dtype != want.dtype or have.shape != want.shape:
            return f"got {have.dtype}{list(have.shape)}, expected {want.dtype}{list(want.shape)}"
        if want.dtype.kind == "f":
            bits = np.dtype(f"u{want.dtype.itemsize}")
            differs = np.ascontiguousarray(want).view(bits) != np.ascontiguousarray(have).view(bits)
        else:
            differs = want != have
        if differs.any():
            where = tuple(int(i) for i in np.argwhere(differs)[0])
            return (f"{int(differs.sum())} values differ, first at {where}: got {have[where]!r}, "
                    f"expected {want[where]!r}")
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fast_equals_litert(case: EdgeCase) -> None:
    difference = _difference(run_litert_ref(case.model, case.inputs),
                             run_refinterp(case.model, case.inputs, kernels="fast"))
    assert difference is None, f"{case.name}, fast kernels: {difference}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_spec_equals_litert(case: EdgeCase) -> None:
    difference = _difference(run_litert_ref(case.model, case.inputs),
                             run_refinterp(case.model, case.inputs, kernels="spec"))
    assert difference is None, f"{case.name}, spec kernels: {difference}"


_BOUNDSCHECK_RUNNER = """
import json, sys
import numpy as np
import numba
assert numba.config.BOUNDSCHECK, "NUMBA_BOUNDSCHECK is not on"
njit = numba.njit
def njit_serial(*args, **options):
    options.pop("parallel", None)
    return njit(*args, **options)
numba.njit = njit_serial  # before refinterp's kernels are defined
from refinterp import Interpreter
directory = sys.argv[1]
names = json.load(open(f"{directory}/cases.json"))
for number, name in enumerate(names):
    interpreter = Interpreter(model_path=f"{directory}/{number}.tflite", kernels="fast")
    interpreter.allocate_tensors()
    inputs = np.load(f"{directory}/{number}.in.npz")
    for position, detail in enumerate(interpreter.get_input_details()):
        interpreter.set_tensor(detail["index"], inputs[f"x{position}"])
    interpreter.invoke()
    outputs = {f"y{i}": interpreter.get_tensor(d["index"]) for i, d in enumerate(interpreter.get_output_details())}
    np.savez(f"{directory}/{number}.out.npz", **outputs)
"""


def test_fast_kernels_under_numba_boundscheck(tmp_path: Path) -> None:
    """Every case's fast kernels compiled with bounds checks (NUMBA_BOUNDSCHECK=1) in a fresh process: no index
    out of range, and the outputs still equal LiteRT's."""
    for number, case in enumerate(CASES):
        (tmp_path / f"{number}.tflite").write_bytes(case.model)
        np.savez(tmp_path / f"{number}.in.npz", **{f"x{i}": x for i, x in enumerate(case.inputs)})
    (tmp_path / "cases.json").write_text(json.dumps([case.name for case in CASES]))
    environment = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    finished = subprocess.run([sys.executable, "-c", _BOUNDSCHECK_RUNNER, str(tmp_path)], env=environment,
                              capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, f"bounds-checked run failed:\n{finished.stderr[-3000:]}"
    for number, case in enumerate(CASES):
        outputs = np.load(tmp_path / f"{number}.out.npz")
        got = [outputs[f"y{i}"] for i in range(len(outputs.files))]
        difference = _difference(run_litert_ref(case.model, case.inputs), got)
        assert difference is None, f"{case.name} (bounds-checked fast kernels): {difference}"
