"""A working day without a plan or a summary: ``plan.missing`` and ``summary.missing``.

A local date D is a working day of employee E when E has at least one ``attendance.punched`` on D.
The day needs a document for D (a ``plan.submitted`` or ``summary.submitted`` whose ``date`` is D)
received at or before a local deadline on D. The finding comes at the later of that deadline and the
first punch of D, so it never precedes the punch that made D a working day.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from ..columns import Chunk
from ..events import days_to_date, format_time_of_day, from_us, time_to_seconds
from ..findings import Severity
from ..sdk import Detector, DetectorParams, LocalTime, RuleContext, distinct, first_per_key, pack2
from ..sdk.state import Latest

PUNCH, PLAN, SUMMARY = "attendance.punched", "plan.submitted", "summary.submitted"

_EMPTY = np.zeros(0, dtype=np.int64)


def _day_of(keys: np.ndarray) -> np.ndarray:
    """The day of ``pack2(employee, day)`` keys."""
    return (keys & 0xFFFFFFFF) - (1 << 31)

class PlanMissingParams(DetectorParams):
    deadline: LocalTime = Field("10:00", validate_default=True,
                                description="local time on day D by which D's plan must have been received (inclusive)")


class SummaryMissingParams(DetectorParams):
    deadline: LocalTime = Field("23:59:59", validate_default=True,
                                description="local time on day D by which D's summary must have been received (inclusive)")


class _MissingDocument(Detector):
    """Shared engine of both detectors: working days from punches, documents by date, deadline timers."""

    document: ClassVar[str] = ""
    default_scope: ClassVar[dict[str, list[str]]] = {"roles": ["sales"]}
    default_severity = Severity.low

    #: from the params, and a cache of the zone's answers: not state
    not_state = frozenset({"deadline_s", "deadline_text", "_deadlines"})

    def __init__(self, params: Any, ctx: RuleContext):
        super().__init__(params, ctx)
        self.deadline_s = time_to_seconds(params.deadline)
        self.deadline_text = format_time_of_day(time_to_seconds(params.deadline))
        # Only days not over yet are kept (D's timers are all due by the end of D, and no later event
        # can fall on D), as pack2(employee, day) keys: the working days whose timer exists, and the
        # days with a document received by their deadline.
        self.working = Latest()
        self.on_time = Latest()
        self.today = np.iinfo(np.int64).min  # local day of the latest upto: earlier days are dropped
        self._check_at = self.today  # no new day can start before this instant (exactness: local_day)
        # timers not yet due, one a working day: due, key, deadline, first punch (ts, id)
        self.timers: dict[str, np.ndarray] = {"due": _EMPTY, "key": _EMPTY, "deadline": _EMPTY, "punch_ts": _EMPTY,
                                              "punch_id": np.zeros(0, dtype=object)}
        self._deadlines: dict[int, int] = {}

    def _deadline_of(self, days: np.ndarray) -> np.ndarray:
        """Each local day's deadline instant (one zone look-up per distinct day)."""
        uniq, inv = distinct(days)
        return np.array([self._deadline(d) for d in uniq.tolist()], dtype=np.int64)[inv]

    def _deadline(self, day: int) -> int:
        t = self._deadlines.get(day)
        if t is None:
            t = self._deadlines[day] = self.ctx.clock.instant(day, self.deadline_s)
        return t

    def next_due(self) -> int | None:
        due = self.timers["due"]
        return int(due.min()) if due.size else None

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        drows = chunk.rows(self.document)
        if drows.size:
            emp = f.employee[drows]
            dates = chunk.col(self.document, "date")
            ok = (emp >= 0) & (f.ts[drows] <= self._deadline_of(dates))
            self.on_time.commit(pack2(emp[ok], dates[ok]))
        prows = chunk.rows(PUNCH)
        if prows.size:
            self._working_days(chunk, prows)
        timers = self.timers
        if timers["due"].size:
            fire = timers["due"] <= chunk.upto
            if fire.any():
                self._fire_due({k: v[fire] for k, v in timers.items()})
                self.timers = {k: v[~fire] for k, v in timers.items()}
        if chunk.upto >= self._check_at:
            today = self.ctx.clock.local_day(chunk.upto)
            if today > self.today:
                self._forget_before(today)

    def _working_days(self, chunk: Chunk, prows: np.ndarray) -> None:
        """Start a timer for each (employee, local day) punched for the first time."""
        f = chunk.frame
        emp = f.employee[prows]
        mine = emp >= 0
        prows, emp = prows[mine], emp[mine]
        ts = f.ts[prows]
        days = self.ctx.clock.local_days(ts)
        keys = pack2(emp, days)
        first = first_per_key(keys)  # each (employee, day)'s first punch here
        new = first[~self.working.contains(keys[first])]
        if new.size == 0:
            return
        self.working.commit(keys[new])
        deadline = self._deadline_of(days[new])
        add = {"due": np.maximum(deadline, ts[new]), "key": keys[new], "deadline": deadline, "punch_ts": ts[new],
               "punch_id": f.ids[prows[new]]}
        self.timers = {k: np.concatenate([v, add[k]]) for k, v in self.timers.items()}

    def _fire_due(self, due: dict[str, np.ndarray]) -> None:
        """Report the due working days with no document received by the deadline, by (due, key)."""
        late = np.flatnonzero(~self.on_time.contains(due["key"]))
        for i in late[np.lexsort((due["key"][late], due["due"][late]))].tolist():
            key = int(due["key"][i])
            self._fire(int(due["due"][i]), key >> 32, (key & 0xFFFFFFFF) - (1 << 31), int(due["deadline"][i]),
                       int(due["punch_ts"][i]), due["punch_id"][i])

    def _forget_before(self, today: int) -> None:
        """Drop the state of the days before ``today``: they are over and judged."""
        self.today = today
        self._check_at = self.ctx.clock.instant(today + 1, 0)
        self.working.forget(lambda keys: _day_of(keys) < today)
        self.on_time.forget(lambda keys: _day_of(keys) < today)
        self._deadlines = {d: t for d, t in self._deadlines.items() if d >= today}

    def _fire(self, due: int, emp_code: int, day: int, deadline: int, punch_ts: int, punch_id: str) -> None:
        zone = self.ctx.clock.zone
        emp = self.ctx.strings.text(emp_code)
        date = days_to_date(day).isoformat()
        first_punch = from_us(punch_ts, zone)
        details = {
            "date": date,
            "deadline": from_us(deadline, zone).isoformat(),
            "first_punch_id": punch_id,
            "first_punch_at": first_punch.isoformat(),
        }
        self.emit(
            ts=due,
            subject=(emp, date),
            employee_id=emp,
            customer_id=None,
            evidence=[(punch_ts, punch_id)],
            details=details,
            message=self.render("default", details, employee_id=emp, deadline_time=self.deadline_text,
                                first_punch_time=first_punch.strftime("%H:%M")),
        )


class PlanMissing(_MissingDocument):
    id = "plan.missing"
    title = "A working day without a work plan submitted by the morning deadline"
    Params = PlanMissingParams
    document = PLAN
    kinds = frozenset({PUNCH, PLAN})
    messages = {
        "en": {"default": "{employee_id} clocked in on {date} (first punch {first_punch_time}) "
                          "but had submitted no work plan for the day by {deadline_time}"},
        "zh": {"default": "{employee_id} 在 {date} 有打卡记录（首次打卡 {first_punch_time}），"
                          "但截至 {deadline_time} 仍未提交当天的工作计划"},
    }


class SummaryMissing(_MissingDocument):
    id = "summary.missing"
    title = "A working day without a daily work summary by the deadline"
    Params = SummaryMissingParams
    document = SUMMARY
    kinds = frozenset({PUNCH, SUMMARY})
    messages = {
        "en": {"default": "{employee_id} clocked in on {date} (first punch {first_punch_time}) "
                          "but had submitted no daily work summary for it by {deadline_time}"},
        "zh": {"default": "{employee_id} 在 {date} 有打卡记录（首次打卡 {first_punch_time}），"
                          "但截至 {deadline_time} 仍未提交当天的工作日报"},
    }


DETECTORS = (PlanMissing, SummaryMissing)
