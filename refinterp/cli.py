"""The ``refinterp`` command: run, inspect, compare, golden, ops, qerror, bench.

Every subcommand returns an exit status. A RefinterpError (bad file, unsupported op, wrong input) prints
one line ``refinterp: error: ...`` and exits 2; there is no traceback for those.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from refinterp.errors import InputError, RefinterpError
from refinterp.io import load_npy, model_input_specs, save_npz_deterministic, seeded_inputs
from refinterp.ops.common import ALL_PROFILES, base_profile
from refinterp.tools.arguments import EXIT_ERROR, EXIT_OK, ArgumentParser
from refinterp.tools.progress import StatusLine

#: a terminal shows the progress line once a run has lasted this long (a quick run shows nothing)
PROGRESS_AFTER_SECONDS = 1.0
#: without a terminal (a log, CI), progress lines start after this long, and come at most this often
PROGRESS_LOG_AFTER_SECONDS = 3.0
PROGRESS_LOG_INTERVAL_SECONDS = 5.0
#: what a cold numba cache costs refinterp's first run of the golden model on a 2-core machine, rounded up
#: (docs/performance.md "Start-up": 7.9 s while the conv self-test compiled its kernels a second time; a third less
#: compile time since)
COLD_COMPILE_SECONDS = 6
CONV_BACKEND_WORDS = {"vnni": "the AVX-512 VNNI micro-kernel", "avxvnni": "the AVX-VNNI micro-kernel",
                      "avx2": "the exact AVX2 int16 micro-kernel", "blas32": "the exact float32 BLAS GEMM",
                      "blas64": "the float64 BLAS GEMM"}


# --------------------------------------------------------------------------------------------------
# What runs: the kernel set, the convolution backend and why, the threads, numba's cache


def kernels_to_compile(model: Any, kernels: str = "fast") -> list[str]:
    """The fast-kernel modules this model needs that numba's on-disk cache cannot serve: numba will compile
    them before (or while) the model runs. Empty when the cache is warm, for ``kernels="spec"``, and when
    numba's internals are not what this function expects (then nothing is announced).

    It reads numba's cache index (the ``.nbi`` files in ``__pycache__``, or under ``NUMBA_CACHE_DIR``) of
    every ``cache=True`` kernel in the modules of the model's fast kernels. A module counts as compiled when
    at least one of its kernels has an entry for this CPU in an index that is current (same numba, source
    file unchanged since): a module's kernels for other dtypes or other backends may never have been needed.
    """
    if kernels != "fast":
        return []
    from refinterp.registry import lookup

    modules: set[str] = set()
    for op in model.subgraphs[0].operators:
        opdef = lookup(op.name)
        if opdef is not None and opdef.fast is not None:
            modules.update(f.__module__ for f in (opdef.fast, opdef.fast_prepare) if f is not None)
    cold = []
    try:
        from numba.core.caching import Cache
        from numba.core.dispatcher import Dispatcher

        for name in sorted(modules):
            module = sys.modules.get(name)
            dispatchers = [value for value in vars(module).values() if isinstance(value, Dispatcher)
                           and value.py_func.__module__ == name and isinstance(getattr(value, "_cache", None), Cache)]
            if dispatchers and not any(_cache_serves(d) for d in dispatchers):
                cold.append(name.rsplit(".", 1)[-1])
    except Exception:  # noqa: BLE001 - numba's private cache API moved: say nothing rather than fail the run
        return []
    return cold


def _cache_serves(dispatcher: Any) -> bool:
    machine = dispatcher.targetctx.codegen().magic_tuple()
    return any(key[1] == machine for key in dispatcher._cache._cache_file._load_index())


def conv_backend_choice() -> tuple[str, str]:
    """The int8 CONV_2D backend ``refinterp.ops.fast.conv.explain_backend()`` picks, what it is and why."""
    from refinterp.ops.fast import conv as conv_fast

    backend, reason = conv_fast.explain_backend()
    return backend, f"{CONV_BACKEND_WORDS.get(backend, f'the {backend} micro-kernel')} ({reason})"


def kernel_choice_lines(model: Any, kernels: str, num_threads: int | None, threads_used: int) -> list[str]:
    """What ``refinterp run`` runs on this model, and why: kernel set, conv backend, threads."""
    import numba

    from refinterp.registry import lookup

    operators = model.subgraphs[0].operators
    opdefs = [lookup(op.name) for op in operators]
    if kernels == "fast":
        fast = sum(1 for d in opdefs if d is not None and d.fast is not None)
        rest = len(operators) - fast
        lines = [f"kernels: fast: numba for {fast} of {len(operators)} operators"
                 + (f", NumPy spec for {rest} (data movement)" if rest else "")]
        if any(op.name == "CONV_2D" and _is_int8_conv(model, op) for op in operators):
            backend, why = conv_backend_choice()
            lines.append(f"conv:    {backend}, {why}")
    else:
        lines = ["kernels: spec: the readable NumPy kernel of every operator (--kernels fast: numba)"]
    available = numba.config.NUMBA_NUM_THREADS
    if num_threads is None:
        why = "every core numba sees; --num-threads N to change"
    elif num_threads > available:
        why = f"--num-threads {num_threads}, capped at the {available} cores numba sees"
    else:
        why = f"--num-threads {num_threads}"
    lines.append(f"threads: {threads_used} ({why})")
    return lines


def _is_int8_conv(model: Any, op: Any) -> bool:
    tensors = model.subgraphs[0].tensors
    return bool(op.inputs) and op.inputs[0] >= 0 and tensors[op.inputs[0]].type_name == "int8"


def _kernel_name(model: Any, op: Any, kernels: str, profile: str, backend: str | None) -> str:
    from refinterp.registry import lookup

    opdef = lookup(op.name)
    if opdef is None:
        return "unsupported"
    if base_profile(profile) not in opdef.profiles:
        return f"no {profile}"
    if kernels != "fast" or opdef.fast is None:
        return "spec"
    if op.name == "CONV_2D" and backend is not None and _is_int8_conv(model, op):
        return f"numba {backend}"
    return "numba"


class OperatorProgress(StatusLine):
    """``operator 12/34 CONV_2D`` on stderr while a run is slow; nothing at all for a quick one.

    Use it as the Interpreter's ``progress`` callback. On a terminal the line is redrawn in place (at most
    ten times a second) once the run has lasted :data:`PROGRESS_AFTER_SECONDS`; elsewhere (a log, CI) a
    plain line is written at most every :data:`PROGRESS_LOG_INTERVAL_SECONDS`, from
    :data:`PROGRESS_LOG_AFTER_SECONDS` on. The line names the operator about to run, so while numba
    compiles a kernel the line shows which one.
    """

    after = PROGRESS_AFTER_SECONDS
    log_after = PROGRESS_LOG_AFTER_SECONDS
    log_interval = PROGRESS_LOG_INTERVAL_SECONDS

    def __call__(self, stage: str, position: int, total: int, op: Any) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        text = f"{'preparing ' if stage == 'prepare' else ''}operator {position + 1}/{total} {op.name}"
        self.show(f"{text}  {elapsed:.0f} s"[:99], f"refinterp: {text} ({elapsed:.0f} s)")


def _announce_compilation(model: Any, kernels: str, stream: TextIO, only: str | None = None) -> None:
    """One line on stderr before numba compiles (the first run on a machine sits silent for seconds)."""
    cold = kernels_to_compile(model, kernels)
    if only is not None:
        cold = [name for name in cold if name == only]
    if not cold:
        return
    everything = len(cold) >= 3 and only is None
    stream.write(f"refinterp: compiling kernels ({', '.join(cold)}) for this machine, once: "
                 f"{f'about {COLD_COMPILE_SECONDS} s' if everything else 'a few seconds'}\n")
    stream.flush()


# --------------------------------------------------------------------------------------------------
# run


def _output_path(path: str) -> Path:
    """--output checked before anything runs: its directory is created; a directory or a bad place is one line."""
    output = Path(path)
    if output.is_dir():
        raise InputError(f"--output {path}: is a directory (give a file name, e.g. {output / 'outputs.npz'})")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--output {path}: cannot create directory {output.parent} "
                         f"({exc.strerror or exc})") from None
    return output


def _cmd_run(argv: Sequence[str]) -> int:
    from refinterp.interpreter import Interpreter

    parser = ArgumentParser(prog="refinterp run", description="Run a .tflite model and print (or save) its "
                            "outputs; every intermediate tensor is kept and can be saved too.")
    parser.add_argument("model", help="the .tflite model")
    parser.add_argument("--input", action="append", default=[], metavar="X.npy",
                        help="one .npy per model input, in order (default: seeded random inputs)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the random inputs when no --input is given (default 0)")
    parser.add_argument("--output", metavar="OUT.npz",
                        help="write the outputs, keyed t<tensor index>, to this .npz (its directory is created)")
    parser.add_argument("--all-tensors", action="store_true",
                        help="with --output: save every tensor (inputs, constants, intermediates), not just outputs")
    parser.add_argument("--profile", default="litert-ref", choices=ALL_PROFILES,
                        help="whose integer rules to follow: LiteRT's reference kernels (default), TFLite Micro, "
                        "or an emulation of LiteRT's optimized kernels (litert-opt) or XNNPACK (docs/profiles.md)")
    parser.add_argument("--kernels", default="fast", choices=["fast", "spec"],
                        help="fast: numba kernels (default); spec: the readable NumPy kernels (slow, same results)")
    parser.add_argument("--num-threads", type=int, default=None, metavar="N",
                        help="threads for the numba kernels (default: every core numba sees)")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress line on stderr")
    parser.add_argument("--max-tensor-bytes", metavar="SIZE",
                        help="refuse a tensor larger than this (bytes, or 512MiB, 4GiB; default 2GiB or "
                             "$REFINTERP_MAX_TENSOR_BYTES)")
    parser.add_argument("--max-total-bytes", metavar="SIZE",
                        help="refuse a run whose kept tensors exceed this (default 8GiB or half the memory, or "
                             "$REFINTERP_MAX_TOTAL_BYTES)")
    args = parser.parse_args(argv)

    interpreter = Interpreter(model_path=args.model, num_threads=args.num_threads, profile=args.profile,
                              kernels=args.kernels, max_tensor_bytes=args.max_tensor_bytes,
                              max_total_bytes=args.max_total_bytes)
    output = _output_path(args.output) if args.output else None
    _announce_compilation(interpreter.model, args.kernels, sys.stderr)
    for line in kernel_choice_lines(interpreter.model, args.kernels, args.num_threads, interpreter.num_threads):
        print(line)
    progress = OperatorProgress(enabled=not args.no_progress)
    interpreter.progress = progress
    try:
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()
        if args.input:
            if len(args.input) != len(details):
                raise InputError(f"the model has {len(details)} inputs, {len(args.input)} --input files were given")
            inputs = [load_npy(p) for p in args.input]
        else:
            inputs = seeded_inputs(model_input_specs(interpreter.model), args.seed)
            print(f"inputs:  seeded random (seed {args.seed}; no --input given)")
        for detail, value in zip(details, inputs):
            interpreter.set_tensor(detail["index"], value)
        started = time.perf_counter()
        interpreter.invoke()
        elapsed = time.perf_counter() - started
    finally:
        progress.close()
    print(f"invoke: {elapsed * 1000:.1f} ms ({len(interpreter.subgraph.operators)} operators)")
    saved = {}
    for detail in interpreter.get_output_details():
        value = interpreter.get_tensor(detail["index"])
        saved[f"t{detail['index']}"] = value
        stats = f"min {value.min()} max {value.max()}" if value.size else "empty"
        print(f"output {detail['index']} '{detail['name']}': {value.dtype} {list(value.shape)}, {stats}")
    if args.all_tensors:
        saved = {f"t{i}": v for i, v in interpreter.tensor_values().items()}
    if output is not None:
        try:
            save_npz_deterministic(output, saved)
        except OSError as exc:
            raise InputError(f"--output {output}: cannot write ({exc.strerror or exc})") from None
        print(f"wrote {len(saved)} tensors to {output}")
    elif args.all_tensors:
        print("--all-tensors saves nothing without --output OUT.npz")
    return EXIT_OK


# --------------------------------------------------------------------------------------------------
# inspect


def _cmd_inspect(argv: Sequence[str]) -> int:
    import numba

    from refinterp.interpreter import KERNEL_CHOICES
    from refinterp.model import load_model

    parser = ArgumentParser(prog="refinterp inspect", description="A model's operators (with the kernel each "
                            "would run), tensors and quantization parameters.")
    parser.add_argument("model", help="the .tflite model")
    parser.add_argument("--constants", action="store_true", help="list constant tensors (weights, biases) too")
    parser.add_argument("--kernels", default="fast", choices=KERNEL_CHOICES,
                        help="the kernel set to describe, as for `refinterp run` (default fast)")
    parser.add_argument("--profile", default="litert-ref", choices=ALL_PROFILES,
                        help="the profile to check operator support against, as for `refinterp run`")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    print(f"{args.model}: {model.size_bytes} bytes, schema version {model.version}, "
          f"{len(model.subgraphs)} subgraph(s)")
    if model.description:
        print(f"description: {_short(model.description, 80)!r}")
    backend = None
    if args.kernels == "fast" and any(op.name == "CONV_2D" and _is_int8_conv(model, op)
                                      for op in model.subgraphs[0].operators):
        # choose_backend() runs the vnni kernel's self-test: the one kernel inspect may compile
        _announce_compilation(model, args.kernels, sys.stderr, only="conv")
        backend = conv_backend_choice()[0]
    for line in kernel_choice_lines(model, args.kernels, None, numba.config.NUMBA_NUM_THREADS):
        print(line)
    for sig in model.signature_defs:
        print(f"signature {sig.key!r} (subgraph {sig.subgraph_index}): inputs {dict(sig.inputs)} "
              f"outputs {dict(sig.outputs)}")
    for sg in model.subgraphs:
        print(f"\nsubgraph {sg.index} {sg.name!r}: inputs {list(sg.inputs)} outputs {list(sg.outputs)}")
        print(f"{'op':>4}  {'type':<24} {'kernel':<12} {'inputs':<24} outputs")
        for op in sg.operators:
            kernel = _kernel_name(model, op, args.kernels, args.profile, backend) if sg.index == 0 else "-"
            print(f"{op.index:>4}  {op.name:<24} {kernel:<12} {str(list(op.inputs)):<24} {list(op.outputs)}")
        print(f"\n{'tensor':>6}  {'name':<36} {'type':<8} {'shape':<18} {'scale':>11} {'zp':>5}  kind")
        for t in sg.tensors:
            if t.is_constant and not args.constants:
                continue
            q = t.quantization
            if q is None:
                scale, zp = "-", "-"
            elif q.per_channel:
                scale, zp = f"{q.scale.size}ch@{q.quantized_dimension}", str(int(q.zero_point[0]))
            else:
                scale, zp = f"{float(q.scale[0]):.6g}", str(int(q.zero_point[0]))
            kind = "input" if t.index in sg.inputs else "output" if t.index in sg.outputs else (
                "const" if t.is_constant else "")
            shape = _short(str(list(t.shape)), 18)
            print(f"{t.index:>6}  {_short(t.name, 36):<36} {t.type_name:<8} {shape:<18} {scale:>11} {zp:>5}  {kind}")
    return EXIT_OK


def _short(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, keeping its end (tensor names differ at the end)."""
    return text if len(text) <= width else "..." + text[-(width - 3):]


# --------------------------------------------------------------------------------------------------
# dispatch


def _lazy(module: str, function: str) -> Callable[[Sequence[str]], int]:
    def run(argv: Sequence[str]) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(list(argv))

    return run


COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "run": (_cmd_run, "run a model and print or save its outputs (any tensor)"),
    "inspect": (_cmd_inspect, "list a model's operators, kernels, tensors and quantization"),
    "compare": (_lazy("refinterp.tools.compare", "compare_main"), "compare a runtime with the reference, op by op"),
    "golden": (_lazy("refinterp.tools.golden", "golden_main"), "make or check a directory of golden tensors"),
    "ops": (_lazy("refinterp.tools.ops_table", "ops_main"), "print the supported-operator table"),
    "qerror": (_lazy("refinterp.tools.qerror", "qerror_main"), "per-layer quantization error against float"),
    "bench": (_lazy("refinterp.tools.bench", "bench_main"), "time refinterp against the official runtimes"),
    "fuzz": (_lazy("refinterp.tools.fuzz", "fuzz_main"), "fuzz refinterp against LiteRT with mutated models"),
    "conformance": (_lazy("refinterp.tools.conformance.cli", "conformance_main"),
                    "generate a conformance suite or run a runtime against one"),
    "explain": (_lazy("refinterp.tools.explain", "explain_main"),
                "one output element's integer computation, step by step"),
}


def _usage() -> str:
    lines = ["usage: refinterp COMMAND [ARGS...]", "",
             "A bit-exact reference interpreter for quantized TensorFlow Lite models.", "", "commands:"]
    lines += [f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help and exit", "  --version   print refinterp's version",
              "", "`refinterp COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return EXIT_OK if argv else EXIT_ERROR
    if argv[0] in ("--version", "-V"):
        from refinterp import __version__

        print(f"refinterp {__version__}")
        return EXIT_OK
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"refinterp: error: unknown command {name!r}\n{_usage()}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return COMMANDS[name][0](rest)
    except RefinterpError as exc:
        print(f"refinterp: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except SystemExit as exc:  # argparse's --help
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    except KeyboardInterrupt:
        print("refinterp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except MemoryError:
        print("refinterp: error: out of memory", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
