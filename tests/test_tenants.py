"""Tenants in scans and bounded scans: each tenant is judged exactly as if it were scanned alone.

The contract (``shared/spec/events.md``, the ``id`` and ``tenant`` rows): ids are unique within a
tenant, so two companies numbering their records alike send different events; a repeated
``(tenant, id)`` is a duplicate (same content) or a rejection (other content); each tenant has its own
clock (a bounded scan's lateness and releases) and its own findings, whose ids differ from another
tenant's; null and ``""`` are the same, default tenant. Every test here compares a scan of several
tenants mixed with a scan of each tenant alone at the same as-of time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hrguard
from hrguard.demo import load_events
from hrguard.ingest import tenant_key
from hrguard.testing import EventFactory

SH = timezone(timedelta(hours=8))
BASE = datetime(2026, 4, 1, 8, 0, tzinfo=SH)
RULES = [
    {"use": "geofence.mismatch", "params": {"radius_m": 300, "window_slack": "1h"}},
    {"use": "followup.stall", "params": {"max_idle": {"quoting": "18h", "pending_signing": "9h"}}},
    {"use": "expr", "name": "big", "params": {"on": ["order.recorded"], "condition": "event.amount > 1000.0"}},
]
DEFAULT = "<default>"  # the label of the default tenant: its records say null, "" or nothing
TENANTS = ["acme", "globex", "initech", DEFAULT]
CUSTOMERS = ["C1", "C2", "C3"]
EMPLOYEES = ["E1", "E2"]


@pytest.fixture(scope="module")
def rules(engine):
    return engine.load_ruleset({"ruleset": "tenants", "timezone": "Asia/Shanghai", "rules": RULES})


def _tenant(label: str) -> str | None:
    return None if label == DEFAULT else label


# -- generated logs: several tenants, the same ids, several kinds ------------------------------------------------
def _point(draw: st.DrawFn) -> tuple[float, float]:
    return 31.2 + draw(st.integers(0, 6)) * 0.002, 121.47 + draw(st.integers(0, 6)) * 0.002


@st.composite
def tenant_log(draw: st.DrawFn, label: str, start: datetime) -> list[dict[str, Any]]:
    """One tenant's records in time order (ids ``e1``, ``e2``... as every tenant's), with repeats right
    after their first delivery: the same record (a duplicate) or the same id with other content."""
    ev = EventFactory(start, employee_id="E1", tenant=_tenant(label))
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 18))):
        ev.advance(minutes=30 * draw(st.integers(0, 8)))
        kind = draw(st.sampled_from(["customer.registered", "customer.stage_changed", "followup.logged",
                                     "plan.submitted", "attendance.punched", "attendance.punched",
                                     "order.recorded"]))
        cust = draw(st.sampled_from(CUSTOMERS))
        emp = draw(st.sampled_from(EMPLOYEES))
        lat, lon = _point(draw)
        if kind == "customer.registered":
            rec = ev(kind, customer_id=cust, name=cust, owner_id=emp, lat=lat, lon=lon, employee_id=emp)
        elif kind == "customer.stage_changed":
            rec = ev(kind, customer_id=cust, stage=draw(st.sampled_from(["quoting", "pending_signing", "signed"])),
                     employee_id=emp)
        elif kind == "followup.logged":
            rec = ev(kind, customer_id=cust, channel=draw(st.sampled_from(["visit", "phone"])), employee_id=emp)
        elif kind == "plan.submitted":
            h = draw(st.integers(8, 18))
            rec = ev(kind, employee_id=emp, items=[{"customer_id": cust, "start": f"{h:02d}:00", "end": f"{h + 2:02d}:00"}])
        elif kind == "attendance.punched":
            rec = ev(kind, employee_id=emp, lat=lat, lon=lon, customer_id=draw(st.sampled_from([None, cust])))
        else:
            rec = ev(kind, employee_id=emp, order_id=f"O{len(out)}", customer_id=cust,
                     amount=draw(st.sampled_from([10, 1000, 5000])))
        if label == DEFAULT:
            _spell_default(rec, draw(st.integers(0, 2)))
        out.append(rec)
        repeat = draw(st.sampled_from(["no", "no", "no", "same", "other"]))
        if repeat != "no":
            again = dict(rec)
            if label == DEFAULT:  # null, "" or nothing: the same record
                _spell_default(again, draw(st.integers(0, 2)))
            if repeat == "other":
                again["employee_id"] = "E9"
            out.append(again)
        if draw(st.integers(0, 9)) == 0:  # a bad record in between: the model path's rejection
            bad = {"id": f"bad{len(out)}", "kind": "followup.logged", "ts": "nope"}
            if label != DEFAULT:
                bad["tenant"] = label
            out.append(bad)
    return out


def _spell_default(rec: dict[str, Any], how: int) -> None:
    rec.pop("tenant", None)
    if how == 1:
        rec["tenant"] = None
    elif how == 2:
        rec["tenant"] = ""


@st.composite
def tenant_logs(draw: st.DrawFn, apart: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Two or three tenants' logs; ``apart``: their times weeks apart (in a random order)."""
    labels = draw(st.lists(st.sampled_from(TENANTS), min_size=2, max_size=3, unique=True))
    weeks = draw(st.permutations(range(len(labels)))) if apart else [0] * len(labels)
    return {label: draw(tenant_log(label, BASE + timedelta(weeks=3 * w))) for label, w in zip(labels, weeks)}


def _mixed(logs: dict[str, list[dict[str, Any]]], rnd: random.Random) -> tuple[list[dict], list[tuple[str, int]]]:
    """The logs interleaved at random, each tenant's in its own order; for each record, (tenant, its
    1-based position in its tenant's log)."""
    order = [label for label, log in logs.items() for _ in log]
    rnd.shuffle(order)
    at = dict.fromkeys(logs, 0)
    mixed, where = [], []
    for label in order:
        mixed.append(logs[label][at[label]])
        at[label] += 1
        where.append((label, at[label]))
    return mixed, where


def _jittered(log: list[dict[str, Any]], hours: float, rnd: random.Random) -> list[dict[str, Any]]:
    """Time order, each record moved later by up to ``hours`` (a bad record stays where it is)."""
    def when(k: int, rec: dict[str, Any]) -> tuple[datetime, int]:
        try:
            return datetime.fromisoformat(rec["ts"]) + timedelta(hours=rnd.uniform(0, hours)), k
        except ValueError:
            return (datetime.fromisoformat(log[k - 1]["ts"]) if k else BASE), k
    return [rec for _, rec in sorted(((when(k, r), r) for k, r in enumerate(log)), key=lambda p: p[0])]


def _assert_each_tenant_as_if_alone(mixed: hrguard.ScanResult, where: list[tuple[str, int]],
                                    alone: dict[str, hrguard.ScanResult]) -> None:
    """Per tenant: the same findings (ids included), suppressed findings and rejections (at the record's
    position in its own log, with the same message); the counts add up."""
    for label, res in alone.items():
        tenant = _tenant(label)
        assert res.as_of == mixed.as_of
        assert [f.model_dump() for f in mixed.findings if f.tenant == tenant] == [f.model_dump() for f in res.findings]
        assert [f.model_dump() for f in mixed.suppressed if f.tenant == tenant] == [
            f.model_dump() for f in res.suppressed]
        got = [(where[r.line - 1][1], r.id, r.field, r.message) for r in mixed.rejected if where[r.line - 1][0] == label]
        assert sorted(got) == sorted((r.line, r.id, r.field, r.message) for r in res.rejected)
    for count in ("received", "valid", "duplicates", "rejected", "late", "after_as_of"):
        assert getattr(mixed.stats, count) == sum(getattr(r.stats, count) for r in alone.values()), count
    assert {f.id for f in mixed.findings}.isdisjoint({f.id for f in mixed.suppressed})
    assert len({f.id for f in mixed.findings}) == len(mixed.findings)


# -- the plain scan ------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs=tenant_logs(), seed=st.integers(0, 10_000), as_of_hours=st.one_of(st.none(), st.integers(0, 72)))
def test_a_scan_of_several_tenants_judges_each_as_if_alone(engine, rules, logs, seed, as_of_hours):
    rnd = random.Random(seed)
    for label in logs:  # the plain scan takes any order
        rnd.shuffle(logs[label])
    mixed_in, where = _mixed(logs, rnd)
    as_of = None if as_of_hours is None else BASE + timedelta(hours=as_of_hours)
    mixed = engine.scan(mixed_in, rules, as_of)
    alone = {label: engine.scan(log, rules, mixed.as_of) for label, log in logs.items()}
    _assert_each_tenant_as_if_alone(mixed, where, alone)


# -- the bounded scan ----------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs=tenant_logs(apart=True), seed=st.integers(0, 10_000), chunk_size=st.sampled_from([1, 3, 65_536]))
def test_a_bounded_scan_of_tenants_weeks_apart_gives_each_the_plain_scan_alone(engine, rules, logs, seed, chunk_size):
    """Each tenant's records within max_disorder of its own clock, the tenants weeks apart in time: no
    record is late, and each tenant gets what a plain scan of it alone gives."""
    rnd = random.Random(seed)
    logs = {label: _jittered(log, 5, rnd) for label, log in logs.items()}
    mixed_in, where = _mixed(logs, rnd)
    mixed = engine.scan(mixed_in, rules, max_disorder="6h", chunk_size=chunk_size)
    assert mixed.stats.late == 0
    alone = {label: engine.scan(log, rules, mixed.as_of) for label, log in logs.items()}
    _assert_each_tenant_as_if_alone(mixed, where, alone)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs=tenant_logs(apart=True), seed=st.integers(0, 10_000), chunk_size=st.sampled_from([1, 4, 65_536]))
def test_in_any_order_a_bounded_scan_judges_each_tenant_as_its_bounded_scan_alone(engine, rules, logs, seed,
                                                                                  chunk_size):
    """Any disorder: each tenant's late records (behind its own clock, same message), duplicates,
    rejections and findings are those of a bounded scan of that tenant alone."""
    rnd = random.Random(seed)
    for label in logs:
        rnd.shuffle(logs[label])
    mixed_in, where = _mixed(logs, rnd)
    mixed = engine.scan(mixed_in, rules, max_disorder="6h", chunk_size=chunk_size)
    alone = {label: engine.scan(log, rules, mixed.as_of, max_disorder="6h", chunk_size=chunk_size)
             for label, log in logs.items()}
    _assert_each_tenant_as_if_alone(mixed, where, alone)


def _synced_every_two_hours() -> tuple[list[dict], dict[str, list[dict]]]:
    """Two companies, the same ids: ``live`` sends each record as it happens, ``batch`` syncs every 2 h
    (its records arrive up to 2 h behind ``live``'s). Both have a rep clocking in far from a planned
    customer and a quote left idle."""
    logs: dict[str, list[dict]] = {}
    for tenant in ("live", "batch"):
        ev = EventFactory(BASE, tenant=tenant)
        ev("customer.registered", customer_id="C1", name="C1", owner_id="E1", lat=31.2304, lon=121.4737)
        ev("plan.submitted", items=[{"customer_id": "C1", "start": "09:30", "end": "11:30"}])
        ev("customer.stage_changed", customer_id="C1", stage="quoting")
        for k in range(60):  # a punch every 10 minutes, 08:10 to 18:00; at 10:00 one 5 km away
            ev.advance(minutes=10)
            far = k == 11
            ev("attendance.punched", customer_id="C1", lat=31.2304 + (0.05 if far else 0), lon=121.4737)
        logs[tenant] = ev.made
    arrived, batch, sent = [], logs["batch"], 0
    for rec in logs["live"]:
        t = datetime.fromisoformat(rec["ts"])
        sync = BASE + timedelta(hours=2) * ((t - BASE) // timedelta(hours=2))  # 08:00, 10:00, 12:00...
        while sent < len(batch) and datetime.fromisoformat(batch[sent]["ts"]) < sync:  # what it recorded before
            arrived.append(batch[sent])
            sent += 1
        arrived.append(rec)
    arrived += batch[sent:]
    return arrived, logs


def test_a_company_syncing_every_two_hours_is_not_late_because_another_is_newer(engine, rules):
    arrived, logs = _synced_every_two_hours()
    mixed = engine.scan(arrived, rules, "2026-04-02T12:00:00+08:00", max_disorder="30m")
    assert mixed.stats.late == 0 and mixed.stats.rejected == 0
    assert mixed.stats.valid == len(arrived)  # the same ids in both companies: all of them are events
    for tenant, log in logs.items():
        alone = engine.scan(log, rules, mixed.as_of)
        mine = [f.model_dump() for f in mixed.findings if f.tenant == tenant]
        assert mine == [f.model_dump() for f in alone.findings]
        assert {f.rule for f in alone.findings} == {"geofence.mismatch", "followup.stall"}
    # a record of ``batch`` more than max_disorder behind *its own* latest ts is still late
    late = dict(logs["batch"][5], id="late1")
    again = engine.scan(arrived + [late], rules, "2026-04-02T12:00:00+08:00", max_disorder="30m")
    assert [(r.id, r.field) for r in again.rejected] == [("late1", "ts")]
    assert "of its tenant (2026-04-01T18:00:00+08:00)" in again.rejected[0].message


# -- ids and finding ids -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_disorder", [None, "1h"])
def test_two_tenants_with_identical_events_get_distinct_finding_ids(engine, max_disorder):
    """The demo's events sent by two companies (the same ids): twice the findings, no id in common, and
    each company's findings (ids included) those of a scan of it alone at the same as-of time."""
    rs = engine.load_ruleset("sales")
    demo = sorted(load_events(), key=lambda e: datetime.fromisoformat(e["ts"]))  # in time order: none late
    logs = {t: [dict(e, tenant=t) for e in demo] for t in ("acme", "globex")}
    mixed = engine.scan([e for pair in zip(*logs.values()) for e in pair], rs, max_disorder=max_disorder)
    assert mixed.stats.duplicates == mixed.stats.rejected == 0
    by_tenant = {t: [f for f in mixed.findings if f.tenant == t] for t in logs}
    assert len(by_tenant["acme"]) == len(by_tenant["globex"]) == len(mixed.findings) / 2 > 10
    assert {f.id for f in by_tenant["acme"]}.isdisjoint({f.id for f in by_tenant["globex"]})
    for t, log in logs.items():
        alone = engine.scan(log, rs, mixed.as_of)
        assert [f.model_dump() for f in by_tenant[t]] == [f.model_dump() for f in alone.findings]
    plain = engine.scan(demo, rs, mixed.as_of)  # the default tenant: the same findings, other ids (ties in another order)
    assert sorted(f.message for f in plain.findings) == sorted(f.message for f in by_tenant["acme"])
    assert {f.id for f in plain.findings}.isdisjoint({f.id for f in mixed.findings})


@pytest.mark.parametrize("copies", [1, 20])  # a few records take the models, a block the fast path
def test_ids_are_unique_within_a_tenant_only(engine, rules, copies):
    ev = EventFactory(BASE)
    records = []
    for k in range(copies):
        base = ev("followup.logged", id=f"f{k}", customer_id="C1", channel="phone")
        records += [
            dict(base, tenant="acme"),
            dict(base, tenant="globex"),  # another company's f<k>: an event
            dict(base, tenant="acme"),  # acme's again, same content: a duplicate
            dict(base, tenant="globex", summary="other"),  # globex's again, other content: rejected
            dict(base),  # the default tenant's f<k>: an event
        ]
    res = engine.scan(records, rules)
    assert (res.stats.valid, res.stats.duplicates, res.stats.rejected) == (3 * copies, copies, copies)
    assert {(r.line, r.id, r.field) for r in res.rejected} == {(5 * k + 4, f"f{k}", "id") for k in range(copies)}


@pytest.mark.parametrize("copies", [1, 20])
def test_null_and_empty_tenant_are_the_same_default_tenant(engine, rules, copies):
    ev = EventFactory(BASE)
    records = []
    for k in range(copies):
        base = ev("order.recorded", id=f"o{k}", order_id=f"O{k}", customer_id="C1", amount=5000)
        records += [dict(base, tenant=""), dict(base, tenant=None), dict(base),  # one event, delivered 3 times
                    dict(base, tenant="", amount=6000)]  # the same id, other content: rejected
    res = engine.scan(records, rules)
    assert (res.stats.valid, res.stats.duplicates, res.stats.rejected) == (copies, 2 * copies, copies)
    plain = engine.scan([ev.made[k] for k in range(copies)], rules)
    assert [f.model_dump() for f in res.findings] == [f.model_dump() for f in plain.findings]
    assert all(f.tenant is None for f in res.findings) and len(res.findings) == copies
    assert hrguard.Event.model_validate({"id": "x", "kind": "k", "ts": BASE.isoformat(), "tenant": ""}).tenant is None


def test_keys_of_different_tenants_and_ids_never_meet(engine, rules):
    """Whatever a tenant or an id holds, two different (tenant, id) pairs have different keys: a default
    id that looks like another tenant's key is its own event."""
    pairs = [("c", "ab"), ("\x002:abc", None), ("\x00\x002:abc", None), ("bc", "a"), ("2:abc", "\x00"), ("c", "ab\x00")]
    assert len({tenant_key(i, t) for i, t in pairs}) == len(pairs)
    assert tenant_key("e1", None) == tenant_key("e1", "") == "e1"
    for n in (1, 20):
        ev = EventFactory(BASE)
        recs = [dict(ev("followup.logged", id=f"{i}{k}" if k else i, customer_id="C1"), **({"tenant": t} if t else {}))
                for k in range(n) for i, t in pairs]
        assert engine.scan(recs, rules).stats.valid == len(recs)
