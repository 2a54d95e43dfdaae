"""refinterp: a bit-exact NumPy/numba reference interpreter for quantized TensorFlow Lite models."""

import os

# numba's OpenMP workers spin-wait between parallel kernels by default; on a 2-core machine shared with BLAS and
# the official runtimes that spinning made invoke times swing 3x (measured: YOLOv3-tiny median 407 ms, range
# 86-1024, against 76 ms, range 64-84, passive). Read when numba's threading layer starts; a user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from refinterp.errors import (  # noqa: E402
    EvalError,
    InputError,
    KernelError,
    ModelFormatError,
    PrepareError,
    RefinterpError,
    RuntimeUnavailableError,
    UnsupportedOpError,
)
from refinterp.interpreter import Interpreter, SignatureRunner  # noqa: E402
from refinterp.model import Model, load_model, parse_model  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "EvalError", "InputError", "Interpreter", "KernelError", "Model", "ModelFormatError", "PrepareError",
    "RefinterpError", "RuntimeUnavailableError", "SignatureRunner", "UnsupportedOpError", "load_model", "parse_model",
]
