"""What misbehaving reps do differently: ghost customers, poaching, orders past the approval loop,
and the article's private orders (diverted customers, a cafe instead of customers, a private
contact, the end of it). Called from a rep's day (:mod:`._day`) while a scenario's window is open.
"""

from __future__ import annotations

from ._deals import DealFlows
from ._geo import DAY_S, away, dist_m, hms, r6, scatter
from ._model import WATCH, Customer, Person
from ._people import PeopleFlows
from ._scenarios import Injection

BYPASS = ("no_request", "early_order", "skip_legal", "inflated")


class Visit:
    __slots__ = ("cid", "lat", "lon", "cust", "mode", "slot", "t_in")

    def __init__(self, cid: str, lat: float, lon: float, cust: Customer | None, mode: str):
        self.cid, self.lat, self.lon, self.cust, self.mode = cid, lat, lon, cust, mode
        self.slot = (0, 0)
        self.t_in = 0


def displace(visits: list[Visit], calls: list, new: Visit) -> None:
    """``new`` takes the last visit's slot; a customer that cannot wait gets a call instead."""
    old = visits[-1]
    visits[-1] = new
    if old.cust is not None and old.cust.stage in WATCH:
        calls.append((old.cid, None))


class Misconduct(PeopleFlows, DealFlows):
    def _ghost_day(self, rep: Person, inj: Injection, visits: list[Visit], calls: list) -> None:
        r = self.rng
        if "_ghosts" not in inj.data:
            ghosts = []
            for _ in range(self.ri(1, 3)):
                lat, lon = scatter(r, rep.center[0], rep.center[1], 3000)
                ghosts.append((self.new_id("cust", "C"), r6(lat), r6(lon)))
            inj.data["_ghosts"] = ghosts
            inj.data["customers"] = [g[0] for g in ghosts]
        inj.data["_seen"] = True
        gid, lat, lon = self.pick(inj.data["_ghosts"])
        if r.random() < 0.6 and visits:
            displace(visits, calls, Visit(gid, lat, lon, None, "ghost"))
        else:
            calls.append((gid, inj))

    def _poach_day(self, rep: Person, inj: Injection, visits: list[Visit], calls: list) -> None:
        r = self.rng
        if "_targets" not in inj.data:
            mates = self.teammates(rep) or [p for p in self.reps if p.honest and p.status == "active" and p is not rep]
            for mate in r.sample(mates, len(mates)):
                pool = [c for c in mate.book.values() if c.stage in ("contacted", "quoted", "signed", "quoting")
                        and c.deal is None and not c.frozen]
                if len(pool) >= 2:
                    break
            else:
                return
            inj.data["colleague_id"] = mate.id
            targets = r.sample(pool, min(len(pool), self.ri(1, 2)))
            inj.data["_targets"] = [c.id for c in targets]
            inj.data["customers"] = list(inj.data["_targets"])
        inj.data["_seen"] = True
        live = [self.customers[c] for c in inj.data["_targets"] if c in self.customers]
        live = [c for c in live if c.owner != rep.id and c.stage != "lost"]
        if not live:
            return
        c = self.pick(live)
        if r.random() < 0.4 and visits:
            displace(visits, calls, Visit(c.id, c.lat, c.lon, c, "poach"))
        else:
            calls.append((c.id, inj))

    def _cold_request(self, rep: Person, inj: Injection) -> int:
        """An order requested for a colleague's customer the poacher has not worked (or has, warmly)."""
        r = self.rng
        mate = self.people.get(inj.data.get("colleague_id", ""))
        inj.data["_cold"] = True
        if mate is None:
            return 0
        pool = [c for c in mate.book.values() if c.stage in ("quoted", "signed", "contacted") and c.deal is None
                and not c.frozen and c.id not in inj.data["_targets"]]
        if not pool:
            return 0
        c = self.pick(pool)
        inj.data["customers"].append(c.id)
        inj.data["_pending"] = inj.data.get("_pending", 0) + 1
        sec = hms(11) + self.rr(5 * 3600)
        self.start_deal(rep, c, sec, "order", inj=inj)
        return sec

    def _bypass(self, rep: Person, inj: Injection, today: set[str]) -> int:
        r = self.rng
        pool = [c for c in rep.book.values() if c.stage in ("quoting", "quoted", "pending_signing", "signed")
                and c.deal is None and not c.frozen and c.id not in today and c.stage_t < self.di * DAY_S]
        if not pool:
            return 0
        c = self.pick(pool)
        sec = hms(11) + self.rr(4 * 3600)
        self.followup(rep, c.id, sec, self.pick(("phone", "wechat")))
        subject = "order" if c.stage == "signed" else "contract"
        if subject == "contract" and c.stage != "pending_signing":
            sec += self.ri(120, 600)
            self.stage(c, "pending_signing", sec, rep.id)
        variant = self.pick(BYPASS)
        inj.data["variants"].append(variant)
        inj.data["_pending"] = inj.data.get("_pending", 0) + 1
        sec += self.ri(300, 1200)
        self.start_deal(rep, c, sec, subject, variant=variant, inj=inj)
        return sec

    def _po_start(self, rep: Person, inj: Injection) -> None:
        """The first day: a few customers go to 'quoting' and from now on live on her personal WeChat."""
        r = self.rng
        inj.data["_started"] = True
        pool = [c for c in rep.book.values() if c.stage in ("contacted", "quoting", "quoted") and c.deal is None]
        pool.sort(key=lambda c: (c.stage != "quoting", c.stage != "quoted", c.id))
        diverted = pool[:self.ri(2, 3)]
        inj.data["customers"] = [c.id for c in diverted]
        sec = hms(11) + self.rr(3600)
        for c in diverted:
            sec += self.ri(300, 1200)
            self.followup(rep, c.id, sec, "phone", inj=inj, note="Customer asked for a quote")
            if c.stage != "quoting":
                self.stage(c, "quoting", sec + self.ri(60, 300), rep.id, inj)
            c.frozen = True
        inj.data["_cafe_at"] = self._cafe(rep)
        inj.data["_private"] = r.random() < 0.7

    def _cafe(self, rep: Person) -> tuple[float, float]:
        """A cafe in her territory at least 1.5 km from every customer she might plan."""
        r = self.rng
        best, best_d = rep.center, -1.0
        for _ in range(40):
            lat, lon = away(r, rep.center[0], rep.center[1], 500, 5000)
            d = min((dist_m(lat, lon, c.lat, c.lon) for c in rep.book.values()), default=1e9)
            if d > 1500:
                return r6(lat), r6(lon)
            if d > best_d:
                best, best_d = (r6(lat), r6(lon)), d
        return best

    def _po_evening(self, rep: Person, inj: Injection) -> int:
        r = self.rng
        if not inj.data.get("_private") or "_private_done" in inj.data or r.random() > 0.2:
            return 0
        inj.data["_private_done"] = True
        cid = self.new_id("cust", "C")
        inj.data["private_customer_id"] = cid
        sec = hms(19) + self.rr(9000)
        self.followup(rep, cid, sec, "wechat", inj=inj, note="Price for 2,000 units, cash on delivery")
        return sec

    def _po_end(self, rep: Person, inj: Injection) -> None:
        r = self.rng
        sec = hms(18, 30)
        for cid in inj.data["customers"]:
            c = self.customers.get(cid)
            if c is not None and c.stage != "lost":
                sec += self.ri(60, 600)
                self.stage(c, "lost", sec, rep.id, inj)
                c.frozen = False
        if inj.data.get("_dismiss"):
            withhold = None
            if inj.data.get("_withhold"):
                withhold = self.inject(Injection("unsettled_termination", rep.id, self.di, self.di,
                                                 {"reason": "dismissed after private orders", "withheld": True}))
                rep.inj["unsettled_termination"] = withhold
            inj.data["dismissed"] = True
            self.dismiss(rep, hms(19, 30), "misconduct: private orders", withhold)
        self.close(inj)
