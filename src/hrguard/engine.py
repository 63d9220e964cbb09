"""The engine: one object owning its plugins, and the ways events reach detectors.

:meth:`Engine.scan` (batch) and :class:`Stream` (incremental) share one path: valid events are
moved into columns, sorted into the spec's order ``(ts, id)``, and handed to every rule instance as
time-ordered chunks through a :class:`Runner`. Only the chunking differs, and detectors are written
so chunking cannot change their findings: batch and streaming give the same findings by design.
A bounded scan (``scan(..., max_disorder="1d")``, :class:`BoundedScan`) reads its input once, in
order of arrival, and releases it to the detectors as a stream does, in large micro-batches: its
memory is the detectors' state plus a window of events, whatever the number of events.
"""

from __future__ import annotations

import bisect
import gc
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from . import plugins as _plugins
from .columns import Chunk, Frame, Interner, KindLayout, positions
from .detector import Detector, RuleContext
from .errors import DetectorError
from .events import Event
from .findings import Finding, Severity
from .display import to_html, to_pandas
from .fastpath import Schema
from .ingest import IngestStats, Rejection
from .intake import Intake
from .ruleset import Rule, Ruleset
from .ruleset import load_ruleset as _load_ruleset_with
from .timeutil import LocalClock, format_duration, from_us, to_duration_us, to_instant_us, to_us

log = logging.getLogger("hrguard")

DEFAULT_CHUNK = 65_536


class Engine:
    """Owns a pluggy ``PluginManager`` with the built-ins, installed plugins and any given ``plugins``.

    ``entrypoints=False`` loads no installed plugins (what tests want); ``None`` follows the
    ``HRGUARD_DISABLE_PLUGIN_AUTOLOAD`` environment variable.
    """

    def __init__(self, plugins: Iterable[object] = (), *, entrypoints: bool | None = None):
        self.pm, self.registry = _plugins.load(plugins, entrypoints=entrypoints)
        self.kinds: dict[str, type[Event]] = {k: r.obj for k, r in self.registry.kinds.items()}
        self.layouts = {k: KindLayout.of(m) for k, m in self.kinds.items()}
        self._schema: Schema | None = None

    @property
    def schema(self) -> Schema:
        """The fast path of this engine's kinds (generated from their models on first use)."""
        if self._schema is None:
            self._schema = Schema(self.kinds)
        return self._schema

    def intake(self, *, strict: bool = False) -> Intake:
        """A fresh :class:`~hrguard.intake.Intake` of this engine's kinds (its own strings)."""
        return Intake(self, strict=strict)

    @property
    def detectors(self) -> dict[str, type[Detector]]:
        return {k: r.obj for k, r in self.registry.detectors.items()}

    def load_ruleset(self, source: Any) -> Ruleset:
        """A ruleset (a bundled name, a path or a mapping) loaded with this engine's detectors."""
        return _load_ruleset_with(source, self)

    def scan(self, events: Any, ruleset: Any = "sales", as_of: Any = None, *, strict: bool = False,
             chunk_size: int = DEFAULT_CHUNK, max_disorder: Any = None) -> ScanResult:
        """Judge ``events`` (a path, paths, a file, or an iterable of dicts/models) at ``as_of``.

        ``as_of`` is an instant and ``max_disorder`` a duration, read by hrguard's one policy
        (:mod:`hrguard.timeutil`): ``as_of`` an aware datetime, RFC 3339 with an offset, or seconds
        since the Unix epoch; ``max_disorder`` ``"1d"``, ``"30m"``, a ``timedelta`` or seconds.
        ``max_disorder`` scans in bounded memory instead of holding every event: see
        :class:`BoundedScan`. The findings are the same as without it whenever no event arrives more
        than ``max_disorder`` behind the latest ``ts`` read before it; an event later than that is
        rejected as late (reported and counted).
        """
        rs = ruleset if isinstance(ruleset, Ruleset) else self.load_ruleset(ruleset)
        given_as_of = to_instant_us(as_of, what="as_of") if as_of is not None else None  # checked before reading
        if max_disorder is not None:
            return BoundedScan(self, rs, max_disorder, strict=strict, chunk_size=chunk_size).run(events, as_of)
        intake = Intake(self, strict=strict)
        with _GcFreezer() as gcf:
            for block in intake.read(events):
                gcf.tick(len(block.values))
            as_of_us = given_as_of
            frame = intake.release_all(as_of_us)
            if as_of_us is None and len(frame):
                as_of_us = int(frame.ts[-1])
            gcf.freeze()
            return self.judge(frame, rs, intake, as_of_us, chunk_size=chunk_size)

    def judge(self, frame: Frame, ruleset: Any, intake: Intake, as_of: int | None = None, *,
              chunk_size: int = DEFAULT_CHUNK) -> ScanResult:
        """Judge a frame of events (``intake.frame(...)``) at ``as_of`` (microseconds; default: its last
        ``ts``); the result counts the intake's records and rejections."""
        rs = ruleset if isinstance(ruleset, Ruleset) else self.load_ruleset(ruleset)
        if as_of is None and len(frame):
            as_of = int(frame.ts[-1])
        runner = Runner(rs, intake.strings)
        for chunk in frame.chunks(chunk_size, upto_last=as_of):
            runner.feed(chunk)
        if len(frame) == 0 and as_of is not None:
            runner.feed(Chunk.empty(frame, as_of))  # time still passes for an empty input
        return runner.result(intake, as_of)

    def stream(self, ruleset: Any = "sales", allowed_lateness: Any = "0s", *, strict: bool = False) -> Stream:
        return Stream(ruleset, allowed_lateness, engine=self, strict=strict)


class _GcFreezer:
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

    def __enter__(self) -> _GcFreezer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.frozen:
            gc.unfreeze()


_DEFAULT: Engine | None = None


def default_engine() -> Engine:
    """The process-wide engine used by ``hrguard.scan`` and friends (built-ins + installed plugins)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Engine()
    return _DEFAULT


def load_ruleset(source: Any, engine: Engine | None = None) -> Ruleset:
    """Load a ruleset from a path, a bundled name (``"sales"``), or a mapping with ``engine``'s detectors
    (default: :func:`default_engine`); raise :class:`~hrguard.RulesetError` listing every problem."""
    return (engine or default_engine()).load_ruleset(source)


@dataclass
class ScanResult:
    """What a scan found, what it suppressed, what it rejected, and counts of everything."""

    findings: list[Finding]
    suppressed: list[Finding]
    rejected: list[Rejection]
    stats: IngestStats
    errors: list[DetectorError]
    as_of: datetime | None
    ruleset: str
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        by_sev = {s.value: 0 for s in Severity}
        for f in self.findings:
            by_sev[f.severity.value] += 1
        return {
            "ruleset": self.ruleset,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "records": self.stats.received,
            "valid": self.stats.valid,
            "duplicates": self.stats.duplicates,
            "rejected": self.stats.rejected,
            "findings": len(self.findings),
            "suppressed": len(self.suppressed),
            "by_severity": by_sev,
            "detector_errors": len(self.errors),
        }

    def to_pandas(self, suppressed: bool = False) -> Any:
        """The findings as a pandas DataFrame, one row per finding (:func:`hrguard.display.to_pandas`)."""
        return to_pandas(self, suppressed=suppressed)

    def _repr_html_(self) -> str:
        return to_html(self)


_NEVER = np.iinfo(np.int64).max  # a due time no chunk reaches (``next_due() is None``)


class _Rules:
    """One tenant's rule instances, indexed for dispatch: who reads which kind, and who is due when.

    A stream feeds one event at a time, so asking twelve rules whether they care costs as much as
    judging the event. Here the answer is precomputed: ``readers(kind)`` is the (cached) list of the
    rules reading that kind, in rule order, and ``due`` holds each rule's :meth:`Detector.next_due`,
    asked again only after the rule processed a chunk (a detector's timers change only then), with
    ``min_due`` their minimum: a chunk ending before ``min_due`` wakes no rule for its timers.
    """

    __slots__ = ("entries", "due", "min_due", "live", "_readers")

    def __init__(self, entries: list[tuple[Rule, Detector]]):
        self.entries = entries
        self.live = [True] * len(entries)  # False once the rule failed (disabled for the rest of the run)
        self.due = [_due(det) for _, det in entries]
        self.min_due = min(self.due, default=_NEVER)
        self._readers: dict[str, list[int]] = {}

    def readers(self, kind: str) -> list[int]:
        """The live rules reading ``kind`` events (a detector with no ``kinds`` reads all), in rule order."""
        out = self._readers.get(kind)
        if out is None:
            out = self._readers[kind] = [
                i for i, (_, det) in enumerate(self.entries) if self.live[i] and (not det.kinds or kind in det.kinds)
            ]
        return out

    def to_run(self, kinds: Sequence[str], upto: int) -> list[int]:
        """The rules a chunk with events of ``kinds``, complete up to ``upto``, must be given, in rule order.

        A rule reading none of the kinds is skipped unless one of its timers is due by ``upto``:
        skipping it cannot change a finding. (A chunk with no events holds none of any kind's, even
        for a detector reading every kind.)
        """
        run = self.readers(kinds[0]) if len(kinds) == 1 else sorted({i for k in kinds for i in self.readers(k)})
        if self.min_due > upto:
            return run
        timers = [i for i, d in enumerate(self.due) if d <= upto and self.live[i]]
        return sorted(set(run).union(timers)) if run else timers

    def processed(self, i: int) -> None:
        """Rule ``i`` has processed a chunk: its timers may have changed."""
        due = self.due
        old, due[i] = due[i], _due(self.entries[i][1])
        if due[i] < self.min_due:
            self.min_due = due[i]
        elif old == self.min_due and due[i] > old:
            self.min_due = min(due)

    def disable(self, i: int) -> None:
        self.live[i] = False
        self.due[i] = _NEVER
        self.min_due = min(self.due)
        self._readers.clear()


def _due(det: Detector) -> int:
    due = det.next_due()
    return _NEVER if due is None else due


class Runner:
    """Feeds chunks to every rule instance (one set per tenant), then applies scope and exceptions."""

    def __init__(self, ruleset: Ruleset, strings: Interner, streaming: bool = False):
        self.ruleset = ruleset
        self.strings = strings
        self.streaming = streaming  # detectors may defer work until settle() (RuleContext.streaming)
        self.clock = LocalClock(ruleset.timezone)
        self.instances: dict[int, list[tuple[Rule, Detector]]] = {}
        self._rules: dict[int, _Rules] = {}
        self.errors: list[DetectorError] = []
        self.findings: list[Finding] = []
        self.suppressed: list[Finding] = []
        # (tenant, employee) -> ([ts], [(role, department)]) for scope "as known at the finding's ts"
        self.directory: dict[tuple[int, int], tuple[list[int], list[tuple[str | None, str | None]]]] = {}

    def _instances(self, tenant: int) -> list[tuple[Rule, Detector]]:
        return self._rules_of(tenant).entries

    def _rules_of(self, tenant: int) -> _Rules:
        rules = self._rules.get(tenant)
        if rules is None:
            tname = self.strings.text(tenant)
            inst = []
            for rule in self.ruleset.rules:
                ctx = RuleContext(rule.name, rule.severity, self.ruleset.language, self.clock, self.strings, tname,
                                  self.streaming)
                inst.append((rule, rule.detector(rule.params, ctx)))
            self.instances[tenant] = inst
            rules = self._rules[tenant] = _Rules(inst)
        return rules

    def _learn_directory(self, chunk: Chunk) -> None:
        rows = chunk.rows("employee.hired")
        if rows.size == 0:
            return
        f = chunk.frame
        roles = self.strings.texts(chunk.col("employee.hired", "role"))
        depts = self.strings.texts(chunk.col("employee.hired", "department"))
        for r, role, dept in zip(rows.tolist(), roles, depts):
            key = (int(f.tenant[r]), int(f.employee[r]))
            ts_list, vals = self.directory.setdefault(key, ([], []))
            ts_list.append(int(f.ts[r]))
            vals.append((role, dept))

    def feed(self, chunk: Chunk) -> list[Finding]:
        """Give one chunk to every rule instance; return the new in-scope findings in (ts, id) order."""
        self._learn_directory(chunk)
        n = len(chunk)
        f = chunk.frame
        text = self.strings.text
        if n == 1:  # a stream's usual chunk: one tenant, one kind
            row = int(chunk.idx[0])
            parts = [(int(f.tenant[row]), chunk, (text(int(f.kind[row])),))]
        elif n:
            tenants = f.tenant[chunk.idx]
            parts = [(int(tenants[0]), chunk, None)] if (tenants == tenants[0]).all() else [
                (int(t), chunk.select(tenants == t), None) for t in np.unique(tenants)
            ]
        else:
            parts = []
        present = {p[0] for p in parts}  # tenants with no events here still need time to pass:
        parts += [(t, Chunk.empty(f, chunk.upto), ()) for t in self._rules if t not in present]
        new: list[Finding] = []
        for tenant, part, kinds in parts:
            if kinds is None:
                kinds = [text(k) for k in np.unique(part.frame.kind[part.idx]).tolist()]
            rules = self._rules_of(tenant)
            for i in rules.to_run(kinds, part.upto):
                rule, det = rules.entries[i]
                try:
                    det.process(part)
                    out = det.drain()
                except Exception as exc:  # a detector must never take the engine down silently
                    err = DetectorError(rule.name, rule.use, exc)
                    log.error("%s; the rule is disabled for the rest of this run", err)
                    self.errors.append(err)
                    rules.disable(i)
                    det.drain()
                    continue
                rules.processed(i)
                for finding in out:
                    self._place(rule, tenant, finding, new)
        if new:
            new.sort(key=Finding.sort_key)
            self.findings.extend(new)
        return new

    def settle(self) -> list[Finding]:
        """Let every rule report the work it deferred (:meth:`Detector.settle`); the new findings, in (ts, id) order."""
        new: list[Finding] = []
        for tenant, rules in self._rules.items():
            for i, (rule, det) in enumerate(rules.entries):
                if not rules.live[i]:
                    continue
                try:
                    det.settle()
                    out = det.drain()
                except Exception as exc:  # as in feed: the rule is disabled, the run goes on
                    err = DetectorError(rule.name, rule.use, exc)
                    self.errors.append(err)
                    log.error("%s; the rule is disabled for the rest of this run", err)
                    rules.disable(i)
                    det.drain()
                    continue
                for finding in out:
                    self._place(rule, tenant, finding, new)
        new.sort(key=Finding.sort_key)
        self.findings.extend(new)
        return new

    def _place(self, rule: Rule, tenant: int, finding: Finding, new: list[Finding]) -> None:
        if not self._in_scope(rule, tenant, finding):
            return
        local_date = finding.ts.date()
        for exc in rule.exceptions:
            if exc.employees is not None and finding.employee_id not in exc.employees:
                continue
            if exc.customers is not None and finding.customer_id not in exc.customers:
                continue
            if exc.until is not None and local_date > exc.until:
                continue
            self.suppressed.append(finding.model_copy(update={"suppressed_by": exc.reason}))
            return
        new.append(finding)

    def _in_scope(self, rule: Rule, tenant: int, finding: Finding) -> bool:
        scope = rule.scope
        if not (scope.roles or scope.departments or scope.employees):
            return True
        emp = finding.employee_id
        if scope.employees and emp not in scope.employees:
            return False
        if scope.roles or scope.departments:
            role = dept = None
            entry = self.directory.get((tenant, self.strings.find(emp))) if emp is not None else None
            if entry is not None:
                i = bisect.bisect_right(entry[0], to_us(finding.ts)) - 1
                if i >= 0:
                    role, dept = entry[1][i]
            if scope.roles and role not in scope.roles:
                return False
            if scope.departments and dept not in scope.departments:
                return False
        return True

    def result(self, intake: Intake, as_of_us: int | None) -> ScanResult:
        findings = sorted(self.findings, key=Finding.sort_key)
        suppressed = sorted(self.suppressed, key=Finding.sort_key)
        as_of = from_us(as_of_us, self.clock.zone) if as_of_us is not None else None
        warnings = [w for inst in self.instances.values() for _, det in inst for w in det.warnings()]
        return ScanResult(findings, suppressed, list(intake.rejected), intake.stats, list(self.errors), as_of,
                          self.ruleset.name, warnings)


class Stream:
    """Incremental scanning with the same findings as :func:`scan`.

    The stream's clock is the latest ``ts`` pushed or the time given to :meth:`advance_to`. Events
    may arrive out of order up to ``allowed_lateness`` behind the clock; they are held until nothing
    earlier can still arrive, then judged in the one order ``(ts, id)``. After ``push``, everything
    strictly older than ``clock - allowed_lateness`` is final; after ``advance_to(t)``, everything at
    or before ``t - allowed_lateness`` is. An event at or before the final instant (the watermark)
    is rejected as late: reported and counted, never silently dropped.

    ``allowed_lateness`` is a duration by hrguard's one policy (:mod:`hrguard.timeutil`): ``"10m"``,
    ISO 8601 ``"PT10M"``, a ``timedelta``, or a number of seconds (``30`` is 30 seconds).
    """

    def __init__(self, ruleset: Any = "sales", allowed_lateness: Any = "0s", *, engine: Engine | None = None,
                 strict: bool = False):
        self.lateness = to_duration_us(allowed_lateness, what="allowed_lateness")
        self.engine = engine or default_engine()
        self.ruleset = ruleset if isinstance(ruleset, Ruleset) else self.engine.load_ruleset(ruleset)
        # events wait in the intake until final, then go to the detectors in the order (ts, id)
        self.intake = Intake(self.engine, strict=strict, lateness=self.lateness, late_message=self._late)
        self.strings = self.intake.strings
        self.runner = Runner(self.ruleset, self.strings, streaming=True)
        self._clock: int | None = None
        self._watermark: int | None = None
        self._no_events = _empty_frame(self.strings)
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
        :mod:`hrguard.timeutil`); anything else is an :class:`~hrguard.errors.InvalidArgumentError`.
        """
        t = to_instant_us(ts, what="advance_to(ts)")
        self._clock = t if self._clock is None else max(self._clock, t)
        out = self._release(t - self.lateness)
        return sorted(out + self.runner.settle(), key=Finding.sort_key)

    def _release(self, upto: int) -> list[Finding]:
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
        """Everything so far as a :class:`ScanResult` (``as_of`` is the watermark; deferred work is settled)."""
        self.runner.settle()
        return self.runner.result(self.intake, self._watermark)


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
        """The ids of the events judged so far (:class:`~hrguard.intake.JudgedIds`)."""
        return self.intake.judged

    # -- the run -------------------------------------------------------------------------------------
    def run(self, events: Any, as_of: Any = None) -> ScanResult:
        self.as_of = to_instant_us(as_of, what="as_of") if as_of is not None else None
        intake = self.intake
        # what the window holds lives for a while, then dies by reference counting (no cycles): keep
        # the cyclic GC from walking it and the detectors' state again and again (see _GcFreezer)
        with _GcFreezer(every=8192) as gcf:
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
            runner.feed(Chunk.empty(_empty_frame(self.strings), upto))
        self.releases += 1


def _empty_frame(strings: Interner) -> Frame:
    z = np.zeros(0, dtype=np.int64)
    return Frame(strings, z, np.zeros(0, dtype=object), z.astype(np.int32), z.astype(np.int32), z.astype(np.int32), z, {})


def scan(events: Any, ruleset: Any = "sales", as_of: Any = None, *, strict: bool = False,
         engine: Engine | None = None, chunk_size: int = DEFAULT_CHUNK, max_disorder: Any = None) -> ScanResult:
    """Scan ``events`` with ``ruleset`` (a Ruleset, bundled name or path) at ``as_of``.

    ``max_disorder="1d"`` scans in bounded memory (see :class:`BoundedScan`): same findings as long
    as no event arrives more than that behind the latest ``ts`` read before it; later ones are
    rejected as late.
    """
    if isinstance(ruleset, Ruleset):
        engine = engine or ruleset.engine
    engine = engine or default_engine()
    return engine.scan(events, ruleset, as_of, strict=strict, chunk_size=chunk_size, max_disorder=max_disorder)
