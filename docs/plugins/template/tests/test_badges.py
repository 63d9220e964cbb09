from __future__ import annotations

from hrguard_badges.detectors import AfterHours


def swipes(ev):
    """Events that make the detector fire (and some that do not), for the conformance kit."""
    ev.at("2026-04-01T06:30:00+08:00")
    return [ev("badge.swiped", door="D1"), ev("badge.swiped", door="D2", employee_id="E2"),
            ev.advance(hours=3)("badge.swiped", door="D1"), ev.advance(hours=14)("badge.swiped", door="D3")]


def test_the_detector_conforms(hrguard_check, hrguard_events):
    hrguard_check(AfterHours, swipes(hrguard_events), timezone="Asia/Shanghai", bad_params=[{"opens": 23, "closes": 8}])


def test_swipes_outside_working_hours(hrguard_engine, hrguard_ruleset, hrguard_events):
    rs = hrguard_ruleset({"use": "badge.after_hours", "params": {"closes": 20}}, timezone="Asia/Shanghai")
    result = hrguard_engine.scan(swipes(hrguard_events), rs)
    assert sorted((f.evidence, f.message) for f in result.findings) == [  # one instant: ordered by id, a hash
        (["e1"], "E1 swiped into door D1 at 06:30, outside working hours (7:00-20:00)"),
        (["e2"], "E2 swiped into door D2 at 06:30, outside working hours (7:00-20:00)"),
        (["e4"], "E1 swiped into door D3 at 23:30, outside working hours (7:00-20:00)"),
    ]
