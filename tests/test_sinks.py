"""Sinks (hrguard.sinks): a callback, a JSON Lines file, an SQLite table upserted by finding id; the severity
filter, bad arguments, threads, and the idempotence that makes a re-run or a restarted stream safe."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import hrguard
from hrguard.errors import ArgumentTypeError, HrguardError, InvalidArgumentError, MissingFileError
from hrguard.findings import Finding, Severity
from hrguard.sinks import CallbackSink, JsonlSink, Sink, SqliteSink

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 4, 2, 10, 5, tzinfo=timezone(timedelta(hours=8)))


def finding(i: int, severity: str = "medium", **kw) -> Finding:
    return Finding(id=f"F{i:04d}", rule="geofence.mismatch", name="geofence", severity=severity,
                   ts=T0 + timedelta(minutes=i), employee_id=f"E{i % 3}", customer_id=None,
                   message=f"finding {i} — 打卡", evidence=[f"e{i}", f"e{i + 1}"],
                   details={"distance_m": 3450.3 + i, "nested": {"b": 1, "a": [1, 2]}}, **kw)


EVERY = [finding(i, s.value) for i, s in enumerate(Severity)]  # one of each severity, info first


@pytest.fixture(scope="module")
def scanned():
    ruleset = hrguard.load_ruleset(ROOT / "docs/examples/quickstart.yaml")
    events = [json.loads(line) for line in (ROOT / "docs/examples/quickstart.jsonl").read_text().splitlines()]
    return ruleset, events


# -- the interface and the severity filter -------------------------------------------------------------
def test_a_callback_gets_each_write_once_and_never_an_empty_list():
    calls = []
    with CallbackSink(calls.append) as sink:
        sink.write(EVERY)
        sink.write([])
        sink.write(iter(EVERY[:2]))  # any iterable: a generator, a ScanResult's findings
    assert calls == [EVERY, EVERY[:2]] and calls[0] is not EVERY  # a list of its own
    assert sink.closed and sink.min_severity is Severity.info


@pytest.mark.parametrize("floor, kept", [("info", 5), ("low", 4), (Severity.medium, 3), ("HIGH", 2), ("critical", 1)])
def test_findings_below_min_severity_are_not_written(floor, kept):
    calls = []
    sink = CallbackSink(calls.append, min_severity=floor)
    sink.write(EVERY)
    assert calls == [EVERY[-kept:]]
    sink.write(EVERY[: 5 - kept])  # all below the floor: the callback is not called
    assert len(calls) == 1


def test_a_sink_of_your_own_implements_emit():
    class Counting(Sink):
        def __init__(self):
            super().__init__(min_severity="high")
            self.seen = 0

        def emit(self, findings):
            self.seen += len(findings)

    sink = Counting()
    sink.write(EVERY)
    assert sink.seen == 2
    with pytest.raises(TypeError):
        Sink()  # abstract


@pytest.mark.parametrize("make, error, match", [
    (lambda: CallbackSink(print, min_severity="urgent"), InvalidArgumentError,
     "^min_severity: 'urgent' is not a severity: expected one of info, low, medium, high, critical"),
    (lambda: CallbackSink(print, min_severity=3), ArgumentTypeError, "^min_severity: expected a Severity"),
    (lambda: CallbackSink("print"), ArgumentTypeError, "^fn: expected a callable"),
    (lambda: JsonlSink(42), ArgumentTypeError, "^path: expected a str or os.PathLike path, got int"),
    (lambda: SqliteSink(None), ArgumentTypeError, "^path: "),
    (lambda: SqliteSink(":memory:", table=["findings"]), ArgumentTypeError, "^table: expected a str"),
])
def test_bad_arguments_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("findings, argument", [
    (EVERY[0], "findings"), ("F0001", "findings"), ({"id": "F1"}, "findings"), (None, "findings"),
    ([EVERY[0], {"id": "F1"}], "findings[1]"), ([EVERY[0].model_dump()], "findings[0]"),
])
def test_writing_what_is_not_findings_names_it(findings, argument):
    calls = []
    sink = CallbackSink(calls.append)
    with pytest.raises(ArgumentTypeError) as exc:
        sink.write(findings)
    assert exc.value.argument == argument and calls == []


def test_a_closed_sink_refuses_writes(tmp_path):
    for sink in (CallbackSink(print), JsonlSink(tmp_path / "f.jsonl"), SqliteSink(tmp_path / "f.db")):
        sink.close()
        sink.close()  # idempotent
        with pytest.raises(HrguardError, match="is closed"):
            sink.write(EVERY)
        with pytest.raises(HrguardError, match="is closed"):
            sink.__enter__()


# -- JSON Lines ------------------------------------------------------------------------------------------
def test_jsonl_writes_exactly_model_dump_with_sorted_keys(tmp_path):
    path = tmp_path / "findings.jsonl"
    with JsonlSink(path, min_severity="low") as sink:
        sink.write(EVERY)
    data = path.read_bytes()
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 5  # four findings, each ending in \n
    for line, f in zip(lines, EVERY[1:]):
        assert json.loads(line) == f.model_dump(mode="json")
        assert line == json.dumps(f.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    assert "打卡" in data.decode("utf-8")  # UTF-8, not \\u escapes
    assert Finding.model_validate_json(lines[0]) == EVERY[1]


def test_jsonl_appends_and_mends_a_line_a_crash_cut(tmp_path):
    path = tmp_path / "findings.jsonl"
    with JsonlSink(path) as sink:
        sink.write(EVERY[:2])
    with path.open("ab") as fh:
        fh.write(b'{"id": "F9999", "rul')  # a write cut by a crash
    with JsonlSink(path) as sink:
        sink.write(EVERY[2:3])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and lines[2] == '{"id": "F9999", "rul'
    assert [json.loads(line)["id"] for line in (lines[0], lines[1], lines[3])] == ["F0000", "F0001", "F0002"]


def test_jsonl_syncs_every_write_to_disk(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    with JsonlSink(tmp_path / "f.jsonl", min_severity="critical") as sink:
        sink.write(EVERY)
        sink.write(EVERY[:1])  # nothing kept: nothing written, nothing synced
        sink.write(EVERY)
    assert len(synced) == 2


def test_jsonl_never_creates_a_directory(tmp_path):
    missing = tmp_path / "no" / "such" / "findings.jsonl"
    with pytest.raises(MissingFileError, match=str(missing.parent)) as exc:
        JsonlSink(missing)
    assert isinstance(exc.value, FileNotFoundError) and not missing.parent.exists()
    with pytest.raises(InvalidArgumentError, match="^path: .* is a directory"):
        JsonlSink(tmp_path)


def test_threads_writing_one_jsonl_sink_never_interleave_lines(tmp_path):
    path = tmp_path / "f.jsonl"
    batches = [[finding(t * 100 + i) for i in range(20)] for t in range(8)]
    with JsonlSink(path) as sink:
        threads = [threading.Thread(target=lambda b=b: [sink.write(b[i:i + 5]) for i in range(0, 20, 5)])
                   for b in batches]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    ids = [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted(f.id for b in batches for f in b)


# -- SQLite ----------------------------------------------------------------------------------------------
def _rows(path, table="findings"):
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f'SELECT * FROM "{table}" ORDER BY id')]


def test_sqlite_stores_one_row_per_finding(tmp_path):
    path = tmp_path / "hr.db"
    with SqliteSink(path) as sink:
        sink.write(EVERY)
    rows = _rows(path)
    assert [r["id"] for r in rows] == [f.id for f in EVERY]
    row, f = rows[2], EVERY[2]
    dump = f.model_dump(mode="json")
    assert {k: row[k] for k in ("rule", "name", "severity", "ts", "employee_id", "customer_id", "tenant",
                                "message", "suppressed_by")} == {k: dump[k] for k in ("rule", "name", "severity", "ts",
                                                                                      "employee_id", "customer_id",
                                                                                      "tenant", "message",
                                                                                      "suppressed_by")}
    assert row["ts"] == "2026-04-02T10:07:00+08:00"
    assert json.loads(row["evidence"]) == f.evidence and json.loads(row["details"]) == f.details
    assert datetime.fromisoformat(row["written_at"]).tzinfo is not None
    with sqlite3.connect(path) as db:  # ts sorts as time with SQLite's own date functions
        assert db.execute("SELECT julianday(ts) < julianday('2026-04-02T02:08:00Z') FROM findings "
                          "WHERE id = 'F0002'").fetchone() == (1,)


def test_writing_the_same_findings_again_keeps_one_row_each(tmp_path):
    path = tmp_path / "hr.db"
    with SqliteSink(path) as sink:
        sink.write(EVERY)
        first = _rows(path)
        sink.write(EVERY)
        sink.write(EVERY[1:3])
    with SqliteSink(path) as again:  # a re-run nightly job, a restarted process
        again.write(EVERY)
        again.write([EVERY[0].model_copy(update={"suppressed_by": "on leave"})])
    rows = _rows(path)
    assert len(rows) == 5
    assert [r["written_at"] for r in rows] == [r["written_at"] for r in first]  # the first write's time
    assert rows[0]["suppressed_by"] == "on leave"  # but the finding's content is the latest written


def test_sqlite_severity_filter_and_own_table(tmp_path):
    path = tmp_path / "hr.db"
    with SqliteSink(path, "alerts_high", min_severity="high") as high, SqliteSink(path) as every:
        high.write(EVERY)
        every.write(EVERY)
    assert [r["severity"] for r in _rows(path, "alerts_high")] == ["high", "critical"]
    assert len(_rows(path)) == 5


@pytest.mark.parametrize("table", ['findings"; DROP TABLE findings; --', "1findings", "sqlite_master",
                                   "SQLITE_x", "", "a" * 64, "fi ndings", "findings.x", "名"])
def test_a_table_name_is_checked_never_interpolated(tmp_path, table):
    with pytest.raises(InvalidArgumentError, match="^table: .* is not a table name"):
        SqliteSink(tmp_path / "hr.db", table)
    assert SqliteSink(tmp_path / "ok.db", "a" * 63).table == "a" * 63


def test_a_table_of_another_shape_is_refused(tmp_path):
    path = tmp_path / "hr.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE findings (id TEXT PRIMARY KEY, what TEXT)")
    with pytest.raises(InvalidArgumentError, match="^table: table 'findings' of .* already exists without the "
                                                   "columns rule, name"):
        SqliteSink(path)
    with pytest.raises(MissingFileError, match="does not exist"):
        SqliteSink(tmp_path / "no" / "hr.db")
    (tmp_path / "notes.txt").write_text("not a database, " * 100)
    with pytest.raises(InvalidArgumentError, match="^path: .*cannot hold findings"):
        SqliteSink(tmp_path / "notes.txt")


def test_threads_writing_one_sqlite_sink_lose_nothing(tmp_path):
    path = tmp_path / "hr.db"
    errors = []
    with SqliteSink(path) as sink:
        def work(t: int) -> None:
            try:
                for i in range(30):  # overlapping ids across threads: upserts race on the same rows
                    sink.write([finding((t * 7 + i) % 60), finding(100 + t * 30 + i, "low")])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert not errors
    expected = {f"F{(t * 7 + i) % 60:04d}" for t in range(8) for i in range(30)} | {
        f"F{100 + t * 30 + i:04d}" for t in range(8) for i in range(30)}
    assert [r["id"] for r in _rows(path)] == sorted(expected)


def test_another_connection_reads_while_the_sink_writes(tmp_path):
    path = tmp_path / "hr.db"
    with SqliteSink(path) as sink:
        sink.write(EVERY[:2])
        reader = sqlite3.connect(path)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM findings").fetchone() == (2,)
        sink.write(EVERY[2:])  # WAL: a reader in a transaction does not block the writer
        assert reader.execute("SELECT count(*) FROM findings").fetchone() == (2,)  # its snapshot
        reader.rollback()
        assert reader.execute("SELECT count(*) FROM findings").fetchone() == (5,)
        reader.close()


# -- the nightly job: a batch scan and a stream store the same rows --------------------------------------
def test_a_scan_and_a_stream_of_the_same_events_fill_the_table_alike(tmp_path, scanned):
    ruleset, events = scanned
    as_of = "2026-04-30T00:00:00+08:00"
    batch_db, both_db = tmp_path / "batch.db", tmp_path / "both.db"
    with SqliteSink(batch_db) as sink:
        sink.write(hrguard.scan(events, ruleset, as_of=as_of).findings)
    with SqliteSink(both_db) as sink:
        stream = hrguard.Stream(ruleset)
        for event in events:
            sink.write(stream.push(event))
        sink.write(stream.advance_to(as_of))
        sink.write(hrguard.scan(events, ruleset, as_of=as_of).findings)  # and the nightly scan on top
    drop = lambda rows: [{k: v for k, v in r.items() if k != "written_at"} for r in rows]  # noqa: E731
    assert len(_rows(batch_db)) == 4 and drop(_rows(batch_db)) == drop(_rows(both_db))
