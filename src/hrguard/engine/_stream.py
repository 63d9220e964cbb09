"""The stream: events pushed one at a time, held until final, judged with the same findings as a scan.

Each tenant has a stream of its own inside (its ids, its clock and watermark, its rules), so every
tenant is judged exactly as if it were streamed alone. One lock makes a stream safe from many
threads. :meth:`Stream.state_dict` / :meth:`Stream.checkpoint` save everything it carries, and
:meth:`Stream.restore` continues from a checkpoint as if the process had never stopped.
"""

from __future__ import annotations

import copy
import gc
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ..columns import NULL_CODE, Chunk, positions
from ..errors import ArgumentTypeError, DetectorError, InvalidArgumentError, StateError
from ..events import Event, format_duration, from_us, to_duration_us, to_instant_us, to_us
from ..findings import Finding
from ..ingest import Broken, IngestStats, Intake, Rejection, pushed_records, tenant_key
from ..pipelines import SKIP
from ..rules import Ruleset, fingerprint
from . import _default
from ._result import ScanResult
from ._runner import Runner, empty_frame

if TYPE_CHECKING:
    from ._engine import Engine

STATE_FORMAT = 1
"""The version of :meth:`Stream.state_dict`'s layout (a checkpoint of another one is refused)."""

Status = Literal["accepted", "duplicate", "rejected", "late"]


@dataclass(frozen=True)
class Outcome:
    """What became of one pushed record: ``accepted`` (held until final, then judged), ``duplicate`` (the
    same id and content as an earlier one: ignored), ``rejected`` (invalid, or a repeated id with other
    content: see ``rejection``) or ``late`` (behind its tenant's watermark: see ``rejection``)."""

    status: Status
    id: str | None
    tenant: str | None
    rejection: Rejection | None = None


class Released(list):  # type: ignore[type-arg]
    """The findings a call released (a plain ``list`` of :class:`~hrguard.Finding`, as ``push`` always
    returned), plus what became of each record pushed in that call (``outcomes``; ``outcome`` for
    :meth:`Stream.push`'s one record)."""

    def __init__(self, findings: Iterable[Finding] = (), outcomes: Sequence[Outcome] = ()):
        super().__init__(findings)
        self.outcomes: list[Outcome] = list(outcomes)

    @property
    def outcome(self) -> Outcome:
        if len(self.outcomes) != 1:
            raise InvalidArgumentError("outcome", f"this call pushed {len(self.outcomes)} records: read .outcomes")
        return self.outcomes[0]


@dataclass(frozen=True)
class Drained:
    """What :meth:`Stream.drain` took: the findings released (in order of release), the suppressed ones
    and the rejections, since the last drain."""

    findings: list[Finding]
    suppressed: list[Finding]
    rejected: list[Rejection]


class _Tenant:
    """One tenant's part of a stream: its intake (ids, clock, held events), rules, watermark."""

    def __init__(self, stream: Stream, name: str):
        self.name = name
        self.stream = stream
        self.intake = Intake(stream.engine, strict=stream.strict, lateness=stream.lateness, late_message=self._late,
                             max_ahead=stream.max_ahead, ids_horizon=stream.ruleset.horizons.ids)
        self.strings = self.intake.strings
        self.runner = Runner(stream.ruleset, self.strings, streaming=True)
        self.runner.keep_findings = False  # the stream keeps what it released (Stream.findings), once
        self.runner.keep_suppressed = stream.keep
        # the rules' set-up (imports, models) happens here rather than in the first push; the objects
        # those imports made are collected now, not by a collection that would land in a push
        modules = len(sys.modules)
        self.runner.prepare(NULL_CODE if not name else self.strings.code(name))
        if len(sys.modules) > modules:
            gc.collect()
        self.clock: int | None = None
        self.watermark: int | None = None
        self.next_pos = 0
        self.pending = 0  # events accepted since the last release (batch > 1)
        self.no_events = empty_frame(self.strings)
        self.held: dict[str, Event] = {}  # the accepted events not yet released, as validated (for checkpoints)

    def _late(self, ts: int) -> str:
        zone = self.runner.clock.zone
        clock = from_us(self.clock, zone).isoformat() if self.clock is not None else "-"
        whose = f"tenant {self.name!r}'s" if self.name else "the stream's"
        return (f"late event: {from_us(ts, zone).isoformat()} is too far behind {whose} clock {clock} "
                f"(allowed_lateness {format_duration(self.stream.lateness)}); events that old are already judged. "
                f"Raise allowed_lateness to accept such delays.")

    def push(self, event: Any, source: str | None = None, row: int | None = None) -> tuple[list[Finding], Outcome]:
        intake = self.intake
        stats = intake.stats
        before = (stats.duplicates, stats.rejected, stats.late)
        ev = intake.admit(event) if row is None else intake.admit(event, source or "<stream>", row)
        if ev is None:  # rejected (also as late) or a duplicate: counted
            if stats.duplicates != before[0]:
                return [], Outcome("duplicate", _id_of(event), self.name or None)
            status: Status = "late" if stats.late != before[2] else "rejected"
            rej = intake.rejected[-1]
            if not self.stream.keep:  # the outcome carries it; the stream keeps counts only
                intake.rejected.clear()
            return [], Outcome(status, rej.id, self.name or None, rej)
        ts = to_us(ev.ts)
        self.clock = ts if self.clock is None else max(self.clock, ts)
        outcome = Outcome("accepted", ev.id, self.name or None)
        batch = self.stream.batch
        if batch > 1:
            self.pending += 1
            if self.pending < batch:  # the batch is not complete: what became final waits
                self._hold(ev, ts)
                return [], outcome
        # what the new clock makes final never includes the new event (it is not late, so it is later
        # than that): release first, then hold it
        found = self.release(self.clock - self.stream.lateness - 1)
        self._hold(ev, ts)
        return found, outcome

    def _hold(self, ev: Event, ts: int) -> None:
        self.intake.hold(ev, ts)
        held = self.held
        held[tenant_key(ev.id, ev.tenant)] = ev  # keyed as the intake keys its held events
        if len(held) > 2 * len(self.intake.held) + 8:  # forget the released ones soon: they die young, not in gen 2
            self.held = {i: held[i] for i in self.intake.held if i in held}

    def release(self, upto: int) -> list[Finding]:
        self.pending = 0
        if self.watermark is not None and upto <= self.watermark:
            return []
        frame = self.intake.release(upto, self.next_pos)
        if frame is not None:
            self.next_pos += len(frame)
            chunk = Chunk(frame, positions(len(frame)), upto)
        else:
            chunk = Chunk.empty(self.no_events, upto)
        self.watermark = upto
        return self.runner.feed(chunk)

    def advance_to(self, t: int) -> list[Finding]:
        self.clock = t if self.clock is None else max(self.clock, t)
        intake = self.intake  # its clock (for max_ahead) is the time, too: lateness reads the watermark
        intake.clock = t if intake.clock is None else max(intake.clock, t)
        return self.release(t - self.stream.lateness) + self.runner.settle()

    def finish(self) -> list[Finding]:
        """What a ``batch`` left waiting, judged; the deferred work settled (for :meth:`Stream.result`)."""
        out = []
        if self.pending and self.clock is not None:
            out = self.release(self.clock - self.stream.lateness - 1)
        return out + self.runner.settle()

    # -- saving -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        held = [self.held[i].model_dump(mode="json") for i in self.intake.held]  # in the window's order
        return {
            "name": self.name,
            "strings": list(self.strings.strings),
            "clock": self.clock,
            "watermark": self.watermark,
            "next_pos": self.next_pos,
            "pending": self.pending,
            "held": held,
            "intake": self.intake.state_dict(),
            "runner": self.runner.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for s in state["strings"]:  # the same codes in the same order: the rules' state holds codes
            self.strings.code(s)
        if self.strings.strings != list(state["strings"]):
            raise StateError(f"tenant {self.name!r}: the saved strings do not fit a fresh stream")
        kinds = self.intake.kinds
        for record in state["held"]:
            ev = kinds[record["kind"]].model_validate(record)
            self._hold(ev, to_us(ev.ts))
        self.intake.load_state_dict(state["intake"])  # counts as saved (holding counted them again)
        self.runner.load_state_dict(state["runner"])
        self.clock, self.watermark = state["clock"], state["watermark"]
        self.next_pos, self.pending = int(state["next_pos"]), int(state["pending"])


def _id_of(event: Any) -> str | None:
    rid = event.get("id") if isinstance(event, Mapping) else getattr(event, "id", None)
    return rid if isinstance(rid, str) else None


def _tenant_of(event: Any) -> str:
    """The tenant a record belongs to, read before validation ("" for null, "", and any value that is not
    a string: such a record goes to the default tenant, whose validation rejects it)."""
    t = event.get("tenant") if isinstance(event, Mapping) else getattr(event, "tenant", None)
    return t if isinstance(t, str) else ""


class Stream:
    """Incremental scanning with the same findings as :func:`scan`.

    The stream's clock is the latest ``ts`` pushed or the time given to :meth:`advance_to`. Events
    may arrive out of order up to ``allowed_lateness`` behind the clock; they are held until nothing
    earlier can still arrive, then judged in the one order ``(ts, id)``. After ``push``, everything
    strictly older than ``clock - allowed_lateness`` is final; after ``advance_to(t)``, everything at
    or before ``t - allowed_lateness`` is. An event at or before the final instant (the watermark)
    is rejected as late: reported and counted, never silently dropped.

    **Tenants.** Every tenant has its own ids, clock and watermark (a company that syncs every two
    hours is not late because another company's events are newer); :meth:`clock_of` and
    :meth:`watermark_of` give one tenant's, :attr:`clock` the latest of all and :attr:`watermark` the
    earliest. :meth:`advance_to` moves every tenant's time.

    **Threads.** One lock serialises every call that changes the stream, so many threads may push
    into one stream; the findings are those of pushing the same records one after another in the
    order the lock let them in.

    **What a call returns.** ``push``, ``push_many`` and ``advance_to`` return the findings they
    released (a list, as always) that also carries ``outcomes``: what became of each record pushed
    (:class:`Outcome`). ``sinks`` (see :mod:`hrguard.sinks`) are given every finding released.

    **Memory.** What a stream carries is bounded by its horizons (``docs/streaming.md``, "Memory and
    horizons"): rules forget what no later event can reach, and remembered ids expire after the
    ruleset's ``horizons.ids``. What it hands out is the host's to keep: with ``keep=True`` (the
    default) the stream also keeps every finding, suppressed finding and rejection until
    :meth:`drain` takes them; with ``keep=False`` it keeps none (calls return them, sinks get them,
    :attr:`stats` counts them) — what a long-running service wants.

    **Events from the future.** With ``max_ahead`` (e.g. ``"1d"`` for a live feed; off by default, so that
    a stream of history with long gaps stays equal to a batch scan), an event more than that ahead of
    its tenant's clock is rejected, naming the clock: one record dated 2099 would otherwise move the
    clock there and make every later event late. A tenant's first event has no clock to compare with;
    a host that calls ``advance_to(now)`` from a timer gives it one.

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
                 strict: bool = False, batch: int = 1, sinks: Iterable[Any] = (), max_ahead: Any = None,
                 keep: bool = True, pipeline: Any = None):
        if not isinstance(keep, bool):
            raise ArgumentTypeError("keep", f"expected True or False, got {type(keep).__name__}")
        self.keep = keep
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InvalidArgumentError("batch", f"expected a whole number of pushes >= 1, got {batch!r}")
        self.batch = batch
        self.strict = strict
        self.lateness = to_duration_us(allowed_lateness, what="allowed_lateness")
        self.max_ahead = None if max_ahead is None else to_duration_us(max_ahead, what="max_ahead")
        if engine is None:  # a loaded ruleset brings the engine it was loaded with (its plugins' kinds), as in scan
            engine = ruleset.engine if isinstance(ruleset, Ruleset) else _default.engine()
        self.engine = engine
        self.ruleset = ruleset if isinstance(ruleset, Ruleset) else self.engine.load_ruleset(ruleset)
        self.pipeline = None if pipeline is None else self.engine.load_pipeline(pipeline)  # maps each record pushed
        self.sinks = list(sinks)
        for i, sink in enumerate(self.sinks):
            if not callable(getattr(sink, "write", None)):
                raise ArgumentTypeError(f"sinks[{i}]", f"expected a sink with a write(findings) method, got "
                                                       f"{type(sink).__name__}")
        self.meta: dict[str, Any] = {}  # the host's own JSON values, saved and restored with a checkpoint
        self._lock = threading.RLock()
        self._tenants: dict[str, _Tenant] = {"": _Tenant(self, "")}
        self._released: list[Finding] = []  # every finding released, in order of release

    # -- one tenant's parts (the default tenant's, for code written before tenants) -----------------------
    def _tenant(self, name: str) -> _Tenant:
        t = self._tenants.get(name)
        if t is None:
            t = self._tenants[name] = _Tenant(self, name)
        return t

    @property
    def intake(self) -> Intake:
        """The default tenant's intake."""
        return self._tenants[""].intake

    @property
    def runner(self) -> Runner:
        """The default tenant's runner."""
        return self._tenants[""].runner

    @property
    def strings(self) -> Any:
        return self._tenants[""].strings

    @property
    def tenants(self) -> list[str | None]:
        """The tenants seen so far (``None`` is the default one)."""
        return [t or None for t in self._tenants]

    def _zone(self) -> Any:
        return self._tenants[""].runner.clock.zone

    def clock_of(self, tenant: str | None = None) -> datetime | None:
        t = self._tenants.get(tenant or "")
        return None if t is None or t.clock is None else from_us(t.clock, self._zone())

    def watermark_of(self, tenant: str | None = None) -> datetime | None:
        t = self._tenants.get(tenant or "")
        return None if t is None or t.watermark is None else from_us(t.watermark, self._zone())

    @property
    def clock(self) -> datetime | None:
        """The latest ``ts`` pushed or time advanced to (of any tenant), in the ruleset's zone."""
        clocks = [t.clock for t in self._tenants.values() if t.clock is not None]
        return from_us(max(clocks), self._zone()) if clocks else None

    @property
    def watermark(self) -> datetime | None:
        """Every event at or before this instant has been judged (the earliest of the tenants' watermarks);
        an event of a tenant at or before that tenant's watermark is late."""
        marks = [t.watermark for t in self._tenants.values() if t.watermark is not None or t.clock is not None]
        if not marks or any(m is None for m in marks):
            return None
        return from_us(min(marks), self._zone())  # type: ignore[type-var]

    @property
    def findings(self) -> list[Finding]:
        """Every finding released so far, in order of release."""
        return self._released

    @property
    def suppressed(self) -> list[Finding]:
        return [f for t in self._tenants.values() for f in t.runner.suppressed]

    @property
    def rejected(self) -> list[Rejection]:
        return [r for t in self._tenants.values() for r in t.intake.rejected]

    @property
    def stats(self) -> IngestStats:
        if len(self._tenants) == 1:
            return self._tenants[""].intake.stats
        out = IngestStats()
        for t in self._tenants.values():
            for k, v in vars(t.intake.stats).items():
                setattr(out, k, getattr(out, k) + v)
        return out

    @property
    def errors(self) -> list[DetectorError]:
        return [e for t in self._tenants.values() for e in t.runner.errors]

    # -- events in, findings out ------------------------------------------------------------------------
    def _out(self, found: list[Finding], outcomes: Sequence[Outcome] = ()) -> Released:
        if found:
            if self.keep:
                self._released.extend(found)
            for sink in self.sinks:
                sink.write(found)
        return Released(found, outcomes)

    def drain(self) -> Drained:
        """The findings, suppressed findings and rejections kept since the last ``drain`` (all of them at
        the first), which the stream then forgets: a host that stores them elsewhere calls it now and
        then so that a long-running stream's memory stays flat. :attr:`stats` keeps counting."""
        with self._lock:
            out = Drained(self._released, sorted(self.suppressed, key=Finding.sort_key), self.rejected)
            self._released = []
            for t in self._tenants.values():
                t.runner.suppressed.clear()
                t.intake.rejected.clear()
            return out

    def push(self, event: Any) -> Released:
        """Add one event (a dict or model); return the findings that became true (``.outcome`` says what
        became of the event). With a ``pipeline``, ``event`` is a source record: each event it maps to is
        pushed (``.outcomes`` has one per event; a record the pipeline skips has none)."""
        if self.pipeline is not None:
            return self.push_many([event])
        with self._lock:
            found, outcome = self._tenant(_tenant_of(event)).push(event)
            return self._out(found, (outcome,))

    def push_many(self, events: Iterable[Any]) -> Released:
        """Push each record of ``events`` in turn (:meth:`push`): an iterable of records, or a table (a
        pandas or polars DataFrame, a pyarrow Table, a Parquet file's path) read row by row as
        ``hrguard.scan`` reads it, each rejection located by its row. The findings released by all of
        them, with an outcome per record."""
        with self._lock:
            found: list[Finding] = []
            outcomes = []
            for item in self._mapped(pushed_records(events, self.engine.kinds)):
                if isinstance(item, Outcome):
                    outcomes.append(item)
                    continue
                e, source, row = item
                f, o = self._tenant(_tenant_of(e)).push(e, source, row)
                found.extend(f)
                outcomes.append(o)
            return self._out(found, outcomes)

    def _mapped(self, records: Iterable[tuple[Any, str | None, int | None]]) -> Iterable[Any]:
        """The ``(event, source, row)`` of each ``(record, source, row)`` through the pipeline (the records
        themselves without one); a record it cannot map is rejected (counted by the default tenant, at its
        position) and yields its Outcome."""
        if self.pipeline is None:
            yield from records
            return
        intake = self._tenants[""].intake
        for record, source, row in records:
            out = self.pipeline.map(record)
            if out is SKIP:
                intake.stats.skipped += 1
            elif isinstance(out, Broken):
                intake.stats.received += 1
                rej = Rejection(intake.stats.received, out.id, out.field, out.message, "<stream>")
                intake.reject(rej)
                yield Outcome("rejected", out.id, None, rej)
            else:
                for ev in out:
                    yield ev, source, row

    def advance_to(self, ts: Any) -> Released:
        """Time has reached ``ts``: everything due at or before ``ts - allowed_lateness`` fires, including
        the work rules left out of pushes (the forest's fits and period scoring), done now.

        ``ts`` is an aware datetime, RFC 3339 with an offset, or seconds since the Unix epoch (see
        :mod:`hrguard.events`); anything else is an :class:`~hrguard.errors.InvalidArgumentError`.
        """
        t = to_instant_us(ts, what="advance_to(ts)")
        with self._lock:
            found = [f for tenant in self._tenants.values() for f in tenant.advance_to(t)]
            return self._out(sorted(found, key=Finding.sort_key))

    def result(self) -> ScanResult:
        """Everything so far as a :class:`ScanResult` (``as_of`` is the watermark; deferred work is settled,
        and what a ``batch`` left waiting is judged). Its findings, suppressed findings and rejections are
        those the stream keeps: none with ``keep=False``, those since the last :meth:`drain` otherwise."""
        with self._lock:
            found = [f for tenant in self._tenants.values() for f in tenant.finish()]
            self._out(sorted(found, key=Finding.sort_key))
            parts = [t.runner.result(t.intake, t.watermark) for t in self._tenants.values()]
            marks = [t.watermark for t in self._tenants.values() if t.watermark is not None]
            as_of = from_us(max(marks), self._zone()) if marks else None
            return ScanResult(sorted(self._released, key=Finding.sort_key),
                              sorted((f for p in parts for f in p.suppressed), key=Finding.sort_key),
                              self.rejected, copy.copy(self.stats), self.errors, as_of, self.ruleset.name,
                              [w for p in parts for w in p.warnings])

    # -- checkpoints -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything the stream carries, as numpy arrays and JSON values (never pickle): every tenant's
        clock and watermark, held events, remembered ids, counts and rejections, every rule's state, the
        findings so far, and :attr:`meta`. :meth:`load_state_dict` (or :meth:`restore`) continues from it."""
        with self._lock:
            return {
                "format": STATE_FORMAT,
                "fingerprint": fingerprint(self.ruleset),
                "lateness": self.lateness,
                "batch": self.batch,
                "meta": dict(self.meta),
                "released": [f.model_dump(mode="json") for f in self._released],
                "tenants": [t.state_dict() for t in self._tenants.values()],
            }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` in this new stream (same ruleset, plugins, ``allowed_lateness``
        and ``batch``; anything else is a :class:`~hrguard.StateError` saying what differs)."""
        with self._lock:
            if self._released or any(t.clock is not None or t.intake.stats.received for t in self._tenants.values()):
                raise StateError("load_state_dict needs a new stream: this one has seen events already")
            try:
                if state["format"] != STATE_FORMAT:
                    raise StateError(f"a stream state of format {state['format']!r}; this hrguard reads {STATE_FORMAT}")
                fp = fingerprint(self.ruleset)
                if state["fingerprint"] != fp:
                    raise StateError(f"the state was saved under another ruleset or other plugins (fingerprint "
                                     f"{str(state['fingerprint'])[:12]}…, now {fp[:12]}…): restore it with those")
                for what, saved, now in (("allowed_lateness", state["lateness"], self.lateness),
                                         ("batch", state["batch"], self.batch)):
                    if saved != now:
                        raise StateError(f"the state was saved with {what}={saved!r}, this stream has {now!r}")
                tenants = {}
                for ts in state["tenants"]:
                    t = self._tenants.get(ts["name"]) or _Tenant(self, ts["name"])
                    t.load_state_dict(ts)
                    tenants[t.name] = t
                tenants.setdefault("", self._tenants[""])
                self._tenants = tenants
                self._released = [Finding.model_validate(f) for f in state["released"]]
                self.meta = dict(state["meta"])
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, StateError):
                    raise
                raise StateError(f"a stream state that does not fit: {type(exc).__name__}: {exc}") from exc

    def checkpoint(self, store: Any, key: str) -> int:
        """Save :meth:`state_dict` in ``store`` (:class:`~hrguard.checkpoints.SqliteCheckpoints` or
        :class:`~hrguard.checkpoints.FileCheckpoints`) under ``key``; its sequence number."""
        with self._lock:
            return store.save(key, self.state_dict(), fingerprint=fingerprint(self.ruleset))

    @classmethod
    def restore(cls, store: Any, key: str, ruleset: Any = "sales", allowed_lateness: Any = "0s", *,
                engine: Engine | None = None, strict: bool = False, batch: int = 1, sinks: Iterable[Any] = (),
                max_ahead: Any = None, keep: bool = True, pipeline: Any = None) -> Stream:
        """A stream continuing from the newest checkpoint of ``key`` in ``store`` (a new stream when there is
        none). The ruleset, plugins, ``allowed_lateness`` and ``batch`` must be those it was saved with."""
        stream = cls(ruleset, allowed_lateness, engine=engine, strict=strict, batch=batch, sinks=sinks,
                     max_ahead=max_ahead, keep=keep, pipeline=pipeline)
        saved = store.load(key, fingerprint=fingerprint(stream.ruleset))
        if saved is not None:
            stream.load_state_dict(saved[1])
        return stream
