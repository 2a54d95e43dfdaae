"""The step recorder behind ``refinterp explain``: one output element's computation, step by step.

An operator family's module ends with ``explain_<op>(ctx, params, inputs, index, trace)`` functions. Each one
computes one output element with the *same* integer primitives its spec kernel calls (``refinterp/quant.py``:
:func:`~refinterp.quant.multiply_by_quantized_multiplier` and the rounding helpers it is made of) on the same
prepared params, and records every intermediate value in a :class:`Trace` (whose methods are the traced
primitives, so an ops module needs no import to use them). ``refinterp explain`` then checks
the explanation's final value against the element the spec kernel computes: an explanation that drifted from
the computation is never shown as one (tests/test_explain.py also holds it to LiteRT BUILTIN_REF).

The traced forms below (:func:`traced_quantize_multiplier`, :func:`traced_mbqm`) split a primitive into the
parts the C++ computes (frexp and rounding; left shift, SaturatingRoundingDoublingHighMul, RoundingDivideByPOT)
and check that the composed parts equal the primitive itself, so the steps shown are the primitive's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from refinterp.quant import (
    INT32_MAX,
    INT32_MIN,
    cast_to_int32,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    round_half_away,
    round_half_away_f64,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

#: the rounding rules a step may name (``Step.rule``)
TIES_UP = "round to nearest, ties toward +infinity"
TIES_AWAY = "round to nearest, ties away from zero"
TIES_EVEN = "round to nearest, ties to even"
TRUNCATE = "truncate toward zero"
FLOOR = "floor (toward -infinity)"


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: NumPy scalars to int/float/bool, arrays and tuples to lists."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()] if value.ndim else plain(value.item())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


class NotDetailed(Exception):
    """Raised by an ``explain_*`` function for a variant of its operator it has no detailed steps for (a float or
    hybrid rule, say): ``refinterp explain`` then gives the generic explanation."""


@dataclass
class Step:
    """One named step: its value, what it is (``note``), the rounding ``rule`` it applies (if any) and, for a
    step over many values (a window, products), ``items``: one dict per value, in computation order."""

    name: str
    value: Any
    note: str = ""
    rule: str = ""
    items: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "value": plain(self.value)}
        if self.note:
            record["note"] = self.note
        if self.rule:
            record["rule"] = self.rule
        if self.items is not None:
            record["items"] = plain(self.items)
        return record


@dataclass
class Trace:
    """The steps of one element's computation, in order, plus the real number it approximates."""

    steps: list[Step] = field(default_factory=list)
    #: the real-number result of the same formula on the dequantized operands (float64), None when not defined
    real_value: float | None = None
    #: the output's (scale, zero_point): the real value in output LSB is ``real / scale + zero_point``
    output_quantization: tuple[float, int] | None = None
    #: True: the steps are the operator's full arithmetic; False: a generic explanation (operands and result)
    detailed: bool = True
    notes: list[str] = field(default_factory=list)
    #: the range the real value in LSB is limited to (``approximates``' clamp)
    lsb_clamp: tuple[float, float] | None = None
    #: which output of the operator the element belongs to (TOPK_V2's values or indices)
    output: int = 0

    def add(self, name: str, value: Any, note: str = "", rule: str = "",
            items: Sequence[dict[str, Any]] | None = None) -> Any:
        """Record a step; returns ``value`` (so a computation reads ``acc = trace.add("accumulator", ...)``)."""
        self.steps.append(Step(name, value, note, rule, list(items) if items is not None else None))
        return value

    def approximates(self, real: float, scale: float | None = None, zero_point: int = 0,
                     clamp: tuple[float, float] | None = None) -> None:
        """The real number the element approximates (float64 math on the dequantized operands); with the output's
        quantization, also in output LSB, limited to ``clamp`` (the integer range the fused activation and the
        output type allow: the real-number activation is that clamp, on the output's grid)."""
        self.real_value = float(real)
        self.output_quantization = (float(scale), int(zero_point)) if scale else None
        self.lsb_clamp = (float(clamp[0]), float(clamp[1])) if clamp is not None else None

    def approximates_stored(self, value: Any, quantization: Any) -> None:
        """A stored value passed on unchanged (copied, selected) approximates its own real value exactly: on an
        integer output with one scale, ``s * (q - zp)`` in its LSB; on a float one, the value itself."""
        dtype = np.asarray(value).dtype
        if quantization is not None and quantization.scale.size == 1 and np.issubdtype(dtype, np.integer):
            scale, zero_point = float(quantization.scale[0]), int(quantization.zero_point[0])
            self.approximates(scale * (int(value) - zero_point), scale, zero_point)
        elif np.issubdtype(dtype, np.floating):
            self.approximates(float(value))

    def not_detailed(self, reason: str) -> NotDetailed:
        """The exception an ``explain_*`` function raises for a variant it has no detailed steps for."""
        return NotDetailed(reason)

    # the traced primitives (below) as methods: ops modules need no import to use them
    def quantize_multiplier(self, real: float, formula: str, expected: tuple[int, int] | None = None,
                            name: str = "multiplier") -> tuple[int, int]:
        return traced_quantize_multiplier(self, real, formula, expected, name)

    def mbqm(self, x: int, multiplier: int, shift: int) -> int:
        return traced_mbqm(self, x, multiplier, shift)

    def mbqm_int64(self, x: int, multiplier: int, shift: int) -> int:
        return traced_mbqm_int64(self, x, multiplier, shift)

    def float_requant(self, acc: int, effective_scale: float, formula: str) -> int:
        return traced_float_requant(self, acc, effective_scale, formula)

    def wrap(self, exact: int, name: str = "int32 accumulator") -> int:
        return traced_wrap(self, exact, name)

    def clamp(self, value: int | float, low: int | float, high: int | float, what: str) -> Any:
        return traced_clamp(self, value, low, high, what)

    def requantize(self, acc: int, multiplier: int, shift: int, output_zero_point: int, act_min: int, act_max: int,
                   what: str = "the fused activation and the output type") -> int:
        return traced_requantize(self, acc, multiplier, shift, output_zero_point, act_min, act_max, what)

    def dot(self, positions: Sequence[tuple[int, ...]], names: Sequence[str], x: Sequence[int], input_zero_point: int,
            input_scale: float, w: Sequence[int], filter_zero_point: int, filter_scale: float, skipped: int = 0,
            what: str = "input window", weight_names: Sequence[str] = ("ky", "kx", "ic", "k")) -> tuple[int, float]:
        return dot_steps(self, positions, names, x, input_zero_point, input_scale, w, filter_zero_point,
                         filter_scale, skipped, what, weight_names)

    def float_dot(self, positions: Sequence[tuple[int, ...]], names: Sequence[str], x: Sequence[Any], w: Sequence[Any],
                  skipped: int = 0, weight_names: Sequence[str] = ("ky", "kx", "ic", "k"),
                  what: str = "input window") -> Any:
        return float_dot_steps(self, positions, names, x, w, skipped, weight_names, what)

    def bias(self, total: int, real: float, bias: Any, bias_scale: float | None, product_scale: float,
             label: str) -> tuple[int, float]:
        """The integer convolutions' bias step: accumulator = exact sum of products + the int32 bias (the sum alone
        when ``bias`` is None), and the bias's real value added to ``real``. ``bias_scale``: the bias tensor's
        scale for this channel (None: the bias tensor has none and ``product_scale`` = s_in * s_w stands for it);
        ``label``: the element read (``bias[oc]``). Returns (accumulator, real value)."""
        if bias is None:
            self.add("accumulator", total, "sum of products (no bias)")
            return total, real
        bias = int(bias)
        if bias_scale is None:
            scale, said = product_scale, f"s_bias = s_in * s_w = {product_scale!r}"
        else:
            scale, said = bias_scale, f"s_bias = {bias_scale!r} (= s_in * s_w by construction)"
        self.add("bias", bias, f"{label}; real value = s_bias * bias, {said}")
        return self.add("accumulator", total + bias, "sum of products + bias"), real + scale * bias

    def conv_multiplier(self, input_scale: float, filter_scale: float, output_scale: float, float32_product: bool,
                        label: str, expected: tuple[int, int],
                        source: str = "PopulateConvolutionQuantizationParams") -> tuple[int, int]:
        """The convolutions' output multiplier, (multiplier, shift) = QuantizeMultiplier(s_in * s_w / s_out):
        ``float32_product`` (the uint8 kernels, GetQuantizedConvolutionMultipler) forms s_in * s_w in float32,
        else everything is double (``source``: the TFLite function doing so). ``label``: the filter scale read
        (``s_w[oc]``); ``expected``: the prepared pair (see :func:`traced_quantize_multiplier`)."""
        if float32_product:
            formula = "f64(f32(s_in * s_w)) / s_out (GetQuantizedConvolutionMultipler: the product in float32)"
            real_multiplier = float(np.float32(input_scale) * np.float32(filter_scale)) / output_scale
        else:
            formula = f"s_in * {label} / s_out in double" + (f" ({source})" if source else "")
            real_multiplier = float(input_scale) * filter_scale / float(output_scale)
        return self.quantize_multiplier(real_multiplier, formula, expected)

    def conv_output(self, acc: int, multiplier: int, shift: int, int64_accumulator: bool, output_zero_point: int,
                    act_min: int, act_max: int) -> int:
        """The convolutions' output stage: int16x8 with a 64-bit accumulator, the int64 MultiplyByQuantizedMultiplier
        then the clamp (its zero point is 0); else the int32 accumulator (wrapping), MBQM, + zp_out, the clamp."""
        if int64_accumulator:
            scaled = self.mbqm_int64(acc, multiplier, shift)
            return int(self.clamp(scaled, int(act_min), int(act_max), "the fused activation, int16"))
        return self.requantize(self.wrap(acc), multiplier, shift, output_zero_point, int(act_min), int(act_max))

    def real_in_lsb(self) -> float | None:
        """The real value on the output's integer grid (``real / scale + zero_point``), unrounded."""
        if self.real_value is None or self.output_quantization is None:
            return None
        scale, zero_point = self.output_quantization
        in_lsb = self.real_value / scale + zero_point
        if self.lsb_clamp is not None:
            in_lsb = min(max(in_lsb, self.lsb_clamp[0]), self.lsb_clamp[1])
        return in_lsb


# ------------------------------------------------------------------------------------------------
# Traced integer primitives: the parts of refinterp.quant's functions, each checked against the whole


def _fraction_text(numerator: int, power: int) -> str:
    """``numerator / 2**power`` as an exact decimal when short, else to 6 places."""
    value = Fraction(numerator, 1 << power)
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == value else f"{float(value):.6f}..."


def traced_quantize_multiplier(trace: Trace, real: float, formula: str, expected: tuple[int, int] | None = None,
                               name: str = "multiplier") -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc) of ``real``, step by step: frexp, the Q31 rounding, the
    power of two. ``formula`` says where ``real`` came from (e.g. "s_in * s_w / s_out, in double").
    ``expected``: the (multiplier, shift) the operator's prepare computed; a difference is noted (the prepare's
    pair is then the one used, as the kernel uses it)."""
    real = float(real)
    trace.add(f"real {name}", real, f"{formula} = {real!r}")
    multiplier, shift = quantize_multiplier(real)
    if real != 0.0 and math.isfinite(real):
        fraction, exponent = math.frexp(real)
        trace.add("frexp", [fraction, exponent],
                  f"{real!r} = {fraction!r} * 2^{exponent}, fraction in [0.5, 1)")
        q_fixed = round_half_away(fraction * (1 << 31))
        trace.add("Q31 multiplier", q_fixed, f"round({fraction!r} * 2^31) = round({fraction * (1 << 31)!r})"
                  + ("; 2^31 does not fit: halved, exponent + 1" if q_fixed == 1 << 31 else ""), rule=TIES_AWAY)
    trace.add(f"{name} and shift", [multiplier, shift],
              f"{real!r} ~= {multiplier} * 2^({shift} - 31) = {multiplier * 2.0 ** (shift - 31)!r}"
              + (" (shift > 0: left shift)" if shift > 0 else ""))
    if expected is not None and (int(expected[0]), int(expected[1])) != (multiplier, shift):
        trace.notes.append(f"the prepared {name} is {list(expected)}, not {[multiplier, shift]}: the prepared one "
                           "is used")
        return int(expected[0]), int(expected[1])
    return multiplier, shift


def traced_mbqm(trace: Trace, x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (common.cc, double rounding), step by step:
    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^left, M), right)``."""
    x, multiplier, shift = int(x), int(multiplier), int(shift)
    left, right = max(shift, 0), max(-shift, 0)
    shifted = int(wrap_int32(x << left))
    if left:
        trace.add("left shift", shifted, f"{x} * 2^{left}" + (" (wraps in int32)" if shifted != x << left else ""))
    high = int(saturating_rounding_doubling_high_mul(shifted, multiplier))
    product = shifted * multiplier
    if shifted == INT32_MIN and multiplier == INT32_MIN:
        note = "INT32_MIN * INT32_MIN saturates to INT32_MAX"
    else:
        tie = (product % (1 << 31)) == (1 << 30)
        note = (f"{shifted} * {multiplier} / 2^31 = {_fraction_text(product, 31)} -> {high}"
                + (" (a tie)" if tie else ""))
    trace.add("SaturatingRoundingDoublingHighMul", high, note, rule=TIES_UP)
    result = high
    if right:
        result = int(rounding_divide_by_pot(high, right))
        remainder = high & ((1 << right) - 1)
        tie = remainder == 1 << (right - 1)
        trace.add("RoundingDivideByPOT", result,
                  f"{high} / 2^{right} = {_fraction_text(high, right)} -> {result}" + (" (a tie)" if tie else ""),
                  rule=TIES_AWAY)
    whole = int(multiply_by_quantized_multiplier(x, multiplier, shift))
    if whole != result:  # the parts above are the primitive's own: this cannot differ
        raise AssertionError(f"traced MultiplyByQuantizedMultiplier {result} != {whole}")
    return result


def traced_mbqm_int64(trace: Trace, x: int, multiplier: int, shift: int) -> int:
    """``MultiplyByQuantizedMultiplier(int64 x, ...)`` (common.cc, the 16x8 kernels): a 15-bit multiplier,
    one rounding shift."""
    x, multiplier, shift = int(x), int(multiplier), int(shift)
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total_shift = 15 - shift
    trace.add("reduced multiplier", reduced, f"({multiplier} + 2^15) >> 16: the multiplier kept to 15 bits",
              rule=TIES_UP)
    result = int(multiply_by_quantized_multiplier_int64(x, multiplier, shift))
    trace.add("int64 rounding shift", result,
              f"({x} * {reduced} + 2^{total_shift - 1}) >> {total_shift}, as int32", rule=TIES_UP)
    return result


def traced_wrap(trace: Trace, exact: int, name: str = "int32 accumulator") -> int:
    """The int32 value of an exact sum (the C++ accumulator wraps); a step only when it does wrap."""
    wrapped = int(wrap_int32(exact))
    if wrapped != exact:
        trace.add(name, wrapped, f"{exact} is outside int32 [{INT32_MIN}, {INT32_MAX}]: wraps (two's complement)")
    return wrapped


def traced_clamp(trace: Trace, value: int | float, low: int | float, high: int | float, what: str) -> Any:
    """``min(max(value, low), high)`` as a step saying whether it clamped."""
    clamped = min(max(value, low), high)
    said = "unchanged" if clamped == value else f"clamped from {value}"
    trace.add("clamp", clamped, f"to [{plain(low)}, {plain(high)}] ({what}): {said}")
    return clamped


def window_items(positions: Sequence[tuple[int, ...]], names: Sequence[str], values: dict[str, Sequence[Any]]
                 ) -> list[dict[str, Any]]:
    """One dict per position: the position's coordinates under ``names`` plus each value column."""
    items = []
    for k, position in enumerate(positions):
        item: dict[str, Any] = dict(zip(names, (int(v) for v in position)))
        for column, column_values in values.items():
            item[column] = plain(column_values[k])
        items.append(item)
    return items


def traced_requantize(trace: Trace, acc: int, multiplier: int, shift: int, output_zero_point: int,
                      act_min: int, act_max: int, what: str = "the fused activation and the output type") -> int:
    """The 8-bit kernels' last steps: ``clamp(MultiplyByQuantizedMultiplier(acc, M, shift) + zp_out)``."""
    scaled = traced_mbqm(trace, acc, multiplier, shift)
    shifted = trace.add("plus output zero point", scaled + int(output_zero_point),
                        f"{scaled} + {int(output_zero_point)}")
    return int(traced_clamp(trace, shifted, int(act_min), int(act_max), what))


def dot_steps(trace: Trace, positions: Sequence[tuple[int, ...]], names: Sequence[str], x: Sequence[int],
              input_zero_point: int, input_scale: float, w: Sequence[int], filter_zero_point: int,
              filter_scale: float, skipped: int = 0, what: str = "input window",
              weight_names: Sequence[str] = ("ky", "kx", "ic", "k")) -> tuple[int, float]:
    """The shared steps of a dot product ``sum (w - zp_w) * (x - zp_in)``: the operands (stored and real values),
    the zero-point subtraction, each product, the exact sum. Returns (exact sum, the same sum in real numbers)."""
    x = [int(v) for v in x]
    w = [int(v) for v in w]
    shifted = [v - int(input_zero_point) for v in x]
    weights = [v - int(filter_zero_point) for v in w]
    products = [a * b for a, b in zip(shifted, weights)]
    coordinates = window_items(positions, names, {})
    skipped_note = (f"; {skipped} taps fall outside the image and are skipped (the same as reading the zero point)"
                    if skipped else "")
    trace.add(what, x, f"{len(x)} stored values{skipped_note}; real value = s_in * (q - zp_in), s_in = "
              f"{input_scale!r}", items=[{**c, "q": q, "real": input_scale * s} for c, q, s in
                                          zip(coordinates, x, shifted)])
    trace.add("input minus zero point", shifted, f"q - zp_in, zp_in = {int(input_zero_point)}")
    weight_coordinates = [{k: v for k, v in c.items() if k in weight_names} for c in coordinates]
    trace.add("weights", w, f"real value = s_w * (w - zp_w), s_w = {filter_scale!r}, zp_w = {int(filter_zero_point)}",
              items=[{**c, "w": q, "real": filter_scale * s} for c, q, s in zip(weight_coordinates, w, weights)])
    if filter_zero_point:
        trace.add("weights minus zero point", weights, f"w - zp_w, zp_w = {int(filter_zero_point)}")
    trace.add("products", products, "(q - zp_in) * (w - zp_w), exact")
    total = sum(products)
    trace.add("sum of products", total, f"{len(products)} products added (exact here; the C++ int32 accumulator "
              "wraps only if the sum leaves int32)")
    return total, float(sum(input_scale * a * filter_scale * b for a, b in zip(shifted, weights)))


def traced_float_requant(trace: Trace, acc: int, effective_scale: float, formula: str) -> int:
    """LiteRT's "requant in float" (FULLY_CONNECTED since TF 2.20): ``(int32)round(f64(acc) * effective_scale)``,
    C ``round`` (ties away from zero), the x86 cast."""
    trace.add("effective scale", float(effective_scale), formula)
    product = float(np.float64(acc) * np.float64(effective_scale))
    trace.add("scaled accumulator", product, f"f64({int(acc)}) * {float(effective_scale)!r}, in double")
    result = int(cast_to_int32(round_half_away_f64(product)))
    tie = abs(product - math.trunc(product)) == 0.5
    trace.add("rounded", result, f"round({product!r}) -> {result}" + (" (a tie)" if tie else ""), rule=TIES_AWAY)
    return result


def float_dot_steps(trace: Trace, positions: Sequence[tuple[int, ...]], names: Sequence[str], x: Sequence[Any],
                    w: Sequence[Any], skipped: int = 0, weight_names: Sequence[str] = ("ky", "kx", "ic", "k"),
                    what: str = "input window") -> np.float32:
    """The float32 reference kernels' dot product: each product rounded to float32, added to a float32 total
    that starts at +0.0, in the kernel's order (the order matters for floats). Returns the float32 total."""
    x = [np.float32(v) for v in x]
    w = [np.float32(v) for v in w]
    coordinates = window_items(positions, names, {})
    weight_coordinates = [{k: v for k, v in c.items() if k in weight_names} for c in coordinates]
    skipped_note = f"; {skipped} taps fall outside the image and are skipped" if skipped else ""
    trace.add(what, x, f"{len(x)} float32 values{skipped_note}", items=[{**c, "x": v} for c, v in zip(coordinates, x)])
    trace.add("weights", w, "float32", items=[{**c, "w": v} for c, v in zip(weight_coordinates, w)])
    with np.errstate(all="ignore"):
        products = [np.float32(a * b) for a, b in zip(x, w)]
        trace.add("products", products, "x * w, each rounded to float32", rule=TIES_EVEN)
        total = np.float32(0.0)
        for product in products:
            total = np.float32(total + product)
    trace.add("sum of products", total, f"{len(products)} products added one by one in float32, in the kernel's "
              "order (float addition is not associative: another order can differ in the last bits)", rule=TIES_EVEN)
    return total
