"""Resource variables: VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE.

A resource variable is a value that lives in the interpreter, not in a tensor: every subgraph of one interpreter
sees the same variables (LiteRT's ``resource::ResourceMap``), and their values carry from one ``invoke()`` to the
next. ``reset_all_variables()`` does not touch them (LiteRT resets only the tensors marked ``is_variable``).

A tensor of type RESOURCE holds a handle: refinterp stores it as an int32 array of the tensor's declared shape
(one element), the resource id, as LiteRT's VAR_HANDLE writes it (``memcpy`` of an int into the tensor's bytes).
The variables themselves are reached through ``OpContext.host`` (:class:`refinterp.ops.common.SubgraphHost`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from refinterp.errors import EvalError
from refinterp.model import Tensor
from refinterp.ops.common import OpContext, SubgraphHost

#: How refinterp holds the value of a RESOURCE tensor: the resource id, as an int32 (kernels/var_handle.cc)
HANDLE_DTYPE = np.dtype("<i4")


def is_handle_tensor(tensor: Tensor) -> bool:
    """A tensor that holds a resource id: type RESOURCE, or int32 (assign_variable.cc accepts both)."""
    return tensor.type_name in ("resource", "int32")


def handle_value(resource_id: int, shape: tuple[int, ...]) -> np.ndarray:
    """The value of a RESOURCE tensor of ``shape`` (one element) holding ``resource_id``."""
    return np.full(shape, resource_id, HANDLE_DTYPE)


def _host(ctx: OpContext) -> SubgraphHost:
    if ctx.host is None:
        raise ctx.unsupported("needs the interpreter's resource variables (run it with refinterp.Interpreter)")
    return ctx.host


def _check_handle_input(ctx: OpContext) -> Tensor:
    handle = ctx.require_input(0)
    if not is_handle_tensor(handle):
        raise ctx.fail(f"input 0 (the resource handle) is {handle.type_name}, must be resource or int32")
    if math.prod(ctx.shape(handle)) != 1:
        raise ctx.fail(f"input 0 (the resource handle) has shape {list(ctx.shape(handle))}, must hold one element")
    return handle


@dataclass(frozen=True)
class VarHandleParams:
    host: SubgraphHost
    resource_id: int
    name: str  # "container/shared_name", for messages
    output_shape: tuple[int, ...]


def prepare_var_handle(ctx: OpContext) -> VarHandleParams:
    """var_handle.cc: the resource id of (container, shared_name), created on first use; the output is a
    RESOURCE tensor holding it."""
    host = _host(ctx)
    ctx.check_inputs(0, 0)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    output = ctx.output(0)
    if output.type_name not in ("resource", "int32"):
        raise ctx.fail(f"output is {output.type_name}, must be resource")
    shape = ctx.shape(output)
    if math.prod(shape) != 1:
        raise ctx.fail(f"output has shape {list(shape)}, a resource handle holds one element")
    container = str(ctx.options.get("container") or "")
    shared_name = str(ctx.options.get("shared_name") or "")
    name = f"{container}/{shared_name}" if container else shared_name
    return VarHandleParams(host, host.resource_id(container, shared_name), name, tuple(shape))


def var_handle_spec(params: VarHandleParams) -> np.ndarray:
    """var_handle.cc Eval: the output holds the resource id."""
    return handle_value(params.resource_id, params.output_shape)


@dataclass(frozen=True)
class VariableParams:
    host: SubgraphHost
    #: READ_VARIABLE: the output's type, which the variable's value must have (read_variable.cc Eval)
    output_type: str = ""
    #: READ_VARIABLE: the output's declared shape, which the variable's value must have too
    output_shape: tuple[int, ...] = ()


def prepare_read_variable(ctx: OpContext) -> VariableParams:
    """read_variable.cc: one handle input, one output whose shape is the variable's at invoke (dynamic only when
    the output is declared rank 0; the kernel refuses a variable whose shape differs from the declared one)."""
    host = _host(ctx)
    ctx.check_inputs(1, 1)
    if len(ctx.op.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 1")
    _check_handle_input(ctx)
    output = ctx.output(0)
    if output.dtype is None:
        raise ctx.unsupported(f"reading a variable of type {output.type_name}")
    if not output.shape:
        # read_variable.cc Prepare: "if (output->dims->size == 0) SetTensorToDynamic(output)"
        ctx.set_output_dynamic(0)
    else:
        # otherwise the output keeps its declared shape through Prepare, so the operators that read it (an
        # ASSIGN_VARIABLE's handle-count check among them) are prepared by AllocateTensors on that shape
        ctx.set_output_shape(0, output.shape)
    return VariableParams(host, output.type_name, output.shape)


def read_variable_spec(params: VariableParams, handle: np.ndarray) -> np.ndarray:
    """read_variable.cc Eval: a copy of the variable's value, its shape and all; the variable must exist (have
    been assigned) and have the output's type."""
    value = params.host.read_variable(int(handle.reshape(-1)[0]))
    if np.dtype(value.dtype).name != params.output_type and not (
            params.output_type == "bool" and value.dtype == np.bool_):
        raise EvalError(f"the variable holds {value.dtype}, the output is {params.output_type}")
    if value.shape != params.output_shape:
        # LiteRT resizes the output without preparing again the operators that read it, which then run on the
        # shapes they were prepared for (measured: a -1 signature does not help); refinterp refuses the mismatch
        raise EvalError(f"the variable has shape {list(value.shape)}, the output is declared "
                        f"{list(params.output_shape)}")
    return np.array(value, copy=True)


def prepare_assign_variable(ctx: OpContext) -> VariableParams:
    """assign_variable.cc: a handle and a value, no output."""
    host = _host(ctx)
    ctx.check_inputs(2, 2)
    if ctx.op.outputs:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected none")
    _check_handle_input(ctx)
    value = ctx.require_input(1)
    if value.dtype is None:
        raise ctx.unsupported(f"assigning a value of type {value.type_name}")
    return VariableParams(host)


def assign_variable_spec(params: VariableParams, handle: np.ndarray, value: np.ndarray) -> tuple[()]:
    """assign_variable.cc Eval (ResourceVariable::AssignFrom): the variable takes the value's type, shape and
    bytes, created when it does not exist yet."""
    params.host.assign_variable(int(handle.reshape(-1)[0]), value)
    return ()
