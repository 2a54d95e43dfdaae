"""The progress line the long-running commands write on stderr (``refinterp run``, ``refinterp conformance run``)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StatusLine:
    """One status line on ``stream`` (stderr by default): on a terminal redrawn in place (:meth:`draw`) and
    cleared by :meth:`close`; elsewhere (a log, CI) each update is a plain line (:meth:`write_line`). A subclass
    decides when to update (``enabled``, ``started``: the clock it measures the run from)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.drawn = 0  # width of the line on the terminal

    def draw(self, text: str) -> None:
        """On a terminal: ``text`` in place of the line drawn before."""
        self.stream.write("\r" + text.ljust(self.drawn))
        self.drawn = len(text)
        self.stream.flush()

    def write_line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Clear the line drawn on the terminal, if any."""
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0
