"""The conformance kit catches broken detectors: one deliberately broken detector per property.

``Uninvoiced`` is a small, correct detector (an order not invoiced within a time limit: a timer, state
carried across chunks, as-of lookups). Each ``Broken*`` class below breaks it in one way a plugin
author plausibly would, and the test asserts that the matching check fails, saying why.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import numpy as np
import pytest
from pydantic import Field

from hrguard import Detector, DetectorParams, Duration, Severity
from hrguard.testing import CHECKS, ConformanceError, EventFactory, check_detector

ORDER, INVOICE = "order.recorded", "invoice.issued"


class UninvoicedParams(DetectorParams):
    within: Duration = Field("2d", validate_default=True, description="an order must be invoiced within this long")
    min_amount: float = Field(0, ge=0, description="orders below this amount are not judged")


class Uninvoiced(Detector):
    id = "demo.uninvoiced"
    title = "An order not invoiced in time"
    Params = UninvoicedParams
    default_severity = Severity.low
    kinds = frozenset({ORDER, INVOICE})
    messages = {"en": {"default": "Order {order_id} ({amount}) was not invoiced within {hours} hours"},
                "zh": {"default": "订单 {order_id}（金额 {amount}）在 {hours} 小时内未开票"}}

    def __init__(self, params: UninvoicedParams, ctx: Any):
        super().__init__(params, ctx)
        self.invoiced: set[int] = set()  # order codes with an invoice so far
        self.timers: list[tuple[int, str, int, str | None, float]] = []  # (due, order event id, order, employee, amount)

    def process(self, chunk) -> None:
        f = chunk.frame
        rows = chunk.rows(ORDER)
        amounts = chunk.col(ORDER, "amount")
        codes = chunk.col(ORDER, "order_id")
        events = [(int(f.ts[r]), 0, r, int(c), float(a)) for r, c, a in zip(rows.tolist(), codes.tolist(), amounts.tolist())]
        inv_rows = chunk.rows(INVOICE)
        events += [(int(f.ts[r]), 1, r, int(c), 0.0) for r, c in zip(inv_rows.tolist(), chunk.col(INVOICE, "order_id").tolist())]
        for ts, is_invoice, row, code, amount in sorted(events, key=lambda e: e[2]):  # in event order
            self._fire(ts - 1)  # everything due strictly before this event
            if is_invoice:
                self.invoiced.add(code)
            elif amount >= self.params.min_amount:
                emp = self.ctx.strings.text(int(f.employee[row]))
                heapq.heappush(self.timers, (ts + self.params.within, f.ids[row], code, emp, amount, ts))
        self._fire(chunk.upto)

    def _fire(self, upto: int) -> None:
        while self.timers and self.timers[0][0] <= upto:
            due, ev_id, code, emp, amount, ts = heapq.heappop(self.timers)
            if code in self.invoiced:
                continue
            self.fire(due, ev_id, code, emp, amount, ts)

    def fire(self, due: int, ev_id: str, code: int, emp: str | None, amount: float, ts: int) -> None:
        details = {"order_id": self.ctx.strings.text(code), "amount": amount, "hours": self.params.within // 3_600_000_000}
        self.emit(ts=due, subject=(ev_id,), employee_id=emp, customer_id=None, evidence=[(ts, ev_id)], details=details)


def orders() -> list[dict]:
    ev = EventFactory("2026-04-01T09:00:00+00:00")
    return [
        ev(ORDER, order_id="O1", customer_id="C1", amount=100),
        ev(ORDER, order_id="O2", customer_id="C1", amount=200, employee_id="E2"),
        ev.advance(hours=1)(ORDER, order_id="O3", customer_id="C2", amount=300),
        ev.advance(hours=5)(INVOICE, invoice_id="I2", order_id="O2"),
        ev.advance(days=3)(INVOICE, invoice_id="I3", order_id="O3"),  # too late
        ev(ORDER, order_id="O4", customer_id="C2", amount=50),
    ]


AS_OF = "2026-04-09T00:00:00+00:00"


def run(detector: type[Detector], events: list[dict] | None = None, **kw: Any) -> dict[str, str]:
    """The failed checks (name -> why) of ``detector`` on the orders above."""
    try:
        check_detector(detector, orders() if events is None else events, as_of=AS_OF, **kw)
    except ConformanceError as exc:
        assert exc.detector_id == detector.id
        return exc.failures
    return {}


def test_the_correct_detector_passes_every_check():
    assert run(Uninvoiced) == {}


# -- one broken detector per property ---------------------------------------------------------------
class NoTitle(Uninvoiced):
    id = "demo.no_title"
    title = ""


class UndocumentedParams(Uninvoiced):
    id = "demo.undocumented"

    class Params(UninvoicedParams):
        within: Duration = Field("2d", validate_default=True)  # no description
        min_amount: float = Field(0, ge=0, description="orders below this amount are not judged")


class AnyParams(Uninvoiced):
    id = "demo.any_params"

    class Params(UninvoicedParams):
        min_amount: Any = Field(0, description="orders below this amount are not judged")  # never validated


class NeverFires(Uninvoiced):
    id = "demo.never"

    def fire(self, *args: Any) -> None:
        pass


class RaisesOnSmallChunks(Uninvoiced):
    id = "demo.raises"

    def process(self, chunk) -> None:
        if len(chunk) == 1:
            raise IndexError("assumed two events")
        super().process(chunk)


class Counter(Uninvoiced):
    """Nondeterministic: a counter shared by every instance ends up in the findings."""

    id = "demo.counter"
    seen = itertools.count()

    def fire(self, due, ev_id, code, emp, amount, ts):
        self.emit(ts=due, subject=(ev_id,), employee_id=emp, customer_id=None, evidence=[(ts, ev_id)],
                  details={"n": next(Counter.seen)})


class LeaksCodes(Uninvoiced):
    """Input-order dependent: an interned string code (which depends on arrival order) leaks into details."""

    id = "demo.codes"

    def fire(self, due, ev_id, code, emp, amount, ts):
        self.emit(ts=due, subject=(ev_id,), employee_id=emp, customer_id=None, evidence=[(ts, ev_id)],
                  details={"order_code": code})


class ForgetsAcrossChunks(Uninvoiced):
    """Chunking dependent: invoices seen in earlier chunks are forgotten."""

    id = "demo.forgets"

    def process(self, chunk) -> None:
        self.invoiced = set()
        super().process(chunk)


class CountsTheWholeInstant(Uninvoiced):
    """Numbers each order among the orders so far by time (``searchsorted(ts, ts, side="right")``), not by
    position: an order at the same instant with a later id is counted too, so the finding depends on an
    event after the one it judges."""

    id = "demo.whole_instant"

    def __init__(self, params: UninvoicedParams, ctx: Any):
        super().__init__(params, ctx)
        self.orders = 0  # orders seen so far
        self.nth: dict[str, int] = {}  # order event id -> its number among the orders

    def process(self, chunk) -> None:
        f = chunk.frame
        rows = chunk.rows(ORDER)
        ts = f.ts[rows]
        for r, n in zip(rows.tolist(), np.searchsorted(ts, ts, side="right").tolist()):
            self.nth[str(f.ids[r])] = self.orders + n
        self.orders += len(rows)
        super().process(chunk)

    def fire(self, due, ev_id, code, emp, amount, ts):
        self.emit(ts=due, subject=(ev_id,), employee_id=emp, customer_id=None, evidence=[(ts, ev_id)],
                  details={"order_id": self.ctx.strings.text(code), "amount": amount, "hours": 48,
                           "nth": self.nth[ev_id]})


class StateOutsideTheStore(Uninvoiced):
    """Not checkpointable: the invoices seen are kept where ``state_dict`` does not look (``not_state``)."""

    id = "demo.unsaved"
    not_state = frozenset({"invoiced"})


class SkipsEmptyChunks(Uninvoiced):
    """Batch != stream: a chunk without events is where a stream's clock passes a deadline."""

    id = "demo.skips_empty"

    def process(self, chunk) -> None:
        if len(chunk):
            super().process(chunk)


class MadeUpEvidence(Uninvoiced):
    id = "demo.made_up"

    def fire(self, due, ev_id, code, emp, amount, ts):
        self.emit(ts=due, subject=(ev_id,), employee_id=emp, customer_id=None,
                  evidence=[(ts, ev_id), (ts, f"{ev_id}-approval")], details={})


class Backdated(Uninvoiced):
    """A finding dated when the order was recorded, before the invoice deadline passed: earlier than its evidence."""

    id = "demo.backdated"

    def fire(self, due, ev_id, code, emp, amount, ts):
        self.emit(ts=ts - 3_600_000_000, subject=(ev_id,), employee_id=emp, customer_id=None,
                  evidence=[(ts, ev_id)], details={"order_id": self.ctx.strings.text(code), "amount": amount, "hours": 1})


class SameSubject(Uninvoiced):
    """Every finding of one employee at one instant gets one id (the subject key forgot the order)."""

    id = "demo.same_subject"

    def fire(self, due, ev_id, code, emp, amount, ts):
        self.emit(ts=0, subject=(emp,), employee_id=emp, customer_id=None, evidence=[(ts, ev_id)],
                  details={"order_id": self.ctx.strings.text(code), "amount": amount, "hours": 48})

    def emit(self, **kw):  # the same instant for all of them
        kw["ts"] = 1_900_000_000_000_000
        super().emit(**kw)


class PeeksAhead(Uninvoiced):
    """Looks at events after the judged one (the batch frame holds them): an invoice that came too
    late still clears the order, so the finding vanishes when later events arrive."""

    id = "demo.peeks"

    def process(self, chunk) -> None:
        f = chunk.frame
        table = f.tables.get(f.strings.find(INVOICE))
        if table is not None:
            self.invoiced |= set(table.cols["order_id"].tolist())
        super().process(chunk)


class SortsApprovers(Uninvoiced):
    """Mutates its input: sorts, in place, a list an order carries in ``attrs``.

    hrguard deep-copies ``attrs`` when it validates an event, so this can only reach the caller's
    list if that copy is lost; the test below removes it to prove the check would notice.
    """

    id = "demo.sorts_in_place"

    def process(self, chunk) -> None:
        for attrs in chunk.col(ORDER, "attrs").tolist():
            if attrs and isinstance(attrs.get("approvers"), list):
                attrs["approvers"].sort()
        super().process(chunk)


class CrashesOnEmpty(Uninvoiced):
    id = "demo.crashes_on_empty"

    def process(self, chunk) -> None:
        _ = chunk.ts.max()  # ValueError on an empty chunk
        super().process(chunk)


class ForgetsTooSoon(Uninvoiced):
    """Forgets the invoices older than the watermark: an order invoiced long ago looks uninvoiced when
    its timer fires (only the expire check forgets early enough to see it)."""

    id = "demo.forgets_too_soon"

    def expire(self, watermark: int) -> None:
        self.invoiced.clear()


class EnglishOnly(Uninvoiced):
    id = "demo.english_only"
    messages = {"en": Uninvoiced.messages["en"]}


BROKEN = [
    ("check_class_attributes", NoTitle, {}, "title is empty"),
    ("check_params_documented", UndocumentedParams, {}, "parameters without a description: ['within']"),
    ("check_bad_params_rejected", AnyParams, {}, "parameter 'min_amount' accepted every clearly wrong value"),
    ("check_case_fires", NeverFires, {}, "make no finding"),
    ("check_no_errors", RaisesOnSmallChunks, {}, "IndexError: assumed two events"),
    ("check_deterministic", Counter, {}, "fresh engine"),
    ("check_input_order", LeaksCodes, {}, "order_code"),
    ("check_chunking", ForgetsAcrossChunks, {}, "chunk_size=1"),
    ("check_same_instant", CountsTheWholeInstant, {}, "every instant cut between its events"),
    ("check_checkpoint", StateOutsideTheStore, {}, "the state saved and restored after every chunk"),
    ("check_expire", ForgetsTooSoon, {}, "expire() after every chunk"),
    ("check_batch_vs_stream", SkipsEmptyChunks, {}, "stream with a clock, after advance_to("),
    ("check_evidence_exists", MadeUpEvidence, {}, "not in the input: ['e1-approval']"),
    ("check_findings_well_formed", Backdated, {}, "is earlier than its evidence"),
    ("check_stable_ids", SameSubject, {}, "finding ids are not unique"),
    ("check_past_is_final", PeeksAhead, {}, "scan as of"),
    ("check_input_not_mutated", SortsApprovers, {}, "a batch scan changed the input events ['e1']"),
    ("check_empty_input", CrashesOnEmpty, {}, "an empty chunk made the detector raise ValueError"),
    ("check_messages", EnglishOnly, {}, "must have 'en' and 'zh'"),
]


def test_one_broken_detector_per_check():
    assert sorted(b[0] for b in BROKEN) == sorted(c.__name__ for c in CHECKS)


@pytest.mark.parametrize("check, detector, kw, why", BROKEN, ids=[b[0].removeprefix("check_") for b in BROKEN])
def test_the_kit_catches_a_broken_detector(check, detector, kw, why, monkeypatch):
    if check == "check_input_not_mutated":  # simulate an ingestion that shares the caller's objects
        import types

        import hrguard.events._models
        import hrguard.ingest._fastpath

        for module in (hrguard.events._models, hrguard.ingest._fastpath):  # the model path's copies and the fast path's
            monkeypatch.setattr(module, "copy", types.SimpleNamespace(deepcopy=lambda v: v))
    events = orders()
    events[0]["approvers"] = ["legal", "finance"]  # kept in attrs
    failures = run(detector, events, **kw)
    assert check in failures, f"{check} passed for {detector.__name__}; failed: {failures}"
    assert why in failures[check], failures[check]


def test_the_error_lists_every_failed_check_by_name():
    with pytest.raises(ConformanceError) as info:
        check_detector(EnglishOnly, orders(), as_of=AS_OF)
    text = str(info.value)
    assert text.startswith("demo.english_only failed 1 of 19 conformance checks:")
    assert "- check_messages: demo.english_only: messages must have 'en' and 'zh' templates" in text


def test_the_kit_makes_ties_itself():
    """With no two events at one instant in the case, the kit's own ties still catch a detector that reads
    a later event of the instant (here the orders e1 and e3 end up at one instant)."""
    events = orders()
    events[1]["ts"] = "2026-04-01T09:30:00+00:00"  # e1, e2 no longer tie: no instant of the case has two events
    assert len({e["ts"] for e in events}) == len(events) - 1  # e5, e6 (invoice I3, order O4) still do
    del events[4]
    assert len({e["ts"] for e in events}) == len(events)
    assert run(Uninvoiced, events) == {}
    failures = run(CountsTheWholeInstant, events)
    assert list(failures) == ["check_same_instant"]
    assert "instants moved onto the instant before" in failures["check_same_instant"]


def test_a_case_of_invalid_events_says_so():
    failures = run(Uninvoiced, [{"id": "x", "kind": ORDER, "ts": "2026-04-01T09:00:00"}])
    assert "the case's events are not valid input" in failures["check_case_fires"]


def test_a_detector_the_engine_registers_differently_is_refused():
    class Impostor(Uninvoiced):
        id = "geofence.mismatch"

    failures = run(Impostor)
    assert "not Impostor" in failures["check_class_attributes"] or "Impostor" in str(failures)
