"""Profile "xnnpack", float32 binary elementwise operators: ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM,
SQUARED_DIFFERENCE as XNNPACK's vbinary microkernels compute them under the MXCSR FTZ + DAZ XNNPACK runs with
(measured against LiteRT 2.3.0 + the XNNPACK delegate on this CPU; tests/test_xnnpack_float_binary.py).

Where the reference kernel (``reference_ops::BroadcastBinaryFunction`` / ``ActivationFunctionWithMinMax``) differs:

* **DAZ and FTZ**: a subnormal input is read as a zero of its sign, a subnormal result is written as one
  (``5.4e-33 * -6e-8`` is ``-0``, not ``-3.2e-40``; ``x / 1e-39`` is ``x / 0``: an infinity or the default NaN).
* **No clamp without an activation**: the delegate gives XNNPACK the output range (-inf, +inf) for a fused
  activation NONE, so ``inf + 1`` is ``inf``; the reference clamps every float result to
  ``[lowest, max]`` (``GetActivationParams`` with ``std::numeric_limits<float>``), which turns it into ``3.4e38``.
* **The activation** (RELU, RELU6, RELU_N1_TO_1) is ``xnn_f32_vclamp``: ``minps(hi, maxps(lo, y))``: a NaN passes,
  a zero equal to a bound keeps the result's sign (RELU of ``-0`` is ``-0``).
* **MAXIMUM / MINIMUM** are ``maxps`` / ``minps``: the second operand where the comparison fails (a NaN on either
  side, or equal values), not ``std::max``'s first.
* **SQUARED_DIFFERENCE** is ``d = a - b; d * d``, each step flushed.
* **NaN payloads** follow x86 (``x86_nan``: a NaN first operand, quieted, else the second, else the default
  NaN; ``maxps`` / ``minps``: the second operand). Which input is the instruction's first operand was measured
  (two NaN payloads; ``maxps`` against a number) on every broadcast pattern, and follows the kernel
  ``src/operators/binary-elementwise-nd.c`` picks after compressing the shapes: where one input has extent 1 in
  the innermost dimension and the other does not, the "constant" kernel (``vopc``) runs with the broadcast input
  as the scalar ``c`` (for SUB and DIV with the first input broadcast: ``vrsubc`` / ``vrdivc``, ``c - x`` and
  ``c / x``). Then:

  - SUB, DIV: always ``a op b``;
  - MAXIMUM, MINIMUM, SQUARED_DIFFERENCE: ``op(x, c)``, the vector first: ``op(b, a)`` where ``a`` is the
    broadcast one;
  - ADD, MUL: ``op(c, x)``, the scalar first (the compiler commutes ``addps`` / ``mulps`` operands, the source
    order is not kept): ``op(b, a)`` where ``b`` is the broadcast one.

  Elsewhere (no innermost broadcast, or both inputs broadcast there) ``a op b``.

The delegate takes float32 inputs and output of at most 6 dimensions, none of size 0
(``xnnpack_delegate.cc`` ``CheckTensorShape``); the others run LiteRT's builtin kernel (the reference's rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from refinterp.ops.common import OpContext
from refinterp.ops.emulation.xnnpack_float import flush_denormals
from refinterp.ops.emulation.xnnpack_float_math import (
    _clamp_x86,
    add_ftz,
    div_ftz,
    max_x86,
    min_x86,
    mul_ftz,
    sub_ftz,
)

F32 = np.float32
MAX_DIMS = 6

#: fused activation -> the output range the delegate gives XNNPACK (None: no clamp)
_ACTIVATION_RANGE = {0: None, 1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}


def _squared_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    difference = sub_ftz(a, b)
    return mul_ftz(difference, difference)


#: operator -> (its rule on the two operands in instruction order, which input comes first in the constant
#: kernel: "scalar" (the broadcast one), "vector" (the other), or None (always the model's order))
OPERATIONS = {
    "ADD": (add_ftz, "scalar"),
    "SUB": (sub_ftz, None),  # vsubc: x - c, vrsubc: c - x: the model's order either way
    "MUL": (mul_ftz, "scalar"),
    "DIV": (div_ftz, None),  # vdivc: x / c, vrdivc: c / x
    "MAXIMUM": (lambda a, b: max_x86(flush_denormals(a), flush_denormals(b)), "vector"),
    "MINIMUM": (lambda a, b: min_x86(flush_denormals(a), flush_denormals(b)), "vector"),
    "SQUARED_DIFFERENCE": (_squared_difference, "vector"),
}
RULE = {
    "ADD": "float32: addps under DAZ / FTZ, no clamp without an activation (XNNPACK f32-vbinary vadd)",
    "SUB": "float32: subps under DAZ / FTZ, no clamp without an activation (XNNPACK f32-vbinary vsub)",
    "MUL": "float32: mulps under DAZ / FTZ, no clamp without an activation (XNNPACK f32-vbinary vmul)",
    "DIV": "float32: divps under DAZ / FTZ, no clamp without an activation (XNNPACK f32-vbinary vdiv)",
    "MAXIMUM": "float32: maxps under DAZ (XNNPACK f32-vbinary vmax)",
    "MINIMUM": "float32: minps under DAZ (XNNPACK f32-vbinary vmin)",
    "SQUARED_DIFFERENCE": "float32: (a - b)^2 under DAZ / FTZ (XNNPACK f32-vbinary vsqrdiff)",
}


@dataclass(frozen=True)
class FloatBinary:
    """A float32 binary elementwise operator the delegate takes."""

    op: str
    swapped: bool  # the second input is the instruction's first operand
    clamp: tuple[float, float] | None
    output_shape: tuple[int, ...]


def innermost_broadcast(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> str | None:
    """Which input ("a", "b") has extent 1 in the innermost dimension after XNNPACK's shape compression (the
    dimensions where both are 1 dropped) while the other does not: the constant kernel's scalar; None if
    neither."""
    rank = max(len(a_shape), len(b_shape))
    a = (1,) * (rank - len(a_shape)) + tuple(a_shape)
    b = (1,) * (rank - len(b_shape)) + tuple(b_shape)
    for a_extent, b_extent in zip(reversed(a), reversed(b)):
        if a_extent == 1 and b_extent == 1:
            continue
        if a_extent == 1 or b_extent == 1:
            return "a" if a_extent == 1 else "b"
        return None
    return None


def prepare_binary(ctx: OpContext, reference_prepare: Any) -> FloatBinary | None:
    """The float32 operator the delegate takes; None otherwise (the reference kernel, as LiteRT's builtin one
    computes it)."""
    reference_prepare(ctx)
    a, b, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if any(t.type_name != "float32" for t in (a, b)) or y is None or y.type_name != "float32":
        return None
    shapes = [ctx.shape(t) for t in (a, b, y)]
    if any(len(shape) > MAX_DIMS or 0 in shape for shape in shapes):
        return None
    activation = int(ctx.options.get("fused_activation_function", 0))
    if activation not in _ACTIVATION_RANGE:
        return None  # the delegate refuses TANH / SIGN_BIT activations: LiteRT's kernel runs
    first = OPERATIONS[ctx.op.name][1]
    scalar = innermost_broadcast(shapes[0], shapes[1])
    swapped = (first == "scalar" and scalar == "b") or (first == "vector" and scalar == "a")
    return FloatBinary(ctx.op.name, swapped, _ACTIVATION_RANGE[activation], tuple(shapes[2]))


def run_binary(p: FloatBinary, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    operation = OPERATIONS[p.op][0]
    a, b = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32))
    result = operation(b, a) if p.swapped else operation(a, b)
    if p.clamp is not None:
        result = _clamp_x86(result, *p.clamp)
    return np.asarray(result, F32).reshape(p.output_shape)
