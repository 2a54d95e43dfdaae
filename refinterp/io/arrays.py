"""Arrays in and out: reading .npy files, writing reproducible .npz files, and the one seeded-input generator.

Every tool that needs inputs nobody gave it (``run``, ``compare``, ``golden make``, ``qerror``, ``bench``)
draws them from :func:`seeded_inputs`, so that the same seed means the same inputs everywhere.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Mapping

import numpy as np

from refinterp.errors import InputError, RefinterpError

# A fixed timestamp for the .npz members, so that writing the same arrays gives byte-identical files.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a .npy array (inputs, golden files); a missing or foreign file is a one-line InputError."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({' '.join(str(exc).split())})") from None


def save_npz_deterministic(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed member timestamps (reproducible bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                # (ascontiguousarray makes a 0-d array 1-d: keep the shape)
                np.lib.format.write_array(member, np.ascontiguousarray(value).reshape(np.shape(value)),
                                          allow_pickle=False)


def sha256_of_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise RefinterpError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def seeded_inputs(specs: Iterable[tuple[tuple[int, ...], np.dtype | type | None]], seed: int) -> list[np.ndarray]:
    """One array per ``(shape, dtype)``, drawn from ``numpy.random.default_rng(seed)`` in order.

    Integers are uniform over the dtype's whole range, booleans uniform over {False, True}, floats uniform in
    [-1, 1) (the range most float models are normalized to). A dtype of None (a tensor type NumPy has no
    dtype for) is an InputError: such inputs must be given explicitly.
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, dtype in specs:
        if dtype is None:
            raise InputError("an input has a type NumPy cannot represent: give the inputs explicitly")
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if dtype == np.bool_:
            # drawn as uint8 (one byte per value: an int64 draw took eight times the input's size; campaign
            # 20261214's REDUCE_ANY over 64 Mi booleans grew by 575 MiB)
            arrays.append(rng.integers(0, 2, size=shape, dtype=np.uint8).view(np.bool_))
        elif np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(dtype))
    return arrays


def model_input_specs(model) -> list[tuple[tuple[int, ...], np.dtype | None]]:
    """(shape, dtype) of each input of subgraph 0 of a parsed model, for :func:`seeded_inputs`."""
    subgraph = model.subgraphs[0]
    return [(subgraph.tensors[i].shape, subgraph.tensors[i].dtype) for i in subgraph.inputs]
