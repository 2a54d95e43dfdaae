"""``refinterp explain``: one output element of one operator, every step of its integer computation.

    refinterp explain MODEL --op N --element i,j,... [--output K] [--input X.npy ...] [--seed S]
                      [--profile P] [--vs P2] [--json PATH] [--html PATH]

The model runs in refinterp's interpreter (every tensor kept) on the given inputs, or on refinterp's seeded
inputs; the operator's input tensors are those values. The operator is prepared again under the profile, and
its family's ``explain_<op>`` function (at the end of ``refinterp/ops/<family>.py``, recorder in
``refinterp/ops/trace.py``) computes the one element with the spec kernel's own integer primitives, recording
every step. The explanation's final value is then checked against the element the spec kernel computes on the
same inputs (and the interpreter's tensor): an explanation that does not reproduce it is never shown as the
computation; the generic explanation (the operands and the spec kernel's value) is shown instead, with a note.

With ``--vs P2`` the operator is also explained under profile P2 *on the same input values* (as ``compare``'s
isolation does), and the first step where the two explanations differ is shown.

The JSON (``--json``) is documented in docs/explain.md.
"""

from __future__ import annotations

import html
import json
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import InputError, PrepareError, RefinterpError, UnsupportedOpError
from refinterp.interpreter import Interpreter
from refinterp.io import load_npy, model_input_specs, seeded_inputs
from refinterp.model import Model
from refinterp.ops import (
    activations,
    arg_minmax,
    batch_matmul,
    binary_math,
    cast,
    conv,
    depthwise_conv,
    detection,
    elementwise,
    fully_connected,
    hybrid,
    indexing,
    logical,
    lstm,
    pooling,
    quantize,
    rearrange,
    reduce,
    resize,
    rnn,
    shape_ops,
    softmax_logistic,
    sparse,
    svdf,
    transpose_conv,
    unary_math,
)
from refinterp.ops.common import ALL_PROFILES, KernelResult, OpContext, base_profile
from refinterp.ops.trace import NotDetailed, Trace, plain
from refinterp.registry import EMULATIONS, lookup, prepare_kernel
from refinterp.tools.arguments import EXIT_OK, ArgumentParser

REPORT_FORMAT = "refinterp-explain/1"

#: the explain function of each operator with detailed steps: (ctx, params, inputs, index, trace) -> value
EXPLAINERS: dict[str, Callable[..., Any]] = {
    "CONV_2D": conv.explain_conv2d,
    "LEAKY_RELU": activations.explain_leaky_relu,
    "MAX_POOL_2D": pooling.explain_max_pool2d,
    "CONCATENATION": shape_ops.explain_concatenation,
    "RESIZE_NEAREST_NEIGHBOR": resize.explain_resize_nearest,
    "RESHAPE": shape_ops.explain_reshape,
    "DEPTHWISE_CONV_2D": depthwise_conv.explain_depthwise_conv2d,
    "FULLY_CONNECTED": fully_connected.explain_fully_connected,
    "AVERAGE_POOL_2D": pooling.explain_average_pool2d,
    "L2_POOL_2D": pooling.explain_l2_pool2d,
    "ADD": elementwise.explain_binary,
    "SUB": elementwise.explain_binary,
    "MUL": elementwise.explain_binary,
    "MINIMUM": elementwise.explain_binary,
    "MAXIMUM": elementwise.explain_binary,
    "QUANTIZE": quantize.explain_quantize,
    "DEQUANTIZE": quantize.explain_dequantize,
    "PAD": shape_ops.explain_pad,
    "PADV2": shape_ops.explain_pad,
    "RELU": activations.explain_relu,
    "RELU6": activations.explain_relu,
    "RELU_N1_TO_1": activations.explain_relu,
    "LOGISTIC": softmax_logistic.explain_logistic,
    "TANH": softmax_logistic.explain_tanh,
    "SOFTMAX": softmax_logistic.explain_softmax,
    "HARD_SWISH": unary_math.explain_hard_swish,
    "PRELU": unary_math.explain_prelu,
    **{name: unary_math.explain_unary for name in ("ABS", "NEG", "SQRT", "RSQRT", "EXP", "LOG", "SIN", "COS",
                                                   "SQUARE", "FLOOR", "CEIL", "ROUND", "ELU")},
    "MEAN": reduce.explain_mean,
    "REDUCE_MAX": reduce.explain_reduce_extreme,
    "REDUCE_MIN": reduce.explain_reduce_extreme,
    "RESIZE_BILINEAR": resize.explain_resize_bilinear,
    "TRANSPOSE_CONV": transpose_conv.explain_transpose_conv,
    "ARG_MAX": arg_minmax.explain_arg_min_max,
    "ARG_MIN": arg_minmax.explain_arg_min_max,
    "BATCH_MATMUL": batch_matmul.explain_batch_matmul,
    "SUM": reduce.explain_sum,
    "REDUCE_PROD": reduce.explain_reduce_prod,
    "CUMSUM": reduce.explain_cumsum,
    "REDUCE_ALL": reduce.explain_logical_reduce,
    "REDUCE_ANY": reduce.explain_logical_reduce,
    **{name: binary_math.explain_binary_math for name in ("DIV", "FLOOR_DIV", "FLOOR_MOD", "SQUARED_DIFFERENCE",
                                                          "POW")},
    "ADD_N": binary_math.explain_add_n,
    **{name: logical.explain_comparison for name in ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER",
                                                     "GREATER_EQUAL")},
    **{name: logical.explain_logical for name in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT")},
    "CAST": cast.explain_cast,
    "L2_NORMALIZATION": unary_math.explain_l2_normalization,
    "LOG_SOFTMAX": unary_math.explain_log_softmax,
    "SVDF": svdf.explain_svdf,
    "RNN": rnn.explain_rnn,
    "UNIDIRECTIONAL_SEQUENCE_RNN": rnn.explain_rnn,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm.explain_unidirectional_sequence_lstm,
    "BIDIRECTIONAL_SEQUENCE_RNN": rnn.explain_bidirectional_rnn,
    "BIDIRECTIONAL_SEQUENCE_LSTM": lstm.explain_bidirectional_sequence_lstm,
    "DENSIFY": sparse.explain_densify,
    "SHAPE": shape_ops.explain_shape,
    "BROADCAST_ARGS": rearrange.explain_broadcast_args,
    "FILL": rearrange.explain_fill,
    "ZEROS_LIKE": rearrange.explain_zeros_like,
    "TOPK_V2": indexing.explain_topk_v2,
    "ONE_HOT": indexing.explain_one_hot,
    "SCATTER_ND": indexing.explain_scatter_nd,
    "NON_MAX_SUPPRESSION_V4": detection.explain_non_max_suppression,
    "NON_MAX_SUPPRESSION_V5": detection.explain_non_max_suppression,
    "CUSTOM:TFLite_Detection_PostProcess": detection.explain_detection_postprocess,
}

#: the explain function of a hybrid rule (float input, int8 weights: refinterp/ops/hybrid.py), used instead of
#: the operator's own when the prepared params say ``rule == "hybrid"``
HYBRID_EXPLAINERS: dict[str, Callable[..., Any]] = {
    "FULLY_CONNECTED": hybrid.explain_hybrid_fully_connected,
    "CONV_2D": hybrid.explain_hybrid_conv2d,
    "DEPTHWISE_CONV_2D": hybrid.explain_hybrid_depthwise_conv2d,
}

#: operators that only move values: explained by where the element comes from, found by running the operator's
#: spec kernel on the *positions* of its data inputs (int64 tags) instead of their values; the data inputs by
#: operator (default: input 0)
MOVEMENT_OPS = frozenset({
    "TRANSPOSE", "GATHER", "GATHER_ND", "SPLIT", "SPLIT_V", "SQUEEZE", "EXPAND_DIMS", "STRIDED_SLICE", "SLICE",
    "TILE", "UNPACK", "PACK", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "REVERSE_V2", "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND", "BROADCAST_TO", "MIRROR_PAD", "EMBEDDING_LOOKUP", "SELECT", "SELECT_V2",
    "DYNAMIC_UPDATE_SLICE",
})
MOVEMENT_DATA_INPUTS: dict[str, tuple[int, ...] | None] = {
    "SPLIT": (1,), "PACK": None, "EMBEDDING_LOOKUP": (1,), "SELECT": (1, 2), "SELECT_V2": (1, 2),
    "DYNAMIC_UPDATE_SLICE": (0, 1),
}

PROFILE_WORDS = {"litert-ref": "LiteRT's reference kernels, BUILTIN_REF", "tflm": "TensorFlow Lite Micro",
                 "litert-opt": "LiteRT's optimized x86-64 kernels, emulated",
                 "xnnpack": "LiteRT with the XNNPACK delegate, emulated",
                 "tflm-cmsis-nn": "TFLite Micro with CMSIS-NN kernels, emulated from the sources"}


# --------------------------------------------------------------------------------------------------
# Explaining one element


def _spec_outputs(result: Any) -> list[np.ndarray]:
    if isinstance(result, KernelResult):
        result = result.outputs
    return [np.asarray(v) for v in (result if isinstance(result, (tuple, list)) else [result])]


def _element(array: np.ndarray, index: tuple[int, ...]) -> Any:
    return plain(np.asarray(array)[index]) if array is not None else None


def _same(a: Any, b: Any) -> bool:
    """Equal values; two float NaNs count as equal (a kernel's NaN is its result)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def explain_element(model: Model, values: dict[int, np.ndarray], op_index: int, element: Sequence[int],
                    profile: str = "litert-ref", output: int = 0,
                    cache: dict[tuple[int, str], list[np.ndarray]] | None = None) -> dict[str, Any]:
    """The explanation of output ``output``'s element ``element`` of operator ``op_index`` (subgraph 0), on the
    tensor values ``values`` (by tensor index: what the interpreter computed), under ``profile``: a dict with
    ``value``, ``steps`` (ordered dicts), ``detailed``, ``spec_value``, the real value and its error in LSB.
    ``cache``: keeps the spec kernel's outputs by (operator, profile) for several elements of the same values."""
    subgraph = model.subgraphs[0]
    op = subgraph.operators[op_index]
    opdef = lookup(op.name)
    if opdef is None:
        raise UnsupportedOpError(f"operator {op_index} ({op.name}): refinterp has no kernel for it")
    index = tuple(int(i) for i in element)
    inputs = [values.get(i) if i >= 0 else None for i in op.inputs]
    # the shapes the run gave (a constant keeps its declared shape: a sparse one's data is not its shape)
    shapes = {i: tuple(v.shape) for i, v in values.items() if not subgraph.tensors[i].is_constant}
    reference = base_profile(profile)  # an emulation profile runs on a reference profile's kernels
    ctx = OpContext(op=op, subgraph=subgraph, profile=reference, shapes=shapes,
                    emulation=None if reference == profile else profile)
    # PrepareError / UnsupportedOpError: this profile refuses the operator
    params, kernel = prepare_kernel(opdef, ctx, "spec", profile)
    emulated = kernel is not opdef.spec
    stateful = any(i >= 0 and subgraph.tensors[i].is_variable for i in op.inputs)
    spec_value = None
    if not stateful:  # a variable input holds its value after the run, not the one the kernel read
        try:
            key = (op_index, profile)
            outputs = cache.get(key) if cache is not None else None
            if outputs is None:
                outputs = _spec_outputs(kernel(params, *inputs))
                if cache is not None:
                    cache[key] = outputs
            spec_value = _element(outputs[output], index)
        except RefinterpError:
            spec_value = None
    trace = Trace(output=output)
    value: Any = None
    explainer = EXPLAINERS.get(op.name)
    if str(getattr(params, "rule", getattr(params, "kind", ""))).startswith("hybrid") and op.name in HYBRID_EXPLAINERS:
        explainer = HYBRID_EXPLAINERS[op.name]
    if emulated:
        # an emulated rule explains itself when its table entry has an ``explain`` function (same signature)
        entry = EMULATIONS[profile][op.name]
        explainer = getattr(entry, "explain", None)
        if explainer is None:
            trace.notes.append(f"profile {profile} runs its own rule for this operator ({entry.rule}); detailed "
                               "steps for this emulated rule are not written yet")
    if explainer is not None:
        try:
            value = plain(explainer(ctx, params, inputs, index, trace))
        except NotDetailed as exc:
            trace = Trace(notes=[f"detailed steps for {op.name} do not cover {exc} yet"])
        except Exception as exc:  # noqa: BLE001 - a bug in the steps must not hide the computation: generic instead
            trace = Trace(notes=[f"the detailed steps for {op.name} failed ({type(exc).__name__}: {exc}): only the "
                                 "generic explanation is shown (please report it)"])
        else:
            if spec_value is not None and not _same(value, spec_value):
                trace = Trace(notes=[f"the detailed steps give {value}, the spec kernel {spec_value} under profile "
                                     f"{profile}: they do not describe this rule, so only the generic explanation is "
                                     "shown (please report it)"])
    if not trace.steps and op.name in MOVEMENT_OPS and not emulated and spec_value is not None:
        value = _movement(trace, model, op, kernel, params, inputs, index, output, spec_value)
    if not trace.steps:
        value = _generic(trace, model, op, inputs, values, index, output, spec_value)
    report: dict[str, Any] = {
        "profile": profile, "value": value, "detailed": trace.detailed, "steps": [s.as_dict() for s in trace.steps],
        "spec_value": spec_value, "notes": list(trace.notes),
    }
    real_in_lsb = trace.real_in_lsb()
    report["real_value"] = trace.real_value
    report["real_in_lsb"] = real_in_lsb
    report["error_lsb"] = (float(value) - real_in_lsb) if real_in_lsb is not None and value is not None else None
    if trace.real_value is not None and trace.output_quantization is None and isinstance(value, float):
        report["error"] = value - trace.real_value
    return report


def _generic(trace: Trace, model: Model, op: Any, inputs: list, values: dict[int, np.ndarray],
             index: tuple[int, ...], output: int, spec_value: Any) -> Any:
    """The explanation every operator has: the operands at the element's position where that is defined (inputs
    that broadcast to the output's shape), the other inputs' shapes, and the spec kernel's value."""
    tensors = model.subgraphs[0].tensors
    trace.detailed = False
    trace.add("output element", list(index), f"element of output {output} (tensor {op.outputs[output]})")
    out_shape = tuple(np.shape(values.get(op.outputs[output])))
    for position, (tensor_index, x) in enumerate(zip(op.inputs, inputs)):
        if tensor_index < 0 or x is None:
            continue
        tensor = tensors[tensor_index]
        role = f"input {position} (tensor {tensor_index})"
        shape = tuple(x.shape)
        # an input of the output's rank whose dimensions are 1 or the output's (or a scalar) feeds the element
        # from the broadcast position; of other inputs only the shape is shown
        broadcasts = shape == () or (len(shape) == len(out_shape)
                                     and all(d in (1, o) for d, o in zip(shape, out_shape)))
        if broadcasts and x.size:
            at = tuple(0 if d == 1 else i for d, i in zip(shape, index))
            q = plain(x[at])
            real = _real(tensor, q, at)
            trace.add(f"operand {position}", q, f"{role} at {list(at)}" + (
                f"; real value {real!r}" if real is not None else "") + " (the operator may read other elements "
                "too)")
        else:
            trace.add(f"input {position}", list(shape), f"{role}: {tensor.type_name} of shape {list(shape)}")
    value = spec_value if spec_value is not None else _element(values.get(op.outputs[output]), index)
    trace.add("output", value, "the spec kernel's value")
    if not trace.notes:
        trace.notes.append(f"detailed steps for {op.name} are not written yet: the operands and the spec kernel's "
                           "value are shown")
    return value


def _movement(trace: Trace, model: Model, op: Any, kernel: Callable[..., Any], params: Any, inputs: list,
              index: tuple[int, ...], output: int, spec_value: Any) -> Any:
    """A data-movement operator's element: which input element it is. The spec kernel runs once more with each
    data input replaced by its positions (int64, numbered across the data inputs); the element of that output is
    the source's number. Used only when the kernel kept the numbers (int64 out) and the source holds the value
    the kernel computed; otherwise nothing is recorded (the generic explanation follows)."""
    positions = MOVEMENT_DATA_INPUTS.get(op.name, (0,))
    data = [k for k, x in enumerate(inputs) if x is not None] if positions is None else list(positions)
    tagged, offsets, offset = list(inputs), {}, 0
    for k in data:
        if k >= len(inputs) or inputs[k] is None:
            return None
        offsets[k] = offset
        tagged[k] = (np.arange(inputs[k].size, dtype=np.int64) + offset).reshape(inputs[k].shape)
        offset += inputs[k].size
    try:
        with np.errstate(all="ignore"):
            numbered = _spec_outputs(kernel(params, *tagged))[output]
    except Exception:  # noqa: BLE001 - a kernel that cannot run on numbers: the generic explanation instead
        return None
    if numbered.dtype != np.int64:
        return None
    number = int(numbered[index])
    source_input = max((k for k in data if offsets[k] <= number), key=lambda k: offsets[k], default=None)
    if source_input is None or not 0 <= number - offsets[source_input] < inputs[source_input].size:
        return None
    source = tuple(int(i) for i in np.unravel_index(number - offsets[source_input], inputs[source_input].shape))
    value = plain(np.asarray(inputs[source_input])[source])
    if not _same(value, spec_value):
        return None
    trace.add("output element", list(index), f"element of output {output} (tensor {op.outputs[output]})")
    trace.add("source", [source_input, list(source)], f"input {source_input} (tensor {op.inputs[source_input]}) "
              f"at {list(source)}: {op.name} only moves values (found by running its spec kernel on the positions "
              "of its input)")
    trace.add("output", value, "copied, no arithmetic")
    tensor = model.subgraphs[0].tensors[op.outputs[output]]
    real = _real(tensor, value, tuple(index))
    if real is not None:
        q = tensor.quantization
        trace.approximates(real, float(q.scale[0]), int(q.zero_point[0]))
    elif isinstance(value, float):
        trace.approximates(value)
    return value


def _real(tensor: Any, q: Any, at: tuple[int, ...]) -> float | None:
    quantization = tensor.quantization
    if quantization is None or not isinstance(q, int) or quantization.scale.size == 0:
        return None
    channel = at[quantization.quantized_dimension] if quantization.scale.size > 1 else 0
    return float(quantization.scale[channel]) * (q - int(quantization.zero_point[channel]))


def parted_at(steps: list[dict[str, Any]], other: list[dict[str, Any]]) -> int | None:
    """The first step (0-based) whose name or value differs between two explanations; None when they agree
    (one list longer than the other parts where the shorter ends)."""
    for k, (a, b) in enumerate(zip(steps, other)):
        if a["name"] != b["name"] or a["value"] != b["value"]:
            return k
    return None if len(steps) == len(other) else min(len(steps), len(other))


# --------------------------------------------------------------------------------------------------
# The command


def _parse_element(text: str | None, shape: tuple[int, ...]) -> tuple[int, ...]:
    if text is None:
        if shape == ():
            return ()
        raise InputError(f"--element is required: the output has shape {list(shape)} (e.g. --element "
                         f"{','.join('0' for _ in shape)})")
    cleaned = text.strip().strip("[]()")
    parts = [p for p in re.split(r"[,\s]+", cleaned) if p]
    try:
        element = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"--element {text!r}: not a list of integers (e.g. 0,3,4,1)") from None
    if len(element) != len(shape):
        raise InputError(f"--element {text!r} has {len(element)} indices, the output has {len(shape)} dimensions "
                         f"(shape {list(shape)})")
    for axis, (i, d) in enumerate(zip(element, shape)):
        if not 0 <= i < d:
            raise InputError(f"--element {text!r}: index {i} of dimension {axis} is outside [0, {d}) "
                             f"(output shape {list(shape)})")
    return element


def explain_main(argv: Sequence[str]) -> int:
    """``refinterp explain``; returns the exit status (errors raise RefinterpError: the CLI prints one line)."""
    parser = ArgumentParser(prog="refinterp explain", description="One output element of one operator, every "
                            "step of its integer computation with the values, and the real number it approximates.")
    parser.add_argument("model", help="the .tflite model")
    parser.add_argument("--op", type=int, required=True, metavar="N", help="operator index (refinterp inspect)")
    parser.add_argument("--element", metavar="I,J,...", help="the output element's index, one per dimension")
    parser.add_argument("--output", type=int, default=0, metavar="K",
                        help="which output of the operator (default 0)")
    parser.add_argument("--input", action="append", default=[], metavar="X.npy",
                        help="one .npy per model input, in order (default: seeded random inputs)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the random inputs when no --input is given (default 0)")
    parser.add_argument("--profile", default="litert-ref", choices=ALL_PROFILES,
                        help="whose rules (default litert-ref)")
    parser.add_argument("--vs", choices=ALL_PROFILES, metavar="P2",
                        help="also explain under this profile, on the same operands, side by side "
                             f"({', '.join(ALL_PROFILES)})")
    parser.add_argument("--json", metavar="PATH", help="write the explanation as JSON (docs/explain.md)")
    parser.add_argument("--html", metavar="PATH", help="write the explanation as a self-contained HTML page")
    parser.add_argument("--all-items", action="store_true",
                        help="print every value of long steps (default: the first 12; --json has them all)")
    args = parser.parse_args(list(argv))

    interpreter = Interpreter(model_path=args.model, profile=args.profile)
    model = interpreter.model
    operators = model.subgraphs[0].operators
    if not 0 <= args.op < len(operators):
        raise InputError(f"--op {args.op}: the model has operators 0 to {len(operators) - 1}")
    op = operators[args.op]
    if not 0 <= args.output < len(op.outputs) or op.outputs[args.output] < 0:
        raise InputError(f"--output {args.output}: operator {args.op} ({op.name}) has {len(op.outputs)} output(s)")
    interpreter.allocate_tensors()
    output_tensor = op.outputs[args.output]
    planned = next((d["shape"] for d in interpreter.get_tensor_details() if d["index"] == output_tensor), None)
    if planned is not None and all(int(d) >= 0 for d in planned):
        _parse_element(args.element, tuple(int(d) for d in planned))  # a bad element fails before the model runs
    details = interpreter.get_input_details()
    if args.input:
        if len(args.input) != len(details):
            raise InputError(f"the model has {len(details)} inputs, {len(args.input)} --input files were given")
        given = [load_npy(p) for p in args.input]
        inputs_text = "--input " + " ".join(args.input)
    else:
        given = seeded_inputs(model_input_specs(model), args.seed)
        inputs_text = f"seeded random (seed {args.seed})"
    for detail, value in zip(details, given):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    values = interpreter.tensor_values()
    if output_tensor not in values:
        raise InputError(f"operator {args.op} ({op.name}) output {args.output} has no value after the run")
    element = _parse_element(args.element, tuple(values[output_tensor].shape))
    report = explanation_report(model, values, args.op, element, args.profile, args.output, args.vs)
    report["model"] = str(args.model)
    report["inputs"] = inputs_text
    print(render_text(report, all_items=args.all_items))
    if args.json:
        _write(args.json, json.dumps(report, indent=1, allow_nan=True) + "\n")
        print(f"wrote {args.json}")
    if args.html:
        _write(args.html, render_html(report))
        print(f"wrote {args.html}")
    return EXIT_OK


def explanation_report(model: Model, values: dict[int, np.ndarray], op_index: int, element: Sequence[int],
                       profile: str, output: int = 0, vs: str | None = None) -> dict[str, Any]:
    """The whole report the command prints and writes (``--json``): the explanation under ``profile`` at the top
    level, and under ``vs`` (same operand values) in ``"vs"``, with ``"parted_at"``."""
    subgraph = model.subgraphs[0]
    op = subgraph.operators[op_index]
    tensor = subgraph.tensors[op.outputs[output]]
    main = explain_element(model, values, op_index, element, profile, output)
    interpreter_value = _element(values.get(op.outputs[output]), tuple(element))
    report: dict[str, Any] = {
        "format": REPORT_FORMAT, "op": op_index, "operator": op.name, "output": output,
        "output_tensor": op.outputs[output], "output_name": tensor.name, "output_type": tensor.type_name,
        "element": [int(i) for i in element], **main, "interpreter_value": interpreter_value,
    }
    if interpreter_value is not None and not _same(interpreter_value, main["value"]):
        report["notes"].append(f"refinterp's interpreter computed {interpreter_value} for this element (its fast "
                               f"kernel), the explanation {main['value']}: please report it")
    if vs is not None:
        try:
            other = explain_element(model, values, op_index, element, vs, output)
        except (PrepareError, UnsupportedOpError) as exc:
            report["vs"] = {"profile": vs, "refused": str(exc)}
            report["parted_at"] = 0
        else:
            report["vs"] = other
            report["parted_at"] = parted_at(main["steps"], other["steps"])
    return report


def _write(path: str, text: str) -> None:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------------------------------
# Rendering: terminal text and HTML

ITEMS_SHOWN = 12
WIDTH = 100


def _short_value(value: Any, limit: int = 60) -> str:
    if isinstance(value, list):
        items = [_short_value(v, 14) for v in value]
        whole = f"[{', '.join(items)}]"
        if len(whole) <= limit:
            return whole
        suffix = f", ... ({len(value)} values)]"
        parts = [items[0]]
        for item in items[1:]:
            if len("[" + ", ".join([*parts, item]) + suffix) > limit:
                break
            parts.append(item)
        return "[" + ", ".join(parts) + suffix
    if isinstance(value, float):
        text = f"{value:.9g}"
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _items_table(items: list[dict[str, Any]], limit: int | None) -> list[str]:
    columns = list(dict.fromkeys(k for item in items for k in item))
    rows = [[_short_value(item.get(c, ""), 14) for c in columns] for item in items[:limit]]
    widths = [max(len(c), *(len(r[k]) for r in rows)) if rows else len(c) for k, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in rows]
    if limit is not None and len(items) > limit:
        lines.append(f"... {len(items) - limit} more (--all-items, or --json)")
    return lines


def _short_name(name: str, width: int = 48) -> str:
    """A tensor name cut to ``width`` characters, keeping its end (names differ at the end), quoted."""
    return repr(name if len(name) <= width else "..." + name[-(width - 3):])


def _steps_text(steps: list[dict[str, Any]], all_items: bool) -> list[str]:
    lines = []
    for k, step in enumerate(steps, 1):
        lines.append(f"{k:>3}. {step['name']:<34} {_short_value(step['value'])}")
        indent = " " * 8
        for key in ("note", "rule"):
            if step.get(key):
                text = step[key] if key == "note" else f"rounding: {step[key]}"
                lines += textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent)
        if step.get("items"):
            lines += [indent + line for line in _items_table(step["items"], None if all_items else ITEMS_SHOWN)]
        elif all_items and isinstance(step["value"], list) and _short_value(step["value"]).endswith("values)]"):
            lines += textwrap.wrap(", ".join(_short_value(v, 20) for v in step["value"]), WIDTH,
                                   initial_indent=indent, subsequent_indent=indent)
    return lines


def _summary_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"final value: {_short_value(report['value'])}"
             + (f"  (spec kernel: {_short_value(report['spec_value'])})" if report.get("spec_value") is not None
                else "")]
    if report.get("real_value") is not None:
        text = f"real value: {report['real_value']:.9g}"
        if report.get("real_in_lsb") is not None:
            text += (f" = {report['real_in_lsb']:.4f} on the output's integer grid; error {report['error_lsb']:+.4f} "
                     "LSB")
        elif report.get("error") is not None:
            text += f"; error {report['error']:+.3g}"
        lines.append(text)
    for note in report.get("notes", []):
        lines += textwrap.wrap(f"note: {note}", WIDTH, subsequent_indent="      ")
    return lines


def render_text(report: dict[str, Any], all_items: bool = False) -> str:
    head = (f"{report['operator']}, operator {report['op']}"
            + (f" of {report['model']}" if report.get("model") else "")
            + f": output tensor {report['output_tensor']} {_short_name(report['output_name'])} "
            f"({report['output_type']}), "
            f"element {report['element']}")
    lines = textwrap.wrap(head, WIDTH)
    lines.append(f"profile {report['profile']} ({PROFILE_WORDS.get(report['profile'], report['profile'])})"
                 + (f"; inputs: {report['inputs']}" if report.get("inputs") else ""))
    if not report["detailed"]:
        lines.append("generic explanation (no detailed steps for this operator or rule yet)")
    lines.append("")
    vs = report.get("vs")
    if vs is None:
        lines += _steps_text(report["steps"], all_items)
        lines.append("")
        lines += _summary_lines(report)
        return "\n".join(lines)
    if "refused" in vs:
        lines += _steps_text(report["steps"], all_items)
        lines += ["", *_summary_lines(report), "", f"profile {vs['profile']} refuses this operator: {vs['refused']}"]
        return "\n".join(lines)
    parted = report.get("parted_at")
    a, b = report["steps"], vs["steps"]
    lines.append(f"      {'step':<34} {report['profile']:<30} {vs['profile']}")
    for k in range(max(len(a), len(b))):
        left, right = (a[k] if k < len(a) else None), (b[k] if k < len(b) else None)
        differs = left is None or right is None or left["name"] != right["name"] or left["value"] != right["value"]
        mark = ">>" if parted is not None and k == parted else (" *" if parted is not None and differs else "  ")
        if left is not None and right is not None and left["name"] == right["name"]:
            name, left_text, right_text = left["name"], _short_value(left["value"], 28), _short_value(right["value"])
        else:  # the two rules take different steps here: each column names its own
            name = ""
            left_text = f"{left['name']}: {_short_value(left['value'], 24)}" if left else ""
            right_text = f"{right['name']}: {_short_value(right['value'], 30)}" if right else ""
        lines.append(f"{mark}{k + 1:>3}. {name:<34} {left_text:<30} {right_text}")
    lines.append("")
    if parted is None:
        lines.append(f"the two profiles compute this element the same way, step for step ({report['value']})")
    else:
        same_end = _same(report["value"], vs["value"])
        lines.append(f"they part at step {parted + 1}; * marks the later steps that differ; the final values "
                     + (f"agree ({_short_value(report['value'])})" if same_end else
                        f"differ ({_short_value(report['value'])} and {_short_value(vs['value'])})"))
        for profile, steps in ((report["profile"], a), (vs["profile"], b)):
            if parted < len(steps):
                step = steps[parted]
                text = f"{profile}: {step['name']} = {_short_value(step['value'])}"
                text += f"; {step['note']}" if step.get("note") else ""
                text += f" (rounding: {step['rule']})" if step.get("rule") else ""
                lines += textwrap.wrap(text, WIDTH, subsequent_indent="    ")
    lines.append("")
    lines += [f"{report['profile']}: " + line for line in _summary_lines(report)]
    lines += [f"{vs['profile']}: " + line for line in _summary_lines(vs)]
    return "\n".join(lines)


def _steps_html(steps: list[dict[str, Any]], parted: int | None = None) -> str:
    rows = []
    for k, step in enumerate(steps):
        style = ' class="parted"' if parted is not None and k == parted else ""
        detail = html.escape(step.get("note", "")) + (
            f"<br><em>rounding: {html.escape(step['rule'])}</em>" if step.get("rule") else "")
        if step.get("items"):
            columns = list(dict.fromkeys(c for item in step["items"] for c in item))
            table = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(_short_value(item.get(c, ''), 20))}</td>"
                                            for c in columns) + "</tr>" for item in step["items"])
            detail += (f"<details><summary>{len(step['items'])} values</summary><table class=items><tr>{table}</tr>"
                       f"{body}</table></details>")
        rows.append(f"<tr{style}><td>{k + 1}</td><td>{html.escape(step['name'])}</td>"
                    f"<td class=value>{html.escape(_short_value(step['value'], 200))}</td><td>{detail}</td></tr>")
    return "<table><tr><th>#</th><th>step</th><th>value</th><th>what it is</th></tr>" + "".join(rows) + "</table>"


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no external files): the steps as a table, long ones folded."""
    title = (f"{report['operator']} operator {report['op']}, element {report['element']}")
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(report.get('model', ''))}: output tensor {report['output_tensor']} "
             f"{html.escape(report['output_name'])} ({html.escape(report['output_type'])}); inputs: "
             f"{html.escape(report.get('inputs', ''))}</p>"]
    explanations = [report] + ([report["vs"]] if report.get("vs") and "refused" not in report["vs"] else [])
    for explanation in explanations:
        parts.append(f"<h2>profile {html.escape(explanation['profile'])}</h2>")
        parts.append(_steps_html(explanation["steps"], report.get("parted_at")))
        parts.append("<p>" + "<br>".join(html.escape(line) for line in _summary_lines(explanation)) + "</p>")
    if report.get("vs") and "refused" in report["vs"]:
        parts.append(f"<p>profile {html.escape(report['vs']['profile'])} refuses this operator: "
                     f"{html.escape(report['vs']['refused'])}</p>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top;text-align:left}"
             ".value{font-family:monospace}.items td{font-family:monospace;text-align:right}"
             "tr.parted{background:#fde2e2}")
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
