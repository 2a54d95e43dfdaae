"""The progress line the long-running commands write on stderr (``refinterp run``, ``compare``, ``conformance``)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class StatusLine:
    """One status line on ``stream`` (stderr by default), throttled so that a quick run prints nothing.

    On a terminal :meth:`show` redraws the line in place once the run has lasted :attr:`after` seconds, at most
    every :attr:`redraw_interval`; :meth:`close` clears it. Elsewhere (a log, CI) it writes a plain line from
    :attr:`log_after` seconds on, at most every :attr:`log_interval`. A subclass sets the thresholds and makes
    the text; ``started`` is the clock the run is measured from."""

    #: a terminal shows the line once the run has lasted this long
    after = 1.0
    #: and redraws it at most this often
    redraw_interval = 0.1
    #: without a terminal, lines start after this long and come at most this often
    log_after = 3.0
    log_interval = 5.0

    def __init__(self, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.started = time.monotonic()
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.drawn = 0  # width of the line on the terminal
        self.last_drawn = self.started - self.redraw_interval
        self.last_log = self.started - self.log_interval

    def show(self, text: str, log_text: str | None = None, *, final: bool = False) -> None:
        """Update the line to ``text`` (``log_text`` in a log, when given), unless the throttle says not yet;
        ``final`` (the last update of a run) skips the interval, not the start-up delay."""
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if self.is_tty:
            if elapsed < self.after or (now - self.last_drawn < self.redraw_interval and not final):
                return
            self.draw(text)
            self.last_drawn = now
        elif elapsed >= self.log_after and (now - self.last_log >= self.log_interval or final):
            self.write_line(log_text if log_text is not None else text)
            self.last_log = now

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
