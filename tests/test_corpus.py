"""refinterp on real third-party models (../shared/models), every tensor against the official runtimes.

One test per model of MANIFEST.tsv, on one seeded input each (benchmarks/corpus_table.check_model, which
also writes the table of docs/corpus.md):

* models LiteRT runs: every tensor equal to LiteRT BUILTIN_REF's (profile litert-ref) and, where TFLite
  Micro runs the model, to TFLM's (profile tflm);
* person_detect, which LiteRT refuses (1-D biases with quantized_dimension 3): every tensor equal to TFLM's;
* the SSD models, whose TILE version 3 neither reference runtime has: refinterp runs them whole, and each
  operator run on the inputs LiteRT's optimized kernels computed must reproduce their output exactly when
  it does not round (data movement, max pooling; the rounding ones are only counted);
* models with operators or dtypes refinterp does not implement yet (EXPECTED_UNSUPPORTED): refinterp must
  raise an UnsupportedOpError naming that operator and its index - never run them into a wrong answer.

Float tensors (DEQUANTIZE outputs, the float twins) are required bit-exact too: measured so on this corpus,
because refinterp's float kernels sum in the reference kernels' order. Should a kernel change its order,
these tests fail and docs/corpus.md (FLOAT_TOLERANCE) shows by how much.

The seanet-int16 folder (127 single-op int16x8 models) is one grouped test: each model exact against both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
sys.path.insert(0, str(REPO / "benchmarks"))

from corpus_table import (  # noqa: E402
    NON_ROUNDING_OPS,
    ManifestEntry,
    ModelReport,
    check_model,
    check_seanet,
    read_manifest,
)

#: Models refinterp must refuse, and the operator it must name (everything else must run).
EXPECTED_UNSUPPORTED = {
    # Added to ../shared for the coverage and 16-bit/recurrent issues: each names the first operator (or dtype)
    # refinterp lacks today; an entry goes when its model runs.
    # int8 SVDF state and time weights: TFLM only (LiteRT reads them as int16, past the tensors' end); checked
    # against TFLM over several invokes in tests/test_stateful_svdf.py
    "tflite-micro/keyword_scrambled_8bit.tflite": "SVDF",
    # int16 CONV_2D with int32 biases and no quantized_bias_type option: LiteRT's kernel reads them as int64
    "xmos-ai-tools/denoise_16x8.tflite": "CONV_2D",
}
#: Models no reference runtime runs (TILE v3): checked operator by operator against LiteRT's optimized kernels.
PER_OP_ONLY = {
    "stm32-model-zoo/object_detection__ssd_mobilenet_v1_025_192_int8.tflite",
    "stm32-model-zoo/object_detection__ssd_mobilenet_v1_025_224_int8.tflite",
    "stm32-model-zoo/object_detection__ssd_mobilenet_v1_025_256_int8.tflite",
}
#: Models LiteRT refuses but TFLM runs (person_detect: 1-D biases with quantized_dimension 3; edsr qint8:
#: LiteRT's reference resolver has no DEPTH_TO_SPACE version 2).
TFLM_ONLY = {"tflite-micro/person_detect.tflite", "mlcommons-mobile/edsr_f32b5_full_qint8.tflite"}

ENTRIES: list[ManifestEntry | None] = read_manifest(MODELS) if (MODELS / "MANIFEST.tsv").exists() else [None]


def _require_corpus() -> None:
    if not (MODELS / "MANIFEST.tsv").exists():
        pytest.skip(f"{MODELS} is absent: the model corpus ../shared/models is not beside this checkout")


def _describe(report: ModelReport) -> str:
    return (f"{report.model}: {report.status}, oracle {report.oracle}, {report.tensors_compared} tensors, "
            f"{report.mismatches} mismatches; " + "; ".join(report.notes[:5]))


def assert_unsupported(report: ModelReport, expected_op: str | None = None) -> None:
    assert report.unsupported_op is not None, (
        f"{report.model}: expected an UnsupportedOpError naming the operator and its index, got "
        f"{report.status!r} {report.unsupported_message!r}")
    if expected_op is not None:
        assert report.unsupported_op[1] == expected_op, _describe(report)


def assert_exact(report: ModelReport) -> None:
    assert report.unsupported_op is None, f"{report.model}: refused: {report.unsupported_message}"
    assert report.mismatches == 0, _describe(report)
    assert report.float_max_rel == 0, f"{report.model}: float tensors not bit-exact: {_describe(report)}"
    # every operator's output was compared at least once
    assert report.tensors_compared >= report.ops, _describe(report)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.file if e is not None else "corpus")
def test_corpus_model(entry: ManifestEntry | None) -> None:
    _require_corpus()
    assert entry is not None
    report = check_model(MODELS, entry)
    if entry.file in EXPECTED_UNSUPPORTED:
        assert_unsupported(report, EXPECTED_UNSUPPORTED[entry.file])
        return
    assert_exact(report)
    if entry.file in PER_OP_ONLY:
        assert report.oracle.startswith("litert (optimized)"), _describe(report)
        # the operators that do not round were each compared exactly (assert_exact counted their mismatches)
        non_rounding_ops = sum(name in NON_ROUNDING_OPS for name in report.op_names)
        assert report.non_rounding_compared >= non_rounding_ops > 0, _describe(report)
    elif entry.file in TFLM_ONLY:
        assert report.oracle == "tflm", _describe(report)
    else:
        assert report.oracle.startswith("litert-ref"), _describe(report)


def test_seanet_int16_models() -> None:
    """127 single-op int16x8 models (ADD, SUB, CONV_2D, TRANSPOSE_CONV, LEAKY_RELU, PAD, QUANTIZE,
    STRIDED_SLICE): every one exact on every tensor against LiteRT BUILTIN_REF and TFLM."""
    _require_corpus()
    reports = check_seanet(MODELS)
    assert len(reports) == 127
    for report in reports:
        assert_exact(report)
        assert report.oracle == "litert-ref + tflm", _describe(report)
