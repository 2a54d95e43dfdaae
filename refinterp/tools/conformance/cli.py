"""``refinterp conformance SUBCOMMAND``: ``generate`` writes a suite, ``run`` checks a runtime against one."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from refinterp.errors import InputError
from refinterp.tools.arguments import EXIT_OK
from refinterp.tools.conformance.generate import generate_main
from refinterp.tools.conformance.run import run_main

SUBCOMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "generate": (generate_main, "write a suite of single-operator cases with the oracle's outputs"),
    "run": (run_main, "run a suite against a runtime and report pass/fail by operator and dtype"),
}


def usage() -> str:
    lines = ["usage: refinterp conformance {generate,run} ...", "",
             "A conformance suite of single-operator cases (docs/conformance.md).", "", "subcommands:"]
    lines += [f"  {name:<9} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    lines += ["", "`refinterp conformance SUBCOMMAND --help` for its options."]
    return "\n".join(lines)


def conformance_main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if not argv:
        raise InputError("conformance: missing subcommand: generate or run (`refinterp conformance --help`)")
    if argv[0] in ("-h", "--help", "help"):
        print(usage())
        return EXIT_OK
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        raise InputError(f"conformance: unknown subcommand {name!r}: choose generate or run")
    return SUBCOMMANDS[name][0](rest)
