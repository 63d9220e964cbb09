"""What a user would write by hand: ``geofence.mismatch`` + ``followup.stall`` in plain Python.

    python benchmarks/reference.py benchmarks/data/events-100000-s1-56763f68.jsonl

The yardstick ``throughput.py`` puts hrguard next to: one pass over a JSON Lines file, ``orjson``
dicts, a loop, ``math`` haversine, a dict of plans, of customers and of sites, a heap of stall
deadlines. It implements the two detectors' semantics (``shared/spec/detectors.md``) faithfully
enough to find what hrguard finds on the benchmark's files: the expected place of a punch (its own
customer or site, else the first item of the employee's latest plan for the punch's local date
whose window widened by ``window_slack`` holds the punch), the radius plus the accuracy credit,
``no_location``; a customer's idle periods in watched stages, one finding per period, due at
``last activity + max_idle``, an activity exactly then ending the period after it fires.

It is no general implementation: no validation, no duplicates, one tenant, no scope or exceptions,
events judged in ``(ts, id)`` order after a small reorder buffer (the benchmark files are in time
order up to minutes; lines more than ``reorder`` behind are counted as late and skipped).
"""

from __future__ import annotations

import heapq
import math
import sys
import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def _seconds(hhmm: str) -> int:
    parts = [int(x) for x in hhmm.split(":")]
    return parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0)


def scan_reference(path: str, *, timezone: str = "Asia/Shanghai", radius_m: float = 500.0,
                   window_slack_s: float = 1800, max_accuracy_credit_m: float = 200.0,
                   flag_missing_location: bool = True, max_idle_s: dict[str, float] | None = None,
                   reorder_s: float = 3600) -> dict[str, Any]:
    """Findings of the two rules as ``(rule, ts_seconds, subject)`` tuples, plus counts."""
    tz = ZoneInfo(timezone)
    max_idle = max_idle_s if max_idle_s is not None else {"quoting": 7 * 86400, "pending_signing": 5 * 86400}
    customers: dict[str, tuple[float | None, float | None]] = {}
    sites: dict[str, tuple[float, float, float]] = {}
    plans: dict[tuple[str | None, str], list[tuple[float, float, str | None, str | None]]] = {}
    midnight: dict[str, float] = {}
    # followup.stall: customer -> [last_ts, last_id, stage, fired]; deadlines (due, customer, last_id)
    stall: dict[str, list[Any]] = {}
    deadlines: list[tuple[float, str, str]] = []
    findings: list[tuple[str, float, Any]] = []

    def day_start(day: str) -> float:
        t = midnight.get(day)
        if t is None:
            t = midnight[day] = datetime.combine(date.fromisoformat(day), datetime.min.time(), tz).timestamp()
        return t

    def fire_due(upto: float) -> None:
        while deadlines and deadlines[0][0] <= upto:
            due, cust, last_id = heapq.heappop(deadlines)
            s = stall.get(cust)
            if s is not None and s[1] == last_id and not s[3]:
                s[3] = True
                findings.append(("followup.stall", due, (cust, last_id)))

    def judge(t: float, e: dict[str, Any]) -> None:
        kind = e["kind"]
        fire_due(t)  # an activity exactly at a deadline comes after the finding
        if kind == "attendance.punched":
            cust, site = e.get("customer_id"), e.get("site_id")
            place = None
            if cust is None and site is None:
                local = datetime.fromtimestamp(t, tz).date().isoformat()
                for start, end, c, s in plans.get((e.get("employee_id"), local), ()):
                    if start - window_slack_s <= t <= end + window_slack_s:
                        cust, site = c, s
                        break
            if cust is not None:
                place = customers.get(cust)
                radius = radius_m
            elif site is not None:
                got = sites.get(site)
                place = got[:2] if got else None
                radius = got[2] if got else radius_m
            if place is None or place[0] is None:
                return  # no expectation, or a place with no known location
            acc = e.get("accuracy_m") or 0.0
            threshold = radius + min(acc, max_accuracy_credit_m)
            if e.get("lat") is None:
                if flag_missing_location:
                    findings.append(("geofence.mismatch", t, e["id"]))
            elif haversine_m(e["lat"], e["lon"], place[0], place[1]) > threshold:
                findings.append(("geofence.mismatch", t, e["id"]))
        elif kind == "plan.submitted":
            base = day_start(e["date"])
            items = []
            for it in e.get("items") or ():
                c, s = it.get("customer_id"), it.get("site_id")
                if c is None and s is None:
                    continue
                items.append((base + _seconds(it["start"]), base + _seconds(it["end"]), c, None if c is not None else s))
            plans[(e.get("employee_id"), e["date"])] = items
        elif kind == "customer.registered":
            customers[e["customer_id"]] = (e.get("lat"), e.get("lon"))
        elif kind == "site.registered":
            sites[e["site_id"]] = (e["lat"], e["lon"], e.get("radius_m", 200.0))
        if kind == "followup.logged" or kind == "customer.stage_changed":
            cust = e["customer_id"]
            s = stall.get(cust)
            stage = e["stage"] if kind == "customer.stage_changed" else (s[2] if s else None)
            stall[cust] = [t, e["id"], stage, False]
            idle = max_idle.get(stage) if stage is not None else None
            if idle is not None:
                heapq.heappush(deadlines, (t + idle, cust, e["id"]))

    # one pass: parse, hold a few minutes of lines in a heap to judge them in (ts, id) order
    buf: list[tuple[float, str, int, dict[str, Any]]] = []
    clock = -math.inf
    released = -math.inf
    late = n = 0
    loads, fromiso = orjson.loads, datetime.fromisoformat
    with open(path, "rb") as fh:
        for line in fh:
            e = loads(line)
            n += 1
            t = fromiso(e["ts"]).timestamp()
            if t <= released:
                late += 1
                continue
            heapq.heappush(buf, (t, e["id"], n, e))
            if t > clock:
                clock = t
            while buf and buf[0][0] < clock - reorder_s:
                bt, _, _, be = heapq.heappop(buf)
                released = bt
                judge(bt, be)
    while buf:
        bt, _, _, be = heapq.heappop(buf)
        judge(bt, be)
    fire_due(clock)  # as of the latest event
    counts = {"geofence.mismatch": 0, "followup.stall": 0}
    for rule, _, _ in findings:
        counts[rule] += 1
    return {"events": n, "late": late, "counts": counts, "findings": findings}


def params_from_ruleset(ruleset: Any) -> dict[str, Any]:
    """The reference's keyword arguments from an hrguard ruleset's geofence.mismatch and followup.stall."""
    kw: dict[str, Any] = {"timezone": ruleset.timezone}
    for rule in ruleset.rules:
        p = rule.params
        if rule.use == "geofence.mismatch":
            kw.update(radius_m=float(p.radius_m), window_slack_s=p.window_slack / 1e6,
                      max_accuracy_credit_m=float(p.max_accuracy_credit_m),
                      flag_missing_location=bool(p.flag_missing_location))
        elif rule.use == "followup.stall":
            kw["max_idle_s"] = {k: v / 1e6 for k, v in p.max_idle.items()}
    return kw


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("events", help="a JSON Lines file from gen_events.py")
    ap.add_argument("--ruleset", default="sales", help="take the two rules' parameters from this ruleset")
    args = ap.parse_args(argv)
    import hrguard

    kw = params_from_ruleset(hrguard.default_engine().load_ruleset(args.ruleset))
    t0, c0 = time.perf_counter(), time.process_time()
    out = scan_reference(args.events, **kw)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{out['events']:,} events in {secs:.2f} s ({cpu:.2f} CPU s): {out['events'] / cpu:,.0f} events/CPU-s; "
          f"findings {out['counts']}; late lines skipped {out['late']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

