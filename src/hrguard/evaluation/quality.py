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

Every rule also gets the figures :func:`hrguard.notebook.evaluate` tabulates (``RuleQuality.judged_on``,
``labels``, ``detected``, ``true_findings``, ``flagged_honest``): a rule is judged on the misconduct
labels expecting it (by rule name or detector id); a rule no label expects (such as
``outlier.isolation_forest``) is judged on every misconduct label instead, a finding explaining one
when it names the label's employee within ``[start, end + grace]``. ``QualityReport.every_rule`` also
lists the rules the labels expect that found nothing. Each scenario counts ``findings`` (of any rule,
naming one of its employees within a label's ``[start, end + grace]``) and ``true_findings`` (those
explaining one of its misconduct labels).

Times are read by hrguard's one policy (:mod:`hrguard.events`): label ``start``/``end`` are RFC 3339
with an offset, aware datetimes or seconds since the Unix epoch; ``grace`` and ``noise_grace`` are
durations (``"14d"``, a ``timedelta`` or a number of seconds).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..engine import scan
from ..errors import InvalidArgumentError, MissingFileError
from ..events import DAY_US, US, format_duration, to_datetime, to_duration_us
from ..findings import Finding, Severity
from ..synth import SCENARIOS

__all__ = ["Label", "NoiseQuality", "QualityReport", "RuleQuality", "ScenarioQuality", "evaluate", "evaluate_dataset",
           "explains", "LABEL_FIELDS", "load_labels", "load_roster", "scenario_order"]


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
        start, end = (to_datetime(rec[k], what=k) for k in ("start", "end"))
        rules = tuple(rec.get("expected_rules") or ())
        kind = rec.get("kind") or ("misconduct" if rules else "noise")
        return cls(str(rec["employee_id"]), str(rec["scenario"]), start, end, rules, kind)


def _path(source: str | os.PathLike[str], name: str) -> Path:
    p = Path(source)
    return p / name if p.is_dir() else p


LABEL_FIELDS = ("employee_id", "scenario", "start", "end", "expected_rules")
"""The fields every label must have (the synthetic labels format)."""


def load_labels(source: str | Path | Iterable[Mapping[str, Any] | Label]) -> list[Label]:
    """Labels from a ``labels.jsonl`` file, a dataset folder holding one, or an iterable of dicts (or labels).

    Every label must have :data:`LABEL_FIELDS`; a missing field or an unreadable value is an
    :class:`~hrguard.errors.InvalidArgumentError` (a ``ValueError``) naming the line (or list
    position) and the field; a missing file a :class:`~hrguard.errors.MissingFileError`.
    """
    if isinstance(source, (str, os.PathLike)):
        path = _path(source, "labels.jsonl")
        if not path.is_file():
            raise MissingFileError(f"no labels file {path} (a dataset folder written by `hrguard synth` holds "
                                   f"labels.jsonl)")
        records, where = [], []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise InvalidArgumentError(f"{path}:{n}", f"not a JSON object ({exc})") from None
                    where.append(f"{path}:{n}")
    else:
        records = list(source)
        where = [f"label #{i + 1}" for i in range(len(records))]
    out = []
    for rec, at in zip(records, where):
        if isinstance(rec, Label):
            out.append(rec)
            continue
        if not isinstance(rec, Mapping):
            raise InvalidArgumentError(at, f"a label is a JSON object with {', '.join(LABEL_FIELDS)}, got {rec!r}")
        missing = [k for k in LABEL_FIELDS if k not in rec]
        if missing:
            raise InvalidArgumentError(at, f"the label has no {', '.join(repr(m) for m in missing)} "
                                           f"(a label needs {', '.join(LABEL_FIELDS)})")
        if not isinstance(rec["expected_rules"], (list, tuple)):
            raise InvalidArgumentError(at, f"expected_rules must be a list of rule names, got "
                                           f"{rec['expected_rules']!r}")
        try:
            out.append(Label.of(rec))
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(at, str(exc)) from None
    return out


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
    findings: int = 0  # findings of any rule naming a labelled employee within a label's [start, end + grace]
    true_findings: int = 0  # those explaining one of the scenario's labels

    @property
    def recall(self) -> float | None:
        return self.detected / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        return self.true_findings / self.findings if self.findings else None


@dataclass
class RuleQuality:
    rule: str
    findings: int
    true_positives: int  # findings explaining some misconduct label (one expecting the rule)
    by_severity: dict[str, int]
    judged_on: str = "expected"  # or "any misconduct": no label expects the rule
    labels: int = 0  # the misconduct labels it is judged on
    detected: int = 0  # of those, the ones a finding of the rule explains
    true_findings: int = 0  # its findings explaining a label it is judged on (= true_positives when expected)
    flagged_honest: int = 0  # honest employees with a finding of the rule of min_severity or above

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.detected / self.labels if self.labels else None


@dataclass
class NoiseQuality:
    scenario: str
    labels: int
    employees: int
    flagged: int  # labels with a finding of min_severity or above on the employee in [start, end + grace]
    by_rule: dict[str, int]
    findings: int = 0  # findings of any rule naming a labelled employee within a label's [start, end + grace]

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
    every_rule: list[RuleQuality] = field(default_factory=list)  # ``rules`` and the expected rules that found nothing
    flagged_any: list[str] = field(default_factory=list)  # honest employees with a finding of any severity
    flagged_any_by_rule: dict[str, int] = field(default_factory=dict)  # rule -> honest employees it flagged (any)

    @property
    def any_severity_false_alarm_rate(self) -> float | None:
        """Honest employees with a finding of any severity, over all honest ones: every alarm is read by someone."""
        return len(self.flagged_any) / self.honest if self.honest else None

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
                             "employees": self.flagged,
                             "any_severity": {"flagged": len(self.flagged_any), "rate": self.any_severity_false_alarm_rate,
                                              "by_rule": self.flagged_any_by_rule}},
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
        out.append(f"False alarms at any severity (every finding is read by someone): {len(self.flagged_any)} of "
                   f"{self.honest} ({_pct(self.any_severity_false_alarm_rate)})")
        if self.flagged_any_by_rule:
            out.append("  by rule: " + ", ".join(f"{r} {k}" for r, k in self.flagged_any_by_rule.items()))
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


_DAYS_OR_HOURS = ((DAY_US, "d", "d"), (3600 * US, "h", "h"))


def _days(x: timedelta | None) -> str:
    if x is None:
        return "-"
    return format_duration(x // timedelta(microseconds=1), _DAYS_OR_HOURS, sep=" ", decimals=1)


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


def explains(f: Finding, label: Label, grace: timedelta, also: Iterable[str] = ()) -> bool:
    """Whether finding ``f`` explains ``label``: it names the label's employee, its detector id or rule name is
    one of the label's ``expected_rules`` (or of ``also``), and its ``ts`` is in ``[start, end + grace]``."""
    return ((f.employee_id or "") == label.employee_id
            and (f.rule in label.expected_rules or f.name in label.expected_rules or f.rule in also or f.name in also)
            and label.start <= f.ts <= label.end + grace)


def evaluate(result: Any, labels: Iterable[Label | Mapping[str, Any]] | str | Path,
             roster: Mapping[str, str] | Iterable[str] | None = None, *, grace: Any = "14d",
             noise_grace: Any = "1d", min_severity: Severity | str = "medium",
             rules: Mapping[str, str] | None = None) -> QualityReport:
    """Score findings against ground-truth labels (see the module's docstring for every figure).

    ``result`` is a :class:`~hrguard.ScanResult` (or anything with ``findings``, or a list of
    findings); ``labels`` a list of :class:`Label` or dicts, or a path; ``roster`` every employee
    (id -> role, or ids) so honest employees without findings are counted too. ``rules`` (rule name
    -> detector id, e.g. a ruleset's) are reported in ``every_rule`` even when they found nothing.
    This is hrguard's one evaluator: :func:`hrguard.notebook.evaluate` and :func:`hrguard.notebook.sweep`
    tabulate what it returns.
    """
    findings: list[Finding] = list(getattr(result, "findings", result))
    labs = load_labels(labels)
    grace_td = _td(grace, "grace")
    noise_td = _td(noise_grace, "noise_grace")
    bar = Severity(min_severity)
    mis = [x for x in labs if x.kind == "misconduct"]
    noise = [x for x in labs if x.kind != "misconduct"]
    by_emp: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_emp[f.employee_id or ""].append(f)

    # which findings explain which misconduct label
    hits = [[f for f in by_emp.get(lab.employee_id, ()) if explains(f, lab, grace_td)] for lab in mis]
    true_ids = {f.id for h in hits for f in h}

    # honest employees
    bad = {x.employee_id for x in mis}
    if roster is None:
        everyone = {x.employee_id for x in labs} | {f.employee_id for f in findings if f.employee_id}
        roles: dict[str, str] = {}
    elif isinstance(roster, Mapping):
        everyone, roles = set(roster), dict(roster)
    else:
        everyone, roles = set(roster), {}
    honest = everyone - bad

    # recall and time to detect, findings around each scenario's labels
    scen: dict[str, ScenarioQuality] = {}
    for name in scenario_order(x.scenario for x in mis):
        expected = next(x.expected_rules for x in mis if x.scenario == name)
        scen[name] = ScenarioQuality(name, 0, 0, None, {r: 0 for r in expected})
    ttd: dict[str, list[timedelta]] = defaultdict(list)
    for lab, h in zip(mis, hits):
        sq = scen[lab.scenario]
        sq.labels += 1
        if not h:
            sq.missed.append(lab.employee_id)
            continue
        sq.detected += 1
        ttd[lab.scenario].append(max(timedelta(0), min(f.ts for f in h) - lab.start))
        for r in dict.fromkeys(f.rule if f.rule in lab.expected_rules else f.name for f in h):
            sq.by_rule[r] = sq.by_rule.get(r, 0) + 1
    for name, sq in scen.items():
        if ttd[name]:
            sq.time_to_detect = _median_td(ttd[name])
        near = _near(by_emp, (lab for lab in mis if lab.scenario == name), grace_td)
        sq.findings = len(near)
        sq.true_findings = len(near & {f.id for lab, h in zip(mis, hits) if lab.scenario == name for f in h})

    # every rule: precision, and recall over the labels it is judged on
    detector_of = {**(rules or {}), **{f.name: f.rule for f in findings}}
    names = list(dict.fromkeys(sorted(detector_of)))
    for lab in mis:
        for r in lab.expected_rules:
            if r not in names and r not in detector_of.values():
                names.append(r)
    every: list[RuleQuality] = []
    for name in sorted(names):
        mine = [f for f in findings if f.name == name]
        ids = {name, detector_of.get(name, name)}
        judged = [i for i, lab in enumerate(mis) if ids & set(lab.expected_rules)]
        if judged:
            judged_on = "expected"
            found = {i: {f.id for f in hits[i] if f.name == name} for i in judged}
        else:  # a rule no label expects: did it find the misbehaving employees at all?
            judged_on, judged = "any misconduct", list(range(len(mis)))
            found = {i: {f.id for f in mine if explains(f, mis[i], grace_td, ids)} for i in judged}
        true = set().union(*found.values()) if found else set()
        by_sev: dict[str, int] = {}
        for f in mine:
            by_sev[f.severity.value] = by_sev.get(f.severity.value, 0) + 1
        every.append(RuleQuality(
            rule=name, findings=len(mine), true_positives=sum(f.id in true_ids for f in mine),
            by_severity={v.value: by_sev[v.value] for v in reversed(Severity) if v.value in by_sev},
            judged_on=judged_on, labels=len(judged), detected=sum(1 for i in judged if found[i]),
            true_findings=sum(f.id in true for f in mine),
            flagged_honest=len({f.employee_id for f in mine if f.employee_id in honest and f.severity.rank >= bar.rank})))

    # false alarms among honest employees
    flagged_by_rule: dict[str, set[str]] = defaultdict(set)
    any_by_rule: dict[str, set[str]] = defaultdict(set)  # every alarm counts: at any severity too
    flagged = set()
    for emp in honest:
        for f in by_emp.get(emp, ()):
            any_by_rule[f.name].add(emp)
            if f.severity.rank >= bar.rank:
                flagged.add(emp)
                flagged_by_rule[f.name].add(emp)
    flagged_any = {e for emps in any_by_rule.values() for e in emps}
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
        raised = [f for f in by_emp.get(lab.employee_id, ())
                  if f.severity.rank >= bar.rank and lab.start <= f.ts <= lab.end + noise_td]
        if raised:
            q.flagged += 1
            for r in dict.fromkeys(f.name for f in raised):
                q.by_rule[r] = q.by_rule.get(r, 0) + 1
    for name, q in nq.items():
        q.employees = len(emps[name])
        q.findings = len(_near(by_emp, (lab for lab in noise if lab.scenario == name), grace_td))
    nq = {k: nq[k] for k in scenario_order(nq)}

    return QualityReport(
        scenarios=list(scen.values()),
        rules=[r for r in every if r.findings],
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
        every_rule=every,
        flagged_any=sorted(flagged_any),
        flagged_any_by_rule={r: len(v) for r, v in sorted(any_by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0]))},
    )


def _near(by_emp: Mapping[str, list[Finding]], labels: Iterable[Label], grace: timedelta) -> set[str]:
    """Ids of the findings naming a label's employee within its ``[start, end + grace]``."""
    return {f.id for lab in labels for f in by_emp.get(lab.employee_id, ()) if lab.start <= f.ts <= lab.end + grace}


def scenario_order(names: Iterable[str]) -> list[str]:
    """The synthetic generator's catalogue order first, then any other scenario by name."""
    seen = set(names)
    return [n for n in SCENARIOS if n in seen] + sorted(seen - set(SCENARIOS))


def _td(value: Any, what: str) -> timedelta:
    return timedelta(microseconds=to_duration_us(value, what=what))


def _median_td(xs: list[timedelta]) -> timedelta:
    s = sorted(xs)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def evaluate_dataset(path: str | Path, ruleset: Any = "sales", *, grace: Any = "14d", noise_grace: Any = "1d",
                     min_severity: Severity | str = "medium", as_of: Any = None) -> tuple[QualityReport, Any]:
    """Scan a dataset folder written by ``hrguard synth`` and score it: ``(report, scan result)``."""
    result = scan(_path(path, "events.jsonl"), ruleset, as_of)
    roster = load_roster(path) if _path(path, "meta.json").is_file() else None
    report = evaluate(result, load_labels(path), roster, grace=grace, noise_grace=noise_grace,
                      min_severity=min_severity)
    return report, result

