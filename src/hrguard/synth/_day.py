"""A sales rep's working day: a morning plan, clock-ins at the planned customers, visits with photos,
calls, stage changes and deals, and an evening summary — reshaped by misconduct and honest noise.
"""

from __future__ import annotations

from typing import Any

from ._geo import DAY_S, dist_m, fix, hhmm, hms, r6, scatter
from ._misconduct import Misconduct, Visit, displace
from ._model import WATCH, Customer, Person
from ._scenarios import Injection

SLOTS = ((hms(9, 30), hms(11)), (hms(13, 30), hms(15)), (hms(16), hms(17, 30)))
SLOTS_AFTER_MEETING = ((hms(10, 15), hms(11, 45)), (hms(13, 30), hms(15)), (hms(16), hms(17, 30)))
MEETING = (hms(8, 45), hms(9, 45))
STAGE_W = {"lead": 1.5, "contacted": 2.5, "quoting": 4.0, "quoted": 3.0, "pending_signing": 4.0, "signed": 0.8}
VISIT_NOTES = ("Discussed pricing", "Presented the new catalogue", "Walked the plant with the buyer",
               "Reviewed the quote line by line", "Met the purchasing manager", "Checked delivery schedule",
               "Collected requirements", "Demo of the new line")
CALL_NOTES = ("Confirmed the meeting", "Sent the revised quote", "Answered questions on delivery",
              "Followed up on payment", "Asked about the tender", "Price check for next quarter")
NEXT_STEPS = ("Send quote", "Call back next week", "Arrange a site visit", None, "Wait for their legal review", None)


def _active(rep: Person, name: str, di: int) -> Injection | None:
    inj = rep.inj.get(name)
    return inj if inj is not None and inj.active(di) else None


class RepDay(Misconduct):
    """The whole company: its core, people's comings and goings, deals, and every sales rep's day."""

    # -- choosing whom to see -------------------------------------------------------------------------
    def choose(self, rep: Person, n: int) -> tuple[list[Customer], list[Customer]]:
        """Visits and calls for today: customers in a watched stage going quiet first, then a weighted pick."""
        r = self.rng
        now = self.di * DAY_S + hms(9)
        # who cannot wait two working days (tomorrow may be lost to a sick day or a long meeting)
        horizon = (self.next_workday(self.di, 2) - self.di + 1) * DAY_S
        urgent: list[Customer] = []
        rest: list[Customer] = []
        drop: list[Customer] = []
        for c in rep.book.values():
            if c.frozen:
                continue
            if c.stage == "lost":
                if now - c.last > 14 * DAY_S and c.deal is None:
                    drop.append(c)
                continue
            lim = WATCH.get(c.stage or "")
            if lim is not None and c.last + lim - now <= horizon:
                urgent.append(c)
            else:
                rest.append(c)
        for c in drop:  # forgotten: memory does not grow with days
            del rep.book[c.id]
            self.customers.pop(c.id, None)
        urgent.sort(key=lambda c: (c.last, c.id))
        visits, calls = urgent[:n], urgent[n:]
        if rest:  # a random priority, higher for hot stages and for customers not seen for a while
            rnd = self._rnd
            keyed = sorted(rest, key=lambda c: -rnd() * STAGE_W.get(c.stage or "", 1.0)
                           * (1.0 + (now - c.last) / (4 * DAY_S)))
            need = n - len(visits)
            visits += keyed[:max(0, need)]
            calls += keyed[max(0, need):max(0, need) + self.pick((0, 1, 1, 2))]
        return visits, calls

    # -- contact, progress -----------------------------------------------------------------------------
    def followup(self, rep: Person, cid: str, sec: int, channel: str, photos: list | None = None,
                 inj: Injection | None = None, note: str | None = None) -> None:
        r = self.rng
        note = note or self.pick(VISIT_NOTES if channel == "visit" else CALL_NOTES)
        self.emit(sec, "followup.logged", rep.id, {"customer_id": cid, "channel": channel, "summary": note,
                                                   "next_step": self.pick(NEXT_STEPS), "photos": photos or []}, inj)
        c = self.customers.get(cid)
        if c is not None:
            c.last = max(c.last, self.di * DAY_S + sec)

    def progress(self, rep: Person, c: Customer, sec: int) -> int:
        """Maybe move the customer along after a contact; return the last second used."""
        if c.deal is not None or c.frozen or c.owner != rep.id or self.di * DAY_S + sec <= c.stage_t:
            return sec  # (a stage change already recorded for later today comes first)
        r = self.rng
        x = r.random()
        st = c.stage
        sec += self.ri(120, 900)
        if st == "lead" and x < 0.5:
            self.stage(c, "contacted", sec, rep.id)
        elif st == "contacted" and x < 0.14:
            self.stage(c, "quoting" if x < 0.12 else "lost", sec, rep.id)
        elif st == "quoting" and x < 0.3:
            self.stage(c, "quoted", sec, rep.id)
        elif st == "quoted" and x < 0.16:
            if x < 0.12:
                self.stage(c, "pending_signing", sec, rep.id)
                sec += self.ri(300, 1500)
                self.start_deal(rep, c, sec, "contract")
            else:
                self.stage(c, "lost", sec, rep.id)
        elif st == "signed" and x < 0.04:
            sec += self.ri(300, 1500)
            self.start_deal(rep, c, sec, "order")
        return sec

    def photo(self, rep: Person, lat: float, lon: float, sec: int, taken_t: int | None = None) -> dict[str, Any]:
        r = self.rng
        self.counts["photo"] += 1
        p: dict[str, Any] = {"uri": f"oss://hrguard-photos/{rep.id}/{self.clock.iso}/{self.counts['photo']}.jpg"}
        if r.random() < 0.93:  # some phones strip the location from photos
            plat, plon = scatter(r, lat, lon, 15)
            p["lat"], p["lon"] = r6(plat), r6(plon)
        t = self.di * DAY_S + sec - self.ri(60, 900) if taken_t is None else taken_t
        p["taken_at"] = self.ts_abs(t)
        return p

    def punch(self, rep: Person, sec: int, direction: str, lat: float, lon: float, *, cid: str | None = None,
              site: str | None = None, inj: Injection | None = None, good: bool = False) -> None:
        plat, plon, acc = fix(self.rng, lat, lon, 0.0 if good else rep.poor_rate, rep.poor_hi)
        ev: dict[str, Any] = {"direction": direction, "lat": plat, "lon": plon, "accuracy_m": acc, "source": "gps"}
        if cid is not None:
            ev["customer_id"] = cid
        if site is not None:
            ev["site_id"] = site
        if inj is None and acc >= 60 and "poor_gps" in rep.inj:
            inj = rep.inj["poor_gps"]
        self.emit(sec, "attendance.punched", rep.id, ev, inj)

    # -- the day -------------------------------------------------------------------------------------
    def rep_day(self, rep: Person) -> None:
        co = rep.inj.get("coasting")
        if co is None:
            self._rep_day(rep)
            return
        start = len(self.buf)
        self._rep_day(rep)
        if co.active(self.di):
            self._coast(rep, co, start)
        if self.di >= co.end_di:
            self.close(co)

    def _coast(self, rep: Person, inj: Injection, start: int) -> None:
        """Reshape the rep's day just generated (``self.buf[start:]``) into a coasting one, drawing only
        from ``self.crng``: at most two visits (a dropped one leaves the plan and the summary too, so
        everything still matches), each begun 25-60 minutes into its planned window and over after 10-25
        minutes. Customers that cannot wait (a watched stage, or moved along today) keep their visit."""
        cr = self.crng
        mine = [k for k in range(start, len(self.buf)) if self.buf[k][2]["employee_id"] == rep.id]
        groups: list[dict[str, Any]] = []  # a visit: its clock-in, follow-up and clock-out (buffer indexes)
        moved: set[str] = set()
        for k in mine:
            ev = self.buf[k][2]
            kind = ev["kind"]
            if kind == "attendance.punched" and "site_id" not in ev:
                if ev["direction"] == "in":
                    groups.append({"in": k})
                elif groups and "out" not in groups[-1]:
                    groups[-1]["out"] = k
            elif kind == "followup.logged" and ev["channel"] == "visit" and groups and "fu" not in groups[-1]:
                groups[-1]["fu"] = k
                groups[-1]["cid"] = ev["customer_id"]
            elif kind in ("customer.stage_changed", "approval.requested"):
                moved.add(ev["customer_id"])
        groups = [g for g in groups if {"in", "fu", "out"} <= g.keys()]
        if not groups:
            return
        plans = [self.buf[k][2] for k in mine if self.buf[k][2]["kind"] == "plan.submitted"]
        keep = 1 if cr.random() < 0.6 else 2
        drop: set[int] = set()
        for g in reversed(groups):
            if len(groups) - len(drop) <= keep:
                break
            c = self.customers.get(g["cid"])
            if g["cid"] in moved or (c is not None and (c.stage in WATCH or c.deal is not None)):
                continue
            drop.update((g["in"], g["fu"], g["out"]))
            for plan in plans:
                plan["items"] = [it for it in plan["items"] if it.get("customer_id") != g["cid"]]
            for k in mine:
                ev = self.buf[k][2]
                if ev["kind"] == "summary.submitted":
                    ev["claims"] = [c for c in ev["claims"]
                                    if not (c["customer_id"] == g["cid"] and c["activity"] == "visit")]
        windows = {it["customer_id"]: it for plan in plans for it in plan["items"] if "customer_id" in it}
        for g in groups:
            if g["in"] in drop or g["cid"] not in windows:
                continue
            it = windows[g["cid"]]
            lo = int(it["start"][:2]) * 3600 + int(it["start"][3:5]) * 60
            hi = int(it["end"][:2]) * 3600 + int(it["end"][3:5]) * 60
            t_in = min(lo + int(cr.uniform(25, 60) * 60), hi - 600)
            t_fu = t_in + int(cr.uniform(3, 8) * 60)
            t_out = t_in + int(cr.uniform(10, 25) * 60)
            for k, t in ((g["in"], t_in), (g["fu"], t_fu), (g["out"], t_out)):
                sec, seq, ev = self.buf[k]
                ev["ts"] = self.clock.ts(t)
                self.buf[k] = (t, seq, ev)
            for photo in self.buf[g["fu"]][2]["photos"]:
                photo["taken_at"] = self.ts_abs(self.di * DAY_S + t_fu - int(cr.uniform(1, 4) * 60))
            inj.mark(self.di * DAY_S + t_in)
        if drop:
            self.buf = [b for k, b in enumerate(self.buf) if k not in drop]

    def _rep_day(self, rep: Person) -> None:
        r, di = self.rng, self.di
        if rep.status == "gone" or (rep.away is not None and rep.away[0] <= di <= rep.away[1]):
            return
        if rep.honest and rep.hired_di < di and r.random() < 0.006:
            return  # off sick
        po = _active(rep, "private_orders", di)
        fv = _active(rep, "fake_visits", di)
        ab = _active(rep, "approval_bypass", di)
        pc = _active(rep, "poaching", di)
        gh = _active(rep, "ghost_customers", di)
        sl = _active(rep, "sloppy_reporting", di)
        if po is not None and "_started" not in po.data:
            self._po_start(rep, po)
        live = sum(1 for c in rep.book.values() if c.stage != "lost" and not c.frozen)
        if live < 4:  # a new hire: a day at the office finding leads
            self._office_day(rep)
            return
        n = 3 if r.random() < 0.4 else 2
        meeting = rep.meeting and self.day.weekday() == 0
        slots = SLOTS_AFTER_MEETING if meeting else SLOTS
        chosen, call_c = self.choose(rep, n)
        visits = [Visit(c.id, c.lat, c.lon, c, "real") for c in chosen]
        calls: list[tuple[str, Injection | None]] = [(c.id, None) for c in call_c]

        # misconduct and honest noise reshape the day
        changed: Visit | None = None
        change_how = None
        if gh is not None and (r.random() < 0.5 or "_seen" not in gh.data):
            self._ghost_day(rep, gh, visits, calls)
        if pc is not None and (r.random() < 0.45 or "_seen" not in pc.data):
            self._poach_day(rep, pc, visits, calls)
        cafe = po is not None and (r.random() < 0.5 or "_cafe" not in po.data) and len(visits) >= 2
        if cafe:
            po.data["_cafe"] = True
            for v in visits:
                v.mode = "cafe"
        if fv is not None and (r.random() < 0.65 or "_seen" not in fv.data):
            far = [v for v in visits if v.mode == "real" and dist_m(*rep.home, v.lat, v.lon) > 2500]
            for v in far[:self.pick((1, 1, 2))]:
                v.mode = "fake"
                fv.data["_seen"] = True
        if rep.honest and len(visits) >= 2 and r.random() < 0.03:
            busy = {v.cid for v in visits} | {cid for cid, _ in calls}
            spare = [c for c in rep.book.values() if c.stage not in ("lost", None) and not c.frozen
                     and c.id not in busy]
            if spare:
                c = self.pick(spare)
                changed = Visit(c.id, c.lat, c.lon, c, "real")
                change_how = "resubmitted" if r.random() < 0.6 else "picked_at_punch"
        for v, slot in zip(visits, slots):
            v.slot = slot

        # the morning plan
        plan_sec: int | None = hms(7, 45) + self.rr(100 * 60)
        if r.random() < 0.004:
            plan_sec = hms(10, 5) + self.rr(80 * 60)  # honest people are sometimes late too
        if sl is not None:
            x = r.random()
            if x < 0.12 or "_seen" not in sl.data:
                plan_sec = None if x < 0.04 else hms(10, 10) + self.rr(95 * 60)
                sl.data["_seen"] = True
        items = [{"site_id": rep.site[0], "start": hhmm(MEETING[0]), "end": hhmm(MEETING[1]),
                  "purpose": "team meeting"}] if meeting else []
        items += [{"customer_id": v.cid, "start": hhmm(v.slot[0]), "end": hhmm(v.slot[1]), "purpose": "visit"}
                  for v in visits]
        if plan_sec is not None and items:
            modes = {v.mode for v in visits}
            why = sl if sl is not None and plan_sec > hms(10) else gh if "ghost" in modes else None
            self.emit(plan_sec, "plan.submitted", rep.id, {"date": self.clock.iso, "items": items}, why)
        if sl is not None and (plan_sec is None or plan_sec > hms(10)):
            sl.mark(di * DAY_S + hms(10))  # no plan by the 10:00 deadline
        last = plan_sec or hms(9)
        if meeting:
            t = MEETING[0] - self.ri(0, 900)
            self.punch(rep, t, "in", rep.site[2], rep.site[3], site=rep.site[0], good=True)

        # the visits
        noise: Injection | None = None
        if changed is not None:
            old = visits[-1]
            changed.slot = old.slot
            noise = self.inject(Injection("plan_changed", rep.id, di, di, {
                "date": self.clock.iso, "planned_customer_id": old.cid, "visited_customer_id": changed.cid,
                "how": change_how}))
            if plan_sec is not None:
                noise.mark(di * DAY_S + plan_sec)
            if change_how == "resubmitted":
                t = hms(12) + self.rr(4500)
                new_items = [dict(it) for it in items]
                new_items[-1]["customer_id"] = changed.cid
                self.emit(t, "plan.submitted", rep.id, {"date": self.clock.iso, "items": new_items}, noise)
            displace(visits, calls, changed)
        # visits and calls, in the order they happen (each may move its customer along)
        contacts: list[tuple[int, int, Any]] = []
        for k, v in enumerate(visits):
            v.t_in = v.slot[0] + self.ri(-600, 1200)
            contacts.append((v.t_in, k, v))
        for k, call in enumerate(calls):
            sec = (hms(12) + self.rr(4500)) if r.random() < 0.5 else (hms(17, 40) + self.rr(4800))
            contacts.append((sec, 100 + k, call))
        contacts.sort(key=lambda x: (x[0], x[1]))
        for sec, k, what in contacts:
            if isinstance(what, Visit):
                last = max(last, self._visit(rep, what, k, len(visits), sl, fv, po,
                                             noise if what is changed else None,
                                             change_how if what is changed else None))
                continue
            cid, inj = what
            self.followup(rep, cid, sec, self.pick(("phone", "phone", "wechat", "wechat", "email")), inj=inj)
            c = self.customers.get(cid)
            if inj is None and c is not None:
                sec = self.progress(rep, c, sec)
            last = max(last, sec)
        if cafe:
            po.mark(di * DAY_S + visits[0].slot[0])

        # whatever else misconduct does today
        if ab is not None and di in ab.data["_days"]:
            last = max(last, self._bypass(rep, ab, {v.cid for v in visits} | {cid for cid, _ in calls}))
        if pc is not None and "_cold" not in pc.data and di > pc.start_di + 2:
            last = max(last, self._cold_request(rep, pc))
        if po is not None:
            last = max(last, self._po_evening(rep, po))

        # the evening summary: what the rep says the day was
        claims = [{"customer_id": v.cid, "activity": "visit"} for v in visits]
        claims += [{"customer_id": cid, "activity": "call"} for cid, _ in calls]
        skip = sl is not None and (r.random() < 0.3 or "_nosum" not in sl.data)
        if skip:
            sl.data["_nosum"] = True
            sl.mark(di * DAY_S + hms(23, 59))
        elif claims:
            sec = max(last + self.ri(600, 3600), hms(17, 45) + self.rr(3 * 3600))
            modes = {v.mode for v in visits}
            why = po if cafe else fv if "fake" in modes else gh if "ghost" in modes else None
            self.emit(sec, "summary.submitted", rep.id, {"date": self.clock.iso, "claims": claims}, why)
        if live < 12 or r.random() < 0.05:  # new leads, registered after the day's work
            sec = max(last, hms(17)) + self.ri(300, 3600)
            for _ in range(1 if live >= 8 else 3):
                c = self.new_customer(rep)
                sec += self.ri(30, 300)
                self.register(c, sec, rep.id)
                self.stage(c, "lead", sec + 60, rep.id)
        if po is not None and di >= po.end_di:
            self._po_end(rep, po)
        for inj in (fv, gh, sl, pc, ab):
            if inj is not None and di >= inj.end_di and not inj.data.get("_pending"):
                self.close(inj)

    def _office_day(self, rep: Person) -> None:
        """A new hire's first day at the office: onboarding, and a first list of leads."""
        r = self.rng
        for _ in range(8):
            c = self.new_customer(rep)
            sec = hms(10) + self.rr(6 * 3600)
            self.register(c, sec, rep.id)
            self.stage(c, "lead", sec + 60, rep.id)
        sec = hms(8, 20) + self.rr(1800)
        self.emit(sec, "plan.submitted", rep.id, {"date": self.clock.iso, "items": [
            {"site_id": rep.site[0], "start": "09:00", "end": "18:00", "purpose": "onboarding"}]})
        site = rep.site
        self.punch(rep, hms(8, 50) + self.rr(600), "in", site[2], site[3], site=site[0], good=True)
        self.punch(rep, hms(17, 45) + self.rr(1800), "out", site[2], site[3], site=site[0], good=True)
        self.emit(hms(18, 30) + self.rr(3600), "summary.submitted", rep.id, {"date": self.clock.iso, "claims": []})

    def _visit(self, rep: Person, v: Visit, k: int, n: int, sl: Injection | None, fv: Injection | None,
               po: Injection | None, noise: Injection | None, how: str | None) -> int:
        r = self.rng
        t_in = v.t_in
        t_fu = t_in + self.ri(900, 2400)
        t_out = t_in + self.ri(2700, 4500)
        if v.mode == "cafe":  # the whole day at a cafe: clock in for the first visit, out for the last
            cafe = po.data["_cafe_at"]
            if k == 0:
                self.punch(rep, t_in, "in", *cafe, inj=po, good=True)
            if k == n - 1:
                self.punch(rep, t_out, "out", *cafe, inj=po, good=True)
            return t_out
        if v.mode == "fake":  # from home
            self.punch(rep, t_in, "in", *rep.home, inj=fv, good=True)
            how = r.random()
            if how < 0.3:
                photos: list = []
            elif how < 0.65:
                photos = [self.photo(rep, *rep.home, t_fu)]
            else:  # last month's photo of the customer
                photos = [self.photo(rep, v.lat, v.lon, t_fu, taken_t=self.di * DAY_S + t_fu - self.ri(3, 20) * DAY_S)]
            self.followup(rep, v.cid, t_fu, "visit", photos, inj=fv)
            self.punch(rep, t_out, "out", *rep.home, inj=fv, good=True)
            return t_out
        inj = None
        if v.mode == "ghost":
            inj = rep.inj.get("ghost_customers")
        elif v.mode == "poach":
            inj = rep.inj.get("poaching")
        pick = v.cid if (r.random() < 0.4 or how == "picked_at_punch") else None
        self.punch(rep, t_in, "in", v.lat, v.lon, cid=pick, inj=noise)
        no_photo = sl is not None and r.random() < 0.3
        if no_photo:
            sl.mark(self.di * DAY_S + t_fu)
        self.followup(rep, v.cid, t_fu, "visit", [] if no_photo else [self.photo(rep, v.lat, v.lon, t_fu)], inj=inj)
        last = t_fu
        if v.mode == "real" and v.cust is not None:
            last = self.progress(rep, v.cust, t_fu)
        self.punch(rep, t_out, "out", v.lat, v.lon, cid=pick, inj=noise)
        return max(last, t_out)
