"""The vector requantization the integer convolutions share (CONV_2D's micro-kernel backends, DEPTHWISE_CONV_2D,
the uint8 CONV_2D): ``MultiplyByQuantizedMultiplier`` of an int32 accumulator plus bias, REQUANT_LANES channels at
a time, written in LLVM's portable vector IR so that it vectorizes on any CPU (the rule: refinterp/quant.py)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: int32 lanes of the vector requantization (one ymm; numba's LLVM splits or widens it as the CPU needs)
REQUANT_LANES = 8


@intrinsic
def requantize_lanes(typingctx, tile, tile_off, bias32, multipliers, left, right, channel_off, out, out_off,
                      output_zero_point, act_min, act_max):
    """``out[out_off + i] = requantize(tile[tile_off + i])`` for REQUANT_LANES channels, in portable vector IR.

    The int32 operands (``bias32``, ``multipliers``, ``left = max(shift, 0)``, ``right = max(-shift, 0)``) are
    read at ``channel_off``. The rule is ``_requantize_nb``'s, on int32 lanes with one 32x32->64 multiply:

    * ``v = (acc + bias) << left`` in int32, wrapping (the int32 accumulator; ``x * 2^left``);
    * SRDHM: ``(v*M + nudge) / 2^31`` with C truncation, nudge ``2^30`` or ``1 - 2^30`` by the product's sign,
      equals ``floor((v*M + 2^30) / 2^31)`` for both signs (for a negative product the truncation of
      ``(p + 1 - 2^30) / 2^31`` is its ceiling, ``floor((p + 1 - 2^30 + 2^31 - 1) / 2^31)``); the quotient fits
      in int32 (M < 2^31), so the low 32 bits of a logical shift right by 31 are it (AVX2 has no 64-bit
      arithmetic shift);
    * RDBPOT by ``right``, ties away from zero; ``+ zp_out``; clamp; int8.
    """
    sig = types.void(tile, tile_off, bias32, multipliers, left, right, channel_off, out, out_off, output_zero_point,
                     act_min, act_max)

    def codegen(context, builder, signature, args):
        argtypes = signature.args
        tile_a, bias_a, mult_a, left_a, right_a, out_a = (
            context.make_array(argtypes[i])(context, builder, args[i]) for i in (0, 2, 3, 4, 5, 7))
        tile_off_v, channel_off_v, out_off_v = (context.cast(builder, args[i], argtypes[i], types.intp)
                                               for i in (1, 6, 8))
        zp_v, lo_v, hi_v = (context.cast(builder, args[i], argtypes[i], types.int32) for i in (9, 10, 11))
        n = REQUANT_LANES
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        v32, v64, v8 = ir.VectorType(i32, n), ir.VectorType(i64, n), ir.VectorType(i8, n)

        def load(array, offset):
            return builder.load(builder.bitcast(builder.gep(array.data, [offset]), v32.as_pointer()), align=4)

        def splat(vector_type, value):
            return ir.Constant(vector_type, [value] * n)

        def broadcast(scalar):
            return builder.shuffle_vector(builder.insert_element(ir.Constant(v32, ir.Undefined), scalar,
                                                                 ir.Constant(i32, 0)),
                                          ir.Constant(v32, ir.Undefined), ir.Constant(v32, None))

        v = builder.add(load(tile_a, tile_off_v), load(bias_a, channel_off_v))
        v = builder.shl(v, load(left_a, channel_off_v))
        product = builder.mul(builder.sext(v, v64), builder.sext(load(mult_a, channel_off_v), v64), flags=("nsw",))
        high = builder.trunc(builder.lshr(builder.add(product, splat(v64, 1 << 30)), splat(v64, 31)), v32)
        right = load(right_a, channel_off_v)
        mask = builder.sub(builder.shl(splat(v32, 1), right), splat(v32, 1))
        threshold = builder.add(builder.ashr(mask, splat(v32, 1)),
                                builder.zext(builder.icmp_signed("<", high, splat(v32, 0)), v32))
        rounded = builder.add(builder.ashr(high, right),
                              builder.zext(builder.icmp_signed(">", builder.and_(high, mask), threshold), v32))
        result = builder.add(rounded, broadcast(zp_v))
        lo, hi = broadcast(lo_v), broadcast(hi_v)
        result = builder.select(builder.icmp_signed("<", result, lo), lo, result)
        result = builder.select(builder.icmp_signed(">", result, hi), hi, result)
        destination = builder.gep(builder.bitcast(out_a.data, i8.as_pointer()), [out_off_v])
        builder.store(builder.trunc(result, v8), builder.bitcast(destination, v8.as_pointer()), align=1)
        return context.get_dummy_value()

    return sig, codegen
