"""A deterministic synthetic event log of a Shanghai sales company, streamed to JSON Lines.

    python benchmarks/gen_events.py --events 1000000 --seed 1 --out benchmarks/data/events-1000000.jsonl

The company scales with ``--events``: about one sales rep per 2,000 events (at least 5), ten reps
to a manager, a finance and a legal approver, ~40 customers per rep around Shanghai, over roughly
200 working days. Every working day each rep submits a plan (2-3 customer visits with ``HH:MM``
windows, sometimes an office meeting at a site), punches in and out at each visit (mostly within
~50 m of the customer), logs follow-ups (visits with photos, calls, WeChat), moves customers through
the stages, sends contracts and repeat orders through manager -> finance -> legal approval before
recording the order, and ends the day with a summary of what it did. Punches and follow-ups are the
bulk (~38% and ~31%), then plans and summaries (~8% each).

Mostly honest, with a realistic sprinkling of what the default ruleset looks for (~3% of events
give a finding): punches a few km away (~2%) or manual without a location (~1%), visits without
photos or with photos taken elsewhere, customers neglected in ``quoting``/``pending_signing``,
missing summaries, claims without a trace, orders past the approval loop, calls to a colleague's
customer.

Memory stays flat: events are produced one working day at a time (~11 per rep), sorted
by time with some local shuffling (~5% of lines moved by up to ten minutes), written, and dropped.
The same ``(events, seed)`` always gives the same bytes.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


START = date(2025, 1, 6)  # a Monday
CENTER = (31.2304, 121.4737)  # People's Square, Shanghai
SITES = [("S-HQ", "Head office", 31.2280, 121.4750, 150.0),
         ("S-PD", "Pudong branch", 31.2215, 121.5440, 200.0),
         ("S-WH", "Jiading warehouse", 31.3740, 121.2650, 300.0)]
STAGES = ("lead", "contacted", "quoting", "quoted", "pending_signing", "signed")
HOT = {"quoting", "quoted", "pending_signing"}
CHANNELS = ("phone", "wechat", "wechat", "email", "meeting")
WINDOWS = ((9 * 60 + 30, 11 * 60), (13 * 60 + 30, 14 * 60 + 45), (15 * 60 + 45, 17 * 60 + 15))  # minutes of day
NAMES_A = ("Huaxin", "Pudong", "Jing'an", "Yangpu", "Xuhui", "Hongqiao", "Lujiazui", "Minhang", "Baoshan",
           "Songjiang", "Changning", "Hongkou", "Putuo", "Jiading", "Qingpu", "Fengxian")
NAMES_B = ("Trading", "Machinery", "Foods", "Textiles", "Medical", "Logistics", "Electric", "Steel Parts",
           "Chemicals", "Packaging", "Software", "Furniture", "Auto Parts", "Printing")
SUMMARIES = ("Discussed pricing", "Sent the revised quote", "Demo of the new line", "Follow-up on delivery",
             "Contract terms reviewed", "Introduced the team", "Collected requirements", "Checked payment status")
NEXT_STEPS = ("Send quote", "Call back next week", "Arrange site visit", None, "Wait for legal review", None)


def _ts(day: date, sec: int) -> str:
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"{day.isoformat()}T{h:02d}:{m:02d}:{s:02d}+08:00"


class _Company:
    def __init__(self, n_events: int, seed: int, reps: int | None = None):
        self.rng = random.Random(seed)
        self.n_reps = reps if reps is not None else max(5, n_events // 2000)
        self.n_managers = max(1, (self.n_reps + 9) // 10)
        self.reps = [f"E{i:05d}" for i in range(1, self.n_reps + 1)]
        self.managers = [f"M{i:04d}" for i in range(1, self.n_managers + 1)]
        self.finance = "F0001"
        self.customers: dict[str, dict[str, Any]] = {}
        self.portfolio: dict[str, list[str]] = {r: [] for r in self.reps}
        self.legal = "L0001"
        self.scheduled: dict[int, list[tuple[int, dict[str, Any]]]] = {}  # working day -> events due that day
        self.next_customer = 1
        self.next_order = 1
        self.next_request = 1

    # -- helpers -----------------------------------------------------------------------------------
    def manager_of(self, rep: str) -> str:
        return self.managers[(int(rep[1:]) - 1) // 10]

    def new_customer(self, owner: str) -> dict[str, Any]:
        rng = self.rng
        cid = f"C{self.next_customer:07d}"
        self.next_customer += 1
        located = rng.random() >= 0.05
        lat = round(rng.gauss(CENTER[0], 0.09), 6) if located else None
        lon = round(rng.gauss(CENTER[1], 0.11), 6) if located else None
        c = {"id": cid, "owner": owner, "stage": "lead", "lat": lat, "lon": lon, "last": -1, "neglect_until": -1}
        self.customers[cid] = c
        self.portfolio[owner].append(cid)
        ev = {"kind": "customer.registered", "customer_id": cid,
              "name": f"{rng.choice(NAMES_A)} {rng.choice(NAMES_B)} {cid[-4:]}", "owner_id": owner,
              "lat": lat, "lon": lon, "address": "Shanghai" if located else None}
        return ev

    def pick(self, rep: str, day_no: int, k: int) -> list[str]:
        """Up to ``k`` distinct customers: the hot ones idle longest first, then any (neglected skipped)."""
        rng = self.rng
        ok = [c for c in self.portfolio[rep] if self.customers[c]["neglect_until"] < day_no]
        hot = sorted((c for c in ok if self.customers[c]["stage"] in HOT), key=lambda c: self.customers[c]["last"])
        chosen = hot[: max(1, k - 1)]
        rest = [c for c in ok if c not in chosen]
        rng.shuffle(rest)
        for c in rest:
            if len(chosen) >= k:
                break
            chosen.append(c)
        return chosen

    # -- the story ---------------------------------------------------------------------------------
    def opening(self) -> list[tuple[int, dict[str, Any]]]:
        rng = self.rng
        out: list[tuple[int, dict[str, Any]]] = []
        t = 8 * 3600
        for sid, name, lat, lon, radius in SITES:
            out.append((t, {"kind": "site.registered", "employee_id": None, "site_id": sid, "name": name,
                            "lat": lat, "lon": lon, "radius_m": radius}))
        for m in self.managers:
            out.append((t + 60, {"kind": "employee.hired", "employee_id": m, "role": "manager",
                                 "department": "sales", "manager_id": None, "home_site_id": "S-HQ"}))
        out.append((t + 60, {"kind": "employee.hired", "employee_id": self.finance, "role": "finance",
                             "department": "finance", "manager_id": None, "home_site_id": "S-HQ"}))
        out.append((t + 60, {"kind": "employee.hired", "employee_id": self.legal, "role": "legal",
                             "department": "legal", "manager_id": None, "home_site_id": "S-HQ"}))
        for r in self.reps:
            out.append((t + 120, {"kind": "employee.hired", "employee_id": r, "role": "sales", "department": "sales",
                                  "manager_id": self.manager_of(r), "home_site_id": rng.choice(SITES)[0]}))
        for r in self.reps:
            for _ in range(40):
                ev = self.new_customer(r)
                ev["employee_id"] = r
                out.append((t + 300 + rng.randrange(3000), ev))
        return out

    def advance(self, rep: str, cid: str, day: date, sec: int, day_no: int, out: list) -> None:
        """Maybe move a customer one stage on (and what that entails)."""
        rng = self.rng
        c = self.customers[cid]
        stage = c["stage"]
        if stage in ("signed", "pending_signing") or rng.random() >= 0.18:
            return  # pending_signing moves on when its approval chain is through (see deal)
        if stage in HOT and rng.random() < 0.12:
            new = "lost"
        else:
            new = STAGES[STAGES.index(stage) + 1]
        out.append((sec, {"kind": "customer.stage_changed", "employee_id": rep, "customer_id": cid,
                          "stage": new, "previous_stage": stage}))
        c["stage"] = new
        if new in ("quoting", "pending_signing") and rng.random() < 0.04:
            c["neglect_until"] = day_no + rng.randrange(8, 25)  # a customer left idle: a stall to find
        if new == "pending_signing":  # the contract goes through approval; signed when it is through
            self.deal(rep, cid, day_no, sec + 120, round(rng.lognormvariate(11, 0.8), 2), "contract", out)
        if new == "lost":
            self.portfolio[rep].remove(cid)  # a new lead replaces it next morning (see day)

    def day(self, day: date, day_no: int) -> list[tuple[int, dict[str, Any]]]:
        rng = self.rng
        out: list[tuple[int, dict[str, Any]]] = []
        for rep in self.reps:
            self.portfolio[rep] = [c for c in self.portfolio[rep] if self.customers[c].get("closed_on", day_no) >= day_no]
            while len(self.portfolio[rep]) < 40:  # new leads for the customers signed or lost
                ev = self.new_customer(rep)
                ev["employee_id"] = rep
                out.append((7 * 3600 + 30 * 60 + rng.randrange(1800), ev))
            if rng.random() < 0.04:
                continue  # on leave
            visits = self.pick(rep, day_no, rng.choice((2, 2, 3)))
            windows = sorted(rng.sample(WINDOWS, len(visits)))
            items = [{"customer_id": c, "start": f"{a // 60:02d}:{a % 60:02d}", "end": f"{b // 60:02d}:{b % 60:02d}",
                      "purpose": "visit"} for c, (a, b) in zip(visits, windows)]
            site = None
            if rng.random() < 0.1:
                site = rng.choice(SITES)
                items.insert(0, {"site_id": site[0], "start": "08:00", "end": "08:45", "purpose": "team meeting"})
            out.append((8 * 3600 + rng.randrange(1800), {"kind": "plan.submitted", "employee_id": rep,
                                                          "date": day.isoformat(), "items": items}))
            if site is not None:
                self.punch(rep, 8 * 3600 + 20 * 60 + rng.randrange(900), "in", site[2], site[3], None, site[0], out)
            claims = []
            for cid, (a, b) in zip(visits, windows):
                c = self.customers[cid]
                t_in = a * 60 + rng.randrange(-10 * 60, 20 * 60)
                t_out = b * 60 + rng.randrange(-10 * 60, 15 * 60)
                self.punch(rep, t_in, "in", c["lat"], c["lon"], cid, None, out)
                self.punch(rep, t_out, "out", c["lat"], c["lon"], cid, None, out)
                out.append((t_out + rng.randrange(60, 1800), {
                    "kind": "followup.logged", "employee_id": rep, "customer_id": cid, "channel": "visit",
                    "summary": rng.choice(SUMMARIES), "next_step": rng.choice(NEXT_STEPS),
                    "photos": self.photos(rep, day, cid, t_in)}))
                c["last"] = day_no
                claims.append({"customer_id": cid, "activity": "visit"})
                self.advance(rep, cid, day, t_out + 1900, day_no, out)
            for cid in self.pick(rep, day_no, rng.choice((1, 2, 2, 3))):
                if cid in visits:
                    continue
                sec = 9 * 3600 + rng.randrange(8 * 3600)
                channel = rng.choice(CHANNELS)
                out.append((sec, {"kind": "followup.logged", "employee_id": rep, "customer_id": cid,
                                  "channel": channel, "summary": rng.choice(SUMMARIES),
                                  "next_step": rng.choice(NEXT_STEPS)}))
                self.customers[cid]["last"] = day_no
                claims.append({"customer_id": cid, "activity": "other" if channel == "meeting" else "call"})
                self.advance(rep, cid, day, sec + 60, day_no, out)
            if rng.random() < 0.003:  # a call to a colleague's customer
                other = self.reps[rng.randrange(self.n_reps)]
                if other != rep and self.portfolio[other]:
                    out.append((9 * 3600 + rng.randrange(8 * 3600), {
                        "kind": "followup.logged", "employee_id": rep, "customer_id": rng.choice(self.portfolio[other]),
                        "channel": "phone", "summary": rng.choice(SUMMARIES), "next_step": None}))
            if rng.random() < 0.06:  # a repeat order from a customer visited today
                self.deal(rep, visits[0], day_no, 17 * 3600 + 45 * 60, round(rng.lognormvariate(9.5, 1.0), 2),
                          "order", out)
            if rng.random() < 0.03:
                claims.append({"customer_id": rng.choice(self.portfolio[rep]), "activity": rng.choice(("visit", "call"))})
            if rng.random() < 0.97:
                out.append((18 * 3600 + 30 * 60 + rng.randrange(3600), {
                    "kind": "summary.submitted", "employee_id": rep, "date": day.isoformat(), "claims": claims}))
        out.extend(self.scheduled.pop(day_no, ()))
        return out

    def photos(self, rep: str, day: date, cid: str, t_in: int) -> list[dict[str, Any]]:
        """A visit's photos: usually one or two at the customer, taken during the visit."""
        rng = self.rng
        c = self.customers[cid]
        r = rng.random()
        if r < 0.04:
            return []
        out = []
        for k in range(rng.choice((1, 1, 2))):
            ph: dict[str, Any] = {"uri": f"oss://photos/{rep}/{day.isoformat()}/{cid}-{k}.jpg"}
            if c["lat"] is not None and r > 0.06:
                ph["lat"] = round(c["lat"] + rng.gauss(0, 0.0003), 6)
                ph["lon"] = round(c["lon"] + rng.gauss(0, 0.0003), 6)
            elif c["lat"] is not None:  # taken elsewhere
                ph["lat"], ph["lon"] = round(c["lat"] + 0.03, 6), round(c["lon"] - 0.02, 6)
            ph["taken_at"] = _ts(day, min(86_399, t_in + rng.randrange(120, 3600)))
            out.append(ph)
        return out

    def later(self, day_no: int, sec: int, ev: dict[str, Any]) -> None:
        self.scheduled.setdefault(day_no, []).append((sec, ev))

    def deal(self, rep: str, cid: str, day_no: int, sec: int, amount: float, subject: str, out: list) -> None:
        """An approval request, then manager, finance and legal decisions on the following days, then the order."""
        rng = self.rng
        oid = f"O{self.next_order:07d}"
        self.next_order += 1
        order = {"kind": "order.recorded", "employee_id": rep, "order_id": oid, "customer_id": cid,
                 "amount": amount if rng.random() < 0.7 else f"{amount:.2f}", "type": subject,
                 "approval_request_id": None}
        if rng.random() < 0.02:  # straight past the approval loop
            out.append((min(86_399, sec + 600), order))
            return
        req = f"R{self.next_request:07d}"
        self.next_request += 1
        out.append((sec, {"kind": "approval.requested", "employee_id": rep, "request_id": req, "subject": subject,
                          "subject_id": oid, "customer_id": cid, "amount": round(amount * rng.choice((1, 1, 1.05)), 2)}))
        order["approval_request_id"] = req
        contract = subject == "contract" and self.customers[cid]["stage"] == "pending_signing"
        for offset, (step, who) in enumerate((("manager", self.manager_of(rep)), ("finance", self.finance),
                                              ("legal", self.legal)), start=1):
            decision = "approved" if rng.random() < 0.97 else "rejected"
            self.later(day_no + offset, 10 * 3600 + rng.randrange(6 * 3600),
                       {"kind": "approval.decided", "employee_id": who, "request_id": req, "step": step,
                        "decision": decision})
            if decision == "rejected" and rng.random() < 0.9:  # the deal stops (else it goes ahead anyway)
                if contract:
                    self.close(rep, cid, day_no + offset, "lost")
                return
        self.later(day_no + 4, 9 * 3600 + rng.randrange(8 * 3600), order)
        if contract:
            self.close(rep, cid, day_no + 4, "signed")

    def close(self, rep: str, cid: str, day_no: int, stage: str) -> None:
        """A customer signed or lost leaves the active portfolio (on ``day_no``); a new lead takes its place."""
        c = self.customers[cid]
        self.later(day_no, 17 * 3600 + 50 * 60, {"kind": "customer.stage_changed", "employee_id": rep,
                                                 "customer_id": cid, "stage": stage, "previous_stage": c["stage"]})
        c["closed_on"] = day_no  # worked on until then; a new lead replaces it the next morning (see day)

    def punch(self, rep: str, sec: int, direction: str, lat: float | None, lon: float | None,
              cid: str | None, sid: str | None, out: list) -> None:
        rng = self.rng
        r = rng.random()
        ev: dict[str, Any] = {"kind": "attendance.punched", "employee_id": rep, "direction": direction}
        if r < 0.01 or lat is None:
            ev.update(lat=None, lon=None, accuracy_m=None, source="manual")
        else:
            if r < 0.03:  # somewhere else entirely (a cafe, home): 1.5-8 km off
                d, ang = rng.uniform(0.015, 0.075), rng.uniform(0, 2 * math.pi)
                plat, plon = lat + d * math.sin(ang), lon + d * math.cos(ang) / math.cos(math.radians(lat))
            else:
                plat, plon = lat + rng.gauss(0, 0.0004), lon + rng.gauss(0, 0.00045)
            src = "gps" if rng.random() < 0.85 else "wifi"
            ev.update(lat=round(plat, 6), lon=round(plon, 6), accuracy_m=float(rng.randrange(5, 60)), source=src)
        # the customer chosen at the punch: often left empty (the day's plan then says where to be)
        ev["customer_id"] = cid if (cid is not None and rng.random() < 0.35) else None
        ev["site_id"] = sid
        if rng.random() < 0.1:
            ev["device"] = rng.choice(("android", "ios"))  # an unknown field: kept in attrs
        out.append((sec, ev))


def generate(n_events: int, seed: int = 1, reps: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield exactly ``n_events`` event dicts, one working day at a time (memory stays flat). ``reps``
    fixes the company's size (the log then spans as many days as it takes: a long history)."""
    co = _Company(n_events, seed, reps)
    rng = co.rng
    emitted = 0
    seq = 0
    day_no = 0
    day = START
    batch = co.opening()
    while True:
        # ts order with some local shuffling: ~5% of the day's events are written up to 10 minutes early/late
        keyed = []
        for sec, ev in batch:
            sec = max(0, min(86_399, sec))
            seq += 1
            full = {"id": f"ev{seq:09d}", "kind": ev.pop("kind"), "ts": _ts(day, sec)}
            full.setdefault("employee_id", ev.pop("employee_id", None))
            full.update(ev)
            key = sec + (rng.randrange(-600, 600) if rng.random() < 0.05 else 0)
            keyed.append((key, seq, full))
        keyed.sort(key=lambda k: (k[0], k[1]))
        for _, _, full in keyed:
            if emitted >= n_events:
                return
            yield full
            emitted += 1
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        day_no += 1
        batch = co.day(day, day_no)


def generate_tenants(n_events: int, tenants: int, seed: int = 1, reps: int | None = None) -> Iterator[dict[str, Any]]:
    """``n_events`` events of ``tenants`` companies (``t0``, ``t1``...; company ``i`` is :func:`generate` with
    seed ``seed + i``), interleaved one working day at a time as an HR vendor's log would be. The
    companies number their events alike (``ev000000001`` in each): ids are shared across tenants."""
    each = [n_events // tenants + (1 if i < n_events % tenants else 0) for i in range(tenants)]
    streams = [generate(n, seed + i, reps) for i, n in enumerate(each)]
    pending: list[dict[str, Any] | None] = [next(s, None) for s in streams]
    while any(p is not None for p in pending):
        day = min(p["ts"][:10] for p in pending if p is not None)
        for i, s in enumerate(streams):
            while pending[i] is not None and pending[i]["ts"][:10] == day:
                yield {**pending[i], "tenant": f"t{i}"}
                pending[i] = next(s, None)


def write(path: str | os.PathLike[str], n_events: int, seed: int = 1, reps: int | None = None,
          tenants: int | None = None) -> Path:
    """Write the log to ``path`` (atomically: a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb", buffering=1 << 20) as fh:
        for ev in generate(n_events, seed, reps) if not tenants else generate_tenants(n_events, tenants, seed, reps):
            fh.write(_dumps(ev) + b"\n")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="number of events (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="output .jsonl path ('-' for stdout)")
    ap.add_argument("--reps", type=int, default=None,
                    help="sales reps (default: one per 2,000 events, so the log spans ~200 working days); "
                         "fewer reps make a longer history")
    ap.add_argument("--tenants", type=int, default=None,
                    help="this many companies (tenant t0, t1...; ids shared across them), interleaved by day")
    args = ap.parse_args(argv)
    if args.out == "-":
        out = sys.stdout.buffer
        events = generate(args.events, args.seed, args.reps) if not args.tenants else generate_tenants(
            args.events, args.tenants, args.seed, args.reps)
        for ev in events:
            out.write(_dumps(ev) + b"\n")
        return 0
    write(args.out, args.events, args.seed, args.reps, args.tenants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
