"""``hrguard.quality``: recall, false alarms, noise, precision and time to detect, figure by figure."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hrguard.findings import Finding, Severity
from hrguard.quality import Label, evaluate, evaluate_dataset, load_labels, load_roster
from hrguard.synth import SynthConfig, write_dataset

ROOT = Path(__file__).resolve().parent.parent
CST = timezone(timedelta(hours=8))


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 4, day, hour, tzinfo=CST)


def finding(n: int, rule: str, emp: str | None, ts: datetime, severity: str = "medium",
            name: str | None = None) -> Finding:
    return Finding(id=f"F{n}", rule=rule, name=name or rule, severity=Severity(severity), ts=ts, employee_id=emp,
                   message="m")


LABELS = [
    {"employee_id": "A", "scenario": "fake_visits", "start": "2026-04-01T09:00:00+08:00",
     "end": "2026-04-10T18:00:00+08:00", "expected_rules": ["geofence.mismatch", "visit.evidence_missing"],
     "kind": "misconduct"},
    {"employee_id": "B", "scenario": "fake_visits", "start": "2026-04-02T09:00:00+08:00",
     "end": "2026-04-05T18:00:00+08:00", "expected_rules": ["geofence.mismatch", "visit.evidence_missing"],
     "kind": "misconduct"},
    {"employee_id": "C", "scenario": "private_orders", "start": "2026-04-01T09:00:00+08:00",
     "end": "2026-04-03T18:00:00+08:00", "expected_rules": ["followup.stall"], "kind": "misconduct"},
    {"employee_id": "H1", "scenario": "poor_gps", "start": "2026-04-01T09:00:00+08:00",
     "end": "2026-04-20T18:00:00+08:00", "expected_rules": [], "kind": "noise"},
    {"employee_id": "H2", "scenario": "plan_changed", "start": "2026-04-03T08:00:00+08:00",
     "end": "2026-04-03T15:00:00+08:00", "expected_rules": [], "kind": "noise"},
]
ROSTER = {"A": "sales", "B": "sales", "C": "sales", "H1": "sales", "H2": "sales", "H3": "sales", "M": "manager"}
FINDINGS = [
    finding(1, "geofence.mismatch", "A", at(1, 9)),             # A detected at its start: 0 h
    finding(2, "visit.evidence_missing", "A", at(3), "low"),    # also A
    finding(3, "geofence.mismatch", "B", at(1)),                # before B's start: not B's
    finding(4, "followup.stall", "C", at(10, 9)),               # C: 7 days after start, inside end + 14d
    finding(5, "geofence.mismatch", "H1", at(5)),               # honest, medium: a false alarm, during poor_gps
    finding(6, "plan.missing", "H3", at(5), "low"),             # honest, low: not a false alarm
    finding(7, "geofence.mismatch", "H2", at(6)),               # honest; 3 days after the plan change
    finding(8, "summary.missing", "A", at(2), "low"),           # A, but not an expected rule: not true
]


@pytest.fixture
def report():
    return evaluate(FINDINGS, LABELS, ROSTER)


def test_recall_and_time_to_detect(report) -> None:
    s = {x.scenario: x for x in report.scenarios}
    assert [x.scenario for x in report.scenarios] == ["private_orders", "fake_visits"]  # the generator's order
    assert (s["fake_visits"].labels, s["fake_visits"].detected, s["fake_visits"].recall) == (2, 1, 0.5)
    assert s["fake_visits"].missed == ["B"]
    assert s["fake_visits"].time_to_detect == timedelta(0)
    assert s["fake_visits"].by_rule == {"geofence.mismatch": 1, "visit.evidence_missing": 1}
    assert s["private_orders"].recall == 1.0 and s["private_orders"].time_to_detect == timedelta(days=9)
    assert report.recall == 2 / 3


def test_the_grace_period_bounds_late_findings() -> None:
    late = [finding(1, "followup.stall", "C", at(3, 18) + timedelta(days=14, seconds=1))]
    assert evaluate(late, LABELS, ROSTER).scenarios[0].detected == 0
    assert evaluate(late, LABELS, ROSTER, grace="15d").scenarios[0].detected == 1


def test_false_alarms_count_honest_employees_with_a_medium_finding(report) -> None:
    assert report.honest == 4  # H1, H2, H3, M
    assert report.flagged == ["H1", "H2"] and report.false_alarm_rate == 0.5
    assert (report.honest_sales, report.flagged_sales) == (3, 2)
    assert report.flagged_by_rule == {"geofence.mismatch": 2}
    assert evaluate(FINDINGS, LABELS, ROSTER, min_severity="high").flagged == []


def test_without_a_roster_the_honest_are_those_seen() -> None:
    r = evaluate(FINDINGS, LABELS)
    assert r.honest == 3 and r.honest_sales is None  # H1, H2, H3: M is nowhere to be seen


def test_noise_counts_findings_while_it_happens(report) -> None:
    n = {x.scenario: x for x in report.noise}
    assert (n["poor_gps"].labels, n["poor_gps"].flagged, n["poor_gps"].by_rule) == (1, 1, {"geofence.mismatch": 1})
    assert n["plan_changed"].flagged == 0  # H2's finding came three days later
    assert {x.scenario: x.flagged for x in evaluate(FINDINGS, LABELS, ROSTER, noise_grace="4d").noise} == \
        {"poor_gps": 1, "plan_changed": 1}


def test_precision_per_rule(report) -> None:
    r = {x.rule: x for x in report.rules}
    assert (r["geofence.mismatch"].findings, r["geofence.mismatch"].true_positives) == (4, 1)
    assert r["geofence.mismatch"].precision == 0.25
    assert r["followup.stall"].precision == 1.0 and r["summary.missing"].precision == 0.0
    assert r["visit.evidence_missing"].by_severity == {"low": 1}


def test_an_instance_name_can_be_expected_too() -> None:
    labels = [{**LABELS[2], "expected_rules": ["stall-fast"]}]
    f = [finding(1, "followup.stall", "C", at(2), name="stall-fast")]
    assert evaluate(f, labels).scenarios[0].detected == 1


def test_labels_and_reports_round_trip(report, tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in LABELS), encoding="utf-8")
    assert load_labels(tmp_path) == load_labels(path) == [Label.of(x) for x in LABELS]
    doc = report.to_dict()
    assert doc["scenarios"]["fake_visits"]["median_time_to_detect_days"] == 0.0
    assert doc["false_alarms"]["rate"] == 0.5 and json.loads(json.dumps(doc)) == doc
    text = report.render()
    assert "fake_visits" in text and "False alarms" in text and "2 of 4 (50.0%)" in text
    with pytest.raises(ValueError, match="no UTC offset"):
        Label.of({**LABELS[0], "start": "2026-04-01T09:00:00"})


def test_evaluate_a_generated_dataset(tmp_path: Path) -> None:
    write_dataset(tmp_path, SynthConfig(employees=20, days=30, seed=2))
    report, result = evaluate_dataset(tmp_path)
    # every scenario a rule proves is caught; coasting (the outlier rule's) needs a bigger company
    assert result.stats.rejected == 0
    assert all(s.recall == 1.0 for s in report.scenarios if s.scenario != "coasting")
    bad = {lab.employee_id for lab in load_labels(tmp_path) if lab.kind == "misconduct"}
    assert report.honest == len(load_roster(tmp_path)) - len(bad)


def test_the_benchmark_script_runs(tmp_path: Path) -> None:
    write_dataset(tmp_path / "d", SynthConfig(employees=20, days=30, seed=3))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--data", str(tmp_path / "d"),
                           "--json", str(tmp_path / "q.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Recall by scenario" in proc.stdout and "Precision by rule" in proc.stdout
    assert json.loads((tmp_path / "q.json").read_text())["recall"] == 1.0
