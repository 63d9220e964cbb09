"""The per-event detector API: one typed event at a time, keyed state in plain attributes, timers, ``report``.

:class:`Detector` is columnar: a chunk of thousands of events, numpy columns of codes. Most plugin rules
are simpler than that — "a clock-in during the employee's approved leave" — and read best one event at a
time. :class:`EventDetector` is that, on the same engine: it *is* a :class:`Detector` whose
:meth:`~Detector.process` walks the chunk's events in the one order ``(ts, id)`` and hands each to
:meth:`EventDetector.on_event` as an :class:`EventView` (real datetimes in the ruleset's zone, the local
date, string ids — decoded only when read), fires the timers set with :meth:`EventDetector.at` at their
time (:meth:`EventDetector.on_timer`), and turns :meth:`EventDetector.report` into a finding with
defaults taken from the event. So batch = stream, stable ids, checkpoints (the detector's plain
attributes are its saved state) and the conformance kit hold as for any detector.
"""

from __future__ import annotations

import heapq
from datetime import date, datetime, time
from typing import Any, ClassVar, Iterable

import numpy as np

from ..columns import INSTANT, NESTED, NULL_INT, TIME, Chunk, Frame, value
from ..errors import InvalidArgumentError, UnknownFieldError
from ..events import days_to_date, from_us, to_us
from ._detector import Detector, DetectorParams, RuleContext

Ref = tuple[int, str]
"""An event as evidence: ``(ts in µs since the epoch, id)`` — plain data, so it can be kept in state."""

_DEFAULT: Any = object()


class EventView:
    """One event as a rule reads it: ``id``, ``kind``, ``ts`` (aware, in the ruleset's zone), ``date`` (the
    local date of ``ts``), ``employee_id``, ``tenant``, and every field of its kind by name (``ev.door``;
    codes as strings, dates as :class:`~datetime.date`, times of day as :class:`~datetime.time`, instants
    as aware datetimes in the ruleset's zone,
    a missing value as ``None``, a list of objects as a list of dicts). Fields are decoded when first
    read. ``ev.ref`` is the event as evidence, ``ev.get(name)`` a field or ``None``, ``ev.ts_us`` the
    instant in µs. A view is valid while the detector handles it: keep ``ref`` or values, not views."""

    __slots__ = ("_det", "_frame", "_row", "_table", "_k", "_ts", "_cache")

    def __init__(self, det: Detector, frame: Frame, row: int, table: Any, k: int) -> None:
        self._det = det
        self._frame = frame
        self._row = row
        self._table = table
        self._k = k
        self._ts: int = int(frame.ts[row])
        self._cache: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self._frame.ids[self._row]

    @property
    def kind(self) -> str:
        return self._table.kind

    @property
    def ts_us(self) -> int:
        return self._ts

    @property
    def ts(self) -> datetime:
        return from_us(self._ts, self._det.ctx.clock.zone)

    @property
    def date(self) -> date:
        """The local date of ``ts`` in the ruleset's zone."""
        return days_to_date(self._det.ctx.clock.local_day(self._ts))

    @property
    def employee_id(self) -> str | None:
        return self._det.ctx.strings.text(int(self._frame.employee[self._row]))

    @property
    def tenant(self) -> str | None:
        return self._det.ctx.tenant

    @property
    def ref(self) -> Ref:
        return (self._ts, self._frame.ids[self._row])

    def get(self, name: str, default: Any = None) -> Any:
        """Field ``name`` of the event, or ``default`` when the kind has no such field or it is missing."""
        try:
            v = self._field(name)
        except AttributeError:
            return default
        return default if v is None else v

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise UnknownFieldError(name)
        return self._field(name)

    def _field(self, name: str) -> Any:
        cache = self._cache
        if cache is not None and name in cache:
            return cache[name]
        types = _types(self._table)
        ctype = types.get(name)
        if ctype is None:
            raise UnknownFieldError(f"a {self._table.kind!r} event has no field {name!r} "
                                 f"(its fields: {', '.join(sorted(types))})")
        v = self._decode(name, ctype)
        if cache is None:
            cache = self._cache = {}
        cache[name] = v
        return v

    def _decode(self, name: str, ctype: str) -> Any:
        table, k = self._table, self._k
        raw = table.cols[name][k]
        strings = self._det.ctx.strings
        if ctype == INSTANT:  # in the ruleset's zone, as ``ts``
            return None if raw == NULL_INT else from_us(int(raw), self._det.ctx.clock.zone)
        if ctype == NESTED:
            nt = table.nested[name]
            at, n = int(nt.starts[k]), int(raw)
            fields = table.layout.entry_fields(name)
            return [{f: _value(t, nt.cols[f][at + i], strings) for f, t in fields} for i in range(n)]
        if name == "attrs":
            return raw or {}
        return _value(ctype, raw, strings)

    def __repr__(self) -> str:
        return f"<EventView {self.kind} {self.id} {self.ts.isoformat()}>"


_TYPEMAPS: dict[int, tuple[Any, dict[str, str]]] = {}  # id(layout) -> (layout, field name -> column type)


def _types(table: Any) -> dict[str, str]:
    """The column type of each field of a kind table (the layout is kept with its map: its id is never another's)."""
    layout = table.layout
    got = _TYPEMAPS.get(id(layout))
    if got is None:
        got = _TYPEMAPS[id(layout)] = (layout, dict(layout.fields))
    return got[1]


def _value(ctype: str, raw: Any, strings: Any) -> Any:
    """A column value as a rule reads it: :func:`hrguard.columns.value`, times of day as :class:`~datetime.time`."""
    v = value(ctype, raw, strings)
    if ctype == TIME and v is not None:
        return time(v // 3600, v // 60 % 60, v % 60)
    return v


class EventDetector(Detector):
    """A detector written one event at a time (see the module's docs).

    Set the class attributes of any detector (``id``, ``title``, ``Params``, ``default_severity``,
    ``kinds``, ``messages``), then write:

    - :meth:`on_event` — called for every event of ``kinds`` (every kind when empty), in the one order
      ``(ts, id)``;
    - :meth:`on_timer` (optional) — called for a timer set with :meth:`at`, once every event before its
      time has been handled (an event *at* its time comes first);
    - state in plain attributes set in ``__init__`` (dicts, lists, sets, tuples of strings, numbers,
      dates, datetimes and :data:`Ref`\\ s): they are the detector's saved state, checkpointed and restored
      with no code of its own.

    ``messages`` may give one template per language (``{"en": "...", "zh": "..."}``) or, as for any
    detector, templates per reason (``{"en": {"default": "...", "other": "..."}}``). A template's fields
    come from :meth:`report`'s keyword arguments plus ``employee_id`` and ``customer_id``.
    """

    #: the timers (key -> due, µs) and their queue: part of the saved state
    _timers: dict[Any, int]
    _queue: list[tuple[int, str, Any]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        msgs = cls.__dict__.get("messages")
        if msgs:
            cls.messages = {lang: ({"default": t} if isinstance(t, str) else t) for lang, t in msgs.items()}

    def __init__(self, params: DetectorParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self._timers = {}
        self._queue = []

    # -- what a rule writes ----------------------------------------------------------------------------
    def on_event(self, ev: EventView) -> None:
        """Judge one event (every event before it in ``(ts, id)`` order has been handled)."""
        raise NotImplementedError  # abstract: every per-event detector overrides it

    def on_timer(self, key: Any, when: datetime) -> None:
        """A timer set with ``at(when, key)`` is due (every event before ``when`` has been handled)."""

    # -- what a rule calls -------------------------------------------------------------------------------
    def at(self, when: datetime | int, key: Any) -> None:
        """Call :meth:`on_timer` with ``key`` at ``when`` (an aware datetime, or µs since the epoch). One timer
        per key: setting it again moves it. ``key`` is plain data (a string, a number, a tuple of them)."""
        due = when if isinstance(when, int) and not isinstance(when, bool) else to_us(when)
        self._timers[key] = due
        heapq.heappush(self._queue, (due, repr(key), key))

    def local_date(self, when: datetime | int) -> date:
        """The local date, in the ruleset's zone, of an instant (an aware datetime, or µs since the epoch:
        the ``watermark`` :meth:`~Detector.expire` is given)."""
        t = when if isinstance(when, int) and not isinstance(when, bool) else to_us(when)
        return days_to_date(self.ctx.clock.local_day(t))

    def cancel(self, key: Any) -> None:
        """Forget the timer of ``key`` (nothing if there is none)."""
        self._timers.pop(key, None)

    def report(self, ev: EventView | None = None, *, when: datetime | int | None = None, subject: Any = None,
               evidence: Iterable[EventView | Ref] = (), employee_id: Any = _DEFAULT, customer_id: Any = _DEFAULT,
               reason: str = "default", severity: Any = None, **details: Any) -> None:
        """Record a finding. With ``ev``, its defaults come from the event: its time, its id as the subject
        (what makes the finding's id), itself as evidence (``evidence`` adds to it), its employee and its
        ``customer_id``. ``details`` become the finding's details (dates and datetimes as ISO text) and the
        message template's fields."""
        if ev is None and when is None:
            raise InvalidArgumentError("when", "report() needs the event it is about or the time it happened")
        ts = (ev.ts_us if when is None else (when if isinstance(when, int) else to_us(when)))  # type: ignore[union-attr]
        refs: list[Ref] = [ev.ref] if ev is not None else []
        refs += [e.ref if isinstance(e, EventView) else (int(e[0]), str(e[1])) for e in evidence]
        if subject is None:
            if ev is None:
                raise InvalidArgumentError("subject", "report() without an event needs a subject (what makes the id)")
            subject = (ev.id,)
        elif not isinstance(subject, tuple):
            subject = (subject,)
        if employee_id is _DEFAULT:
            employee_id = ev.employee_id if ev is not None else None
        if customer_id is _DEFAULT:
            customer_id = ev.get("customer_id") if ev is not None else None
        plain = {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in details.items()}
        message = self.render(reason, plain, employee_id=employee_id, customer_id=customer_id)
        self.emit(ts=ts, subject=subject, employee_id=employee_id, customer_id=customer_id, evidence=refs,
                  details=plain, reason=reason, severity=severity, message=message)

    # -- the engine's side ------------------------------------------------------------------------------
    def next_due(self) -> int | None:
        self._drop_stale()
        return self._queue[0][0] if self._queue else None

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        if len(chunk) == 1:  # a stream's usual chunk
            row = int(chunk.idx[0])
            table = f.tables[int(f.kind[row])]
            rows: Any = (row,) if not self.kinds or table.kind in self.kinds else ()
        elif self.kinds:
            parts = [chunk.rows(k) for k in self.kinds]
            parts = [p for p in parts if p.size]
            rows = (parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))).tolist() if parts else ()
        else:
            rows = chunk.idx.tolist()
        tables, kind_index, kinds = f.tables, f.kind_index, f.kind
        for row in rows:
            ev = EventView(self, f, row, tables[int(kinds[row])], int(kind_index[row]))
            if self._queue and self._queue[0][0] < ev._ts:
                self._fire(ev._ts - 1)  # the timers due strictly before this event
            self.on_event(ev)
        if self._queue and self._queue[0][0] <= chunk.upto:
            self._fire(chunk.upto)

    def _fire(self, upto: int) -> None:
        queue, timers, zone = self._queue, self._timers, self.ctx.clock.zone
        while queue and queue[0][0] <= upto:
            due, _, key = heapq.heappop(queue)
            if timers.get(key) != due:
                continue  # moved or cancelled
            del timers[key]
            self.on_timer(key, from_us(due, zone))

    def _drop_stale(self) -> None:
        queue, timers = self._queue, self._timers
        while queue and timers.get(queue[0][2]) != queue[0][0]:
            heapq.heappop(queue)
