"""The one table of random single-operator cases: (operator, dtype kind) -> generator(rng) -> Case.

It joins the generators of tests/opcases.py (the core operators, with the Case type and the drawing helpers)
and of the modules that add further operators with the same helpers (tests/opcases_*.py, listed in
MODULE_NAMES). Each kind has exactly one generator (tests/test_op_cases.py checks it). :func:`make_case`
turns a kind and a seed into the same Case on any machine.

Rebuild a case from the command line (its parameters are printed; ``--save`` writes the model and inputs)::

    python tests/opcase_table.py CONV_2D int8 17 --save /tmp/case
    # writes /tmp/case.tflite and /tmp/case.npz
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import secrets
import zlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from opcases import ANY_DTYPES, FLOAT_DTYPES, Case, Generator

from refinterp.registry import REGISTRY

#: The generator modules (tests/<name>.py). Each defines GENERATORS {(op, kind): generator} and TFLM_KINDS
#: (the kinds also compared against TFLite Micro); tests/opcases_math.py names them MATH_GENERATORS and
#: MATH_TFLM_KINDS.
MODULE_NAMES = ("opcases", "opcases_math", "opcases_movement", "opcases_uint8_hybrid", "opcases_transpose_conv",
                "opcases_int16_conv", "opcases_int16_elementwise", "opcases_int16_activations",
                "opcases_batch_matmul", "opcases_detection", "opcases_recurrent", "opcases_svdf_rnn",
                "opcases_densify", "opcases_int16_unary", "opcases_more")
MODULES = {name: importlib.import_module(name) for name in MODULE_NAMES}


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
    """Every (operator, dtype kind) refinterp.registry advertises; "any" stands for opcases.ANY_DTYPES."""
    kinds = []
    for name, opdef in REGISTRY.items():
        for dtype in opdef.dtypes:
            kinds.extend((name, d) for d in (ANY_DTYPES if dtype == "any" else (dtype,)))
    return kinds


# Exploration seeds start here, far above the regression seeds (0, 1, 2, ...).
EXPLORATION_SEED_MIN = 1_000_000
_announced: set[int] = set()


@functools.cache
def exploration_seed() -> int:
    """This session's exploration seed: REFINTERP_RANDOM_SEED, else drawn fresh (the same for every kind)."""
    text = os.environ.get("REFINTERP_RANDOM_SEED", "").strip()
    if text:
        if not text.isdigit():
            raise ValueError(f"REFINTERP_RANDOM_SEED={text!r} is not a non-negative integer")
        return int(text)
    return EXPLORATION_SEED_MIN + secrets.randbelow(2**31 - EXPLORATION_SEED_MIN)


def announce_exploration_seed() -> str | None:
    """The line that names the exploration seed, the first time only (a pytest header or a terminal line)."""
    seed = exploration_seed()
    if seed in _announced:
        return None
    _announced.add(seed)
    return f"op cases: exploration seed {seed} (REFINTERP_RANDOM_SEED={seed} repeats this session's exploration)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild one random single-operator test case.")
    parser.add_argument("op", help="operator, e.g. CONV_2D")
    parser.add_argument("kind", help="dtype kind, e.g. int8 or float32->int8")
    parser.add_argument("seed", type=int)
    parser.add_argument("--save", type=Path, help="write <save>.tflite and <save>.npz (the inputs)")
    args = parser.parse_args(argv)
    if (args.op, args.kind) not in GENERATORS:
        parser.error(f"no generator for {args.op}/{args.kind}; known: "
                     + ", ".join(f"{o}/{k}" for o, k in sorted(GENERATORS)))
    drawn = make_case(args.op, args.kind, args.seed)
    print(drawn.describe())
    if args.save:
        args.save.with_suffix(".tflite").write_bytes(drawn.model)
        np.savez(args.save.with_suffix(".npz"), *drawn.inputs)
        print(f"wrote {args.save.with_suffix('.tflite')} and {args.save.with_suffix('.npz')}")


if __name__ == "__main__":
    main()
