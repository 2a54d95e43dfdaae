"""Worker processes seen from the parent: start, submit a job, collect an answer or notice a death or a hang.

A :class:`Slot` is a pair of workers (LiteRT, refinterp) that run one mutant after the other: LiteRT first, then
refinterp. A worker that dies (signal), passes its deadline or grows too large is killed and replaced; every
other mutant reuses the same processes, so imports and compiled kernels are paid once per worker.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from refinterp.tools.fuzz.classify import signal_name
from refinterp.tools.fuzz.worker import worker_main

#: seconds a fresh worker may take to import and report ready
START_SECONDS = 120.0
_WORKER_MODULE = "refinterp.tools.fuzz.worker"


def context() -> Any:
    """A forkserver context: workers fork from a clean server process, never from the (threaded) parent."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([_WORKER_MODULE])
    return ctx


class Worker:
    """One child process of one role ("refinterp" or "litert")."""

    def __init__(self, ctx: Any, role: str, memory_bytes: int, scratch: str):
        self.ctx, self.role, self.memory_bytes = ctx, role, memory_bytes
        fd, self.stderr_path = tempfile.mkstemp(prefix=f"{role}-", suffix=".stderr", dir=scratch)
        os.close(fd)
        self.process: Any = None
        self.conn: Connection | None = None
        self.deadline = 0.0
        self.jobs_done = 0

    def start(self) -> None:
        parent, child = self.ctx.Pipe()
        settings = {"memory_bytes": self.memory_bytes, "stderr_path": self.stderr_path}
        self.process = self.ctx.Process(target=worker_main, args=(child, self.role, settings), daemon=True,
                                        name=f"fuzz-{self.role}")
        self.process.start()
        child.close()
        self.conn = parent
        self.jobs_done = 0
        if not parent.poll(START_SECONDS):
            self.kill()
            raise RuntimeError(f"the {self.role} worker did not start within {START_SECONDS:.0f} s")
        try:
            parent.recv()
        except EOFError:
            death = self.death()
            raise RuntimeError(f"the {self.role} worker died while starting: {death}") from None

    def submit(self, job: dict[str, Any], seconds: float) -> bool:
        """Send a job; False when the worker is already dead (the caller restarts it)."""
        assert self.conn is not None
        try:
            self.conn.send(job)
        except (BrokenPipeError, OSError):
            return False
        self.deadline = time.monotonic() + seconds
        return True

    def stderr_tail(self, lines: int = 3) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        kept = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("INFO:")]
        return " | ".join(kept[-lines:])

    def death(self) -> str:
        """Why the worker stopped answering: the signal (or exit status) and its last stderr lines."""
        if self.process is not None:
            self.process.join(5)
        exitcode = self.process.exitcode if self.process is not None else None
        tail = self.stderr_tail()
        return signal_name(exitcode) + (f": {tail}" if tail else "")

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def stop(self) -> None:
        if self.conn is not None and self.process is not None and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(2)
            except (BrokenPipeError, OSError):
                pass
        self.kill()
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass

    def restart(self) -> None:
        self.kill()
        self.start()


#: the exception types LiteRT's Python API raises when it refuses a model
LITERT_REFUSAL_ERRORS = ("ValueError", "RuntimeError")


class Slot:
    """A LiteRT worker and a refinterp worker running one mutant at a time, LiteRT first."""

    def __init__(self, ctx: Any, memory_bytes: int, scratch: str):
        self.workers = {role: Worker(ctx, role, memory_bytes, scratch) for role in ("litert", "refinterp")}
        self.job: dict[str, Any] | None = None
        self.phase: str | None = None
        self.results: dict[str, Any] = {}
        self.deaths: dict[str, str] = {}
        self.seconds = 0.0
        self.meta: Any = None
        self.litert_retried = False

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def begin(self, job: dict[str, Any], seconds: float, meta: Any = None) -> None:
        self.job, self.seconds, self.meta = job, seconds, meta
        self.results, self.deaths = {}, {}
        self.litert_retried = False
        self._submit("litert")

    def _submit(self, role: str) -> None:
        self.phase = role
        worker = self.workers[role]
        job = self.job if role == "refinterp" else {k: v for k, v in self.job.items() if k not in ("hook",)}
        if not worker.submit(job, self.seconds):
            worker.restart()
            worker.submit(job, self.seconds)

    def connection(self) -> Connection | None:
        if self.phase is None:
            return None
        return self.workers[self.phase].conn

    def deadline(self) -> float:
        return self.workers[self.phase].deadline if self.phase else float("inf")

    def step(self) -> bool:
        """Advance after the current worker answered, died or passed its deadline; True when the mutant is done."""
        role = self.phase
        assert role is not None
        worker = self.workers[role]
        assert worker.conn is not None
        if worker.conn.poll():
            try:
                self.results[role] = worker.conn.recv()
                worker.jobs_done += 1
            except (EOFError, OSError):
                self.deaths[role] = worker.death()
                worker.restart()
        elif time.monotonic() >= worker.deadline:
            self.deaths[role] = f"timeout after {self.seconds:g} s"
            worker.restart()
        else:
            return False
        if role == "litert":
            result = self.results.get("litert") or {}
            if (result.get("status") == "refused" and result.get("error") not in LITERT_REFUSAL_ERRORS
                    and not self.litert_retried):
                # LiteRT refuses a model with ValueError or RuntimeError; anything else (a KeyError
                # '__builtins__' was seen) means an earlier mutant corrupted this worker's interpreter state:
                # run the mutant again in a fresh worker
                self.litert_retried = True
                self.results.pop("litert")
                worker.restart()
                self._submit("litert")
                return False
            self._submit("refinterp")
            return False
        self.phase = None
        return True

    def retry_refinterp(self, seconds: float) -> str:
        """Run the current mutant again in a fresh refinterp worker (to confirm a crash or a hang); returns
        the first death."""
        first = self.deaths.pop("refinterp")
        self.results.pop("refinterp", None)
        self.seconds = seconds
        self._submit("refinterp")
        return first

    def finish(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], Any]:
        job, results, deaths, meta = self.job, self.results, self.deaths, self.meta
        self.job, self.meta = None, None
        return job, results, deaths, meta


def wait_any(slots: list[Slot], limit: float | None = None) -> None:
    """Block until some busy slot's worker answers or dies, or the nearest deadline passes."""
    conns = [c for c in (s.connection() for s in slots if s.busy) if c is not None]
    if not conns:
        return
    timeout = max(0.0, min(s.deadline() for s in slots if s.busy) - time.monotonic())
    if limit is not None:
        timeout = min(timeout, limit)
    wait(conns, timeout=timeout)
