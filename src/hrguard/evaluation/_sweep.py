"""Running many variants of one rule over the same events: read and validate once, judge per variant.

A scan spends most of its time reading, validating and ordering the events (about 85% of a
single-rule scan of 44,000 events); a sweep's variants differ only in one rule's parameters. So the
events become one :class:`~hrguard.columns.Frame` once (``Engine.intake().frame``), and each variant is
``Engine.judge`` of that frame: the rule alone, its own detector state, nothing read again. The frame
is never written to, so the variants are independent: run in order, or on ``n_jobs`` worker
processes forked with the frame already in memory, they give the same findings. Forests are grown
once per distinct fit (:func:`hrguard.analytics.reuse_grown_forests`): the variants of a parameter
that does not change the trees, such as the forest's ``contamination``, fit the same forests, so
only the first variant (per worker) grows them.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TextIO

from ..analytics import reuse_grown_forests
from ..engine import Engine
from ..events import to_instant_us
from ..ingest import watch_blocks
from ..findings import Finding
from ..rules import Ruleset

_JOB: tuple[Engine, Any, Any, Sequence[Ruleset], int | None] | None = None  # what forked workers inherit
_WORKER_FORESTS: Any = None  # in a forked worker: its reuse_grown_forests context, entered once


def _judge_one(i: int, job: tuple[Engine, Any, Any, Sequence[Ruleset], int | None] | None = None
               ) -> tuple[list[Finding], float]:
    """Judge variant ``i`` of ``job`` (in a forked worker: the job it inherited)."""
    global _WORKER_FORESTS
    if job is None and _WORKER_FORESTS is None:  # a forked worker: forests reused across the variants it judges
        _WORKER_FORESTS = reuse_grown_forests()
        _WORKER_FORESTS.__enter__()
    engine, frame, intake, variants, as_of = job if job is not None else _JOB  # type: ignore[misc]
    t0 = time.perf_counter()
    res = engine.judge(frame, variants[i], intake, as_of)
    return list(res.findings), time.perf_counter() - t0


def interactive(stream: TextIO) -> bool:
    """Whether a progress bar belongs on ``stream``: a terminal, or a Jupyter kernel's output."""
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython  # type: ignore[import-not-found]

            shell = get_ipython()
            if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
                return True
        except Exception:  # noqa: BLE001 - no IPython: not a kernel
            pass
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):
        return False


class Progress:
    """One line on ``stream``, redrawn after each variant: ``label: done/total, elapsed``; cleared at the end."""

    def __init__(self, total: int, label: str, stream: TextIO, enabled: bool,
                 clock: Callable[[], float] = time.perf_counter):
        self.total, self.label, self.stream, self.enabled, self.clock = total, label, stream, enabled, clock
        self.began = clock()
        self.done = 0
        self.width = 0

    def reading(self, events: int) -> None:
        """The events read so far (before the first variant is judged)."""
        if self.enabled:
            self._draw(f"{self.label}: reading the events once, {events:,} so far, {self.clock() - self.began:.1f} s")

    def read(self) -> None:
        """Reading is done: judging starts now (what the time left is estimated from)."""
        self.began = self.clock()

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        elapsed = self.clock() - self.began
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        bar = "#" * (20 * self.done // self.total)
        self._draw(f"{self.label} [{bar:<20}] {self.done}/{self.total}, {elapsed:.1f} s, ~{left:.0f} s left")

    def _draw(self, line: str) -> None:
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _fork_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run_variants(engine: Engine, events: Any, variants: Sequence[Ruleset], as_of: Any = None, *, n_jobs: int = 1,
                 progress: Progress | None = None) -> tuple[list[tuple[list[Finding], float]], float]:
    """Each variant's findings and judging time, in the variants' order; and the seconds spent reading.

    ``events`` are read and validated once. ``n_jobs > 1`` judges variants on that many forked
    processes (where ``fork`` exists; elsewhere one at a time); the results do not depend on it.
    """
    global _JOB
    t0 = time.perf_counter()
    intake = engine.intake()
    as_of_us = to_instant_us(as_of, what="as_of") if as_of is not None else None
    seen = [0]

    def count(block: Any) -> None:
        seen[0] += len(block.values)
        if progress is not None:
            progress.reading(seen[0])

    with watch_blocks(count):
        frame = intake.frame(events, as_of_us)
    if progress is not None:
        progress.read()
    if as_of_us is None and len(frame):
        as_of_us = int(frame.ts[-1])
    read_s = time.perf_counter() - t0
    job = (engine, frame, intake, variants, as_of_us)
    jobs = max(1, min(int(n_jobs), len(variants)))
    out: list[tuple[list[Finding], float] | None] = [None] * len(variants)
    try:
        if jobs > 1 and _fork_available():
            _JOB = job  # what the workers inherit when forked (set just before the pool forks them)
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_judge_one, i): i for i in range(len(variants))}
                for fut in as_completed(futures):
                    out[futures[fut]] = fut.result()
                    if progress is not None:
                        progress.step()
        else:
            with reuse_grown_forests():
                for i in range(len(variants)):
                    out[i] = _judge_one(i, job)
                    if progress is not None:
                        progress.step()
    finally:
        _JOB = None
        if progress is not None:
            progress.close()
    return [o for o in out if o is not None], read_s
