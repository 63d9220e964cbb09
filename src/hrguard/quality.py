"""Detection quality against ground truth: recall per scenario, false alarms, precision per rule,
time to detect.

Ground truth is a list of labels (``labels.jsonl`` of ``hrguard synth``, or any records with the same
fields): ``employee_id``, ``scenario``, ``start``, ``end``, ``expected_rules`` and ``kind``
(``misconduct``, or ``noise`` for honest behaviour no rule should treat as misconduct).

    import hrguard
    from hrguard.quality import evaluate, load_labels, load_roster
    result = hrguard.scan("data/events.jsonl", "sales")
    report = evaluate(result, load_labels("data"), load_roster("data"))
    print(report.render())

The figures, exactly:

- A finding **explains** a misconduct label when it names the label's employee, its rule (detector id)
  or instance name is one of the label's ``expected_rules``, and its ``ts`` is in
  ``[start, end + grace]`` (``grace``, default ``14d``, lets time-based rules such as a stall or a
  settlement deadline fire after the behaviour that caused them).
- **Recall** of a scenario: the share of its labels explained by at least one finding (any severity).
  **Time to detect**: for each detected label, the earliest explaining finding's ``ts`` minus the
  label's ``start``; the median over the scenario's detected labels.
- **False-alarm rate**: the share of honest employees (the roster minus everyone with a misconduct
  label) with at least one finding of severity ``min_severity`` (default ``medium``) or above, at any
  time. Without a roster, the honest employees are those seen in the labels and findings (a smaller
  denominator, so a higher rate).
- **Noise**: for each honest-noise scenario, the share of its labels whose employee has a finding of
  ``min_severity`` or above in ``[start, end + noise_grace]`` (default ``1d``: noise is tolerated when
  it raises nothing while it happens).
- **Precision** of a rule: the share of its findings that explain some misconduct label.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .findings import Finding, Severity
from .timeutil import parse_duration

__all__ = ["Label", "NoiseQuality", "QualityReport", "RuleQuality", "ScenarioQuality", "evaluate", "evaluate_dataset",
           "load_labels", "load_roster"]


@dataclass(frozen=True)
class Label:
    """One injected scenario on one employee, from ``start`` to ``end``."""

    employee_id: str
    scenario: str
    start: datetime
    end: datetime
    expected_rules: tuple[str, ...] = ()
    kind: str = "misconduct"

    @classmethod
    def of(cls, rec: Mapping[str, Any] | Label) -> Label:
        if isinstance(rec, Label):
            return rec
        start, end = (_time(rec[k]) for k in ("start", "end"))
        rules = tuple(rec.get("expected_rules") or ())
        kind = rec.get("kind") or ("misconduct" if rules else "noise")
        return cls(str(rec["employee_id"]), str(rec["scenario"]), start, end, rules, kind)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        t = value
    else:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"label time {value!r} has no UTC offset")
    return t


def _path(source: str | Path, name: str) -> Path:
    p = Path(source)
    return p / name if p.is_dir() else p


def load_labels(source: str | Path | Iterable[Mapping[str, Any]]) -> list[Label]:
    """Labels from a ``labels.jsonl`` file, a dataset folder holding one, or an iterable of dicts."""
    if isinstance(source, (str, Path)):
        with open(_path(source, "labels.jsonl"), encoding="utf-8") as fh:
            return [Label.of(json.loads(line)) for line in fh if line.strip()]
    return [Label.of(rec) for rec in source]


def load_roster(source: str | Path) -> dict[str, str]:
    """Employee id -> role, from a dataset's ``meta.json`` (or the folder holding it)."""
    with open(_path(source, "meta.json"), encoding="utf-8") as fh:
        return dict(json.load(fh).get("roster", {}))


@dataclass
class ScenarioQuality:
    scenario: str
    labels: int
    detected: int
    time_to_detect: timedelta | None  # median over detected labels
    by_rule: dict[str, int]  # expected rule -> labels it explained
    missed: list[str] = field(default_factory=list)  # employees of undetected labels

    @property
    def recall(self) -> float | None:
        return self.detected / self.labels if self.labels else None


@dataclass
class RuleQuality:
    rule: str
    findings: int
    true_positives: int
    by_severity: dict[str, int]

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.findings if self.findings else None


@dataclass
class NoiseQuality:
    scenario: str
    labels: int
    employees: int
    flagged: int  # labels with a finding of min_severity or above on the employee in [start, end + grace]
    by_rule: dict[str, int]

    @property
    def rate(self) -> float | None:
        return self.flagged / self.labels if self.labels else None


@dataclass
class QualityReport:
    scenarios: list[ScenarioQuality]
    rules: list[RuleQuality]
    noise: list[NoiseQuality]
    honest: int
    flagged: list[str]  # honest employees with a finding of min_severity or above
    flagged_by_rule: dict[str, int]  # rule -> honest employees it flagged
    honest_sales: int | None
    flagged_sales: int | None
    grace: timedelta
    noise_grace: timedelta
    min_severity: Severity
    findings: int

    @property
    def false_alarm_rate(self) -> float | None:
        return len(self.flagged) / self.honest if self.honest else None

    @property
    def sales_false_alarm_rate(self) -> float | None:
        return self.flagged_sales / self.honest_sales if self.honest_sales else None

    @property
    def recall(self) -> float | None:
        """Over every misconduct label, whatever its scenario."""
        n = sum(s.labels for s in self.scenarios)
        return sum(s.detected for s in self.scenarios) / n if n else None

    def to_dict(self) -> dict[str, Any]:
        def td(x: timedelta | None) -> float | None:
            return None if x is None else round(x.total_seconds() / 86_400, 3)

        return {
            "grace_days": td(self.grace), "noise_grace_days": td(self.noise_grace),
            "min_severity": self.min_severity.value, "findings": self.findings,
            "recall": self.recall,
            "scenarios": {s.scenario: {"labels": s.labels, "detected": s.detected, "recall": s.recall,
                                       "median_time_to_detect_days": td(s.time_to_detect), "by_rule": s.by_rule,
                                       "missed": s.missed} for s in self.scenarios},
            "false_alarms": {"honest": self.honest, "flagged": len(self.flagged), "rate": self.false_alarm_rate,
                             "honest_sales": self.honest_sales, "flagged_sales": self.flagged_sales,
                             "sales_rate": self.sales_false_alarm_rate, "by_rule": self.flagged_by_rule,
                             "employees": self.flagged},
            "noise": {n.scenario: {"labels": n.labels, "employees": n.employees, "flagged": n.flagged,
                                   "rate": n.rate, "by_rule": n.by_rule} for n in self.noise},
            "rules": {r.rule: {"findings": r.findings, "true_positives": r.true_positives, "precision": r.precision,
                               "by_severity": r.by_severity} for r in self.rules},
        }

    def render(self) -> str:
        """The report as plain-text tables (what ``benchmarks/quality.py`` prints)."""
        g = _days(self.grace)
        sev = self.min_severity.value
        out = [f"Recall by scenario (a label is detected when one of its expected rules names the employee "
               f"between its start and end + {g}):", ""]
        rows = [("SCENARIO", "LABELS", "DETECTED", "RECALL", "MEDIAN TIME TO DETECT", "DETECTED BY")]
        for s in self.scenarios:
            rows.append((s.scenario, str(s.labels), str(s.detected), _pct(s.recall), _days(s.time_to_detect),
                         ", ".join(f"{r} {n}" for r, n in s.by_rule.items() if n) or "-"))
        n = sum(s.labels for s in self.scenarios)
        rows.append(("all misconduct", str(n), str(sum(s.detected for s in self.scenarios)), _pct(self.recall), "", ""))
        out += _table(rows) + [""]
        out.append(f"False alarms (honest employees with a finding of severity {sev} or above): "
                   f"{len(self.flagged)} of {self.honest} ({_pct(self.false_alarm_rate)})"
                   + (f"; honest sales reps: {self.flagged_sales} of {self.honest_sales} "
                      f"({_pct(self.sales_false_alarm_rate)})" if self.honest_sales is not None else ""))
        if self.flagged_by_rule:
            out.append("  by rule: " + ", ".join(f"{r} {k}" for r, k in self.flagged_by_rule.items()))
        out.append("")
        if self.noise:
            out.append(f"Honest noise (labels whose employee has a finding of severity {sev} or above between "
                       f"the label's start and end + {_days(self.noise_grace)}):")
            out.append("")
            rows = [("NOISE", "LABELS", "EMPLOYEES", "FLAGGED", "RATE", "BY RULE")]
            for x in self.noise:
                rows.append((x.scenario, str(x.labels), str(x.employees), str(x.flagged), _pct(x.rate),
                             ", ".join(f"{r} {k}" for r, k in x.by_rule.items()) or "-"))
            out += _table(rows) + [""]
        out.append("Precision by rule (findings that explain a misconduct label):")
        out.append("")
        rows = [("RULE", "FINDINGS", "TRUE", "PRECISION", "SEVERITIES")]
        for r in self.rules:
            rows.append((r.rule, str(r.findings), str(r.true_positives), _pct(r.precision),
                         ", ".join(f"{k} {v}" for k, v in r.by_severity.items())))
        out += _table(rows)
        return "\n".join(out) + "\n"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _days(x: timedelta | None) -> str:
    if x is None:
        return "-"
    d = x.total_seconds() / 86_400
    return f"{d:.1f} d" if d >= 1 else f"{x.total_seconds() / 3600:.1f} h"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    right = {i for i in range(1, len(widths)) if all(r[i].replace(".", "").replace("%", "").replace(" d", "")
                                                     .replace(" h", "").isdigit() or r[i] in ("-", "")
                                                     for r in rows[1:])}
    lines = []
    for k, r in enumerate(rows):
        cells = [(c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append(("  ".join(cells) + "  " + r[-1]).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * max(len(x[-1]) for x in rows))
    return lines


def evaluate(result: Any, labels: Iterable[Label | Mapping[str, Any]] | str | Path,
             roster: Mapping[str, str] | Iterable[str] | None = None, *, grace: Any = "14d",
             noise_grace: Any = "1d", min_severity: Severity | str = "medium") -> QualityReport:
    """Score findings against ground-truth labels (see the module's docstring for every figure).

    ``result`` is a :class:`~hrguard.ScanResult` (or anything with ``findings``, or a list of
    findings); ``labels`` a list of :class:`Label` or dicts, or a path; ``roster`` every employee
    (id -> role, or ids) so honest employees without findings are counted too.
    """
    findings: list[Finding] = list(getattr(result, "findings", result))
    labs = load_labels(labels) if isinstance(labels, (str, Path)) else [Label.of(x) for x in labels]
    grace_td = _td(grace)
    noise_td = _td(noise_grace)
    bar = Severity(min_severity)
    mis = [x for x in labs if x.kind == "misconduct"]
    noise = [x for x in labs if x.kind != "misconduct"]
    by_emp: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_emp[f.employee_id or ""].append(f)

    # recall and time to detect; which findings are true
    true_ids: set[str] = set()
    order = _scenario_order(x.scenario for x in mis)
    scen: dict[str, ScenarioQuality] = {}
    ttd: dict[str, list[timedelta]] = defaultdict(list)
    for name in order:
        rules = next(x.expected_rules for x in mis if x.scenario == name)
        scen[name] = ScenarioQuality(name, 0, 0, None, {r: 0 for r in rules})
    for lab in mis:
        sq = scen[lab.scenario]
        sq.labels += 1
        hits = [f for f in by_emp.get(lab.employee_id, ())
                if (f.rule in lab.expected_rules or f.name in lab.expected_rules)
                and lab.start <= f.ts <= lab.end + grace_td]
        if not hits:
            sq.missed.append(lab.employee_id)
            continue
        sq.detected += 1
        true_ids.update(f.id for f in hits)
        ttd[lab.scenario].append(max(timedelta(0), min(f.ts for f in hits) - lab.start))
        for r in dict.fromkeys(f.rule if f.rule in lab.expected_rules else f.name for f in hits):
            sq.by_rule[r] = sq.by_rule.get(r, 0) + 1
    for name, sq in scen.items():
        if ttd[name]:
            sq.time_to_detect = _median_td(ttd[name])

    # precision per rule
    rules: dict[str, RuleQuality] = {}
    for f in findings:
        rq = rules.setdefault(f.name, RuleQuality(f.name, 0, 0, {}))
        rq.findings += 1
        rq.true_positives += f.id in true_ids
        rq.by_severity[f.severity.value] = rq.by_severity.get(f.severity.value, 0) + 1
    for rq in rules.values():
        rq.by_severity = {s.value: rq.by_severity[s.value] for s in reversed(Severity) if s.value in rq.by_severity}

    # false alarms among honest employees
    bad = {x.employee_id for x in mis}
    if roster is None:
        everyone = {x.employee_id for x in labs} | {f.employee_id for f in findings if f.employee_id}
        roles: dict[str, str] = {}
    elif isinstance(roster, Mapping):
        everyone, roles = set(roster), dict(roster)
    else:
        everyone, roles = set(roster), {}
    honest = everyone - bad
    flagged_by_rule: dict[str, set[str]] = defaultdict(set)
    flagged = set()
    for emp in honest:
        for f in by_emp.get(emp, ()):
            if f.severity.rank >= bar.rank:
                flagged.add(emp)
                flagged_by_rule[f.name].add(emp)
    honest_sales = flagged_sales = None
    if roles:
        sales = {e for e in honest if roles.get(e) == "sales"}
        honest_sales, flagged_sales = len(sales), len(flagged & sales)

    # honest noise
    nq: dict[str, NoiseQuality] = {}
    emps: dict[str, set[str]] = defaultdict(set)
    for lab in noise:
        q = nq.setdefault(lab.scenario, NoiseQuality(lab.scenario, 0, 0, 0, {}))
        q.labels += 1
        emps[lab.scenario].add(lab.employee_id)
        hits = [f for f in by_emp.get(lab.employee_id, ())
                if f.severity.rank >= bar.rank and lab.start <= f.ts <= lab.end + noise_td]
        if hits:
            q.flagged += 1
            for r in dict.fromkeys(f.name for f in hits):
                q.by_rule[r] = q.by_rule.get(r, 0) + 1
    for name, q in nq.items():
        q.employees = len(emps[name])
    nq = {k: nq[k] for k in _scenario_order(nq)}

    return QualityReport(
        scenarios=list(scen.values()),
        rules=sorted(rules.values(), key=lambda r: r.rule),
        noise=list(nq.values()),
        honest=len(honest),
        flagged=sorted(flagged),
        flagged_by_rule={r: len(v) for r, v in sorted(flagged_by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0]))},
        honest_sales=honest_sales,
        flagged_sales=flagged_sales,
        grace=grace_td,
        noise_grace=noise_td,
        min_severity=bar,
        findings=len(findings),
    )


def _scenario_order(names: Iterable[str]) -> list[str]:
    """The synthetic generator's catalogue order first, then any other scenario by name."""
    from .synth import SCENARIOS

    seen = set(names)
    return [n for n in SCENARIOS if n in seen] + sorted(seen - set(SCENARIOS))


def _td(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(microseconds=parse_duration(value))


def _median_td(xs: list[timedelta]) -> timedelta:
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def evaluate_dataset(path: str | Path, ruleset: Any = "sales", *, grace: Any = "14d", noise_grace: Any = "1d",
                     min_severity: Severity | str = "medium", as_of: Any = None) -> tuple[QualityReport, Any]:
    """Scan a dataset folder written by ``hrguard synth`` and score it: ``(report, scan result)``."""
    from .engine import scan

    result = scan(_path(path, "events.jsonl"), ruleset, as_of)
    roster = load_roster(path) if _path(path, "meta.json").is_file() else None
    report = evaluate(result, load_labels(path), roster, grace=grace, noise_grace=noise_grace,
                      min_severity=min_severity)
    return report, result

