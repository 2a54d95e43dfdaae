"""The one table of random single-operator cases: (operator, dtype kind) -> generator(rng) -> Case.

It joins the generators of core.py (the core operators, with the Case type and the drawing helpers) and of the
modules that add further operators with the same helpers (listed in MODULE_NAMES). Each kind has exactly one
generator (tests/test_op_cases.py checks it). :func:`make_case` turns a kind and a seed into the same Case on
any machine. The tests draw from this table (tests/test_op_cases.py), and so does ``refinterp conformance
generate``.
"""

from __future__ import annotations

import importlib
import zlib
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from refinterp.registry import REGISTRY
from refinterp.tools.conformance.generators.core import ANY_DTYPES, FLOAT_DTYPES, Case, Generator

#: The generator modules (refinterp/tools/conformance/generators/<name>.py). Each defines GENERATORS
#: {(op, kind): generator} and TFLM_KINDS (the kinds also compared against TFLite Micro); math_kinds.py names
#: them MATH_GENERATORS and MATH_TFLM_KINDS.
MODULE_NAMES = ("core", "math_kinds", "movement", "uint8_hybrid", "transpose_conv", "int16_conv",
                "int16_elementwise", "int16_activations", "batch_matmul", "detection", "recurrent", "svdf_rnn",
                "densify", "int16_unary", "more")
MODULES = {name: importlib.import_module(f"{__name__}.{name}") for name in MODULE_NAMES}


def _table_of(module: Any, suffix: str) -> Any:
    return getattr(module, suffix) if hasattr(module, suffix) else getattr(module, f"MATH_{suffix}")


# Every generator table, by the module that defines it.
SOURCES: dict[str, dict[tuple[str, str], Generator]] = {
    name: _table_of(module, "GENERATORS") for name, module in MODULES.items()}
GENERATORS: dict[tuple[str, str], Generator] = {kind: g for table in SOURCES.values() for kind, g in table.items()}
# Kinds defined by more than one module (there must be none).
DUPLICATES = sorted(k for k, n in Counter(k for table in SOURCES.values() for k in table).items() if n > 1)
# The kinds also compared against TFLite Micro (profile "tflm").
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset().union(
    *(_table_of(module, "TFLM_KINDS") for module in MODULES.values()))


def is_float_kind(kind: tuple[str, str]) -> bool:
    """Kinds with float inputs and outputs (fewer cases by default); "hybrid" (int8 weights) counts too."""
    return kind[1] in (*FLOAT_DTYPES, "hybrid")


def kind_stream(op: str, kind: str) -> int:
    """A stable number per kind, so that kinds draw independent random streams."""
    return zlib.crc32(f"{op}/{kind}".encode())


def make_case(op: str, kind: str, seed: int) -> Case:
    """Case number ``seed`` of the kind (op, kind): the same on every machine."""
    generate = GENERATORS[(op, kind)]
    return replace(generate(np.random.default_rng([kind_stream(op, kind), seed])), seed=seed)


def registry_kinds() -> list[tuple[str, str]]:
    """Every (operator, dtype kind) refinterp.registry advertises; "any" stands for core.ANY_DTYPES."""
    kinds = []
    for name, opdef in REGISTRY.items():
        for dtype in opdef.dtypes:
            kinds.extend((name, d) for d in (ANY_DTYPES if dtype == "any" else (dtype,)))
    return kinds
