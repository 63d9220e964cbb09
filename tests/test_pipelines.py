"""The pipeline language: validation with located problems, each mapping feature, the entry points (scan,
Stream, the command line), located rejections, and the XES reader's defusing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import hrguard
from hrguard.cli import main
from hrguard.pipelines import SKIP, load_pipeline, pipeline_json_schema, read_xes

PUNCH = {"kind": "attendance.punched", "id": "p-{id}", "fields": {"ts": "at", "employee_id": "who", "direction": "dir"}}


def pipe(engine, sources, **top):
    return engine.load_pipeline({"pipeline": "t", **top, "sources": sources})


# -- validation ----------------------------------------------------------------------------------------------
BROKEN = """\
pipeline: broken
timezone: Mars/Olympus
sources:
  - name: a
    where: {type: swipe}
    emit:
      - kind: attendance.punchd
        id: "x-{id}"
  - name: b
    emitt: []
  - name: a
    skip: true
  - name: c
    emit:
      - kind: attendance.punched
        id: "x-{id:>5}"
        fields: {ts: at, speed: v}
        set: {ts: "2026-01-01T00:00:00Z"}
"""


def test_every_problem_is_located_at_once(engine, tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(hrguard.PipelineError) as err:
        load_pipeline(f, engine)
    got = [(p.line, p.column, p.message) for p in err.value.problems]
    assert [(line, col) for line, col, _ in got] == [(2, 11), (7, 15), (10, 5), (11, 11), (16, 13), (17, 26),
                                                     (18, 15)]
    text = "\n".join(m for _, _, m in got)
    for piece in ("Mars/Olympus", "unknown event kind 'attendance.punchd'", "unknown key 'emitt'",
                  "duplicate source name 'a'", "a template field is a path only", "has no field 'speed'",
                  "'ts' is both read ('fields') and set ('set')"):
        assert piece in text
    assert isinstance(err.value, hrguard.RulesetError)  # reported like a ruleset's problems


def test_the_cli_reports_a_broken_pipeline_with_exit_2(tmp_path, capsys):
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text("{}\n", encoding="utf-8")
    assert main(["scan", str(events), "--pipeline", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:7:15:" in err and err.strip().endswith("invalid pipeline: 7 problems; nothing was loaded")


def test_yaml_is_read_safely_and_extends_cycles_are_found(engine, tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("sources: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(hrguard.PipelineError, match="could not determine a constructor|YAML"):
        load_pipeline(evil, engine)
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("extends: b.yaml\nsources: [{name: x, skip: true}]\n", encoding="utf-8")
    b.write_text("extends: a.yaml\nsources: [{name: y, skip: true}]\n", encoding="utf-8")
    with pytest.raises(hrguard.PipelineError, match="a cycle: a.yaml -> b.yaml -> a.yaml"):
        load_pipeline(a, engine)
    big = tmp_path / "big.yaml"
    big.write_text("#" * (hrguard.pipelines.MAX_FILE_BYTES + 1), encoding="utf-8")
    with pytest.raises(hrguard.PipelineError, match="at most 1 MiB"):
        load_pipeline(big, engine)


def test_the_json_schema_accepts_the_presets_and_refuses_unknown_keys(capsys):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = pipeline_json_schema()
    presets = sorted((Path(hrguard.__file__).parent / "pipelines" / "presets").glob("*.yaml"))
    assert {p.stem for p in presets} == {"frappe-hrms", "odoo", "bpic2020"}
    for p in presets:
        jsonschema.validate(yaml.safe_load(p.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sources": [{"name": "a", "emitt": []}]}, schema)
    assert main(["schema", "pipeline"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "hrguard mapping pipeline"


# -- mapping ----------------------------------------------------------------------------------------------------
def test_rename_values_constants_and_attrs(engine):
    p = pipe(engine, [{"name": "s", "values": {"dir": {"map": {"I": "in", "O": "out"}}}, "emit": [PUNCH]}],
             timezone="Europe/Paris", set={"tenant": "acme", "currency": "EUR"})
    out = p.map({"id": 1, "at": "2026-07-01 09:00:00", "who": "E1", "dir": " i ", "door": "HQ-1"})
    assert out == [{"kind": "attendance.punched", "id": "p-1", "ts": "2026-07-01T09:00:00+02:00", "employee_id": "E1",
                    "direction": "in", "tenant": "acme", "attrs": {"door": "HQ-1"}}]  # no currency: not a punch field
    bad = p.map({"id": 2, "at": "2026-07-01 09:00:00", "who": "E1", "dir": "sideways"})
    assert (bad.id, bad.field) == ("2", "dir") and "'sideways' is not one of 'I', 'O'" in bad.message
    keep = pipe(engine, [{"name": "s", "values": {"dir": {"map": {"I": "in"}, "other": "keep"}}, "emit": [PUNCH]}],
                timezone="UTC")
    assert keep.map({"id": 3, "at": "2026-07-01 09:00:00", "who": "E1", "dir": "out"})[0]["direction"] == "out"


@pytest.mark.parametrize("at, epoch, zone, want", [
    ("2026-01-15 09:00:00", "s", "Europe/Paris", "2026-01-15T09:00:00+01:00"),  # naive: the source's zone
    ("2026-07-15T09:00:00", "s", "Europe/Paris", "2026-07-15T09:00:00+02:00"),  # daylight saving time
    ("2026-07-15T09:00:00Z", "s", "Europe/Paris", "2026-07-15T09:00:00+00:00"),  # an offset is kept
    ("2026-07-15", "s", "Asia/Kolkata", "2026-07-15T00:00:00+05:30"),  # a date: local midnight
    (1_784_106_000, "s", None, "2026-07-15T09:00:00+00:00"),
    (1_784_106_000_250, "ms", None, "2026-07-15T09:00:00.250000+00:00"),
    (1_784_106_000_000_001, "us", None, "2026-07-15T09:00:00.000001+00:00"),
])
def test_times_in_the_sources_zone_or_epoch_unit(engine, at, epoch, zone, want):
    p = pipe(engine, [{"name": "s", "emit": [PUNCH]}], epoch=epoch, **({"timezone": zone} if zone else {}))
    assert p.map({"id": 1, "at": at, "who": "E1", "dir": "in"})[0]["ts"] == want


def test_a_naive_time_without_a_zone_is_a_located_rejection(engine):
    p = pipe(engine, [{"name": "s", "emit": [PUNCH]}])
    result = engine.scan([{"id": 1, "at": "2026-01-15 09:00:00", "who": "E1", "dir": "in"}], {"rules": []}, pipeline=p)
    rej, = result.rejected
    assert (rej.line, rej.id, rej.field) == (1, "1", "at") and "names no time zone" in rej.message


def test_one_record_many_events_sentinels_each_and_when(engine):
    p = pipe(engine, [{
        "name": "att",
        "sentinels": [{"fields": ["in_lat", "in_lon"], "equals": [0, 0]}],
        "emit": [
            {"kind": "attendance.punched", "id": "a-{id}-in", "set": {"direction": "in"},
             "fields": {"ts": "check_in", "employee_id": "{emp.0}", "lat": "in_lat", "lon": "in_lon"}},
            {"kind": "attendance.punched", "id": "a-{id}-out", "when": {"check_out": {"present": True}},
             "set": {"direction": "out"}, "fields": {"ts": "check_out", "employee_id": "{emp.0}"}},
            {"kind": "plan.submitted", "id": "plan-{id}-{row.n}", "each": "plans",
             "fields": {"ts": "check_in", "employee_id": "{emp.0}", "date": "row.day"}},
        ]}], timezone="UTC", missing=[False])
    row = {"id": 5, "emp": [3, "Marc"], "check_in": "2026-04-01 08:00:00", "check_out": "2026-04-01 17:00:00",
           "in_lat": 0.0, "in_lon": 0.0, "plans": [{"n": 1, "day": "2026-04-01"}, {"n": 2, "day": "2026-04-02"}]}
    out = p.map(row)
    assert [e["id"] for e in out] == ["a-5-in", "a-5-out", "plan-5-1", "plan-5-2"]
    assert "lat" not in out[0] and out[0]["employee_id"] == "3"
    assert [e["date"] for e in out[2:]] == ["2026-04-01", "2026-04-02"]
    still_in = p.map({**row, "check_out": False, "plans": [], "in_lat": 1.5, "in_lon": 2.5})
    assert [e["id"] for e in still_in] == ["a-5-in"] and (still_in[0]["lat"], still_in[0]["lon"]) == (1.5, 2.5)


def test_no_source_skip_and_require_are_counted_never_silent(engine, tmp_path):
    p = pipe(engine, [{"name": "punch", "where": {"type": "swipe"}, "require": ["who"], "emit": [PUNCH]},
                      {"name": "noise", "where": {"type": {"prefix": "heart"}}, "skip": True}], timezone="UTC")
    lines = [{"type": "swipe", "id": 1, "at": "2026-04-01 08:00:00", "who": "E1", "dir": "in"},
             {"type": "HEARTBEAT", "id": 2},
             {"type": "swipe", "id": 3, "at": "2026-04-01 08:05:00", "dir": "in"},
             {"type": "door", "id": 4},
             "not a record"]
    f = tmp_path / "raw.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    assert p.map(lines[1]) is SKIP
    result = engine.scan(str(f), {"rules": []}, pipeline=p)
    s = result.stats
    assert (s.received, s.valid, s.rejected, s.skipped) == (4, 1, 3, 1)
    assert [(r.line, r.id, r.field) for r in result.rejected] == [(3, "3", "who"), (4, "4", None), (5, None, None)]
    assert "no source of pipeline 't' takes this record" in result.rejected[1].message
    with pytest.raises(hrguard.InvalidEventError, match="raw.jsonl:3 .id 3.: field 'who'"):
        engine.scan(str(f), {"rules": []}, pipeline=p, strict=True)


def test_the_stream_and_the_bounded_scan_map_records_too(engine):
    p = pipe(engine, [{"name": "s", "emit": [PUNCH]}], timezone="UTC")
    recs = [{"id": i, "at": f"2026-04-01 08:0{i}:00", "who": "E1", "dir": "in"} for i in range(3)]
    stream = hrguard.Stream({"rules": []}, engine=engine, pipeline=p)
    assert [o.status for o in stream.push_many(recs[:2] + [{"id": 9}]).outcomes] == ["accepted", "accepted", "rejected"]
    assert stream.push(recs[2]).outcome.status == "accepted"
    # the record mapped, to an event without its required ts: rejected by the event's model, at its position
    assert (stream.stats.valid, stream.stats.rejected, stream.rejected[0].field) == (3, 1, "ts")
    bounded = engine.scan(recs, {"rules": []}, max_disorder="1h", pipeline=p)
    assert bounded.stats.valid == 3


def test_the_cli_scans_through_a_bundled_pipeline(tmp_path, capsys):
    rows = [{"_model": "hr.attendance", "id": 1, "employee_id": [2, "A"], "check_in": "2026-04-01 08:00:00",
             "check_out": "2026-04-01 12:00:00"}, {"_model": "hr.attendance", "id": 2, "employee_id": False}]
    f = tmp_path / "odoo.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert main(["scan", str(f), "--pipeline", "odoo", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["summary"]["valid"] == 2 and doc["rejected"][0]["line"] == 2 and doc["rejected"][0]["field"] == "employee_id"
    assert "rejected " in err and "field 'employee_id'" in err


# -- XES ----------------------------------------------------------------------------------------------------------
XES = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0">
  <string key="concept:name" value="log"/>
  <trace>
    <string key="concept:name" value="case 1"/>
    <float key="Amount" value="12.5"/>
    <event>
      <string key="concept:name" value="Start"/>
      <date key="time:timestamp" value="2018-01-02T00:00:00.000+01:00"/>
      <int key="n" value="7"/>
      <boolean key="ok" value="true"/>
    </event>
  </trace>
</log>
"""


def test_xes_is_read_with_lines_and_types(tmp_path):
    f = tmp_path / "log.xes.gz"
    f.write_bytes(gzip.compress(XES.encode()))
    block, = read_xes(f)
    assert block.lines == [7] and block.values == [{"concept:name": "Start", "time:timestamp":
                                                    "2018-01-02T00:00:00.000+01:00", "n": 7, "ok": True,
                                                    "trace": {"concept:name": "case 1", "Amount": 12.5}}]


@pytest.mark.parametrize("doc, why", [
    ('<?xml version="1.0"?><!DOCTYPE log [<!ENTITY a "aaaa">]><log>&a;</log>', "document type declaration"),
    ('<?xml version="1.0"?><!DOCTYPE log SYSTEM "file:///etc/passwd"><log/>', "document type declaration"),
    ("<log><trace></log>", "not well-formed"),
])
def test_xes_is_defused(tmp_path, doc, why):
    f = tmp_path / "evil.xes"
    f.write_text(doc, encoding="utf-8")
    with pytest.raises(hrguard.InvalidArgumentError, match=why):
        list(read_xes(f))
