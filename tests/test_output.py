"""Output people use: findings as CSV (spreadsheets) and Parquet (data teams), and the progress bar of long
scans (stderr, only on a terminal)."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import hrguard
from hrguard import Finding, MissingExtraError, Severity
from hrguard.cli import main
from hrguard.cli._progress import Progress, wanted
from hrguard.findings import CSV_COLUMNS, to_csv, to_parquet
from hrguard.ingest import Block, watch_blocks
from hrguard.synth import SynthConfig, write_dataset

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("output")
    write_dataset(out, SynthConfig(employees=15, days=28, seed=2))
    return out / "events.jsonl"


@pytest.fixture(scope="module")
def result(events, engine) -> hrguard.ScanResult:
    res = engine.scan(events, "sales")
    assert len(res.findings) > 10
    return res


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_is_one_row_per_finding_with_evidence_joined_and_details_flattened(result, tmp_path):
    path = tmp_path / "f.csv"
    assert result.to_csv(path) == len(result.findings)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,rule,name,") and b"\r\n" in raw
    rows = _read_csv(path)
    assert len(rows) == len(result.findings)
    header = list(rows[0])
    assert tuple(header[:len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert all(h.startswith("details.") for h in header[len(CSV_COLUMNS):])
    for f, row in zip(result.findings, rows):
        assert row["id"] == f.id and row["severity"] == f.severity.value and row["ts"] == f.ts.isoformat()
        assert row["evidence"].split("; ") == f.evidence and int(row["evidence_count"]) == len(f.evidence)
        assert (json.loads(row["details"]) if row["details"] else {}) == json.loads(json.dumps(f.details, default=str))
        assert row["employee_id"] == (f.employee_id or "")
        for k, v in f.details.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and not str(v).startswith(("-", "+", "=")):
                assert row[f"details.{k}"] == str(v)
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(path)
    assert df.columns[0] == "id" and len(df) == len(result.findings)  # pandas skips the mark


def _finding(**kw) -> Finding:
    base = dict(id="F1", rule="expr", name="big", severity=Severity.high, message="m",
                ts=datetime(2026, 4, 2, 10, tzinfo=timezone.utc), evidence=["e1", "e2"], details={})
    return Finding(**{**base, **kw})


def test_a_cell_that_a_spreadsheet_would_run_is_written_as_text():
    f = _finding(message="=HYPERLINK(\"http://x\")", customer_id="-C1",
                 details={"delta": -5, "note": "+1 call", "at": "@home", "ok": True, "none": None})
    buf = io.StringIO()
    to_csv([f], buf)
    (row,) = csv.DictReader(io.StringIO(buf.getvalue()))
    assert row["message"] == "'=HYPERLINK(\"http://x\")" and row["customer_id"] == "'-C1"
    assert row["details.delta"] == "-5" and row["details.note"] == "'+1 call" and row["details.at"] == "'@home"
    assert row["details.ok"] == "true" and row["details.none"] == "" and row["tenant"] == ""


def test_a_stream_gets_no_byte_order_mark_unless_asked(result):
    plain, marked = io.StringIO(), io.StringIO()
    to_csv(result, plain)
    to_csv(result, marked, bom=True)
    assert plain.getvalue().startswith("id,") and marked.getvalue() == "\ufeff" + plain.getvalue()


def test_chinese_messages_survive_for_excel(engine, tmp_path):
    rs = engine.load_ruleset({"ruleset": "zh", "language": "zh", "timezone": "Asia/Shanghai",
                              "rules": [{"use": "expr", "params": {"on": "order.recorded", "condition": "event.amount > 10",
                                                                   "message": "大额订单"}}]})
    res = engine.scan([{"id": "o1", "kind": "order.recorded", "ts": "2026-04-02T10:00:00+08:00", "employee_id": "E1", "order_id": "O1",
                        "customer_id": "客户-甲", "amount": 100}], rs)
    assert res.to_csv(tmp_path / "zh.csv") == 1
    raw = (tmp_path / "zh.csv").read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf" and "客户-甲".encode() in raw
    assert _read_csv(tmp_path / "zh.csv")[0]["customer_id"] == "客户-甲"


def test_suppressed_findings_on_request(engine, tmp_path):
    rs = engine.load_ruleset({"ruleset": "t", "rules": [{"use": "expr", "params": {
        "on": "order.recorded", "condition": "event.amount > 10", "message": "big"},
        "exceptions": [{"employees": ["E1"], "reason": "approved"}]}]})
    res = engine.scan([{"id": "o1", "kind": "order.recorded", "ts": "2026-04-02T10:00:00+08:00", "employee_id": "E1", "order_id": "O1",
                        "customer_id": "C", "amount": 100}], rs)
    assert res.to_csv(tmp_path / "a.csv") == 0 and _read_csv(tmp_path / "a.csv") == []
    assert (tmp_path / "a.csv").read_text(encoding="utf-8-sig").startswith(",".join(CSV_COLUMNS))
    assert res.to_csv(tmp_path / "b.csv", suppressed=True) == 1
    assert _read_csv(tmp_path / "b.csv")[0]["suppressed_by"] == "approved"


def test_parquet_has_types(result, tmp_path):
    path = tmp_path / "f.parquet"
    assert result.to_parquet(path) == len(result.findings)
    t = pq.read_table(path)
    assert t.num_rows == len(result.findings)
    assert t.schema.field("ts").type == pa.timestamp("us", tz="Asia/Shanghai")
    assert t.schema.field("evidence").type == pa.list_(pa.string())
    rows = t.to_pylist()
    for f, row in zip(result.findings, rows):
        assert row["id"] == f.id and row["ts"] == f.ts and row["evidence"] == f.evidence
        assert json.loads(row["details"]) == json.loads(json.dumps(f.details, default=str))


def test_parquet_of_no_findings_is_an_empty_table(tmp_path):
    assert to_parquet([], tmp_path / "none.parquet") == 0
    t = pq.read_table(tmp_path / "none.parquet")
    assert t.num_rows == 0 and t.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_parquet_without_pyarrow_names_the_extra(result, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError, match=r"hrguard\[tables\]"):
        result.to_parquet(tmp_path / "x.parquet")


# -- the command line ------------------------------------------------------------------------------------
def test_cli_csv_to_a_file_is_the_result_s_csv(events, result, tmp_path, capsys):
    out = tmp_path / "cli.csv"
    assert main(["scan", str(events), "--format", "csv", "--out", str(out)]) == 0
    result.to_csv(tmp_path / "api.csv")
    assert out.read_bytes() == (tmp_path / "api.csv").read_bytes()
    err = capsys.readouterr().err
    assert f"{len(result.findings)} findings" in err and "\r" not in err  # no bar: stderr is no terminal


def test_cli_csv_to_stdout_has_no_mark(events, capsys):
    assert main(["scan", str(events), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("id,rule,name,severity,ts,")


def test_cli_parquet_needs_a_file(events, capsys):
    assert main(["scan", str(events), "--format", "parquet"]) == 2
    assert "--format parquet writes a file: give it with --out FILE" in capsys.readouterr().err


def test_cli_parquet_in_and_out(events, result, tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame.from_records([json.loads(line) for line in events.read_text().splitlines() if line.strip()])
    df["ts"] = pd.to_datetime(df["ts"], format="ISO8601", utc=True)
    df["amount"] = df["amount"].map(lambda v: None if v is None or v != v else str(v))
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "events.parquet")
    out = tmp_path / "findings.parquet"
    assert main(["scan", str(tmp_path / "events.parquet"), "--format", "parquet", "--output", str(out)]) == 0
    assert pq.read_table(out).column("id").to_pylist() == [f.id for f in result.findings]


def test_cli_parquet_without_pyarrow_stops_before_scanning(events, tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["scan", str(events), "--format", "parquet", "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'hrguard[tables]'" in err and "records:" not in err  # no scan ran


# -- the progress bar --------------------------------------------------------------------------------------
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_draws_only_on_a_terminal(monkeypatch):
    assert not wanted(io.StringIO()) and wanted(_Tty())
    monkeypatch.setenv("TERM", "dumb")
    assert not wanted(_Tty())


def test_progress_shows_the_share_read_after_a_delay_and_clears(tmp_path):
    path = tmp_path / "e.jsonl"
    lines = [b'{"id": "e%d"}\n' % i for i in range(100)]
    path.write_bytes(b"".join(lines))
    stream, clock = _Tty(), _Clock()
    bar = Progress(stream, [str(path)], delay=1.0, every=0.2, clock=clock)
    bar(Block(str(path), lines[:25], range(1, 26), lines_are_json=True))
    assert stream.getvalue() == ""  # a short scan never draws
    clock.t = 2.0
    bar(Block(str(path), lines[25:50], range(26, 51), lines_are_json=True))
    shown = stream.getvalue()
    assert shown.startswith("\r[") and " 50% 50 records, 25/s, 0:02 left" in shown
    clock.t = 2.1
    bar(Block(str(path), lines[50:75], range(51, 76), lines_are_json=True))
    assert stream.getvalue() == shown  # at most every 0.2 s
    clock.t = 3.0
    bar(Block(str(path), lines[75:], range(76, 101), lines_are_json=True))
    assert "100 records read; judging..." in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r" + " " * (len(stream.getvalue().rsplit("\r", 2)[-2])) + "\r")


def test_progress_keeps_drawing_while_no_block_arrives(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"id": "e1"}\n' * 10)
    stream = _Tty()
    bar = Progress(stream, [str(path)], delay=0.0, every=0.01).start()
    bar(Block(str(path), [b'{"id": "e1"}\n'] * 10, range(1, 11), lines_are_json=True))
    deadline = time.monotonic() + 5
    while stream.getvalue().count("judging") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    bar.close()
    assert stream.getvalue().count("judging") >= 2  # redrawn by the thread, no block since
    after = stream.getvalue()
    time.sleep(0.05)
    assert stream.getvalue() == after and after.endswith("\r")  # stopped, line cleared


def test_progress_of_stdin_counts_without_a_share():
    stream, clock = _Tty(), _Clock()
    bar = Progress(stream, ["-"], delay=0.0, clock=clock)
    clock.t = 1.0
    bar(Block("<stdin>", [b"{}\n"] * 10, range(1, 11), lines_are_json=True))
    assert "reading 10 records, 10/s" in stream.getvalue()


def test_watch_blocks_sees_every_record_of_a_scan(events, engine):
    seen: list[int] = []
    with watch_blocks(lambda block: seen.append(len(block.values))):
        res = engine.scan(events, "sales")
        engine.scan(events, "sales", max_disorder="1d")
    assert sum(seen) == 2 * res.stats.received
    engine.scan(events, "sales")
    assert sum(seen) == 2 * res.stats.received  # not after the with
