"""Correlation rules (issue 13): the four types, groups, the window, batch = stream, located load errors."""

from __future__ import annotations

import pytest

import hrguard
from hrguard.demo import load_events
from hrguard.testing import EventFactory, run_all_ways


def corr(**params) -> dict:
    return {"use": "correlation", "name": "c", "params": params}


def punches(times: list[str], employee: str = "E1", **fields) -> list[dict]:
    return [{"id": f"{employee}-{i}", "kind": "attendance.punched", "ts": t, "employee_id": employee,
             "direction": "in", **fields} for i, t in enumerate(times)]


def fired(events, *rules, as_of=None) -> list:
    rs = hrguard.load_ruleset({"timezone": "Asia/Shanghai", "rules": list(rules)})
    return [f for f in hrguard.scan(events, rs, as_of).findings if f.rule == "correlation"]


def test_event_count_fires_at_the_threshold_then_starts_afresh():
    ev = punches([f"2026-04-01T{h:02d}:00:00+08:00" for h in (8, 9, 10, 11, 12, 13, 20)])
    got = fired(ev, corr(type="event_count", rules=["attendance.punched"], timespan="2h", gte=3))
    assert [(f.ts.hour, f.evidence) for f in got] == [(10, ["E1-0", "E1-1", "E1-2"]), (13, ["E1-3", "E1-4", "E1-5"])]
    assert got[0].details["count"] == 3 and got[0].details["group"] == {"employee_id": "E1"}


def test_the_window_includes_an_input_exactly_timespan_old():
    ev = punches(["2026-04-01T08:00:00+08:00", "2026-04-01T09:00:00+08:00", "2026-04-01T10:00:00+08:00"])
    assert len(fired(ev, corr(type="event_count", rules=["attendance.punched"], timespan="2h", gte=3))) == 1
    assert fired(ev, corr(type="event_count", rules=["attendance.punched"], timespan="119m", gte=3)) == []


def test_value_count_counts_distinct_values_per_group():
    ev = EventFactory("2026-04-01T09:00:00+08:00")
    events = [ev("followup.logged", customer_id=c, channel="phone", employee_id=e)
              for e, c in [("E1", "C1"), ("E2", "C2"), ("E1", "C1"), ("E1", "C2"), ("E2", "C3"), ("E1", "C3")]]
    got = fired(events, corr(type="value_count", rules=["followup.logged"], field="customer_id", gte=3, timespan="1d"))
    assert [(f.employee_id, f.details["values"]) for f in got] == [("E1", ["C1", "C2", "C3"])]


def test_temporal_needs_every_item_and_ordered_needs_the_order():
    ev = EventFactory("2026-04-01T09:00:00+08:00")
    events = [ev("order.recorded", order_id="O1", customer_id="C1", amount=1),
              ev.advance(hours=1)("attendance.punched", direction="in")]
    any_order = corr(type="temporal", rules=["attendance.punched", "order.recorded"], timespan="1d")
    ordered = dict(corr(type="temporal_ordered", rules=["attendance.punched", "order.recorded"], timespan="1d"),
                   name="o")
    got = fired(events, any_order, ordered)
    assert [f.name for f in got] == ["c"]  # the punch came after the order
    got = fired(events, dict(ordered, params=dict(ordered["params"], rules=["order.recorded", "attendance.punched"])))
    assert [f.name for f in got] == ["o"]


def test_a_correlation_over_findings_groups_by_customer_and_cites_their_events_once():
    rs = hrguard.load_ruleset({"extends": "sales", "rules": [
        {"use": "correlation", "name": "hot-customer", "severity": "critical",
         "params": {"type": "event_count", "rules": ["geofence.mismatch", "summary.unsupported_claim"],
                    "group_by": ["customer_id"], "timespan": "30d", "gte": 4}}]})
    result = hrguard.scan(load_events(), rs)
    got = [f for f in result.findings if f.name == "hot-customer"]
    assert got and all(f.customer_id and f.employee_id is None for f in got)
    for f in got:
        assert len(f.evidence) == len(set(f.evidence))
        inputs = {x.id: x for x in result.findings if x.id in f.details["matched"]}
        assert len(inputs) == 4 and {x.customer_id for x in inputs.values()} == {f.customer_id}
        assert set(f.evidence) == {e for x in inputs.values() for e in x.evidence}


def test_sales_correlations_give_the_same_findings_every_way():
    """Batch, any chunking, a stream, a checkpoint at every push: the conformance guarantees, with the rules
    whose findings the correlations read."""
    run_all_ways(load_events(), hrguard.load_ruleset("sales"), chunk_sizes=(1, 7, 65_536))


@pytest.mark.parametrize("rules, message, line", [
    ("[nope]", "neither a rule of this ruleset nor an event kind", 5),
    ("[c]", "cannot take its own findings", 5),
    ("[attendance.punched, [later, order.recorded]]", "comes after this one", 5),
])
def test_bad_inputs_are_located_ruleset_errors(tmp_path, rules, message, line):
    path = tmp_path / "r.yaml"
    path.write_text(f"""rules:
  - use: correlation
    name: c
    params:
      rules: {rules}
      type: {"temporal" if "[" in rules[1:] else "event_count"}
      timespan: 1d
      {"" if "[" in rules[1:] else "gte: 2"}
  - use: correlation
    name: later
    params: {{type: event_count, rules: [attendance.punched], timespan: 1d, gte: 2}}
""")
    with pytest.raises(hrguard.RulesetError) as info:
        hrguard.load_ruleset(path)
    (p,) = info.value.problems
    assert message in p.message and p.line == line and p.column is not None, p


# -- determinism, by hypothesis -----------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_RS = None


def _ruleset():
    global _RS
    if _RS is None:
        _RS = hrguard.load_ruleset({"timezone": "Asia/Shanghai", "rules": [
            {"use": "geofence.mismatch"}, {"use": "customer.ownership_conflict"},
            {"use": "correlation", "name": "three-far", "params": {"type": "event_count", "rules": ["geofence.mismatch"],
                                                                    "timespan": "3d", "gte": 3}},
            {"use": "correlation", "name": "pattern", "params": {"type": "temporal", "timespan": "10d",
                                                                 "rules": ["customer.ownership_conflict", "three-far"]}},
            {"use": "correlation", "name": "by-customer", "params": {"type": "value_count", "rules": ["geofence.mismatch"],
                                                                     "group_by": ["customer_id"], "field": "employee_id",
                                                                     "timespan": "5d", "gte": 2}},
        ]})
    return _RS


@settings(max_examples=25, deadline=None)
@given(acts=st.lists(st.tuples(st.sampled_from(["E1", "E2", "E3"]), st.integers(0, 12), st.integers(0, 3),
                               st.sampled_from(["far", "near", "claim"])), min_size=1, max_size=25),
       seed=st.integers(0, 2**16), batch=st.integers(1, 6))
def test_correlations_are_the_same_whatever_the_order_batching_or_streaming(acts, seed, batch):
    import random

    events = [{"id": f"c{c}", "kind": "customer.registered", "ts": "2026-03-31T08:00:00+08:00", "employee_id": "E9",
               "customer_id": f"C{c}", "name": f"C{c}", "owner_id": "E9", "lat": 31.23, "lon": 121.47} for c in range(2)]
    for i, (emp, day, hour, what) in enumerate(acts):
        ts = f"2026-04-{1 + day:02d}T{9 + hour:02d}:00:00+08:00"  # several acts may share an instant
        if what == "claim":
            events.append({"id": f"a{i}", "kind": "approval.requested", "ts": ts, "employee_id": emp,
                           "request_id": f"R{i}", "customer_id": f"C{i % 2}", "amount": 10})
        else:
            events.append({"id": f"p{i}", "kind": "attendance.punched", "ts": ts, "employee_id": emp, "direction": "in",
                           "customer_id": f"C{i % 2}", "lat": 31.23 if what == "near" else 31.33, "lon": 121.47})
    rs = _ruleset()
    as_of = "2026-04-20T00:00:00+08:00"
    want = [f.id for f in hrguard.scan(events, rs, as_of).findings]
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert [f.id for f in hrguard.scan(shuffled, rs, as_of, chunk_size=batch).findings] == want
    s = hrguard.Stream(rs, "30d", batch=batch)  # any arrival order within the lateness
    s.push_many(shuffled)
    s.advance_to("2026-05-20T00:00:00+08:00")
    assert sorted(f.id for f in s.findings) == sorted(want)
