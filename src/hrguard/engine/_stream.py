"""The stream: events pushed one at a time, held until final, judged with the same findings as a scan."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..columns import NULL_CODE, Chunk, positions
from ..errors import DetectorError, InvalidArgumentError
from ..events import format_duration, from_us, to_duration_us, to_instant_us, to_us
from ..findings import Finding
from ..ingest import IngestStats, Intake, Rejection
from ..rules import Ruleset
from . import _default
from ._result import ScanResult
from ._runner import Runner, empty_frame

if TYPE_CHECKING:
    from ._engine import Engine


class Stream:
    """Incremental scanning with the same findings as :func:`scan`.

    The stream's clock is the latest ``ts`` pushed or the time given to :meth:`advance_to`. Events
    may arrive out of order up to ``allowed_lateness`` behind the clock; they are held until nothing
    earlier can still arrive, then judged in the one order ``(ts, id)``. After ``push``, everything
    strictly older than ``clock - allowed_lateness`` is final; after ``advance_to(t)``, everything at
    or before ``t - allowed_lateness`` is. An event at or before the final instant (the watermark)
    is rejected as late: reported and counted, never silently dropped.

    ``allowed_lateness`` is a duration by hrguard's one policy (:mod:`hrguard.events`): ``"10m"``,
    ISO 8601 ``"PT10M"``, a ``timedelta``, or a number of seconds (``30`` is 30 seconds).

    ``batch`` (default 1: every push judges what it made final) lets final events wait until every
    ``batch``-th event accepted (rejected records and duplicates do not count), whose push judges
    them all in one chunk; :meth:`advance_to` and :meth:`result` judge
    everything final first. The findings and their ids are the same (chunking never changes them);
    a push then returns nothing until its batch is judged, and the findings arrive with the push that
    completes the batch. It buys throughput (rules pay numpy's fixed cost per call once per batch,
    not once per event) with delay: see ``docs/streaming.md``.
    """

    def __init__(self, ruleset: Any = "sales", allowed_lateness: Any = "0s", *, engine: Engine | None = None,
                 strict: bool = False, batch: int = 1):
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InvalidArgumentError("batch", f"expected a whole number of pushes >= 1, got {batch!r}")
        self.batch = batch
        self._pending = 0  # events accepted since the last release (batch > 1)
        self.lateness = to_duration_us(allowed_lateness, what="allowed_lateness")
        self.engine = engine if engine is not None else _default.engine()
        self.ruleset = ruleset if isinstance(ruleset, Ruleset) else self.engine.load_ruleset(ruleset)
        # events wait in the intake until final, then go to the detectors in the order (ts, id)
        self.intake = Intake(self.engine, strict=strict, lateness=self.lateness, late_message=self._late)
        self.strings = self.intake.strings
        self.runner = Runner(self.ruleset, self.strings, streaming=True)
        # the rules' set-up (imports, models) happens here rather than in the first push; the objects
        # those imports made are collected now, not by a collection that would land in a push
        modules = len(sys.modules)
        self.runner.prepare(NULL_CODE)
        if len(sys.modules) > modules:
            gc.collect()
        self._clock: int | None = None
        self._watermark: int | None = None
        self._no_events = empty_frame(self.strings)
        self._next_pos = 0

    @property
    def clock(self) -> datetime | None:
        """The latest ``ts`` pushed or time advanced to, in the ruleset's zone."""
        return None if self._clock is None else from_us(self._clock, self.runner.clock.zone)

    @property
    def watermark(self) -> datetime | None:
        """Every event at or before this instant has been judged; an event there or earlier is late."""
        return None if self._watermark is None else from_us(self._watermark, self.runner.clock.zone)

    @property
    def findings(self) -> list[Finding]:
        return self.runner.findings

    @property
    def suppressed(self) -> list[Finding]:
        return self.runner.suppressed

    @property
    def rejected(self) -> list[Rejection]:
        return self.intake.rejected

    @property
    def stats(self) -> IngestStats:
        return self.intake.stats

    @property
    def errors(self) -> list[DetectorError]:
        return self.runner.errors

    def _late(self, ts: int) -> str:
        """Why an event at ``ts`` is late (it is at or before the watermark)."""
        zone = self.runner.clock.zone
        clock = from_us(self._clock, zone).isoformat() if self._clock is not None else "-"
        return (f"late event: {from_us(ts, zone).isoformat()} is too far behind the stream's clock {clock} "
                f"(allowed_lateness {format_duration(self.lateness)}); events that old are already judged. "
                f"Raise allowed_lateness to accept such delays.")

    def push(self, event: Any) -> list[Finding]:
        """Add one event (a dict or model); return the findings that became true."""
        ev = self.intake.admit(event)
        if ev is None:  # rejected (also as late) or a duplicate: counted
            return []
        ts = to_us(ev.ts)
        self._clock = ts if self._clock is None else max(self._clock, ts)
        if self.batch > 1:
            self._pending += 1
            if self._pending < self.batch:  # the batch is not complete: what became final waits
                self.intake.hold(ev, ts)
                return []
        # what the new clock makes final never includes the new event (it is not late, so it is later
        # than that): release first, then hold it
        found = self._release(self._clock - self.lateness - 1)
        self.intake.hold(ev, ts)
        return found

    def push_many(self, events: Iterable[Any]) -> list[Finding]:
        out: list[Finding] = []
        for e in events:
            out.extend(self.push(e))
        return out

    def advance_to(self, ts: Any) -> list[Finding]:
        """Time has reached ``ts``: everything due at or before ``ts - allowed_lateness`` fires, including
        the work rules left out of pushes (the forest's fits and period scoring), done now.

        ``ts`` is an aware datetime, RFC 3339 with an offset, or seconds since the Unix epoch (see
        :mod:`hrguard.events`); anything else is an :class:`~hrguard.errors.InvalidArgumentError`.
        """
        t = to_instant_us(ts, what="advance_to(ts)")
        self._clock = t if self._clock is None else max(self._clock, t)
        out = self._release(t - self.lateness)
        return sorted(out + self.runner.settle(), key=Finding.sort_key)

    def _release(self, upto: int) -> list[Finding]:
        self._pending = 0
        if self._watermark is not None and upto <= self._watermark:
            return []
        frame = self.intake.release(upto, self._next_pos)
        if frame is not None:
            self._next_pos += len(frame)
            chunk = Chunk(frame, positions(len(frame)), upto)
        else:
            chunk = Chunk.empty(self._no_events, upto)
        self._watermark = upto
        return self.runner.feed(chunk)

    def result(self) -> ScanResult:
        """Everything so far as a :class:`ScanResult` (``as_of`` is the watermark; deferred work is settled,
        and what a ``batch`` left waiting is judged)."""
        if self._pending and self._clock is not None:
            self._release(self._clock - self.lateness - 1)
        self.runner.settle()
        return self.runner.result(self.intake, self._watermark)
