"""Run a .tflite model (bytes) on the reference runtimes the project is judged against.

* :func:`run_litert_ref`: LiteRT with the BUILTIN_REF op resolver, i.e. the
  reference kernels, no delegates (family "R" of docs/int8-semantics). This is
  the oracle of the property tests.
* :func:`run_tflm`: TensorFlow Lite Micro (family "M"), optional.
* :func:`run_refinterp`: refinterp itself, through its LiteRT-compatible API.

All three take the model bytes and the input arrays in model-input order, and
return every model output as a NumPy array (a copy), in model-output order. When
a runtime refuses the model, they raise :class:`Rejected`, which records the stage
(``"load"``, ``"prepare"`` or ``"invoke"``) and the runtime's message, so a test
can require that refinterp refuses exactly what LiteRT refuses.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import tflite

STAGES = ("load", "prepare", "invoke")


class Rejected(Exception):
    """A runtime refused the model at ``stage``; ``cause`` is its exception."""

    def __init__(self, runtime: str, stage: str, cause: BaseException) -> None:
        message = " ".join(str(cause).split())
        super().__init__(f"{runtime} rejected the model at {stage}: {message}")
        self.runtime = runtime
        self.stage = stage
        self.cause = cause


def _run_litert_api(
    runtime: str,
    make_interpreter: Any,
    inputs: Sequence[np.ndarray],
    errors: tuple[type[BaseException], ...],
    load_errors: tuple[type[BaseException], ...] = (),
    bugs: tuple[type[BaseException], ...] = (),
) -> list[np.ndarray]:
    """Drive any interpreter with the tf.lite.Interpreter API; map its errors to stages.

    ``errors`` count as a rejection at any stage, ``load_errors`` only while the
    model is being loaded, except ``bugs`` (subclasses of them that mean the
    runtime crashed); those and anything else (e.g. a wrong input shape passed
    by the caller) propagate.
    """
    try:
        interpreter = make_interpreter()
    except bugs:
        raise
    except errors + load_errors as error:
        raise Rejected(runtime, "load", error) from error
    stage = "prepare"
    try:
        interpreter.allocate_tensors()
        input_details = interpreter.get_input_details()
        stage = "invoke"
        if len(input_details) != len(inputs):
            raise TypeError(f"the model has {len(input_details)} inputs, {len(inputs)} given")
        for detail, value in zip(input_details, inputs, strict=True):
            interpreter.set_tensor(detail["index"], np.asarray(value, detail["dtype"]))
        interpreter.invoke()
        return [np.array(interpreter.get_tensor(detail["index"])) for detail in interpreter.get_output_details()]
    except bugs:
        raise
    except errors as error:
        raise Rejected(runtime, stage, error) from error


#: Builtin operators LiteRT 2.3.0's BUILTIN_REF resolver does not register (it refuses their models at load):
#: their oracle is LiteRT's builtin resolver (BUILTIN_WITHOUT_DEFAULT_DELEGATES), whose kernel for them is the
#: only one LiteRT has.
NOT_IN_BUILTIN_REF = frozenset({"CEIL", "ROUND", "ELU"})


def run_litert_ref(model: bytes, inputs: Sequence[np.ndarray], op: str | None = None) -> list[np.ndarray]:
    """Outputs of LiteRT's reference kernels (BUILTIN_REF: no delegate, no ruy); for an operator ``op`` of
    NOT_IN_BUILTIN_REF, LiteRT's builtin kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if op in NOT_IN_BUILTIN_REF
                else OpResolverType.BUILTIN_REF)

    def make() -> Any:
        return Interpreter(
            model_content=model,
            experimental_op_resolver_type=resolver,
            experimental_preserve_all_tensors=True,
        )

    # LiteRT reports Prepare/Eval failures as RuntimeError and a flatbuffer it
    # cannot load as ValueError.
    return _run_litert_api("litert-ref", make, inputs, (RuntimeError,), load_errors=(ValueError,))


def litert_ref_interpreter(model: bytes | None = None, path: str | None = None) -> Any:
    """A LiteRT BUILTIN_REF interpreter that keeps every tensor (``experimental_preserve_all_tensors``), not yet
    allocated: for the tests that compare every tensor after each of several invokes."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LiteRT warns that preserve_all_tensors is for debugging: our use
        return Interpreter(model_content=model, model_path=path,
                           experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                           experimental_preserve_all_tensors=True)


def invoke_with(interpreter: Any, inputs: Sequence[np.ndarray]) -> None:
    """Set each model input in order, then invoke (LiteRT's interpreter API, which refinterp's follows)."""
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()


def random_inputs(interpreter: Any, rng: np.random.Generator) -> list[np.ndarray]:
    """One array per model input: floats standard normal, integers uniform over their dtype's whole range."""
    values = []
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            values.append(rng.standard_normal(detail["shape"]).astype(dtype))
        else:
            info = np.iinfo(dtype)
            values.append(rng.integers(info.min, info.max, size=detail["shape"], endpoint=True).astype(dtype))
    return values


def run_refinterp(
    model: bytes, inputs: Sequence[np.ndarray], kernels: str | None = None, **interpreter_options: Any
) -> list[np.ndarray]:
    """Outputs of refinterp; ``kernels="spec"`` selects the NumPy spec kernels.

    Further keyword arguments go to ``refinterp.Interpreter`` (e.g.
    ``profile="tflm"``). Only :class:`refinterp.errors.RefinterpError` counts as
    a rejection, and not its :class:`refinterp.errors.KernelError` (a kernel
    crashed): that and any other exception is a refinterp bug and propagates.
    """
    import refinterp
    from refinterp.errors import KernelError, RefinterpError

    options = dict(interpreter_options)
    if kernels is not None:
        options["kernels"] = kernels

    def make() -> Any:
        return refinterp.Interpreter(model_content=model, **options)

    label = ",".join(filter(None, (interpreter_options.get("profile"), kernels))) or "default"
    return _run_litert_api(f"refinterp[{label}]", make, inputs, (RefinterpError,), bugs=(KernelError,))


def tflm_available() -> bool:
    """Whether the tflite-micro Python runtime can be imported."""
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except ImportError:
        return False
    return True


def require_tflm() -> None:
    """Skip the calling test when tflite-micro is missing; under CI (env CI set) fail it instead."""
    import pytest

    if tflm_available():
        return
    reason = "tflite-micro is not installed (pip install -e '.[test]')"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def run_tflm(model: bytes, inputs: Sequence[np.ndarray], arena_size: int | None = None) -> list[np.ndarray]:
    """Outputs of TensorFlow Lite Micro's reference kernels.

    TFLM allocates everything from one arena; the default is generous for the
    small test models (the runtime's own default, 10x the model size, is too
    small for models whose activations outweigh their weights).
    """
    from tflite_micro.python.tflite_micro import runtime

    arena = arena_size or max(1 << 20, 16 * len(model))
    stage = "load"
    try:
        # TFLM allocates (and runs Prepare) when the interpreter is created.
        interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena)
        stage = "invoke"
        for position, value in enumerate(inputs):
            detail = interpreter.get_input_details(position)
            interpreter.set_input(np.asarray(value, detail["dtype"]), position)
        interpreter.invoke()
        # The TFLM wrapper has no output count, so read it from the model.
        output_count = tflite.Model.GetRootAs(model).Subgraphs(0).OutputsLength()
        outputs = [np.array(interpreter.get_output(position)) for position in range(output_count)]
        return outputs
    except RuntimeError as error:
        raise Rejected("tflm", stage, error) from error


def refinterp_available() -> bool:
    """Whether ``refinterp.Interpreter`` exists yet (it is written concurrently)."""
    if os.environ.get("REFINTERP_ORACLE_ONLY"):
        return False
    try:
        import refinterp
        from refinterp.errors import RefinterpError  # noqa: F401
    except ImportError:
        return False
    return hasattr(refinterp, "Interpreter")
