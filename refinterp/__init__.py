"""refinterp: a bit-exact NumPy/numba reference interpreter for int8 TensorFlow Lite models."""

from refinterp.errors import (
    EvalError,
    InputError,
    KernelError,
    ModelFormatError,
    PrepareError,
    RefinterpError,
    RuntimeUnavailableError,
    UnsupportedOpError,
)
from refinterp.interpreter import Interpreter, SignatureRunner
from refinterp.model import Model, load_model, parse_model

__version__ = "0.1.0"

__all__ = [
    "EvalError", "InputError", "Interpreter", "KernelError", "Model", "ModelFormatError", "PrepareError",
    "RefinterpError", "RuntimeUnavailableError", "SignatureRunner", "UnsupportedOpError", "load_model", "parse_model",
]
