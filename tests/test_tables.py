"""Tables in: pandas and polars DataFrames, pyarrow Tables and Parquet files give the same events, findings
and located rejections as the same records in JSON Lines; what cannot be read is a clear error."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import hrguard
from hrguard import InvalidArgumentError, InvalidEventError, MissingExtraError, UnsupportedInputError
from hrguard.ingest import read_blocks
from hrguard.synth import SynthConfig, write_dataset

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("tables")
    write_dataset(out, SynthConfig(employees=15, days=28, seed=5))
    path = out / "events.jsonl"
    return path, [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def expected(dataset, engine):
    return engine.scan(dataset[0], "sales")


def _frame(records: list[dict]):
    """The records as a pandas DataFrame the way people make one: every field a column, NaN where absent,
    ``ts`` parsed into timezone-aware datetimes."""
    df = pd.DataFrame.from_records(records)
    df["ts"] = pd.to_datetime(df["ts"], format="ISO8601", utc=True).dt.tz_convert("Asia/Shanghai")
    return df


def _same(a: hrguard.ScanResult, b: hrguard.ScanResult) -> None:
    assert [f.id for f in a.findings] == [f.id for f in b.findings]
    assert a.findings == b.findings
    assert a.summary() == b.summary()


def test_the_fixture_has_findings_and_many_kinds(expected, dataset):
    assert len(expected.findings) > 10 and expected.stats.rejected == 0
    kinds = {r["kind"] for r in dataset[1]}
    assert {"plan.submitted", "attendance.punched", "employee.terminated", "payroll.settled"} <= kinds


@pytest.mark.parametrize("make", ["pandas-text-ts", "pandas", "polars", "arrow", "record-batch", "parquet",
                                  "parquet-pathlib"])
def test_a_table_gives_the_findings_of_its_jsonl(make, dataset, expected, engine, tmp_path):
    path, records = dataset
    df = _frame(records)
    if make == "pandas-text-ts":
        obj = pd.DataFrame.from_records(records)  # ts as text, NaN in every cell a kind lacks
    elif make == "pandas":
        obj = df
    elif make == "polars":
        obj = pl.from_pandas(df)
    elif make == "arrow":
        obj = pa.Table.from_pandas(df)
    elif make == "record-batch":
        obj = pa.Table.from_pandas(df).combine_chunks().to_batches()[0]
    else:
        obj = tmp_path / "events.parquet"
        pq.write_table(pa.Table.from_pandas(df), obj, row_group_size=1000)
        obj = obj if make == "parquet-pathlib" else str(obj)
    got = engine.scan(obj, "sales")
    assert got.stats.rejected == 0, [str(r) for r in got.rejected[:3]]
    _same(expected, got)


def test_the_old_silent_failure_is_gone(dataset, engine):
    """scan(df) used to iterate the column names: as many rejections as columns, no findings, no error."""
    df = pd.DataFrame.from_records(dataset[1])
    res = engine.scan(df, "sales")
    assert res.stats.received == len(df) != len(df.columns)


def test_bounded_scan_reads_a_table_too(dataset, expected, engine):
    got = engine.scan(_frame(dataset[1]), "sales", max_disorder="1d")
    assert [f.id for f in got.findings] == [f.id for f in expected.findings]


def test_a_polars_frame_with_nan_and_null_cells(engine):
    df = pl.DataFrame({
        "id": ["p1", "p2", "p3"], "kind": ["attendance.punched"] * 3,
        "ts": ["2026-04-02T09:00:00+08:00", "2026-04-02T10:00:00+08:00", "2026-04-02T11:00:00+08:00"],
        "employee_id": ["E1", "E1", "E1"], "direction": ["in", "out", "in"],
        "lat": [31.2, float("nan"), None], "lon": [121.4, float("nan"), None], "source": ["gps", "manual", "manual"],
        "accuracy_m": [None, None, 5.0],
    })
    res = engine.scan(df, "sales")
    assert res.stats.valid == 3 and res.stats.rejected == 0


def test_missing_cells_are_missing_fields_never_attrs(engine):
    """A column of another kind is NaN on this kind's rows: left out, so it does not land in attrs and a
    field's default applies (payroll.settled's final: false)."""
    df = pd.DataFrame([
        {"id": "h1", "kind": "employee.hired", "ts": "2026-03-01T09:00:00+08:00", "employee_id": "E1",
         "role": "sales"},
        {"id": "s1", "kind": "payroll.settled", "ts": "2026-03-31T09:00:00+08:00", "employee_id": "E1",
         "period_end": "2026-03-31", "amount": 1000.0, "note": "march"},
    ])
    (block,) = read_blocks(df, kinds=engine.kinds)
    assert block.values == [
        {"id": "h1", "kind": "employee.hired", "ts": "2026-03-01T09:00:00+08:00", "employee_id": "E1",
         "role": "sales"},
        {"id": "s1", "kind": "payroll.settled", "ts": "2026-03-31T09:00:00+08:00", "employee_id": "E1",
         "period_end": "2026-03-31", "amount": 1000.0, "note": "march"}]
    assert block.rows and list(block.lines) == [0, 1]
    settled = engine.kinds["payroll.settled"].model_validate(block.values[1])
    assert settled.attrs == {"note": "march"} and settled.final is False
    assert engine.scan(df, "sales").stats.valid == 2


# -- rejections, by row -------------------------------------------------------------------------------
BAD = [
    {"id": "a1", "kind": "attendance.punched", "ts": "2026-04-02T09:00:00+08:00", "employee_id": "E1",
     "direction": "in", "lat": 31.2, "lon": 121.4, "source": "gps"},
    {"id": "a2", "kind": "attendance.punched", "ts": "2026-04-02T10:00:00+08:00", "employee_id": "E1",
     "direction": "in", "lat": 131.2, "lon": 121.4, "source": "gps"},  # latitude out of range
    {"id": "a3", "kind": None, "ts": "2026-04-02T11:00:00+08:00", "employee_id": "E1"},  # no kind
    {"id": "a4", "kind": "attendance.punched", "ts": "2026-04-02 12:00", "employee_id": "E1",
     "direction": "up", "source": "gps"},  # naive text timestamp, bad direction
    {"id": "a1", "kind": "attendance.punched", "ts": "2026-04-02T09:00:00+08:00", "employee_id": "E1",
     "direction": "out", "source": "manual"},  # a repeated id with other content
]


@pytest.mark.parametrize("lib", ["pandas", "polars", "arrow", "parquet"])
def test_rejections_name_the_row_the_id_and_the_field(lib, engine, tmp_path):
    df = pd.DataFrame(BAD, index=[10, 11, 12, 13, 14])  # the index is not the row: positions are
    obj = {"pandas": lambda: df, "polars": lambda: pl.from_pandas(df),
           "arrow": lambda: pa.Table.from_pandas(df, preserve_index=False)}.get(lib)
    if obj is None:
        pq.write_table(pa.Table.from_pandas(df), tmp_path / "bad.parquet")  # with the index as __index_level_0__
        obj, source = (lambda: str(tmp_path / "bad.parquet")), str(tmp_path / "bad.parquet")
    else:
        source = {"pandas": "<pandas.DataFrame>", "polars": "<polars.DataFrame>", "arrow": "<pyarrow.Table>"}[lib]
    res = engine.scan(obj(), "sales")
    assert res.stats.received == 5 and res.stats.valid == 1 and res.stats.rejected == 4
    got = [(r.row, r.line, r.id, r.field, r.source) for r in res.rejected]
    assert got == [(1, None, "a2", "lat", source), (2, None, "a3", "kind", source),
                   (3, None, "a4", got[2][3], source), (4, None, "a1", "id", source)]
    assert got[2][3] in ("ts", "direction")
    assert str(res.rejected[0]).startswith(f"{source} row 1 (id a2): field 'lat': latitude must be within")
    assert "timestamp without an offset" in res.rejected[2].message and "direction" in res.rejected[2].message
    assert res.rejected[0].to_dict()["row"] == 1 and "row" not in hrguard.Rejection(3, "x", None, "m").to_dict()
    assert not any(r.message.startswith("unknown field") for r in res.rejected)


def test_strict_mode_stops_at_the_first_bad_row(engine):
    with pytest.raises(InvalidEventError) as info:
        engine.scan(pd.DataFrame(BAD), "sales", strict=True)
    assert info.value.rejection.row == 1 and "row 1" in str(info.value)


def test_a_frame_without_an_id_column_rejects_every_row_naming_id(engine):
    df = pd.DataFrame(BAD[:2]).drop(columns=["id"])
    res = engine.scan(df, "sales")
    assert res.stats.rejected == 2
    assert [(r.row, r.id, r.field) for r in res.rejected] == [(0, None, "id"), (1, None, "id")]
    assert res.rejected[0].message == "required field is missing"
    assert res.rejected[1].message.startswith("id: required field is missing; lat: latitude")  # every problem


def test_a_column_of_the_wrong_type_is_rejected_row_by_row(engine):
    df = pd.DataFrame(BAD[:1] * 3).assign(id=["x1", "x2", "x3"], employee_id=[101, 102, 103])
    res = engine.scan(df, "sales")
    assert [(r.row, r.field) for r in res.rejected] == [(0, "employee_id"), (1, "employee_id"), (2, "employee_id")]
    assert "expected a string (got 101)" in res.rejected[0].message
    # a numpy integer id column (polars): the same
    res = engine.scan(pl.from_pandas(df), "sales")
    assert res.stats.rejected == 3 and res.rejected[2].field == "employee_id"


@pytest.mark.parametrize("lib", ["pandas", "polars", "arrow"])
def test_an_empty_frame_is_no_records(lib, engine):
    df = pd.DataFrame(BAD[:1]).iloc[0:0]
    obj = {"pandas": df, "polars": pl.from_pandas(df), "arrow": pa.Table.from_pandas(df)}[lib]
    res = engine.scan(obj, "sales")
    assert res.stats.received == 0 and res.findings == []
    assert engine.scan(pd.DataFrame(), "sales").stats.received == 0


# -- time columns --------------------------------------------------------------------------------------
def _punches(ts):
    return pd.DataFrame({"id": ["p1", "p2"], "kind": "attendance.punched", "ts": ts, "employee_id": "E1",
                         "direction": "in", "source": "manual"})


@pytest.mark.parametrize("lib", ["pandas", "polars", "arrow", "parquet"])
def test_a_naive_datetime_column_is_an_error_naming_it(lib, engine, tmp_path):
    df = _punches(pd.to_datetime(["2026-04-02 09:00", "2026-04-02 10:00"]))
    obj = {"pandas": df, "polars": pl.from_pandas(df) if lib == "polars" else None,
           "arrow": pa.Table.from_pandas(df) if lib == "arrow" else None}.get(lib)
    if lib == "parquet":
        pq.write_table(pa.Table.from_pandas(df), tmp_path / "naive.parquet")
        obj = tmp_path / "naive.parquet"
    with pytest.raises(InvalidArgumentError) as info:
        engine.scan(obj, "sales")
    msg = str(info.value)
    assert "column 'ts'" in msg and "without a time zone" in msg and "Asia/Shanghai" in msg


def test_a_naive_column_with_nothing_in_it_is_no_error(engine):
    df = _punches(pd.to_datetime(["2026-04-02T09:00+08:00", "2026-04-02T10:00+08:00"]))
    df["checked_at"] = pd.Series([pd.NaT, pd.NaT], dtype="datetime64[us]")
    assert engine.scan(df, "sales").stats.valid == 2


def test_an_aware_column_is_the_instant_in_any_zone(engine):
    utc = pd.to_datetime(["2026-04-02T01:00:00.123456Z", "2026-04-02T02:00:00Z"], utc=True, format="ISO8601")
    a = engine.intake()
    fa = a.frame(_punches(utc))
    b = engine.intake()
    fb = b.frame(_punches(utc.tz_convert("America/New_York")))
    assert fa.ts.tolist() == fb.ts.tolist() == [
        int(datetime(2026, 4, 2, 1, 0, 0, 123456, tzinfo=timezone.utc).timestamp() * 1e6),
        int(datetime(2026, 4, 2, 2, tzinfo=timezone.utc).timestamp() * 1e6)]


@pytest.mark.parametrize("lib", ["pandas", "polars", "arrow"])
def test_naive_midnights_in_a_date_field_are_dates(lib, engine):
    df = pd.DataFrame({
        "id": ["t1", "t2", "t3"], "kind": "employee.terminated",
        "ts": pd.to_datetime(["2026-04-01T09:00+08:00"] * 3, utc=True),
        "employee_id": ["E1", "E2", "E3"],
        "last_day": pd.to_datetime(["2026-04-30", "2026-05-01 13:30", None], format="mixed"),
    })
    obj = {"pandas": df, "polars": pl.from_pandas(df) if lib == "polars" else None,
           "arrow": pa.Table.from_pandas(df) if lib == "arrow" else None}[lib]
    intake = engine.intake()
    intake.frame(obj)
    assert intake.stats.valid == 2
    (rej,) = intake.rejected
    assert (rej.row, rej.id, rej.field) == (1, "t2", "last_day") and "not a valid date" in rej.message


def test_polars_dates_and_decimals(engine):
    from decimal import Decimal

    df = pl.DataFrame({"id": ["s1"], "kind": ["payroll.settled"], "ts": ["2026-04-30T18:00:00+08:00"],
                       "employee_id": ["E1"], "period_end": [datetime(2026, 4, 30).date()],
                       "amount": [Decimal("1250.50")]})
    intake = engine.intake()
    intake.frame(df)
    assert intake.stats.valid == 1, [str(r) for r in intake.rejected]


# -- what cannot be read ---------------------------------------------------------------------------------
@pytest.mark.parametrize("obj, named", [
    ({"id": "e1", "kind": "employee.hired"}, "dict"),
    (b'{"id": "e1"}', "bytes"),
    (42, "int"),
    (None, "NoneType"),
])
def test_an_unsupported_object_is_a_clear_error(obj, named, engine):
    with pytest.raises(UnsupportedInputError) as info:
        engine.scan(obj, "sales")
    assert f"cannot read a {named} " in str(info.value) and str(info.value).startswith("events: ")
    assert isinstance(info.value, TypeError) and isinstance(info.value, hrguard.HrguardError)


def test_table_library_objects_that_are_not_tables_are_refused(engine):
    df = pd.DataFrame(BAD[:1])
    for obj, hint in [(pl.from_pandas(df).lazy(), "lf.collect()"), (df["id"], "DataFrame"),
                      (pa.chunked_array([[1, 2]]), "pyarrow Table")]:
        with pytest.raises(UnsupportedInputError) as info:
            engine.scan(obj, "sales")
        assert type(obj).__name__ in str(info.value) and hint in str(info.value)


def test_one_event_model_is_not_a_list(engine):
    ev = engine.kinds["employee.hired"].model_validate(
        {"id": "h", "kind": "employee.hired", "ts": "2026-03-01T09:00:00Z", "employee_id": "E1", "role": "sales"})
    with pytest.raises(UnsupportedInputError, match=r"pass \[event\]"):
        engine.scan(ev, "sales")
    assert engine.scan([ev], "sales").stats.valid == 1


def test_column_names_must_be_unique_strings(engine):
    df = pd.DataFrame([[1, 2]], columns=["id", "id"])
    with pytest.raises(InvalidArgumentError, match="column 'id'.*appears twice"):
        engine.scan(df, "sales")
    with pytest.raises(InvalidArgumentError, match="column names must be strings"):
        engine.scan(pd.DataFrame([[1, 2]]), "sales")


def test_parquet_without_pyarrow_names_the_extra(engine, tmp_path, monkeypatch):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(BAD[:1])), path)
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError, match=r"pyarrow .*hrguard\[tables\]"):
        engine.scan(path, "sales")


# -- the stream ----------------------------------------------------------------------------------------
def test_stream_push_many_takes_a_table(dataset, engine):
    path, records = dataset
    records = sorted(records, key=lambda r: (r["ts"], r["id"]))
    df = _frame(records)
    a = engine.stream("sales")
    a.push_many(records)
    b = engine.stream("sales")
    out = b.push_many(pl.from_pandas(df))
    assert len(out.outcomes) == len(df) and {o.status for o in out.outcomes} == {"accepted"}
    assert [f.id for f in a.result().findings] == [f.id for f in b.result().findings]


def test_stream_rejections_of_a_table_name_the_row(engine, tmp_path):
    s = engine.stream("sales")
    s.push_many([BAD[0]])  # one event from a list first: rows still count within the table
    out = s.push_many(pd.DataFrame(BAD[1:3]))
    assert [o.status for o in out.outcomes] == ["rejected", "rejected"]
    assert [(r.row, r.id, r.source) for r in s.rejected] == [(0, "a2", "<pandas.DataFrame>"),
                                                             (1, "a3", "<pandas.DataFrame>")]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(BAD[1:2])), path)
    s.push_many(str(path))
    assert str(s.rejected[-1]).startswith(f"{path} row 0 (id a2)")


@pytest.mark.parametrize("obj", ["events.jsonl", {"id": "x"}, 3])
def test_stream_push_many_refuses_what_it_cannot_read(obj, engine):
    with pytest.raises(UnsupportedInputError):
        engine.stream("sales").push_many(obj)


def test_rows_of_several_patterns_keep_their_order_and_cells():
    from hrguard.ingest._tables import _rows

    names = ["a", "b", "c"]
    cols = [[1, 2, 3, 4], [None, "x", None, "y"], ["p", None, None, "q"]]
    missing = [None, np.array([True, False, True, False]), np.array([False, True, True, False])]
    assert _rows(names, cols, missing, 4) == [{"a": 1, "c": "p"}, {"a": 2, "b": "x"}, {"a": 3},
                                              {"a": 4, "b": "y", "c": "q"}]
