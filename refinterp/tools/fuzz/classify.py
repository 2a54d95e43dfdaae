"""Classification of one mutant from what the two runtimes did with it.

Every mutant gets exactly one class, decided in this order: first what refinterp did wrong on its own
(crash, hang, out-of-memory, traceback, kernel error, a bad message), then whether LiteRT crashed, then the
comparison of the two outcomes (both refuse; one refuses; both run and agree or disagree). Each class also gets
a short *signature* (normalized first words of the message, exception type and place), so that thousands of
mutants collapse into a readable table.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: class -> (what it means, whether it is a failure)
CLASSES: dict[str, tuple[str, bool]] = {
    "agree": ("both run and agree (exact, every output)", False),
    # refinterp's float kernels are bit-exact too: a rounding difference is a disagreement, named apart
    "float-rounding": ("both run; float outputs differ only by rounding (relative 1e-5)", True),
    "both-refuse": ("both refuse", False),
    "refinterp-refuses": ("refinterp refuses, LiteRT runs", False),
    "litert-refuses": ("LiteRT refuses, refinterp runs", True),
    "disagree": ("both run and DISAGREE", True),
    "traceback": ("refinterp traceback (an exception that is not a RefinterpError)", True),
    "kernel-error": ("refinterp KernelError (a kernel crashed)", True),
    "crash": ("refinterp crashed (signal)", True),
    "hang": ("refinterp hung (time limit)", True),
    "oom": ("refinterp out of memory or huge allocation", True),
    "message": ("refinterp error message multi-line, over-long or with control characters", True),
    "litert-crash": ("LiteRT crashed, hung, ran out of memory or its Python API failed (not refinterp's)", False),
    "skipped": ("inputs too large for the harness to generate", False),
}
FAILURE_CLASSES = tuple(name for name, (_, failure) in CLASSES.items() if failure)

#: LiteRT refusal signatures (regular expressions on "stage: first words") for which refinterp running the
#: file cannot change a result. Empty: every file LiteRT refuses and refinterp runs counts as a failure.
HARMLESS_LITERT_REFUSALS: tuple[str, ...] = ()

MAX_MESSAGE_CHARS = 300
FLOAT_RELATIVE_TOLERANCE = 1e-5


@dataclass
class Verdict:
    klass: str
    signature: str
    detail: str = ""
    refinterp: dict[str, Any] | None = field(default=None, repr=False)
    litert: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def failure(self) -> bool:
        if self.klass == "litert-refuses":
            return not any(re.search(p, self.signature) for p in HARMLESS_LITERT_REFUSALS)
        return CLASSES[self.klass][1]


def message_key(text: str, words: int = 8) -> str:
    """The first words of a message with numbers, quoted names and source paths normalized."""
    text = " ".join(str(text).split())
    text = re.sub(r"(?:[\w.-]+/)+(\w+\.(?:cc|h|py))(?::\d+)?", r"\1", text)  # tensorflow/lite/kernels/x.cc:12
    # quoted names from the file vary; quoted operator and type names (CONV_2D, INT8) say what failed
    text = re.sub(r"(?<![A-Za-z])'([^']{0,80})'",
                  lambda m: m.group(0) if re.fullmatch(r"[A-Z][A-Z0-9_]*", m.group(1)) else "'…'", text)
    text = re.sub(r"(?<![A-Za-z_])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", text)
    text = re.sub(r"\[[#, ]*\]", "[…]", text)
    return " ".join(text.split()[:words])


def litert_refusal(result: dict[str, Any]) -> str:
    """"verifier", "load", "prepare", "inputs" or "invoke", then the message's first words."""
    stage = result.get("stage", "?")
    message = str(result.get("message", ""))
    if stage == "load" and ("not a valid Flatbuffer" in message or "model identifier" in message):
        stage = "verifier"
    first = message.split("Node number")[0] if "Node number" in message and not message.startswith(
        "Node number") else message
    return f"{stage}: {message_key(first)}"


def bad_message(message: str) -> str | None:
    """Why a refinterp error message breaks the one-line promise, or None."""
    if "\n" in message or "\r" in message:
        return "multi-line"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"over {MAX_MESSAGE_CHARS} characters"
    if not message.isprintable():
        return "control characters"
    return None


def signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit code"
    if exitcode < 0:
        try:
            return signal.Signals(-exitcode).name
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


def _compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> tuple[str, str]:
    """("agree" | "float-rounding" | "disagree", detail)."""
    if len(ours) != len(theirs):
        return "disagree", f"{len(ours)} outputs, LiteRT gives {len(theirs)}"
    rounding = []
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if a["dtype"] != b["dtype"]:
            return "disagree", f"output {k}: dtype {a['dtype']}, LiteRT {b['dtype']}"
        if a["shape"] != b["shape"]:
            return "disagree", f"output {k}: shape {a['shape']}, LiteRT {b['shape']}"
        if a["sha256"] == b["sha256"]:
            continue
        x, y = a.get("array"), b.get("array")
        if x is None or y is None:
            return "disagree", f"output {k}: contents differ (too large to diff)"
        unwritten = b.get("unwritten")
        if unwritten is not None and unwritten.shape == x.shape:
            # elements LiteRT's kernel never wrote hold whatever its arena held: undefined, not compared
            x, y = x[~unwritten], y[~unwritten]
            if x.tobytes() == y.tobytes():
                continue
        if x.dtype.kind == "f" and np.array_equal(x, y, equal_nan=True):
            continue  # NaN payloads or the sign of a NaN
        if x.dtype.kind == "f":
            finite = np.isfinite(x) & np.isfinite(y)
            same_specials = np.array_equal(np.where(finite, 0, x), np.where(finite, 0, y), equal_nan=True)
            scale = np.maximum(np.abs(x), np.abs(y))
            close = np.abs(x.astype(np.float64) - y) <= FLOAT_RELATIVE_TOLERANCE * np.maximum(scale, 1e-30)
            if same_specials and bool(np.all(close | ~finite)):
                rounding.append(k)
                continue
        differ = x != y
        diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
        return "disagree", (f"output {k} ({a['dtype']}{a['shape']}): {int(differ.sum())} of {x.size} elements "
                            f"differ, max |difference| {float(np.nanmax(diff)) if diff.size else 0:g}")
    if rounding:
        return "float-rounding", f"outputs {rounding} differ by float rounding"
    return "agree", ""


def classify(refinterp_result: dict[str, Any] | None, litert_result: dict[str, Any] | None, *,
             refinterp_death: str | None = None, litert_death: str | None = None,
             huge_bytes: int = 512 << 20) -> Verdict:
    """Classify one mutant.

    ``*_result`` is the worker's result dict (None when the worker did not answer); ``*_death`` says why it
    did not ("timeout", or "SIGSEGV: <last stderr line>" for a crash).
    """
    ours, theirs = refinterp_result, litert_result

    def verdict(klass: str, signature: str, detail: str = "") -> Verdict:
        return Verdict(klass, signature, detail, ours, theirs)

    if ours is None:
        death = refinterp_death or "no answer"
        if death.startswith("timeout"):
            return verdict("hang", death)
        return verdict("crash", message_key(death, 12))
    status, stage = ours.get("status"), ours.get("stage", "?")
    message = str(ours.get("message", ""))
    growth = int(ours.get("peak_growth_bytes", 0))
    if status == "oom":
        return verdict("oom", f"{stage}: {message_key(message)}", message[:300])
    if growth > huge_bytes:
        return verdict("oom", f"{stage}: peak memory grew by {growth >> 20} MiB", f"{growth} bytes")
    if status == "traceback":
        return verdict("traceback", f"{ours.get('error')} at {ours.get('where')}",
                       f"{ours.get('error')}: {' '.join(message.split())[:300]}")
    if status == "refused" and ours.get("kernel_error"):
        return verdict("kernel-error", message_key(message, 9), message[:300])
    if status == "refused":
        why = bad_message(message)
        if why is not None:
            return verdict("message", f"{why}: {ours.get('error')} at {stage}", repr(message[:300]))
    # LiteRT ran the model, but its Python get_tensor cannot return an output of no elements
    empty_output = (theirs is not None and theirs.get("status") == "refused" and theirs.get("stage") == "outputs"
                    and "Invalid tensor size" in str(theirs.get("message", "")))
    if theirs is None or theirs.get("status") in ("oom", "unreadable") or empty_output:
        death = litert_death or ("out of memory" if theirs and theirs.get("status") == "oom" else
                                 "its Python API cannot read an empty output" if empty_output else
                                 "its Python API cannot decode a tensor name")
        return verdict("litert-crash", f"{message_key(death, 6)} (refinterp: {status} at {stage})")
    if status == "skipped" or theirs.get("status") == "skipped":
        return verdict("skipped", "large inputs")
    litert_ok = theirs.get("status") == "ok"
    ours_ok = status == "ok"
    if not litert_ok and not ours_ok:
        return verdict("both-refuse", litert_refusal(theirs).split(":")[0],
                       f"LiteRT {litert_refusal(theirs)}; refinterp {ours.get('error')}: {message_key(message, 12)}")
    if not litert_ok:
        return verdict("litert-refuses", litert_refusal(theirs), " ".join(str(theirs.get("message")).split())[:300])
    if not ours_ok:
        return verdict("refinterp-refuses", f"{ours.get('error')} at {stage}: {message_key(message)}",
                       message[:300])
    klass, detail = _compare(ours.get("outputs", []), theirs.get("outputs", []))
    return verdict(klass, re.sub(r"\d+", "#", detail.split(":")[0]) if detail else "", detail)
