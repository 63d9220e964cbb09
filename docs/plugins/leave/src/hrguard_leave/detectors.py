"""Two leave rules, written one event at a time (``hrguard.EventDetector``)."""

from __future__ import annotations

from hrguard import EventDetector, Severity

LEAVE, PUNCH = "leave.approved", "attendance.punched"


class ClockInDuringLeave(EventDetector):
    id = "leave.clock_in_during_leave"
    title = "A clock-in on a day of the employee's own approved leave"
    default_severity = Severity.medium
    kinds = frozenset({LEAVE, PUNCH})
    messages = {"en": "{employee_id} clocked in on {date} during their approved leave {leave_id}",
                "zh": "{employee_id} 在 {date} 打卡上班，但当天处于已批准的休假 {leave_id} 中"}

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.leaves = {}  # employee -> [(first day, last day, leave id, the approval as evidence)]

    def on_event(self, ev):
        if ev.kind == LEAVE:
            self.leaves.setdefault(ev.employee_id, []).append((ev.first_day, ev.last_day, ev.leave_id, ev.ref))
        elif ev.direction == "in":
            for first, last, leave_id, approval in self.leaves.get(ev.employee_id, ()):
                if first <= ev.date <= last:
                    self.report(ev, evidence=[approval], date=ev.date, leave_id=leave_id)
                    break

    def expire(self, watermark):  # a leave that has ended can match no later clock-in
        today = self.local_date(watermark)
        self.leaves = {e: kept for e, ls in self.leaves.items() if (kept := [x for x in ls if x[1] >= today])}


class SelfApprovedLeave(EventDetector):
    id = "leave.self_approved"
    title = "A leave approved by the employee who takes it"
    default_severity = Severity.high
    kinds = frozenset({LEAVE})
    messages = {"en": "{employee_id} approved their own leave {leave_id} ({first_day} to {last_day})",
                "zh": "{employee_id} 批准了自己的休假 {leave_id}（{first_day} 至 {last_day}）"}

    def on_event(self, ev):
        if ev.approver_id == ev.employee_id:
            self.report(ev, leave_id=ev.leave_id, first_day=ev.first_day, last_day=ev.last_day)


DETECTORS = (ClockInDuringLeave, SelfApprovedLeave)
