"""What the fast kernels share: 8-bit table lookup, and params extended with a table.

An int8/uint8 input has only 256 values: a fast prepare evaluates the spec rule once on each of them
(``refinterp.ops.common.table_of_8bit_rule``, NumPy) and the fast kernel gathers. The table therefore holds
the spec's own outputs; only the gathering is numba.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np


@dataclass(frozen=True)
class TableParams:
    """A spec prepare's params plus, for an 8-bit input, the spec rule's output for each of the 256 values."""

    spec: Any
    table: np.ndarray | None = None


@numba.njit(cache=True, parallel=True, nogil=True)
def _lookup_8bit_nb(table, x_flat, lowest):
    # NumPy's fancy indexing (table[x - lowest]) is single-threaded and allocates an index array: ~10x slower
    y = np.empty(x_flat.size, table.dtype)
    for i in numba.prange(x_flat.size):
        y[i] = table[np.int64(x_flat[i]) - lowest]
    return y


def lookup_8bit(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``table[x - lowest]`` for an int8/uint8 array ``x`` and a 256-entry table from table_of_8bit_rule."""
    lowest = int(np.iinfo(x.dtype).min)
    return _lookup_8bit_nb(table, np.ascontiguousarray(x).reshape(-1), lowest).reshape(x.shape)
