"""The engine: tenants never meet, scope as known at the finding's time, as-of, the public API."""

from __future__ import annotations

import pytest

import hrguard
from hrguard.testing import run_all_ways

SH = "+08:00"


def cust(id_, c, ts, owner="E1", lat=31.2304, lon=121.4737, tenant=None):
    return {"id": id_, "kind": "customer.registered", "ts": f"2026-04-01T{ts}{SH}", "employee_id": owner,
            "customer_id": c, "name": c, "owner_id": owner, "lat": lat, "lon": lon, "tenant": tenant}


def punch(id_, ts, c, emp="E1", lat=31.30, lon=121.60, tenant=None):
    return {"id": id_, "kind": "attendance.punched", "ts": f"2026-04-01T{ts}{SH}", "employee_id": emp,
            "direction": "in", "lat": lat, "lon": lon, "accuracy_m": 10, "source": "gps", "customer_id": c,
            "tenant": tenant}


def hired(id_, ts, emp, role, dept=None):
    return {"id": id_, "kind": "employee.hired", "ts": f"2026-04-01T{ts}{SH}", "employee_id": emp,
            "role": role, "department": dept}


def test_events_of_different_tenants_never_meet(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch"})
    events = [
        cust("a1", "C1", "08:00:00", tenant="acme"),        # C1 is known in acme only
        punch("p1", "09:00:00", "C1", tenant="globex"),     # globex's C1 is unknown: nothing judged
        punch("p2", "09:00:00", "C1", tenant="acme"),       # far from acme's C1: fires
    ]
    result = run_all_ways(events, rs, engine=engine)
    assert [(f.evidence, f.tenant) for f in result.findings] == [(["a1", "p2"], "acme")]


def test_same_subject_in_two_tenants_gets_two_ids(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch"})
    events = [cust("a1", "C1", "08:00:00", tenant="t1"), cust("b1", "C1", "08:00:00", tenant="t2"),
              punch("p", "09:00:00", "C1", tenant="t1"), {**punch("p", "09:00:00", "C1", tenant="t2"), "id": "q"}]
    ids = [f.id for f in engine.scan(events, rs).findings]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_scope_uses_the_role_known_at_the_findings_time(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch", "scope": {"roles": ["sales"]}})
    events = [
        cust("c", "C1", "07:00:00"),
        punch("p1", "08:00:00", "C1"),               # no role known yet: out of scope
        hired("h1", "09:00:00", "E1", "sales"),
        punch("p2", "10:00:00", "C1"),               # sales: in scope
        hired("h2", "11:00:00", "E1", "manager"),
        punch("p3", "12:00:00", "C1"),               # manager now: out of scope
    ]
    result = run_all_ways(events, rs, engine=engine)
    assert [f.evidence[-1] for f in result.findings] == ["p2"]


def test_department_and_employee_scope_must_all_match(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch", "scope": {"departments": ["east"], "employees": ["E1", "E2"]}})
    events = [cust("c", "C1", "07:00:00"), hired("h1", "07:00:00", "E1", "sales", "east"),
              hired("h2", "07:00:00", "E2", "sales", "west"), hired("h3", "07:00:00", "E3", "sales", "east"),
              punch("p1", "08:00:00", "C1", "E1"), punch("p2", "08:00:00", "C1", "E2"), punch("p3", "08:00:00", "C1", "E3")]
    assert [f.employee_id for f in engine.scan(events, rs).findings] == ["E1"]


def test_exceptions_suppress_and_count(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch", "exceptions": [
        {"employees": ["E1"], "until": "2026-04-01", "reason": "approved field trip"}]})
    events = [cust("c", "C1", "07:00:00"), punch("p1", "08:00:00", "C1", "E1"), punch("p2", "08:00:00", "C1", "E2")]
    result = engine.scan(events, rs)
    assert [f.employee_id for f in result.findings] == ["E2"]
    assert [(f.employee_id, f.suppressed_by) for f in result.suppressed] == [("E1", "approved field trip")]
    assert result.summary()["suppressed"] == 1


def test_exception_until_is_a_local_date_inclusive(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch", "exceptions": [{"until": "2026-04-01", "reason": "r"}]},
                 timezone="Asia/Shanghai")
    late = punch("p2", "23:59:59", "C1")
    next_day = {**punch("p3", "00:00:00", "C1"), "ts": "2026-04-02T00:00:00+08:00"}
    result = engine.scan([cust("c", "C1", "07:00:00"), late, next_day], rs)
    assert [f.evidence[-1] for f in result.suppressed] == ["p2"]
    assert [f.evidence[-1] for f in result.findings] == ["p3"]


def test_events_after_as_of_are_ignored_entirely(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch"})
    events = [cust("c", "C1", "07:00:00"), punch("p1", "08:00:00", "C1"), punch("p2", "10:00:00", "C1")]
    result = engine.scan(events, rs, as_of="2026-04-01T09:00:00+08:00")
    assert [f.evidence[-1] for f in result.findings] == ["p1"]
    assert result.stats.after_as_of == 1
    assert result.as_of.isoformat() == "2026-04-01T01:00:00+00:00"  # shown in the ruleset's zone (UTC)


def test_naive_as_of_is_refused(engine, ruleset):
    with pytest.raises(hrguard.InvalidArgumentError, match="^as_of: '2026-04-01T09:00:00' has no UTC offset") as err:
        engine.scan([], ruleset({"use": "geofence.mismatch"}), as_of="2026-04-01T09:00:00")
    assert isinstance(err.value, ValueError) and err.value.argument == "as_of"


def test_findings_are_sorted_by_ts_then_id(engine, ruleset):
    rs = ruleset([{"use": "geofence.mismatch"}, {"use": "geofence.mismatch", "name": "second", "params": {"radius_m": 10}}])
    events = [cust("c", "C1", "07:00:00")] + [punch(f"p{i}", f"0{8 + i % 2}:00:00", "C1") for i in range(6)]
    fs = engine.scan(events, rs).findings
    assert [(f.ts, f.id) for f in fs] == sorted((f.ts, f.id) for f in fs)


def test_scan_accepts_a_path_and_the_module_level_api(tmp_path):
    import json

    p = tmp_path / "ev.jsonl"
    p.write_text("\n".join(json.dumps(e) for e in [cust("c", "C1", "07:00:00"), punch("p1", "08:00:00", "C1")]))
    rs = hrguard.load_ruleset({"rules": [{"use": "geofence.mismatch"}]})
    result = hrguard.scan(p, rs)
    assert [f.rule for f in result.findings] == ["geofence.mismatch"]
    assert result.stats.valid == 2


def test_public_api_is_curated():
    for name in ("load_ruleset", "scan", "Stream", "hookimpl", "Detector", "DetectorParams", "Finding",
                 "Severity", "Engine", "RulesetError", "HrguardError"):
        assert name in hrguard.__all__ and hasattr(hrguard, name)
    assert all(hasattr(hrguard, n) for n in hrguard.__all__)
    assert issubclass(hrguard.RulesetError, hrguard.HrguardError)
    assert issubclass(hrguard.PluginError, hrguard.HrguardError)


def test_finding_ids_are_stable_across_runs(engine, ruleset):
    rs = ruleset({"use": "geofence.mismatch"})
    events = [cust("c", "C1", "07:00:00"), punch("p1", "08:00:00", "C1")]
    assert engine.scan(events, rs).findings[0].id == engine.scan(list(reversed(events)), rs).findings[0].id
    renamed = ruleset({"use": "geofence.mismatch", "name": "other"})
    assert engine.scan(events, rs).findings[0].id != engine.scan(events, renamed).findings[0].id


def test_a_detectors_default_scope_applies_unless_the_rule_sets_one(engine):
    rs = engine.load_ruleset({"rules": [{"use": "plan.missing"}, {"use": "summary.missing", "scope": {}}]})
    assert rs.rule("plan.missing").scope.roles == ["sales"]
    assert rs.rule("summary.missing").scope.roles == []  # an explicit empty scope means everyone
