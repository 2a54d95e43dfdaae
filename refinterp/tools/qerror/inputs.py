"""Input cases from the command line: ``--input`` (one .npy per model input) and ``--inputs DIR``.

A case is one list of arrays, one per model input. Either option may hold several cases: a .npy with an
extra leading axis is a stack of cases. With neither option the command uses
:func:`refinterp.io.seeded_inputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from refinterp.errors import InputError
from refinterp.io import load_npy


def _split_batch(value: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """One array, or a stack of cases: [N, *shape] or, for a batch-1 input, [N, *shape[1:]]."""
    if tuple(value.shape) == tuple(shape):
        return [value]
    if value.ndim == len(shape) + 1 and tuple(value.shape[1:]) == tuple(shape):
        return list(value)
    if shape and shape[0] == 1 and value.ndim == len(shape) and tuple(value.shape[1:]) == tuple(shape[1:]):
        return [value[i:i + 1] for i in range(value.shape[0])]
    return [value]


def cases_from_files(paths: Sequence[str], input_shapes: list[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """``--input``: one .npy per model input (each may hold a stack of N cases)."""
    if len(paths) != len(input_shapes):
        raise InputError(f"the model has {len(input_shapes)} inputs, {len(paths)} --input files were given")
    per_input = [_split_batch(load_npy(p), shape) for p, shape in zip(paths, input_shapes)]
    counts = {len(values) for values in per_input}
    if len(counts) != 1:
        raise InputError(f"the --input files hold different numbers of cases: {sorted(counts)}")
    return [list(case) for case in zip(*per_input)]


def cases_from_directory(directory: str, input_names: list[str],
                         input_shapes: list[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """``--inputs DIR``: every .npy (single-input models) or .npz (one array per input) is a case.

    A golden DIR (with an ``inputs/`` folder) is accepted as well. A .npz names its arrays after the
    model's inputs or ``arr_0``, ``arr_1``... in input order.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{directory}: not a directory")
    if (root / "inputs").is_dir():
        root = root / "inputs"
    files = sorted(p for p in root.iterdir() if p.suffix in (".npy", ".npz"))
    if not files:
        raise InputError(f"{root}: no .npy or .npz files")
    cases: list[list[np.ndarray]] = []
    for path in files:
        if path.suffix == ".npy":
            if len(input_shapes) != 1:
                raise InputError(f"{path}: the model has {len(input_shapes)} inputs; give each case as a .npz")
            cases += [[v] for v in _split_batch(load_npy(str(path)), input_shapes[0])]
            continue
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable .npz archive ({exc})") from None
        values = []
        for position, name in enumerate(input_names):
            for key in (name, f"arr_{position}", f"input_{position}"):
                if key in arrays:
                    values.append(arrays[key])
                    break
            else:
                raise InputError(f"{path}: no array for input {position} '{name}' (keys: {sorted(arrays)})")
        per_input = [_split_batch(v, s) for v, s in zip(values, input_shapes)]
        if len({len(v) for v in per_input}) != 1:
            raise InputError(f"{path}: the arrays hold different numbers of cases")
        cases += [list(case) for case in zip(*per_input)]
    return cases
