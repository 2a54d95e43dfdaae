"""A fuzz campaign: draw mutants, run each in LiteRT and refinterp child processes, classify, save failures.

The loop is a plain seeded mutation loop with coverage feedback: every mutant's refinterp run reports the
lines of the ``refinterp`` package it executed for the first time in its worker; a mutant that reached new
lines joins the corpus and is mutated further. Seeds are run unmutated first (a baseline: a seed that does
not agree is reported separately, not as a mutant).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import refinterp
from refinterp.errors import RuntimeUnavailableError
from refinterp.tools.fuzz import mutators
from refinterp.tools.fuzz.classify import CLASSES, FAILURE_CLASSES, Verdict, classify, litert_refusal
from refinterp.tools.fuzz.pool import Slot, context, wait_any
from refinterp.tools.fuzz.seeds import (
    DEFAULT_MAX_SEED_BYTES,
    GOLDEN_MODEL,
    SHARED_MODELS,
    Seed,
    builder_seeds,
    file_seeds,
)

#: restart both workers of a slot after this many mutants (bounded leaks, fresh heaps)
RECYCLE_JOBS = 3000
#: the time limit of the fresh-worker run that confirms a hang
HANG_CONFIRM_SECONDS = 120.0
#: a third-party seed whose unmutated run takes longer than this (both runtimes) is not mutated
SLOW_SEED_SECONDS = 3.0
#: mutants larger than this never join the corpus
MAX_CORPUS_BYTES = 2 << 20
MAX_CORPUS_ENTRIES = 4000


@dataclass
class FuzzConfig:
    mutants: int | None = 1000
    seconds: float | None = None
    seed: int = 0
    jobs: int = 1
    out_dir: Path | None = None
    timeout: float = 10.0
    memory_mb: int = 2048
    huge_mb: int = 512
    shared_dir: Path | None = SHARED_MODELS
    max_seed_bytes: int = DEFAULT_MAX_SEED_BYTES
    golden: bool = True
    variants: int = 2
    coverage: bool = True
    save_per_signature: int = 3
    progress: bool = True


@dataclass(eq=False)
class Entry:
    """A corpus entry: a seed, or a mutant that reached new lines."""

    name: str
    content: bytes
    model: Any  # the object tree (ModelT) when known to be well-formed, else None (blind mutations only)
    seed: str  # the seed it descends from
    chain: tuple[str, ...] = ()  # the mutations from the seed to this entry
    origin: str = "builder"
    baseline: str | None = None  # the class of the unmutated run, once known


@dataclass
class Mutant:
    index: int  # -1 for a seed's baseline run
    entry: Entry
    content: bytes
    model: Any
    mutations: list[tuple[str, str]]
    input_seed: int

    @property
    def description(self) -> str:
        steps = [*self.entry.chain, *(d for _, d in self.mutations)] or ["unmutated"]
        return f"seed {self.entry.seed}: " + "; ".join(steps)

    @property
    def kinds(self) -> str:
        return "+".join(sorted({k for k, _ in self.mutations})) or "none"


@dataclass
class Report:
    config: dict[str, Any]
    counts: Counter = field(default_factory=Counter)
    signatures: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, dict[str, str]] = field(default_factory=dict)
    litert_refusals: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    baselines: Counter = field(default_factory=Counter)
    baseline_problems: dict[str, str] = field(default_factory=dict)
    seeds_left_out: dict[str, str] = field(default_factory=dict)
    mutants: int = 0
    seconds: float = 0.0
    coverage_lines: int = 0
    corpus: int = 0
    saved: int = 0

    failures: int = 0
    #: seconds the children spent inside the runtimes (the rest is process overhead and mutation)
    child_seconds: Counter = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "refinterp-fuzz-1",
            "config": self.config,
            "environment": environment(),
            "mutants": self.mutants,
            "seconds": round(self.seconds, 1),
            "mutants_per_second": round(self.mutants / self.seconds, 2) if self.seconds else None,
            "failures": self.failures,
            "counts": {k: self.counts.get(k, 0) for k in CLASSES},
            "failure_classes": list(FAILURE_CLASSES),
            "signatures": {k: dict(v.most_common()) for k, v in self.signatures.items()},
            "examples": self.examples,
            "litert_refusals": {k: dict(v) for k, v in sorted(self.litert_refusals.items())},
            "baselines": dict(self.baselines),
            "baseline_problems": self.baseline_problems,
            "seeds_left_out": self.seeds_left_out,
            "child_seconds": {k: round(v, 1) for k, v in self.child_seconds.items()},
            "coverage_lines": self.coverage_lines,
            "corpus": self.corpus,
            "saved": self.saved,
        }


def environment() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for package in ("ai-edge-litert", "numpy", "numba", "flatbuffers"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpu": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "refinterp": refinterp.__version__, **versions}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "x"


class Campaign:
    """Seeds, corpus, worker slots and the report of one fuzz run."""

    def __init__(self, config: FuzzConfig):
        mutators.schema()  # a one-line RuntimeUnavailableError without ai-edge-litert
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.report = Report(config={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()})
        self.coverage: set[tuple[str, int]] = set()
        self.saved_per_signature: Counter = Counter()
        self.scratch = tempfile.TemporaryDirectory(prefix="refinterp-fuzz-")
        self.ctx = context()
        self.slots: list[Slot] = []
        self.seeds: list[Entry] = []
        self.files: list[Entry] = []
        self.discovered: list[Entry] = []
        self._pending_baselines: list[Entry] = []
        self._next_index = 0

    # ---------------------------------------------------------------------------------- seeds and mutants

    def load_seeds(self) -> None:
        def entry(seed: Seed) -> Entry:
            try:
                model = mutators.unpack(seed.content)
            except Exception:  # noqa: BLE001 - a file the object API cannot read gets blind mutations only
                model = None
            return Entry(seed.name, seed.content, model, seed.name, origin=seed.origin)

        self.seeds = [entry(s) for s in builder_seeds(self.config.seed, self.config.variants)]
        golden = GOLDEN_MODEL if self.config.golden else None
        self.files = [entry(s) for s in file_seeds(self.config.shared_dir, self.config.max_seed_bytes, golden)]
        self._pending_baselines = list(self.seeds)

    def _pick_entry(self) -> Entry:
        r = self.rng.random()
        if self.discovered and r < 0.3:
            return self.discovered[int(self.rng.integers(len(self.discovered)))]
        # Third-party files: a fifth of the picks when there are many of them, fewer when only the golden
        # model is there (it is large and slow in LiteRT's reference kernels).
        if self.files and r > 1.0 - min(0.2, 0.02 * len(self.files)):
            return self.files[int(self.rng.integers(len(self.files)))]
        return self.seeds[int(self.rng.integers(len(self.seeds)))]

    def _splice_partner(self) -> bytes:
        pool = self.seeds + self.files
        return pool[int(self.rng.integers(len(pool)))].content

    def next_mutant(self) -> Mutant:
        if self._pending_baselines:
            entry = self._pending_baselines.pop(0)
            return Mutant(-1, entry, entry.content, None, [], 0)
        entry = self._pick_entry()
        if entry.baseline is None and entry.origin in ("golden", "shared"):
            entry.baseline = "pending"
            return Mutant(-1, entry, entry.content, None, [], 0)
        index = self._next_index
        self._next_index += 1
        rng = np.random.default_rng([self.config.seed, index])
        mode = rng.random()
        content, model, applied = entry.content, None, []
        # Mostly one structure-aware edit (it reaches Prepare and the kernels); some followed by a blind edit;
        # some blind only (they reach the verifier and the parser).
        if entry.model is not None and mode < 0.85:
            count = 1 if rng.random() < 0.7 else 2
            for _ in range(10):
                try:
                    content, applied, model = mutators.structure_mutation(rng, entry.model, count)
                    break
                except ValueError:
                    continue
        if not applied or mode >= 0.75:
            for _ in range(int(rng.integers(1, 3))):
                content, description = mutators.blind_mutation(rng, content, self._splice_partner())
                applied.append(("blind", description))
                model = None
        return Mutant(index, entry, content, model, applied, index % 1000)

    # ---------------------------------------------------------------------------------- running

    def _job(self, mutant: Mutant, hook: str | None = None) -> dict[str, Any]:
        return {"content": mutant.content, "input_seed": mutant.input_seed, "coverage": self.config.coverage,
                "hook": hook}

    def start(self) -> None:
        memory = self.config.memory_mb << 20
        for _ in range(max(1, self.config.jobs)):
            slot = Slot(self.ctx, memory, self.scratch.name)
            slot.start()
            self.slots.append(slot)

    def stop(self) -> None:
        for slot in self.slots:
            slot.stop()
        self.slots = []
        self.scratch.cleanup()

    def _timeout(self, mutant: Mutant) -> float:
        return max(60.0, self.config.timeout) if mutant.index < 0 else self.config.timeout

    def _finish(self, slot: Slot) -> tuple[Mutant, Verdict] | None:
        """Classify the slot's finished mutant, or start a confirmation run of a crash or a hang."""
        results, deaths, meta = slot.results, slot.deaths, slot.meta
        mutant, first_death = meta
        if "refinterp" in deaths and first_death is None:
            death = deaths["refinterp"]
            slow = death.startswith("timeout")
            previous = slot.workers["refinterp"].jobs_done
            slot.meta = (mutant, (death, previous))
            # a hang is confirmed with a long limit: a kernel's first run in a worker may compile it (numba),
            # which takes tens of seconds on a loaded machine and is not a hang
            slot.retry_refinterp(max(self.config.timeout * 3, HANG_CONFIRM_SECONDS) if slow else self._timeout(mutant))
            return None
        slot.finish()
        death = deaths.get("refinterp")
        if first_death is not None:
            first, _ = first_death
            if death is None and not first.startswith("timeout"):
                death = f"{first} (not reproduced in a fresh process: an earlier mutant may have corrupted the heap)"
                results.pop("refinterp", None)
        verdict = classify(results.get("refinterp"), results.get("litert"), refinterp_death=death,
                           litert_death=deaths.get("litert"), huge_bytes=self.config.huge_mb << 20)
        if first_death is not None and first_death[0].startswith("timeout") and verdict.klass != "hang":
            verdict.detail = f"(first run passed the {self.config.timeout:g} s limit) {verdict.detail}"
        if verdict.klass == "disagree":
            family = re.sub(r"#\d+$", "", mutant.entry.seed)
            verdict.signature = f"{family}: {mutant.kinds}"
        for worker in slot.workers.values():
            if worker.jobs_done >= RECYCLE_JOBS:
                worker.restart()
        return mutant, verdict

    def _record(self, mutant: Mutant, verdict: Verdict) -> None:
        refinterp_result = verdict.refinterp or {}
        lines = refinterp_result.get("coverage") or set()
        new_lines = lines - self.coverage
        self.coverage |= new_lines
        self.report.coverage_lines = len(self.coverage)
        if mutant.index < 0:
            mutant.entry.baseline = verdict.klass
            self.report.baselines[verdict.klass] += 1
            if verdict.klass != "agree":
                self.report.baseline_problems[mutant.entry.name] = f"{verdict.klass}: {verdict.signature}"
            cost = sum(float((r or {}).get("seconds", 0.0)) for r in (verdict.refinterp, verdict.litert))
            if mutant.entry in self.files and (verdict.klass != "agree" or cost > SLOW_SEED_SECONDS):
                # Mutants of a file refinterp cannot run unmutated, or that takes seconds, teach little per second.
                self.files.remove(mutant.entry)
                self.report.seeds_left_out[mutant.entry.name] = (
                    verdict.klass if verdict.klass != "agree" else f"slow ({cost:.1f} s unmutated)")
            return
        self.report.mutants += 1
        for role, result in (("refinterp", verdict.refinterp), ("litert", verdict.litert)):
            if result is not None:
                self.report.child_seconds[role] += float(result.get("seconds", 0.0))
        klass = verdict.klass
        self.report.counts[klass] += 1
        self.report.signatures[klass][verdict.signature] += 1
        litert = verdict.litert or {}
        if litert.get("status") == "refused" and refinterp_result.get("status") in ("ok", "refused"):
            runs = "refinterp runs" if refinterp_result.get("status") == "ok" else "refinterp refuses"
            self.report.litert_refusals[litert_refusal(litert)][runs] += 1
        if klass not in self.report.examples:
            self.report.examples[klass] = {"mutant": mutant.index, "description": mutant.description,
                                           "signature": verdict.signature, "detail": verdict.detail}
        if verdict.failure:
            self.report.failures += 1
            self._save(mutant, verdict)
        if (new_lines and klass not in ("crash", "hang", "oom") and len(mutant.content) <= MAX_CORPUS_BYTES):
            chain = (*mutant.entry.chain, *(d for _, d in mutant.mutations))
            self.discovered.append(Entry(f"{mutant.entry.seed}+{mutant.index}", mutant.content, mutant.model,
                                         mutant.entry.seed, chain, "discovered", klass))
            if len(self.discovered) > MAX_CORPUS_ENTRIES:
                del self.discovered[int(self.rng.integers(len(self.discovered)))]
            self.report.corpus = len(self.discovered)

    def _save(self, mutant: Mutant, verdict: Verdict) -> None:
        if self.config.out_dir is None:
            return
        key = (verdict.klass, verdict.signature)
        if self.saved_per_signature[key] >= self.config.save_per_signature:
            return
        self.saved_per_signature[key] += 1
        directory = Path(self.config.out_dir) / verdict.klass
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{mutant.index:07d}-{_slug(verdict.signature)}"
        (directory / f"{stem}.tflite").write_bytes(mutant.content)
        record = {
            "mutant": mutant.index, "campaign_seed": self.config.seed, "input_seed": mutant.input_seed,
            "class": verdict.klass, "signature": verdict.signature, "detail": verdict.detail,
            "description": mutant.description, "seed_model": mutant.entry.seed,
            "mutations": [{"mutator": k, "description": d} for k, d in mutant.mutations],
            "parent_chain": list(mutant.entry.chain),
            "refinterp": _result_summary(verdict.refinterp), "litert": _result_summary(verdict.litert),
            "reproduce": f"refinterp run {stem}.tflite --seed {mutant.input_seed}",
        }
        (directory / f"{stem}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
        self.report.saved += 1

    #: set (by a signal handler) to end the run early: no new mutant starts, the running ones finish, the
    #: report is written as usual
    stop_requested: bool = False

    def run(self) -> Report:
        config = self.config
        if config.mutants is None and config.seconds is None:
            config.mutants = 1000
        self.load_seeds()
        self.start()
        started = time.monotonic()
        last_progress = 0.0
        try:
            while True:
                elapsed = time.monotonic() - started
                out_of_time = (config.seconds is not None and elapsed >= config.seconds) or self.stop_requested
                drawn_enough = config.mutants is not None and self._next_index >= config.mutants
                for slot in self.slots:
                    if not slot.busy and not out_of_time and not (drawn_enough and not self._pending_baselines):
                        mutant = self.next_mutant()
                        if mutant.index >= 0 and config.mutants is not None and mutant.index >= config.mutants:
                            continue
                        slot.begin(self._job(mutant), self._timeout(mutant), (mutant, None))
                if not any(slot.busy for slot in self.slots):
                    break
                wait_any(self.slots, limit=1.0)
                for slot in self.slots:
                    if slot.busy and slot.phase is not None and slot.step():
                        finished = self._finish(slot)
                        if finished is not None:
                            self._record(*finished)
                # Progress: a line rewritten every 2 s on a terminal, a new line every 30 s in a log.
                every = 2.0 if sys.stderr.isatty() else 30.0
                if config.progress and time.monotonic() - last_progress >= every:
                    last_progress = time.monotonic()
                    self._progress(last_progress - started)
        finally:
            self.report.seconds = time.monotonic() - started
            if config.progress:
                self._progress(self.report.seconds, final=True)
            self.stop()
        return self.report

    def _progress(self, elapsed: float, final: bool = False) -> None:
        report = self.report
        rate = report.mutants / elapsed if elapsed else 0.0
        failures = ", ".join(f"{k} {report.counts[k]}" for k in FAILURE_CLASSES if report.counts.get(k))
        line = (f"fuzz: {report.mutants} mutants ({rate:.1f}/s, {elapsed:.0f} s), {report.failures} failures"
                f"{' (' + failures + ')' if failures else ''}, corpus {report.corpus}, "
                f"{report.coverage_lines} lines covered")
        end = "\n" if final or not sys.stderr.isatty() else ""
        print(("\r" if sys.stderr.isatty() else "") + line[:200], end=end, file=sys.stderr, flush=True)

    # ---------------------------------------------------------------------------------- one model, for tests

    def run_one(self, content: bytes, hook: str | None = None, timeout: float | None = None,
                input_seed: int = 0) -> Verdict:
        """Run and classify one model with the campaign's limits (starts a slot if needed)."""
        if not self.slots:
            saved_jobs, self.config.jobs = self.config.jobs, 1
            self.start()
            self.config.jobs = saved_jobs
        slot = self.slots[0]
        entry = Entry("given", content, None, "given")
        mutant = Mutant(0, entry, content, None, [], input_seed)
        slot.begin(self._job(mutant, hook), timeout or self.config.timeout, (mutant, None))
        while True:
            wait_any([slot], limit=1.0)
            if slot.step():
                finished = self._finish(slot)
                if finished is not None:
                    return finished[1]


def _result_summary(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    summary = {k: v for k, v in result.items() if k not in ("outputs", "coverage", "traceback")}
    if "message" in summary:
        summary["message"] = str(summary["message"])[:2000]
    if result.get("traceback"):
        summary["traceback"] = result["traceback"]
    if result.get("outputs") is not None:
        summary["outputs"] = [{k: v for k, v in o.items() if k not in ("array", "unwritten")}
                              | ({"unwritten_elements": int(o["unwritten"].sum())} if "unwritten" in o else {})
                              for o in result["outputs"]]
    return summary


def check_available() -> None:
    """Raise a one-line RuntimeUnavailableError when the oracle cannot run here."""
    try:
        importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeUnavailableError("the fuzzer compares against LiteRT: pip install ai-edge-litert") from None
