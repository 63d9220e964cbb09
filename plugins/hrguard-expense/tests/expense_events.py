"""Event factories for the expense plugin's tests (a module of its own name: tests of several
distributions are collected in one pytest run, and ``conftest`` is a name they all share)."""

from __future__ import annotations

from typing import Any

TZ = "+08:00"


def claim(id_: str, ts: str, claim_id: str, amount: Any, *, employee: str = "E1", merchant: str = "Acme Store",
          currency: str = "CNY", day: str = "2026-04-01", category: str = "equipment", **more: Any) -> dict[str, Any]:
    """An ``expense.claimed`` event; ``ts`` may be given as ``"MM-DD HH:MM"`` (2026, +08:00)."""
    return {"id": id_, "kind": "expense.claimed", "ts": when(ts), "employee_id": employee, "claim_id": claim_id,
            "amount": amount, "currency": currency, "category": category, "merchant": merchant,
            "incurred_on": day, **more}


def paid(id_: str, ts: str, claim_id: str, *, by: str = "F1", **more: Any) -> dict[str, Any]:
    return {"id": id_, "kind": "expense.paid", "ts": when(ts), "employee_id": by, "claim_id": claim_id,
            "payment_id": f"PAY-{claim_id}", **more}


def request(id_: str, ts: str, request_id: str, *, subject: str | None = "expense", subject_id: str | None = None,
            amount: Any = None, by: str = "E1") -> dict[str, Any]:
    return {"id": id_, "kind": "approval.requested", "ts": when(ts), "employee_id": by, "request_id": request_id,
            "subject": subject, "subject_id": subject_id, "amount": amount}


def decided(id_: str, ts: str, request_id: str, step: str, decision: str = "approved", by: str = "M1") -> dict[str, Any]:
    return {"id": id_, "kind": "approval.decided", "ts": when(ts), "employee_id": by, "request_id": request_id,
            "step": step, "decision": decision}


def when(ts: str) -> str:
    return ts if "T" in ts else f"2026-{ts[:5]}T{ts[6:]}:00{TZ}"
