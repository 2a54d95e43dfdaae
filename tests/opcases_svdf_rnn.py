"""Random single-operator cases: SVDF and RNN (to be written)."""

from __future__ import annotations

from opcases import Generator

GENERATORS: dict[tuple[str, str], Generator] = {}
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset()
