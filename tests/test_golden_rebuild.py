"""Any YOLOv3-tiny int8 built the same way, with another seed and other calibration data, is bit-exact.

Rebuilding needs TensorFlow, the `build` extra (pip install -e '.[build]'), which running and testing refinterp
never need, and takes minutes: the test runs only with `python -m pytest --rebuild` (deselected otherwise).
The expected tensors come from LiteRT BUILTIN_REF (confirmed by TFLM) through `build_yolov3_tiny.py
--make-golden`; refinterp is then checked against them with `golden check`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

from refinterp.cli import main

pytestmark = pytest.mark.rebuild


def test_yolov3_tiny_built_with_another_seed_is_bit_exact_on_every_tensor(tmp_path):
    build = subprocess.run(
        [sys.executable, str(ROOT / "golden" / "build_yolov3_tiny.py"), "--out", str(tmp_path), "--seed", "1",
         "--calib-seed", "1", "--make-golden"],
        capture_output=True, text=True, timeout=900)
    # --make-golden exits 1 if TFLM does not confirm LiteRT BUILTIN_REF on every tensor
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    assert main(["golden", "check", str(tmp_path / "yolov3_tiny_int8")]) == 0
