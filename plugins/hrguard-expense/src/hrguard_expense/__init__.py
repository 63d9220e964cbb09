"""hrguard-expense: an hrguard plugin for expense claims.

It adds the event kinds ``expense.claimed`` and ``expense.paid``, three detectors
(``expense.duplicate_claim``, ``expense.split_claim``, ``expense.unapproved_payment``) and a bundled
ruleset named ``expense``. hrguard finds it through the ``hrguard`` entry-point group
(:mod:`hrguard_expense.plugin`); nothing in hrguard itself knows it exists.
"""

from __future__ import annotations

from .duplicate import DuplicateClaim
from .events import KINDS, ExpenseClaimed, ExpensePaid
from .split import SplitClaim
from .unapproved import UnapprovedPayment

__version__ = "0.1.0"

DETECTORS = (DuplicateClaim, SplitClaim, UnapprovedPayment)

__all__ = ["DETECTORS", "KINDS", "DuplicateClaim", "ExpenseClaimed", "ExpensePaid", "SplitClaim",
           "UnapprovedPayment", "__version__"]
