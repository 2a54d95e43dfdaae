"""Comparisons, logical operators and selection: EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL,
LOGICAL_AND, LOGICAL_OR, LOGICAL_NOT, SELECT, SELECT_V2.

Comparisons (``comparisons.cc``, ``reference/comparisons.h``): two inputs of one type, NumPy broadcasting
(any rank), a bool output. float32/float16/int32/int64/bool compare raw values (IEEE for floats: NaN is
unequal to everything). int8 and uint8 always compare *rescaled* values, so that inputs with different
scales compare their real values; quantized int16 does the same for EQUAL and NOT_EQUAL (LESS, GREATER and
their -EQUAL forms compare raw int16 values, quantized or not). The rescale of each input, with the
multiplier and shift of QuantizeMultiplier(double(scale)) (``left_shift`` 8)::

    h = SaturatingRoundingDoublingHighMul((q - zero_point) * 2**8, multiplier)
    value = RoundingDivideByPOT(h, -shift)                       scale < 1 (shift <= 0)
    value = 1 if h >= 0 else -1                                  scale > 1 (see below)

For a scale above 1 LiteRT calls RoundingDivideByPOT with a negative exponent (MultiplyByQuantizedMultiplier-
SmallerThanOneExp with a positive shift): undefined behaviour, which the x86 build evaluates as the sign
above as long as |h| < 2**(32 - shift) over the whole input type; beyond that its result depends on
whether the compiler vectorized the loop, and refinterp refuses the model (UnsupportedOpError). A scale of
0 (an unquantized int8/uint8 input), exactly 1, negative, infinite or NaN makes LiteRT abort the process
(TFLITE_CHECK in QuantizeMultiplierSmallerThanOneExp/GreaterThanOne); refinterp refuses it (PrepareError).
TFLM (profile "tflm") takes the SmallerThanOne path for every scale and so aborts on any scale >= 1: refused.
GREATER(a, b) is LESS(b, a), as in LiteRT. NOT_EQUAL on unquantized int16 is refused: LiteRT leaves the
output unwritten.

LOGICAL_AND / LOGICAL_OR (``logical.cc``): bool inputs, broadcasting. LOGICAL_NOT (``elementwise.cc``): bool.

SELECT / SELECT_V2 (``select.cc``, ``reference/select.h``): out = condition ? x : y, raw values of any type
(no scale or zero point is checked or applied). SELECT takes equal shapes, or a scalar condition, or a 1-D
condition along x's first dimension (x and y equal shapes); SELECT_V2 broadcasts all three (output up to
8-D). When all four tensors hold one element, the output keeps its declared shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.model import Tensor
from refinterp.ops.common import OpContext
from refinterp.quant import quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul

# Per operator: the types LiteRT's Eval takes (2.3.0). "int16q" marks where int16 follows the quantized rule.
_RAW_TYPES = ("float32", "float16", "int32", "int64")
COMPARISON_TYPES = {
    "EQUAL": (*_RAW_TYPES, "bool", "int8", "uint8", "int16"),
    "NOT_EQUAL": (*_RAW_TYPES, "bool", "int8", "uint8", "int16"),
    "LESS": (*_RAW_TYPES, "int8", "uint8", "int16"),
    "LESS_EQUAL": (*_RAW_TYPES, "int8", "uint8", "int16"),
    "GREATER": (*_RAW_TYPES, "int8", "uint8", "int16"),
    "GREATER_EQUAL": (*_RAW_TYPES, "int8", "uint8", "int16"),
}
COMPARISON_FUNCTIONS = {"EQUAL": np.equal, "NOT_EQUAL": np.not_equal, "LESS": np.less,
                        "LESS_EQUAL": np.less_equal, "GREATER": np.greater, "GREATER_EQUAL": np.greater_equal}
COMPARISON_LEFT_SHIFT = 8
_TYPE_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def _require_bool_output(ctx: OpContext, y: Tensor) -> None:
    if y.type_name != "bool":
        raise ctx.unsupported(f"output is declared {y.type_name}; LiteRT makes it bool")


def _broadcast_shape(ctx: OpContext, *tensors: Tensor) -> tuple[int, ...]:
    shapes = [ctx.shape(t) for t in tensors]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ctx.fail(f"shapes {', '.join(str(list(s)) for s in shapes)} do not broadcast") from None


@dataclass(frozen=True)
class ComparisonRescale:
    """One input's rescale: value = RDBPOT(SRDHM((q - zero_point) << 8, multiplier), -shift)."""

    zero_point: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class ComparisonParams:
    op: str
    rescale: tuple[ComparisonRescale, ComparisonRescale] | None  # None: raw values are compared


def _comparison_rescale(ctx: OpContext, t: Tensor) -> ComparisonRescale:
    q = t.quantization
    if q is None:
        raise ctx.fail(f"{t.type_name} tensor {t.index} is not quantized: its scale 0 makes LiteRT abort")
    if q.per_channel:
        raise ctx.fail(f"tensor {t.index} is quantized per channel: LiteRT reads scale 0 and aborts")
    scale, zero_point = float(np.float32(q.scale[0])), int(q.zero_point[0])
    if not math.isfinite(scale) or scale <= 0.0 or scale == 1.0:
        raise ctx.fail(f"tensor {t.index} has scale {scale:g}: LiteRT's QuantizeMultiplier aborts on a scale "
                       "that is not finite, positive and different from 1")
    if ctx.profile == "tflm" and scale >= 1.0:
        raise ctx.fail(f"tensor {t.index} has scale {scale:g}: TFLM's comparison Prepare calls "
                       "QuantizeMultiplierSmallerThanOneExp, which aborts on a scale of 1 or more")
    multiplier, shift = quantize_multiplier(scale)
    if shift > 0:
        low, high = _TYPE_RANGES[t.type_name]
        extremes = saturating_rounding_doubling_high_mul(
            np.array([low - zero_point, high - zero_point], np.int64) << COMPARISON_LEFT_SHIFT, multiplier)
        bound = 1 << (32 - shift) if shift < 32 else 0
        if not (-bound <= int(extremes.min()) and int(extremes.max()) < bound):
            raise ctx.unsupported(f"tensor {t.index} has scale {scale:g}: for that scale LiteRT's comparison is "
                                  "undefined behaviour whose result depends on how the loop was compiled")
    return ComparisonRescale(zero_point, multiplier, shift)


def prepare_comparison(ctx: OpContext) -> ComparisonParams:
    op = ctx.op.name
    ctx.check_inputs(2, 2)
    a, b, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if a.type_name != b.type_name:
        raise ctx.fail(f"inputs are {a.type_name} and {b.type_name}; LiteRT requires one type")
    if a.type_name not in COMPARISON_TYPES[op]:
        raise ctx.fail(f"type {a.type_name} (LiteRT's {op} takes {', '.join(COMPARISON_TYPES[op])})")
    _require_bool_output(ctx, y)
    ctx.set_output_shape(0, _broadcast_shape(ctx, a, b))
    quantized = a.type_name in ("int8", "uint8") or (
        a.type_name == "int16" and op in ("EQUAL", "NOT_EQUAL") and a.quantization is not None)
    if a.type_name == "int16" and op == "NOT_EQUAL" and a.quantization is None:
        raise ctx.unsupported("NOT_EQUAL on unquantized int16: LiteRT leaves the output unwritten")
    if not quantized:
        return ComparisonParams(op, None)
    return ComparisonParams(op, (_comparison_rescale(ctx, a), _comparison_rescale(ctx, b)))


def comparison_rescaled(r: ComparisonRescale, q: np.ndarray) -> np.ndarray:
    """The value LiteRT compares for a quantized input (int64 holding int32 values)."""
    h = saturating_rounding_doubling_high_mul((q.astype(np.int64) - r.zero_point) << COMPARISON_LEFT_SHIFT,
                                              r.multiplier)
    if r.shift <= 0:
        return rounding_divide_by_pot(h, -r.shift)
    return np.where(h >= 0, 1, -1)  # RDBPOT with a negative exponent, as x86 evaluates it (module docstring)


_UNSIGNED_VIEWS = {np.dtype(np.int8): np.uint8, np.dtype(np.uint8): np.uint8, np.dtype(np.int16): np.uint16}
_RESCALE_CHUNK = 1 << 20  # elements per step of the table lookup: bounds the lookup's temporary index array


def comparison_rescaled_lowmem(r: ComparisonRescale, q: np.ndarray) -> np.ndarray:
    """``comparison_rescaled`` through a table of the whole input type, in chunks (int32 result).

    An 8- or 16-bit input takes at most 65,536 values: rescaling each once and looking the input up keeps
    the working memory at 4 bytes per element (a large input that LiteRT runs must not run refinterp out of
    memory through int64 temporaries).
    """
    unsigned = _UNSIGNED_VIEWS[q.dtype]
    codes = np.arange(np.iinfo(unsigned).max + 1, dtype=np.int64).astype(unsigned).view(q.dtype)
    table = comparison_rescaled(r, codes).astype(np.int32)  # indexed by the stored bits read as unsigned
    flat = np.ascontiguousarray(q).reshape(-1).view(unsigned)
    out = np.empty(flat.shape, np.int32)
    for start in range(0, flat.size, _RESCALE_CHUNK):
        out[start:start + _RESCALE_CHUNK] = table[flat[start:start + _RESCALE_CHUNK]]
    return out.reshape(q.shape)


def comparison_spec(p: ComparisonParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if p.rescale is not None:
        a, b = comparison_rescaled_lowmem(p.rescale[0], a), comparison_rescaled_lowmem(p.rescale[1], b)
    return np.asarray(COMPARISON_FUNCTIONS[p.op](a, b), dtype=np.bool_)


# ------------------------------------------------------------------------------------------------
# LOGICAL_AND, LOGICAL_OR (logical.cc), LOGICAL_NOT (elementwise.cc): bool only.


@dataclass(frozen=True)
class LogicalParams:
    op: str


def prepare_logical_binary(ctx: OpContext) -> LogicalParams:
    ctx.check_inputs(2, 2)
    a, b, y = ctx.require_input(0), ctx.require_input(1), ctx.output(0)
    if a.type_name != b.type_name:
        raise ctx.fail(f"inputs are {a.type_name} and {b.type_name}; LiteRT requires one type")
    if a.type_name != "bool":
        raise ctx.fail(f"type {a.type_name}: logical operators take bool only")
    _require_bool_output(ctx, y)
    ctx.set_output_shape(0, _broadcast_shape(ctx, a, b))
    return LogicalParams(ctx.op.name)


def logical_binary_spec(p: LogicalParams, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.logical_and(a, b) if p.op == "LOGICAL_AND" else np.logical_or(a, b)


def prepare_logical_not(ctx: OpContext) -> LogicalParams:
    ctx.check_inputs(1, 1)
    x, y = ctx.require_input(0), ctx.output(0)
    if x.type_name != "bool":
        raise ctx.fail(f"type {x.type_name}: LOGICAL_NOT takes bool only")
    ctx.check_same_type(x, y)
    ctx.set_output_shape(0, ctx.shape(x))
    return LogicalParams("LOGICAL_NOT")


def logical_not_spec(p: LogicalParams, x: np.ndarray) -> np.ndarray:
    return np.logical_not(x)


# ------------------------------------------------------------------------------------------------
# SELECT, SELECT_V2 (select.cc)

SELECT_MAX_RANK = 8
SELECT_ELEMENTWISE, SELECT_ROW, SELECT_BROADCAST, SELECT_ONE = "elementwise", "row", "broadcast", "one element"


@dataclass(frozen=True)
class SelectParams:
    mode: str
    output_shape: tuple[int, ...] | None  # SELECT_ONE: the declared output shape


def prepare_select(ctx: OpContext) -> SelectParams:
    ctx.check_inputs(3, 3)
    cond, x, y_in, out = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2), ctx.output(0)
    if cond.type_name != "bool":
        raise ctx.fail(f"condition is {cond.type_name}, not bool")
    if x.type_name != y_in.type_name:
        raise ctx.fail(f"x is {x.type_name} but y is {y_in.type_name}; LiteRT requires one type")
    if x.dtype is None:
        raise ctx.unsupported(f"type {x.type_name}")
    if out.type_name != x.type_name:
        raise ctx.unsupported(f"output is declared {out.type_name}; LiteRT makes it {x.type_name}")
    c_shape, x_shape, y_shape = ctx.shape(cond), ctx.shape(x), ctx.shape(y_in)
    if all(math.prod(s) == 1 for s in (c_shape, x_shape, y_shape, ctx.shape(out))):
        ctx.set_output_shape(0, ctx.shape(out))
        return SelectParams(SELECT_ONE, ctx.shape(out))  # LiteRT keeps the declared output shape
    if c_shape == x_shape == y_shape:
        ctx.set_output_shape(0, x_shape)
        return SelectParams(SELECT_ELEMENTWISE, None)
    if ctx.op.name == "SELECT_V2":
        shape = _broadcast_shape(ctx, cond, x, y_in)
        if len(shape) > SELECT_MAX_RANK:
            raise ctx.fail(f"output rank {len(shape)} exceeds {SELECT_MAX_RANK}")
        ctx.set_output_shape(0, shape)
        return SelectParams(SELECT_BROADCAST, None)
    low_rank = len(c_shape) == 0 or (len(c_shape) == 1 and len(x_shape) >= 1 and c_shape[0] == x_shape[0])
    if not low_rank:
        raise ctx.fail(f"condition shape {list(c_shape)} is neither x's {list(x_shape)}, a scalar, nor a vector "
                       "along x's first dimension")
    if x_shape != y_shape:
        raise ctx.fail(f"x and y have different shapes {list(x_shape)} and {list(y_shape)}")
    ctx.set_output_shape(0, x_shape)
    return SelectParams(SELECT_ROW, None)


def select_spec(p: SelectParams, cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if p.mode == SELECT_ONE:
        value = x.reshape(-1)[0] if bool(cond.reshape(-1)[0]) else y.reshape(-1)[0]
        return np.full(p.output_shape, value, dtype=x.dtype)
    if p.mode == SELECT_ROW:
        rows = cond.reshape(cond.shape + (1,) * (x.ndim - cond.ndim))
        return np.where(rows, x, y).astype(x.dtype)
    return np.where(cond, x, y).astype(x.dtype)


# ------------------------------------------------------------------------------------------------
# explain: one output element, step by step (``refinterp explain``; refinterp/ops/trace.py)

_COMPARISON_SYMBOLS = {"EQUAL": "==", "NOT_EQUAL": "!=", "LESS": "<", "LESS_EQUAL": "<=", "GREATER": ">",
                       "GREATER_EQUAL": ">="}


def _broadcast_operand(x: np.ndarray, index: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x)
    at = tuple(0 if d == 1 else int(i) for d, i in zip(x.shape, index[len(index) - x.ndim:]))
    return x[at], at


def explain_comparison(ctx: OpContext, p: ComparisonParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """EQUAL ... GREATER_EQUAL output ``index``: the two operands (broadcast), for 8-bit (and quantized int16
    EQUAL / NOT_EQUAL) inputs each rescaled as :func:`comparison_rescaled` does, then the comparison."""
    compared = []
    for k, x in enumerate(inputs[:2]):
        value, at = _broadcast_operand(x, index)
        trace.add(f"input {k + 1}", value.item(), f"input {k + 1} at {list(at)}")
        if p.rescale is None:
            compared.append(value)
            continue
        r = p.rescale[k]
        shifted = (int(value) - r.zero_point) << COMPARISON_LEFT_SHIFT
        trace.add(f"input {k + 1} minus zero point, shifted", shifted, f"({int(value)} - {r.zero_point}) * "
                  f"2^{COMPARISON_LEFT_SHIFT}")
        high = int(saturating_rounding_doubling_high_mul(np.int64(shifted), r.multiplier))
        trace.add(f"input {k + 1} times its scale", high,
                  f"SaturatingRoundingDoublingHighMul({shifted}, {r.multiplier}): the multiplier of "
                  f"QuantizeMultiplier(s{k + 1}), shift {r.shift}",
                  rule="round to nearest, ties toward +infinity")
        if r.shift <= 0:
            rescaled = int(rounding_divide_by_pot(np.int64(high), -r.shift))
            trace.add(f"input {k + 1} rescaled", rescaled, f"RoundingDivideByPOT({high}, {-r.shift}): the real value "
                      f"in units of 2^-{COMPARISON_LEFT_SHIFT}", rule="round to nearest, ties away from zero")
        else:
            rescaled = 1 if high >= 0 else -1
            trace.add(f"input {k + 1} rescaled", rescaled, "scale > 1: RoundingDivideByPOT with a negative exponent "
                      "(undefined in C++), which x86 evaluates as the sign")
        if rescaled != int(comparison_rescaled(r, np.asarray([value]))[0]):  # the spec's own rule: cannot differ
            raise AssertionError("traced comparison rescale differs from comparison_rescaled")
        compared.append(np.int64(rescaled))
    a, b = compared
    value = bool(COMPARISON_FUNCTIONS[p.op](a, b))
    trace.add("output", value, f"{a.item()} {_COMPARISON_SYMBOLS[p.op]} {b.item()}"
              + (" (IEEE: NaN compares unequal)" if np.issubdtype(np.asarray(a).dtype, np.floating) else ""))
    return value


def explain_logical(ctx: OpContext, p: LogicalParams, inputs: list, index: tuple[int, ...], trace) -> object:
    """LOGICAL_AND / LOGICAL_OR / LOGICAL_NOT output ``index``: the bool operands and the result."""
    operands = []
    for k, x in enumerate(inputs[:1] if p.op == "LOGICAL_NOT" else inputs[:2]):
        value, at = _broadcast_operand(x, index)
        operands.append(bool(value))
        trace.add(f"input {k + 1}", bool(value), f"input {k + 1} at {list(at)}")
    if p.op == "LOGICAL_NOT":
        value = not operands[0]
    else:
        value = (operands[0] and operands[1]) if p.op == "LOGICAL_AND" else (operands[0] or operands[1])
    trace.add("output", value, {"LOGICAL_NOT": "not a", "LOGICAL_AND": "a and b", "LOGICAL_OR": "a or b"}[p.op])
    return value
