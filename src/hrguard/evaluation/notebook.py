"""Notebook tools: findings as a DataFrame and an HTML table, evaluation against labels, parameter
sweeps, and plots.

    import hrguard
    from hrguard import notebook as nb

    result = hrguard.scan("company/events.jsonl", "sales")
    result                                   # in Jupyter: an HTML table of the findings
    df = result.to_pandas()                  # one row per finding (the ``pandas`` extra)
    ev = nb.evaluate(result, "company")      # per-rule and per-scenario precision and recall
    table = nb.sweep("company/events.jsonl", "sales", "geofence.mismatch", "radius_m",
                     [300, 500, 800, 1200], "company")
    grid = nb.grid("company/events.jsonl", "sales", "geofence.mismatch",
                   {"radius_m": [300, 800], "window_slack": ["0m", "1h"]}, "company", n_jobs=2)
    nb.plot_sweep(table)                     # matplotlib (the ``plot`` extra)

Labels are the synthetic generator's (``labels.jsonl`` of ``hrguard synth``: ``employee_id``,
``scenario``, ``start``, ``end``, ``expected_rules``, and optionally ``kind``); a dataset folder, a
``labels.jsonl`` path, or a list of dicts. When the labels come from a dataset folder (or a file next
to a ``meta.json``), its roster gives the honest employees who raised nothing.

The matching of a finding to a label is :mod:`hrguard.quality`'s: a finding **explains** a misconduct
label when it names the label's employee, its detector id or rule name is one of the label's
``expected_rules``, and its ``ts`` is in ``[start, end + grace]`` (``grace`` 14 days by default).

Tables are pandas DataFrames when pandas is installed and lists of dicts otherwise
(``as_frame=True`` insists on pandas, ``False`` always gives lists).
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..analytics import PERIOD_DAYS, build_features
from ..detectors.outlier import OutlierParams, latest_roles
from ..engine import load_ruleset
from ..errors import InvalidArgumentError, MissingExtraError, UnknownNameError
from ..events import to_duration_us
from ..findings import BASE_COLUMNS, Finding, Severity, findings_of, require_pandas, to_html, to_pandas
from ..rules import Ruleset
from . import quality
from ._plots import plot_scores, plot_sweep, rows_of
from .quality import LABEL_FIELDS, load_labels

__all__ = ["BASE_COLUMNS", "EXPLANATION_COLUMNS", "Evaluation", "GRID_METRICS", "INDEX", "LABEL_FIELDS", "SCORE_COLUMNS",
           "SWEEP_COLUMNS", "evaluate", "explanations", "grid", "load_labels", "outlier_scores", "plot_scores",
           "plot_sweep", "sweep", "to_html", "to_pandas"]

SWEEP_COLUMNS = ("rule", "param", "value", "alerts", "true_alerts", "false_alerts", "judged_on", "labels", "detected",
                 "recall", "honest", "flagged_honest", "false_alarm_rate", "seconds")


# -- optional extras ---------------------------------------------------------------------------------
def _table(rows: list[dict[str, Any]], columns: Sequence[str], as_frame: bool | None) -> Any:
    """A DataFrame of ``rows`` when pandas is there (or insisted on), else the rows themselves."""
    if as_frame is False:
        return rows
    try:
        pd = require_pandas()
    except MissingExtraError:
        if as_frame:
            raise
        return rows
    df = pd.DataFrame(rows, columns=list(columns))
    for c in columns:  # whole numbers with gaps stay whole numbers (not floats with NaN)
        vals = [r.get(c) for r in rows]
        if any(v is None for v in vals) and any(v is not None for v in vals) and all(
                v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in vals):
            df[c] = pd.array(vals, dtype="Int64")
    return df


# -- labels ------------------------------------------------------------------------------------------
def _labels_file(source: str | os.PathLike[str]) -> Path:
    p = Path(source)
    return p / "labels.jsonl" if p.is_dir() else p


def _roster(labels: Any, roster: Any) -> set[str] | None:
    """Every employee: ``roster`` (a mapping or ids), else the roster of the labels' dataset, else None."""
    if roster is not None:
        return set(roster)
    if isinstance(labels, (str, os.PathLike)):
        meta = _labels_file(labels).parent / "meta.json"
        if meta.is_file():
            with open(meta, encoding="utf-8") as fh:
                return set(json.load(fh).get("roster", {}))
    return None


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


# -- evaluate ----------------------------------------------------------------------------------------
RULE_COLUMNS = ("rule", "judged_on", "findings", "true_findings", "false_findings", "precision", "labels",
                "detected", "recall", "flagged_honest")
SCENARIO_COLUMNS = ("scenario", "kind", "labels", "detected", "recall", "median_time_to_detect", "flagged",
                    "findings", "true_findings", "precision")


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate` measured. ``rules`` and ``scenarios`` are tables (see the module docstring).

    - ``rules``: one row per rule (the rule names of the findings, and every rule the labels expect):
      ``findings``; ``true_findings`` (those explaining a misconduct label) and ``false_findings``;
      ``precision`` = true / findings; ``labels`` (misconduct labels expecting the rule, by rule name
      or detector id), ``detected`` (those a finding of the rule explains) and ``recall``;
      ``flagged_honest`` (honest employees with a finding of the rule of ``min_severity`` or above).
      ``judged_on`` is ``expected``, or ``any misconduct`` for a rule no label expects (such as
      ``outlier.isolation_forest``): its row is measured against every misconduct label (a finding
      naming the label's employee within its window explains it), as :func:`sweep` does. Only the
      rule's own row: the scenario table and the overall recall count expected rules only.
    - ``scenarios``: one row per scenario. Misconduct: ``labels``, ``detected`` (explained by at
      least one finding), ``recall``, ``median_time_to_detect`` (earliest explaining finding minus
      the label's start). Every scenario: ``findings`` (findings of any rule naming a labelled
      employee within a label's ``[start, end + grace]``), ``true_findings`` (those explaining a label
      of the scenario) and ``precision`` = true / findings: how much of what fired on those employees
      while it went on pointed at it. Noise: ``flagged``, labels whose employee has a finding of
      ``min_severity`` or above within ``[start, end + noise_grace]`` (no finding explains noise, so
      its precision is 0 when anything fired).
    - ``recall`` over every misconduct label; ``false_alarm_rate`` = ``flagged`` / ``honest``, honest
      employees (the roster, or everyone in the labels and findings, minus misconduct employees) with
      a finding of ``min_severity`` or above.
    """

    rules: Any
    scenarios: Any
    recall: float | None
    honest: int
    flagged: list[str]
    min_severity: Severity
    grace: timedelta

    @property
    def false_alarm_rate(self) -> float | None:
        return _ratio(len(self.flagged), self.honest)

    def _repr_html_(self) -> str:
        def cell(v: Any) -> str:
            try:
                if v is None or v != v:  # None, NaN, NaT
                    return ""
            except TypeError:  # pandas.NA
                return ""
            return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))

        parts = [f"<p>recall {cell(self.recall)}; false alarms: {len(self.flagged)} of {self.honest} honest employees "
                 f"({cell(self.false_alarm_rate)}) with a finding of severity {self.min_severity.value} or above</p>"]
        for title, table, cols in (("Rules", self.rules, RULE_COLUMNS),
                                   ("Scenarios", self.scenarios, SCENARIO_COLUMNS)):
            rows = rows_of(table)
            parts.append(f"<table><caption style=\"text-align:left\">{title}</caption><thead><tr>"
                         + "".join(f"<th>{c}</th>" for c in cols) + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows]
            parts.append("</tbody></table>")
        return "\n".join(parts)


def evaluate(result: Any, labels: Any, roster: Any = None, *, grace: Any = "14d", noise_grace: Any = "1d",
             min_severity: Severity | str = "medium", as_frame: bool | None = None) -> Evaluation:
    """Per-rule and per-scenario precision and recall of ``result`` against ``labels``.

    ``result`` is a :class:`~hrguard.ScanResult` or a list of findings; ``labels`` a dataset folder,
    a ``labels.jsonl`` path or a list of label dicts (see :func:`load_labels`); ``roster`` every
    employee (ids, or id -> role), read from the dataset's ``meta.json`` when not given. The figures
    are :func:`hrguard.quality.evaluate`'s, laid out as tables; :class:`Evaluation` says what each
    column is.
    """
    labs = load_labels(labels)
    report = quality.evaluate(findings_of(result), labs, _roster(labels, roster), grace=grace,
                              noise_grace=noise_grace, min_severity=min_severity)
    rule_rows = [_rule_row(r) for r in report.every_rule]
    kinds = {s.scenario: s for s in report.scenarios} | {n.scenario: n for n in report.noise}
    scen_rows = [_scenario_row(kinds[name]) for name in quality.scenario_order(kinds)]
    return Evaluation(_table(rule_rows, RULE_COLUMNS, as_frame), _table(scen_rows, SCENARIO_COLUMNS, as_frame),
                      report.recall, report.honest, report.flagged, report.min_severity, report.grace)


def _rule_row(r: quality.RuleQuality) -> dict[str, Any]:
    return {"rule": r.rule, "judged_on": r.judged_on, "findings": r.findings, "true_findings": r.true_findings,
            "false_findings": r.findings - r.true_findings, "precision": _ratio(r.true_findings, r.findings),
            "labels": r.labels, "detected": r.detected, "recall": r.recall, "flagged_honest": r.flagged_honest}


def _scenario_row(s: quality.ScenarioQuality | quality.NoiseQuality) -> dict[str, Any]:
    if isinstance(s, quality.ScenarioQuality):
        return {"scenario": s.scenario, "kind": "misconduct", "labels": s.labels, "detected": s.detected,
                "recall": s.recall, "median_time_to_detect": s.time_to_detect, "flagged": None,
                "findings": s.findings, "true_findings": s.true_findings, "precision": s.precision}
    return {"scenario": s.scenario, "kind": "noise", "labels": s.labels, "detected": None, "recall": None,
            "median_time_to_detect": None, "flagged": s.flagged, "findings": s.findings, "true_findings": 0,
            "precision": _ratio(0, s.findings)}


# -- sweep -------------------------------------------------------------------------------------------
def _ruleset(ruleset: Any) -> Ruleset:
    return ruleset if isinstance(ruleset, Ruleset) else load_ruleset(ruleset)


def _rule(rs: Any, rule_name: str) -> Any:
    names = [r.name for r in rs.rules]
    if rule_name not in names:
        raise UnknownNameError("rule_name", f"no rule named {rule_name!r} in ruleset {rs.name!r} "
                                            f"(its rules: {', '.join(names) or 'none'})")
    return rs.rule(rule_name)


def _events(events: Any) -> Any:
    """Events that can be read once per scan: paths and lists as they are, anything else as a list."""
    if isinstance(events, (str, os.PathLike, list, tuple)):
        return events
    return list(events)


def sweep(events: Any, ruleset: Any, rule_name: str, param: str, values: Iterable[Any], labels: Any, *,
          roster: Any = None, as_of: Any = None, grace: Any = "14d", min_severity: Severity | str = "info",
          n_jobs: int = 1, progress: bool | None = None, as_frame: bool | None = None) -> Any:
    """Judge ``events`` once per value of ``param`` of rule ``rule_name``; a tidy table, one row per value.

    The events are read and validated **once**; each value is a variant of the ruleset with only
    that rule (``Ruleset.with_params``, the other rules left out) judged on them, so a value costs
    the rule's own work only. :func:`grid` does the same over several parameters. Columns
    (:data:`SWEEP_COLUMNS`):

    - ``alerts``: the rule's findings; ``true_alerts`` explain a misconduct label the rule is judged
      on, ``false_alerts`` explain none.
    - ``labels``: the misconduct labels the rule is judged on: those expecting it (by rule name or
      detector id), or every misconduct label when none does (a rule no scenario names, such as
      ``outlier.isolation_forest``, is judged on whether it finds the misbehaving employees at all);
      ``judged_on`` says which (``expected`` or ``any misconduct``); ``detected`` of them and ``recall``.
    - ``honest``, ``flagged_honest``, ``false_alarm_rate``: honest employees (the roster, from
      ``roster`` or the labels' ``meta.json``; else everyone in the labels and in any value's findings),
      those with a finding of ``min_severity`` (any, by default) or above, and the share.
    - ``seconds``: the time judging the value took (reading the events, done once, is not in it).

    ``n_jobs`` judges that many values at once, on forked worker processes (one at a time where
    ``fork`` does not exist); the table is the same whatever ``n_jobs``. ``progress``: a progress
    bar on stderr (``None``: only in a terminal or a Jupyter kernel).

    Every value is validated before anything is read: an unknown rule or parameter, no values, or a
    value the rule's parameters refuse is an :class:`~hrguard.errors.InvalidArgumentError` (a
    ``ValueError``) saying which. The figures are :func:`hrguard.quality.evaluate`'s for the rule.
    """
    rows = _sweep_rows(events, ruleset, rule_name, {param: values}, labels, roster=roster, as_of=as_of, grace=grace,
                       min_severity=min_severity, n_jobs=n_jobs, progress=progress, what="values")
    out = [{"rule": r.pop("rule"), "param": param, "value": r.pop(param), **r} for r in rows]
    return _table(out, SWEEP_COLUMNS, as_frame)


GRID_METRICS = SWEEP_COLUMNS[3:]


def grid(events: Any, ruleset: Any, rule_name: str, params: Mapping[str, Iterable[Any]], labels: Any, *,
         roster: Any = None, as_of: Any = None, grace: Any = "14d", min_severity: Severity | str = "info",
         n_jobs: int = 1, progress: bool | None = None, as_frame: bool | None = None) -> Any:
    """:func:`sweep` over every combination of several parameters of one rule: one row per combination.

    ``params`` maps each parameter to its values (``{"contamination": [0.01, 0.05], "period": ["day",
    "week"]}``); combinations follow the product of the lists in the order given, the last parameter
    varying fastest. Columns: ``rule``, one column per parameter, then :data:`GRID_METRICS` (the
    sweep's). Reading, ``n_jobs``, ``progress`` and validation are :func:`sweep`'s.
    """
    if not isinstance(params, Mapping) or not params:
        raise InvalidArgumentError("params", "give a mapping of at least one parameter to its values")
    rows = _sweep_rows(events, ruleset, rule_name, params, labels, roster=roster, as_of=as_of, grace=grace,
                       min_severity=min_severity, n_jobs=n_jobs, progress=progress, what="params")
    return _table(rows, ("rule", *params, *GRID_METRICS), as_frame)


def _sweep_rows(events: Any, ruleset: Any, rule_name: str, params: Mapping[str, Iterable[Any]], labels: Any, *,
                roster: Any, as_of: Any, grace: Any, min_severity: Severity | str, n_jobs: Any, progress: bool | None,
                what: str) -> list[dict[str, Any]]:
    """One row per combination of ``params``' values: ``rule``, each parameter, then :data:`GRID_METRICS`."""
    import itertools
    import sys

    from pydantic import ValidationError

    from ._sweep import Progress, interactive, run_variants

    rs = _ruleset(ruleset)
    rule = _rule(rs, rule_name)
    fields = list(rule.detector.Params.model_fields)
    names = list(params)
    for param in names:
        if param not in fields:
            raise UnknownNameError("param", f"rule {rule_name!r} ({rule.use}) has no parameter {param!r} (its "
                                            f"parameters: {', '.join(fields)})")
    lists = {k: list(v) for k, v in params.items()}
    for param, vals in lists.items():
        if not vals:
            raise InvalidArgumentError(what, f"no values to sweep {rule_name}.{param} over: give at least one")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise InvalidArgumentError("n_jobs", f"must be an integer >= 1, got {n_jobs!r}")
    combos = [dict(zip(names, c)) for c in itertools.product(*(lists[k] for k in names))]
    variants = []
    for combo in combos:
        try:
            rv = rs.with_params(rule_name, **combo)
        except ValidationError as exc:
            why = "; ".join(e["msg"] for e in exc.errors(include_url=False))
            shown = ", ".join(f"{rule_name}.{k} = {v!r}" for k, v in combo.items())
            raise InvalidArgumentError(what, f"{shown} is not a valid value: {why}") from None
        variants.append(dataclasses.replace(rv, rules=(rv.rule(rule_name),)))
    labs = load_labels(labels)
    everyone = _roster(labels, roster)
    to_duration_us(grace, what="grace")  # a bad grace fails before anything is read
    bar = Progress(len(variants), f"{rule_name}", sys.stderr, interactive(sys.stderr) if progress is None else progress)
    runs, _ = run_variants(rs.engine, _events(events), variants, as_of, n_jobs=n_jobs, progress=bar)
    if everyone is None:
        everyone = {x.employee_id for x in labs} | {f.employee_id for fs, _ in runs for f in fs if f.employee_id}

    rows = []
    for combo, (findings, secs) in zip(combos, runs):
        report = quality.evaluate(findings, labs, everyone, grace=grace, min_severity=min_severity,
                                  rules={rule_name: rule.use})
        r = next(x for x in report.every_rule if x.rule == rule_name)
        rows.append({"rule": rule_name, **combo, "alerts": r.findings,
                     "true_alerts": r.true_findings, "false_alerts": r.findings - r.true_findings,
                     "judged_on": r.judged_on, "labels": r.labels, "detected": r.detected, "recall": r.recall,
                     "honest": report.honest, "flagged_honest": r.flagged_honest,
                     "false_alarm_rate": _ratio(r.flagged_honest, report.honest), "seconds": round(secs, 3)})
    return rows


# -- outlier scores ----------------------------------------------------------------------------------
INDEX = ("employee_id", "period_start")
"""The index of every per-vector table: :func:`outlier_scores`, :func:`explanations` and
``FeatureMatrix.to_pandas()`` (the employee, and the local start date of the period as a pandas
``Timestamp`` at midnight), so that they join as they are (``scores.join(fm.to_pandas())``). A
finding names the same employee in ``employee_id``, and :func:`explanations` carries its ``id``."""

SCORE_COLUMNS = ("employee_id", "period_start", "score", "threshold", "outlier", "misconduct")
EXPLANATION_COLUMNS = ("employee_id", "period_start", "id", "rule", "rank", "feature", "value", "typical", "z",
                       "score", "threshold")


def _indexed(rows: list[dict[str, Any]], columns: Sequence[str], as_frame: bool | None) -> Any:
    """A table of per-vector rows: a DataFrame indexed by :data:`INDEX` (when pandas), else the rows."""
    table = _table(rows, columns, as_frame)
    if isinstance(table, list):
        return table
    pd = require_pandas()
    table["period_start"] = pd.to_datetime(table["period_start"])
    return table.set_index(list(INDEX))


def outlier_scores(events: Any, ruleset: Any, rule_name: str = "outlier.isolation_forest", labels: Any = None, *,
                   as_of: Any = None, as_frame: bool | None = None) -> Any:
    """The anomaly score of every vector an ``outlier.isolation_forest`` rule sees, for a score histogram.

    One model with the rule's parameters is fitted on every vector of the periods ended by ``as_of``
    (what :func:`hrguard.detectors.outlier.fit_model` does; the rule itself refits as periods end, so
    its scores differ a little). A DataFrame indexed by :data:`INDEX` (``employee_id``,
    ``period_start``), joinable with the features' ``fm.to_pandas()`` and :func:`explanations`, with
    columns ``score`` (the paper's, higher is more abnormal), ``threshold``, ``outlier`` (score above
    threshold), and ``misconduct``: with ``labels``, whether the employee had a misconduct label
    overlapping the period (else None). As a list of dicts (``as_frame=False``, or without pandas),
    every row holds :data:`SCORE_COLUMNS`, ``period_start`` a ``datetime.date``.
    """
    import numpy as np

    rs = _ruleset(ruleset)
    rule = _rule(rs, rule_name)
    p = rule.params
    if not isinstance(p, OutlierParams):
        raise InvalidArgumentError("rule_name", f"rule {rule_name!r} uses {rule.use}, not outlier.isolation_forest")
    from ..analytics.forest import IsolationForestScorer

    events = _events(events)
    cfg = p.feature_config()
    fm = build_features(events, timezone=rs.timezone, period=p.period, as_of=as_of, complete_only=True,
                        radius_m=cfg.radius_m, window_slack=cfg.window_slack_us / 1e6, work_start=p.work_start,
                        work_end=p.work_end, engine=rs.engine)
    if p.roles is not None:
        roles = latest_roles(events, as_of, rs.engine)
        keep = np.asarray([roles.get(e) in p.roles for e in fm.employees.tolist()], dtype=bool)
        fm.X, fm.employees, fm.periods = fm.X[keep], fm.employees[keep], fm.periods[keep]
    fm = fm.select(p.feature_names())
    if len(fm) < 2:
        raise InvalidArgumentError("events", f"only {len(fm)} vector(s) to score: too few events")
    scorer = IsolationForestScorer(n_estimators=p.n_estimators, max_samples=p.max_samples,
                                   contamination=p.contamination, random_state=p.random_state
                                   ).fit(fm.X, feature_names=list(fm.feature_names))
    score = scorer.anomaly_score(fm.X)
    thr = float(scorer.threshold_)
    mis = [x for x in load_labels(labels) if x.kind == "misconduct"] if labels is not None else None
    days = PERIOD_DAYS[p.period]
    rows = []
    for emp, start, s in zip(fm.employees.tolist(), fm.periods.tolist(), score.tolist()):
        start = start if isinstance(start, date) else date.fromisoformat(str(start))
        flag = None
        if mis is not None:
            last = start + timedelta(days=days - 1)
            flag = any(x.employee_id == emp and _local(x.start, rs.timezone) <= last
                       and _local(x.end, rs.timezone) >= start for x in mis)
        rows.append({"employee_id": emp, "period_start": start, "score": round(s, 6), "threshold": round(thr, 6),
                     "outlier": s > thr, "misconduct": flag})
    return _indexed(rows, SCORE_COLUMNS, as_frame)


def explanations(data: Any, X: Any = None, *, top: int = 3, as_frame: bool | None = None) -> Any:
    """What set each outlier apart, as a tidy table: one row per (vector, feature named), by rank.

    ``data`` is a :class:`~hrguard.ScanResult` or a list of findings (each ``outlier.isolation_forest``
    finding's ``details["features"]``; other findings are left out), or a fitted
    :class:`~hrguard.ml.IsolationForestScorer` with ``X``, a DataFrame of its features indexed by
    :data:`INDEX` (``fm.to_pandas()``, its columns selected as the scorer's), whose every row is
    explained (``top`` features each). Indexed by :data:`INDEX`; columns ``id`` and ``rule`` (the
    finding's id and rule name; None for a scorer), ``rank`` (1: farthest from typical), ``feature``,
    ``value``, ``typical`` (the population's median), ``z`` (the robust z-score), ``score`` and
    ``threshold``.
    """
    rows: list[dict[str, Any]] = []
    if hasattr(data, "explain") and hasattr(data, "anomaly_score"):
        if X is None or not hasattr(X, "index") or list(X.index.names) != list(INDEX):
            raise InvalidArgumentError("X", f"give the vectors to explain as a DataFrame indexed by {INDEX} "
                                            f"(FeatureMatrix.to_pandas() and its columns)")
        scores = data.anomaly_score(X)
        for (emp, start), score, feats in zip(X.index.tolist(), scores.tolist(), data.explain(X, top=top)):
            for k, e in enumerate(feats, 1):
                rows.append({"employee_id": emp, "period_start": start.date() if hasattr(start, "date") else start,
                             "id": None, "rule": None, "rank": k, "feature": e["name"], "value": e["value"],
                             "typical": e["typical"], "z": e["z"], "score": score, "threshold": float(data.threshold_)})
    else:
        for f in findings_of(data):
            feats = f.details.get("features")
            if not isinstance(feats, list) or "period_start" not in f.details:
                continue
            start = date.fromisoformat(str(f.details["period_start"]))
            for k, e in enumerate(feats[:top], 1):
                rows.append({"employee_id": f.employee_id, "period_start": start, "id": f.id, "rule": f.name,
                             "rank": k, "feature": e.get("name"), "value": e.get("value"), "typical": e.get("typical"),
                             "z": e.get("z"), "score": f.details.get("score"), "threshold": f.details.get("threshold")})
    return _indexed(rows, EXPLANATION_COLUMNS, as_frame)


def _local(t: datetime, zone: str) -> date:
    from zoneinfo import ZoneInfo

    return t.astimezone(ZoneInfo(zone)).date()
