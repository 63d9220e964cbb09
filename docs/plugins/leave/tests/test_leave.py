from __future__ import annotations

from hrguard_leave.detectors import ClockInDuringLeave, SelfApprovedLeave


def leave_log(ev):
    """Two leaves (one approved by its taker), clock-ins on and off them, across midnight in Shanghai."""
    ev.at("2026-04-01T09:00:00+08:00")
    return [
        ev("leave.approved", leave_id="L1", first_day="2026-04-03", last_day="2026-04-04", approver_id="M1"),
        ev("leave.approved", leave_id="L2", first_day="2026-04-06", last_day="2026-04-06", approver_id="E2",
           employee_id="E2"),
        ev.at("2026-04-02T23:30:00+08:00")("attendance.punched", direction="in"),   # the day before: fine
        ev.at("2026-04-03T00:10:00+08:00")("attendance.punched", direction="in"),   # on leave
        ev("attendance.punched", direction="out"),                                 # a clock-out: not judged
        ev.at("2026-04-04T09:00:00+08:00")("attendance.punched", direction="in", employee_id="E2"),  # not E2's leave
        ev.at("2026-04-06T08:55:00+08:00")("attendance.punched", direction="in", employee_id="E2"),  # on leave
        ev.at("2026-04-09T09:00:00+08:00")("attendance.punched", direction="in"),   # after the leave
    ]


def test_both_rules_conform(hrguard_check, hrguard_events):
    hrguard_check(ClockInDuringLeave, leave_log(hrguard_events), timezone="Asia/Shanghai")
    hrguard_check(SelfApprovedLeave, leave_log(hrguard_events), timezone="Asia/Shanghai")


def test_what_they_find(hrguard_engine, hrguard_ruleset, hrguard_events):
    rs = hrguard_ruleset([{"use": "leave.clock_in_during_leave"}, {"use": "leave.self_approved"}],
                         timezone="Asia/Shanghai")
    found = [(f.name, f.employee_id, f.evidence, f.message) for f in hrguard_engine.scan(leave_log(hrguard_events), rs).findings]
    assert found == [
        ("leave.self_approved", "E2", ["e2"], "E2 approved their own leave L2 (2026-04-06 to 2026-04-06)"),
        ("leave.clock_in_during_leave", "E1", ["e1", "e4"], "E1 clocked in on 2026-04-03 during their approved leave L1"),
        ("leave.clock_in_during_leave", "E2", ["e2", "e7"], "E2 clocked in on 2026-04-06 during their approved leave L2"),
    ]
