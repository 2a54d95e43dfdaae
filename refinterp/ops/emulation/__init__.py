"""Emulation profiles: the arithmetic of the optimized runtimes, kept apart from the reference kernels.

``Interpreter(profile="litert-opt")`` follows LiteRT's optimized builtin kernels on x86-64
(``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``: ruy and ``optimized_ops``), ``profile="xnnpack"`` LiteRT
with the XNNPACK delegate (one delegate node per operator). These runtimes are not oracles for refinterp's
reference profiles; under an emulation profile they are the oracle. Each profile is a table
``{operator name: EmulatedOp}`` (``litert_opt.TABLE``, ``xnnpack.TABLE``): an operator it lists runs the
emulated kernel when the entry's ``prepare`` says the runtime computes that case differently (it returns the
emulated params; None: the reference kernel computes what the runtime does), every other operator runs the
reference profile's kernels (``refinterp.ops.common.EMULATION_PROFILES``). docs/profiles.md lists every rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refinterp.ops.common import OpContext

#: ``prepare(ctx, reference_prepare) -> params | None``: ``reference_prepare`` is the operator's reference
#: (spec) prepare, which validates the operator as LiteRT does; None means the reference kernel runs.
EmulatedPrepare = Callable[[OpContext, Callable[[OpContext], Any]], Any]


@dataclass(frozen=True)
class EmulatedOp:
    prepare: EmulatedPrepare
    kernel: Callable[..., Any]
    #: the rule in a few words (docs/profiles.md has the source files)
    rule: str
