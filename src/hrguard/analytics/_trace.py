"""Customer trace: every operation any employee did on one customer, in order, with findings marked.

The article's "when a customer leaves, trace every operation on it". An event names the customer
when its ``customer_id`` is the customer, a plan item or a summary claim names it, or it acts on a
request or order that does (``approval.decided`` on its request, ``invoice.issued`` on its order).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..columns import NESTED, Chunk
from ..engine import Engine, ScanResult, default_engine
from ..events import get_zone, to_instant_us
from ..findings import Finding
from ..rules import Ruleset


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


def _describe(event: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> str:
    parts = []
    for name, ctype in fields:
        v = event.get(name)
        if name == "attrs" or v is None:
            continue
        if ctype == NESTED:
            v = f"{len(v)} item(s)"
        elif isinstance(v, float) and v.is_integer():
            v = int(v)
        elif hasattr(v, "isoformat"):
            v = v.isoformat()
        parts.append(f"{name}={v}")
    return ", ".join(parts)


def _names_customer(event: dict[str, Any], customer_id: str, requests: set[str], orders: set[str]) -> str | None:
    """How the event names the customer, or ``None``."""
    kind = event["kind"]
    if event.get("customer_id") == customer_id:
        return "customer_id"
    if kind == "plan.submitted" and any(it["customer_id"] == customer_id for it in event["items"]):
        return "plan item"
    if kind == "summary.submitted" and any(c["customer_id"] == customer_id for c in event["claims"]):
        return "summary claim"
    if kind == "approval.decided" and event["request_id"] in requests:
        return f"decision on request {event['request_id']}"
    if kind == "invoice.issued" and event["order_id"] in orders:
        return f"invoice for order {event['order_id']}"
    return None


def trace_customer(events: Any, customer_id: str, ruleset: Any = "sales", as_of: Any = None, *,
                   engine: Engine | None = None) -> Trace:
    """The customer's full timeline (every event naming it, by whom, in ``(ts, id)`` order).

    Times are shown in the ruleset's time zone (UTC without a ruleset). When ``ruleset`` is not
    ``None`` the events are also scanned; every finding about the customer (or about no customer but
    citing one of the timeline's events) is listed and attached to the entries it cites.
    """
    engine = engine or default_engine()
    rs = None if ruleset is None else (ruleset if isinstance(ruleset, Ruleset) else engine.load_ruleset(ruleset))
    zone = get_zone(rs.timezone) if rs is not None else get_zone("UTC")
    intake = engine.intake()
    as_of_us = to_instant_us(as_of, what="as_of") if as_of is not None else None
    frame = intake.frame(events, as_of_us)  # every event, read once, in the order (ts, id)
    if as_of_us is None and len(frame):
        as_of_us = int(frame.ts[-1])
    requests: set[str] = set()
    orders: set[str] = set()
    picked: list[tuple[int, dict[str, Any], str]] = []
    for row in range(len(frame)):
        e = Chunk.frame_event(frame, row)
        how = _names_customer(e, customer_id, requests, orders)
        if how is None:
            continue
        if e["kind"] == "approval.requested":
            requests.add(e["request_id"])
        if e["kind"] == "order.recorded":
            orders.add(e["order_id"])
        picked.append((row, e, how))
    result = None
    touching: list[Finding] = []
    by_event: dict[str, list[Finding]] = defaultdict(list)
    if rs is not None:
        result = engine.judge(frame, rs, intake, as_of_us)
        ids = {e["id"] for _, e, _ in picked}
        for f in result.findings:
            cited = [x for x in f.evidence if x in ids]
            # a finding about another customer may cite a plan naming both: it is not this one's
            if f.customer_id == customer_id or (f.customer_id is None and cited):
                touching.append(f)
                for x in cited:
                    by_event[x].append(f)
    entries = []
    for row, e, how in picked:
        fields = frame.tables[int(frame.kind[row])].layout.fields
        entries.append(TraceEntry(e["ts"].astimezone(zone), e["id"], e["kind"], e["employee_id"], how,
                                  _describe(e, fields), by_event.get(e["id"], [])))
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
