"""A layer's own error against the error it inherits (``--isolate``).

Isolation feeds each int8 operator the float reference values of its inputs, quantized with the input
tensors' own (scale, zero point) by TFLite's QUANTIZE rule, through ``Interpreter.run_operator``. The error
of that output is the layer's *own* error (its rounding, its requantization, its clipping, and the
unavoidable rounding of its inputs onto their grids); the error of the normal int8 chain is the
*accumulated* error (own plus inherited).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from refinterp.interpreter import Interpreter
from refinterp.model import Subgraph
from refinterp.tools.qerror.metrics import ErrorAccumulator
from refinterp.tools.qerror.values import is_quantized, quantize_like, real_value


def isolate_case(interpreter: Interpreter, subgraph: Subgraph, values: Mapping[int, np.ndarray],
                 references: Mapping[int, np.ndarray | None], compared: Collection[int],
                 isolated: Mapping[int, ErrorAccumulator]) -> dict[int, list[int]]:
    """Run every operator of one case on its inputs' quantized float references; add the errors to ``isolated``.

    ``values`` are the int8 chain's tensor values for the case, ``references`` the real reference value of
    each compared tensor (None: no reference), ``compared`` the tensors that have a row, ``isolated`` the
    accumulators of the outputs to measure. An input that is a constant, or not compared (no real-valued
    meaning, e.g. an int32 shape), gets the int8 chain's value. A compared input without a reference gets
    the int8 chain's value too: the returned dict maps each affected output tensor to those inputs.
    """
    fallbacks: dict[int, list[int]] = {}
    for op in subgraph.operators:
        inputs: list[np.ndarray | None] = []
        fallback = []
        for index in op.inputs:
            if index < 0:
                inputs.append(None)
                continue
            tensor = subgraph.tensors[index]
            if tensor.is_constant or index not in compared:
                inputs.append(values[index])
                continue
            ref = references.get(index)
            if ref is None:
                inputs.append(values[index])
                fallback.append(index)
                continue
            inputs.append(quantize_like(tensor, ref) if is_quantized(tensor) else ref.astype(tensor.dtype))
        outputs = interpreter.run_operator(op.index, inputs)
        for index, value in zip(op.outputs, outputs):
            accumulator = isolated.get(index)
            ref = references.get(index)
            if accumulator is None or ref is None:
                continue
            accumulator.add(real_value(subgraph.tensors[index], value), ref)
            if fallback:
                fallbacks[index] = fallback
    return fallbacks


def own_share(isolated: ErrorAccumulator | None, accumulated: ErrorAccumulator) -> float | None:
    """Isolated MSE / accumulated MSE: near 1 the layer made its error, near 0 it inherited it.

    None when there is nothing to divide: no isolated run, no values, or no accumulated error at all.
    """
    if isolated is None or accumulated.count == 0 or accumulated.sum_squared_error == 0.0:
        return None
    return isolated.sum_squared_error / accumulated.sum_squared_error
