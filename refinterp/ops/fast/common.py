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


@numba.njit(cache=True, nogil=True)
def _lookup_8bit_serial_nb(table, x_flat, lowest):
    y = np.empty(x_flat.size, table.dtype)
    for i in range(x_flat.size):
        y[i] = table[np.int64(x_flat[i]) - lowest]
    return y


#: a lookup of fewer elements stays on the calling thread: starting the thread pool costs more (5 to 30 us
#: measured on 118 elements) than gathering them
LOOKUP_PARALLEL_MIN = 1 << 16


def lookup_8bit(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``table[x - lowest]`` for an int8/uint8 (or int16/uint16, 65536 entries) array ``x`` and a table from
    table_of_8bit_rule (``lowest``: the dtype's smallest value)."""
    dtype = x.dtype
    lowest = 0 if dtype.kind == "u" else -(1 << (8 * dtype.itemsize - 1))
    flat = np.ascontiguousarray(x).reshape(-1)
    kernel = _lookup_8bit_nb if flat.size >= LOOKUP_PARALLEL_MIN else _lookup_8bit_serial_nb
    return kernel(table, flat, lowest).reshape(x.shape)


def readonly(array: np.ndarray) -> np.ndarray:
    """``array`` as a read-only view (the array itself when it is read-only already).

    numba compiles a kernel once per argument type, and a read-only array is another type than a writable one:
    the interpreter's tensors are read-only, weights and inputs from elsewhere (the self-test, the uint8 and
    hybrid paths) may not be. Passing every input array read-only keeps one compiled signature per kernel.
    """
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view
