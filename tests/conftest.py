import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MODELS = ROOT.parent / "shared" / "models"
GOLDEN_DIR = ROOT / "golden"

sys.path.insert(0, str(Path(__file__).resolve().parent))


def shared_model(relative: str) -> Path:
    """A model of ../shared/models by path; the test skips, saying why, when it is not there."""
    path = SHARED_MODELS / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared/models is not beside this checkout")
    return path
