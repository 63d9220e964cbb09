"""A working day without a plan or a summary: ``plan.missing`` and ``summary.missing``.

A local date D is a working day of employee E when E has at least one ``attendance.punched`` on D.
The day needs a document for D (a ``plan.submitted`` or ``summary.submitted`` whose ``date`` is D)
received at or before a local deadline on D. The finding comes at the later of that deadline and the
first punch of D, so it never precedes the punch that made D a working day.
"""

from __future__ import annotations

import heapq
import re
from datetime import time
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from ..columns import Chunk
from ..detector import Detector, DetectorParams, RuleContext
from ..findings import Severity
from ..kit import pack2
from ..timeutil import days_to_date, from_us, time_to_seconds

PUNCH, PLAN, SUMMARY = "attendance.punched", "plan.submitted", "summary.submitted"

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")


def _local_time(value: Any) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None or value.microsecond:
            raise ValueError("a time of day is HH:MM or HH:MM:SS local time, without a zone or fractions")
        return value
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"expected a local time of day HH:MM or HH:MM:SS (00:00 to 23:59:59), got {value!r}")
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


def _format_time(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    PlainSerializer(_format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": f"^{_HHMM.pattern}$", "examples": ["10:00", "23:59:59"]}),
]
"""A local time of day in the ruleset's zone, written ``HH:MM`` or ``HH:MM:SS``."""


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

    def __init__(self, params: Any, ctx: RuleContext):
        super().__init__(params, ctx)
        self.deadline_s = time_to_seconds(params.deadline)
        self.deadline_text = _format_time(params.deadline)
        self.working: set[int] = set()  # pack2(employee, day) of every working day seen
        self.received: dict[int, int] = {}  # pack2(employee, date) -> ts of the first document for it
        self.timers: list[tuple[int, int, int, int, int, int, str]] = []  # (due, key, emp, day, deadline, ts, id)
        self._deadlines: dict[int, int] = {}

    def _deadline(self, day: int) -> int:
        t = self._deadlines.get(day)
        if t is None:
            t = self._deadlines[day] = self.ctx.clock.instant(day, self.deadline_s)
        return t

    def next_due(self) -> int | None:
        return self.timers[0][0] if self.timers else None  # stale entries only make it run early

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        drows = chunk.rows(self.document)
        if drows.size:  # documents (one an employee a day: a loop is fine)
            emp = f.employee[drows]
            keys = pack2(emp, chunk.col(self.document, "date"))
            received = self.received
            for k, t, e in zip(keys.tolist(), f.ts[drows].tolist(), emp.tolist()):
                if e >= 0 and k not in received:  # rows are in event order: the first is the earliest
                    received[k] = t
        prows = chunk.rows(PUNCH)
        if prows.size:
            emp = f.employee[prows]
            mine = emp >= 0
            prows, emp = prows[mine], emp[mine]
            ts = f.ts[prows]
            days = self.ctx.clock.local_days(ts)
            keys = pack2(emp, days)
            _, first = np.unique(keys, return_index=True)  # each (employee, day)'s first punch here
            first.sort()
            for i, k in zip(first.tolist(), keys[first].tolist()):
                if k in self.working:
                    continue
                self.working.add(k)
                day = int(days[i])
                deadline = self._deadline(day)
                t = int(ts[i])
                heapq.heappush(self.timers, (max(deadline, t), k, int(emp[i]), day, deadline, t, f.ids[prows[i]]))
        while self.timers and self.timers[0][0] <= chunk.upto:
            due, key, emp_code, day, deadline, punch_ts, punch_id = heapq.heappop(self.timers)
            got = self.received.get(key)
            if got is not None and got <= deadline:
                continue
            self._fire(due, emp_code, day, deadline, punch_ts, punch_id)

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
