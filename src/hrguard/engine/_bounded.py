"""The bounded scan: one pass over the input in order of arrival, in memory bounded by the detectors' state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..columns import Chunk, Frame
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

    The input is read once, in order of arrival, a block of records at a time. Each tenant has its
    own clock: the latest ``ts`` of its valid events read so far (null and ``""`` are the same,
    default tenant). An event more than ``max_disorder`` behind its tenant's clock when it is read
    (``ts < clock - max_disorder``) is rejected as late: reported and counted (``stats.late``). The
    other valid events wait in a window (in column form) until they are final, i.e. strictly older
    than their tenant's ``clock - max_disorder`` (nothing earlier of that tenant can still be
    accepted); whenever at least ``chunk_size`` of them are final they go to the detectors in one
    micro-batch: sorted into the order ``(ts, id)`` and fed through a :class:`Runner` in chunks, each
    tenant's up to its own final instant (the detectors of one tenant never see another's events or
    time). At the end time advances to ``as_of`` (the given one, or else the latest ``ts`` read of
    any tenant, which is what a plain scan uses) for every tenant and the rest is judged.

    So the findings, suppressed findings and counts equal the plain scan's whenever no event arrives
    more than ``max_disorder`` behind the latest ``ts`` read before it of its tenant: a company that
    syncs every two hours is not late because another company's events are newer. (A tenant whose
    events stop waits, with its last ``max_disorder`` of events, until the end.) Events after an
    explicit ``as_of`` are counted in ``stats.after_as_of`` and never judged (they wait in the window
    until the end: keep ``as_of`` at or after the input's end for bounded memory).

    The duplicate rule is the plain scan's: ids are unique within a tenant, and a repeated
    ``(tenant, id)`` with the same content (compared in column form) is a duplicate, with other
    content a rejection. Keys of judged events are remembered as 64-bit hashes (8 bytes an event, the
    one thing that grows with the input besides the detectors' state and the findings); a new event
    whose key hashes like a judged one is rejected as a repeated id (for distinct keys that happens
    by chance with probability about n**2 / 2**65: 3e-6 for ten million events).
    """

    BLOCK = 2048  # records validated, checked and taken at a time (at most chunk_size); releases come between blocks

    def __init__(self, engine: Engine, ruleset: Ruleset, max_disorder: Any, *, strict: bool = False,
                 chunk_size: int = DEFAULT_CHUNK):
        self.engine = engine
        self.ruleset = ruleset
        self.lateness = to_duration_us(max_disorder, what="max_disorder")
        self.chunk_size = max(1, int(chunk_size))
        # the window of events not yet final, the lateness rule and the judged ids are the intake's
        self.intake = Intake(engine, strict=strict, lateness=self.lateness, late_message=self._late,
                             tenant_clocks=True, ids_horizon=ruleset.horizons.ids)
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
                    self._release(self._final_bounds())
                gcf.freeze()
            final = self.as_of if self.as_of is not None else intake.clock
            if final is not None:
                self._release({t: final for t in intake.clocks})
            intake.stats.after_as_of = len(intake.window)  # only events after as_of are left
            intake.window.clear()
            intake.held.clear()
            return self.runner.result(intake, final)

    def _final_bounds(self) -> dict[int, int]:
        """Per tenant (code), the latest instant at or before which each of its events is final now."""
        lag = self.lateness + 1
        if self.as_of is None:
            return {t: c - lag for t, c in self.intake.clocks.items()}
        return {t: min(c - lag, self.as_of) for t, c in self.intake.clocks.items()}

    def _ready_count(self) -> int:
        window = self.intake.window
        bounds = self._final_bounds()
        tenants = window.tenant_array()
        t0 = int(tenants[0])
        if (tenants == t0).all():
            return int(np.count_nonzero(window.ts_array() <= bounds[t0]))
        codes = np.asarray(sorted(bounds), dtype=np.int64)
        limits = np.asarray([bounds[int(t)] for t in codes], dtype=np.int64)
        return int(np.count_nonzero(window.ts_array() <= limits[np.searchsorted(codes, tenants)]))

    def _late(self, ts: int) -> str:
        zone = self.runner.clock.zone
        clock = self.intake.late_clock
        read = from_us(clock, zone).isoformat() if clock is not None else "-"
        return (f"late event: {from_us(ts, zone).isoformat()} is more than max_disorder "
                f"{format_duration(self.lateness)} behind the latest ts read before it of its tenant ({read}); "
                f"events that old are already judged. Raise max_disorder, or scan without it.")

    # -- release ---------------------------------------------------------------------------------------
    def _release(self, bounds: dict[int, int]) -> None:
        """Judge every waiting event of each tenant at or before its bound (sorted, in chunks, a tenant at
        a time); each tenant's time reaches its bound, events or not."""
        intake, runner = self.intake, self.runner
        before = dict(intake.watermarks)
        frame = intake.release_tenants(bounds, self._next_pos)
        fed: set[int] = set()
        if frame is not None:
            self._next_pos += len(frame)
            for t, rows in _by_tenant(frame.tenant):
                fed.add(t)
                for chunk in _chunks(frame, rows, self.chunk_size, bounds[t]):
                    runner.feed_tenant(t, chunk)
        no_events = None
        for t, b in bounds.items():  # time passes for the tenants with no event here
            w = before.get(t)
            if t not in fed and (w is None or b > w):
                if no_events is None:
                    no_events = empty_frame(self.strings)
                runner.feed_tenant(t, Chunk.empty(no_events, b))
        self.releases += 1


def _by_tenant(tenant: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(tenant code, its rows)`` of a frame's tenant column, rows ascending."""
    t0 = int(tenant[0])
    if (tenant == t0).all():
        return [(t0, np.arange(tenant.size))]
    return [(int(t), np.flatnonzero(tenant == t)) for t in np.unique(tenant)]


def _chunks(frame: Frame, rows: np.ndarray, target: int, upto_last: int) -> Iterator[Chunk]:
    """:meth:`Frame.chunks` of the frame rows ``rows`` (ascending: one tenant's), the last one up to ``upto_last``."""
    if rows.size == len(frame):
        yield from frame.chunks(target, upto_last=upto_last)
        return
    ts = frame.ts[rows]
    n = rows.size
    start = 0
    while start < n:
        end = min(n, start + max(1, target))
        if end < n:
            end = int(np.searchsorted(ts, ts[end - 1], side="right"))
        upto = int(ts[end - 1])
        if end == n:
            upto = max(upto, upto_last)
        yield Chunk(frame, rows[start:end], upto)
        start = end
