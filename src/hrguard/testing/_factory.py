"""Event factories: :func:`event`, :func:`at` and :class:`EventFactory` build valid records of every kind with few keystrokes.

(PYTEST_DONT_REWRITE: see :mod:`hrguard.testing`.)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ..events import to_datetime

_COUNTER = [0]


# ==================================================================================================
# event factories
# ==================================================================================================
def event(kind: str, ts: str | datetime, id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A plain event dict; ``id`` defaults to a fresh ``ev<N>``. ``ts`` may be a datetime or a string."""
    if id is None:
        _COUNTER[0] += 1
        id = f"ev{_COUNTER[0]}"
    if isinstance(ts, datetime):
        ts = ts.isoformat()
    return {"id": id, "kind": kind, "ts": ts, **fields}


def at(base: str, **delta: float) -> str:
    """``base`` (RFC 3339) shifted by ``timedelta(**delta)``, as RFC 3339."""
    dt = datetime.fromisoformat(base) + timedelta(**delta)
    return dt.isoformat()


#: Plain values for the required fields of the built-in kinds (and a few useful optional ones).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "employee.hired": {"role": "sales"},
    "employee.terminated": {},
    "payroll.settled": {"final": False},
    "site.registered": {"site_id": "S1", "name": "office", "lat": 31.2304, "lon": 121.4737},
    "customer.registered": {"customer_id": "C1", "name": "Customer C1", "lat": 31.2304, "lon": 121.4737},
    "customer.assigned": {"customer_id": "C1"},
    "customer.stage_changed": {"customer_id": "C1", "stage": "quoting"},
    "followup.logged": {"customer_id": "C1", "channel": "phone", "summary": "called"},
    "plan.submitted": {"items": []},
    "attendance.punched": {"direction": "in", "source": "gps", "lat": 31.2304, "lon": 121.4737, "accuracy_m": 10},
    "summary.submitted": {"claims": []},
    "approval.requested": {"request_id": "R1", "subject": "order"},
    "approval.decided": {"request_id": "R1", "step": "manager", "decision": "approved"},
    "order.recorded": {"order_id": "O1", "customer_id": "C1", "amount": 1000},
    "invoice.issued": {"invoice_id": "I1", "order_id": "O1"},
}
_DATED = {"plan.submitted": "date", "summary.submitted": "date", "employee.terminated": "last_day"}


class EventFactory:
    """Event dicts with fresh ids and a clock that only moves when told to.

    ``ev = EventFactory("2026-04-01T09:00:00+08:00")``; ``ev("attendance.punched", lat=..., lon=...)``
    makes one event at the clock (``ts=`` overrides it) with the id ``e1``, ``e2``...;
    ``ev.advance(hours=2)`` moves the clock. Fields the caller leaves out come from ``defaults``
    (per kind; the built-in kinds have :data:`KIND_DEFAULTS`), and ``employee_id`` from the factory.
    Dates (a plan's ``date``...) default to the clock's local date.
    """

    def __init__(self, start: str | datetime = "2026-04-01T09:00:00+00:00", *, prefix: str = "e",
                 employee_id: str | None = "E1", tenant: str | None = None,
                 defaults: Mapping[str, Mapping[str, Any]] | None = None):
        self.now = to_datetime(start, what="start")  # hrguard's one policy for instants (hrguard.events)
        self.prefix = prefix
        self.employee_id = employee_id
        self.tenant = tenant
        self.defaults = {**KIND_DEFAULTS, **{k: dict(v) for k, v in (defaults or {}).items()}}
        self.made: list[dict[str, Any]] = []

    def __call__(self, kind: str, ts: str | datetime | None = None, *, id: str | None = None,
                 **fields: Any) -> dict[str, Any]:
        when = self.now if ts is None else (ts if isinstance(ts, datetime) else datetime.fromisoformat(ts))
        ev: dict[str, Any] = {"id": id or f"{self.prefix}{len(self.made) + 1}", "kind": kind, "ts": when.isoformat()}
        if self.employee_id is not None:
            ev["employee_id"] = self.employee_id
        if self.tenant is not None:
            ev["tenant"] = self.tenant
        if kind in _DATED:
            ev[_DATED[kind]] = when.date().isoformat()
        ev.update(copy.deepcopy(self.defaults.get(kind, {})))
        ev.update(fields)
        self.made.append(ev)
        return ev

    def advance(self, **delta: float) -> EventFactory:
        """Move the clock forward by ``timedelta(**delta)``; returns the factory (for chaining)."""
        self.now += timedelta(**delta)
        return self

    def at(self, ts: str | datetime) -> EventFactory:
        """Set the clock to ``ts``; returns the factory."""
        self.now = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
        return self


# ==================================================================================================
# running a ruleset all ways
# ==================================================================================================
