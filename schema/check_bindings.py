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
    "Model": ["Version", "OperatorCodes", "OperatorCodesLength", "Subgraphs", "SubgraphsLength", "Buffers",
              "BuffersIsNone", "BuffersLength", "Description", "Metadata", "MetadataLength", "SignatureDefs",
              "SignatureDefsLength"],
    "Buffer": ["DataIsNone", "DataLength", "Offset", "Size"],
    "SubGraph": ["Tensors", "TensorsIsNone", "TensorsLength", "Operators", "OperatorsLength", "InputsAsNumpy",
                 "OutputsAsNumpy", "Name"],
    "Tensor": ["ShapeAsNumpy", "ShapeSignatureAsNumpy", "Type", "Buffer", "Name", "Quantization", "IsVariable",
               "Sparsity"],
    "Operator": ["OpcodeIndex", "InputsAsNumpy", "OutputsAsNumpy", "BuiltinOptionsType", "BuiltinOptions",
                 "BuiltinOptions2Type", "BuiltinOptions2", "IntermediatesAsNumpy"],
    "OperatorCode": ["DeprecatedBuiltinCode", "CustomCode", "Version"],
    "QuantizationParameters": ["ScaleAsNumpy", "ZeroPointAsNumpy", "QuantizedDimension", "MinAsNumpy", "MaxAsNumpy",
                               "DetailsType"],
    "SparsityParameters": ["TraversalOrderIsNone", "DimMetadataIsNone", "DimMetadata", "DimMetadataLength"],
    "DimensionMetadata": ["Format", "ArraySegmentsType", "ArraySegments", "ArrayIndicesType", "ArrayIndices"],
    "Int32Vector": ["ValuesIsNone"],
    "Uint16Vector": ["ValuesIsNone"],
    "Uint8Vector": ["ValuesIsNone"],
    "SignatureDef": ["SignatureKey", "SubgraphIndex", "Inputs", "InputsLength", "Outputs", "OutputsLength"],
    "TensorMap": ["Name", "TensorIndex"],
    "Metadata": ["Name", "Buffer"],
}


def required_option_accessors() -> dict[str, list[str]]:
    """The options accessors refinterp.model reads as LiteRT's ParseOpData does (refinterp.model.LITERT_OPTIONS)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from refinterp.model import LITERT_OPTIONS

    accessors: dict[str, list[str]] = {}
    for table, fields in LITERT_OPTIONS.values():
        accessors.setdefault(table, []).extend(accessor for _, accessor, _, _ in fields)
    return accessors


def enum_table(module) -> dict[str, int]:
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, int)}


def check_installed() -> list[str]:
    problems = []
    version = importlib.metadata.version("tflite")
    if version != PINNED_VERSION:
        problems.append(f"tflite {version} is installed, refinterp pins {PINNED_VERSION}")
    for table, accessors in {**REQUIRED, **required_option_accessors()}.items():
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
