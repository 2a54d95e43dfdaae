"""The one argument parser every command uses: a bad argument is one line and exit status 2."""

from __future__ import annotations

import argparse

from refinterp.errors import InputError

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises a one-line :class:`InputError` instead of printing its usage and exiting.

    The ``refinterp`` command prints that line as ``refinterp: error: ...`` and exits 2, like every other
    RefinterpError; ``--help`` still prints the full help and exits 0.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message}")
