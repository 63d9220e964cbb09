"""The per-event detector API (issue 13): typed events in order, plain state, timers, report's defaults,
the same guarantees as any detector (the conformance kit)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from pydantic import Field

import hrguard
from hrguard import Duration, DetectorParams, EventDetector, Severity
from hrguard.testing import EventFactory, check_detector

ORDER, INVOICE = "order.recorded", "invoice.issued"
ITEMS = [{"customer_id": "C1", "site_id": None, "start": time(9), "end": time(10), "purpose": None}]


class UninvoicedParams(DetectorParams):
    within: Duration = Field("2d", validate_default=True, description="an order must be invoiced within this long")


class Uninvoiced(EventDetector):
    """The conformance kit's own example (tests/test_conformance_broken.py), with a timer per order."""

    id = "demo.uninvoiced_events"
    title = "An order not invoiced in time"
    Params = UninvoicedParams
    default_severity = Severity.low
    kinds = frozenset({ORDER, INVOICE})
    messages = {"en": "Order {order_id} ({amount}) was not invoiced by {due}",
                "zh": "订单 {order_id}（金额 {amount}）在 {due} 前未开票"}

    def __init__(self, params, ctx):
        super().__init__(params, ctx)
        self.open = {}  # order id -> (amount, employee, the order as evidence, recorded at)

    def on_event(self, ev):
        if ev.kind == ORDER:
            self.open[ev.order_id] = (ev.amount, ev.employee_id, ev.ref, ev.ts)
            self.at(ev.ts_us + self.params.within, ev.order_id)
        elif self.open.pop(ev.order_id, None) is not None:
            self.cancel(ev.order_id)

    def on_timer(self, order_id, when):
        amount, employee, ref, _ = self.open.pop(order_id)
        self.report(when=when, subject=order_id, evidence=[ref], employee_id=employee, order_id=order_id,
                    amount=amount, due=when)


def orders() -> list[dict]:
    ev = EventFactory("2026-04-01T09:00:00+00:00")
    return [
        ev(ORDER, order_id="O1", customer_id="C1", amount=100),
        ev(ORDER, order_id="O2", customer_id="C1", amount=200, employee_id="E2"),
        ev.advance(hours=1)(ORDER, order_id="O3", customer_id="C2", amount=300),
        ev.advance(hours=5)(INVOICE, invoice_id="I2", order_id="O2"),
        ev.advance(days=3)(INVOICE, invoice_id="I3", order_id="O3"),  # too late
        ev(ORDER, order_id="O4", customer_id="C2", amount=50),
        ev.at("2026-04-06T15:00:00+00:00")(INVOICE, invoice_id="I4", order_id="O4"),  # exactly at its due time: in time
    ]


def test_a_per_event_detector_with_timers_passes_the_conformance_kit():
    assert len(check_detector(Uninvoiced, orders(), as_of="2026-04-09T00:00:00+00:00")) >= 18


def test_timers_fire_in_order_and_an_event_at_the_due_time_comes_first():
    rs = hrguard.load_ruleset({"rules": [{"use": "demo.uninvoiced_events"}]}, engine=_engine())
    found = hrguard.scan(orders(), rs, as_of="2026-04-09T00:00:00+00:00", engine=rs.engine).findings
    assert [(f.details["order_id"], f.ts.isoformat(), f.evidence) for f in found] == [
        ("O1", "2026-04-03T09:00:00+00:00", ["e1"]),
        ("O3", "2026-04-03T10:00:00+00:00", ["e3"]),
    ]
    assert found[0].message == "Order O1 (100) was not invoiced by 2026-04-03T09:00:00+00:00"
    assert found[0].details["due"] == "2026-04-03T09:00:00+00:00"  # a datetime in details is ISO text
    # batch = stream, and the ids are the same
    s = hrguard.Stream(rs)
    s.push_many(orders())
    s.advance_to("2026-04-09T00:00:00+00:00")
    assert [f.id for f in s.findings] == [f.id for f in found]


def _engine():
    class Plugin:
        @hrguard.hookimpl
        def hrguard_register_detectors(self, register):
            register(Uninvoiced)

    return hrguard.Engine([Plugin()], entrypoints=False)


def test_an_event_view_decodes_typed_values_in_the_rulesets_zone():
    eng = _engine()
    plan = {"id": "p1", "kind": "plan.submitted", "ts": "2026-04-01T23:30:00+00:00", "employee_id": "E1",
            "date": "2026-04-02", "items": [{"customer_id": "C1", "start": "09:00", "end": "10:00"}],
            "attrs": {"src": "x"}}
    seen = []

    class Capture(EventDetector):
        id = "demo.capture"
        title = "what a rule sees"
        messages = {"en": "x", "zh": "x"}

        def on_event(self, ev):
            seen.append((ev.id, ev.kind, ev.ts, ev.date, ev.employee_id, ev.items, ev.get("nope", 7), ev.attrs,
                         ev.ref))
            with pytest.raises(AttributeError, match="has no field 'nope'"):
                ev.nope

    rs = hrguard.load_ruleset({"timezone": "Asia/Shanghai", "rules": []}, engine=eng)
    import dataclasses

    from hrguard.rules import Rule

    rule = Rule("capture", Capture, Capture.Params(), Severity.low)
    rs = dataclasses.replace(rs, rules=(rule,))
    eng.scan([plan], rs)
    (ev_id, kind, ts, day, emp, items, missing, attrs, ref), = seen
    assert (ev_id, kind, emp, missing, attrs) == ("p1", "plan.submitted", "E1", 7, {"src": "x"})
    assert ts == datetime.fromisoformat("2026-04-02T07:30:00+08:00") and str(ts.tzinfo) == "Asia/Shanghai"
    assert day == date(2026, 4, 2)  # the local date, not UTC's 1 April
    assert items == ITEMS  # times of day as times
    assert ref == (int(ts.timestamp() * 1_000_000), "p1")


def test_state_with_dates_and_datetimes_survives_a_checkpoint():
    from hrguard.sdk.state import dumps_state, loads_state

    class Keeps(EventDetector):
        id = "demo.keeps"
        title = "keeps"
        messages = {"en": "x", "zh": "x"}

        def __init__(self, params, ctx):
            super().__init__(params, ctx)
            self.seen = {("E1", date(2026, 4, 2)): [datetime.fromisoformat("2026-04-02T07:30:00+08:00")]}

        def on_event(self, ev):
            pass

    from hrguard.events import LocalClock
    from hrguard.sdk import RuleContext
    from hrguard.columns import Interner

    ctx = RuleContext("k", Severity.low, "en", LocalClock("Asia/Shanghai"), Interner())
    a = Keeps(Keeps.Params(), ctx)
    a.at(datetime.fromisoformat("2026-04-03T00:00:00+08:00"), ("E1", "x"))
    b = Keeps(Keeps.Params(), ctx)
    b.load_state_dict(loads_state(dumps_state(a.state_dict())))
    assert b.seen == a.seen and b.next_due() == a.next_due() and b._timers == {("E1", "x"): a.next_due()}


def test_report_needs_an_event_or_a_time_and_a_subject():
    class Bad(EventDetector):
        id = "demo.bad"
        title = "bad"
        messages = {"en": "x", "zh": "x"}

        def on_event(self, ev):
            self.report(when=ev.ts)  # no subject

    from hrguard.events import LocalClock
    from hrguard.sdk import RuleContext
    from hrguard.columns import Interner

    ctx = RuleContext("b", Severity.low, "en", LocalClock("UTC"), Interner())
    with pytest.raises(hrguard.errors.InvalidArgumentError, match="subject"):
        Bad(Bad.Params(), ctx).report(when=0)
    with pytest.raises(hrguard.errors.InvalidArgumentError, match="when"):
        Bad(Bad.Params(), ctx).report()
