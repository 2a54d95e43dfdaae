"""refinterp.Interpreter: a drop-in for LiteRT's Python ``Interpreter`` that keeps every tensor.

The loop is plain on purpose: operators run in the order the file lists them (TFLite's execution order),
each one reads its input tensors' values and writes its outputs' values. Every intermediate value is kept,
so ``get_tensor`` works for any tensor index after ``invoke`` with no option needed.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numba
import numpy as np

from refinterp.errors import EvalError, InputError, KernelError, RefinterpError, UnsupportedOpError
from refinterp.model import Model, Operator, Subgraph, Tensor, load_model, parse_model
from refinterp.ops.common import PROFILES, OpContext
from refinterp.registry import OpDef, lookup

KERNEL_CHOICES = ("fast", "spec")
#: LiteRT's keyword arguments that refinterp accepts and ignores (it has one resolver, its own, no delegates,
#: and always keeps every tensor); ``experimental_delegates`` is also accepted, with a warning
LITERT_IGNORED_OPTIONS = frozenset({
    "experimental_op_resolver_type", "experimental_preserve_all_tensors", "experimental_disable_delegate_clustering",
    "experimental_default_delegate_latest_features", "experimental_compress_quantization_zero_points",
    "experimental_disable_delegate_node_fusion", "experimental_force_delegate_node_profiling",
})
#: ``progress(stage, position, total, operator)``: called before each operator is prepared ("prepare") or run
#: ("invoke"); position counts from 0
ProgressCallback = Callable[[str, int, int, Operator], None]


class _PreparedOp:
    __slots__ = ("op", "opdef", "params", "kernel")

    def __init__(self, op: Operator, opdef: OpDef, params: Any, kernel: Any):
        self.op, self.opdef, self.params, self.kernel = op, opdef, params, kernel


def tensor_details(tensor: Tensor, shape: Sequence[int] | None = None) -> dict[str, Any]:
    """A tensor described with LiteRT's dict keys (``Interpreter._get_tensor_details``)."""
    q = tensor.quantization
    if q is None:
        quantization: tuple[float, int] = (0.0, 0)
        parameters = {"scales": np.zeros(0, np.float32), "zero_points": np.zeros(0, np.int32),
                      "quantized_dimension": 0, "block_size": 0}
    else:
        quantization = (float(q.scale[0]), int(q.zero_point[0])) if not q.per_channel else (0.0, 0)
        parameters = {"scales": q.scale.astype(np.float32), "zero_points": q.zero_point.astype(np.int32),
                      "quantized_dimension": q.quantized_dimension, "block_size": 0}
    return {
        "name": tensor.name,
        "index": tensor.index,
        "shape": np.array(shape if shape is not None else tensor.shape, dtype=np.int32),
        "shape_signature": np.array(tensor.shape_signature, dtype=np.int32),
        "dtype": tensor.dtype.type if tensor.dtype is not None else np.object_,
        "quantization": quantization,
        "quantization_parameters": parameters,
        "sparsity_parameters": {},
    }


class Interpreter:
    """Run a .tflite model bit-exactly under TFLite's integer rules.

    Args:
        model_path: path of a .tflite file.
        model_content: the model's bytes (instead of a path).
        experimental_delegates: LiteRT's delegates; ignored with a warning (refinterp runs its own kernels;
            check a delegate with ``refinterp compare --against delegate:PATH.so``).
        num_threads: threads for the fast kernels, an int >= 1 (LiteRT raises ValueError otherwise, and so
            does refinterp); default all the cores numba sees.
        profile: whose rules to follow where the official runtimes differ by design: "litert-ref"
            (LiteRT's reference kernels, the default) or "tflm" (TFLite Micro).
        kernels: "fast" (numba, the default) or "spec" (the readable NumPy kernels).
        progress: optional :data:`ProgressCallback`, called before each operator is prepared and run (the
            ``refinterp run`` progress line); it may also be set later as the ``progress`` attribute.

    The positional order is LiteRT's. LiteRT's other ``experimental_*`` keyword arguments are accepted and
    ignored: refinterp has one resolver (its own), no delegates, and always preserves every tensor.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                 experimental_delegates: Sequence[Any] | None = None, num_threads: int | None = None, *,
                 profile: str = "litert-ref", kernels: str = "fast", subgraph_index: int = 0,
                 progress: ProgressCallback | None = None, **litert_options: Any):
        unknown = set(litert_options) - LITERT_IGNORED_OPTIONS
        if unknown:
            raise TypeError(f"Interpreter() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        if experimental_delegates:
            warnings.warn("refinterp.Interpreter ignores experimental_delegates: it always runs its own kernels "
                          "(to check a delegate: refinterp compare MODEL --against delegate:PATH.so)",
                          UserWarning, stacklevel=2)
        if (model_path is None) == (model_content is None):
            raise InputError("give exactly one of model_path and model_content")
        if profile not in PROFILES:
            raise InputError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
        if kernels not in KERNEL_CHOICES:
            raise InputError(f"kernels {kernels!r} is not one of {', '.join(KERNEL_CHOICES)}")
        self.model: Model = load_model(model_path) if model_path is not None else parse_model(model_content)
        if not 0 <= subgraph_index < len(self.model.subgraphs):
            raise InputError(f"subgraph {subgraph_index} does not exist (the model has {len(self.model.subgraphs)})")
        self.subgraph: Subgraph = self.model.subgraphs[subgraph_index]
        self.profile = profile
        self.kernels = kernels
        self.num_threads = self._set_threads(num_threads)
        self.progress: ProgressCallback | None = progress
        self._prepared: list[_PreparedOp] | None = None
        self._values: list[np.ndarray | None] = [t.data for t in self.subgraph.tensors]
        #: seconds spent in each operator during the last invoke(), by operator index
        self.op_seconds: list[float] = []

    @staticmethod
    def _set_threads(num_threads: int | None) -> int:
        available = numba.config.NUMBA_NUM_THREADS
        if num_threads is None:
            num_threads = available
        elif not isinstance(num_threads, int):  # LiteRT's own checks and messages (interpreter.py, 2.3.0)
            raise InputError(f"type of num_threads should be int, got {type(num_threads).__name__}")
        elif num_threads < 1:
            raise InputError(f"num_threads should >= 1, got {num_threads}")
        num_threads = min(int(num_threads), available)
        numba.set_num_threads(num_threads)
        return num_threads

    # -------------------------------------------------------------------------------- preparation

    def allocate_tensors(self) -> None:
        """Prepare every operator (validate, precompute multipliers, pack weights) once."""
        if self._prepared is not None:
            return
        prepared = []
        operators = self.subgraph.operators
        for step, op in enumerate(operators):
            if self.progress is not None:
                self.progress("prepare", step, len(operators), op)
            opdef = lookup(op.name)
            if opdef is None:
                raise UnsupportedOpError(f"operator {op.index}: {op.name} (version {op.version}) is not supported "
                                         f"by refinterp (see `refinterp ops`)")
            if self.profile not in opdef.profiles:
                raise UnsupportedOpError(f"operator {op.index}: {op.name} has no {self.profile} profile")
            params = opdef.prepare_for(self.kernels)(OpContext(op, self.subgraph, self.profile))
            kernel = opdef.kernel_for(self.kernels)
            prepared.append(_PreparedOp(op, opdef, params, kernel))
        self._prepared = prepared

    def _require_allocated(self) -> list[_PreparedOp]:
        if self._prepared is None:
            self.allocate_tensors()
        assert self._prepared is not None
        return self._prepared

    # -------------------------------------------------------------------------------- details

    def _tensor(self, index: int) -> Tensor:
        if not isinstance(index, (int, np.integer)) or not 0 <= int(index) < len(self.subgraph.tensors):
            raise InputError(f"tensor index {index} out of range (the subgraph has {len(self.subgraph.tensors)})")
        return self.subgraph.tensors[int(index)]

    def _details(self, index: int) -> dict[str, Any]:
        value = self._values[index]
        tensor = self.subgraph.tensors[index]
        return tensor_details(tensor, value.shape if value is not None else None)

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.outputs]

    def _subgraph(self, subgraph_index: int) -> Subgraph:
        count = len(self.model.subgraphs)
        if not isinstance(subgraph_index, (int, np.integer)) or not 0 <= int(subgraph_index) < count:
            raise InputError(f"subgraph_index is out of range: {subgraph_index} for the model, "
                             f"which has {count} subgraphs")
        return self.model.subgraphs[int(subgraph_index)]

    def _get_tensor_details(self, tensor_index: int, subgraph_index: int = 0) -> dict[str, Any]:
        """LiteRT's (private) one-tensor details; the running subgraph's tensors show their current shape."""
        subgraph = self._subgraph(subgraph_index)
        if subgraph is self.subgraph:
            return self._details(self._tensor(tensor_index).index)
        if not isinstance(tensor_index, (int, np.integer)) or not 0 <= int(tensor_index) < len(subgraph.tensors):
            raise InputError(f"tensor index {tensor_index} out of range (subgraph {subgraph.index} has "
                             f"{len(subgraph.tensors)})")
        return tensor_details(subgraph.tensors[int(tensor_index)])

    def get_tensor_details(self, subgraph_index: int = 0) -> list[dict[str, Any]]:
        subgraph = self._subgraph(subgraph_index)
        return [self._get_tensor_details(i, subgraph.index) for i in range(len(subgraph.tensors))]

    def num_subgraphs(self) -> int:
        return len(self.model.subgraphs)

    def _get_op_details(self, op_index: int) -> dict[str, Any]:
        """LiteRT's (experimental) operator dict: index, op_name, inputs, outputs, operand_types, result_types."""
        operators = self.subgraph.operators
        if not isinstance(op_index, (int, np.integer)) or not 0 <= int(op_index) < len(operators):
            raise InputError(f"operator index {op_index} out of range (the subgraph has {len(operators)})")
        op = operators[int(op_index)]

        def dtypes(indices: Sequence[int]) -> list[Any]:
            return [self._details(i)["dtype"] for i in indices if i != -1]

        name = op.custom_code if op.custom_code is not None else op.name  # LiteRT names a custom op by its code
        return {"index": int(op_index), "op_name": name, "inputs": np.array(op.inputs, dtype=np.int32),
                "outputs": np.array(op.outputs, dtype=np.int32), "operand_types": dtypes(op.inputs),
                "result_types": dtypes(op.outputs)}

    def _get_ops_details(self) -> list[dict[str, Any]]:
        """LiteRT's (experimental) list of operator dicts, in execution order."""
        return [self._get_op_details(i) for i in range(len(self.subgraph.operators))]

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {s.key: {"inputs": list(s.inputs), "outputs": list(s.outputs)} for s in self.model.signature_defs}

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        signatures = self.model.signature_defs
        if signature_key is None:
            if len(signatures) != 1:
                raise InputError(f"SignatureDef signature_key is None and model has {len(signatures)} Signatures. "
                                 f"None is only allowed when the model has 1 SignatureDef"
                                 + (f" (it has {', '.join(s.key for s in signatures)})" if signatures else ""))
            signature_key = signatures[0].key
        return SignatureRunner(interpreter=self, signature_key=signature_key)

    def _for_subgraph(self, subgraph_index: int) -> Interpreter:
        """This interpreter when it runs that subgraph, else a new one on the same model and options."""
        if subgraph_index == self.subgraph.index:
            return self
        return Interpreter(model_content=self.model._buffer, num_threads=self.num_threads, profile=self.profile,
                           kernels=self.kernels, subgraph_index=subgraph_index, progress=self.progress)

    # -------------------------------------------------------------------------------- values

    def set_tensor(self, tensor_index: int, value: Any) -> None:
        tensor = self._tensor(tensor_index)
        if tensor.is_constant:
            raise InputError(f"tensor {tensor.index} '{tensor.name}' is a constant of the model")
        value = np.asarray(value)
        if tensor.dtype is None or value.dtype != tensor.dtype:
            raise InputError(f"tensor {tensor.index} '{tensor.name}' expects {tensor.type_name}, got {value.dtype}")
        if value.shape != tensor.shape:
            raise InputError(f"tensor {tensor.index} '{tensor.name}' expects shape {list(tensor.shape)}, "
                             f"got {list(value.shape)}")
        stored = np.array(value, copy=True)
        stored.flags.writeable = False
        self._values[tensor.index] = stored

    def resize_tensor_input(self, input_index: int, tensor_size: Sequence[int], strict: bool = False) -> None:
        """LiteRT API. refinterp runs the shapes the model declares: resizing to them is a no-op, any other
        shape is refused (shape propagation through the graph is not implemented)."""
        tensor = self._tensor(input_index)
        if input_index not in self.subgraph.inputs:
            raise InputError(f"tensor {input_index} '{tensor.name}' is not an input of the model")
        if tuple(int(d) for d in tensor_size) != tensor.shape:
            raise UnsupportedOpError(f"resizing input {input_index} '{tensor.name}' from {list(tensor.shape)} to "
                                     f"{[int(d) for d in tensor_size]}: refinterp runs the declared shapes only")

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        """LiteRT API: a function that returns a NumPy view (no copy) of the tensor's current value.

        As with LiteRT, an input's view is writable: fill it in place (``interpreter.tensor(i)().fill(3)``),
        then ``invoke()``. invoke() runs on a snapshot of the inputs, so call the function again for a fresh
        view after each invoke (LiteRT forbids holding the array across invoke). Every other tensor's view is
        read-only: refinterp never writes a kernel's output or a constant in place.
        """
        index = self._tensor(tensor_index).index
        return lambda: self._tensor_view(index)

    def _tensor_view(self, index: int) -> np.ndarray:
        tensor = self.subgraph.tensors[index]
        value = self._values[index]
        if index in self.subgraph.inputs and not tensor.is_constant and tensor.dtype is not None:
            if value is None:  # LiteRT's buffer exists once allocated; its contents are unspecified
                value = np.zeros(tensor.shape, dtype=tensor.dtype)
            elif not value.flags.writeable:
                value = np.array(value, copy=True)
            self._values[index] = value
            return value
        if value is None:
            raise InputError(f"tensor {index} '{tensor.name}' has no value yet: set the inputs and invoke()")
        return value

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of any tensor's current value: inputs, constants, intermediates, outputs."""
        tensor = self._tensor(tensor_index)
        value = self._values[tensor.index]
        if value is None:
            raise InputError(f"tensor {tensor.index} '{tensor.name}' has no value yet: set the inputs and invoke()")
        return np.array(value, copy=True)

    def tensor_values(self) -> dict[int, np.ndarray]:
        """Every tensor that has a value, by index (read-only arrays, no copies)."""
        return {i: v for i, v in enumerate(self._values) if v is not None}

    # -------------------------------------------------------------------------------- running

    def _run_operator(self, prepared: _PreparedOp, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        op = prepared.op
        try:
            result = prepared.kernel(prepared.params, *inputs)
        except RefinterpError:
            raise
        except Exception as exc:  # a kernel bug or a shape the prepare step did not foresee: never a refusal
            raise KernelError(f"operator {op.index} ({op.name}) kernel crashed: {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]}") from exc
        outputs = list(result) if isinstance(result, (tuple, list)) else [result]
        if len(outputs) != len(op.outputs):
            raise EvalError(f"operator {op.index} ({op.name}) produced {len(outputs)} outputs, "
                            f"the model declares {len(op.outputs)}")
        for value, index in zip(outputs, op.outputs):
            tensor = self.subgraph.tensors[index]
            if value.dtype != tensor.dtype:
                raise EvalError(f"operator {op.index} ({op.name}) produced {value.dtype} for tensor {index}, "
                                f"the model declares {tensor.type_name}")
            # TFLite resizes outputs to what Prepare computes; refinterp insists on the declared shape of a
            # static tensor (a difference means a refinterp bug or a broken file) unless both are empty.
            static = all(d >= 0 for d in tensor.shape_signature)
            if static and value.shape != tensor.shape and (value.size or math.prod(tensor.shape)):
                raise EvalError(f"operator {op.index} ({op.name}) produced shape {list(value.shape)} for tensor "
                                f"{index} '{tensor.name}', the model declares {list(tensor.shape)}")
        return outputs

    def invoke(self) -> None:
        prepared_ops = self._require_allocated()
        # numba's thread count belongs to the calling thread, not to this interpreter: set it every time
        numba.set_num_threads(self.num_threads)
        for index in self.subgraph.inputs:
            value = self._values[index]
            if value is None:
                tensor = self.subgraph.tensors[index]
                raise InputError(f"input tensor {index} '{tensor.name}' was not set (set_tensor before invoke)")
            if value.flags.writeable:  # filled in place through tensor(): run on a snapshot no one can change
                value = np.array(value, copy=True)
                value.flags.writeable = False
                self._values[index] = value
        op_seconds = []
        for step, prepared in enumerate(prepared_ops):
            if self.progress is not None:
                self.progress("invoke", step, len(prepared_ops), prepared.op)
            started = time.perf_counter()
            inputs = [self._values[i] if i >= 0 else None for i in prepared.op.inputs]
            for position, (tensor_index, value) in enumerate(zip(prepared.op.inputs, inputs)):
                if tensor_index >= 0 and value is None:
                    raise EvalError(f"operator {prepared.op.index} ({prepared.op.name}): input {position} "
                                    f"(tensor {tensor_index}) has no value")
            for index, value in zip(prepared.op.outputs, self._run_operator(prepared, inputs)):
                value.flags.writeable = False
                self._values[index] = value
            op_seconds.append(time.perf_counter() - started)
        self.op_seconds = op_seconds

    def run_operator(self, op_index: int, inputs: Sequence[np.ndarray | None]) -> list[np.ndarray]:
        """Run one operator on given input values (compare --isolate): nothing stored."""
        prepared_ops = self._require_allocated()
        if not 0 <= op_index < len(prepared_ops):
            raise InputError(f"operator index {op_index} out of range (the subgraph has {len(prepared_ops)})")
        return self._run_operator(prepared_ops[op_index], list(inputs))

    def reset_all_variables(self) -> None:
        """LiteRT API: refinterp keeps no variable state between invokes."""


class SignatureRunner:
    """LiteRT's SignatureRunner: call with the signature's input names, get a dict by output name.

    ``SignatureRunner(interpreter, signature_key)`` as in LiteRT (usually through
    ``Interpreter.get_signature_runner``). ``allocate_tensors()`` and ``invoke(**inputs)`` follow LiteRT's
    C++ SignatureRunner (AllocateTensors, Invoke); ``invoke(**inputs)`` is the same as calling the runner.
    """

    def __init__(self, interpreter: Interpreter | None = None, signature_key: str | None = None):
        if not interpreter:
            raise InputError("None interpreter provided.")
        if not signature_key:
            raise InputError("None signature_key provided.")
        signature = next((s for s in interpreter.model.signature_defs if s.key == signature_key), None)
        if signature is None:
            keys = ", ".join(s.key for s in interpreter.model.signature_defs) or "none"
            raise InputError(f'Invalid signature_key provided: "{signature_key}" (the model has: {keys})')
        self._signature_key = signature_key
        self._interpreter = interpreter._for_subgraph(signature.subgraph_index)
        self._inputs = dict(signature.inputs)
        self._outputs = dict(signature.outputs)

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        return {name: self._interpreter._details(i) for name, i in self._inputs.items()}

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        return {name: self._interpreter._details(i) for name, i in self._outputs.items()}

    def allocate_tensors(self) -> None:
        self._interpreter.allocate_tensors()

    def invoke(self, **inputs: Any) -> dict[str, np.ndarray]:
        missing = set(self._inputs) - set(inputs)
        extra = set(inputs) - set(self._inputs)
        if missing or extra:
            raise InputError(f"signature {self._signature_key!r} inputs are {sorted(self._inputs)}; "
                             f"missing {sorted(missing)}, unexpected {sorted(extra)}")
        self._interpreter.allocate_tensors()
        for name, value in inputs.items():
            self._interpreter.set_tensor(self._inputs[name], value)
        self._interpreter.invoke()
        return {name: self._interpreter.get_tensor(i) for name, i in self._outputs.items()}

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        return self.invoke(**inputs)
