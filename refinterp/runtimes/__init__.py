"""Runtime adapters: "run this model on these inputs and give me every tensor".

Every adapter returns a :class:`RunResult` holding the value of every tensor of subgraph 0 that the
runtime can give after ``invoke`` (inputs, activations, outputs; constants may be included) and the
outputs in the model's subgraph-0 output order. :func:`get_runtime` builds one from a spec string:

==================  ==========================================================================================
spec                what runs
==================  ==========================================================================================
``litert-ref``      LiteRT (ai-edge-litert) with ``OpResolverType.BUILTIN_REF``: the reference kernels, no
                    delegate. This is the runtime refinterp is bit-exact against by default.
``litert``          LiteRT with ``BUILTIN_WITHOUT_DEFAULT_DELEGATES``: the optimized builtin kernels.
``xnnpack``         LiteRT with ``AUTO`` (the default XNNPACK delegate applied),
                    ``experimental_disable_delegate_node_fusion=True`` so that every delegated operator is
                    its own delegate node and writes its output tensor.
``tflm``            TensorFlow Lite Micro (tflite-micro) with ``kPreserveAllTensors``; the arena size is
                    found automatically.
``golden:DIR``      the tensors stored in a golden DIR (see :mod:`refinterp.io.golden_format`) for the case whose
                    inputs equal the given ones.
``refinterp``       refinterp's own :class:`refinterp.Interpreter`.
``delegate:PATH``   LiteRT with the delegate library PATH (``load_delegate``) and all tensors preserved.
==================  ==========================================================================================

All LiteRT-based adapters pass ``experimental_preserve_all_tensors=True``: without it the arena planner
reuses activation memory and intermediate tensors read back as garbage.

What each runtime gives, measured on golden/yolov3_tiny_int8.tflite (see golden/README.md):
litert-ref, litert and tflm return every tensor; xnnpack delegates 33 of the 34 operators (not
RESIZE_NEAREST_NEIGHBOR), one delegate node per operator, and every intermediate is written (checked:
each MAX_POOL_2D output equals the max-pool of its LEAKY_RELU input as xnnpack wrote it).
"""

from __future__ import annotations

import os
from typing import Any

from refinterp.errors import RefinterpError, RuntimeUnavailableError
from refinterp.runtimes.base import RunResult, Runtime, check_inputs
from refinterp.runtimes.golden import GoldenRuntime
from refinterp.runtimes.litert import LiteRTRuntime
from refinterp.runtimes.refinterp_runtime import RefinterpRuntime
from refinterp.runtimes.tflm import TFLMRuntime

RUNTIME_NAMES = ("litert-ref", "litert", "xnnpack", "tflm", "golden:DIR", "refinterp", "delegate:PATH.so")

__all__ = [
    "RUNTIME_NAMES", "GoldenRuntime", "LiteRTRuntime", "RefinterpRuntime", "RunResult", "Runtime", "TFLMRuntime",
    "check_inputs", "get_runtime",
]


def get_runtime(spec: str, **kw: Any) -> Runtime:
    """The runtime named by ``spec`` (one of :data:`RUNTIME_NAMES`); ``kw`` goes to its constructor.

    Accepted keywords: ``num_threads`` (LiteRT-based), ``arena_size`` (tflm), ``delegate_options``
    (delegate:PATH), anything refinterp.Interpreter accepts (refinterp: ``profile``, ``kernels``,
    ``num_threads``).
    """
    if not isinstance(spec, str):
        raise RefinterpError(f"runtime spec must be a string, got {type(spec).__name__}")

    def reject_unknown(allowed: set[str]) -> None:
        unknown = set(kw) - allowed
        if unknown:
            raise RefinterpError(f"runtime {spec!r} does not take option(s) {', '.join(sorted(unknown))}")

    if spec == "litert-ref":
        reject_unknown({"num_threads"})
        return LiteRTRuntime("litert-ref", "BUILTIN_REF", **kw)
    if spec == "litert":
        reject_unknown({"num_threads"})
        return LiteRTRuntime("litert", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", **kw)
    if spec == "xnnpack":
        reject_unknown({"num_threads"})
        return LiteRTRuntime("xnnpack", "AUTO", disable_delegate_node_fusion=True, **kw)
    if spec == "tflm":
        reject_unknown({"arena_size"})
        return TFLMRuntime(**kw)
    if spec == "refinterp":
        return RefinterpRuntime(**kw)
    if spec.startswith("golden:"):
        reject_unknown(set())
        golden_dir = spec[len("golden:"):]
        if not golden_dir:
            raise RefinterpError("golden:DIR needs a directory, e.g. golden:golden/yolov3_tiny_int8")
        return GoldenRuntime(golden_dir)
    if spec.startswith("delegate:"):
        reject_unknown({"num_threads", "delegate_options"})
        library = spec[len("delegate:"):]
        if not library:
            raise RefinterpError("delegate:PATH needs the path of a delegate library, e.g. delegate:./libdelegate.so")
        if not os.path.isfile(library):
            raise RuntimeUnavailableError(f"delegate library {library} does not exist")
        return LiteRTRuntime(f"delegate:{library}", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", delegate_path=library, **kw)
    raise RefinterpError(f"unknown runtime {spec!r}; choose one of {', '.join(RUNTIME_NAMES)}")
