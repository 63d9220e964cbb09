"""The batch scan: read everything, sort it into the order ``(ts, id)``, feed it to a :class:`Runner` in chunks."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from ..columns import Chunk, Frame
from ..ingest import Intake
from ..rules import Ruleset
from ._result import ScanResult
from ._runner import DEFAULT_CHUNK, Runner

if TYPE_CHECKING:
    from ._engine import Engine


class GcFreezer:
    """Keep the cyclic GC from rescanning everything a scan holds, again and again.

    A scan of a million events keeps millions of small objects alive (ids, nested plan items) and
    creates next to no cycles, yet each full collection walks all of them (18% of a 1M scan's CPU
    time, measured). Every ``every`` ingested events, and once before the detectors run, the objects
    alive so far move to the permanent generation (``gc.freeze``); they go back to the collector when
    the scan ends. Only scans large enough to matter freeze at all.
    """

    def __init__(self, every: int = 65_536):
        self.every = every
        self.n = 0
        self.frozen = False

    def tick(self, n: int = 1) -> None:
        before = self.n // self.every
        self.n += n
        if self.n // self.every != before:
            self.freeze()

    def freeze(self) -> None:
        if self.n >= self.every:
            gc.freeze()
            self.frozen = True

    def __enter__(self) -> GcFreezer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.frozen:
            gc.unfreeze()


def scan_all(engine: Engine, events: Any, ruleset: Ruleset, as_of_us: int | None, *, strict: bool = False,
             chunk_size: int = DEFAULT_CHUNK) -> ScanResult:
    """Read every record of ``events`` into one frame, then judge it at ``as_of_us`` (default: the last ``ts``)."""
    intake = Intake(engine, strict=strict)
    with GcFreezer() as gcf:
        for block in intake.read(events):
            gcf.tick(len(block.values))
        frame = intake.release_all(as_of_us)
        if as_of_us is None and len(frame):
            as_of_us = int(frame.ts[-1])
        gcf.freeze()
        return judge(frame, ruleset, intake, as_of_us, chunk_size=chunk_size)


def judge(frame: Frame, ruleset: Ruleset, intake: Intake, as_of: int | None = None, *,
          chunk_size: int = DEFAULT_CHUNK) -> ScanResult:
    """Judge a frame of events at ``as_of`` (microseconds; default: its last ``ts``); the result counts the
    intake's records and rejections."""
    if as_of is None and len(frame):
        as_of = int(frame.ts[-1])
    runner = Runner(ruleset, intake.strings)
    for chunk in frame.chunks(chunk_size, upto_last=as_of):
        runner.feed(chunk)
    if len(frame) == 0 and as_of is not None:
        runner.feed(Chunk.empty(frame, as_of))  # time still passes for an empty input
    return runner.result(intake, as_of)
