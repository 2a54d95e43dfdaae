"""Which float tensor each int8 tensor is compared with: a float twin's counterpart, or the float shadow.

:func:`match_tensors` pairs the tensors of an int8 graph with those of its float twin by structure (names
help, they are not needed). :func:`build_float_shadow` writes, when there is no twin, the int8 graph as a
float32 model of itself; its tensor ``i`` is the reference of int8 tensor ``i`` (:func:`shadow_matches`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.errors import UnsupportedOpError
from refinterp.model import Model, Operator, Subgraph, Tensor
from refinterp.modelbuilder import OpSpec, TensorSpec, build_model
from refinterp.tools.qerror.values import is_quantized, real_value

#: Operators that only change the representation of a value; matching looks through them.
QDQ_OPS = ("QUANTIZE", "DEQUANTIZE")
#: Operators whose activation inputs may come in either order.
COMMUTATIVE_OPS = ("ADD", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")


def compared_tensors(subgraph: Subgraph) -> list[int]:
    """The tensors qerror compares: the graph inputs and every operator output, in index order."""
    return sorted(set(subgraph.inputs) | {o for op in subgraph.operators for o in op.outputs})


@dataclass(frozen=True)
class TensorMatch:
    float_index: int
    method: str  # "input", "name", "structure", "order" (twin) or "shadow"


def _canonical_map(subgraph: Subgraph) -> dict[int, int]:
    """Tensor -> the tensor it is a re-representation of, through QUANTIZE/DEQUANTIZE chains."""
    canonical: dict[int, int] = {}
    for op in subgraph.operators:
        if op.name in QDQ_OPS and op.inputs and op.inputs[0] >= 0 and op.outputs:
            source = op.inputs[0]
            canonical[op.outputs[0]] = canonical.get(source, source)
    return canonical


class _GraphView:
    """A subgraph seen with QUANTIZE/DEQUANTIZE set aside."""

    def __init__(self, subgraph: Subgraph):
        self.subgraph = subgraph
        self.canonical_of = _canonical_map(subgraph)
        self.compute_ops = [op for op in subgraph.operators if op.name not in QDQ_OPS]

    def canon(self, index: int) -> int:
        return self.canonical_of.get(index, index)

    def tensor(self, index: int) -> Tensor:
        return self.subgraph.tensors[index]

    def activation_inputs(self, op: Operator) -> list[int]:
        result = []
        for index in op.inputs:
            if index < 0:
                continue
            source = self.canon(index)
            if not self.tensor(source).is_constant:
                result.append(source)
        return result

    def constant_inputs(self, op: Operator) -> list[Tensor]:
        return [self.tensor(self.canon(i)) for i in op.inputs if i >= 0 and self.tensor(self.canon(i)).is_constant]


def _constant_real(tensor: Tensor) -> np.ndarray | None:
    if tensor.data is None or tensor.dtype is None:
        return None
    return real_value(tensor, tensor.data)


def _weight_distance(int8_constants: list[Tensor], float_constants: list[Tensor]) -> float:
    """How far the dequantized int8 constants are from the float ones (relative L2, summed)."""
    total = 0.0
    for a, b in zip(int8_constants, float_constants):
        ra, rb = _constant_real(a), _constant_real(b)
        if ra is None or rb is None or ra.shape != rb.shape:
            continue
        total += float(np.linalg.norm(ra - rb) / (np.linalg.norm(rb) + 1e-30))
    return total


def match_tensors(int8_subgraph: Subgraph, float_subgraph: Subgraph) -> tuple[dict[int, TensorMatch], list[str]]:
    """Match every non-constant int8 tensor (graph inputs, operator outputs) to a float tensor.

    QUANTIZE and DEQUANTIZE are set aside in both graphs: their output is the same real value as their
    input, so it matches whatever the input matches (this absorbs a float model without the int8 model's
    QUANTIZE/DEQUANTIZE at the input/output, and int8->int8 requantizations). The graph inputs are matched
    by position. Then the int8 operators are walked in execution order; an operator's candidates are the
    unused float operators of the same type whose output shapes and constant-input shapes are equal, and
    whose activation inputs are the float tensors its own activation inputs matched (as a set for
    commutative operators). Among candidates, one whose output has the same tensor name wins ("name");
    otherwise the one whose float weights are closest to the dequantized int8 weights, then the first in
    float execution order ("structure"). With no consistent candidate, the first unused float operator of
    the same type and element count after the last matched one is taken ("order", a weaker match, noted).

    Returns (int8 tensor index -> TensorMatch, notes).
    """
    q8, qf = _GraphView(int8_subgraph), _GraphView(float_subgraph)
    notes: list[str] = []
    mapping: dict[int, int] = {}  # canonical int8 tensor -> canonical float tensor
    method_of: dict[int, str] = {}

    int8_inputs, float_inputs = list(int8_subgraph.inputs), list(float_subgraph.inputs)
    if len(int8_inputs) != len(float_inputs):
        notes.append(f"the int8 model has {len(int8_inputs)} inputs and the float model {len(float_inputs)}: "
                     f"matched by position as far as both go")
    for a, b in zip(int8_inputs, float_inputs):
        mapping[q8.canon(a)] = qf.canon(b)
        method_of[q8.canon(a)] = "input"

    by_type: dict[str, list[Operator]] = {}
    for op in qf.compute_ops:
        by_type.setdefault(op.name, []).append(op)
    used: set[int] = set()
    last_position = -1

    for op in q8.compute_ops:
        outputs8 = [q8.canon(o) for o in op.outputs]
        shapes8 = [q8.tensor(o).shape for o in outputs8]
        inputs8 = q8.activation_inputs(op)
        expected = [mapping.get(i) for i in inputs8]
        constant_shapes8 = [t.shape for t in q8.constant_inputs(op)]
        same_type = [c for c in by_type.get(op.name, []) if c.index not in used and len(c.outputs) == len(op.outputs)]

        consistent = []
        for candidate in same_type:
            if [qf.tensor(qf.canon(o)).shape for o in candidate.outputs] != shapes8:
                continue
            constant_shapes = [t.shape for t in qf.constant_inputs(candidate)]
            if len(constant_shapes) == len(constant_shapes8) and constant_shapes != constant_shapes8:
                continue
            inputs_f = qf.activation_inputs(candidate)
            if len(inputs_f) != len(inputs8):
                continue
            if op.name in COMMUTATIVE_OPS:
                known = sorted(e for e in expected if e is not None)
                ok = all(inputs_f.count(e) >= known.count(e) for e in known)
            else:
                ok = all(e is None or e == f for e, f in zip(expected, inputs_f))
            if ok:
                consistent.append(candidate)

        chosen: Operator | None = None
        method = ""
        if consistent:
            names8 = [q8.tensor(o).name for o in outputs8]
            by_name = [c for c in consistent if [qf.tensor(qf.canon(o)).name for o in c.outputs] == names8]
            if by_name:
                chosen, method = by_name[0], "name"
            elif len(consistent) == 1:
                chosen, method = consistent[0], "structure"
            else:
                constants8 = q8.constant_inputs(op)
                chosen = min(consistent, key=lambda c: (_weight_distance(constants8, qf.constant_inputs(c)), c.index))
                method = "structure"
        else:
            numel8 = [math.prod(s) for s in shapes8]
            for candidate in same_type:
                numel = [math.prod(qf.tensor(qf.canon(o)).shape) for o in candidate.outputs]
                if candidate.index > last_position and numel == numel8:
                    chosen, method = candidate, "order"
                    break
            if chosen is not None:
                notes.append(f"int8 operator {op.index} ({op.name}) matched float operator {chosen.index} by "
                             f"execution order only: its inputs or shapes do not line up")
        if chosen is None:
            notes.append(f"int8 operator {op.index} ({op.name}) has no float counterpart")
            continue
        used.add(chosen.index)
        last_position = max(last_position, chosen.index)
        for o8, of in zip(outputs8, chosen.outputs):
            mapping[o8] = qf.canon(of)
            method_of[o8] = method

    result: dict[int, TensorMatch] = {}
    for index in compared_tensors(int8_subgraph):
        source = q8.canon(index)
        if source in mapping:
            result[index] = TensorMatch(mapping[source], method_of[source])
    return result, notes


def _unique_names(subgraph: Subgraph) -> list[str]:
    names, seen = [], set()
    for tensor in subgraph.tensors:
        name = tensor.name or f"t{tensor.index}"
        if name in seen:
            name = f"{name}#{tensor.index}"
        seen.add(name)
        names.append(name)
    return names


def build_float_shadow(model: Model) -> bytes:
    """The int8 graph as a float32 .tflite: dequantized constants, float activations, no rounding.

    Tensor and operator indices are kept, so tensor ``i`` of the shadow is the float value of tensor ``i``
    of the int8 model. Every quantized constant (weights, int32 biases, constant operands) becomes its
    dequantized float32 value ``scale * (q - zp)`` (per channel along its quantized dimension); every
    quantized activation becomes an unquantized float32 tensor; QUANTIZE and DEQUANTIZE between activations
    become identities (a RESHAPE to the same shape); a DEQUANTIZE of a constant is folded. Unquantized
    constants (shapes, axes, paddings) are kept as they are. Each operator keeps its builtin options, so
    fused activations clamp the float values where the int8 op clamps its integers.
    """
    subgraph = model.main
    names = _unique_names(subgraph)
    folded: dict[int, np.ndarray] = {}
    for op in subgraph.operators:
        if op.name == "DEQUANTIZE" and op.inputs and subgraph.tensors[op.inputs[0]].is_constant:
            source = subgraph.tensors[op.inputs[0]]
            assert source.data is not None
            folded[op.outputs[0]] = real_value(source, source.data).astype(np.float32)

    specs = []
    for tensor in subgraph.tensors:
        if tensor.index in folded:
            specs.append(TensorSpec(tensor.shape, "float32", data=folded[tensor.index], name=names[tensor.index]))
            continue
        if tensor.dtype is None:
            raise UnsupportedOpError(f"tensor {tensor.index} '{tensor.name}' has type {tensor.type_name}, "
                                     f"which the float shadow cannot dequantize")
        if is_quantized(tensor):
            data = real_value(tensor, tensor.data).astype(np.float32) if tensor.is_constant else None
            specs.append(TensorSpec(tensor.shape, "float32", data=data, name=names[tensor.index]))
        else:
            data = np.array(tensor.data) if tensor.is_constant else None
            specs.append(TensorSpec(tensor.shape, tensor.type_name, data=data, name=names[tensor.index]))

    operators = []
    for op in subgraph.operators:
        if op.custom_code is not None:
            raise UnsupportedOpError(f"operator {op.index} is the custom operator {op.custom_code!r}: "
                                     f"no float shadow for it")
        if op.outputs and op.outputs[0] in folded:
            continue  # a DEQUANTIZE of a constant: its output is a constant of the shadow
        if op.name in QDQ_OPS:
            operators.append(OpSpec("RESHAPE", [op.inputs[0]], [op.outputs[0]],
                                    {"new_shape": list(subgraph.tensors[op.outputs[0]].shape)}))
            continue
        operators.append(OpSpec(op.name, list(op.inputs), list(op.outputs), dict(op.options), op.version))
    try:
        return build_model(specs, operators, list(subgraph.inputs), list(subgraph.outputs),
                           description="refinterp qerror float shadow")
    except ValueError as exc:
        raise UnsupportedOpError(f"cannot write the float shadow: {exc}") from None


def shadow_matches(subgraph: Subgraph) -> dict[int, TensorMatch]:
    """Against the float shadow every compared tensor is matched to the shadow tensor of the same index."""
    return {i: TensorMatch(i, "shadow") for i in compared_tensors(subgraph)}
