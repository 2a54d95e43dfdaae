"""The random single-operator cases as the tests use them: the table (refinterp.tools.conformance.generators)
plus this session's exploration seed.

Rebuild a case from the command line (its parameters are printed; ``--save`` writes the model and inputs)::

    python tests/opcase_table.py CONV_2D int8 17 --save /tmp/case
    # writes /tmp/case.tflite and /tmp/case.npz
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
from pathlib import Path

import numpy as np

from refinterp.tools.conformance.generators import (  # noqa: F401  (re-exported for the tests)
    DUPLICATES,
    GENERATORS,
    MODULES,
    SOURCES,
    TFLM_KINDS,
    is_float_kind,
    kind_stream,
    make_case,
    registry_kinds,
)

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
