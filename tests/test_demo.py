"""The bundled demo: the article's case among honest colleagues; the customer trace."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

import hrguard
from hrguard.demo import build_events, load_events, run_demo
from hrguard.detectors import BUILTIN_DETECTORS
from hrguard.testing import run_all_ways
from hrguard.analytics import render_trace, trace_customer

EXPECTED_S01 = {  # (rule, reason) -> count, for Li Na; everybody else: nothing
    ("visit.evidence_missing", "no_photo"): 1,
    ("geofence.mismatch", "too_far"): 6,
    ("summary.unsupported_claim", None): 6,
    ("followup.stall", None): 1,
    ("plan.missing", None): 1,
    ("summary.missing", None): 1,
    ("approval.unverified_source", None): 1,
    ("customer.ownership_conflict", None): 1,
    ("customer.unregistered", None): 1,
    ("approval.bypass", "not_approved"): 1,
    ("approval.bypass", "invoice_without_approved_order"): 1,
    ("termination.unsettled", None): 1,
    ("private-orders", None): 1,  # the correlations of `sales`, by name
    ("repeated-geofence", None): 2,  # six far clock-ins: two runs of three within a week
}


def test_shipped_demo_file_is_what_the_story_builds():
    assert load_events() == json.loads(json.dumps(build_events()))


@pytest.fixture(scope="module")
def demo_result():
    return hrguard.scan(load_events(), "sales")


def test_exactly_the_articles_case_fires_and_only_for_her(demo_result):
    got = Counter((f.employee_id, f.name if f.rule == "correlation" else f.rule, f.details.get("reason") if f.rule in ("visit.evidence_missing",
                   "geofence.mismatch", "approval.bypass") else None) for f in demo_result.findings)
    assert {k[1:]: v for k, v in got.items() if k[0] == "S01"} == EXPECTED_S01
    assert {k for k in got if k[0] != "S01"} == set(), "honest employees must get no findings"
    assert demo_result.stats.rejected == 0 and not demo_result.errors and not demo_result.warnings


def test_every_seed_detector_fires_in_the_demo(demo_result):
    seed = {d.id for d in BUILTIN_DETECTORS} - {"expr", "outlier.isolation_forest"}  # correlation: in sales
    assert seed <= {f.rule for f in demo_result.findings}


def test_demo_batch_equals_stream(engine):
    run_all_ways(load_events(), engine.load_ruleset("sales"), engine=engine, chunk_sizes=(17, 65_536))


def test_run_demo_prints_and_writes_its_files(tmp_path):
    out = io.StringIO()
    result = run_demo(tmp_path / "demo", stream=out)
    text = out.getvalue()
    assert "Li Na" in text and "Employees by risk" in text and "approval.bypass" in text
    lines = text.splitlines()
    first_row = lines[lines.index(next(l for l in lines if l.startswith("EMPLOYEE"))) + 2]
    assert first_row.startswith("S01"), "the riskiest employee is listed first"
    files = {p.name for p in (tmp_path / "demo").iterdir()}
    assert files == {"events.jsonl", "findings.jsonl", "report.md"}
    written = [json.loads(l) for l in (tmp_path / "demo" / "findings.jsonl").read_text().splitlines()]
    assert [f["id"] for f in written] == [f.id for f in result.findings]
    assert "S01 Li Na" in (tmp_path / "demo" / "report.md").read_text()


def test_chinese_messages_for_every_demo_finding():
    result = hrguard.scan(load_events(), "sales-zh")
    assert result.findings
    for f in result.findings:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in f.message), f.message


def test_every_builtin_detector_speaks_english_and_chinese():
    for det in BUILTIN_DETECTORS:
        assert set(det.messages) >= {"en", "zh"}, det.id
        assert set(det.messages["en"]) == set(det.messages["zh"]), det.id


def test_trace_lists_every_operation_on_a_customer_in_order():
    t = trace_customer(load_events(), "C-L2")
    kinds = Counter(e.kind for e in t.entries)
    assert kinds["customer.registered"] == 1 and kinds["order.recorded"] == 1 and kinds["invoice.issued"] == 1
    assert kinds["approval.decided"] == 2  # manager and finance: legal never decided
    assert [(e.ts, e.event_id) for e in t.entries] == sorted((e.ts, e.event_id) for e in t.entries)
    assert {"S01", "M01", "F01"} <= set(t.employees)
    rules = {f.rule for f in t.findings}
    assert {"approval.bypass", "geofence.mismatch", "summary.unsupported_claim"} <= rules
    assert all(f.customer_id in ("C-L2", None) for f in t.findings)
    marked = [e for e in t.entries if e.findings]
    assert marked and all(e.findings for e in marked)
    text = render_trace(t)
    assert "FINDING high" in text and "invoice.issued" in text


def test_trace_of_an_unknown_customer_is_empty():
    t = trace_customer(load_events(), "NOPE")
    assert t.entries == [] and t.findings == []
    assert "No events name customer NOPE" in render_trace(t)
