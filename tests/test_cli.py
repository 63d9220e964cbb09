"""The command line: every command, option and exit code of spec/interfaces.md and cli.py's docstring."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hrguard
import hrguard.engine._default
from hrguard.cli import main, render_table
from hrguard.engine import Engine

SH = "+08:00"


def ev(id_, kind, ts, **fields):
    return {"id": id_, "kind": kind, "ts": f"2026-04-{ts}{SH}", "employee_id": fields.pop("employee_id", "E042"),
            **fields}


# A customer in 'quoting' that stalls (7d), a clock-in 2.7 km from the planned customer, a large order.
EVENTS = [
    ev("e1", "customer.registered", "01T09:00:00", customer_id="C-A", name="Acme", owner_id="E042",
       lat=31.2304, lon=121.4737),
    ev("e2", "customer.registered", "01T09:00:00", customer_id="C-B", name="Bolt", owner_id="E042",
       lat=31.2304, lon=121.4737),
    ev("e3", "plan.submitted", "02T08:40:00", date="2026-04-02",
       items=[{"customer_id": "C-B", "start": "09:30", "end": "11:30"}]),
    ev("e4", "customer.stage_changed", "02T10:00:00", customer_id="C-A", stage="quoting"),
    ev("e5", "attendance.punched", "02T10:05:00", direction="in", lat=31.24, lon=121.50, accuracy_m=15,
       source="gps"),
    ev("e6", "followup.logged", "20T10:00:00", customer_id="C-A", channel="phone", summary="call"),
    ev("e7", "order.recorded", "20T11:00:00", customer_id="C-A", order_id="O1", amount=600000),
]

# Rules listed here rather than extended from the bundled 'sales', which grows with the detectors.
RULES = """\
  - use: geofence.mismatch
  - use: followup.stall
"""
RULESET = """\
ruleset: cli-test
timezone: Asia/Shanghai
rules:
""" + RULES + """\
  - use: expr
    name: big-order
    severity: high
    params: {on: order.recorded, condition: "event.amount > 500000", message: "large order {amount} for {customer_id}"}
"""


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def builtins_only(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI uses the default engine: make it one without installed plugins, here and in subprocesses."""
    monkeypatch.setattr(hrguard.engine._default, "_DEFAULT", engine)
    monkeypatch.setenv("HRGUARD_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "events.jsonl", EVENTS)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    p = tmp_path / "rules.yaml"
    p.write_text(RULESET, encoding="utf-8")
    return p


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """``run(*args)`` -> (exit code, stdout, stderr) of ``hrguard.cli.main``."""

    def call(*args: object) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def cli(*args: object, input: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HRGUARD_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "hrguard", *map(str, args)], input=input, capture_output=True,
                          text=True, encoding="utf-8", env=env, cwd=cwd, timeout=120)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- scan ----------------------------------------------------------------------------------------
def test_scan_prints_an_aligned_table_and_a_summary_on_stderr(run, events, rules):
    code, out, err = run("scan", events, "--ruleset", rules)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "SEVERITY", "RULE", "EMPLOYEE", "CUSTOMER", "MESSAGE"]
    assert set(lines[1]) <= {"-", " "}
    body = lines[2:]
    assert [line.split()[2] for line in body] == ["medium", "medium", "high"]  # date, time, then severity
    assert [line.split()[3] for line in body] == ["geofence.mismatch", "followup.stall", "big-order"]
    for col in ("SEVERITY", "RULE", "EMPLOYEE", "CUSTOMER", "MESSAGE"):  # every column starts where its header does
        start = lines[0].index(col)
        assert all(line[start - 2 : start] == "  " and line[start] != " " for line in body), col
    assert body[0].startswith("2026-04-02 10:05")  # local time of the ruleset's zone
    assert body[2].endswith("large order 600000 for C-A")
    assert err.strip().splitlines()[-1] == (
        "7 records: 7 valid, 0 duplicates, 0 rejected; 3 findings (1 high, 2 medium), 0 suppressed; "
        "ruleset cli-test, as of 2026-04-20T11:00:00+08:00")


def test_scan_defaults_to_the_bundled_sales_ruleset(run, events):
    code, out, err = run("scan", events)
    assert code == 0
    assert "big-order" not in out and "geofence.mismatch" in out
    assert "ruleset sales," in err


@pytest.mark.parametrize("name, needle", [("sales", "E042 clocked in 2,719 m from customer C-B (per plan e3)"), ("sales-zh", "E042 上班打卡位置距客户 C-B 2,719 米（按计划 e3）")])
def test_scan_takes_a_bundled_ruleset_by_name(run, events, name, needle):
    code, out, _ = run("scan", events, "-r", name, "-f", "jsonl")
    assert code == 0
    assert needle in [f["message"] for f in jsonl(out) if f["rule"] == "geofence.mismatch"][0]


def test_scan_jsonl_is_one_finding_per_line_equal_to_the_python_api(run, events, rules, engine):
    code, out, err = run("scan", events, "--ruleset", rules, "--format", "jsonl")
    assert code == 0
    got = jsonl(out)
    expected = [f.to_json_dict() for f in hrguard.scan(str(events), engine.load_ruleset(str(rules))).findings]
    assert got == json.loads(json.dumps(expected))
    assert [f["name"] for f in got] == ["geofence.mismatch", "followup.stall", "big-order"]
    assert got[0]["evidence"] == ["e2", "e3", "e5"] and got[0]["details"]["reason"] == "too_far"
    assert "3 findings" in err  # the summary stays on stderr: stdout is pure JSON Lines


def test_scan_json_is_one_document_with_summary_findings_and_rejections(run, events, rules, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", ['{"id": "x1", "kind": "nope", "ts": "2026-04-02T10:00:00+08:00"}'])
    code, out, _ = run("scan", events, bad, "--ruleset", rules, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"summary", "findings", "suppressed", "rejected", "warnings", "detector_errors"}
    assert doc["summary"]["findings"] == len(doc["findings"]) == 3
    assert doc["summary"]["rejected"] == 1
    assert doc["rejected"][0]["line"] == 1 and doc["rejected"][0]["id"] == "x1"
    assert doc["rejected"][0]["field"] == "kind"


def test_scan_of_several_files_is_the_scan_of_their_union(run, events, rules, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", EVENTS[:4])
    b = write_jsonl(tmp_path / "b.jsonl", EVENTS[4:])
    _, whole, _ = run("scan", events, "-r", rules, "-f", "jsonl")
    code, split, err = run("scan", b, a, "-r", rules, "-f", "jsonl")  # order of files does not matter either
    assert code == 0 and split == whole
    assert err.startswith("7 records: 7 valid")


def test_scan_reads_stdin_for_a_dash(events, rules):
    whole = cli("scan", events, "-r", rules, "-f", "jsonl")
    piped = cli("scan", "-", "-r", rules, "-f", "jsonl", input=events.read_text(encoding="utf-8"))
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == whole.stdout and len(jsonl(piped.stdout)) == 3


def test_scan_accepts_a_json_array_file(run, events, rules, tmp_path):
    arr = tmp_path / "events.json"
    arr.write_text(json.dumps(EVENTS), encoding="utf-8")
    assert run("scan", arr, "-r", rules, "-f", "jsonl")[1] == run("scan", events, "-r", rules, "-f", "jsonl")[1]


def test_scan_as_of_ignores_later_events_and_timers_not_yet_due(run, events, rules):
    code, out, err = run("scan", events, "-r", rules, "-f", "jsonl", "--as-of", "2026-04-09T09:59:59+08:00")
    assert code == 0
    assert [f["name"] for f in jsonl(out)] == ["geofence.mismatch"]  # the stall is due at 04-09 10:00
    assert "2 events after the as-of time ignored" in err
    assert "as of 2026-04-09T09:59:59+08:00" in err
    _, out, err = run("scan", events, "-r", rules, "-f", "jsonl", "--as-of", "2026-04-09T02:00:00Z")
    assert [f["name"] for f in jsonl(out)] == ["geofence.mismatch", "followup.stall"]  # at or before as-of
    assert "as of 2026-04-09T10:00:00+08:00" in err  # shown in the ruleset's zone


@pytest.mark.parametrize("value, says", [("yesterday", "expected an RFC 3339 time"),
                                         ("2026-04-09T10:00:00", "has no UTC offset"),
                                         ("2026-04-09", "has no UTC offset")])
def test_scan_rejects_a_bad_as_of_as_usage(run, events, value, says):
    code, out, err = run("scan", events, "--as-of", value)
    assert code == 2 and out == ""
    assert says in err and "--as-of" in err


def test_scan_out_writes_the_file_and_leaves_stdout_empty(run, events, rules, tmp_path):
    target = tmp_path / "findings.jsonl"
    code, out, err = run("scan", events, "-r", rules, "-f", "jsonl", "--out", target)
    assert code == 0 and out == ""
    assert len(jsonl(target.read_text(encoding="utf-8"))) == 3
    assert "3 findings" in err


def test_scan_table_to_a_file_keeps_messages_whole(run, events, rules, tmp_path):
    target = tmp_path / "findings.txt"
    assert run("scan", events, "-r", rules, "--out", target)[0] == 0
    assert "is something wrong?" in target.read_text(encoding="utf-8")


def test_scan_out_into_a_missing_directory_is_a_clear_error(run, events, tmp_path):
    code, _, err = run("scan", events, "--out", tmp_path / "no" / "such" / "dir.jsonl")
    assert code == 2
    assert "No such file or directory" in err and "dir.jsonl" in err and "Traceback" not in err


@pytest.mark.parametrize("bar, code", [("info", 1), ("medium", 1), ("high", 1), ("critical", 0)])
def test_fail_on_exits_1_when_a_finding_is_at_least_that_severe(run, events, rules, bar, code):
    assert run("scan", events, "-r", rules, "--fail-on", bar)[0] == code


def test_fail_on_ignores_suppressed_findings(run, events, tmp_path):
    rs = tmp_path / "rs.yaml"
    rs.write_text(RULESET + "    exceptions: [{customers: [C-A], reason: audited}]\n", encoding="utf-8")
    assert run("scan", events, "-r", rs, "--fail-on", "high")[0] == 0


def test_rejected_records_are_reported_with_line_numbers_and_counted(run, events, rules, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [
        {"id": "b1", "kind": "attendance.punched", "ts": "2026-04-02T10:05:00", "direction": "in"},  # naive ts
        "{not json",
        EVENTS[0],  # a duplicate delivery: counted, not rejected
        {**EVENTS[1], "name": "other"},  # same id, other content: rejected
    ])
    bad.write_text(bad.read_text(encoding="utf-8").replace("{not json", "\n{not json"), encoding="utf-8")
    code, out, err = run("scan", events, bad, "-r", rules)
    assert code == 0
    rejected = [line for line in err.splitlines() if line.startswith("rejected ")]
    assert len(rejected) == 3
    assert rejected[0].startswith(f"rejected {bad}:1 (id b1): field 'ts':")
    assert rejected[1].startswith(f"rejected {bad}:3:") and "malformed JSON" in rejected[1]  # blank line 2 skipped
    assert rejected[2].startswith(f"rejected {bad}:5 (id e2): field 'id':")
    assert "11 records: 7 valid, 1 duplicate, 3 rejected; 3 findings" in err
    assert len(out.splitlines()) == 2 + 3  # the valid records still produce every finding


def test_strict_stops_at_the_first_rejected_record_with_exit_3(run, events, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [EVENTS[0], {"id": "b1", "kind": "no.such.kind", "ts": "x"}])
    code, out, err = run("scan", events, bad, "--strict")
    assert code == 3 and out == ""
    assert f"rejected {bad}:2 (id b1): field 'kind': unknown kind 'no.such.kind'" in err
    assert "--strict" in err
    assert run("scan", events, "--strict")[0] == 0  # strict mode with clean input is a normal scan


def test_show_suppressed_lists_suppressed_findings_with_their_reason(run, events, tmp_path):
    rs = tmp_path / "rs.yaml"
    rs.write_text("timezone: Asia/Shanghai\nrules:\n" + RULES +
                  "    exceptions: [{customers: [C-A], until: 2026-04-30, reason: on hold by the customer}]\n",
                  encoding="utf-8")
    _, out, err = run("scan", events, "-r", rs)
    assert "followup.stall" not in out and "1 finding (1 medium), 1 suppressed" in err
    _, out, _ = run("scan", events, "-r", rs, "--show-suppressed")
    assert "[suppressed: on hold by the customer] Customer C-A" in out
    _, out, _ = run("scan", events, "-r", rs, "--show-suppressed", "-f", "jsonl")
    assert [f.get("suppressed_by") for f in jsonl(out)] == [None, "on hold by the customer"]


def test_a_detector_that_raises_exits_4_and_the_other_rules_still_report(run, events, monkeypatch, tmp_path):
    class Boom(hrguard.Detector):
        id = "test.boom"
        title = "always raises"

        def process(self, chunk):
            raise RuntimeError("kaboom")

    class Plugin:
        @hrguard.hookimpl
        def hrguard_register_detectors(self, register):
            register(Boom)

    monkeypatch.setattr(hrguard.engine._default, "_DEFAULT", Engine([Plugin()], entrypoints=False))
    rs = tmp_path / "rs.yaml"
    rs.write_text("timezone: Asia/Shanghai\nrules:\n  - use: geofence.mismatch\n  - use: test.boom\n",
                  encoding="utf-8")
    code, out, err = run("scan", events, "-r", rs, "--fail-on", "info")
    assert code == 4  # wins over --fail-on's 1
    assert "DETECTOR ERROR: rule 'test.boom' (detector test.boom) raised RuntimeError: kaboom" in err
    assert "geofence.mismatch" in out
    assert "1 detector error" in err


def test_expr_evaluation_errors_are_warnings(run, events, tmp_path):
    rs = tmp_path / "rs.yaml"
    rs.write_text('rules:\n  - use: expr\n    params: {on: customer.registered, condition: "event.nope > 1"}\n',
                  encoding="utf-8")
    code, out, err = run("scan", events, "-r", rs)
    assert code == 0 and out == "No findings.\n"
    assert "warning: rule 'expr': the condition could not be evaluated on 2 event(s)" in err


def test_scan_missing_or_unreadable_inputs_exit_2_with_a_clear_message(run, events, tmp_path):
    code, out, err = run("scan", tmp_path / "nope.jsonl")
    assert code == 2 and out == ""
    assert err.strip() == f"hrguard: {tmp_path / 'nope.jsonl'}: no such events file"
    code, _, err = run("scan", events, tmp_path)
    assert code == 2 and "is a directory" in err
    code, _, err = run("scan", events, "--ruleset", "no-such-ruleset")
    assert code == 2 and "no ruleset file or bundled ruleset named 'no-such-ruleset'" in err
    assert "Traceback" not in err


def test_scan_with_an_invalid_ruleset_exits_2_with_located_errors(run, events, tmp_path):
    rs = tmp_path / "rs.yaml"
    rs.write_text("rules:\n  - use: geofence.mismatch\n    params: {radius: 5}\n", encoding="utf-8")
    code, out, err = run("scan", events, "-r", rs)
    assert code == 2 and out == ""
    assert err.startswith(f"{rs}:3:")


def test_broken_pipe_is_quiet(events):
    env = {**os.environ, "HRGUARD_DISABLE_PLUGIN_AUTOLOAD": "1"}
    big = events.parent / "big.jsonl"
    punches = [{**EVENTS[4], "id": f"p{i:05}", "customer_id": "C-B"} for i in range(3000)]
    write_jsonl(big, EVENTS[:2] + punches)
    proc = subprocess.Popen([sys.executable, "-m", "hrguard", "scan", big, "-f", "jsonl"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


# -- the table -----------------------------------------------------------------------------------
def _finding(**kw) -> hrguard.Finding:
    base = dict(id="F1", rule="expr", name="big-order", severity="high", ts="2026-04-20T11:00:00+08:00",
                employee_id="E042", customer_id=None, message="large order")
    return hrguard.Finding(**{**base, **kw})


def test_table_cuts_messages_to_the_width_and_counts_wide_characters():
    long = _finding(message="x" * 300)
    wide = _finding(id="F2", message="客户" * 100)
    table = render_table([long, wide], width=100)
    lines = table.splitlines()
    from hrguard.findings import cell_width

    assert all(cell_width(line) <= 100 for line in lines)
    assert lines[2].endswith("…") and lines[3].endswith("…")
    assert lines[2].split()[-1].startswith("xxx") and "-" in lines[2]  # a null customer shows as '-'
    whole = render_table([long], width=None)
    assert whole.splitlines()[2].endswith("x" * 300)


def test_table_never_squeezes_the_message_below_24_columns():
    line = render_table([_finding(message="m" * 100)], width=10).splitlines()[2]
    assert line.endswith("m" * 23 + "…")


def test_table_of_nothing_says_so():
    assert render_table([]) == "No findings.\n"


def test_table_colours_severities_only_when_asked():
    assert "\x1b[" not in render_table([_finding()])
    assert "\x1b[31mhigh" in render_table([_finding()], color=True)


# -- validate ------------------------------------------------------------------------------------
def test_validate_ok_lists_the_rules(run, rules):
    code, out, err = run("validate", rules)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == (f"{rules}: ok — ruleset 'cli-test': 3 rules, language en, "
                                   "timezone Asia/Shanghai")
    names = [line.split()[0] for line in out.splitlines()[2:]]
    assert names == ["geofence.mismatch", "followup.stall", "big-order"]


def test_validate_a_bundled_ruleset_by_name(run):
    code, out, _ = run("validate", "sales")
    assert code == 0 and out.startswith("sales (bundled: ") and "ok — ruleset 'sales'" in out


def test_validate_invalid_reports_every_problem_as_file_line_col(run, tmp_path):
    rs = tmp_path / "broken.yaml"
    rs.write_text(
        "ruleset: broken\n"
        "timezone: Mars/Olympus\n"
        "rules:\n"
        "  - use: geofence.mismatch\n"
        "    params: {radius_m: -5, bogus: 1}\n"
        "  - use: no.such.detector\n"
        "  - use: followup.stall\n"
        "    params: {max_idle: {quoting: 7x}}\n",
        encoding="utf-8")
    code, out, err = run("validate", rs)
    assert code == 2 and out == ""
    lines = err.splitlines()
    located = [line for line in lines if re.match(rf"{re.escape(str(rs))}:\d+:\d+: ", line)]
    assert [int(line[len(str(rs)) + 1:].split(":")[0]) for line in located] == [2, 5, 5, 6, 8]
    assert "unknown IANA time zone 'Mars/Olympus'" in located[0]
    assert "unknown detector 'no.such.detector'" in located[3]
    assert lines[-1] == "invalid ruleset: 5 problems; nothing was loaded"


def test_a_file_named_like_a_bundled_ruleset_in_the_working_directory_is_an_error(tmp_path):
    (tmp_path / "sales").write_text("", encoding="utf-8")  # validate said "ok — 0 rules": the file won silently
    p = cli("validate", "sales", cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == ""
    assert "'sales' is both the bundled ruleset 'sales' (" in p.stderr and "write './sales' for the file" in p.stderr
    p = cli("validate", "./sales", cwd=tmp_path)
    assert p.returncode == 0 and "ok — ruleset 'sales': 0 rules" in p.stdout


def test_validate_an_unknown_name_exits_2(run):
    code, _, err = run("validate", "nonesuch")
    assert code == 2 and "no ruleset file or bundled ruleset named 'nonesuch' (bundled: " in err
    assert re.search(r"\(bundled: .*\bsales\b", err)


# -- detectors / schema ----------------------------------------------------------------------------
def test_detectors_lists_every_detector_with_params_and_defaults(run):
    code, out, _ = run("detectors")
    assert code == 0
    heads = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert {"geofence.mismatch", "followup.stall", "expr"} <= set(heads)
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and len(line.split()) > 2}
    assert rows["radius_m"].split()[1:3] == ["number", "500"]
    assert rows["window_slack"].split()[1:3] == ["duration", '"30m"']
    assert rows["flag_missing_location"].split()[1:3] == ["bool", "true"]
    assert '{"quoting": "7d", "pending_signing": "5d"}' in rows["max_idle"]
    assert "(required)" in rows["condition"] and "(required)" in rows["on"]


def test_detectors_json_is_machine_readable(run):
    code, out, _ = run("detectors", "--format", "json")
    assert code == 0
    listing = {d["id"]: d for d in json.loads(out)}
    geo = {p["name"]: p for p in listing["geofence.mismatch"]["params"]}
    assert geo["max_accuracy_credit_m"]["default"] == 200 and geo["window_slack"]["default"] == "30m"
    assert listing["expr"]["params"][0] == {"name": "on", "type": "list of strings", "required": True,
                                            "default": None, "description": "event kind(s) the condition judges"}
    assert listing["followup.stall"]["default_severity"] == "medium"


def test_schema_events_is_a_json_schema_of_every_kind(run):
    code, out, _ = run("schema", "events")
    assert code == 0
    schema = json.loads(out)
    kinds = set(schema["discriminator"]["mapping"])
    assert {"attendance.punched", "plan.submitted", "order.recorded", "customer.stage_changed"} <= kinds


def test_schema_ruleset_is_a_json_schema_naming_the_detectors(run):
    code, out, _ = run("schema", "ruleset")
    assert code == 0
    schema = json.loads(out)
    use = schema["$defs"]["RuleSpec"]["properties"]["use"]
    assert {"geofence.mismatch", "followup.stall", "expr"} <= set(use["enum"])


# -- demo / trace --------------------------------------------------------------------------------
def test_demo_prints_findings_and_a_summary_and_writes_its_files(run, tmp_path):
    out_dir = tmp_path / "demo"
    code, out, _ = run("demo", "--out", out_dir)
    assert code == 0
    assert out.startswith("hrguard demo: ") and "Employees by risk:" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["events.jsonl", "findings.jsonl", "report.md"]
    findings = jsonl((out_dir / "findings.jsonl").read_text(encoding="utf-8"))
    assert findings and all(f["id"] in out or f["message"] in out for f in findings[:1])
    assert str(out_dir / "report.md") in out


def test_demo_with_an_invalid_ruleset_writes_nothing(run, tmp_path):
    code, _, err = run("demo", "--out", tmp_path / "demo", "--ruleset", "no-such-ruleset")
    assert code == 2 and "no-such-ruleset" in err
    assert not (tmp_path / "demo").exists()


def test_trace_lists_a_customers_events_with_the_findings_that_touch_it(run, events, rules):
    code, out, _ = run("trace", "C-B", events, "-r", rules)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Customer C-B: 2 events by E042; 1 finding(s) touch it."
    assert [line.split()[5] for line in lines if line.startswith("* 2026")] == ["e2", "e3"]  # registration, plan
    assert any(line.startswith("! 2026-04-02 10:05") and "geofence.mismatch" in line for line in lines)
    code, out, _ = run("trace", "C-B", events, "--no-findings")
    assert code == 0 and "0 finding(s)" in out.splitlines()[0]


def test_trace_of_a_missing_file_exits_2(run, tmp_path):
    code, _, err = run("trace", "C-B", tmp_path / "nope.jsonl")
    assert code == 2 and "no such events file" in err


# -- usage ---------------------------------------------------------------------------------------
def test_python_dash_m_hrguard_works():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"hrguard {hrguard.__version__}"
    proc = cli("detectors")
    assert proc.returncode == 0 and "geofence.mismatch" in proc.stdout


@pytest.mark.parametrize("argv", [[], ["bogus"], ["scan"], ["scan", "x.jsonl", "--format", "xml"],
                                  ["scan", "x.jsonl", "--fail-on", "severe"], ["schema", "rules"],
                                  ["detectors", "--nope"]])
def test_bad_usage_exits_2_with_a_usage_line(run, argv):
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.startswith("usage: hrguard") and "error:" in err


def test_help_exits_0(run):
    code, out, _ = run("--help")
    assert code == 0 and "scan" in out and "exit codes:" in out
    code, out, _ = run("scan", "--help")
    assert code == 0 and "--fail-on" in out
