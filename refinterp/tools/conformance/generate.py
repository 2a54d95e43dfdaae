"""``refinterp conformance generate``: write a conformance suite of single-operator cases to disk.

Every case is a seeded random draw of the generator table (:mod:`refinterp.tools.conformance.generators`).
Its expected outputs are the oracle's: LiteRT's reference kernels (``BUILTIN_REF``; for the few operators that
resolver lacks, LiteRT's builtin kernels) or, with ``--profile tflm``, TensorFlow Lite Micro. A case is written
only when the oracle runs it and refinterp, with its fast and its spec kernels, gives the same outputs bit for
bit; a case where they differ is a refinterp bug: it is not written, it is listed in suite.json
("disagreements") and on the terminal. Probes (cases built invalid on purpose) are never written: a suite case
must run.

The on-disk format is described in docs/conformance.md ("Generating a suite"). Everything written is a function
of the seed and the versions of refinterp, its generators and the oracle: regenerating gives the same bytes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import tflite

from refinterp import __version__
from refinterp.errors import InputError, KernelError, RefinterpError, RuntimeUnavailableError
from refinterp.model import Model, parse_model
from refinterp.registry import LITERT_BUILTIN_EXTRA_VERSIONS, LITERT_REF_VERSIONS, REGISTRY
from refinterp.runtimes import Runtime, check_inputs, get_runtime
from refinterp.runtimes.base import one_line
from refinterp.tools.arguments import EXIT_MISMATCH, EXIT_OK, ArgumentParser
from refinterp.tools.conformance.generators import GENERATORS, TFLM_KINDS, make_case, registry_kinds
from refinterp.tools.conformance.generators.core import TFLM_AS_LITERT, TFLM_VALID, Case
from refinterp.tools.executor import WorkerCrashedError, run_tasks
from refinterp.tools.fuzz.mutators import pack, unpack
from refinterp.tools.progress import StatusLine

SUITE_FORMAT = "refinterp-conformance"
FORMAT_VERSION = 1
#: Bumped whenever a generator change makes the same seed draw different cases (2: the targeted variants; 3: no
#: hybrid BATCH_MATMUL of depth 0, on which LiteRT crashes).
GENERATOR_VERSION = 3
PROFILES = ("litert-ref", "tflm")
#: The oracle of each profile: the runtime (refinterp.runtimes) and the package whose version it is.
ORACLES = {"litert-ref": ("litert-ref", "ai-edge-litert"), "tflm": ("tflm", "tflite-micro")}
#: Operators LiteRT's reference resolver does not register: their oracle is LiteRT's builtin resolver (without
#: delegates), whose kernel is the only one LiteRT has for them.
BUILTIN_ONLY = frozenset(LITERT_BUILTIN_EXTRA_VERSIONS) - frozenset(LITERT_REF_VERSIONS)
#: The case seeds of suite seed S are S * SEED_STRIDE + 0, 1, 2, ... (make_case's seed; case.json "seed").
SEED_STRIDE = 1_000_000
#: At most this many draws per case wanted (probes, oracle rejections and disagreements use draws up).
ATTEMPTS_PER_CASE = 5
KERNEL_SETS = ("fast", "spec")
CASES_PER_KIND = 20
#: Outputs of these dtypes are checked for values at the type's limits (saturation-low / saturation-high).
SATURATING_DTYPES = ("int8", "uint8", "int16", "uint16")
#: Activation scales below / above these are tagged tiny-scale / huge-scale.
TINY_SCALE, HUGE_SCALE = 1e-6, 1e4
#: Operators whose inputs broadcast against each other (shapes that differ are tagged "broadcast").
BROADCASTING = frozenset({
    "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW", "FLOOR_DIV", "FLOOR_MOD",
    "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR",
    "SELECT", "SELECT_V2", "PRELU", "ATAN2", "BITWISE_XOR", "RIGHT_SHIFT", "BATCH_MATMUL", "STABLEHLO_ADD",
    "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM", "STABLEHLO_MINIMUM"})
# Words in the generators' drawn parameters that name an edge the case aims at -> its target tag.
PARAM_WORDS = (("wrap", "wrap"), ("tie", "rounding-tie"), ("saturat", "saturating-scale"),
               ("tiny", "tiny-scale"), ("all values", "every-value"), ("extreme", "extreme-values"),
               ("huge", "huge-values"), ("subnormal", "subnormal"))
PADDING_NAMES = {value: name for name, value in vars(tflite.Padding).items() if not name.startswith("_")}
ACTIVATION_NAMES = {value: name for name, value in vars(tflite.ActivationFunctionType).items()
                    if not name.startswith("_")}
INT_LIMITS = {name: (int(np.iinfo(name).min), int(np.iinfo(name).max))
              for name in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64")}


def path_safe(name: str) -> str:
    """An operator or dtype kind as a directory name: ``float32->int8`` -> ``float32-to-int8``,
    ``CUSTOM:TFLite_Detection_PostProcess`` -> ``CUSTOM-TFLite_Detection_PostProcess``."""
    return name.replace("->", "-to-").replace(":", "-").replace("/", "-")


def kind_path(op: str, kind: str) -> str:
    return f"{path_safe(op)}/{path_safe(kind)}"


def kernel_sets(op: str) -> tuple[str, ...]:
    """Both kernel sets; only "fast" for an operator without a fast kernel (both sets run its spec kernel)."""
    opdef = REGISTRY.get(op)
    return KERNEL_SETS if opdef is None or opdef.fast is not None else ("fast",)


# --------------------------------------------------------------------------------------------------
# Which kinds a suite covers


def select_kinds(ops: Sequence[str] | None, dtypes: Sequence[str] | None,
                 profile: str) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """(the kinds to generate, the selected kinds that cannot be covered, each with the reason).

    Unknown operators or dtype kinds are an InputError (the one line names the known ones)."""
    advertised = sorted(set(registry_kinds()))
    if ops is not None:
        known_ops = {op for op, _ in advertised}
        unknown = [op for op in ops if op not in known_ops]
        if unknown:
            raise InputError(f"--ops: unknown operator(s) {', '.join(unknown)}; `refinterp ops` lists the "
                             f"{len(known_ops)} supported ones")
        advertised = [k for k in advertised if k[0] in set(ops)]
    if dtypes is not None:
        known_kinds = sorted({kind for _, kind in advertised})
        unknown = [d for d in dtypes if d not in known_kinds]
        if unknown:
            raise InputError(f"--dtypes: no selected operator has dtype kind(s) {', '.join(unknown)}; "
                             f"choose from {', '.join(known_kinds)}")
        advertised = [k for k in advertised if k[1] in set(dtypes)]
    selected, not_covered = [], []
    for op, kind in advertised:
        if kind == "all":
            not_covered.append({"operator": op, "kind": kind, "reason": "control flow or resource variables: no "
                                "single-operator generator (tests/test_control_flow.py holds them to LiteRT)"})
        elif (op, kind) not in GENERATORS:
            not_covered.append({"operator": op, "kind": kind, "reason": "no generator"})
        elif profile == "tflm" and (op, kind) not in TFLM_KINDS:
            not_covered.append({"operator": op, "kind": kind, "reason": "not compared against TFLite Micro"})
        else:
            selected.append((op, kind))
    return selected, not_covered


def runs_on_oracle(case: Case, profile: str) -> bool:
    """Whether the case is an ordinary one for the profile's oracle (probes and cases TFLM rejects, does not
    define or is not compared on are not suite cases)."""
    if profile == "tflm":
        return (case.tflm == TFLM_AS_LITERT and not case.probe) or case.tflm == TFLM_VALID
    return not case.probe


# --------------------------------------------------------------------------------------------------
# What a case targets


def _flat_text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k} {_flat_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " ".join(_flat_text(v) for v in value)
    return str(value)


def _main_operators(case: Case, model: Model) -> list[Any]:
    operators = model.subgraphs[0].operators
    return [op for op in operators if op.name == case.op] or list(operators)


def param_targets(case: Case, model: Model, inputs: Sequence[np.ndarray]) -> set[str]:
    """The target tags of a case, from its model (options, shapes, quantization), inputs and drawn parameters."""
    tags: set[str] = set()
    tensors = model.subgraphs[0].tensors
    for op in _main_operators(case, model):
        options = op.options
        if "padding" in options:
            tags.add(f"padding-{str(PADDING_NAMES.get(options['padding'], options['padding'])).lower()}")
        if options.get("fused_activation_function") is not None:
            name = ACTIVATION_NAMES.get(options["fused_activation_function"], options["fused_activation_function"])
            tags.add(f"activation-{str(name).lower()}")
        strides = [options.get(k) for k in ("stride_h", "stride_w", "stride_height", "stride_width")]
        strides = [s for s in strides if isinstance(s, int)]
        if strides:
            tags.add("stride>1" if max(strides) > 1 else "stride=1")
        dilations = [options.get(k) for k in ("dilation_h_factor", "dilation_w_factor")]
        dilations = [d for d in dilations if isinstance(d, int)]
        if dilations:
            tags.add("dilation>1" if max(dilations) > 1 else "dilation=1")
        for key, value in sorted(options.items()):
            if isinstance(value, bool):
                tags.add(f"{key}={str(value).lower()}")
        # the data the operator reads and writes (not its constant parameters: an empty axis list is no edge)
        used = [tensors[i] for i in (*op.inputs, *op.outputs) if 0 <= i < len(tensors) and not tensors[i].is_constant]
        if any(0 in t.shape for t in used):
            tags.add("empty-tensor")
        if any(t.shape == () for t in used):
            tags.add("scalar")
        data = [tensors[i] for i in op.inputs if 0 <= i < len(tensors)]
        if op.name in BROADCASTING and len({t.shape for t in data if t.type_name == data[0].type_name}) > 1:
            tags.add("broadcast")
        first = next((t for t in data if not t.is_constant), None)
        if first is not None and len(first.shape) == 4 and first.shape[0] > 1:
            tags.add("batch>1")
    batch = case.params.get("batch")
    if isinstance(batch, int) and batch > 1:
        tags.add("batch>1")
    for tensor in tensors:
        q = tensor.quantization
        if q is None or len(q.scale) == 0:
            continue
        if tensor.is_constant:
            if q.per_channel:
                tags.add("per-channel")
            elif tensor.type_name in ("int8", "uint8", "int16", "int4") and len(tensor.shape) >= 2:
                tags.add("per-tensor-weights")
            continue
        limits = INT_LIMITS.get(tensor.type_name)
        if limits is not None and tensor.type_name in SATURATING_DTYPES:
            zero_points = {int(z) for z in q.zero_point}
            if limits[0] in zero_points:
                tags.add("zero-point-min")
            if limits[1] in zero_points:
                tags.add("zero-point-max")
        scales = [float(s) for s in q.scale if float(s) > 0]
        if scales and min(scales) < TINY_SCALE:
            tags.add("tiny-scale")
        if scales and max(scales) > HUGE_SCALE:
            tags.add("huge-scale")
    text = _flat_text(case.params).lower()
    tags.update(tag for word, tag in PARAM_WORDS if word in text)
    if "edge" in case.params:
        tags.add("edge")
    if any(("multiplier" in str(k) or "scale" in str(k)) and (">1" in str(v) or "above 1" in str(v))
           for k, v in case.params.items()):
        tags.add("multiplier>1")
    for value in inputs:
        if value.dtype.kind == "f" and value.size:
            with np.errstate(invalid="ignore"):
                if np.isnan(value).any():
                    tags.add("nan")
                if np.isinf(value).any():
                    tags.add("inf")
                if (np.signbit(value) & (value == 0)).any():
                    tags.add("negative-zero")
                tiny = np.finfo(value.dtype).tiny
                if ((value != 0) & (np.abs(value) < tiny)).any():
                    tags.add("subnormal")
    if case.op == "QUANTIZE" and _quantize_has_ties(model, inputs):
        tags.add("rounding-tie")
    return tags


def _quantize_has_ties(model: Model, inputs: Sequence[np.ndarray]) -> bool:
    """QUANTIZE float32 -> integer with one scale: whether some value / scale (float32, as LiteRT's
    AffineQuantize divides) lies exactly halfway between two integers."""
    subgraph = model.subgraphs[0]
    if not inputs or inputs[0].dtype != np.float32 or not subgraph.outputs:
        return False
    q = subgraph.tensors[subgraph.outputs[0]].quantization
    if q is None or len(q.scale) != 1:
        return False
    with np.errstate(all="ignore"):
        scaled = inputs[0] / np.float32(q.scale[0])
        return bool((np.abs(scaled - np.trunc(scaled)) == np.float32(0.5)).any())


def output_targets(outputs: Sequence[np.ndarray]) -> set[str]:
    """saturation-low / saturation-high: an 8- or 16-bit integer output holds its type's limit."""
    tags = set()
    for value in outputs:
        if value.dtype.name in SATURATING_DTYPES and value.size:
            low, high = INT_LIMITS[value.dtype.name]
            if (value == low).any():
                tags.add("saturation-low")
            if (value == high).any():
                tags.add("saturation-high")
    return tags


# --------------------------------------------------------------------------------------------------
# Targeted variants: a drawn case with its output quantization rewritten to reach one edge

#: The targets sought by rewriting a written random case of a quantized kind, in the order they are tried.
TARGETED = ("rounding-tie", "zero-point-min", "zero-point-max", "scale-tiny", "scale-huge")
#: At most this many written cases of a kind are rewritten per target (the first the oracle runs is kept).
TARGETED_SOURCES = 3
#: scale-tiny / scale-huge multiply the output scale by these.
TINY_FACTOR, HUGE_FACTOR = 1e-3, 1e3
#: rounding-tie families: the effective requantization multiplier M becomes exactly 2^-k (k >= 1), so that every
#: pre-rounding value x with x mod 2^k == 2^(k-1) lands exactly halfway between two integers. Every scale involved
#: is first rounded to a power of two, so that the products and quotients LiteRT forms in double are exact, and
#: k is the drawn case's own -log2 M rounded, capped so that about two outputs hold a tie (tie_shift): M = 1/2
#: everywhere would saturate most outputs. Of the sources, the first whose outputs are less than half saturated
#: is kept (else the least saturated). A fused activation becomes NONE (its clamp would hide the ties).
#: s_out = 2^k * s_in * s_weights (input 0 and input 1; a bias takes s_in * s_weights):
TIE_PRODUCT = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL",
                         "MUL"})
#: every non-constant quantized input gets one scale s, and s_out = 2^k * s (ADD/SUB: LiteRT's left shift of 20
#: and input multipliers of 1/2 are exact, the output multiplier is 2^(1-20-k): (a + b) / 2^k):
TIE_SHARED = frozenset({"ADD", "SUB", "QUANTIZE", "AVERAGE_POOL_2D", "MEAN", "LEAKY_RELU", "CONCATENATION",
                        "PAD", "PADV2", "RESIZE_BILINEAR"})
#: The output dtypes a variant rewrites (int16 outputs keep zero point 0, as LiteRT requires).
TARGETED_DTYPES = ("int8", "uint8", "int16")


def _power_of_two(scale: float) -> float:
    return float(2.0 ** round(math.log2(scale)))


def tie_shift(multiplier: float, output_elements: int) -> int:
    """k of the rounding-tie multiplier 2^-k: the case's own multiplier's, at least 1 and at most
    log2(elements / 2) (a tie needs x mod 2^k == 2^(k-1): about one value in 2^k)."""
    own = round(-math.log2(multiplier)) if multiplier > 0 and math.isfinite(multiplier) else 1
    cap = math.floor(math.log2(max(2.0, output_elements / 2)))
    return max(1, min(own, cap))


def _scales(tensor: Any) -> list[float] | None:
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    scales = [float(s) for s in q.scale]
    return scales if all(math.isfinite(s) and s > 0 for s in scales) else None


def _set_scales(tensor: Any, scales: Sequence[float]) -> None:
    tensor.quantization.scale = [float(np.float32(s)) for s in scales]


def _is_constant(model: Any, tensor: Any) -> bool:
    buffer = model.buffers[tensor.buffer] if model.buffers and 0 < tensor.buffer < len(model.buffers) else None
    return buffer is not None and buffer.data is not None and len(buffer.data) > 0


def targeted_variant(case: Case, target: str) -> Case | None:
    """``case`` with its main operator's output quantization rewritten to reach ``target`` (one of TARGETED),
    or None when the case has no such variant (no quantized per-tensor 8/16-bit output, an unquantized first
    input or an operator outside the rounding-tie families, an int16 zero point). The variant's params record
    the rewrite (params["targeted"])."""
    if case.probe:
        return None
    model = unpack(case.model)
    if not model.subgraphs or not model.operatorCodes:
        return None
    graph = model.subgraphs[0]
    codes = {code: name for name, code in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
    main = None
    for op in graph.operators or []:
        opcode = model.operatorCodes[op.opcodeIndex]
        if codes.get(max(opcode.builtinCode, opcode.deprecatedBuiltinCode)) == case.op:
            main = op
            break
    if main is None or main.outputs is None or len(main.outputs) == 0:
        return None
    tensors = graph.tensors
    output = tensors[main.outputs[0]]
    dtype = {v: k.lower() for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}.get(output.type)
    out_scales = _scales(output)
    if dtype not in TARGETED_DTYPES or out_scales is None or len(out_scales) != 1:
        return None
    inputs = [tensors[i] for i in main.inputs if i >= 0] if main.inputs is not None else []
    before = {"scale": out_scales[0], "zero_point": int(output.quantization.zeroPoint[0])}
    rewrite: dict[str, Any] = {"target": target, "tensor": int(main.outputs[0]), "output_before": before}
    if target in ("zero-point-min", "zero-point-max"):
        if dtype == "int16":
            return None
        zero_point = INT_LIMITS[dtype][0 if target == "zero-point-min" else 1]
        if zero_point == before["zero_point"]:
            return None
        output.quantization.zeroPoint = [zero_point]
    elif target in ("scale-tiny", "scale-huge"):
        _set_scales(output, [out_scales[0] * (TINY_FACTOR if target == "scale-tiny" else HUGE_FACTOR)])
    elif target == "rounding-tie":
        if not inputs or _scales(inputs[0]) is None:
            return None
        s_in = _power_of_two(_scales(inputs[0])[0])
        elements = math.prod(int(d) for d in output.shape) if output.shape is not None else 1
        if case.op in TIE_PRODUCT:
            if len(inputs) < 2 or _scales(inputs[1]) is None:
                return None
            weights = inputs[1]
            s_w = _power_of_two(_scales(weights)[0])
            shift = tie_shift(_scales(inputs[0])[0] * _scales(weights)[0] / out_scales[0], elements)
            _set_scales(inputs[0], [s_in])
            _set_scales(weights, [s_w] * len(weights.quantization.scale))
            for bias in inputs[2:3]:
                if _scales(bias) is not None:
                    _set_scales(bias, [s_in * s_w] * len(bias.quantization.scale))
            _set_scales(output, [2.0**shift * s_in * s_w])
        elif case.op in TIE_SHARED:
            variable = [t for t in inputs if _scales(t) is not None and not _is_constant(model, t)]
            if not variable:
                return None
            shift = tie_shift(max(_scales(t)[0] for t in variable) / out_scales[0], elements)
            s_in = max(_power_of_two(_scales(t)[0]) for t in variable)
            for t in variable:
                _set_scales(t, [s_in] * len(t.quantization.scale))
            _set_scales(output, [2.0**shift * s_in])
        else:
            return None
    else:
        raise ValueError(f"unknown target {target!r}")
    if target == "rounding-tie":
        rewrite["multiplier"] = 2.0**-shift
        # no fused activation: a clamp would hide the rounding of the values it cuts off
        options = main.builtinOptions
        if getattr(options, "fusedActivationFunction", 0):
            rewrite["fused_activation_before"] = ACTIVATION_NAMES.get(options.fusedActivationFunction)
            options.fusedActivationFunction = 0
    rewrite["output_after"] = {"scale": float(output.quantization.scale[0]),
                               "zero_point": int(output.quantization.zeroPoint[0])}
    return replace(case, model=pack(model), params={**case.params, "targeted": rewrite})


# --------------------------------------------------------------------------------------------------
# Running a case on the oracle and on refinterp


def output_difference(expected: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> str | None:
    """None when the outputs are equal (same dtype and shape; integers equal; floats bit for bit, NaN payloads
    and signed zeros included), else the first difference in one line."""
    if len(expected) != len(got):
        return f"{len(got)} outputs, expected {len(expected)}"
    for position, (want, have) in enumerate(zip(expected, got)):
        have = np.asarray(have)
        if have.dtype != want.dtype or have.shape != want.shape:
            return f"output {position}: got {have.dtype}{list(have.shape)}, expected {want.dtype}{list(want.shape)}"
        flat_want, flat_have = want.reshape(-1), have.reshape(-1)
        if want.dtype.kind == "f":
            bits = np.dtype(f"u{want.dtype.itemsize}")
            differs = np.ascontiguousarray(flat_want).view(bits) != np.ascontiguousarray(flat_have).view(bits)
        else:
            differs = flat_want != flat_have
        if differs.any():
            first = int(np.argmax(differs))
            where = tuple(int(i) for i in np.unravel_index(first, want.shape)) if want.shape else ()
            return (f"output {position}: {int(differs.sum())} of {differs.size} elements differ; first at {where}: "
                    f"expected {flat_want[first]!r}, got {flat_have[first]!r}")
    return None


@dataclass
class Runtimes:
    """The oracle and refinterp's kernel sets of one profile (one set per worker process)."""

    profile: str
    oracle: Runtime
    builtin: Runtime | None  # LiteRT's builtin resolver, for BUILTIN_ONLY operators (profile litert-ref)
    refinterp: dict[str, Runtime]

    def oracle_for(self, op: str) -> Runtime:
        return self.builtin if self.builtin is not None and op in BUILTIN_ONLY else self.oracle


@cache
def runtimes_of(profile: str) -> Runtimes:
    oracle_name, _ = ORACLES[profile]
    oracle = get_runtime(oracle_name) if profile == "tflm" else get_runtime(oracle_name, num_threads=1)
    builtin = get_runtime("litert", num_threads=1) if profile == "litert-ref" else None
    ours = {k: get_runtime("refinterp", profile=profile, kernels=k, num_threads=1) for k in KERNEL_SETS}
    return Runtimes(profile, oracle, builtin, ours)


@dataclass
class Verdict:
    status: str  # "agree", "rejected" (by the oracle), "unusable" (inputs do not fit), "disagree"
    outputs: list[np.ndarray] = field(default_factory=list)
    message: str = ""


def evaluate(case: Case, model_path: str, inputs: list[np.ndarray], runtimes: Runtimes) -> Verdict:
    """Run a case on the oracle, then on refinterp's kernel sets; the outputs when all agree."""
    oracle = runtimes.oracle_for(case.op)
    try:
        expected = oracle.run(model_path, inputs).outputs
    except RuntimeUnavailableError:
        raise
    except RefinterpError as error:
        return Verdict("rejected", message=one_line(error))
    except Exception as error:  # noqa: BLE001 - anything the oracle raises means it did not run the case
        return Verdict("rejected", message=f"{type(error).__name__}: {one_line(error)}")
    expected = [np.asarray(value) for value in expected]
    for kernels in kernel_sets(case.op):
        label = f"refinterp (profile {runtimes.profile}, {kernels} kernels)"
        try:
            got = runtimes.refinterp[kernels].run(model_path, inputs).outputs
        except KernelError as error:
            return Verdict("disagree", message=f"{label} crashed: {one_line(error)}")
        except RefinterpError as error:
            return Verdict("disagree", message=f"{oracle.name} runs it, but {label} rejects it: {one_line(error)}")
        except Exception as error:  # noqa: BLE001 - a refinterp bug, reported with the case
            return Verdict("disagree", message=f"{label} crashed: {type(error).__name__}: {one_line(error)}")
        difference = output_difference(expected, got)
        if difference is not None:
            return Verdict("disagree", message=f"{label} differs from {oracle.name}: {difference}")
    return Verdict("agree", expected)


# --------------------------------------------------------------------------------------------------
# Writing a case


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: tuples as lists, NumPy scalars and arrays as numbers and lists,
    non-finite floats as the strings "nan", "inf", "-inf", bytes as hex."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def dump_json(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, indent=1, allow_nan=False) + "\n"


def _quantization(q: Any) -> dict[str, Any] | None:
    if q is None or len(q.scale) == 0:
        return None
    if q.per_channel:
        return {"scale": [float(s) for s in q.scale], "zero_point": [int(z) for z in q.zero_point],
                "quantized_dimension": int(q.quantized_dimension)}
    return {"scale": float(q.scale[0]), "zero_point": int(q.zero_point[0])}


def _tensor_entry(tensor: Any, value: np.ndarray | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": tensor.name, "dtype": tensor.type_name,
                             "shape": list(value.shape if value is not None else tensor.shape)}
    q = _quantization(tensor.quantization)
    entry["scale"], entry["zero_point"] = (q["scale"], q["zero_point"]) if q else (None, None)
    if q and "quantized_dimension" in q:
        entry["quantized_dimension"] = q["quantized_dimension"]
    return entry


def case_record(case_id: str, case: Case, model: Model, inputs: Sequence[np.ndarray],
                outputs: Sequence[np.ndarray], targets: Iterable[str], oracle: dict[str, str]) -> dict[str, Any]:
    """The contents of case.json."""
    subgraph = model.subgraphs[0]
    tensors = subgraph.tensors
    operators = _main_operators(case, model)
    main = operators[0]
    return {
        "id": case_id, "operator": case.op, "kind": case.kind, "version": int(main.version),
        "operators": [op.name for op in subgraph.operators],
        "inputs": [_tensor_entry(tensors[i], v) for i, v in zip(subgraph.inputs, inputs)],
        "outputs": [_tensor_entry(tensors[i], v) for i, v in zip(subgraph.outputs, outputs)],
        "options": {key: (PADDING_NAMES.get(value, value) if key == "padding"
                          else ACTIVATION_NAMES.get(value, value) if key == "fused_activation_function" else value)
                    for key, value in sorted(main.options.items())},
        "quantization": [{"tensor": t.index, "name": t.name, "dtype": t.type_name, "constant": t.is_constant,
                          **(_quantization(t.quantization) or {})}
                         for t in tensors if _quantization(t.quantization) is not None],
        "params": case.params, "seed": case.seed, "targets": sorted(targets),
        "oracle": oracle, "verify": {"mode": "exact"},
    }


def save_npy(path: Path, value: np.ndarray) -> None:
    # ascontiguousarray makes a 0-d array 1-d: keep the shape
    np.save(path, np.ascontiguousarray(value).reshape(np.shape(value)), allow_pickle=False)


def write_case(directory: Path, model_bytes: bytes, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
               record: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=False)
    (directory / "model.tflite").write_bytes(model_bytes)
    for i, value in enumerate(inputs):
        save_npy(directory / f"input_{i}.npy", value)
    for j, value in enumerate(outputs):
        save_npy(directory / f"expected_{j}.npy", value)
    (directory / "case.json").write_text(dump_json(record), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# One kind (the unit of work of a worker process)


@dataclass(frozen=True)
class KindTask:
    op: str
    kind: str
    profile: str
    cases: int
    seed: int
    out_dir: str
    targeted: bool = True


def generate_targeted(task: KindTask, sources: Sequence[tuple[Case, list[np.ndarray]]], runtimes: Runtimes,
                      oracle_record: dict[str, str], base: Path, scratch: str, result: dict[str, Any]) -> None:
    """The targeted variants of a kind: for each target of TARGETED, the first of ``sources`` (written random
    cases, in draw order) whose rewrite (targeted_variant) the oracle runs and refinterp agrees on is written,
    tagged "targeted" and the target (rounding-tie: the first less than half saturated, else the least
    saturated). An oracle refusal tries the next source (counted in "targeted_rejected"); a disagreement is
    reported like a random case's, with the target, and nothing is written for that target."""
    for target in TARGETED:
        candidates = []  # rounding-tie: (saturated fraction, number, variant, model, inputs, outputs)
        for number, (source, inputs) in enumerate(sources):
            variant = targeted_variant(source, target)
            if variant is None:
                continue
            model = parse_model(variant.model)
            model_path = os.path.join(scratch, f"{target}-{number}.tflite")
            Path(model_path).write_bytes(variant.model)
            verdict = evaluate(variant, model_path, inputs, runtimes)
            os.remove(model_path)
            verdict.message = verdict.message.replace(scratch + os.sep, "")  # the same bytes on every run
            if verdict.status == "rejected":
                result["targeted_rejected"][target] += 1
                result["rejections"][f"{target}: {rejection_reason(verdict.message)[:140]}"] += 1
                continue
            if verdict.status == "disagree":
                result["disagreements"].append({"operator": task.op, "kind": task.kind, "seed": variant.seed,
                                                "target": target, "message": verdict.message,
                                                "params": variant.describe()})
                candidates = []
                break
            candidates.append((saturated_fraction(verdict.outputs), number, variant, model, inputs, verdict.outputs))
            if target != "rounding-tie" or candidates[-1][0] < 0.5:
                candidates = candidates[-1:]
                break
        if candidates:
            _, _, variant, model, inputs, outputs = min(candidates, key=lambda c: (c[0], c[1]))
            tags = param_targets(variant, model, inputs) | output_targets(outputs) | {"targeted", target}
            case_id = f"{kind_path(task.op, task.kind)}/{len(result['written']):04d}"
            record = case_record(case_id, variant, model, inputs, outputs, tags, oracle_record)
            write_case(base / f"{len(result['written']):04d}", variant.model, inputs, outputs, record)
            result["written"].append(case_id)
            result["targets"].update(tags)
            result["targeted"][target] += 1


def rejection_reason(message: str) -> str:
    """An oracle's refusal as suite.json counts it: LiteRT's TF_LITE_ENSURE_EQ prints float operands with %d
    ("(1224175104 != -1836...)": whatever the register held), so the operands are dropped."""
    return re.sub(r" ?\(-?\d+ != -?\d+\)", "", message)


def saturated_fraction(outputs: Sequence[np.ndarray]) -> float:
    """The fraction of 8/16-bit integer output elements at their type's limits (0 for other outputs)."""
    total = saturated = 0
    for value in outputs:
        if value.dtype.name in SATURATING_DTYPES:
            low, high = INT_LIMITS[value.dtype.name]
            total += value.size
            saturated += int(((value == low) | (value == high)).sum())
    return saturated / total if total else 0.0


def generate_kind(task: KindTask) -> dict[str, Any]:
    """Draw, judge and write the cases of one kind; what happened, as plain data (it crosses processes).

    The first ``task.cases`` cases the oracle runs and refinterp agrees on are written, in draw order. The
    remaining draws of the attempt budget (ATTEMPTS_PER_CASE per case) then sweep for option values and
    targets not yet covered: a draw whose parameter tags add one is run and written too ("sweep"); while no
    case saturates an 8/16-bit output at one end, up to ``task.cases`` further draws are run to find one."""
    runtimes = runtimes_of(task.profile)
    oracle = runtimes.oracle_for(task.op)
    oracle_record = {"name": oracle.name, "version": oracle.version()}
    base = Path(task.out_dir) / kind_path(task.op, task.kind)
    result: dict[str, Any] = {
        "operator": task.op, "kind": task.kind, "written": [], "sweep": 0, "draws": 0, "probes": 0,
        "rejected_by_oracle": 0, "rejections": Counter(), "unusable": 0, "disagreements": [],
        "generator_failures": [], "targets": Counter(), "seconds": 0.0, "oracle": oracle_record,
        "targeted": Counter(), "targeted_rejected": Counter()}
    started = time.perf_counter()
    covered: set[str] = set()
    saturation_draws = 0
    sources: list[tuple[Case, list[np.ndarray]]] = []  # the first written cases: the targeted variants' bases
    with tempfile.TemporaryDirectory(prefix="refinterp-conformance-") as scratch:
        for attempt in range(task.cases * ATTEMPTS_PER_CASE):
            seed = task.seed * SEED_STRIDE + attempt
            result["draws"] += 1
            try:
                case = make_case(task.op, task.kind, seed)
            except Exception as error:  # noqa: BLE001 - a generator bug: reported, the sweep goes on
                result["generator_failures"].append({"seed": seed, "message": f"{type(error).__name__}: "
                                                                              f"{one_line(error)}"})
                continue
            if not runs_on_oracle(case, task.profile):
                result["probes"] += 1
                continue
            try:
                model = parse_model(case.model)
                declared = [model.subgraphs[0].tensors[i] for i in model.subgraphs[0].inputs]
                inputs = check_inputs(model, [np.asarray(v, t.dtype) for v, t in zip(case.inputs, declared)]
                                      if len(declared) == len(case.inputs) else case.inputs)
            except (RefinterpError, TypeError, ValueError) as error:
                result["unusable"] += 1
                result["rejections"][f"inputs: {one_line(error)[:120]}"] += 1
                continue
            tags = param_targets(case, model, inputs)
            sweep = len(result["written"]) >= task.cases
            if sweep:
                new_tags = tags - covered
                missing_saturation = (not {"saturation-low", "saturation-high"} <= covered
                                      and saturation_draws < task.cases and _saturating_outputs(model))
                if not new_tags and not missing_saturation:
                    continue
                if not new_tags:
                    saturation_draws += 1
            model_path = os.path.join(scratch, f"{attempt}.tflite")
            Path(model_path).write_bytes(case.model)
            verdict = evaluate(case, model_path, inputs, runtimes)
            os.remove(model_path)
            verdict.message = verdict.message.replace(scratch + os.sep, "")  # the same bytes on every run
            if verdict.status == "rejected":
                result["rejected_by_oracle"] += 1
                result["rejections"][rejection_reason(verdict.message)[:160]] += 1
                continue
            if verdict.status == "disagree":
                result["disagreements"].append({"operator": task.op, "kind": task.kind, "seed": seed,
                                                "message": verdict.message, "params": case.describe()})
                continue
            tags |= output_targets(verdict.outputs)
            if sweep:
                if not tags - covered:
                    continue
                tags.add("sweep")
                result["sweep"] += 1
            tags.add("random")
            covered |= tags
            case_id = f"{kind_path(task.op, task.kind)}/{len(result['written']):04d}"
            record = case_record(case_id, case, model, inputs, verdict.outputs, tags, oracle_record)
            write_case(base / f"{len(result['written']):04d}", case.model, inputs, verdict.outputs, record)
            result["written"].append(case_id)
            result["targets"].update(tags)
            if len(sources) < TARGETED_SOURCES:
                sources.append((case, inputs))
        if task.targeted:
            generate_targeted(task, sources, runtimes, oracle_record, base, scratch, result)
    result["seconds"] = time.perf_counter() - started
    result["rejections"] = dict(result["rejections"])
    result["targeted"] = dict(sorted(result["targeted"].items()))
    result["targeted_rejected"] = dict(sorted(result["targeted_rejected"].items()))
    result["targets"] = dict(result["targets"])
    return result


def _saturating_outputs(model: Model) -> bool:
    subgraph = model.subgraphs[0]
    return any(subgraph.tensors[i].type_name in SATURATING_DTYPES for i in subgraph.outputs)


# --------------------------------------------------------------------------------------------------
# The suite


def oracle_versions(profile: str, kinds: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """suite.json "oracle": the profile's oracle, its package and version (an error when not installed);
    for profile litert-ref with BUILTIN_ONLY operators selected, the builtin resolver too."""
    name, package = ORACLES[profile]
    runtime = get_runtime(name)
    entry: dict[str, Any] = {"name": name, "package": package, "version": runtime.version()}
    builtin_ops = sorted({op for op, _ in kinds if op in BUILTIN_ONLY})
    if profile == "litert-ref" and builtin_ops:
        entry["builtin_resolver"] = {"name": "litert", "operators": builtin_ops,
                                     "version": get_runtime("litert").version(),
                                     "why": "not registered by BUILTIN_REF; LiteRT's builtin kernel is its only one"}
    return entry


def prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """OUT must be new or empty; with ``overwrite``, an existing suite (it holds suite.json) is replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise InputError(f"{out_dir}: not empty (choose a new directory, or --overwrite to replace a suite)")
        if not (out_dir / "suite.json").is_file():
            raise InputError(f"{out_dir}: not empty and not a suite (no suite.json): will not overwrite it")
        shutil.rmtree(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create ({exc.strerror or exc})") from None


Progress = Callable[[int, int, dict[str, Any]], None]


def generate_suite(out_dir: str | os.PathLike, ops: Sequence[str] | None = None, dtypes: Sequence[str] | None = None,
                   cases_per_kind: int = CASES_PER_KIND, seed: int = 0, profile: str = "litert-ref", jobs: int = 1,
                   progress: Progress | None = None, overwrite: bool = False, targeted: bool = True) -> dict[str, Any]:
    """Write a suite to ``out_dir``; return the contents of its suite.json.

    ``targeted``: after each quantized kind's random cases, write its targeted variants (generate_targeted).
    ``progress(done, total, kind_result)`` is called after each kind."""
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if not 1 <= cases_per_kind or cases_per_kind * ATTEMPTS_PER_CASE > SEED_STRIDE:
        raise InputError(f"cases per kind must be 1 to {SEED_STRIDE // ATTEMPTS_PER_CASE}, got {cases_per_kind}")
    if seed < 0 or jobs < 1:
        raise InputError("the seed must be >= 0 and jobs >= 1")
    kinds, not_covered = select_kinds(ops, dtypes, profile)
    if not kinds:
        raise InputError("no (operator, dtype) kind with a generator is selected: nothing to generate")
    oracle = oracle_versions(profile, kinds)  # fails early, in one line, when the oracle is not installed
    out = Path(out_dir)
    prepare_out_dir(out, overwrite)
    tasks = [KindTask(op, kind, profile, cases_per_kind, seed, str(out), targeted) for op, kind in kinds]
    results: dict[tuple[str, str], dict[str, Any]] = {}

    def collect(index: int, result: Any) -> None:
        task = tasks[index]
        if isinstance(result, WorkerCrashedError):
            raise RefinterpError(f"a worker process died while generating {task.op}/{task.kind} (a runtime "
                                 f"crashed); `--ops {task.op} -j 1` repeats it")
        if isinstance(result, BaseException):
            raise result
        results[task.op, task.kind] = result
        if progress is not None:
            progress(len(results), len(tasks), result)

    run_tasks(generate_kind, tasks, jobs=jobs, return_exceptions=True, on_result=collect)
    suite = suite_record(results, not_covered, oracle, profile, seed, cases_per_kind, ops, dtypes, targeted)
    (out / "suite.json").write_text(dump_json(suite), encoding="utf-8")
    return suite


def suite_record(results: dict[tuple[str, str], dict[str, Any]], not_covered: list[dict[str, str]],
                 oracle: dict[str, Any], profile: str, seed: int, cases_per_kind: int,
                 ops: Sequence[str] | None, dtypes: Sequence[str] | None, targeted: bool = True) -> dict[str, Any]:
    """suite.json: the index of the suite (no timing: regeneration gives the same bytes)."""
    counts: dict[str, dict[str, int]] = {}
    cases: list[str] = []
    targets: Counter = Counter()
    variants: Counter = Counter()
    variants_rejected: Counter = Counter()
    short, rejected, disagreements, failures = [], {}, [], []
    for (op, kind), result in sorted(results.items()):
        counts.setdefault(op, {})[kind] = len(result["written"])
        cases.extend(result["written"])
        targets.update(result["targets"])
        variants.update(result["targeted"])
        variants_rejected.update(result["targeted_rejected"])
        if len(result["written"]) < cases_per_kind:
            short.append({"operator": op, "kind": kind, "written": len(result["written"]),
                          "draws": result["draws"], "probes": result["probes"],
                          "rejected_by_oracle": result["rejected_by_oracle"],
                          "disagreements": len(result["disagreements"])})
        if result["rejected_by_oracle"] or result["unusable"] or result["targeted_rejected"]:
            rejected[f"{op}/{kind}"] = {"count": result["rejected_by_oracle"] + result["unusable"]
                                        + sum(result["targeted_rejected"].values()),
                                        "reasons": result["rejections"]}
        disagreements.extend(result["disagreements"])
        failures.extend({"operator": op, "kind": kind, **f} for f in result["generator_failures"])
    return {
        "format": SUITE_FORMAT, "format_version": FORMAT_VERSION,
        "generator": {"refinterp": __version__, "generator_version": GENERATOR_VERSION, "seed": seed,
                      "cases_per_kind": cases_per_kind, "attempts_per_case": ATTEMPTS_PER_CASE,
                      "seed_stride": SEED_STRIDE, "ops": list(ops) if ops is not None else None,
                      "dtypes": list(dtypes) if dtypes is not None else None, "targeted": targeted},
        "profile": profile, "oracle": oracle,
        "refinterp": {"kernels": list(KERNEL_SETS), "profile": profile,
                      "agrees": "every written case: integers equal, floats bit for bit"},
        "counts": counts, "total": len(cases), "cases": sorted(cases),
        "kinds": len(results), "targets": dict(sorted(targets.items())),
        "targeted": {"written": {t: variants[t] for t in TARGETED},
                     "rejected_by_oracle": {t: variants_rejected[t] for t in TARGETED}},
        "not_covered": not_covered, "short": short,
        "rejected_by_oracle": dict(sorted(rejected.items())),
        "disagreements": sorted(disagreements, key=lambda d: (d["operator"], d["kind"], d["seed"],
                                                              d.get("target", ""))),
        "generator_failures": failures,
    }


# --------------------------------------------------------------------------------------------------
# The command line


class GenerateProgress(StatusLine):
    """``kinds 120/511  2400 cases  0 disagreements  35 s`` on stderr: redrawn on a terminal, a line every few
    seconds in a log. Disagreements are printed as they are found."""

    after = log_after = 0.0

    def __init__(self, stream: TextIO, enabled: bool = True):
        super().__init__(stream, enabled)
        self.last_log = self.started  # the first log line after log_interval
        self.cases = 0
        self.disagreements = 0

    def __call__(self, done: int, total: int, result: dict[str, Any]) -> None:
        self.cases += len(result["written"])
        self.disagreements += len(result["disagreements"])
        for d in result["disagreements"]:
            self.close()
            target = f" ({d['target']} variant)" if "target" in d else ""
            self.write_line(f"refinterp: disagreement: {d['operator']}/{d['kind']} seed {d['seed']}{target}: "
                            f"{d['message']}")
        self.show(f"conformance generate: kinds {done}/{total}  {self.cases} cases  {self.disagreements} "
                  f"disagreements  {time.monotonic() - self.started:.0f} s", final=done == total)


def _comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError("expected a comma-separated list, got nothing")
    return items


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="refinterp conformance generate",
        description="Write a conformance suite: single-operator cases with the oracle's outputs "
                    "(docs/conformance.md).")
    parser.add_argument("out", metavar="OUT", help="the suite's directory (new or empty)")
    parser.add_argument("--ops", metavar="OP,...", help="only these operators (default: every supported one)")
    parser.add_argument("--dtypes", metavar="KIND,...",
                        help="only these dtype kinds, as `refinterp ops` names them (int8, float32->int8, ...)")
    parser.add_argument("--cases-per-kind", metavar="N", type=int, default=CASES_PER_KIND,
                        help=f"cases per (operator, dtype kind) (default {CASES_PER_KIND})")
    parser.add_argument("--seed", metavar="S", type=int, default=0, help="the suite's seed (default 0)")
    parser.add_argument("--profile", choices=PROFILES, default="litert-ref",
                        help="litert-ref: LiteRT BUILTIN_REF is the oracle (default); tflm: TensorFlow Lite Micro")
    parser.add_argument("-j", "--jobs", metavar="N", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--no-targeted", action="store_true",
                        help="random cases only: no targeted variants (rounding ties, zero points at the limits, "
                             "tiny and huge output scales)")
    parser.add_argument("--overwrite", action="store_true", help="replace the suite already in OUT")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    return parser


def generate_main(argv: Sequence[str]) -> int:
    """``refinterp conformance generate``: 0 when every selected kind got its cases and refinterp agreed with
    the oracle everywhere, 1 when a kind fell short or a disagreement was found, 2 on bad arguments."""
    args = _parser().parse_args(list(argv))
    ops = _comma_list(args.ops) if args.ops is not None else None
    dtypes = _comma_list(args.dtypes) if args.dtypes is not None else None
    if args.cases_per_kind < 1:
        raise InputError(f"--cases-per-kind must be at least 1, got {args.cases_per_kind}")
    if args.jobs < 1:
        raise InputError(f"-j/--jobs must be at least 1, got {args.jobs}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    started = time.monotonic()
    progress = GenerateProgress(sys.stderr, enabled=not args.quiet)
    suite = generate_suite(args.out, ops=ops, dtypes=dtypes, cases_per_kind=args.cases_per_kind, seed=args.seed,
                           profile=args.profile, jobs=args.jobs, progress=progress, overwrite=args.overwrite,
                           targeted=not args.no_targeted)
    progress.close()
    seconds = time.monotonic() - started
    print(f"wrote {suite['total']} cases of {suite['kinds']} kinds to {args.out} in {seconds:.1f} s "
          f"(oracle {suite['oracle']['name']} {suite['oracle']['version']}; -j {args.jobs})")
    if suite["not_covered"]:
        print(f"not covered: {len(suite['not_covered'])} kinds ("
              + ", ".join(f"{k['operator']}/{k['kind']}" for k in suite["not_covered"][:8])
              + (" ..." if len(suite["not_covered"]) > 8 else "") + "; see suite.json)")
    rejected = sum(r["count"] for r in suite["rejected_by_oracle"].values())
    if rejected:
        print(f"skipped {rejected} draws the oracle rejected ({len(suite['rejected_by_oracle'])} kinds)")
    for entry in suite["short"]:
        print(f"short: {entry['operator']}/{entry['kind']}: {entry['written']} of {args.cases_per_kind} cases "
              f"after {entry['draws']} draws ({entry['probes']} probes, {entry['rejected_by_oracle']} rejected, "
              f"{entry['disagreements']} disagreements)")
    for failure in suite["generator_failures"][:10]:
        print(f"generator failed: {failure['operator']}/{failure['kind']} seed {failure['seed']}: {failure['message']}")
    for d in suite["disagreements"]:
        target = f" ({d['target']} variant)" if "target" in d else ""
        print(f"DISAGREEMENT (a refinterp bug; case not written): {d['operator']}/{d['kind']} seed {d['seed']}"
              f"{target}: {d['message']}")
    failed = suite["short"] or suite["disagreements"] or suite["generator_failures"]
    return EXIT_MISMATCH if failed else EXIT_OK


__all__ = ["GENERATOR_VERSION", "generate_kind", "generate_main", "generate_suite"]
