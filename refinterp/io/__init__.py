"""Reading and writing arrays and golden DIRs; the one seeded-input generator."""

from refinterp.io.arrays import load_npy, model_input_specs, save_npz_deterministic, seeded_inputs, sha256_of_file
from refinterp.io.golden_format import GOLDEN_FORMAT, MANIFEST_NAME, GoldenCase, GoldenSet, load_golden, tensor_key

__all__ = [
    "GOLDEN_FORMAT", "MANIFEST_NAME", "GoldenCase", "GoldenSet", "load_golden", "load_npy", "model_input_specs",
    "save_npz_deterministic", "seeded_inputs", "sha256_of_file", "tensor_key",
]
