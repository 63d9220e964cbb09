"""The bundled demo: a small Shanghai sales team over four weeks, one of whom behaves like the case
in the seed article, scanned with the default ruleset.

:func:`build_events` writes the story as events (deterministic); the same events ship as
``hrguard/data/demo_events.jsonl`` and a test keeps the two identical. :func:`run_demo` scans them,
prints the findings and a per-employee summary, and writes events, findings and a report to a folder.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from .engine import ScanResult, scan
from .events import parse_time_of_day, seconds_to_time
from .findings import Finding, Severity, render_table

TZ = timezone(timedelta(hours=8))
START = date(2026, 3, 30)  # a Monday
DATA_FILE = "demo_events.jsonl"

PEOPLE = {
    "M01": ("Wang Lei", "manager", None),
    "S01": ("Li Na", "sales", "M01"),      # the case of the article
    "S02": ("Zhang Wei", "sales", "M01"),
    "S03": ("Chen Jing", "sales", "M01"),
    "F01": ("Zhao Min", "finance", None),
    "L01": ("Sun Hao", "legal", None),
    "H01": ("Liu Fang", "hr", None),
}
CUSTOMERS = {  # id: (name, owner, lat, lon)
    "C-A1": ("Huaxin Trading", "S02", 31.2304, 121.4737),
    "C-A2": ("Pudong Machinery", "S02", 31.2200, 121.4450),
    "C-A3": ("Jing'an Foods", "S02", 31.2290, 121.4480),
    "C-B1": ("Yangpu Textiles", "S03", 31.2600, 121.5200),
    "C-B2": ("Xuhui Medical", "S03", 31.1950, 121.4370),
    "C-B3": ("Hongqiao Logistics", "S03", 31.1970, 121.3360),
    "C-L1": ("Lujiazui Finance Co.", "S01", 31.2397, 121.4998),
    "C-L2": ("Minhang Electric", "S01", 31.1120, 121.3810),
    "C-L3": ("Baoshan Steel Parts", "S01", 31.4050, 121.4890),
}
CAFE = (31.2165, 121.4560)  # where Li Na's clock-ins were, instead of at her customers
HQ = ("S-HQ", "Head office", 31.2280, 121.4750)


class _Story:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.n = 0

    def add(self, kind: str, ts: datetime, employee: str | None, **fields: Any) -> str:
        self.n += 1
        eid = f"d{self.n:04d}"
        self.events.append({"id": eid, "kind": kind, "ts": ts.isoformat(), "employee_id": employee, **fields})
        return eid


def _at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, seconds_to_time(parse_time_of_day(hhmm)), tzinfo=TZ)


def _near(lat: float, lon: float, k: int) -> tuple[float, float]:
    """A GPS fix a few tens of metres from the place (deterministic jitter)."""
    return round(lat + ((k * 37) % 7 - 3) * 0.0001, 6), round(lon + ((k * 53) % 7 - 3) * 0.0001, 6)


def _workdays(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def _honest_day(s: _Story, emp: str, day: date, morning: str, afternoon: str, k: int, *, late_plan: bool = False,
                no_summary: bool = False) -> None:
    plan_ts = _at(day, "10:40") if late_plan else _at(day, "08:30")
    s.add("plan.submitted", plan_ts, emp, date=day.isoformat(),
          items=[{"customer_id": morning, "start": "09:30", "end": "11:30", "purpose": "visit"},
                 {"customer_id": afternoon, "start": "14:00", "end": "16:00", "purpose": "visit"}])
    for cust, t_in, t_visit, t_out in ((morning, "09:35", "10:30", "11:20"), (afternoon, "14:05", "15:00", "15:50")):
        _, _, lat, lon = CUSTOMERS[cust]
        plat, plon = _near(lat, lon, k)
        s.add("attendance.punched", _at(day, t_in), emp, direction="in", lat=plat, lon=plon, accuracy_m=15, source="gps")
        s.add("followup.logged", _at(day, t_visit), emp, customer_id=cust, channel="visit",
              summary="visited, discussed the quote", next_step="follow up",
              photos=[{"uri": f"photos/{emp}/{day.isoformat()}/{cust}.jpg", "lat": plat, "lon": plon,
                       "taken_at": (_at(day, t_visit) - timedelta(minutes=5)).isoformat()}])
        s.add("attendance.punched", _at(day, t_out), emp, direction="out", lat=plat, lon=plon, accuracy_m=15, source="gps")
        k += 1
    if not no_summary:
        s.add("summary.submitted", _at(day, "18:00"), emp, date=day.isoformat(),
              claims=[{"customer_id": morning, "activity": "visit"}, {"customer_id": afternoon, "activity": "visit"}])


def _approved_order(s: _Story, emp: str, cust: str, day: date, amount: int, n: int, *, skip_legal: bool = False) -> None:
    req = f"R-{n}"
    s.add("approval.requested", _at(day, "11:45"), emp, request_id=req, subject="order", subject_id=f"O-{n}",
          customer_id=cust, amount=str(amount))
    s.add("approval.decided", _at(day, "16:30"), "M01", request_id=req, step="manager", decision="approved")
    s.add("approval.decided", _at(day + timedelta(days=1), "10:00"), "F01", request_id=req, step="finance", decision="approved")
    if not skip_legal:
        s.add("approval.decided", _at(day + timedelta(days=1), "15:00"), "L01", request_id=req, step="legal", decision="approved")
    s.add("order.recorded", _at(day + timedelta(days=2), "10:00"), emp, order_id=f"O-{n}", customer_id=cust,
          amount=str(amount), type="order", approval_request_id=req)
    s.add("invoice.issued", _at(day + timedelta(days=3), "10:00"), "F01", invoice_id=f"I-{n}", order_id=f"O-{n}",
          amount=str(amount))


def build_events() -> list[dict[str, Any]]:
    """The demo's events, in the order an HR system would have logged them."""
    s = _Story()
    t0 = _at(START, "08:00")
    for emp, (name, role, manager) in PEOPLE.items():
        s.add("employee.hired", t0, emp, role=role, department="sales" if role in ("sales", "manager") else role,
              manager_id=manager, home_site_id="S-HQ", attrs={"name": name})
    s.add("site.registered", t0, "H01", site_id=HQ[0], name=HQ[1], lat=HQ[2], lon=HQ[3], radius_m=200)
    for cid, (name, owner, lat, lon) in CUSTOMERS.items():
        s.add("customer.registered", t0 + timedelta(minutes=5), "M01", customer_id=cid, name=name, owner_id=owner,
              lat=lat, lon=lon, address="Shanghai")
        s.add("customer.stage_changed", t0 + timedelta(minutes=10), owner, customer_id=cid, stage="contacted",
              previous_stage="lead")

    # Zhang Wei and Chen Jing: four honest weeks
    days = _workdays(START, START + timedelta(days=25))
    for i, day in enumerate(days):
        a = ["C-A1", "C-A2", "C-A3"]
        b = ["C-B1", "C-B2", "C-B3"]
        _honest_day(s, "S02", day, a[i % 3], a[(i + 1) % 3], 2 * i)
        _honest_day(s, "S03", day, b[i % 3], b[(i + 1) % 3], 2 * i + 1)
    s.add("customer.stage_changed", _at(START + timedelta(days=3), "12:00"), "S02", customer_id="C-A1",
          stage="quoting", previous_stage="contacted")
    s.add("customer.stage_changed", _at(START + timedelta(days=4), "12:00"), "S02", customer_id="C-A1",
          stage="quoted", previous_stage="quoting")
    _approved_order(s, "S02", "C-A1", START + timedelta(days=9), 120_000, 1)
    s.add("customer.stage_changed", _at(START + timedelta(days=12), "12:00"), "S02", customer_id="C-A1",
          stage="signed", previous_stage="quoted")
    _approved_order(s, "S03", "C-B2", START + timedelta(days=15), 86_000, 2)
    for emp in ("S02", "S03"):
        s.add("payroll.settled", _at(date(2026, 4, 10), "09:00"), emp, period_end="2026-03-31", amount="7800.00")

    # Li Na (S01): three weeks that look like work, and are not
    li_days = _workdays(START, date(2026, 4, 17))
    for i, day in enumerate(li_days):
        iso = day.isoformat()
        if iso in ("2026-04-01", "2026-04-02", "2026-04-07"):
            # plans a customer, clocks in and out at a cafe, then claims the visit
            s.add("plan.submitted", _at(day, "08:35"), "S01", date=iso,
                  items=[{"customer_id": "C-L1", "start": "09:30", "end": "11:30"},
                         {"customer_id": "C-L2", "start": "14:00", "end": "16:00"}])
            s.add("attendance.punched", _at(day, "09:40"), "S01", direction="in", lat=CAFE[0], lon=CAFE[1],
                  accuracy_m=20, source="gps")
            s.add("attendance.punched", _at(day, "15:55"), "S01", direction="out", lat=CAFE[0], lon=CAFE[1],
                  accuracy_m=20, source="gps")
            s.add("summary.submitted", _at(day, "18:10"), "S01", date=iso,
                  claims=[{"customer_id": "C-L1", "activity": "visit", "note": "presented the new catalogue"},
                          {"customer_id": "C-L2", "activity": "visit"}])
            continue
        if iso == "2026-03-31":
            # a visit logged with no photo
            _honest_day(s, "S01", day, "C-L1", "C-L2", 40 + i)
            s.add("followup.logged", _at(day, "16:10"), "S01", customer_id="C-L2", channel="visit",
                  summary="visited again", photos=[])
            continue
        if iso == "2026-04-08":
            _honest_day(s, "S01", day, "C-L1", "C-L2", 40 + i, late_plan=True)
            continue
        if iso == "2026-04-09":
            _honest_day(s, "S01", day, "C-L1", "C-L2", 40 + i, no_summary=True)
            continue
        _honest_day(s, "S01", day, "C-L1", "C-L2", 40 + i)
    # a customer moved to "quote to be sent", then left idle, then lost
    s.add("followup.logged", _at(date(2026, 3, 31), "17:00"), "S01", customer_id="C-L3", channel="phone",
          summary="wants a quote for 2,000 units")
    s.add("customer.stage_changed", _at(date(2026, 3, 31), "17:05"), "S01", customer_id="C-L3", stage="quoting",
          previous_stage="contacted")
    s.add("customer.stage_changed", _at(date(2026, 4, 14), "09:00"), "S01", customer_id="C-L3", stage="lost",
          previous_stage="quoting")
    # a private customer the company does not know
    s.add("followup.logged", _at(date(2026, 4, 13), "19:30"), "S01", customer_id="C-X9", channel="wechat",
          summary="price for 2,000 units, cash")
    # an approval for a colleague's customer she never worked
    s.add("approval.requested", _at(date(2026, 4, 10), "11:00"), "S01", request_id="R-9", subject="order",
          subject_id="O-9", customer_id="C-A2", amount="80000")
    # an order that skipped legal, and was invoiced anyway
    _approved_order(s, "S01", "C-L2", date(2026, 4, 13), 300_000, 7, skip_legal=True)
    # dismissed, and the final wages never settled
    s.add("employee.terminated", _at(date(2026, 4, 20), "10:00"), "S01", last_day="2026-04-20",
          reason="misconduct: private orders")
    s.add("payroll.settled", _at(date(2026, 4, 10), "09:00"), "S01", period_end="2026-03-31", amount="2600.00")
    return s.events


def demo_events_path() -> Path:
    return Path(str(resources.files("hrguard") / "data" / DATA_FILE))


def load_events() -> list[dict[str, Any]]:
    with open(demo_events_path(), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_events(path: Path, events: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")


@dataclass
class EmployeeRisk:
    employee_id: str
    name: str
    counts: Counter

    @property
    def score(self) -> tuple[int, ...]:
        return tuple(self.counts.get(s, 0) for s in reversed(list(Severity)))


def per_employee(result: ScanResult, names: dict[str, str] | None = None) -> list[EmployeeRisk]:
    """Findings counted by severity per employee, riskiest first (by critical, then high, ...)."""
    names = names or {k: v[0] for k, v in PEOPLE.items()}
    counts: dict[str, Counter] = defaultdict(Counter)
    for emp in names:
        counts[emp]
    for f in result.findings:
        counts[f.employee_id or "-"][f.severity] += 1
    rows = [EmployeeRisk(e, names.get(e, ""), c) for e, c in counts.items()]
    return sorted(rows, key=lambda r: (tuple(-x for x in r.score), r.employee_id))


def render_summary(rows: list[EmployeeRisk]) -> str:
    sev = list(reversed(list(Severity)))
    head = f"{'EMPLOYEE':<9} {'NAME':<12} " + " ".join(f"{s.value:>8}" for s in sev) + f" {'TOTAL':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.employee_id:<9} {r.name:<12} " + " ".join(f"{r.counts.get(s, 0):>8}" for s in sev)
                     + f" {sum(r.counts.values()):>6}")
    return "\n".join(lines) + "\n"


def render_report(result: ScanResult, rows: list[EmployeeRisk]) -> str:
    out = ["# hrguard demo report", "",
           f"Ruleset `{result.ruleset}`, as of {result.as_of.isoformat() if result.as_of else '-'}; "
           f"{result.stats.valid} events, {len(result.findings)} findings.", "", "## Employees by risk", "", "```",
           render_summary(rows).rstrip(), "```", ""]
    by_emp: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_emp[f.employee_id or "-"].append(f)
    for r in rows:
        if not by_emp.get(r.employee_id):
            continue
        out += [f"## {r.employee_id} {r.name}", ""]
        for f in by_emp[r.employee_id]:
            out.append(f"- {f.ts.strftime('%Y-%m-%d %H:%M')} **{f.severity.value}** `{f.name}`: {f.message} "
                       f"(evidence: {', '.join(f.evidence)})")
        out.append("")
    return "\n".join(out)


def run_demo(out_dir: str | Path = "hrguard-demo", ruleset: str = "sales", stream: TextIO | None = None) -> ScanResult:
    """Scan the demo events, print findings and the per-employee summary, write files to ``out_dir``."""
    stream = stream or sys.stdout
    events = load_events()
    result = scan(events, ruleset)
    rows = per_employee(result)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_events(out / "events.jsonl", events)
    with open(out / "findings.jsonl", "w", encoding="utf-8") as fh:
        for f in result.findings:
            fh.write(json.dumps(f.to_json_dict(), ensure_ascii=False) + "\n")
    (out / "report.md").write_text(render_report(result, rows), encoding="utf-8")
    stream.write(f"hrguard demo: a sales team of {sum(1 for p in PEOPLE.values() if p[1] == 'sales')} over four weeks; "
                 f"{result.stats.valid} events scanned with the '{result.ruleset}' ruleset.\n\n")
    stream.write(render_table(result.findings))
    stream.write("\nEmployees by risk:\n\n" + render_summary(rows))
    stream.write(f"\nWrote {out / 'events.jsonl'}, {out / 'findings.jsonl'} and {out / 'report.md'}.\n")
    return result
