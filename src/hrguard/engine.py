"""The engine: one object owning its plugins, and the two ways events reach detectors.

:meth:`Engine.scan` (batch) and :class:`Stream` (incremental) share one path: valid events are
moved into columns, sorted into the spec's order ``(ts, id)``, and handed to every rule instance as
time-ordered chunks through a :class:`Runner`. Only the chunking differs, and detectors are written
so chunking cannot change their findings: batch and streaming give the same findings by design.
"""

from __future__ import annotations

import bisect
import gc
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from . import plugins as _plugins
from .columns import Chunk, ColumnBuilder, Frame, Interner, KindLayout
from .detector import Detector, RuleContext
from .errors import DetectorError
from .events import Event
from .findings import Finding, Severity
from .ingest import IngestStats, Intake, RawRecord, Rejection, RowDeduplicator, iter_records
from .ruleset import Rule, Ruleset, load_ruleset
from .timeutil import LocalClock, format_duration, from_us, parse_duration, to_us

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

    @property
    def detectors(self) -> dict[str, type[Detector]]:
        return {k: r.obj for k, r in self.registry.detectors.items()}

    def load_ruleset(self, source: Any) -> Ruleset:
        return load_ruleset(source, engine=self)

    def scan(self, events: Any, ruleset: Any = "sales", as_of: Any = None, *, strict: bool = False,
             chunk_size: int = DEFAULT_CHUNK) -> ScanResult:
        """Judge ``events`` (a path, paths, a file, or an iterable of dicts/models) at ``as_of``."""
        rs = ruleset if isinstance(ruleset, Ruleset) else self.load_ruleset(ruleset)
        strings = Interner()
        builder = ColumnBuilder(self.layouts, strings)
        intake = Intake(self.kinds, strict=strict, dedupe=RowDeduplicator(builder))
        with _GcFreezer() as gcf:
            for ev in intake.take_all(iter_records(events)):
                builder.add(ev)
                gcf.tick()
            as_of_us = _instant(as_of) if as_of is not None else (int(max(builder.ts)) if len(builder) else None)
            frame = builder.freeze(as_of=as_of_us)
            intake.dedupe = None  # ingestion is over: let the builder's lists go
            del builder
            gcf.freeze()
            intake.stats.after_as_of = intake.stats.valid - len(frame)
            return self._judge(rs, intake, frame, strings, as_of_us, chunk_size)

    def _judge(self, rs: Ruleset, intake: Intake, frame: Frame, strings: Interner, as_of_us: int | None,
               chunk_size: int) -> ScanResult:
        runner = Runner(rs, strings)
        for chunk in frame.chunks(chunk_size, upto_last=as_of_us):
            runner.feed(chunk)
        if len(frame) == 0 and as_of_us is not None:
            runner.feed(Chunk.empty(frame, as_of_us))  # time still passes for an empty input
        return runner.result(intake, as_of_us)

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

    def tick(self) -> None:
        self.n += 1
        if self.n % self.every == 0:
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


def _instant(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"as-of time {value.isoformat()} has no offset: give one, e.g. +08:00")
        return to_us(value)
    raise TypeError(f"expected a datetime or RFC 3339 string, got {value!r}")


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


class Runner:
    """Feeds chunks to every rule instance (one set per tenant), then applies scope and exceptions."""

    def __init__(self, ruleset: Ruleset, strings: Interner):
        self.ruleset = ruleset
        self.strings = strings
        self.clock = LocalClock(ruleset.timezone)
        self.instances: dict[int, list[tuple[Rule, Detector]]] = {}
        self.disabled: set[tuple[int, str]] = set()
        self.errors: list[DetectorError] = []
        self.findings: list[Finding] = []
        self.suppressed: list[Finding] = []
        # (tenant, employee) -> ([ts], [(role, department)]) for scope "as known at the finding's ts"
        self.directory: dict[tuple[int, int], tuple[list[int], list[tuple[str | None, str | None]]]] = {}

    def _instances(self, tenant: int) -> list[tuple[Rule, Detector]]:
        inst = self.instances.get(tenant)
        if inst is None:
            tname = self.strings.text(tenant)
            inst = []
            for rule in self.ruleset.rules:
                ctx = RuleContext(rule.name, rule.severity, self.ruleset.language, self.clock, self.strings, tname)
                inst.append((rule, rule.detector(rule.params, ctx)))
            self.instances[tenant] = inst
        return inst

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
        if len(chunk):
            tenants = chunk.frame.tenant[chunk.idx]
            parts = [(int(tenants[0]), chunk)] if (tenants == tenants[0]).all() else [
                (int(t), chunk.select(tenants == t)) for t in np.unique(tenants)
            ]
            for t in self.instances:  # tenants with no events here still need time to pass
                if t not in {p[0] for p in parts}:
                    parts.append((t, Chunk.empty(chunk.frame, chunk.upto)))
        else:
            parts = [(t, chunk) for t in self.instances]
        new: list[Finding] = []
        strings = self.strings
        for tenant, part in parts:
            present = {strings.text(int(k)) for k in np.unique(part.frame.kind[part.idx])} if len(part) else set()
            for rule, det in self._instances(tenant):
                if (tenant, rule.name) in self.disabled:
                    continue
                if det.kinds and present.isdisjoint(det.kinds):
                    due = det.next_due()
                    if due is None or due > part.upto:
                        continue  # nothing for it here and nothing due: skipping cannot change a finding
                try:
                    det.process(part)
                    out = det.drain()
                except Exception as exc:  # a detector must never take the engine down silently
                    err = DetectorError(rule.name, rule.use, exc)
                    log.error("%s; the rule is disabled for the rest of this run", err)
                    self.errors.append(err)
                    self.disabled.add((tenant, rule.name))
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
    """

    def __init__(self, ruleset: Any = "sales", allowed_lateness: Any = "0s", *, engine: Engine | None = None,
                 strict: bool = False):
        self.engine = engine or default_engine()
        self.ruleset = ruleset if isinstance(ruleset, Ruleset) else self.engine.load_ruleset(ruleset)
        self.lateness = parse_duration(allowed_lateness)
        self.intake = Intake(self.engine.kinds, strict=strict)
        self.strings = Interner()
        self.runner = Runner(self.ruleset, self.strings)
        self._clock: int | None = None
        self._watermark: int | None = None
        self._pending: list[tuple[int, str, Event]] = []
        self._next_pos = 0
        self._n = 0

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

    def _late(self, event: Event, rec: RawRecord) -> Rejection | None:
        if self._watermark is None or to_us(event.ts) > self._watermark:
            return None
        zone = self.runner.clock.zone
        clock = from_us(self._clock, zone).isoformat() if self._clock is not None else "-"
        return Rejection(rec.line, event.id, "ts",
                         f"late event: {event.ts.astimezone(zone).isoformat()} is too far behind the stream's clock "
                         f"{clock} (allowed_lateness {format_duration(self.lateness)}); events that old are already "
                         f"judged. Raise allowed_lateness to accept such delays.", rec.source)

    def _accept(self, event: Any) -> Event | None:
        self._n += 1
        return self.intake.take(RawRecord("<stream>", self._n, event), gate=self._late)

    def push(self, event: Any) -> list[Finding]:
        """Add one event (a dict or model); return the findings that became true."""
        ev = self._accept(event)
        if ev is None:
            return []
        ts = to_us(ev.ts)
        self._pending.append((ts, ev.id, ev))
        self._clock = ts if self._clock is None else max(self._clock, ts)
        return self._release(self._clock - self.lateness - 1)

    def push_many(self, events: Iterable[Any]) -> list[Finding]:
        out: list[Finding] = []
        for e in events:
            out.extend(self.push(e))
        return out

    def advance_to(self, ts: Any) -> list[Finding]:
        """Time has reached ``ts``: everything due at or before ``ts - allowed_lateness`` fires."""
        t = _instant(ts)
        self._clock = t if self._clock is None else max(self._clock, t)
        return self._release(t - self.lateness)

    def _release(self, upto: int) -> list[Finding]:
        if self._watermark is not None and upto <= self._watermark:
            return []
        ready = [p for p in self._pending if p[0] <= upto]
        if ready:
            self._pending = [p for p in self._pending if p[0] > upto]
            builder = ColumnBuilder(self.engine.layouts, self.strings)
            for _, _, ev in ready:
                builder.add(ev)
            frame = builder.freeze(base=self._next_pos)
            self._next_pos += len(frame)
            chunk = Chunk(frame, np.arange(len(frame)), upto)
        else:
            chunk = Chunk.empty(_EMPTY_FRAME(self.strings), upto)
        self._watermark = upto
        return self.runner.feed(chunk)

    def result(self) -> ScanResult:
        """Everything so far as a :class:`ScanResult` (``as_of`` is the watermark)."""
        return self.runner.result(self.intake, self._watermark)


def _EMPTY_FRAME(strings: Interner) -> Frame:
    z = np.zeros(0, dtype=np.int64)
    return Frame(strings, z, np.zeros(0, dtype=object), z.astype(np.int32), z.astype(np.int32), z.astype(np.int32), z, {})


def scan(events: Any, ruleset: Any = "sales", as_of: Any = None, *, strict: bool = False,
         engine: Engine | None = None, chunk_size: int = DEFAULT_CHUNK) -> ScanResult:
    """Scan ``events`` with ``ruleset`` (a Ruleset, bundled name or path) at ``as_of``."""
    if isinstance(ruleset, Ruleset):
        engine = engine or ruleset.engine
    engine = engine or default_engine()
    return engine.scan(events, ruleset, as_of, strict=strict, chunk_size=chunk_size)
