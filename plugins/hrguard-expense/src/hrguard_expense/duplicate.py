"""``expense.duplicate_claim``: the same expense claimed twice.

Judges each ``expense.claimed`` against the claims before it (in the one order ``(ts, id)``): the
same employee, merchant, currency and amount, incurred within ``window`` days of each other, under
another ``claim_id``. Only the current record of each earlier claim counts (a corrected claim is
judged as corrected). The finding cites one match: one with the same receipt if there is one, else
the latest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from hrguard import Chunk, Detector, RuleContext, Severity

from ._claims import CLAIM, Claims, DayWindow, Keys, WindowParams, iso_day, merchant_name, money_units, text, whole_days


class DuplicateParams(WindowParams):
    min_amount: float = Field(0, ge=0, description="claims below this amount are not judged")
    distinct_receipts: bool = Field(
        True, description="two claims that both give a receipt_uri, and different ones, are two expenses, not a duplicate")


class DuplicateClaim(Detector):
    id = "expense.duplicate_claim"
    title = "The same expense claimed twice"
    Params = DuplicateParams
    default_severity = Severity.medium
    kinds = frozenset({CLAIM})
    messages = {
        "en": {
            "same_details": "{employee_id} claimed {amount:,.2f} {currency} at {merchant} for {incurred_on} "
                            "(claim {claim_id}), the same as their claim {duplicate_of} for {duplicate_incurred_on}: "
                            "claimed twice?",
            "same_receipt": "{employee_id} claimed {amount:,.2f} {currency} at {merchant} (claim {claim_id}) with "
                            "the receipt of their claim {duplicate_of}: claimed twice?",
        },
        "zh": {
            "same_details": "{employee_id} 报销 {merchant} {amount:,.2f} {currency}（报销单 {claim_id}，{incurred_on}），"
                            "与本人报销单 {duplicate_of}（{duplicate_incurred_on}）相同，疑似重复报销",
            "same_receipt": "{employee_id} 报销 {merchant} {amount:,.2f} {currency}（报销单 {claim_id}），"
                            "所附票据已用于本人报销单 {duplicate_of}，疑似重复报销",
        },
    }

    def __init__(self, params: DuplicateParams, ctx: RuleContext):
        super().__init__(params, ctx)
        self.width = whole_days(params.window)
        self.keys = Keys()
        self.claims = Claims()
        self.seen = DayWindow()  # every judged claim so far, by (employee, merchant, currency, amount)

    def process(self, chunk: Chunk) -> None:
        c = self.claims.read(chunk)
        if not c:
            return
        q = np.flatnonzero(c["amount"] >= self.params.min_amount)
        mine = {f: c[f][q] for f in (*DayWindow.FIELDS, "id", "row", "merchant", "currency")}
        key = self.keys.of(c["employee"][q], self.keys.merchant(c["merchant"][q], self.ctx.strings),
                           c["currency"][q], money_units(mine["amount"]))
        qi, e = self.seen.pairs(key, mine["day"], mine["pos"], self.width, key, mine)
        ok = (e["claim"] != mine["claim"][qi]) & self.claims.current(e["claim"], e["pos"], mine["pos"][qi], c)
        r_q, r_e = mine["receipt"][qi], e["receipt"]
        if self.params.distinct_receipts:
            ok &= ~((r_q >= 0) & (r_e >= 0) & (r_q != r_e))
        qi, e = qi[ok], {f: v[ok] for f, v in e.items()}
        if qi.size:
            # the match each claim cites: one with its receipt if any, else the latest (the last in this order)
            same = (e["receipt"] >= 0) & (e["receipt"] == mine["receipt"][qi])
            last = np.lexsort((e["pos"], same, qi))
            last = last[np.r_[qi[last][1:] != qi[last][:-1], True]]
            for j in last.tolist():
                self._emit(chunk, mine, int(qi[j]), {f: v[j] for f, v in e.items()})
        self.seen.commit(key, mine)
        self.claims.commit(c)

    def _emit(self, chunk: Chunk, mine: dict[str, np.ndarray], i: int, other: dict[str, Any]) -> None:
        f = chunk.frame
        strings = self.ctx.strings
        row = int(mine["row"][i])
        ts = int(mine["ts"][i])
        receipt = int(mine["receipt"][i])
        same_receipt = receipt >= 0 and receipt == int(other["receipt"])
        day, other_day = int(mine["day"][i]), int(other["day"])
        details = {
            "reason": "same_receipt" if same_receipt else "same_details",
            "claim_id": text(strings, mine["claim"][i]),
            "duplicate_of": text(strings, other["claim"]),
            "amount": float(mine["amount"][i]),
            "currency": text(strings, mine["currency"][i]),
            "merchant": merchant_name(strings, mine["merchant"][i]),
            "incurred_on": iso_day(day),
            "duplicate_incurred_on": iso_day(other_day),
            "days_apart": abs(day - other_day),
            "receipt_uri": text(strings, receipt) if receipt >= 0 else None,
        }
        employee = text(strings, f.employee[row])
        self.emit(ts=ts, subject=(f.ids[row],), employee_id=employee, customer_id=None,
                  evidence=[(int(other["ts"]), str(other["id"])), (ts, f.ids[row])], details=details,
                  reason=details["reason"])


DETECTORS = (DuplicateClaim,)
