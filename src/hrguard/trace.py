"""Customer trace: every operation any employee did on one customer, in order, with findings marked.

The article's "when a customer leaves, trace every operation on it". An event names the customer
when its ``customer_id`` is the customer, a plan item or a summary claim names it, or it acts on a
request or order that does (``approval.decided`` on its request, ``invoice.issued`` on its order).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .engine import Engine, ScanResult, default_engine
from .events import Event
from .findings import Finding
from .ingest import Intake, iter_records


@dataclass
class TraceEntry:
    """One event on the customer's timeline, who did it, how it names the customer, its findings."""

    ts: Any
    event_id: str
    kind: str
    employee_id: str | None
    how: str
    text: str
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ts": self.ts.isoformat(), "event_id": self.event_id, "kind": self.kind, "employee_id": self.employee_id,
                "how": self.how, "text": self.text,
                "findings": [{"id": f.id, "name": f.name, "severity": f.severity.value, "message": f.message}
                             for f in self.findings]}


@dataclass
class Trace:
    customer_id: str
    entries: list[TraceEntry]
    findings: list[Finding]
    result: ScanResult | None

    @property
    def employees(self) -> list[str]:
        return sorted({e.employee_id for e in self.entries if e.employee_id})


def _describe(e: Event) -> str:
    d = e.model_dump(exclude={"id", "kind", "ts", "employee_id", "tenant", "attrs"}, exclude_none=True)
    parts = []
    for k, v in d.items():
        if isinstance(v, list):
            v = f"{len(v)} item(s)"
        parts.append(f"{k}={v}")
    return ", ".join(parts)


def trace_customer(events: Any, customer_id: str, ruleset: Any = "sales", as_of: Any = None, *,
                   engine: Engine | None = None) -> Trace:
    """The customer's full timeline (every event naming it, by whom, in ``(ts, id)`` order).

    When ``ruleset`` is not ``None`` the events are also scanned; every finding about the customer
    (or about no customer but citing one of the timeline's events) is listed and attached to the
    entries it cites.
    """
    engine = engine or default_engine()
    intake = Intake(engine.kinds)
    events = list(intake.take_all(iter_records(events)))
    events.sort(key=lambda e: (e.ts, e.id))
    requests: set[str] = set()
    orders: set[str] = set()
    picked: list[tuple[Event, str]] = []
    for e in events:
        how = None
        if getattr(e, "customer_id", None) == customer_id:
            how = "customer_id"
        elif e.kind == "plan.submitted" and any(it.customer_id == customer_id for it in e.items):  # type: ignore[attr-defined]
            how = "plan item"
        elif e.kind == "summary.submitted" and any(c.customer_id == customer_id for c in e.claims):  # type: ignore[attr-defined]
            how = "summary claim"
        elif e.kind == "approval.decided" and e.request_id in requests:  # type: ignore[attr-defined]
            how = f"decision on request {e.request_id}"  # type: ignore[attr-defined]
        elif e.kind == "invoice.issued" and e.order_id in orders:  # type: ignore[attr-defined]
            how = f"invoice for order {e.order_id}"  # type: ignore[attr-defined]
        if how is None:
            continue
        if e.kind == "approval.requested":
            requests.add(e.request_id)  # type: ignore[attr-defined]
        if e.kind == "order.recorded":
            orders.add(e.order_id)  # type: ignore[attr-defined]
        picked.append((e, how))
    result = None
    touching: list[Finding] = []
    by_event: dict[str, list[Finding]] = defaultdict(list)
    if ruleset is not None:
        result = engine.scan(events, ruleset, as_of)
        ids = {e.id for e, _ in picked}
        for f in result.findings:
            cited = [x for x in f.evidence if x in ids]
            # a finding about another customer may cite a plan naming both: it is not this one's
            if f.customer_id == customer_id or (f.customer_id is None and cited):
                touching.append(f)
                for x in cited:
                    by_event[x].append(f)
    entries = [TraceEntry(e.ts, e.id, e.kind, e.employee_id, how, _describe(e), by_event.get(e.id, []))
               for e, how in picked]
    return Trace(customer_id, entries, touching, result)


def render_trace(t: Trace, width: int = 160) -> str:
    if not t.entries:
        return f"No events name customer {t.customer_id}.\n"
    lines = [f"Customer {t.customer_id}: {len(t.entries)} events by {', '.join(t.employees) or 'nobody'}; "
             f"{len(t.findings)} finding(s) touch it.", ""]
    rows: list[tuple[Any, int, str]] = []
    for e in t.entries:
        mark = "*" if e.findings else " "
        rows.append((e.ts, 0, f"{mark} {e.ts.strftime('%Y-%m-%d %H:%M')}  {e.employee_id or '-':<8} "
                              f"{e.kind:<24} {e.event_id:<8} {e.text}"))
    for f in t.findings:
        rows.append((f.ts, 1, f"! {f.ts.strftime('%Y-%m-%d %H:%M')}  {f.employee_id or '-':<8} "
                              f"{'FINDING ' + f.severity.value:<24} {f.name}: {f.message} [evidence {', '.join(f.evidence)}]"))
    rows.sort(key=lambda r: (r[0], r[1]))
    lines += [r[2][:width] for r in rows]
    lines += ["", "* an event cited as evidence by a finding;  ! a finding about this customer"]
    return "\n".join(lines) + "\n"
