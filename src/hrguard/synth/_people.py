"""People coming and going: leave with a teammate covering, resignations and dismissals with their
handover and final settlement, and new hires."""

from __future__ import annotations

from datetime import timedelta

from ._company import CompanyBase
from ._geo import DAY_S, hms
from ._model import HOT, Person, money
from ._scenarios import Injection


class PeopleFlows(CompanyBase):
    def teammates(self, rep: Person, exclude: tuple[str, ...] = ()) -> list[Person]:
        mgr = self.people[rep.manager]
        out = [self.people[i] for i in mgr.team if i != rep.id and i not in exclude]
        return [p for p in out if p.status == "active" and p.honest and p.away is None and p.covering is None]

    def hr_day(self) -> None:
        r, di = self.rng, self.di
        for what, rep in self.planned.pop(di, ()):
            if rep.status == "active" and rep.away is None and rep.covering is None:
                (self._resign if what == "resign" else self._vacation)(rep)
        for rep in list(self.reps):
            if rep.status != "active" or not rep.honest or rep.away is not None or rep.covering is not None \
                    or (rep.hired_di > di - 20 and rep.hired_di > 0):
                continue
            x = r.random()
            if x < 1 / 250:
                self._vacation(rep)
            elif x < 1 / 250 + 1 / 1500 and di <= self.cfg.days - 25:
                self._resign(rep)
        for rep in self.reps:
            inj = rep.inj.get("unsettled_termination")
            if inj is not None and inj.start_di == di and rep.status == "active":
                self._resign(rep, inj)
        for p in list(self.people.values()):  # forget people long gone
            if p.status == "gone" and p.last_di is not None and di - p.last_di > 40:
                del self.people[p.id]

    def _vacation(self, rep: Person) -> None:
        """Leave from the next working day; a teammate covers the hot customers while the rep is away."""
        r = self.rng
        first = self.next_workday(self.di)
        last = self.next_workday(first, self.ri(2, 6))
        back = self.next_workday(last)
        if back >= self.cfg.days:
            return
        mates = self.teammates(rep)
        if not mates:
            return  # nobody to cover the customers: the manager does not approve the leave
        rep.away = (first, last)
        mate = self.pick(mates)
        mate.covering = rep.id
        self.at(first, hms(7) + self.rr(1800), "cover", (rep, mate, first, last, back))

    def _do_cover(self, sec: int, payload: tuple) -> None:
        """Early on the first day of leave the manager hands the hot customers to the covering teammate."""
        rep, mate, first, last, back = payload
        self.at(back, hms(7, 45), "back", rep)
        if mate is None:
            return
        hot = [c for c in rep.book.values() if c.stage in HOT and not c.frozen]
        if not hot:
            mate.covering = None
            return
        mgr = self.people[rep.manager]
        inj = self.inject(Injection("covered_customer", mate.id, first, last,
                                    {"owner_id": rep.id, "manager_id": mgr.id, "customers": [c.id for c in hot]}))
        for c in hot:
            sec += self.ri(20, 120)
            self.assign(c, mate, sec, mgr.id)
            inj.mark(self.di * DAY_S + sec)
        self.at(back, hms(7) + self.rr(1800), "uncover", (rep, mate, inj))

    def _do_back(self, sec: int, rep: Person) -> None:
        rep.away = None

    def _do_uncover(self, sec: int, payload: tuple) -> None:
        """Early on the day the rep is back, the manager hands the customers back."""
        rep, mate, inj = payload
        mgr = self.people.get(rep.manager)
        for cid in inj.data["customers"]:
            c = self.customers.get(cid)
            if c is not None and c.owner == mate.id and c.stage != "lost" and rep.status != "gone":
                sec += self.ri(20, 90)
                self.assign(c, rep, sec, mgr.id if mgr else None)
                inj.mark(self.di * DAY_S + sec)
        mate.covering = None
        self.close(inj)

    def _resign(self, rep: Person, unsettled: Injection | None = None) -> None:
        """Notice today, the last day in two to three weeks, customers handed over the next morning."""
        r = self.rng
        last = self.next_workday(self.di, self.ri(8, 15))
        if unsettled is None:
            inj = self.inject(Injection("left_properly", rep.id, self.di, last))
        else:
            inj = unsettled
            while last + 4 >= self.cfg.days and last > self.di:
                last -= 1
            last = self._on_workday(last, -1)
            inj.end_di = last
        rep.status = "leaving"
        sec = hms(10) + self.rr(5 * 3600)
        self.emit(sec, "employee.terminated", rep.id, {"last_day": (self.cfg.start + timedelta(days=last)).isoformat(),
                                                        "reason": "resigned"}, None if unsettled else inj)
        self.at(last + 1, 0, "leave", rep)  # actions run before the day's work: the day after the last
        self.at(self.next_workday(last), hms(7) + self.rr(2400), "handover",
                (rep, inj, unsettled is not None, last))

    def dismiss(self, rep: Person, sec: int, reason: str, withhold: Injection | None) -> None:
        """Dismissed this evening: customers handed over the next morning, wages settled unless withheld."""
        rep.status = "gone"
        self.emit(sec, "employee.terminated", rep.id, {"last_day": self.day.isoformat(), "reason": reason})
        self.at(self.next_workday(self.di), hms(7) + self.rr(2400), "handover",
                (rep, withhold, withhold is not None, self.di))

    def _do_leave(self, sec: int, rep: Person) -> None:
        rep.status = "gone"  # after the last day: no more work

    def _do_handover(self, sec: int, payload: tuple) -> None:
        rep, inj, withhold, last_di = payload
        r = self.rng
        mgr = self.people[rep.manager]
        mates = self.teammates(rep) or [p for p in self.reps if p.status == "active" and p.honest and p.id != rep.id]
        for k, c in enumerate(sorted(rep.book.values(), key=lambda c: c.id)):
            if not mates:
                break
            sec += self.ri(10, 60)
            self.assign(c, mates[k % len(mates)], sec, mgr.id)
        rep.status = "gone"
        rep.last_di = last_di
        if rep in self.reps:
            self.reps.remove(rep)
        if rep.id in mgr.team:
            mgr.team.remove(rep.id)
        if withhold:  # owed from the end of the last day; due (by the company's 3-day practice) 3 days later
            inj.mark(last_di * DAY_S + DAY_S - 1)
            inj.mark(last_di * DAY_S + 4 * DAY_S - 1)
            if r.random() < 0.4:  # paid, but a week or more late
                self.at(last_di + self.ri(10, 16), hms(11) + self.rr(14400), "settle", (rep, None))
            self.close(inj)
        else:
            self.at(self.di if self.di - last_di <= 3 else last_di + 1, hms(10) + self.rr(5 * 3600), "settle",
                    (rep, inj))
        self.at(self.di + self.ri(2, 12), hms(7, 30), "hire", mgr)

    def _do_settle(self, sec: int, payload: tuple) -> None:
        rep, inj = payload
        last_day = self.cfg.start + timedelta(days=rep.last_di)
        self.emit(sec, "payroll.settled", rep.id, {"period_end": last_day.isoformat(),
                                                   "amount": money(rep.salary * self.uni(0.3, 1.2)),
                                                   "final": True}, inj)
        if inj is not None:
            self.close(inj)

    def _do_hire(self, sec: int, mgr: Person) -> None:
        if not self.workday(self.di):
            self.at(self.next_workday(self.di), sec, "hire", mgr)
            return
        rep = self._new_rep(mgr)
        self._hired(rep, sec)
