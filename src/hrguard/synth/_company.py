"""The company: ids, random numbers, the day's event buffer, the scheduler of things due on later
days, labels, its people, customers and offices, the first day's import, payroll, and a day at the
office for everyone who is not a sales rep.

State is kept per person and per live customer only (lost customers are forgotten after two weeks,
people who left after forty days), and events are produced one day at a time, so memory does not
grow with the number of days.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ._geo import DAY_S, DISTRICTS, GIVEN, NAME_A, NAME_B, SITES, SURNAMES, DayClock, away, hms, r6, scatter
from ._model import BOUNDS, Customer, Person, SynthConfig, money
from ._scenarios import ROTATION, WINDOW_DAYS, Injection


class CompanyBase:
    """State, ids, the day buffer, the scheduler, and the company-wide flows."""

    def __init__(self, cfg: SynthConfig):
        cfg.check()
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self._rnd = self.rng.random
        self.people: dict[str, Person] = {}
        self.customers: dict[str, Customer] = {}
        self.reps: list[Person] = []  # active and leaving reps, in hiring order
        self.managers: list[Person] = []
        self.finance: list[Person] = []
        self.legal: list[Person] = []
        self.hr: list[Person] = []
        self.counts = {"emp": 0, "cust": 0, "req": 0, "order": 0, "inv": 0, "ev": 0, "photo": 0}
        self.width = max(4, len(str(cfg.employees * 3)))
        self._heap: list[tuple[int, int, int, str, Any]] = []
        self._seq = 0
        self.injections: dict[int, Injection] = {}  # open (not yet labelled) injections by id(), in creation order
        self.done: list[dict[str, Any]] = []  # labels completed today
        self.di = 0
        self.day = cfg.start
        self.clock = DayClock(cfg.start)
        self.buf: list[tuple[int, int, dict[str, Any]]] = []
        self.paid_months: set[tuple[int, int]] = set()
        self._clocks: dict[int, DayClock] = {}
        self.roster: dict[str, str] = {}  # everyone ever hired: id -> role

    def begin(self, di: int) -> None:
        self.di = di
        self.day = self.cfg.start + timedelta(days=di)
        self.clock = DayClock(self.day)
        self._clocks = {k: v for k, v in self._clocks.items() if k >= di - 60}

    # -- random numbers: random() only (randint/randrange cost ten times more; same determinism) --------
    def ri(self, a: int, b: int) -> int:
        """An integer in [a, b]."""
        return a + int(self._rnd() * (b - a + 1))

    def rr(self, n: int) -> int:
        """An integer in [0, n)."""
        return int(self._rnd() * n)

    def pick(self, seq: Any) -> Any:
        return seq[int(self._rnd() * len(seq))]

    def uni(self, a: float, b: float) -> float:
        return a + (b - a) * self._rnd()

    # -- ids, time, events -------------------------------------------------------------------------
    def new_id(self, what: str, prefix: str, width: int = 6) -> str:
        self.counts[what] += 1
        return f"{prefix}{self.counts[what]:0{width}d}"

    def ts_abs(self, t: int) -> str:
        di, sec = divmod(t, DAY_S)
        c = self._clocks.get(di)
        if c is None:
            c = self._clocks[di] = DayClock(self.cfg.start + timedelta(days=di))
        return c.ts(sec)

    def workday(self, di: int) -> bool:
        return (self.cfg.start + timedelta(days=di)).weekday() < 5

    def next_workday(self, di: int, n: int = 1) -> int:
        while n > 0:
            di += 1
            if self.workday(di):
                n -= 1
        return di

    def _on_workday(self, di: int, step: int) -> int:
        while not self.workday(di):
            di += step
        return di

    def emit(self, sec: int, kind: str, emp: str | None, fields: dict[str, Any], inj: Injection | None = None) -> None:
        if not 0 <= sec < DAY_S:
            sec = min(max(sec, 0), DAY_S - 1)
        buf = self.buf
        buf.append((sec, len(buf), {"id": None, "kind": kind, "ts": self.clock.ts(sec), "employee_id": emp, **fields}))
        if inj is not None:
            inj.mark(self.di * DAY_S + sec)

    def flush(self) -> list[dict[str, Any]]:
        self.buf.sort()  # (second, sequence): the sequence is unique, so dicts are never compared
        out = [ev for _, _, ev in self.buf]
        n = self.counts["ev"]
        for k, ev in enumerate(out, n + 1):
            ev["id"] = f"e{k:09d}"
        self.counts["ev"] = n + len(out)
        self.buf = []
        return out

    # -- the scheduler: things due on later days (approvals, settlements, returns) -------------------
    def at(self, di: int, sec: int, action: str, payload: Any) -> None:
        if di >= self.cfg.days:
            return  # after the end of the dataset: never happens
        self._seq += 1
        heapq.heappush(self._heap, (di, int(sec), self._seq, action, payload))

    def run_due(self) -> None:
        while self._heap and self._heap[0][0] <= self.di:
            _, sec, _, action, payload = heapq.heappop(self._heap)
            getattr(self, "_do_" + action)(sec, payload)

    def later(self, sec: int, lo_s: float, hi_s: float) -> tuple[int, int]:
        """Working time ``lo_s..hi_s`` seconds after ``sec`` today: (day index, second), moved past evenings
        and weekends to the next working morning."""
        t = sec + self.uni(lo_s, hi_s)
        di = self.di
        while t > hms(18, 30) or not self.workday(di):
            di = self.next_workday(di)
            t = hms(9) + self.uni(0, 2.5 * 3600) + max(0.0, t - hms(18, 30)) % 3600
        return di, int(t)

    # -- labels ------------------------------------------------------------------------------------
    def inject(self, inj: Injection) -> Injection:
        self.injections[id(inj)] = inj
        return inj

    def close(self, inj: Injection) -> None:
        """An injection is over: its label is written today (if anything happened)."""
        if self.injections.pop(id(inj), None) is not None:
            if inj.events:
                self.done.append(inj.label(self.ts_abs))

    def close_all(self) -> None:
        for inj in list(self.injections.values()):
            self.close(inj)

    # -- people ------------------------------------------------------------------------------------
    def _name(self) -> str:
        r = self.rng
        return f"{self.pick(SURNAMES)} {self.pick(GIVEN)}{self.pick(('', '', self.pick(GIVEN).lower()))}"

    def _person(self, role: str, manager: str | None, site: tuple) -> Person:
        p = Person(self.new_id("emp", "E", self.width), self._name(), role, manager, site, self.di)
        p.salary = {"sales": 9000, "manager": 16000, "finance": 12000, "legal": 15000, "hr": 11000}[role] * \
            self.uni(0.85, 1.25)
        self.people[p.id] = p
        self.roster[p.id] = role
        return p

    def _hired(self, p: Person, sec: int) -> None:
        years = self.ri(0, 6) if self.di == 0 else 0
        hire = self.day - timedelta(days=years * 365 + self.ri(0, 300)) if self.di == 0 else self.day
        self.emit(sec, "employee.hired", p.id, {
            "role": p.role, "department": "sales" if p.role in ("sales", "manager") else p.role,
            "manager_id": p.manager, "home_site_id": p.site[0],
            "attrs": {"name": p.name, "hire_date": hire.isoformat()}})

    def _new_rep(self, mgr: Person) -> Person:
        rep = self._person("sales", mgr.id, mgr.site)
        rep.center = away(self.rng, mgr.site[2], mgr.site[3], 1000, 4500)
        rep.home = away(self.rng, rep.center[0], rep.center[1], 3000, 12000)
        rep.meeting = mgr.meeting
        mgr.team.append(rep.id)
        self.reps.append(rep)
        return rep

    def staff(self) -> None:
        """Who works here: HR, finance, legal, sales managers with teams of about eight reps."""
        n = self.cfg.employees
        n_hr, n_fin, n_legal = max(1, round(n / 150)), max(1, round(n / 60)), max(1, round(n / 120))
        rest = n - n_hr - n_fin - n_legal
        n_mgr = max(1, math.ceil(rest / 9))
        n_rep = rest - n_mgr
        n_sites = min(len(SITES), max(1, (n_mgr + 2) // 3))
        hq = SITES[0]
        for _ in range(n_hr):
            self.hr.append(self._person("hr", None, hq))
        for _ in range(n_fin):
            self.finance.append(self._person("finance", None, hq))
        for _ in range(n_legal):
            self.legal.append(self._person("legal", None, hq))
        for i in range(n_mgr):
            m = self._person("manager", None, SITES[i % n_sites])
            m.meeting = self.rng.random() < 0.5
            self.managers.append(m)
        for i in range(n_rep):
            self._new_rep(self.managers[i % n_mgr])
        self.sites = sorted({p.site for p in self.people.values()})

    # -- customers ---------------------------------------------------------------------------------
    def new_customer(self, owner: Person) -> Customer:
        r = self.rng
        lat, lon = scatter(r, owner.center[0], owner.center[1], 3500)
        lat = min(max(lat, BOUNDS[0]), BOUNDS[1])
        lon = min(max(lon, BOUNDS[2]), BOUNDS[3])
        cid = self.new_id("cust", "C")
        c = Customer(cid, f"{self.pick(NAME_A)} {self.pick(NAME_B)}", r6(lat), r6(lon), owner.id,
                     round(math.exp(self.uni(math.log(30_000), math.log(800_000))), -2))
        self.customers[cid] = c
        owner.book[cid] = c
        return c

    def register(self, c: Customer, sec: int, by: str) -> None:
        self.emit(sec, "customer.registered", by, {
            "customer_id": c.id, "name": c.name, "owner_id": c.owner, "lat": c.lat, "lon": c.lon,
            "address": f"{self.pick(DISTRICTS)} District, Shanghai"})

    def stage(self, c: Customer, stage: str, sec: int, by: str, inj: Injection | None = None) -> None:
        self.emit(sec, "customer.stage_changed", by, {"customer_id": c.id, "stage": stage, "previous_stage": c.stage},
                  inj)
        c.stage = stage
        c.stage_t = self.di * DAY_S + sec
        c.last = max(c.last, c.stage_t)

    def assign(self, c: Customer, to: Person, sec: int, by: str) -> None:
        prev = self.people.get(c.owner)
        self.emit(sec, "customer.assigned", by, {"customer_id": c.id, "owner_id": to.id, "previous_owner_id": c.owner})
        if prev is not None:
            prev.book.pop(c.id, None)
        c.owner = to.id
        to.book[c.id] = c

    def setup(self, part: int = 1000) -> Iterator[None]:
        """Day one, before anyone starts work: the HR system's import of the company's existing records —
        the offices, everyone's hiring record, then each rep's book of customers and their stages, rep by
        rep from 07:10 to 07:44. Pauses (yields) after every ``part`` reps so the caller can write them:
        a large company's import never sits in memory whole."""
        hr = self.hr[0].id
        for s in self.sites:
            self.emit(hms(7), "site.registered", hr, {"site_id": s[0], "name": s[1], "lat": s[2], "lon": s[3],
                                                      "radius_m": s[4]})
        for p in list(self.people.values()):
            self._hired(p, hms(7, 5))
        stages = ("lead", "contacted", "quoting", "quoted", "signed")
        cum = (15, 50, 58, 73, 100)  # weights 15, 35, 8, 15, 27 (what random.choices would draw, faster)
        span = hms(7, 44) - hms(7, 10)
        for k, rep in enumerate(self.reps):
            sec = hms(7, 10) + k * span // len(self.reps)
            for _ in range(self.ri(18, 28)):
                c = self.new_customer(rep)
                self.register(c, sec, rep.manager)
                self.stage(c, stages[bisect(cum, self._rnd() * 100, 0, 4)], sec, rep.id)
            if (k + 1) % part == 0:
                yield
        if not self.reps or len(self.reps) % part:
            yield

    # -- injections --------------------------------------------------------------------------------
    def plan_injections(self) -> None:
        """Pick who misbehaves, how and when; and who has a phone with poor GPS."""
        r, cfg = self.rng, self.cfg
        reps = list(self.reps)
        if cfg.misconduct > 0:
            n = max(len(ROTATION), round(len(reps) * cfg.misconduct))
            bad = r.sample(reps, n)
            for i, rep in enumerate(bad):
                rep.honest = False
                name = ROTATION[i % len(ROTATION)]
                lo, hi = WINDOW_DAYS[name]
                first, last = 7, cfg.days - 10  # a week to settle in; time for late findings to come
                if name == "unsettled_termination":
                    start = self._on_workday(self.ri(first, max(first, cfg.days - 20)), +1)
                    inj = Injection(name, rep.id, start, start)
                else:
                    length = min(self.ri(lo, hi), last - first)
                    start = self.ri(first, last - length)
                    inj = Injection(name, rep.id, self._on_workday(start, +1), self._on_workday(start + length, -1))
                    if name == "private_orders":
                        inj.data["_dismiss"] = r.random() < 0.6
                        inj.data["_withhold"] = inj.data["_dismiss"] and r.random() < 0.5
                    elif name == "approval_bypass":
                        days = [d for d in range(inj.start_di, inj.end_di + 1) if self.workday(d)]
                        inj.data["_days"] = sorted(r.sample(days, min(len(days), self.ri(1, 3))))
                        inj.data["variants"] = []
                rep.inj[name] = self.inject(inj)
        honest = [p for p in reps if p.honest]
        for rep in r.sample(honest, max(1, round(len(honest) * 0.08))):
            rep.poor_rate, rep.poor_hi = 0.10, 1200.0
            rep.inj["poor_gps"] = self.inject(Injection("poor_gps", rep.id, 0, cfg.days - 1))
        # at least one honest departure and one leave with cover, whatever the size (more come at random)
        self.planned: dict[int, list[tuple[str, Person]]] = {}
        if len(honest) >= 3 and cfg.days >= 14:
            leaver, away = r.sample(honest, 2)
            day = self._on_workday(self.ri(3, max(3, cfg.days - 25)), +1)
            self.planned.setdefault(day, []).append(("resign", leaver))
            day = self._on_workday(self.ri(2, max(2, cfg.days - 16)), +1)
            self.planned.setdefault(day, []).append(("vacation", away))
        self.plan_coasting(honest)

    def plan_coasting(self, honest: list[Person]) -> None:
        """Pick the reps who coast, and when: from a random stream of their own (``self.crng``), so that the
        draws of everything else, hence every other rep's days, are those of a company without them."""
        cfg = self.cfg
        self.crng = cr = random.Random(f"hrguard-synth-coasting-{cfg.seed}")
        if cfg.misconduct <= 0:
            return
        busy = {p.id for plans in self.planned.values() for _, p in plans}
        pool = [p for p in honest if "poor_gps" not in p.inj and p.id not in busy]
        n = min(len(pool), max(1, round(len(self.reps) * cfg.misconduct / len(ROTATION))))
        lo, hi = WINDOW_DAYS["coasting"]
        first, last = 7, cfg.days - 10
        for rep in cr.sample(pool, n):
            length = min(lo + int(cr.random() * (hi - lo + 1)), last - first)
            start = first + int(cr.random() * (last - length - first + 1))
            inj = Injection("coasting", rep.id, self._on_workday(start, +1), self._on_workday(start + length, -1))
            rep.inj["coasting"] = self.inject(inj)

    # -- payroll -----------------------------------------------------------------------------------
    def payroll(self) -> None:
        """On the 10th (or the next working day) everyone is paid for the previous month."""
        key = (self.day.year, self.day.month)
        if self.day.day < 10 or key in self.paid_months:
            return
        self.paid_months.add(key)
        period_end = self.day.replace(day=1) - timedelta(days=1)
        end_di = (period_end - self.cfg.start).days
        sec = hms(10)
        for p in list(self.people.values()):
            if p.hired_di > max(end_di, 0) or (p.status == "gone" and (p.last_di or 0) <= end_di):
                continue
            sec += self.ri(1, 5)
            self.emit(sec, "payroll.settled", p.id, {"period_end": period_end.isoformat(),
                                                     "amount": money(p.salary), "final": False})

    # -- people who are not sales reps: a day at the office -------------------------------------------
    def office_day(self) -> None:
        r = self.rng
        for p in (*self.hr, *self.finance, *self.legal, *self.managers):
            if r.random() < 0.03:
                continue  # a day off
            site = p.site
            for direction, sec in (("in", hms(8, 20) + self.rr(3600)), ("out", hms(17, 30) + self.rr(7200))):
                if r.random() < 0.3:
                    lat, lon = scatter(r, site[2], site[3], 12)
                    acc, source = self.ri(15, 40), "wifi"
                else:
                    lat, lon = scatter(r, site[2], site[3], 20)
                    acc, source = self.ri(5, 30), "gps"
                self.emit(sec, "attendance.punched", p.id, {"direction": direction, "lat": r6(lat), "lon": r6(lon),
                                                            "accuracy_m": acc, "source": source, "site_id": site[0]})
        for m in self.managers:  # a manager now and then calls one of the team's customers (allowed)
            if m.team and r.random() < 0.1:
                rep = self.people.get(self.pick(m.team))
                live = [c for c in rep.book.values() if c.stage not in ("lost", None) and not c.frozen] if rep else []
                if live:
                    c = self.pick(live)
                    sec = hms(11) + self.rr(6 * 3600)
                    channel = self.pick(("phone", "meeting"))
                    self.emit(sec, "followup.logged", m.id, {"customer_id": c.id, "channel": channel,
                                                             "summary": "Manager check-in on the account",
                                                             "next_step": None, "photos": []})
                    c.last = self.di * DAY_S + sec
