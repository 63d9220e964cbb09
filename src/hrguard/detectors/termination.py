"""``termination.unsettled``: a dismissed employee whose final wages are not settled after a grace period.

The article's legal lesson: dismissing someone does not remove the duty to settle the final wages.
Each ``employee.terminated`` starts a timer at the later of (the end of ``last_day``, local 23:59:59,
plus ``grace``) and the termination's own ``ts``; when it comes and no ``payroll.settled`` with
``final: true`` for that employee was received by then (one before the termination counts), it fires.
"""

from __future__ import annotations

import heapq

from pydantic import Field

from ..columns import NULL_INT, Chunk
from ..events import DAY_US, US, days_to_date, from_us
from ..findings import Severity
from ..sdk import Detector, DetectorParams, Duration, RuleContext

TERMINATED, SETTLED = "employee.terminated", "payroll.settled"


class TerminationParams(DetectorParams):
    grace: Duration = Field("3d", validate_default=True,
                            description="time after the end of the last day (local 23:59:59) allowed for the final settlement")


class TerminationUnsettled(Detector):
    id = "termination.unsettled"
    title = "A dismissed employee whose final wages are not settled"
    Params = TerminationParams
    default_severity = Severity.high
    kinds = frozenset({TERMINATED, SETTLED})
    messages = {
        "en": {"default": "{employee_id} left the company (last day {last_day}) and the final wages were still "
                          "not settled by {settle_by_text} — a wage-dispute risk"},
        "zh": {"default": "{employee_id} 已离职（最后工作日 {last_day}），截至 {settle_by_text} 仍未结清最终工资，"
                          "存在劳动争议风险"},
    }

    def __init__(self, params: TerminationParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.settled: dict[int, int] = {}  # employee code -> ts of the first final settlement
        self.timers: list[tuple[int, int, int, str, int, str | None]] = []  # (due, ts, emp, id, last_day, reason)

    def next_due(self) -> int | None:
        return self.timers[0][0] if self.timers else None  # stale entries only make it run early

    def process(self, chunk: Chunk) -> None:
        f = chunk.frame
        srows = chunk.rows(SETTLED)
        if srows.size:  # rare kind: a loop over the final ones is fine
            final = chunk.col(SETTLED, "final") == 1
            for e, t in zip(f.employee[srows[final]].tolist(), f.ts[srows[final]].tolist()):
                self.settled.setdefault(e, t)  # rows in event order: the first is the earliest
        trows = chunk.rows(TERMINATED)
        if trows.size:
            clock = self.ctx.clock
            last_days = chunk.col(TERMINATED, "last_day")
            reasons = self.ctx.strings.texts(chunk.col(TERMINATED, "reason"))
            for row, last_day, reason in zip(trows.tolist(), last_days.tolist(), reasons):
                ts = int(f.ts[row])
                if last_day == NULL_INT:  # no last day given: the termination's own local date
                    last_day = clock.local_day(ts)
                due = max(clock.end_of_day(int(last_day)) + self.params.grace, ts)
                heapq.heappush(self.timers, (due, ts, int(f.employee[row]), f.ids[row], int(last_day), reason))
        while self.timers and self.timers[0][0] <= chunk.upto:
            due, ts, emp, ev_id, last_day, reason = heapq.heappop(self.timers)
            got = self.settled.get(emp)
            if got is not None and got <= due:
                continue
            self._fire(due, ts, emp, ev_id, last_day, reason)

    def _fire(self, due: int, ts: int, emp_code: int, ev_id: str, last_day: int, reason: str | None) -> None:
        emp = self.ctx.strings.text(emp_code)
        grace = self.params.grace
        settle_by = from_us(due, self.ctx.clock.zone)
        details = {
            "last_day": days_to_date(last_day).isoformat(),
            "grace_seconds": grace // US,
            "settle_by": settle_by.isoformat(),
            "termination_reason": reason,
        }
        self.emit(
            ts=due,
            subject=(emp,),
            employee_id=emp,
            customer_id=None,
            evidence=[(ts, ev_id)],
            details=details,
            message=self.render("default", details, employee_id=emp,
                                grace_days=round(grace / DAY_US, 1),
                                settle_by_text=settle_by.strftime("%Y-%m-%d %H:%M:%S")),
        )


DETECTORS = (TerminationUnsettled,)
