"""Check the installed ``tflite`` schema bindings against what refinterp needs (see schema/README.md)."""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tflite

PINNED_VERSION = "2.18.0"
# Accessors refinterp/model.py calls, by table.
REQUIRED = {
    "Model": ["Version", "OperatorCodes", "Subgraphs", "Buffers", "Description", "Metadata", "SignatureDefs"],
    "Buffer": ["DataAsNumpy", "DataLength", "Offset", "Size"],
    "SubGraph": ["Tensors", "Operators", "InputsAsNumpy", "OutputsAsNumpy", "Name"],
    "Tensor": ["ShapeAsNumpy", "ShapeSignatureAsNumpy", "Type", "Buffer", "Name", "Quantization", "IsVariable",
               "Sparsity"],
    "Operator": ["OpcodeIndex", "InputsAsNumpy", "OutputsAsNumpy", "BuiltinOptionsType", "BuiltinOptions",
                 "BuiltinOptions2Type", "BuiltinOptions2", "IntermediatesAsNumpy"],
    "OperatorCode": ["BuiltinCode", "DeprecatedBuiltinCode", "CustomCode", "Version"],
    "QuantizationParameters": ["ScaleAsNumpy", "ZeroPointAsNumpy", "QuantizedDimension", "MinAsNumpy", "MaxAsNumpy"],
    "SignatureDef": ["SignatureKey", "SubgraphIndex", "Inputs", "Outputs"],
    "TensorMap": ["Name", "TensorIndex"],
    "Metadata": ["Name", "Buffer"],
}


def enum_table(module) -> dict[str, int]:
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, int)}


def check_installed() -> list[str]:
    problems = []
    version = importlib.metadata.version("tflite")
    if version != PINNED_VERSION:
        problems.append(f"tflite {version} is installed, refinterp pins {PINNED_VERSION}")
    for table, accessors in REQUIRED.items():
        cls = getattr(tflite, table, None)
        if cls is None:
            problems.append(f"table {table} is missing")
            continue
        problems += [f"{table}.{a} is missing" for a in accessors if not hasattr(cls, a)]
    return problems


def compare_with_schema(schema: Path) -> list[str]:
    flatc = shutil.which("flatc")
    if flatc is None:
        return ["flatc is not on the PATH: cannot regenerate bindings from the schema"]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([flatc, "--python", "-o", out, str(schema)], check=True)
        package = next(Path(out).rglob("BuiltinOperator.py")).parent
        sys.path.insert(0, str(package.parent))
        import importlib

        differences = []
        for name in ("BuiltinOperator", "TensorType", "BuiltinOptions", "BuiltinOptions2"):
            generated = importlib.import_module(f"{package.name}.{name}")
            new = enum_table(getattr(generated, name))
            old = enum_table(getattr(tflite, name))
            for key in sorted(set(new) | set(old)):
                if new.get(key) != old.get(key):
                    differences.append(f"{name}.{key}: installed {old.get(key)}, schema {new.get(key)}")
        return differences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schema", type=Path, help="a schema.fbs to compare the installed bindings with")
    args = parser.parse_args()
    problems = check_installed()
    operators = enum_table(tflite.BuiltinOperator)
    print(f"tflite bindings {importlib.metadata.version('tflite')}: {len(operators)} builtin operators "
          f"(highest code {max(operators.values())}), {len(enum_table(tflite.TensorType))} tensor types")
    if args.schema:
        problems += compare_with_schema(args.schema)
    for problem in problems:
        print("problem:", problem)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
