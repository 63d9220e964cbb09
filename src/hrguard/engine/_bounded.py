"""The bounded scan: one pass over the input in order of arrival, in memory bounded by the detectors' state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..columns import Chunk
from ..events import format_duration, from_us, to_duration_us, to_instant_us
from ..ingest import Intake
from ..rules import Ruleset
from ._batch import GcFreezer
from ._result import ScanResult
from ._runner import DEFAULT_CHUNK, Runner, empty_frame

if TYPE_CHECKING:
    from ._engine import Engine


class BoundedScan:
    """A scan in memory bounded by the detectors' state, not by the number of events.

    The input is read once, in order of arrival, a block of records at a time. Its clock is the
    latest ``ts`` of the valid events read so far. An event more than ``max_disorder`` behind the
    clock when it is read (``ts < clock - max_disorder``) is rejected as late: reported and counted
    (``stats.late``), as a :class:`Stream` with ``allowed_lateness = max_disorder`` would. The other
    valid events wait in a window (in column form) until they are final, i.e. strictly older than
    ``clock - max_disorder`` (nothing earlier can still be accepted); whenever at least
    ``chunk_size`` of them are final they go to the detectors in one micro-batch: sorted into the
    order ``(ts, id)`` and fed through a :class:`Runner` in chunks, exactly as :meth:`Engine.scan`
    feeds its one big frame. At the end time advances to ``as_of`` (the given one, or else the latest
    ``ts`` read, which is what a plain scan uses) and the rest is judged.

    So the findings, suppressed findings and counts equal the plain scan's whenever no event arrives
    more than ``max_disorder`` behind the latest ``ts`` read before it. Events after an explicit
    ``as_of`` are counted in ``stats.after_as_of`` and never judged (they wait in the window until
    the end: keep ``as_of`` at or after the input's end for bounded memory).

    The duplicate rule is the plain scan's: a repeated id with the same content (compared in column
    form) is a duplicate, with other content a rejection. Ids of judged events are remembered as
    64-bit hashes (8 bytes an event, the one thing that grows with the input besides the detectors'
    state and the findings); a new event whose id hashes like a judged one is rejected as a repeated
    id (for distinct ids that happens by chance with probability about n**2 / 2**65: 3e-6 for ten
    million events).
    """

    BLOCK = 2048  # records validated, checked and taken at a time (at most chunk_size); releases come between blocks

    def __init__(self, engine: Engine, ruleset: Ruleset, max_disorder: Any, *, strict: bool = False,
                 chunk_size: int = DEFAULT_CHUNK):
        self.engine = engine
        self.ruleset = ruleset
        self.lateness = to_duration_us(max_disorder, what="max_disorder")
        self.chunk_size = max(1, int(chunk_size))
        # the window of events not yet final, the lateness rule and the judged ids are the intake's
        self.intake = Intake(engine, strict=strict, lateness=self.lateness, late_message=self._late)
        self.strings = self.intake.strings
        self.runner = Runner(ruleset, self.strings)
        self.as_of: int | None = None
        self._next_pos = 0
        self.releases = 0
        self.peak_window = 0  # the most events held at once

    @property
    def seen(self) -> Any:
        """The ids of the events judged so far (:class:`~hrguard.ingest.JudgedIds`)."""
        return self.intake.judged

    # -- the run -------------------------------------------------------------------------------------
    def run(self, events: Any, as_of: Any = None) -> ScanResult:
        self.as_of = to_instant_us(as_of, what="as_of") if as_of is not None else None
        intake = self.intake
        # what the window holds lives for a while, then dies by reference counting (no cycles): keep
        # the cyclic GC from walking it and the detectors' state again and again (see GcFreezer)
        with GcFreezer(every=8192) as gcf:
            for block in intake.read(events, min(self.BLOCK, self.chunk_size)):
                gcf.n += len(block.values)
                held = len(intake.window)
                self.peak_window = max(self.peak_window, held)
                if held >= self.chunk_size and self._ready_count() >= self.chunk_size:
                    self._release(self._final_bound())
                gcf.freeze()
            final = self.as_of if self.as_of is not None else intake.clock
            if final is not None and (intake.watermark is None or final > intake.watermark):
                self._release(final)
            intake.stats.after_as_of = len(intake.window)  # only events after as_of are left
            intake.window.clear()
            intake.held.clear()
            return self.runner.result(intake, final)

    def _final_bound(self) -> int:
        """The latest instant at or before which every event is final now."""
        clock = self.intake.clock
        assert clock is not None
        bound = clock - self.lateness - 1
        return bound if self.as_of is None else min(bound, self.as_of)

    def _ready_count(self) -> int:
        return int(np.count_nonzero(self.intake.window.ts_array() <= self._final_bound()))

    def _late(self, ts: int) -> str:
        zone = self.runner.clock.zone
        clock = self.intake.clock
        read = from_us(clock, zone).isoformat() if clock is not None else "-"
        return (f"late event: {from_us(ts, zone).isoformat()} is more than max_disorder "
                f"{format_duration(self.lateness)} behind the latest ts read before it ({read}); events that "
                f"old are already judged. Raise max_disorder, or scan without it.")

    # -- release ---------------------------------------------------------------------------------------
    def _release(self, upto: int) -> None:
        """Judge every waiting event at or before ``upto`` (sorted, in chunks); time reaches ``upto``."""
        frame = self.intake.release(upto, self._next_pos)
        runner = self.runner
        if frame is not None:
            self._next_pos += len(frame)
            for chunk in frame.chunks(self.chunk_size, upto_last=upto):
                runner.feed(chunk)
        else:
            runner.feed(Chunk.empty(empty_frame(self.strings), upto))
        self.releases += 1
