"""The ``refinterp`` command: run, inspect, compare, golden, ops, qerror.

Every subcommand returns an exit status. A RefinterpError (bad file, unsupported op, wrong input) prints
one line ``refinterp: error: ...`` and exits 2; there is no traceback for those.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import numpy as np

from refinterp.errors import InputError, RefinterpError
from refinterp.io import load_npy, model_input_specs, seeded_inputs
from refinterp.tools.arguments import EXIT_ERROR, EXIT_OK, ArgumentParser


def _cmd_run(argv: Sequence[str]) -> int:
    from refinterp.interpreter import Interpreter

    parser = ArgumentParser(prog="refinterp run", description="Run a .tflite model and save its outputs.")
    parser.add_argument("model")
    parser.add_argument("--input", action="append", default=[], metavar="X.npy",
                        help="one .npy per model input, in order (default: seeded random inputs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--output", metavar="OUT.npz", help="write outputs (and with --all-tensors every tensor)")
    parser.add_argument("--all-tensors", action="store_true", help="save every tensor, keyed t<index>")
    parser.add_argument("--profile", default="litert-ref", choices=["litert-ref", "tflm"])
    parser.add_argument("--kernels", default="fast", choices=["fast", "spec"])
    parser.add_argument("--num-threads", type=int, default=None)
    args = parser.parse_args(argv)

    interpreter = Interpreter(model_path=args.model, num_threads=args.num_threads, profile=args.profile,
                              kernels=args.kernels)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    if args.input:
        if len(args.input) != len(details):
            raise InputError(f"the model has {len(details)} inputs, {len(args.input)} --input files were given")
        inputs = [load_npy(p) for p in args.input]
    else:
        inputs = seeded_inputs(model_input_specs(interpreter.model), args.seed)
        print(f"no --input given: using seeded random inputs (seed {args.seed})")
    for detail, value in zip(details, inputs):
        interpreter.set_tensor(detail["index"], value)
    import time

    started = time.perf_counter()
    interpreter.invoke()
    elapsed = time.perf_counter() - started
    print(f"invoke: {elapsed * 1000:.1f} ms ({len(interpreter.subgraph.operators)} operators)")
    saved = {}
    for detail in interpreter.get_output_details():
        value = interpreter.get_tensor(detail["index"])
        saved[f"t{detail['index']}"] = value
        stats = f"min {value.min()} max {value.max()}" if value.size else "empty"
        print(f"output {detail['index']} '{detail['name']}': {value.dtype} {list(value.shape)}, {stats}")
    if args.all_tensors:
        saved = {f"t{i}": v for i, v in interpreter.tensor_values().items()}
    if args.output:
        np.savez_compressed(args.output, **saved)
        print(f"wrote {len(saved)} tensors to {args.output}")
    return EXIT_OK


def _cmd_inspect(argv: Sequence[str]) -> int:
    from refinterp.model import load_model

    parser = ArgumentParser(prog="refinterp inspect", description="Ops, tensors and quantization of a model.")
    parser.add_argument("model")
    parser.add_argument("--constants", action="store_true", help="list constant tensors too")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    print(f"{args.model}: schema version {model.version}, {len(model.subgraphs)} subgraph(s), "
          f"{model.size_bytes} bytes; description {model.description!r}")
    for sig in model.signature_defs:
        print(f"signature {sig.key!r} (subgraph {sig.subgraph_index}): inputs {dict(sig.inputs)} "
              f"outputs {dict(sig.outputs)}")
    for sg in model.subgraphs:
        print(f"\nsubgraph {sg.index} {sg.name!r}: inputs {list(sg.inputs)} outputs {list(sg.outputs)}")
        print(f"{'op':>4}  {'type':<26} {'inputs':<24} outputs")
        for op in sg.operators:
            print(f"{op.index:>4}  {op.name:<26} {str(list(op.inputs)):<24} {list(op.outputs)}")
        print(f"\n{'tensor':>6}  {'name':<44} {'type':<8} {'shape':<20} {'scale':>12} {'zp':>5}  kind")
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
            name = t.name if len(t.name) <= 44 else "..." + t.name[-41:]
            print(f"{t.index:>6}  {name:<44} {t.type_name:<8} {str(list(t.shape)):<20} {scale:>12} {zp:>5}  {kind}")
    return EXIT_OK


def _lazy(module: str, function: str) -> Callable[[Sequence[str]], int]:
    def run(argv: Sequence[str]) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(list(argv))

    return run


COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "run": (_cmd_run, "run a model and print or save its outputs"),
    "inspect": (_cmd_inspect, "list a model's operators, tensors and quantization"),
    "compare": (_lazy("refinterp.tools.compare", "compare_main"), "compare runtimes layer by layer"),
    "golden": (_lazy("refinterp.tools.golden", "golden_main"), "make or check a directory of golden tensors"),
    "ops": (_lazy("refinterp.tools.ops_table", "ops_main"), "print the supported-operator table"),
    "qerror": (_lazy("refinterp.tools.qerror", "qerror_main"), "per-layer quantization error against float"),
    "bench": (_lazy("refinterp.tools.bench", "bench_main"), "time refinterp against the official runtimes"),
}


def _usage() -> str:
    lines = ["usage: refinterp COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "`refinterp COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return EXIT_OK if argv else EXIT_ERROR
    if argv[0] == "--version":
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
