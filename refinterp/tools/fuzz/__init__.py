"""refinterp's own model fuzzer: ``refinterp fuzz`` (see docs/robustness.md)."""

from refinterp.tools.fuzz.campaign import Campaign, FuzzConfig, Report
from refinterp.tools.fuzz.classify import CLASSES, FAILURE_CLASSES, Verdict, classify
from refinterp.tools.fuzz.command import fuzz_main

__all__ = ["CLASSES", "FAILURE_CLASSES", "Campaign", "FuzzConfig", "Report", "Verdict", "classify", "fuzz_main"]
