"""refinterp's exceptions.

Every error refinterp raises on bad input is a :class:`RefinterpError` whose message is one line that
says what is wrong and where (file offset, tensor index, operator index). The CLI prints that line and
exits with status 2; it never shows a traceback for these.

Each error also derives from the builtin exception LiteRT's Python ``Interpreter`` raises in the same
situation, so code written for LiteRT catches refinterp's errors unchanged: a bad file, an unsupported
operator and a wrong index, dtype, shape or argument are ``ValueError`` (LiteRT raises ValueError from its
constructor, ``set_tensor``, ``get_tensor``, ``get_signature_runner``); a failure while preparing or running
an operator is ``RuntimeError`` (LiteRT's ``allocate_tensors`` and ``invoke``).
"""

from __future__ import annotations

#: The longest message a RefinterpError shows (the fuzzer's "message" class starts above it).
MAX_MESSAGE_CHARS = 300


class RefinterpError(Exception):
    """Base class: a one-line reason a model, an input or a request cannot be handled.

    The message is one line of at most :data:`MAX_MESSAGE_CHARS` characters by construction: whitespace runs
    (newlines included) become one space and a longer text is cut with "...". Values from a file are escaped
    and shortened where the message is made (:func:`shown`); this is the net under every message."""

    def __str__(self) -> str:
        text = " ".join(super().__str__().split())
        return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 3] + "..."


class ModelFormatError(RefinterpError, ValueError):
    """The file is not a valid .tflite flatbuffer (truncated, foreign, out-of-range index, bad buffer)."""


class UnsupportedOpError(RefinterpError, ValueError):
    """The model uses an operator (or an operator/dtype combination) refinterp does not implement."""


class PrepareError(RefinterpError, RuntimeError):
    """An operator's parameters are invalid; the official runtimes also reject them at Prepare."""


class InputError(RefinterpError, ValueError):
    """A value or argument passed to refinterp has the wrong shape, dtype, index or type."""


class EvalError(RefinterpError, RuntimeError):
    """An operator failed while running (for example an empty pooling window)."""


class KernelError(EvalError):
    """A kernel raised something other than a RefinterpError while running: a refinterp bug, never a refusal.

    Tests treat it as a failure wherever they accept a model's legitimate rejection (ModelFormatError,
    UnsupportedOpError, PrepareError, InputError, EvalError raised on purpose by a kernel).
    """


class RuntimeUnavailableError(RefinterpError):
    """An optional official runtime (ai-edge-litert, tflite-micro) is not installed or cannot load."""


#: The most characters of one value from a file that a message shows.
MESSAGE_VALUE_LIMIT = 60


def shown(value: object, limit: int = MESSAGE_VALUE_LIMIT) -> str:
    """A value read from a file, made safe to put in a one-line message: escaped, quoted, truncated.

    Strings and bytes come back quoted with control characters, newlines and NULs escaped (``'a\\nb'``);
    a sequence (a shape, a vector of scales) shows its first elements and how many more there were
    (``[1, 2, 3, ... +4093 more]``); anything else as its ``repr``. The result never exceeds about ``limit``
    characters, so a garbage name or a shape of thousands of dimensions cannot make a message long.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = "".join(c if c.isprintable() and c not in "'\\" else
                       ("\\" + c if c in "'\\" else c.encode("unicode_escape").decode("ascii")) for c in value[:limit])
        if len(text) > limit or len(value) > limit:
            text = text[:max(limit - 3, 1)] + "..."
        return f"'{text}'"
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and hasattr(value, "ndim")):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        if not isinstance(items, list):
            return shown(items, limit)
        parts: list[str] = []
        used = 1
        for item in items:
            part = shown(item, max(limit // 4, 8)) if isinstance(item, (str, bytes, list, tuple)) else repr(item)
            if used + len(part) + 2 > limit and parts:
                break
            parts.append(part)
            used += len(part) + 2
        rest = len(items) - len(parts)
        return "[" + ", ".join(parts) + (f", ... +{rest} more" if rest else "") + "]"
    if isinstance(value, int) and value.bit_length() > 3 * limit:  # repr would be long, or refuse (4300 digits)
        return f"<a {value.bit_length()}-bit integer>"
    text = repr(value)
    return text if len(text) <= limit else text[:max(limit - 3, 1)] + "..."
