"""The golden DIR file format (``refinterp-golden/1``): reading it, and the names its files use.

Layout (documented in golden/README.md)::

    DIR/manifest.json          format, model (path relative to DIR), model_sha256, runtime,
                               runtime_version, confirmed_by, cases, created
    DIR/inputs/<case>.npy      one per model input (<case>_<k>.npy when the model has several inputs)
    DIR/tensors/<case>.npz     key "t<tensor_index>" for every non-constant tensor of subgraph 0 the
                               runtime returned (zip-deflated .npy members, readable by np.load), and
                               "sg<subgraph>_t<tensor_index>" for those of the other subgraphs (the ones
                               CALL_ONCE, WHILE and IF ran); a model with one subgraph has none of these

Making and checking a golden DIR is a tool (:mod:`refinterp.tools.golden`); reading one is here so that the
``golden:DIR`` runtime adapter and the tools share it without depending on each other.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refinterp.errors import RefinterpError
from refinterp.io.arrays import load_npy

GOLDEN_FORMAT = "refinterp-golden/1"
MANIFEST_NAME = "manifest.json"


def tensor_key(tensor_index: int | str) -> str:
    """The .npz key of a tensor: "t17" for tensor 17 of subgraph 0, "sg1_t17" for :func:`subgraph_key` "sg1:17"."""
    if isinstance(tensor_index, str):
        match = _SUBGRAPH_KEY.fullmatch(tensor_index)
        if match is None:
            raise RefinterpError(f"{tensor_index!r} is not a tensor key (e.g. 17, or 'sg1:17')")
        return f"sg{match.group(1)}_t{match.group(2)}"
    return f"t{tensor_index}"


def subgraph_key(subgraph: int, tensor_index: int) -> str:
    """How reports and golden files name a tensor of a subgraph other than 0: "sg1:17"."""
    return f"sg{subgraph}:{tensor_index}"


_SUBGRAPH_KEY = re.compile(r"sg(\d+):(\d+)")
_SUBGRAPH_NPZ_KEY = re.compile(r"sg(\d+)_t(\d+)")


# --------------------------------------------------------------------------------------------------
# Reading


@dataclass
class GoldenCase:
    """One input set of a golden DIR; inputs and tensors load from disk on first use."""

    name: str
    input_files: list[str]  # relative to the golden DIR
    tensors_file: str  # relative to the golden DIR
    output_indices: list[int]
    root: Path
    _inputs: list[np.ndarray] | None = field(default=None, repr=False)
    _tensors: dict[int, np.ndarray] | None = field(default=None, repr=False)
    _subgraph_tensors: dict[tuple[int, int], np.ndarray] | None = field(default=None, repr=False)

    def inputs(self) -> list[np.ndarray]:
        if self._inputs is None:
            self._inputs = [load_npy(self.root / f) for f in self.input_files]
        return self._inputs

    def tensor_indices(self) -> list[int]:
        """The stored tensor indices, without loading any data."""
        path = self.root / self.tensors_file
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (OSError, zipfile.BadZipFile) as exc:
            raise RefinterpError(f"{path}: cannot read ({exc})") from None
        return sorted(int(n[1:-4]) for n in names if re.fullmatch(r"t\d+\.npy", n))

    def tensors(self) -> dict[int, np.ndarray]:
        """The stored tensors of subgraph 0, by index."""
        if self._tensors is None:
            self._load()
        assert self._tensors is not None
        return self._tensors

    def subgraph_tensors(self) -> dict[tuple[int, int], np.ndarray]:
        """The stored tensors of the other subgraphs, by (subgraph, tensor index)."""
        if self._subgraph_tensors is None:
            self._load()
        assert self._subgraph_tensors is not None
        return self._subgraph_tensors

    def _load(self) -> None:
        path = self.root / self.tensors_file
        try:
            with np.load(path, allow_pickle=False) as stored:
                self._tensors = {int(key[1:]): stored[key] for key in stored.files if re.fullmatch(r"t\d+", key)}
                self._subgraph_tensors = {
                    (int(match.group(1)), int(match.group(2))): stored[key] for key in stored.files
                    if (match := _SUBGRAPH_NPZ_KEY.fullmatch(key)) is not None}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise RefinterpError(f"{path}: cannot read ({exc})") from None

    def outputs(self) -> list[np.ndarray]:
        tensors = self.tensors()
        return [tensors[i] for i in self.output_indices]

    def matches(self, inputs: Sequence[np.ndarray]) -> bool:
        stored = self.inputs()
        if len(stored) != len(inputs):
            return False
        return all(a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
                   for a, b in zip(stored, inputs, strict=True))


@dataclass
class GoldenSet:
    """A golden DIR: its manifest and its cases."""

    root: Path
    manifest: dict[str, Any]
    cases: list[GoldenCase]

    @property
    def model_path(self) -> Path:
        return (self.root / self.manifest["model"]).resolve()

    @property
    def model_sha256(self) -> str:
        return self.manifest["model_sha256"]

    @property
    def runtime(self) -> str:
        return self.manifest["runtime"]

    @property
    def runtime_version(self) -> str:
        return self.manifest.get("runtime_version", "")

    @property
    def confirmed_by(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("confirmed_by", []))

    def case(self, name: str) -> GoldenCase:
        for case in self.cases:
            if case.name == name:
                return case
        raise RefinterpError(f"golden {self.root} has no case {name!r} (cases: {', '.join(self.case_names)})")

    @property
    def case_names(self) -> list[str]:
        return [c.name for c in self.cases]

    def find_case(self, inputs: Sequence[np.ndarray]) -> GoldenCase | None:
        """The case whose stored inputs equal ``inputs`` exactly (dtype, shape, values), or None."""
        for case in self.cases:
            if case.matches(inputs):
                return case
        return None


def load_golden(golden_dir: str | os.PathLike) -> GoldenSet:
    """Read DIR/manifest.json; inputs and tensors are read when a case asks for them."""
    root = Path(golden_dir)
    manifest_path = root / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise RefinterpError(f"{root} is not a golden DIR: {manifest_path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise RefinterpError(f"{manifest_path}: cannot read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != GOLDEN_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise RefinterpError(f"{manifest_path}: format is {found!r}, expected {GOLDEN_FORMAT!r}")
    for key in ("model", "model_sha256", "runtime", "cases"):
        if key not in manifest:
            raise RefinterpError(f"{manifest_path}: missing key {key!r}")
    cases = []
    for entry in manifest["cases"]:
        try:
            cases.append(GoldenCase(name=str(entry["name"]), input_files=list(entry["inputs"]),
                                    tensors_file=str(entry["tensors"]),
                                    output_indices=[int(i) for i in entry["output_indices"]], root=root))
        except (KeyError, TypeError, ValueError) as exc:
            raise RefinterpError(f"{manifest_path}: bad case entry {entry!r} ({exc})") from None
    return GoldenSet(root=root, manifest=manifest, cases=cases)
