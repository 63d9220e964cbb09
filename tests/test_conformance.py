"""The conformance kit over every built-in detector: the contract a vendor's detector must keep, kept here first.

Each case is a small set of events that makes its detector fire (several ways where it has several
reasons), with ties in time so that the (ts, id) order matters.
"""

from __future__ import annotations

import importlib.util

import pytest

from hrguard import Engine, load_ruleset
from hrguard.detectors import BUILTIN_DETECTORS
from hrguard.testing import DetectorCase, EventFactory, check_detector, parametrize_with_checks

SH = "Asia/Shanghai"
DET = {d.id: d for d in BUILTIN_DETECTORS}
FAR = (31.3004, 121.6037)  # about 15 km from the customers below
C1 = (31.2304, 121.4737)


def _ev(start: str = "2026-04-01T08:00:00+08:00") -> EventFactory:
    return EventFactory(start)


def geofence() -> list[dict]:
    ev = _ev()
    return [
        ev("employee.hired", ts="2026-03-01T09:00:00+08:00", role="sales"),
        ev("customer.registered", customer_id="C1", owner_id="E1", lat=C1[0], lon=C1[1]),
        ev("site.registered", site_id="S1", lat=C1[0], lon=C1[1], radius_m=100),
        ev("plan.submitted", date="2026-04-01", items=[{"customer_id": "C1", "start": "09:00", "end": "11:00"}]),
        ev.advance(hours=1, minutes=30)("attendance.punched", lat=FAR[0], lon=FAR[1]),  # too far from C1
        ev("attendance.punched", lat=C1[0], lon=C1[1], employee_id="E2", customer_id="C1"),  # same instant, fine
        ev.advance(hours=1)("attendance.punched", lat=None, lon=None, source="manual", customer_id="C1"),  # no fix
        ev.advance(hours=1)("attendance.punched", direction="out", lat=FAR[0], lon=FAR[1], site_id="S1"),
    ]


def stall() -> list[dict]:
    ev = _ev()
    return [
        ev("customer.registered", customer_id="C1", owner_id="E1"),
        ev("customer.registered", customer_id="C2", owner_id="E2"),
        ev("customer.stage_changed", customer_id="C1", stage="quoting"),
        ev("customer.stage_changed", customer_id="C2", stage="pending_signing"),
        ev.advance(days=2)("followup.logged", customer_id="C1"),
        ev.advance(days=4)("customer.assigned", customer_id="C2", owner_id="E3"),
        ev.advance(days=10)("followup.logged", customer_id="C1"),  # after the C1 stall fired
        ev.advance(days=1)("customer.stage_changed", customer_id="C1", stage="signed"),
    ]


def visit() -> list[dict]:
    ev = _ev()
    far = {"uri": "p/far.jpg", "lat": FAR[0], "lon": FAR[1], "taken_at": "2026-04-01T10:00:00+08:00"}
    stale = {"uri": "p/old.jpg", "lat": C1[0], "lon": C1[1], "taken_at": "2026-03-20T10:00:00+08:00"}
    good = {"uri": "p/ok.jpg", "lat": C1[0], "lon": C1[1], "taken_at": "2026-04-01T10:00:00+08:00"}
    return [
        ev("customer.registered", customer_id="C1", owner_id="E1", lat=C1[0], lon=C1[1]),
        ev.advance(hours=2)("followup.logged", customer_id="C1", channel="visit"),  # no photo
        ev("followup.logged", customer_id="C1", channel="visit", photos=[far], employee_id="E2"),
        ev.advance(hours=1)("followup.logged", customer_id="C1", channel="visit", photos=[stale]),
        ev("followup.logged", customer_id="C1", channel="visit", photos=[good]),
        ev("followup.logged", customer_id="C9", channel="visit", photos=[far]),  # location unknown: not photo_far
    ]


def summary_claims() -> list[dict]:
    ev = _ev()
    return [
        ev("customer.registered", customer_id="C1", owner_id="E1", lat=C1[0], lon=C1[1]),
        ev("customer.registered", customer_id="C2", owner_id="E1", lat=FAR[0], lon=FAR[1]),
        ev.advance(hours=1)("attendance.punched", lat=C1[0], lon=C1[1]),
        ev.advance(hours=1)("followup.logged", customer_id="C1", channel="visit"),
        ev("followup.logged", customer_id="C2", channel="phone"),
        ev.advance(hours=8)("summary.submitted", date="2026-04-01", claims=[
            {"customer_id": "C1", "activity": "visit"},  # supported
            {"customer_id": "C2", "activity": "visit"},  # no visit follow-up, no punch near: both missing
            {"customer_id": "C2", "activity": "call"},  # supported
            {"customer_id": "C3", "activity": "call"},  # no follow-up
        ]),
    ]


def approvals() -> list[dict]:
    ev = _ev()
    return [
        ev("approval.requested", request_id="R1", subject="order", customer_id="C1", amount=5000),
        ev.advance(hours=1)("approval.decided", request_id="R1", step="manager", employee_id="M1"),
        ev.advance(hours=1)("approval.decided", request_id="R1", step="finance", employee_id="F1"),
        ev("order.recorded", order_id="O1", customer_id="C1", amount=5000, approval_request_id="R1"),  # not legal
        ev("order.recorded", order_id="O2", customer_id="C1", amount=800),  # no request
        ev.advance(hours=1)("approval.decided", request_id="R1", step="legal", employee_id="L1"),
        ev("order.recorded", order_id="O3", customer_id="C2", amount=5000, approval_request_id="R1"),  # mismatch
        ev("order.recorded", order_id="O4", customer_id="C1", amount=4000, approval_request_id="R1"),  # fine
        ev.advance(days=1)("invoice.issued", invoice_id="I1", order_id="O2", employee_id="F1"),
        ev("invoice.issued", invoice_id="I2", order_id="O4", employee_id="F1"),
        ev("invoice.issued", invoice_id="I3", order_id="O9", employee_id="F1"),  # unknown order
    ]


def unverified() -> list[dict]:
    ev = _ev()
    return [
        ev("followup.logged", customer_id="C1"),
        ev.advance(days=40)("followup.logged", customer_id="C2"),
        ev.advance(days=1)("approval.requested", request_id="R1", customer_id="C1", amount=100),  # stale
        ev("approval.requested", request_id="R2", customer_id="C2", amount=100),  # fine
        ev("approval.requested", request_id="R3", customer_id="C3", subject="contract"),  # never
        ev("approval.requested", request_id="R4", customer_id=None),  # not judged
    ]


def customers() -> list[dict]:
    ev = _ev()
    return [
        ev("employee.hired", employee_id="E1", role="sales"),
        ev("employee.hired", employee_id="E2", role="sales", manager_id="M1"),
        ev("employee.hired", employee_id="M1", role="manager"),
        ev("customer.registered", customer_id="C1", owner_id="E2"),
        ev.advance(hours=1)("followup.logged", customer_id="C1"),  # E1 works E2's customer
        ev("followup.logged", customer_id="C1", employee_id="M1"),  # E2's manager: fine
        ev("followup.logged", customer_id="C7"),  # unregistered
        ev.advance(hours=1)("approval.requested", request_id="R1", customer_id="C1"),
        ev.advance(days=1)("order.recorded", order_id="O1", customer_id="C1", amount=10),
        ev("plan.submitted", date="2026-04-02", items=[{"customer_id": "C8", "start": "09:00", "end": "10:00"}]),
    ]


def workday() -> list[dict]:
    ev = _ev()
    return [
        ev("employee.hired", employee_id="E1", role="sales"),
        ev("employee.hired", employee_id="E2", role="sales"),
        ev("employee.hired", employee_id="E3", role="finance"),
        ev.advance(hours=1)("attendance.punched"),
        ev("attendance.punched", employee_id="E2"),
        ev("attendance.punched", employee_id="E3"),
        ev("plan.submitted", employee_id="E2", date="2026-04-01"),
        ev.advance(hours=2)("plan.submitted", date="2026-04-01"),  # after the 10:00 deadline
        ev.advance(hours=8)("summary.submitted", employee_id="E2", date="2026-04-01"),
        ev.advance(days=1)("attendance.punched", employee_id="E2"),  # a second day for E2, nothing sent
    ]


def termination() -> list[dict]:
    ev = _ev()
    return [
        ev("employee.terminated", employee_id="E1", last_day="2026-04-01", reason="misconduct"),
        ev("employee.terminated", employee_id="E2", last_day="2026-04-01"),
        ev.advance(days=2)("payroll.settled", employee_id="E2", final=True, amount=9000),
        ev("payroll.settled", employee_id="E1", final=False, amount=100),
        ev.advance(days=3)("employee.terminated", employee_id="E3", last_day="2026-03-01"),  # fires at its own ts
    ]


def expr() -> list[dict]:
    ev = _ev()
    return [
        ev("order.recorded", order_id="O1", customer_id="C1", amount=600000),
        ev("order.recorded", order_id="O2", customer_id="C1", amount=100),
        ev.advance(hours=1)("order.recorded", order_id="O3", customer_id="C2", amount=700000, employee_id="E2"),
    ]


def correlation() -> list[dict]:
    """Clock-ins: E1 three times within an hour (twice over), E2 twice; ties at one instant included."""
    ev = _ev()
    return [
        ev("attendance.punched", direction="in"),
        ev("attendance.punched", direction="in", employee_id="E2"),
        ev.advance(minutes=20)("attendance.punched", direction="out"),
        ev.advance(minutes=20)("attendance.punched", direction="in"),  # E1's third within the hour: fires
        ev("attendance.punched", direction="out", employee_id="E2"),
        ev.advance(minutes=5)("attendance.punched", direction="in"),  # a fresh count starts after a match
        ev.advance(hours=2)("attendance.punched", direction="out"),
        ev.advance(minutes=1)("attendance.punched", direction="in"),
        ev.advance(minutes=1)("attendance.punched", direction="out"),  # fires again
    ]


def outlier() -> list[dict]:
    """Eight salespeople, four ordinary days each, and one night of clock-ins and big orders by E7."""
    ev = _ev()
    out = [ev("employee.hired", ts="2026-03-01T09:00:00+08:00", employee_id=f"E{e}", role="sales") for e in range(8)]
    for d in range(4):
        for e in range(8):
            day = f"2026-04-0{d + 1}"
            out.append(ev("attendance.punched", ts=f"{day}T09:{(e * 7 + d * 3) % 60:02d}:00+08:00", employee_id=f"E{e}"))
            for k in range(1 + (e + d) % 3):
                out.append(ev("followup.logged", ts=f"{day}T1{k + 1}:{e:02d}:00+08:00", employee_id=f"E{e}",
                              customer_id=f"C{e}"))
            out.append(ev("attendance.punched", ts=f"{day}T{17 + (e + d) % 3}:{(e * 11 + d) % 60:02d}:00+08:00",
                          employee_id=f"E{e}", direction="out"))
    for k in range(6):
        out.append(ev("attendance.punched", ts=f"2026-04-03T0{k}:30:00+08:00", employee_id="E7", lat=None, lon=None,
                      source="manual"))
        out.append(ev("order.recorded", ts=f"2026-04-03T0{k}:40:00+08:00", employee_id="E7", order_id=f"O{k}",
                      customer_id="C1", amount=500000))
    return out


def coasting() -> list[dict]:
    """Eight salespeople over two weeks of working days; from the fourth day E7 coasts: arrives late,
    leaves early, and logs one brief visit a day."""
    ev = _ev()
    out = [ev("employee.hired", ts="2026-03-01T09:00:00+08:00", employee_id=f"E{e}", role="sales") for e in range(8)]
    days = [f"2026-04-{d:02d}" for d in (1, 2, 3, 6, 7, 8, 9, 10, 13, 14, 15, 16)]
    for d, day in enumerate(days):
        for e in range(8):
            lazy = e == 7 and d >= 3
            start, end = ("11", "14") if lazy else ("09", str(17 + (e + d) % 2))
            out.append(ev("attendance.punched", ts=f"{day}T{start}:{(e * 7 + d * 3) % 60:02d}:00+08:00",
                          employee_id=f"E{e}"))
            for k in range(1 if lazy else 2 + (e + d) % 2):
                out.append(ev("followup.logged", ts=f"{day}T1{k + 1}:{e:02d}:30+08:00", employee_id=f"E{e}",
                              customer_id=f"C{e}", channel="visit"))
            out.append(ev("attendance.punched", ts=f"{day}T{end}:{(e * 11 + d) % 60:02d}:00+08:00",
                          employee_id=f"E{e}", direction="out"))
    return out


CASES = [
    DetectorCase(DET["geofence.mismatch"], geofence(), timezone=SH),
    DetectorCase(DET["followup.stall"], stall(), timezone=SH, as_of="2026-04-20T00:00:00+08:00",
                 bad_params=[{"max_idle": {"quoting": "a week"}}]),
    DetectorCase(DET["visit.evidence_missing"], visit(), timezone=SH),
    DetectorCase(DET["summary.unsupported_claim"], summary_claims(), timezone=SH,
                 bad_params=[{"require": ["photo"]}]),
    DetectorCase(DET["approval.bypass"], approvals(), timezone=SH, bad_params=[{"required_steps": ["a", "a"]}]),
    DetectorCase(DET["approval.unverified_source"], unverified(), timezone=SH),
    DetectorCase(DET["customer.unregistered"], customers(), timezone=SH),
    DetectorCase(DET["customer.ownership_conflict"], customers(), timezone=SH),
    DetectorCase(DET["plan.missing"], workday(), timezone=SH, bad_params=[{"deadline": "25:00"}]),
    DetectorCase(DET["summary.missing"], workday(), timezone=SH, as_of="2026-04-03T12:00:00+08:00"),
    DetectorCase(DET["termination.unsettled"], termination(), timezone=SH, as_of="2026-04-10T00:00:00+08:00",
                 bad_params=[{"grace": "-1d"}]),
    DetectorCase(DET["correlation"], correlation(), timezone=SH,
                 params={"type": "event_count", "rules": ["attendance.punched"], "timespan": "1h", "gte": 3},
                 bad_params=[{"gte": 0}, {"type": "temporal"}, {"field": "direction"}, {"rules": []}]),
    DetectorCase(DET["expr"], expr(), params={"on": "order.recorded", "condition": "event.amount > 500000.0"},
                 bad_params=[{"condition": "event.amount >"}, {"on": ["no.such_kind"]}]),
]
if "outlier.isolation_forest" in DET and importlib.util.find_spec("sklearn") is not None:  # the ml extra
    CASES.append(DetectorCase(DET["outlier.isolation_forest"], outlier(), timezone=SH, as_of="2026-04-06T00:00:00+08:00",
                              params={"min_periods": 10, "n_estimators": 10, "refit_growth": 1.0}))
    CASES.append(DetectorCase(DET["outlier.isolation_forest"], coasting(), timezone=SH, label="outlier.isolation_forest-persistent",
                              as_of="2026-04-17T00:00:00+08:00",
                              params={"min_periods": 10, "n_estimators": 20, "refit_growth": 0.5, "contamination": 0.1,
                                      "window": 4, "min_active": 3, "persistence": 3}))


@parametrize_with_checks(CASES)
def test_builtin_detector_conforms(case: DetectorCase, check) -> None:
    check(case)  # every built-in detector keeps its state in hrguard.state's stores: check_checkpoint too


def test_every_builtin_detector_has_a_case(engine: Engine) -> None:
    """A new built-in detector needs a case here; only detectors outside the seed list may wait."""
    builtin = {d for d, r in engine.registry.detectors.items() if r.plugin == "hrguard.plugins.builtins"}
    seed = {r.use for r in load_ruleset("sales", engine=engine).rules}  # the spec's seed detectors
    missing = builtin - {c.detector.id for c in CASES}
    assert not missing & seed, f"seed detectors without a conformance case: {sorted(missing & seed)}"
    if missing:
        pytest.skip(f"no conformance case yet for {sorted(missing)} (not in the seed list)")


def test_check_detector_is_one_call_and_says_what_ran() -> None:
    ran = check_detector(DET["expr"], expr(), params={"on": "order.recorded", "condition": "event.amount > 1.0"},
                         skip=["bad_params_rejected"])
    assert "check_chunking" in ran and "check_bad_params_rejected" not in ran
