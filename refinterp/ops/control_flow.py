"""Control flow: CALL_ONCE, WHILE, IF. Each runs other subgraphs of the model through ``OpContext.host``
(:class:`refinterp.ops.common.SubgraphHost`), which the interpreter passes in: the subgraphs, their values
and the initialization status belong to the interpreter, not to an operator.

No arithmetic happens here: values are copied between subgraphs exactly (LiteRT memcpy's them), so these
operators carry values of every type.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.model import Subgraph, Tensor
from refinterp.ops.common import OpContext, SubgraphHost


def _host(ctx: OpContext) -> SubgraphHost:
    if ctx.host is None:
        raise ctx.unsupported("needs the interpreter's subgraphs (run it with refinterp.Interpreter)")
    return ctx.host


def _subgraph_option(ctx: OpContext, host: SubgraphHost, key: str) -> int:
    """A subgraph index option, checked to name a subgraph of the model (LiteRT: ``index < subgraphs->size()``;
    a negative one is refused too, where LiteRT would index out of bounds)."""
    value = ctx.options.get(key, 0)
    if not isinstance(value, (int, np.integer)) or not 0 <= int(value) < host.subgraph_count():
        raise ctx.fail(f"{key} {value} is not a subgraph of the model (it has {host.subgraph_count()})")
    return int(value)


def _input_tensors(ctx: OpContext, first: int = 0) -> list[Tensor]:
    tensors = []
    for position in range(first, len(ctx.op.inputs)):
        tensor = ctx.input(position)
        if tensor is None:
            raise ctx.fail(f"input {position} is absent")
        tensors.append(tensor)
    return tensors


def _check_types(ctx: OpContext, role: str, ours: Sequence[Tensor], theirs: Sequence[Tensor]) -> None:
    """TF_LITE_ENSURE_TYPES_EQ between the operator's tensors and a subgraph's."""
    for position, (mine, other) in enumerate(zip(ours, theirs)):
        if mine.type_name != other.type_name:
            raise ctx.fail(f"{role} {position} is {other.type_name}, the operator's is {mine.type_name}")


def _tensors(subgraph: Subgraph, indices: Sequence[int]) -> list[Tensor]:
    return [subgraph.tensors[i] for i in indices]


def _prepare_subgraph(ctx: OpContext, host: SubgraphHost, index: int,
                      input_shapes: Sequence[tuple[int, ...]]) -> tuple[tuple[int, ...] | None, ...]:
    return host.prepare_subgraph(index, input_shapes, ctx.subgraph.index)


# ------------------------------------------------------------------------------------------------ CALL_ONCE


@dataclass(frozen=True)
class CallOnceParams:
    host: SubgraphHost
    init_subgraph_index: int


def prepare_call_once(ctx: OpContext) -> CallOnceParams:
    """call_once.cc Prepare: not the subgraph itself; no inputs or outputs, and neither has the init
    subgraph (checked only while it has not run yet, as LiteRT does)."""
    host = _host(ctx)
    index = int(ctx.options.get("init_subgraph_index", 0))
    if index == ctx.subgraph.index:
        raise ctx.fail(f"init_subgraph_index {index} is the subgraph itself (it would call itself forever)")
    if host.is_initialized(index):
        return CallOnceParams(host, index)
    if ctx.op.inputs or ctx.op.outputs:
        raise ctx.fail(f"has {len(ctx.op.inputs)} inputs and {len(ctx.op.outputs)} outputs, expected none")
    index = _subgraph_option(ctx, host, "init_subgraph_index")
    init = host.model_subgraph(index)
    if init.inputs or init.outputs:
        raise ctx.fail(f"init subgraph {index} has {len(init.inputs)} inputs and {len(init.outputs)} outputs, "
                       "expected none")
    return CallOnceParams(host, index)


def call_once_spec(params: CallOnceParams) -> tuple[()]:
    """call_once.cc Eval: the init subgraph runs once in an interpreter's life, on its first invoke (its
    variables' initial values, usually); afterwards the operator does nothing."""
    if not params.host.is_initialized(params.init_subgraph_index):
        params.host.run_subgraph(params.init_subgraph_index, [])
        params.host.mark_initialized(params.init_subgraph_index)
    return ()


# ------------------------------------------------------------------------------------------------ WHILE


@dataclass(frozen=True)
class WhileParams:
    host: SubgraphHost
    cond_subgraph_index: int
    body_subgraph_index: int
    #: a loop variable may change shape (LiteRT's Eval_dynamic), else Eval_static
    dynamic: bool = False
    #: per body output, the position of the body input that is the same tensor (None: another tensor)
    output_is_input: tuple[int | None, ...] = ()


def _check_cond_output(tensor_type: str, shape: tuple[int, ...]) -> str | None:
    """while.cc CheckCondOutput: one bool, shape [] or [1]; the reason it is not, else None."""
    if tensor_type != "bool":
        return f"the condition subgraph's output is {tensor_type}, must be bool"
    if shape not in ((), (1,)):
        return f"the condition subgraph's output has shape {list(shape)}, must be [] or [1]"
    return None


def prepare_while(ctx: OpContext) -> WhileParams:
    """while.cc Prepare: as many outputs as inputs; cond and body are two different subgraphs of the model,
    cond with those inputs and one bool output, body with those inputs and outputs, of the same types. Both are
    prepared on the operator's input shapes. The outputs have the body's output shapes when they equal its
    input shapes; otherwise (a loop variable that changes shape) they are dynamic: known after the loop."""
    host = _host(ctx)
    inputs = _input_tensors(ctx)
    count = len(inputs)
    if len(ctx.op.outputs) != count:
        raise ctx.fail(f"has {count} inputs and {len(ctx.op.outputs)} outputs, must have as many")
    cond_index = _subgraph_option(ctx, host, "cond_subgraph_index")
    body_index = _subgraph_option(ctx, host, "body_subgraph_index")
    if cond_index == body_index:
        raise ctx.fail(f"cond_subgraph_index and body_subgraph_index are both {cond_index}")
    cond, body = host.model_subgraph(cond_index), host.model_subgraph(body_index)
    if len(cond.inputs) != count or len(cond.outputs) != 1:
        raise ctx.fail(f"condition subgraph {cond_index} has {len(cond.inputs)} inputs and {len(cond.outputs)} "
                       f"outputs, must have {count} and 1")
    if len(body.inputs) != count or len(body.outputs) != count:
        raise ctx.fail(f"body subgraph {body_index} has {len(body.inputs)} inputs and {len(body.outputs)} "
                       f"outputs, must have {count} of each")
    outputs = [ctx.output(i) for i in range(count)]
    _check_types(ctx, f"condition subgraph {cond_index} input", inputs, _tensors(cond, cond.inputs))
    _check_types(ctx, f"body subgraph {body_index} input", inputs, _tensors(body, body.inputs))
    _check_types(ctx, f"body subgraph {body_index} output", inputs, _tensors(body, body.outputs))
    _check_types(ctx, "output", inputs, outputs)
    input_shapes = [ctx.shape(t) for t in inputs]
    host.remove_unused_inputs(cond_index)  # while.cc: "to skip copying unnecessary inputs"
    (cond_shape,) = _prepare_subgraph(ctx, host, cond_index, input_shapes)
    if cond_shape is not None:
        reason = _check_cond_output(cond.tensors[cond.outputs[0]].type_name, cond_shape)
        if reason is not None:
            raise ctx.fail(reason)
    body_shapes = _prepare_subgraph(ctx, host, body_index, input_shapes)
    dynamic = not all(shape is not None and tuple(shape) == tuple(before)
                      for shape, before in zip(body_shapes, input_shapes))
    for position, shape in enumerate(input_shapes):
        if dynamic:
            ctx.set_output_dynamic(position)
        else:
            ctx.set_output_shape(position, shape)
    # A body output that is one of the body's own inputs: the last position holding that tensor is the one whose
    # data pointer LiteRT's Eval_static sets last (body_input->data = this_output->data, input by input).
    input_position = {tensor: position for position, tensor in enumerate(body.inputs)}
    output_is_input = tuple(input_position.get(tensor) for tensor in body.outputs)
    return WhileParams(host, cond_index, body_index, dynamic, output_is_input)


def _copy_body_outputs(params: WhileParams, loop_values: list[np.ndarray],
                       body_outputs: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Eval_static's copy of the body's outputs into the WHILE's outputs, one after the other. The body's inputs
    share memory with the WHILE's outputs, so a body output that is a body input reads that output as the copy has
    left it: a value already overwritten when its position comes first (measured: outputs (i + 1, i) give
    (i + 1, i + 1))."""
    values = list(loop_values)
    for position, (value, source) in enumerate(zip(body_outputs, params.output_is_input)):
        values[position] = values[source].copy() if source is not None else value
    return values



def while_spec(params: WhileParams, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
    """while.cc Eval: run the condition subgraph on the loop values; while it gives true, run the body on them
    and take its outputs as the new values; the operator's outputs are the last values (its inputs when the
    body never ran). At most ``max_while_iterations`` runs of the body, then an EvalError (never a hang).
    Afterwards the body's input tensors read as LiteRT's do, where they share memory with the WHILE's outputs:
    the final values (Eval_static: ``body_input->data = this_output->data``, even when the body never ran); in a
    loop whose variables may change shape (Eval_dynamic, which shallow-copies them before each run of the body),
    the final values where the last run kept the shape, else that run's inputs, and nothing new when the body
    never ran."""
    host = params.host
    values = list(inputs)
    last_inputs: list[np.ndarray] | None = None
    iterations = 0
    while True:
        (condition,) = host.run_subgraph(params.cond_subgraph_index, values)
        reason = _check_cond_output("bool" if condition.dtype == np.bool_ else str(condition.dtype), condition.shape)
        if reason is not None:
            raise EvalError(reason)
        if not bool(condition.reshape(-1)[0]):
            if not params.dynamic:
                host.show_inputs(params.body_subgraph_index, values)
            elif last_inputs is not None:
                host.show_inputs(params.body_subgraph_index, [
                    final if final.shape == before.shape else before for final, before in zip(values, last_inputs)])
            return tuple(values)
        if iterations >= host.max_while_iterations:
            raise EvalError(f"the loop's condition is still true after {iterations} iterations, the limit "
                            "(raise it: Interpreter(max_while_iterations=...) or REFINTERP_MAX_WHILE_ITERATIONS)")
        last_inputs = values
        outputs = host.run_subgraph(params.body_subgraph_index, values)
        values = list(outputs) if params.dynamic else _copy_body_outputs(params, values, outputs)
        iterations += 1


# ------------------------------------------------------------------------------------------------ IF


@dataclass(frozen=True)
class IfParams:
    host: SubgraphHost
    then_subgraph_index: int
    else_subgraph_index: int


def prepare_if(ctx: OpContext) -> IfParams:
    """if.cc Prepare: input 0 is the condition (one bool), the others go to the branch; both branches have
    those inputs (same types) and the operator's outputs, and are prepared on the input shapes. The outputs
    have the branches' output shapes when both agree and are static, else they are dynamic."""
    host = _host(ctx)
    if not ctx.op.inputs:
        raise ctx.fail("has no inputs: input 0 is the condition")
    condition = ctx.require_input(0)
    if condition.type_name != "bool":
        raise ctx.fail(f"the condition (input 0) is {condition.type_name}, must be bool")
    if math.prod(ctx.shape(condition)) != 1:
        raise ctx.fail(f"the condition (input 0) has shape {list(ctx.shape(condition))}, must hold one element")
    inputs = _input_tensors(ctx, 1)
    outputs = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    then_index = _subgraph_option(ctx, host, "then_subgraph_index")
    else_index = _subgraph_option(ctx, host, "else_subgraph_index")
    input_shapes = [ctx.shape(t) for t in inputs]
    branch_shapes = []
    for role, index in (("then", then_index), ("else", else_index)):
        branch = host.model_subgraph(index)
        if len(branch.inputs) != len(inputs) or len(branch.outputs) != len(outputs):
            raise ctx.fail(f"{role} subgraph {index} has {len(branch.inputs)} inputs and {len(branch.outputs)} "
                           f"outputs, must have {len(inputs)} and {len(outputs)}")
        _check_types(ctx, f"{role} subgraph {index} input", inputs, _tensors(branch, branch.inputs))
        _check_types(ctx, f"{role} subgraph {index} output", outputs, _tensors(branch, branch.outputs))
        branch_shapes.append(_prepare_subgraph(ctx, host, index, input_shapes))
    then_shapes, else_shapes = branch_shapes
    for position, (then_shape, else_shape) in enumerate(zip(then_shapes, else_shapes)):
        if then_shape is not None and then_shape == else_shape:
            ctx.set_output_shape(position, then_shape)
        else:
            ctx.set_output_dynamic(position)
    return IfParams(host, then_index, else_index)


def if_spec(params: IfParams, condition: np.ndarray, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
    """if.cc Eval: run the then subgraph when the condition is true, else the else subgraph, on the other
    inputs; the outputs are the branch's outputs. Both branches' input tensors then read as the operator's
    inputs, as in LiteRT, where they share the operator's input memory."""
    index = params.then_subgraph_index if bool(condition.reshape(-1)[0]) else params.else_subgraph_index
    outputs = tuple(params.host.run_subgraph(index, list(inputs)))
    other = params.else_subgraph_index if index == params.then_subgraph_index else params.then_subgraph_index
    params.host.show_inputs(other, list(inputs))
    return outputs
