"""refinterp on the third-party model corpus (../shared/models): every tensor against the official runtimes.

For each model of MANIFEST.tsv, on seeded inputs (one case per model, seed 0):

* LiteRT runs it (BUILTIN_REF): every tensor LiteRT gives is compared with refinterp's (profile
  "litert-ref"); and where TFLite Micro runs it too, every tensor TFLM gives is compared with refinterp's
  profile "tflm".
* LiteRT refuses it (person_detect: a 1-D bias with quantized_dimension 3): TFLM, profile "tflm".
* Neither reference runtime has one of its operators (the SSD models' TILE version 3): refinterp runs the
  whole model, and each of its operators is also run on the input tensors LiteRT's optimized kernels
  (BUILTIN_WITHOUT_DEFAULT_DELEGATES) produced (``Interpreter.run_operator``); operators that do not round
  (data movement, max pooling) must give exactly LiteRT's output there, the others are counted.
* Operators or dtypes refinterp does not implement yet: refinterp must refuse the model with an
  UnsupportedOpError naming the operator and its index; the table says "unsupported: OP".

Integer tensors must be equal. Float tensors are compared bit for bit and, where they differ, the largest
relative difference is measured and reported (float twins: summation order; see FLOAT_TOLERANCE).

    python benchmarks/corpus_table.py [--models DIR] [--out docs/corpus.md] [--no-tflm]

tests/test_corpus.py runs the same checks (``check_model``) and asserts on them.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from refinterp.errors import RefinterpError, UnsupportedOpError  # noqa: E402
from refinterp.interpreter import Interpreter  # noqa: E402
from refinterp.model import Model, load_model  # noqa: E402
from refinterp.runtimes import get_runtime  # noqa: E402
from refinterp.runtimes.base import RunResult  # noqa: E402

DEFAULT_MODELS = REPO.parent / "shared" / "models"
DEFAULT_OUT = REPO / "docs" / "corpus.md"

#: Operators that copy or select values without arithmetic: exact on any kernel family.
NON_ROUNDING_OPS = frozenset({"TILE", "PACK", "SHAPE", "STRIDED_SLICE", "RESHAPE", "CONCATENATION", "PAD", "PADV2",
                              "TRANSPOSE", "MAX_POOL_2D", "RESIZE_NEAREST_NEIGHBOR", "MINIMUM", "MAXIMUM"})
#: Float tensors may differ from LiteRT's by this relative amount (of the tensor's largest magnitude) where
#: the summation order differs; measured values are reported in the table.
FLOAT_TOLERANCE = 1e-4


@dataclass
class ManifestEntry:
    file: str
    io_dtype: str
    ops: str
    runs_in_litert: str

    @property
    def is_float_twin(self) -> bool:
        return "float twin" in self.io_dtype


@dataclass
class ModelReport:
    model: str
    ops: int
    oracle: str
    status: str  # "exact", "mismatch", "unsupported: OP", "float within tolerance", "error: ..."
    tensors_compared: int = 0
    mismatches: int = 0  # tensors that differ (beyond tolerance for float tensors)
    notes: list[str] = field(default_factory=list)
    float_max_rel: float = 0.0  # largest relative difference of a float tensor (0: bit-exact)
    rounding_op_mismatches: Counter = field(default_factory=Counter)  # isolated ops vs optimized kernels
    non_rounding_compared: int = 0  # isolated non-rounding ops compared exactly with the optimized kernels
    unsupported_op: tuple[int, str] | None = None  # (operator index, name) refinterp refused
    unsupported_message: str = ""
    seconds: float = 0.0
    op_names: tuple[str, ...] = ()


def read_manifest(models_dir: Path) -> list[ManifestEntry]:
    with open(models_dir / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return [ManifestEntry(row["file"], row["io_dtype"], row["ops"], row["runs_in_litert"])
                for row in csv.DictReader(f, delimiter="\t")]


#: Integer inputs that are indices, not values: the range the model can take (a wider draw makes every runtime
#: fail with "index out of bounds"). lyra/quantizer: codebook indices into its 16-entry tables.
INDEX_INPUT_RANGES = {"lyra/quantizer.tflite": (0, 15)}


def seeded_inputs(model: Model, seed: int = 0, index_range: tuple[int, int] | None = None) -> list[np.ndarray]:
    """One random value per model input: integers over their full range (or ``index_range``); a float input
    that feeds a QUANTIZE is drawn over that QUANTIZE's representable range, other floats are standard normal;
    the output-shape input of a TRANSPOSE_CONV is the output's declared shape."""
    rng = np.random.default_rng(seed)
    sg = model.subgraphs[0]
    consumers = {i: op for op in reversed(sg.operators) for i in op.inputs}
    values = []
    for index in sg.inputs:
        t = sg.tensors[index]
        if t.dtype is None:
            raise RefinterpError(f"input {index} has type {t.type_name}")
        consumer = consumers.get(index)
        if consumer is not None and consumer.name == "TRANSPOSE_CONV" and consumer.inputs[0] == index:
            # an output-shape input (seanet's transpose_conv*): the shape the model declares for the output
            values.append(np.array(sg.tensors[consumer.outputs[0]].shape, dtype=t.dtype).reshape(t.shape))
            continue
        if t.dtype.kind in "iu":
            info = np.iinfo(t.dtype)
            low, high = (max(info.min, -(2**15)), min(info.max, 2**15 - 1)) if t.dtype.itemsize > 2 else (
                info.min, info.max)
            if index_range is not None:
                low, high = index_range
            values.append(rng.integers(low, high + 1, size=t.shape).astype(t.dtype))
            continue
        out = sg.tensors[consumer.outputs[0]] if consumer is not None and consumer.name == "QUANTIZE" else None
        if out is not None and out.quantization is not None and out.dtype is not None:
            scale, zp = float(out.quantization.scale[0]), int(out.quantization.zero_point[0])
            info = np.iinfo(out.dtype)
            q = rng.integers(info.min, info.max + 1, size=t.shape)
            values.append(((q - zp) * scale + rng.uniform(-0.5, 0.5, t.shape) * scale).astype(t.dtype))
        else:
            values.append(rng.standard_normal(t.shape).astype(t.dtype))
    return values


def _unsupported_op(model: Model, message: str) -> tuple[int, str] | None:
    """(index, name) of the operator an UnsupportedOpError message names, if it names one correctly."""
    found = re.match(r"operator (\d+)[: (']+((?:CUSTOM:)?[A-Za-z0-9_]+)", message)
    if not found:
        return None
    index, name = int(found.group(1)), found.group(2)
    ops = model.subgraphs[0].operators
    return (index, name) if index < len(ops) and ops[index].name == name else None


def _float_rel_diff(expected: np.ndarray, got: np.ndarray) -> float:
    e, g = expected.astype(np.float64), got.astype(np.float64)
    both_nan = np.isnan(e) & np.isnan(g)
    diff = np.where(both_nan, 0.0, np.abs(e - g))
    if np.isnan(diff).any():
        return float("inf")
    scale = max(float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)), np.finfo(np.float32).tiny)
    return float(np.max(diff, initial=0.0)) / scale


def compare_tensors(model: Model, expected: dict[int, np.ndarray], got: dict[int, np.ndarray],
                    report: ModelReport, runtime: str, subgraph: int = 0) -> None:
    """Compare every non-constant tensor of one subgraph both runs hold; record counts and the first
    differences."""
    sg = model.subgraphs[subgraph]
    for index, want in sorted(expected.items()):
        if index >= len(sg.tensors) or sg.tensors[index].is_constant or index not in got:
            continue
        have = got[index]
        report.tensors_compared += 1
        if have.shape != want.shape or have.dtype != want.dtype:
            report.mismatches += 1
            report.notes.append(f"{runtime}: tensor {index} is {have.dtype}{list(have.shape)}, "
                                f"expected {want.dtype}{list(want.shape)}")
            continue
        if want.dtype.kind == "f":
            unsigned = np.dtype(f"u{want.dtype.itemsize}")
            if np.array_equal(np.ascontiguousarray(want).view(unsigned), np.ascontiguousarray(have).view(unsigned)):
                continue
            rel = _float_rel_diff(want, have)
            report.float_max_rel = max(report.float_max_rel, rel)
            if rel > FLOAT_TOLERANCE:
                report.mismatches += 1
                report.notes.append(f"{runtime}: float tensor {index} differs by {rel:.2g} (relative)")
            continue
        differs = want != have
        if differs.any():
            report.mismatches += 1
            producer = next((op for op in sg.operators if index in op.outputs), None)
            where = f" ({producer.name} #{producer.index})" if producer is not None else ""
            report.notes.append(f"{runtime}: tensor {index}{where}: {int(differs.sum())}/{differs.size} "
                                "elements differ")


def _tflm_arena(model: Model) -> int:
    """A generous fixed arena: with one given, the tflm adapter does not retry ever larger arenas (up to 8 GB)
    when TFLM refuses a model for another reason (a missing operator)."""
    activations = sum(t.nbytes + 16 for t in model.subgraphs[0].tensors if not t.is_constant)
    return 2 * activations + (1 << 20)


def _reason(exc: BaseException) -> str:
    """A runtime's refusal, without the model path: the first sentence after 'cannot load PATH:'."""
    text = str(exc)
    for marker in (".tflite: ", " bytes: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.split(". ")[0][:100]


def _bytes(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value).reshape(-1).view(np.uint8)


#: invokes of one interpreter for a stateful model (variable tensors, resource variables, several subgraphs)
STATEFUL_INVOKES = 3


def is_stateful(model: Model) -> bool:
    """State that carries from one invoke to the next (LSTM/SVDF/RNN variables, resource variables) or
    subgraphs beyond the first: such a model is checked over several invokes, every subgraph."""
    return len(model.subgraphs) > 1 or any(t.is_variable for sg in model.subgraphs for t in sg.tensors) or any(
        op.name in ("VAR_HANDLE", "CALL_ONCE") for sg in model.subgraphs for op in sg.operators)


def compare_series(model: Model, expected: list[RunResult], got: list[RunResult], report: ModelReport,
                   runtime: str) -> None:
    """Every tensor of every subgraph after each invoke of a series."""
    for step, (want, have) in enumerate(zip(expected, got)):
        label = runtime if len(expected) == 1 else f"{runtime} invoke {step + 1}"
        compare_tensors(model, want.tensors, have.tensors, report, label)
        for subgraph in range(1, len(model.subgraphs)):
            compare_tensors(model, {i: v for (s, i), v in want.subgraph_tensors.items() if s == subgraph},
                            {i: v for (s, i), v in have.subgraph_tensors.items() if s == subgraph}, report,
                            f"{label} subgraph {subgraph}", subgraph)


def _refinterp_series(path: Path, series: list[list[np.ndarray]], profile: str) -> list[RunResult]:
    return get_runtime("refinterp", profile=profile).run_series(str(path), series)


def _check_isolated_ops(path: Path, model: Model, inputs: list[np.ndarray], report: ModelReport) -> None:
    """Each operator of refinterp run on the input tensors LiteRT's optimized kernels produced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        litert = get_runtime("litert").run(str(path), inputs).tensors
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    for index, value in zip(model.subgraphs[0].inputs, inputs):
        interpreter.set_tensor(index, value)
    interpreter.invoke()  # the whole model runs too (its outputs have no exact oracle)
    sg = model.subgraphs[0]
    for op in sg.operators:
        op_inputs = [None if i < 0 else (sg.tensors[i].data if sg.tensors[i].is_constant else litert.get(i))
                     for i in op.inputs]
        if any(v is None for i, v in zip(op.inputs, op_inputs) if i >= 0):
            report.notes.append(f"{op.name} #{op.index}: LiteRT did not give every input")
            continue
        outputs = interpreter.run_operator(op.index, op_inputs)
        for tensor_index, have in zip(op.outputs, outputs):
            want = litert.get(tensor_index)
            if want is None:
                continue
            report.tensors_compared += 1
            report.non_rounding_compared += op.name in NON_ROUNDING_OPS
            same = (have.shape == want.shape and have.dtype == want.dtype
                    and np.array_equal(_bytes(want), _bytes(have)))
            if same:
                continue
            if op.name in NON_ROUNDING_OPS:
                report.mismatches += 1
                report.notes.append(f"{op.name} #{op.index} (does not round) differs from LiteRT's optimized kernel")
            else:
                report.rounding_op_mismatches[op.name] += 1


def check_model(models_dir: Path, entry: ManifestEntry, seed: int = 0, use_tflm: bool = True) -> ModelReport:
    """Run one corpus model through every applicable check; never raises for a model-level finding."""
    started = time.perf_counter()
    path = models_dir / entry.file
    model = load_model(path)
    ops = model.subgraphs[0].operators
    report = ModelReport(entry.file, len(ops), oracle="", status="", op_names=tuple(op.name for op in ops))
    inputs = seeded_inputs(model, seed, INDEX_INPUT_RANGES.get(entry.file))
    series = [inputs] + [seeded_inputs(model, seed + step, INDEX_INPUT_RANGES.get(entry.file))
                         for step in range(1, STATEFUL_INVOKES if is_stateful(model) else 1)]
    litert_runs = entry.runs_in_litert.startswith("yes")  # "yes (a note)" is a yes too
    try:
        # the profile of the runtime that will judge: LiteRT's refusals (person_detect) are refinterp's under it
        Interpreter(model_path=str(path), profile="litert-ref" if litert_runs else "tflm").allocate_tensors()
    except UnsupportedOpError as exc:
        report.oracle = "-"
        report.unsupported_message = str(exc)
        report.unsupported_op = _unsupported_op(model, str(exc))
        name = report.unsupported_op[1] if report.unsupported_op else "?"
        report.status = f"unsupported: {name}"
        report.notes.append(str(exc).split(": ", 1)[-1])
        report.seconds = time.perf_counter() - started
        return report
    oracles = []
    if litert_runs:
        try:
            reference = get_runtime("litert-ref").run_series(str(path), series)
        except RefinterpError as exc:
            litert_runs = False
            report.notes.append(f"litert-ref refuses it: {_reason(exc)}")
        else:
            compare_series(model, reference, _refinterp_series(path, series, "litert-ref"), report, "litert-ref")
            oracles.append("litert-ref")
    if use_tflm or not litert_runs:
        try:
            Interpreter(model_path=str(path), profile="tflm").allocate_tensors()
            no_profile = None
        except UnsupportedOpError as exc:  # an operator refinterp follows LiteRT only for (no TFLM profile)
            no_profile = str(exc).split(": ", 1)[-1]
        except RefinterpError:  # refused as TFLM refuses it: TFLM's own run below says so
            no_profile = None
        if no_profile is not None:
            report.notes.append(f"no tflm check: {no_profile}")
        else:
            try:
                micro = get_runtime("tflm", arena_size=_tflm_arena(model)).run_series(str(path), series)
            except RefinterpError as exc:
                report.notes.append(f"tflm refuses it: {_reason(exc)}")
            else:
                compare_series(model, micro, _refinterp_series(path, series, "tflm"), report, "tflm")
                oracles.append("tflm")
    if not oracles:
        _check_isolated_ops(path, model, inputs, report)
        oracles.append("litert (optimized), per op")
    report.oracle = " + ".join(oracles)
    if report.mismatches:
        report.status = "mismatch"
    elif report.float_max_rel > 0:
        report.status = "float within tolerance"
    elif report.rounding_op_mismatches:
        report.status = "exact where it must be"
    else:
        report.status = "exact"
    report.seconds = time.perf_counter() - started
    return report


def check_seanet(models_dir: Path, use_tflm: bool = True) -> list[ModelReport]:
    """The 127 single-op int16x8 models, each run and checked like any other model."""
    return [check_model(models_dir, ManifestEntry(f"seanet-int16/{path.name}", "int16->int16", "", "yes"),
                        use_tflm=use_tflm)
            for path in sorted((models_dir / "seanet-int16").glob("*.tflite"))]


def markdown(reports: list[ModelReport], seanet: list[ModelReport]) -> str:
    lines = [
        "# refinterp on the model corpus",
        "",
        "Generated by `python benchmarks/corpus_table.py` (the checks of `tests/test_corpus.py`) on the models of",
        "`../shared/models` (MANIFEST.tsv), one seeded input per model. *tensors* counts the non-constant",
        "tensors compared (per oracle; for the per-op check, the operator outputs); *mismatches* the tensors",
        "that differ (integers: any element; floats: beyond the relative tolerance "
        f"{FLOAT_TOLERANCE:g}; any bit difference shows in *float max rel*).",
        "",
        "The SSD models have TILE version 3, which neither LiteRT's BUILTIN_REF resolver nor TFLM has (TFLM's",
        "log: \"Didn't find op for builtin opcode 'TILE'\"): their operators are checked one by one on the",
        "input tensors of LiteRT's optimized kernels, where those that do not round must match exactly.",
        "",
        "| model | ops | oracle | tensors | mismatches | float max rel | status | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        notes = list(r.notes)
        if r.rounding_op_mismatches:
            notes.insert(0, "rounding ops differing from the optimized kernels: "
                         + ", ".join(f"{k} x{v}" for k, v in sorted(r.rounding_op_mismatches.items())))
        text = "; ".join(notes).replace("|", "\\|")
        rel = f"{r.float_max_rel:.1e}" if r.float_max_rel else "0"
        lines.append(f"| {r.model} | {r.ops} | {r.oracle} | {r.tensors_compared} | {r.mismatches} | {rel} | "
                     f"{r.status} | {text} |")
    if seanet:
        by_status = Counter(r.status for r in seanet)
        compared = sum(r.tensors_compared for r in seanet)
        lines += ["", f"seanet-int16/: {len(seanet)} single-op int16x8 models: "
                  + ", ".join(f"{status} x{n}" for status, n in sorted(by_status.items()))
                  + f"; {compared} tensors compared with litert-ref and tflm, "
                  f"{sum(r.mismatches for r in seanet)} mismatches."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tflm", action="store_true", help="skip TFLM where LiteRT runs the model")
    parser.add_argument("--only", help="only models whose file name contains this")
    args = parser.parse_args(argv)
    if not (args.models / "MANIFEST.tsv").exists():
        print(f"no corpus at {args.models} (MANIFEST.tsv missing)", file=sys.stderr)
        return 2
    reports = []
    for entry in read_manifest(args.models):
        if args.only and args.only not in entry.file:
            continue
        report = check_model(args.models, entry, args.seed, use_tflm=not args.no_tflm)
        print(f"{report.model}: {report.status} ({report.tensors_compared} tensors, {report.mismatches} "
              f"mismatches, {report.seconds:.1f}s)", file=sys.stderr)
        reports.append(report)
    seanet = check_seanet(args.models, use_tflm=not args.no_tflm) if not args.only else []
    text = markdown(reports, seanet)
    if not args.only:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 1 if any(r.status == "mismatch" for r in reports + seanet) else 0


if __name__ == "__main__":
    sys.exit(main())
