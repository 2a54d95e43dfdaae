"""Shared test setup, and the rule that CI fails loudly instead of skipping.

Locally a test may skip when something it needs is absent (../shared/models, an oracle runtime, an optional
dependency), saying why. When the environment variable ``CI`` is set, that is not allowed: the session stops at
once with one line naming what is missing, and any skip raised during the run becomes a failure. The only skips
CI accepts are CPU-feature skips, whose reason starts with ``CPU_SKIP_PREFIX`` and names the CPU's features.
"""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MODELS = ROOT.parent / "shared" / "models"
GOLDEN_DIR = ROOT / "golden"
#: the committed golden model and its golden directory (inputs/, manifest.json)
GOLDEN_MODEL = GOLDEN_DIR / "yolov3_tiny_int8.tflite"
GOLDEN_MODEL_DIR = GOLDEN_DIR / "yolov3_tiny_int8"
IN_CI = bool(os.environ.get("CI"))
#: the one kind of skip allowed in CI: the CPU lacks an instruction set a kernel backend needs
CPU_SKIP_PREFIX = "cpu lacks"


def cpu_flags() -> set[str]:
    """The host CPU's feature flags (/proc/cpuinfo), for the CPU-feature skips; empty where it cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((row for row in text.splitlines() if row.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())

#: what the test suite needs under CI: (what, how to check, how to get it)
CI_REQUIREMENTS = (
    ("../shared/models (the real-model corpus)", lambda: (SHARED_MODELS / "MANIFEST.tsv").is_file(),
     "clone with ../shared beside the project"),
    ("golden/ (the committed golden model)", lambda: (GOLDEN_DIR / "yolov3_tiny_int8" / "manifest.json").is_file(),
     "a complete checkout"),
    ("ai-edge-litert (the LiteRT oracle)", lambda: importlib.util.find_spec("ai_edge_litert") is not None,
     "pip install -e '.[test]'"),
    ("tflite-micro (the TFLM oracle)", lambda: importlib.util.find_spec("tflite_micro") is not None,
     "pip install -e '.[test]'"),
    ("matplotlib (qerror plots)", lambda: importlib.util.find_spec("matplotlib") is not None,
     "pip install -e '.[test]'"),
    ("jsonschema (report schemas)", lambda: importlib.util.find_spec("jsonschema") is not None,
     "pip install -e '.[test]'"),
    ("ray (the Ray executor)", lambda: importlib.util.find_spec("ray") is not None, "pip install -e '.[test]'"),
)

sys.path.insert(0, str(Path(__file__).resolve().parent))


def missing_requirements() -> list[str]:
    return [f"{what} is missing ({fix})" for what, present, fix in CI_REQUIREMENTS if not present()]


def pytest_report_header(config: pytest.Config) -> str:
    """The exploration seed of the random single-operator cases (REFINTERP_RANDOM_SEED=N repeats it)."""
    from opcase_table import announce_exploration_seed

    return announce_exploration_seed()


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI:
        missing = missing_requirements()
        if missing:
            pytest.exit("CI is set but " + "; ".join(missing), returncode=1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        if not reason.removeprefix("Skipped: ").startswith(CPU_SKIP_PREFIX):
            report.outcome = "failed"
            report.longrepr = f"CI is set, so this skip is a failure: {reason}"
    return report


def shared_model(relative: str) -> Path:
    """A model of ../shared/models by path; the test skips (a failure under CI) when it is not there."""
    path = SHARED_MODELS / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared/models is not beside this checkout")
    return path


needs_golden = pytest.mark.skipif(not GOLDEN_MODEL.is_file(), reason="golden/yolov3_tiny_int8.tflite not built yet")


def json_schema_validator(schema_path: Path):  # type: ignore[no-untyped-def]
    """A Draft 2020-12 validator of the JSON schema at ``schema_path`` (the schema itself checked first); the test
    skips when jsonschema is absent (a failure under CI)."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--rebuild", action="store_true",
                     help="also rebuild YOLOv3-tiny with TensorFlow and check it (needs the build extra; minutes)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The TensorFlow rebuild is opt-in (the build extra is ~600 MB): deselected, not skipped, without --rebuild.
    if config.getoption("--rebuild"):
        return
    kept = [item for item in items if "rebuild" not in item.keywords]
    deselected = [item for item in items if "rebuild" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
