"""The emulation profiles against the runtimes they emulate: the golden model and every corpus model.

For each model (golden/yolov3_tiny_int8.tflite on its golden inputs, then every model of
../shared/models/MANIFEST.tsv on seeded inputs, seed 0) and each emulation profile:

* ``litert-opt`` against ``get_runtime("litert")`` (LiteRT 2.3.0, BUILTIN_WITHOUT_DEFAULT_DELEGATES: the
  optimized builtin kernels of this CPU);
* ``xnnpack`` against ``get_runtime("xnnpack")`` (LiteRT + the XNNPACK delegate, one delegate node per operator).

Two comparisons, integer tensors exactly and float tensors bit for bit:

* whole model: ``Interpreter(profile=P)`` on the same inputs, every tensor the runtime gives;
* isolated: each operator of subgraph 0 rerun alone (``Interpreter.run_operator``) on the runtime's own input
  tensors, its outputs against the runtime's: which operators' rules are reproduced, independently of what
  happened upstream.

    python benchmarks/emulation_check.py [--models DIR] [--profile P ...] [--only SUBSTRING ...] [--int8-only]
        [--out PATH.md] [--json PATH] [--from-json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.corpus_table import DEFAULT_MODELS, INDEX_INPUT_RANGES, read_manifest, seeded_inputs  # noqa: E402
from refinterp.errors import RefinterpError  # noqa: E402
from refinterp.interpreter import Interpreter  # noqa: E402
from refinterp.io.arrays import load_npy  # noqa: E402
from refinterp.model import load_model  # noqa: E402
from refinterp.ops.emulation.xnnpack import TABLE as XNNPACK_TABLE  # noqa: E402
from refinterp.ops.emulation.xnnpack import is_delegated  # noqa: E402
from refinterp.ops.emulation.xnnpack_float import static_dequantize  # noqa: E402
from refinterp.runtimes import get_runtime  # noqa: E402

GOLDEN = REPO / "golden" / "yolov3_tiny_int8.tflite"
GOLDEN_INPUTS = REPO / "golden" / "yolov3_tiny_int8" / "inputs"
#: emulation profile -> the runtime it emulates
RUNTIMES = {"litert-opt": "litert", "xnnpack": "xnnpack"}


@dataclass
class ProfileReport:
    model: str
    profile: str
    status: str = ""  # "exact", "differs", "float: N tensors not bit-exact", "error: ..."
    tensors: int = 0
    tensors_exact: int = 0
    first_mismatch: str = ""  # "op N NAME" of the first operator (in graph order) whose output differs
    ops: int = 0
    ops_exact: int = 0  # isolated
    isolated_mismatches: Counter = field(default_factory=Counter)  # op name -> operators that differ in isolation
    #: xnnpack: operators whose delegation refinterp decides differently from the delegate (None: not checked)
    delegation_wrong: list[str] | None = None
    int_tensors: int = 0
    int_tensors_exact: int = 0
    seconds: float = 0.0


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        unsigned = np.dtype(f"u{a.dtype.itemsize}")
        return bool(np.array_equal(np.ascontiguousarray(a).view(unsigned), np.ascontiguousarray(b).view(unsigned)))
    return bool(np.array_equal(a, b))


def forked(function):
    """``function()`` in a child process (LiteRT may crash on a model: that becomes a RuntimeError here)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = function()
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            result = RuntimeError(" ".join(str(exc).split())[:200])
        with os.fdopen(write, "wb") as f:
            f.write(pickle.dumps(result))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return RuntimeError(f"the runtime crashed (wait status {status})")
    return pickle.loads(data)


#: float32 operators whose delegation the xnnpack profile decides (float input, weights and output)
FLOAT_DECIDED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


#: 8-bit operators whose delegation the xnnpack profile does not decide: the delegate's lookup table equals
#: LiteRT's on every generated case (docs/profiles.md), so the reference kernel runs either way
UNDECIDED_8BIT = ("LOGISTIC", "TANH", "ELU")


def _decision_emulated(sg, op) -> bool:
    """Whether the xnnpack profile decides this operator's delegation: 8-bit outputs (but ``UNDECIDED_8BIT``),
    and all-float32 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (not the hybrid ones: int8 weights, float
    activations)."""
    if sg.tensors[op.outputs[0]].type_name in ("int8", "uint8"):
        return op.name not in UNDECIDED_8BIT
    return op.name in FLOAT_DECIDED and all(sg.tensors[i].type_name == "float32" for i in op.inputs[:2] if i >= 0) \
        and sg.tensors[op.outputs[0]].type_name == "float32"


def check_model(model_path: Path, inputs: list[np.ndarray], profile: str, name: str) -> ProfileReport:
    report = ProfileReport(name, profile)
    started = time.perf_counter()
    model = load_model(str(model_path))
    sg = model.subgraphs[0]
    expected = forked(lambda: get_runtime(RUNTIMES[profile]).run(str(model_path), inputs).tensors)
    if isinstance(expected, Exception):
        report.status = f"runtime error: {str(expected)[:80]}"
        return report
    try:
        interpreter = Interpreter(model_path=str(model_path), profile=profile)
        interpreter.allocate_tensors()
        for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
    except RefinterpError as exc:
        report.status = f"error: {str(exc)[:100]}"
        return report
    producers = {i: op for op in sg.operators for i in op.outputs}
    #: xnnpack: the float32 weights the delegate converts from float16 constants (their values: refinterp's, exact)
    folded = {i for i, op in producers.items() if profile == "xnnpack" and static_dequantize(sg, op)}
    first = None
    for index, want in sorted(expected.items()):
        tensor = sg.tensors[index]
        if tensor.is_constant or index not in producers:
            continue
        if profile == "xnnpack" and static_dequantize(sg, producers[index]):
            continue  # folded into the delegate's static weights: LiteRT never writes it
        try:
            have = interpreter.get_tensor(index)
        except (RefinterpError, ValueError):
            continue
        report.tensors += 1
        exact = _equal(want, have)
        report.tensors_exact += exact
        if want.dtype.kind != "f":
            report.int_tensors += 1
            report.int_tensors_exact += exact
        if not exact:
            op = producers[index]
            if first is None or op.index < first.index:
                first = op
    if first is not None:
        report.first_mismatch = f"op {first.index} {first.name}"
    # isolated: every operator on the runtime's own inputs (not the stateful ones: their state inputs hold the
    # values after the invoke)
    for op in sg.operators:
        if any(i >= 0 and not sg.tensors[i].is_constant and i not in expected for i in op.inputs) or \
                any(i >= 0 and i not in expected for i in op.outputs) or \
                any(i >= 0 and sg.tensors[i].is_variable for i in op.inputs):
            continue
        if profile == "xnnpack" and static_dequantize(sg, op):
            continue
        values = [None if i < 0 else (sg.tensors[i].data if sg.tensors[i].is_constant else
                                      interpreter.get_tensor(i) if i in folded else expected[i])
                  for i in op.inputs]
        report.ops += 1
        try:
            outputs = interpreter.run_operator(op.index, values)
        except RefinterpError:
            report.isolated_mismatches[op.name + " (refused)"] += 1
            continue
        if all(_equal(expected[i], out) for i, out in zip(op.outputs, outputs) if i >= 0):
            report.ops_exact += 1
        else:
            report.isolated_mismatches[op.name] += 1
    if profile == "xnnpack":
        delegated = forked(lambda: get_runtime("xnnpack").delegated_operators(str(model_path)))
        if not isinstance(delegated, Exception):
            report.delegation_wrong = [
                f"op {op.index} {op.name} ({'delegated' if taken else 'not delegated'})"
                for op, taken in zip(sg.operators, delegated)
                if op.name in XNNPACK_TABLE and op.index < len(interpreter._main.prepared) and
                _decision_emulated(sg, op) and
                is_delegated(interpreter._main.prepared[op.index].params) != taken]
    floats_off = report.tensors - report.tensors_exact - (report.int_tensors - report.int_tensors_exact)
    if report.tensors_exact == report.tensors:
        report.status = "exact"
    elif report.int_tensors_exact == report.int_tensors:
        report.status = f"int exact; {floats_off} float tensors not bit-exact"
    else:
        report.status = "differs"
    report.seconds = time.perf_counter() - started
    return report


def models(models_dir: Path, only: list[str], int8_only: bool) -> list[tuple[str, Path, list[np.ndarray]]]:
    found = []
    if not only or any(s in "golden/yolov3_tiny_int8" for s in only):
        found.append(("golden/yolov3_tiny_int8", GOLDEN, [load_npy(GOLDEN_INPUTS / "random.npy")]))
    entries = read_manifest(models_dir)
    # int8 models first
    entries.sort(key=lambda e: (e.is_float_twin or e.io_dtype.startswith("float32"), e.file))
    for entry in entries:
        if only and not any(s in entry.file for s in only):
            continue
        if int8_only and (entry.is_float_twin or entry.io_dtype.startswith("float32->float32")):
            continue
        path = models_dir / entry.file
        if not path.exists() or not entry.runs_in_litert.startswith("yes"):
            continue
        model = load_model(str(path))
        try:
            inputs = seeded_inputs(model, 0, INDEX_INPUT_RANGES.get(entry.file))
        except RefinterpError:
            continue
        found.append((entry.file, path, inputs))
    return found


def _cell(r: ProfileReport) -> str:
    if r.status.startswith("runtime error"):
        return "the runtime crashes"
    if r.status.startswith("error"):
        return "refused by refinterp (" + r.status.split(": ", 2)[-1].split(":")[0][:60].strip() + ")"
    if r.status == "exact":
        return f"exact ({r.tensors_exact}/{r.tensors})"
    floats = r.tensors - r.int_tensors
    return (f"integer {r.int_tensors_exact}/{r.int_tensors}; float {r.tensors - r.tensors_exact}/{floats} "
            "not bit-exact")


def summary(reports: list[ProfileReport]) -> str:
    lines = ["| profile | models | all tensors exact | integer tensors exact, float ones not | other | integer tensors "
             "exact | delegation decisions wrong |", "|---|---|---|---|---|---|---|"]
    for profile in RUNTIMES:
        rows = [r for r in reports if r.profile == profile]
        if not rows:
            continue
        exact = sum(r.status == "exact" for r in rows)
        int_exact = sum(r.status.startswith("int exact") for r in rows)
        wrong = sum(len(r.delegation_wrong or ()) for r in rows) if profile == "xnnpack" else "-"
        lines.append(f"| {profile} | {len(rows)} | {exact} | {int_exact} | {len(rows) - exact - int_exact} | "
                     f"{sum(r.int_tensors_exact for r in rows)}/{sum(r.int_tensors for r in rows)} | {wrong} |")
    return "\n".join(lines)


def table(reports: list[ProfileReport]) -> str:
    """One row per model: each profile's result and the first operator (graph order) whose output differs."""
    by = {(r.model, r.profile): r for r in reports}
    models = list(dict.fromkeys(r.model for r in reports))
    lines = ["| model | litert-opt vs LiteRT optimized kernels | xnnpack vs LiteRT + XNNPACK | "
             "first differing operator (litert-opt / xnnpack) |", "|---|---|---|---|"]
    for model in models:
        cells, firsts = [], []
        for profile in RUNTIMES:
            r = by.get((model, profile))
            cells.append(_cell(r) if r is not None else "-")
            firsts.append((r.first_mismatch or "-") if r is not None else "-")
        lines.append(f"| {model} | {cells[0]} | {cells[1]} | {' / '.join(firsts)} |")
    return "\n".join(lines)


def _from_json(path: Path) -> list[ProfileReport]:
    reports = []
    for row in json.loads(path.read_text(encoding="utf-8")):
        row["isolated_mismatches"] = Counter(row["isolated_mismatches"])
        reports.append(ProfileReport(**row))
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--profile", action="append", choices=sorted(RUNTIMES))
    parser.add_argument("--only", action="append", default=[], help="models whose path contains this")
    parser.add_argument("--int8-only", action="store_true", help="skip float models")
    parser.add_argument("--out", type=Path, help="write the table (markdown) here")
    parser.add_argument("--json", type=Path, help="write the reports as JSON here")
    parser.add_argument("--from-json", type=Path, help="render the tables of an earlier --json run (no runtime)")
    args = parser.parse_args(argv)
    profiles = args.profile or list(RUNTIMES)
    reports = _from_json(args.from_json) if args.from_json else []
    for name, path, inputs in ([] if args.from_json else models(args.models, args.only, args.int8_only)):
        for profile in profiles:
            report = check_model(path, inputs, profile, name)
            reports.append(report)
            differ = dict(report.isolated_mismatches)
            print(f"{name} {profile}: {report.status}, tensors {report.tensors_exact}/{report.tensors}, "
                  f"first {report.first_mismatch or '-'}, isolated {report.ops_exact}/{report.ops} {differ} "
                  f"delegation wrong {report.delegation_wrong} ({report.seconds:.1f}s)", flush=True)
    text = summary(reports) + "\n\n" + table(reports)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "isolated_mismatches": dict(r.isolated_mismatches)}
                                         for r in reports], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
