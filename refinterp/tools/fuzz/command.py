"""``refinterp fuzz``: the command line of the fuzzer, its table and its JSON."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from refinterp.errors import InputError
from refinterp.tools.arguments import EXIT_MISMATCH, EXIT_OK, ArgumentParser
from refinterp.tools.fuzz.campaign import Campaign, FuzzConfig, Report, check_available
from refinterp.tools.fuzz.classify import CLASSES
from refinterp.tools.fuzz.seeds import DEFAULT_MAX_SEED_BYTES, SHARED_MODELS

DESCRIPTION = ("Fuzz refinterp against LiteRT (BUILTIN_REF) with mutated models: structure-aware and blind "
               "mutations of models the project builds, of the golden model and of ../shared models; each mutant "
               "runs in child processes with time and memory limits and is classified. Exit status 0: no failure, "
               "1: failures (saved to --out), 2: bad arguments.")


def _positive(kind: type, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    parse.__name__ = what
    return parse


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="refinterp fuzz", description=DESCRIPTION)
    parser.add_argument("--mutants", type=_positive(int, "--mutants"), default=None,
                        help="stop after N mutants (default 1000 unless --seconds is given)")
    parser.add_argument("--seconds", type=_positive(float, "--seconds"), default=None,
                        help="stop after S seconds of wall-clock time")
    parser.add_argument("--seed", type=int, default=None, help="campaign seed (default: from the clock; printed)")
    parser.add_argument("--jobs", type=_positive(int, "--jobs"), default=1,
                        help="mutants run in parallel (each uses two processes, one busy at a time; default 1)")
    parser.add_argument("--out", metavar="DIR", default="fuzz-out",
                        help="directory for failing mutants, .tflite + .json each (default fuzz-out)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout)")
    parser.add_argument("--timeout", type=_positive(float, "--timeout"), default=10.0,
                        help="seconds each runtime may take on one mutant (default 10)")
    parser.add_argument("--memory-mb", type=_positive(int, "--memory-mb"), default=2048,
                        help="address-space limit of each child process, MiB (default 2048)")
    parser.add_argument("--huge-mb", type=_positive(int, "--huge-mb"), default=512,
                        help="a refinterp run whose peak memory grows more than this is a huge allocation "
                             "(default 512)")
    parser.add_argument("--shared", metavar="DIR", default=str(SHARED_MODELS),
                        help="third-party models to seed from, when present (default ../shared/models)")
    parser.add_argument("--no-shared", action="store_true", help="no third-party seeds (../shared/models)")
    parser.add_argument("--no-golden", action="store_true", help="no golden/yolov3_tiny_int8.tflite seed")
    parser.add_argument("--max-seed-mb", type=_positive(float, "--max-seed-mb"),
                        default=DEFAULT_MAX_SEED_BYTES / (1 << 20),
                        help="leave out third-party seeds larger than this (default 2)")
    parser.add_argument("--no-coverage", action="store_true", help="no coverage feedback (faster children)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    return parser


def format_report(report: Report) -> str:
    total = max(report.mutants, 1)
    lines = [f"{report.mutants} mutants in {report.seconds:.0f} s "
             f"({report.mutants / report.seconds if report.seconds else 0:.1f}/s), "
             f"seed {report.config.get('seed')}, {report.failures} failures", "",
             f"{'class':<18} {'count':>8} {'share':>7}  failure  meaning"]
    for klass, (meaning, failure) in CLASSES.items():
        count = report.counts.get(klass, 0)
        lines.append(f"{klass:<18} {count:>8} {100 * count / total:>6.2f}%  {'yes' if failure else '':<7}  {meaning}")
    for klass in CLASSES:
        signatures = report.signatures.get(klass)
        if not signatures or not CLASSES[klass][1]:
            continue
        lines += ["", f"{klass}: {sum(signatures.values())} mutants, {len(signatures)} signatures"]
        for signature, count in signatures.most_common(8):
            lines.append(f"  {count:>6}  {signature[:150]}")
        example = report.examples.get(klass)
        if example:
            lines.append(f"  example #{example['mutant']}: {example['description'][:300]}")
    if report.litert_refusals:
        lines += ["", "files LiteRT refuses, by LiteRT's refusal: refinterp refuses / runs"]
        ranked = sorted(report.litert_refusals.items(), key=lambda kv: -sum(kv[1].values()))
        for refusal, outcome in ranked[:25]:
            lines.append(f"  {outcome.get('refinterp refuses', 0):>6} / {outcome.get('refinterp runs', 0):<6} "
                         f"{refusal[:110]}")
    if report.baseline_problems:
        lines += ["", f"seeds that do not agree unmutated ({len(report.baseline_problems)}):"]
        for name, problem in sorted(report.baseline_problems.items())[:20]:
            lines.append(f"  {name}: {problem[:140]}")
    if report.seeds_left_out:
        reasons = Counter(reason.split(":")[0].split(" (")[0] for reason in report.seeds_left_out.values())
        lines.append(f"third-party seeds not mutated: {len(report.seeds_left_out)} ({dict(reasons)})")
    lines += ["", f"baselines {dict(report.baselines)}; corpus {report.corpus}; "
                  f"{report.coverage_lines} refinterp lines covered; {report.saved} failing mutants saved"]
    return "\n".join(lines)


def fuzz_main(argv: Sequence[str]) -> int:
    """``refinterp fuzz``; returns 0 (no failure) or 1 (failures); bad arguments raise InputError (exit 2)."""
    args = build_parser().parse_args(list(argv))
    check_available()
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    config = FuzzConfig(
        mutants=args.mutants if args.mutants is not None or args.seconds is not None else 1000,
        seconds=args.seconds, seed=seed, jobs=args.jobs, out_dir=Path(args.out), timeout=args.timeout,
        memory_mb=args.memory_mb, huge_mb=args.huge_mb,
        shared_dir=None if args.no_shared else Path(args.shared),
        max_seed_bytes=int(args.max_seed_mb * (1 << 20)), golden=not args.no_golden, coverage=not args.no_coverage,
        progress=not args.no_progress,
    )
    print(f"refinterp fuzz: seed {seed} (repeat with --seed {seed})", file=sys.stderr, flush=True)
    campaign = Campaign(config)

    def stop_early(signum: int, frame: object) -> None:  # SIGTERM / Ctrl-C: finish, then report as usual
        campaign.stop_requested = True
        print(f"refinterp fuzz: {signal.Signals(signum).name}: stopping after the running mutants",
              file=sys.stderr, flush=True)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_early)
    report = campaign.run()
    document = json.dumps(report.to_json(), indent=1, default=str) + "\n"
    if args.json == "-":
        sys.stdout.write(document)
    else:
        print(format_report(report))
        if args.json:
            try:
                Path(args.json).write_text(document)
            except OSError as exc:
                raise InputError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    return EXIT_MISMATCH if report.failures else EXIT_OK
