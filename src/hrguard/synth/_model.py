"""The synthetic company's data: its configuration, people, customers and deals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..errors import InvalidArgumentError
from ._geo import DAY_S
from ._scenarios import Injection

WATCH = {"quoting": 7 * DAY_S, "pending_signing": 5 * DAY_S}  # what an honest rep never leaves idle that long
HOT = ("quoting", "quoted", "pending_signing")
STEPS = ("manager", "finance", "legal")
BOUNDS = (30.95, 31.45, 121.15, 121.85)  # the part of Shanghai the customers are in

@dataclass(frozen=True)
class SynthConfig:
    """What to generate: ``employees`` at the start, over ``days`` calendar days from ``start``.

    ``misconduct`` is the share of sales reps given a misconduct scenario (at least one rep per
    scenario when it is above zero; ``0`` gives an honest company with honest noise only).
    """

    employees: int = 20
    days: int = 30
    seed: int = 1
    start: date = date(2026, 3, 2)  # a Monday
    misconduct: float = 0.1

    def check(self) -> None:
        """Raise :class:`~hrguard.errors.InvalidArgumentError` (a ``ValueError``) with a message for people when
        the configuration cannot be generated."""
        if self.days < 1:
            raise InvalidArgumentError(None, f"--days must be at least 1 (got {self.days})")
        if not 0 <= self.misconduct <= 0.5:
            raise InvalidArgumentError(None, f"--misconduct must be a share between 0 and 0.5 (got {self.misconduct:g})")
        need = 15 if self.misconduct > 0 else 5
        if self.employees < need:
            why = "to staff every misconduct scenario among honest colleagues" if self.misconduct > 0 else \
                "for a rep, a manager, HR, finance and legal"
            raise InvalidArgumentError(None, f"--employees must be at least {need} {why} (got {self.employees})")
        if self.misconduct > 0 and self.days < 28:
            raise InvalidArgumentError(None, f"--days must be at least 28 to inject misconduct and see it detected "
                                             f"(got {self.days}); use --misconduct 0 for a shorter honest dataset")


class Person:
    __slots__ = ("id", "name", "role", "manager", "site", "center", "home", "book", "status", "last_di", "poor_rate",
                 "poor_hi", "inj", "salary", "meeting", "away", "covering", "hired_di", "honest", "team")

    def __init__(self, pid: str, name: str, role: str, manager: str | None, site: tuple, hired_di: int):
        self.id, self.name, self.role, self.manager, self.site = pid, name, role, manager, site
        self.center = self.home = (site[2], site[3])
        self.book: dict[str, Customer] = {}
        self.status = "active"  # active, leaving, gone
        self.last_di: int | None = None
        self.poor_rate, self.poor_hi = 0.02, 300.0
        self.inj: dict[str, Injection] = {}
        self.salary = 0.0
        self.meeting = False
        self.away: tuple[int, int] | None = None  # (first, last) day index of a leave
        self.covering: str | None = None
        self.hired_di = hired_di
        self.honest = True
        self.team: list[str] = []  # a manager's reps


class Customer:
    __slots__ = ("id", "name", "lat", "lon", "owner", "stage", "last", "deal", "amount", "frozen", "stage_t")

    def __init__(self, cid: str, name: str, lat: float, lon: float, owner: str, amount: float):
        self.id, self.name, self.lat, self.lon, self.owner, self.amount = cid, name, lat, lon, owner, amount
        self.stage: str | None = None
        self.last = 0  # absolute second of the last activity (follow-up or stage change)
        self.stage_t = 0  # absolute second of the last stage change
        self.deal: Deal | None = None
        self.frozen = False  # taken private: the rep no longer records anything about it


class Deal:
    __slots__ = ("req", "order", "cust", "amount", "order_amount", "rep", "subject", "variant", "inj", "ordered")

    def __init__(self, req: str | None, order: str, cust: Customer, amount: float, rep: Person, subject: str,
                 variant: str | None, inj: Injection | None):
        self.req, self.order, self.cust, self.amount, self.rep = req, order, cust, amount, rep
        self.subject, self.variant, self.inj = subject, variant, inj
        self.order_amount = amount
        self.ordered = False


def money(x: float) -> str:
    return f"{x:.2f}"
