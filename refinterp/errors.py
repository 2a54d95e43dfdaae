"""refinterp's exceptions.

Every error refinterp raises on bad input is a :class:`RefinterpError` whose message is one line that
says what is wrong and where (file offset, tensor index, operator index). The CLI prints that line and
exits with status 2; it never shows a traceback for these.
"""

from __future__ import annotations


class RefinterpError(Exception):
    """Base class: a one-line reason a model, an input or a request cannot be handled."""


class ModelFormatError(RefinterpError):
    """The file is not a valid .tflite flatbuffer (truncated, foreign, out-of-range index, bad buffer)."""


class UnsupportedOpError(RefinterpError):
    """The model uses an operator (or an operator/dtype combination) refinterp does not implement."""


class PrepareError(RefinterpError):
    """An operator's parameters are invalid; the official runtimes also reject them at Prepare."""


class InputError(RefinterpError):
    """A value passed to the interpreter has the wrong shape, dtype or index."""


class EvalError(RefinterpError):
    """An operator failed while running (for example an empty pooling window)."""


class RuntimeUnavailableError(RefinterpError):
    """An optional official runtime (ai-edge-litert, tflite-micro) is not installed or cannot load."""
