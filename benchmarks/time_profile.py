"""Where refinterp's time goes over the models of a ``refinterp bench --models`` run: the tables of
docs/performance.md ("Where the time goes"), computed from the benchmark's JSON so that they can be checked.

    python benchmarks/time_profile.py benchmarks/models.json [--avx2 benchmarks/models_avx2.json]
        [--before OLD_models.json] [--slowest 14] [--models-table]

Prints markdown:

* per operator type, over every timed model: calls, total ms (the sum of each operator's median ms), the fastest
  and the median call, and the kind of kernel the registry gives it (numba, or the NumPy spec kernel only);
* the models slower than BUILTIN_REF (or the ``--slowest`` N lowest ratios), with their three most expensive
  operator types and the time outside the operators;
* with ``--before``: each model's BUILTIN_REF / refinterp ratio before and after, and both geometric means over
  the models timed in both runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from refinterp.registry import REGISTRY  # noqa: E402


def _timed(report: dict) -> dict[str, dict]:
    return {m["model"]: m for m in report["models"] if m["status"] == "timed"}


def _median_ms(model: dict, runtime: str) -> float | None:
    for r in model["runtimes"]:
        if r["name"] == runtime and r.get("status") == "ok":
            return r["median_ms"]
    return None


def _ratio(model: dict) -> float | None:
    """BUILTIN_REF's median over refinterp's (above 1: refinterp is faster)."""
    ref, ours = _median_ms(model, "litert-ref"), _median_ms(model, "refinterp")
    return ref / ours if ref and ours else None


def _short(path: str) -> str:
    return "/".join(Path(path).with_suffix("").parts[-2:])


def _kernel_kind(op: str) -> str:
    opdef = REGISTRY.get(op)
    if opdef is None:
        return "?"
    return "numba" if opdef.fast is not None else "NumPy spec only"


def _fmt(ms: float) -> str:
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def op_type_table(report: dict, avx2: dict | None) -> list[str]:
    calls: dict[str, list[float]] = defaultdict(list)
    for model in _timed(report).values():
        for op in model["refinterp_per_op"]:
            calls[op["op"]].append(op["median_ms"])
    avx2_totals: dict[str, float] = defaultdict(float)
    if avx2:
        for model in _timed(avx2).values():
            for op in model["refinterp_per_op"]:
                avx2_totals[op["op"]] += op["median_ms"]
    lines = ["| operator | calls | total ms | total ms (AVX2) | per call: fastest / median ms | kernel |",
             "|---|---:|---:|---:|---:|---|"]
    for op, times in sorted(calls.items(), key=lambda kv: -sum(kv[1])):
        total = sum(times)
        if total < 1.0:
            continue
        lines.append(f"| {op} | {len(times)} | {_fmt(total)} | {_fmt(avx2_totals[op]) if avx2 else '-'} | "
                     f"{min(times):.3f} / {median(times):.3f} | {_kernel_kind(op)} |")
    outside = [m["refinterp_outside_operators_ms"] for m in _timed(report).values()]
    lines.append(f"| the interpreter loop, outside the operators | per invoke | {_fmt(sum(outside))} | | "
                 f"{min(outside):.3f} / {median(outside):.3f} | |")
    return lines


def slowest_table(report: dict, count: int | None) -> list[str]:
    rows = [(r, m) for m in _timed(report).values() if (r := _ratio(m)) is not None]
    rows.sort(key=lambda rm: rm[0])
    chosen = rows[:count] if count else [rm for rm in rows if rm[0] < 1.0]
    lines = ["| model | ops | refinterp ms | BUILTIN_REF ms | BUILTIN_REF / refinterp | where refinterp's time goes "
             "(type: calls, ms) |", "|---|---:|---:|---:|---:|---|"]
    for ratio, model in chosen:
        by_type: dict[str, list[float]] = defaultdict(list)
        for op in model["refinterp_per_op"]:
            by_type[op["op"]].append(op["median_ms"])
        top = sorted(by_type.items(), key=lambda kv: -sum(kv[1]))[:3]
        where = ", ".join(f"{op} {len(t)}: {sum(t):.3g}" for op, t in top)
        where += f", outside {model['refinterp_outside_operators_ms']:.3g}"
        lines.append(f"| {_short(model['model'])} | {model['ops']} | {_fmt(_median_ms(model, 'refinterp'))} | "
                     f"{_fmt(_median_ms(model, 'litert-ref'))} | {ratio:.2f} | {where} |")
    return lines


def before_after_table(before: dict, after: dict) -> list[str]:
    old, new = _timed(before), _timed(after)
    lines = ["| model | BUILTIN_REF / refinterp before | after | refinterp ms before | after |",
             "|---|---:|---:|---:|---:|"]
    logs_old, logs_new = [], []
    for name in sorted(set(old) & set(new)):
        r_old, r_new = _ratio(old[name]), _ratio(new[name])
        if r_old is None or r_new is None:
            continue
        logs_old.append(math.log(r_old))
        logs_new.append(math.log(r_new))
        lines.append(f"| {_short(name)} | {r_old:.2f} | {r_new:.2f} | {_fmt(_median_ms(old[name], 'refinterp'))} | "
                     f"{_fmt(_median_ms(new[name], 'refinterp'))} |")
    if logs_old:
        lines.append(f"| **geometric mean** ({len(logs_old)} models in both) | "
                     f"**{math.exp(sum(logs_old) / len(logs_old)):.2f}** | "
                     f"**{math.exp(sum(logs_new) / len(logs_new)):.2f}** | | |")
    only_new = sorted(set(new) - set(old))
    if only_new:
        lines.append("")
        lines.append("Timed only in the new run: " + ", ".join(_short(n) for n in only_new) + ".")
    return lines


def models_table(report: dict, avx2: dict | None) -> list[str]:
    """The per-model table of docs/performance.md: refinterp's and BUILTIN_REF's median ms, and each runtime's
    median over refinterp's (above 1: refinterp is faster); with ``avx2``, the forced-AVX2 run's columns."""
    other = _timed(avx2) if avx2 else {}
    head = "| model | ops | refinterp ms | BUILTIN_REF ms | BUILTIN_REF / refinterp | optimized / refinterp | " \
           "XNNPACK / refinterp |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if avx2:
        head += " refinterp ms (AVX2) | BUILTIN_REF / refinterp (AVX2) | optimized / refinterp (AVX2) |"
        rule += "---:|---:|---:|"
    lines = [head, rule]

    def ratio(model: dict | None, runtime: str) -> str:
        if model is None:
            return "-"
        theirs, ours = _median_ms(model, runtime), _median_ms(model, "refinterp")
        return f"{theirs / ours:.2f}" if theirs and ours else "-"

    for name, model in sorted(_timed(report).items(), key=lambda kv: _short(kv[0]).lower()):
        ref = _median_ms(model, "litert-ref")
        row = (f"| {_short(name)} | {model['ops']} | {_fmt(_median_ms(model, 'refinterp'))} | "
               f"{_fmt(ref) if ref else '-'} | {ratio(model, 'litert-ref')} | {ratio(model, 'litert')} | "
               f"{ratio(model, 'xnnpack')} |")
        if avx2:
            twin = other.get(name)
            ours = _median_ms(twin, "refinterp") if twin else None
            row += f" {_fmt(ours) if ours else '-'} | {ratio(twin, 'litert-ref')} | {ratio(twin, 'litert')} |"
        lines.append(row)
    return lines


def summary(report: dict) -> list[str]:
    ratios = [r for m in _timed(report).values() if (r := _ratio(m)) is not None]
    slower = sum(r < 1.0 for r in ratios)
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else float("nan")
    over_1ms = [r for m in _timed(report).values()
                if (r := _ratio(m)) is not None and _median_ms(m, "refinterp") >= 1.0]
    geomean_1ms = math.exp(sum(map(math.log, over_1ms)) / len(over_1ms)) if over_1ms else float("nan")
    return [f"{report['date']}: {len(_timed(report))} models timed, {len(ratios)} with a BUILTIN_REF time; "
            f"geometric mean BUILTIN_REF / refinterp {geomean:.2f}; {slower} slower than BUILTIN_REF; "
            f"over the {len(over_1ms)} taking refinterp at least 1 ms: {geomean_1ms:.2f}."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--avx2", type=Path, default=None)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--slowest", type=int, default=None)
    parser.add_argument("--models-table", action="store_true", help="also the per-model table")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    avx2 = json.loads(args.avx2.read_text()) if args.avx2 else None
    out = summary(report)
    if avx2:
        out += ["AVX2: " + summary(avx2)[0]]
    out += ["", *op_type_table(report, avx2), "", *slowest_table(report, args.slowest)]
    if args.models_table:
        out += ["", *models_table(report, avx2)]
    if args.before:
        out += ["", *before_after_table(json.loads(args.before.read_text()), report)]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
