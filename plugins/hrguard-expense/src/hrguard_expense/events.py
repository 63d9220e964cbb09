"""The event kinds of expense claims: ``expense.claimed`` and ``expense.paid``.

``employee_id`` (the envelope's actor) is the claimant of a claim and the payer of a payment.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from hrguard import Event
from hrguard.events import Date, Money, NonEmpty


def _currency(code: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"expected an ISO 4217 currency code, three capital letters such as CNY; got {code!r}")
    return code


Currency = Annotated[str, AfterValidator(_currency), Field(description="ISO 4217 code, e.g. CNY")]


class ExpenseClaimed(Event):
    """An employee claims an expense. A later record with the same ``claim_id`` corrects the claim:
    from then on, the latest record of a claim is the claim."""

    kind: Literal["expense.claimed"]
    employee_id: NonEmpty = Field(description="the claimant")
    claim_id: NonEmpty = Field(description="the claim's id in the expense system")
    amount: Money
    currency: Currency
    category: NonEmpty = Field(description="e.g. travel, meals, equipment")
    merchant: NonEmpty = Field(description="who was paid, as written on the receipt")
    incurred_on: Date = Field(description="the date the expense was incurred")
    receipt_uri: str | None = Field(default=None, description="where the receipt image or file is")
    approval_request_id: str | None = Field(default=None, description="the approval.requested this claim cites")


class ExpensePaid(Event):
    """A claim was paid out (reimbursed). ``employee_id`` is who paid it (finance)."""

    kind: Literal["expense.paid"]
    claim_id: NonEmpty = Field(description="the claim paid")
    payment_id: str | None = Field(default=None, description="the payment's id")
    amount: Money | None = Field(default=None, description="the amount paid (default: the claim's amount)")


KINDS = (ExpenseClaimed, ExpensePaid)
