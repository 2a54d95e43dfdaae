"""The tensors stored in a golden DIR as a runtime (``golden:DIR``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from refinterp.errors import RefinterpError
from refinterp.io import load_golden, sha256_of_file
from refinterp.model import load_model
from refinterp.runtimes.base import (
    RunResult,
    check_inputs,
)


class GoldenRuntime:
    """The stored tensors of a golden DIR, for the case whose inputs equal the given ones."""

    def __init__(self, golden_dir: str | os.PathLike):
        self.golden_dir = Path(golden_dir)
        self.name = f"golden:{golden_dir}"

    def version(self) -> str:
        golden = load_golden(self.golden_dir)
        return f"golden {self.golden_dir} ({golden.runtime} / {golden.runtime_version})"

    def run(self, model_path: str, inputs: list[np.ndarray]) -> RunResult:
        golden = load_golden(self.golden_dir)
        digest = sha256_of_file(model_path)
        if digest != golden.model_sha256:
            raise RefinterpError(f"golden {self.golden_dir} was made from a model with sha256 "
                                 f"{golden.model_sha256[:12]}..., {model_path} has {digest[:12]}...")
        model = load_model(model_path)
        arrays = check_inputs(model, inputs)
        case = golden.find_case(arrays)
        if case is None:
            raise RefinterpError(f"no case of golden {self.golden_dir} has these inputs "
                                 f"(cases: {', '.join(c.name for c in golden.cases)})")
        tensors = case.tensors()
        return RunResult(tensors, [tensors[i] for i in case.output_indices], None, case.subgraph_tensors())

    def run_series(self, model_path: str, series: list[list[np.ndarray]]) -> list[RunResult]:
        """A golden DIR stores single invokes of a fresh interpreter: a series of more than one is refused (the
        state a stateful model carries from one invoke to the next is not stored)."""
        if len(series) != 1:
            raise RefinterpError(f"golden {self.golden_dir} holds single invokes; compare a series of {len(series)} "
                                 "against a live runtime")
        return [self.run(model_path, series[0])]
