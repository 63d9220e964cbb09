"""One policy for instants and durations given to hrguard (``hrguard.timeutil``), at every entry point.

An instant is an aware datetime, RFC 3339 with an offset, or a number of seconds since the Unix epoch
(``time.time()``); a duration a timedelta, ``30m``/``1h30m``/``PT30M``, or a number of seconds. Text is
read in the contract's formats only: ``"90"`` needs a unit, ``"1775354400"`` is not RFC 3339. The
same value means the same time in ``scan(as_of=)``, ``scan(max_disorder=)``, ``Stream(allowed_lateness=)``,
``Stream.advance_to()``, the quality and notebook helpers, ``build_features``, the command line and a
ruleset's durations; a value that is not a time is an ``InvalidArgumentError`` naming the argument.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import hrguard
from hrguard import ArgumentTypeError, InvalidArgumentError, Stream
from hrguard.cli import main
from hrguard.features import build_features
from hrguard.quality import evaluate
from hrguard.timeutil import (
    ENGLISH_UNITS,
    MAX_US,
    MIN_US,
    US,
    format_duration,
    format_time_of_day,
    parse_time_of_day,
    to_datetime,
    to_duration_us,
    to_instant_us,
    to_us,
)

SH = timezone(timedelta(hours=8))
T = datetime(2026, 4, 5, 10, 0, tzinfo=SH)
T_EPOCH = int(T.timestamp())  # 1775354400


# -- the two functions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [T, T.astimezone(timezone.utc), "2026-04-05T10:00:00+08:00", "2026-04-05T02:00:00Z",
                                   "2026-04-05 02:00:00z", T_EPOCH, float(T_EPOCH)])
def test_every_form_of_an_instant_means_the_same_instant(value: Any) -> None:
    assert to_instant_us(value, what="as_of") == to_us(T)


def test_a_number_is_seconds_since_the_unix_epoch_as_time_time_gives() -> None:
    assert to_instant_us(0) == 0 and to_instant_us(-1) == -US
    assert to_instant_us(1775354400.25) == 1775354400 * US + 250_000  # fractions to the microsecond
    import numpy as np

    assert to_instant_us(np.int64(T_EPOCH)) == to_instant_us(np.float64(T_EPOCH)) == to_us(T)
    assert to_datetime(T_EPOCH) == T and to_datetime(T_EPOCH).utcoffset() == timedelta(0)
    assert to_datetime("2026-04-05T10:00:00+08:00").utcoffset() == timedelta(hours=8)  # its own offset kept


@pytest.mark.parametrize("value, cls, says", [
    ("2026-04-02", InvalidArgumentError, "'2026-04-02' is a date and has no UTC offset"),
    ("2026-04-02T10:00", InvalidArgumentError, "has no UTC offset: write it with one, e.g. 2026-04-02T10:00:00+08:00"),
    (datetime(2026, 4, 2, 10), InvalidArgumentError, "has no UTC offset"),
    (date(2026, 4, 2), InvalidArgumentError, "is a date and has no UTC offset"),
    ("soon", InvalidArgumentError, "expected an RFC 3339 time with an offset, e.g. 2026-04-20T18:00:00+08:00; got"),
    (str(T_EPOCH), InvalidArgumentError, "seconds since the Unix epoch are given as a number, not as text"),
    ("", InvalidArgumentError, "expected an RFC 3339 time"),
    (float("nan"), InvalidArgumentError, "got nan"),
    (float("inf"), InvalidArgumentError, "got inf"),
    ("nan", InvalidArgumentError, "got 'nan'"),
    (float("-inf"), InvalidArgumentError, "got -inf"),
    (True, ArgumentTypeError, "got bool True"),
    (None, ArgumentTypeError, "got None"),
    ([T_EPOCH], ArgumentTypeError, "got list"),
    (T_EPOCH * 1000, InvalidArgumentError, "outside the years 0001 to 9999 (in milliseconds? a number is seconds"),
    (T_EPOCH * 1_000_000, InvalidArgumentError, "(in microseconds?"),
    (1e300, InvalidArgumentError, "outside the years 0001 to 9999"),
    ("0001-01-01T00:00:00Z", InvalidArgumentError, "outside the instants hrguard can represent"),
    ("9999-12-31T23:00:00+00:00", InvalidArgumentError, "outside the instants hrguard can represent"),
    ("10000-01-01T00:00:00Z", InvalidArgumentError, "expected an RFC 3339 time"),
])
def test_what_is_not_an_instant_is_refused_naming_the_argument(value: Any, cls: type, says: str) -> None:
    with pytest.raises(cls) as err:
        to_instant_us(value, what="as_of")
    assert str(err.value).startswith("as_of: ") and says in str(err.value)
    assert err.value.argument == "as_of" and isinstance(err.value, (ValueError, hrguard.HrguardError))
    if cls is ArgumentTypeError:
        assert isinstance(err.value, TypeError)


def test_the_edges_of_the_range_are_accepted() -> None:
    assert to_instant_us("0001-01-02T00:00:00Z") == MIN_US
    assert to_instant_us(MAX_US // US) == (MAX_US // US) * US
    assert to_instant_us("9999-12-30T23:59:59.999999Z") == MAX_US
    for outside in (MIN_US // US - 1, MAX_US // US + 1):
        with pytest.raises(InvalidArgumentError, match="outside the years 0001 to 9999$"):  # no unit hint so close
            to_instant_us(outside)


@pytest.mark.parametrize("value", [timedelta(minutes=30), "30m", "PT30M", "0.5h", " 30 m ", 1800, 1800.0])
def test_every_form_of_a_duration_means_the_same_duration(value: Any) -> None:
    assert to_duration_us(value, what="allowed_lateness") == 1800 * US


@pytest.mark.parametrize("value, cls, says", [
    ("soon", InvalidArgumentError, "expected a duration such as '45s'"),
    ("1800", InvalidArgumentError, "a bare number needs a unit, e.g. '1800s' or '1800m'; a number, not text, is seconds"),
    (-1, InvalidArgumentError, "cannot be negative"),
    ("-1m", InvalidArgumentError, "cannot be negative"),
    (timedelta(seconds=-1), InvalidArgumentError, "cannot be negative"),
    (float("nan"), InvalidArgumentError, "got nan"),
    ("inf", InvalidArgumentError, "got 'inf'"),
    ("0", None, None),
    (1e300, InvalidArgumentError, "longer than any span of time"),
    (True, ArgumentTypeError, "got bool True"),
    (None, ArgumentTypeError, "expected a timedelta, a duration such as '45s'"),
    ([30], ArgumentTypeError, "or a number of seconds; got list [30]"),
])
def test_what_is_not_a_duration_is_refused_naming_the_argument(value: Any, cls: type, says: str) -> None:
    if cls is None:  # the one text that needs no unit
        assert to_duration_us(value) == 0
        return
    with pytest.raises(cls) as err:
        to_duration_us(value, what="allowed_lateness")
    assert str(err.value).startswith("allowed_lateness: ") and says in str(err.value)


# -- one HH:MM parser, one duration formatter ----------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [("00:00", 0), ("09:30", 34200), ("23:59:59", 86399), ("07:05:09", 25509)])
def test_times_of_day(text: str, seconds: int) -> None:
    assert parse_time_of_day(text) == seconds
    assert format_time_of_day(seconds) == text.removesuffix(":00") if text.count(":") == 2 else text


@pytest.mark.parametrize("bad", ["24:00", "9:30", "09:60", "09:30:60", "0930", "", None, 930])
def test_bad_times_of_day(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^deadline: expected a local time of day HH:MM"):
        parse_time_of_day(bad, what="deadline")


def test_24_00_is_the_end_of_the_day_only_where_allowed() -> None:
    assert parse_time_of_day("24:00", allow_24=True) == 86_400
    with pytest.raises(InvalidArgumentError, match="or 24:00"):
        parse_time_of_day("24:01", allow_24=True)


@pytest.mark.parametrize("us, units, sep, decimals, text", [
    (36 * 3600 * US, ENGLISH_UNITS, " ", None, "36 hours"),
    (86_400 * US, ENGLISH_UNITS, " ", None, "1 day"),
    (0, ENGLISH_UNITS, " ", None, "0 seconds"),
    (int(2.26 * 86_400 * US), ((86_400 * US, "d", "d"), (3600 * US, "h", "h")), " ", 1, "2.3 d"),
    (1800 * US, ((86_400 * US, "d", "d"), (3600 * US, "h", "h")), " ", 1, "0.5 h"),
])
def test_the_one_duration_formatter(us: int, units: Any, sep: str, decimals: int | None, text: str) -> None:
    assert format_duration(us, units, sep=sep, decimals=decimals) == text


# -- every entry point ---------------------------------------------------------------------------------------------
def _stall(i: str, day: int, stage: str = "quoting") -> dict[str, Any]:
    return {"id": i, "kind": "customer.stage_changed", "ts": f"2026-04-{day:02d}T10:00:00+08:00",
            "employee_id": "E1", "customer_id": "C1", "stage": stage}


@pytest.fixture
def stall_rs(ruleset):
    return ruleset({"use": "followup.stall", "params": {"max_idle": {"quoting": "2d"}}}, timezone="Asia/Shanghai")


def test_scan_as_of_in_seconds_is_the_same_scan(engine, stall_rs) -> None:
    events = [_stall("s1", 1)]
    by_time = engine.scan(events, stall_rs, as_of=T)
    assert [f.ts for f in by_time.findings] == [datetime(2026, 4, 3, 10, tzinfo=SH)]  # not "1970 ignores everything"
    for as_of in (T_EPOCH, float(T_EPOCH), "2026-04-05T02:00:00Z"):
        again = engine.scan(events, stall_rs, as_of=as_of)
        assert again.findings == by_time.findings and again.as_of == by_time.as_of
    assert engine.scan(events, stall_rs, as_of=T, max_disorder=60).findings == by_time.findings


def test_a_bad_as_of_fails_before_any_event_is_read(engine, stall_rs) -> None:
    def never():
        raise AssertionError("the events were read before as_of was checked")
        yield

    for kw in ({}, {"max_disorder": "1d"}):
        with pytest.raises(InvalidArgumentError, match=r"^as_of: '2026-04-05' is a date"):
            engine.scan(never(), stall_rs, as_of="2026-04-05", **kw)
    with pytest.raises(InvalidArgumentError, match=r"^max_disorder: expected a duration"):
        engine.scan(never(), stall_rs, max_disorder="soon")


def test_max_disorder_as_a_number_is_seconds(engine, stall_rs) -> None:
    events = [_stall("s1", 2), _stall("s0", 1), {**_stall("s2", 1), "ts": "2026-04-01T11:00:00+08:00"}]
    for value in (86_400, 86_400.0, "1d", "P1D", timedelta(days=1)):
        res = hrguard.scan(events, stall_rs, max_disorder=value)
        assert res.stats.late == 0, value  # a day behind is within a day
    res = hrguard.scan(events, stall_rs, max_disorder=3600)  # an hour: the earlier day is late
    assert res.stats.late == 2


@pytest.mark.parametrize("lateness", [30, 30.0, "30s", "PT30S", "0.5m", timedelta(seconds=30)])
def test_stream_allowed_lateness_in_every_form(engine, stall_rs, lateness: Any) -> None:
    s = Stream(stall_rs, allowed_lateness=lateness, engine=engine)
    assert s.lateness == 30 * US
    s.push({**_stall("a", 1), "ts": "2026-04-01T10:00:30+08:00"})
    s.push(_stall("b", 1))  # 30 s behind the clock: still accepted
    assert s.stats.late == 0


@pytest.mark.parametrize("lateness, says", [("soon", "expected a duration"), (-5, "cannot be negative"),
                                            ("30", "needs a unit"), (float("nan"), "got nan"), (True, "got bool True")])
def test_stream_refuses_a_bad_allowed_lateness(engine, stall_rs, lateness: Any, says: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^allowed_lateness: ") as err:
        Stream(stall_rs, allowed_lateness=lateness, engine=engine)
    assert says in str(err.value)
    with pytest.raises(InvalidArgumentError, match=r"^allowed_lateness: "):
        engine.stream(stall_rs, allowed_lateness=lateness)


def test_advance_to_takes_every_form_of_an_instant(engine, stall_rs) -> None:
    fired = []
    for when in (T, T_EPOCH, float(T_EPOCH), "2026-04-05T10:00:00+08:00"):
        s = Stream(stall_rs, engine=engine)
        s.push(_stall("s1", 1))
        fired.append([f.id for f in s.advance_to(when)])
        assert s.clock == T
    assert fired[0] and all(f == fired[0] for f in fired)


@pytest.mark.parametrize("when, cls, says", [
    ("2026-04-02", InvalidArgumentError, "'2026-04-02' is a date and has no UTC offset"),
    ("2026-04-02T10:00:00", InvalidArgumentError, "has no UTC offset"),
    ("soon", InvalidArgumentError, "expected an RFC 3339 time"),
    (T_EPOCH * 1000, InvalidArgumentError, "in milliseconds?"),
    (None, ArgumentTypeError, "got None"),
])
def test_advance_to_refuses_what_is_not_an_instant(engine, stall_rs, when: Any, cls: type, says: str) -> None:
    s = Stream(stall_rs, engine=engine)
    s.push(_stall("s1", 1))
    with pytest.raises(cls) as err:
        s.advance_to(when)
    assert str(err.value).startswith("advance_to(ts): ") and says in str(err.value)
    assert isinstance(err.value, ValueError)  # code catching ValueError keeps working
    assert s.clock == datetime(2026, 4, 1, 10, tzinfo=SH)  # nothing moved


def test_build_features_reads_as_of_and_window_slack_by_the_policy() -> None:
    events = [{"id": f"p{h}", "kind": "attendance.punched", "ts": f"2026-04-01T{h:02d}:00:00+08:00",
               "employee_id": "E1", "direction": "in", "lat": 31.2, "lon": 121.4, "source": "gps"} for h in (9, 12, 15)]
    cut = datetime(2026, 4, 1, 12, tzinfo=SH)
    a = build_features(events, as_of=cut, window_slack="30m")
    b = build_features(events, as_of=int(cut.timestamp()), window_slack=1800)
    assert a.index == b.index and (a.X == b.X).all()
    with pytest.raises(InvalidArgumentError, match=r"^as_of: "):
        build_features(events, as_of="noon")
    with pytest.raises(InvalidArgumentError, match=r"^window_slack: "):
        build_features(events, window_slack="half an hour")


LABEL = {"employee_id": "E1", "scenario": "private_orders", "start": "2026-04-01T10:00:00+08:00",
         "end": "2026-04-01T12:00:00+08:00", "expected_rules": ["followup.stall"]}


def _finding(ts: datetime) -> hrguard.Finding:
    return hrguard.Finding(id="F1", rule="followup.stall", name="followup.stall", severity=hrguard.Severity.medium,
                           ts=ts, employee_id="E1", message="m")


def test_quality_takes_grace_and_label_times_by_the_policy() -> None:
    late = [_finding(datetime(2026, 4, 2, 12, tzinfo=SH))]  # a day after the label's end
    assert evaluate(late, [LABEL], grace="1d").recall == 1.0
    assert evaluate(late, [LABEL], grace=86_400).recall == 1.0
    assert evaluate(late, [LABEL], grace=timedelta(hours=23)).recall == 0.0
    as_seconds = {**LABEL, "start": datetime(2026, 4, 1, 10, tzinfo=SH).timestamp(),
                  "end": int(datetime(2026, 4, 1, 12, tzinfo=SH).timestamp())}
    assert evaluate(late, [as_seconds], grace="1d").recall == 1.0
    with pytest.raises(InvalidArgumentError, match=r"^grace: expected a duration"):
        evaluate(late, [LABEL], grace="a day")
    with pytest.raises(InvalidArgumentError, match=r"^noise_grace: cannot|^noise_grace: a duration cannot be negative"):
        evaluate(late, [LABEL], noise_grace=-1)
    with pytest.raises(InvalidArgumentError, match=r"^label #1: start: '2026-04-01T10:00:00' has no UTC offset"):
        evaluate(late, [{**LABEL, "start": "2026-04-01T10:00:00"}])


def test_the_notebook_checks_grace_before_scanning(monkeypatch: pytest.MonkeyPatch) -> None:
    from hrguard import notebook as nb

    def no_scan(*a: Any, **k: Any) -> None:
        raise AssertionError("scanned before checking grace")

    monkeypatch.setattr(hrguard.Engine, "scan", no_scan)
    with pytest.raises(InvalidArgumentError, match=r"^grace: "):
        nb.sweep([], "sales", "followup.stall", "max_idle", [{"quoting": "7d"}], [LABEL], grace="two weeks")
    with pytest.raises(InvalidArgumentError, match=r"^grace: "):
        nb.evaluate([], [LABEL], grace=math.nan)


# -- the command line ------------------------------------------------------------------------------------------
@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    import json

    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [_stall("s1", 1), _stall("s2", 1, "lead")]))
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_as_of_in_every_text_form_is_the_same_scan(capsys, events_file: Path) -> None:
    outs = [_run(capsys, "scan", events_file, "-f", "jsonl", "--as-of", v)
            for v in ("2026-04-05T10:00:00+08:00", "2026-04-05T02:00:00Z", "2026-04-05 02:00:00z")]
    assert [o[0] for o in outs] == [0, 0, 0] and outs[0][1].count("\n") >= 1
    assert outs[0][1] == outs[1][1] == outs[2][1]


def test_cli_max_disorder_in_every_text_form_is_the_same_scan(capsys, events_file: Path) -> None:
    outs = [_run(capsys, "scan", events_file, "-f", "jsonl", "--max-disorder", v) for v in ("1d", "24h", "P1D")]
    assert [o[0] for o in outs] == [0, 0, 0] and outs[0][1] == outs[1][1] == outs[2][1]


@pytest.mark.parametrize("option, value, says", [
    ("--max-disorder", "soon", "expected a duration such as '45s'"),
    ("--max-disorder", "-1d", "a duration cannot be negative"),
    ("--max-disorder", "86400", "a bare number needs a unit, e.g. '86400s' or '86400m'"),
    ("--as-of", "2026-04-02", "'2026-04-02' is a date and has no UTC offset"),
    ("--as-of", "1775354400", "seconds since the Unix epoch are given as a number, not as text"),
    ("--as-of", "0001-01-01T00:00:00Z", "outside the instants hrguard can represent"),
])
def test_cli_refuses_a_bad_time_as_a_usage_error(capsys, events_file: Path, option: str, value: str, says: str) -> None:
    code, out, err = _run(capsys, "scan", events_file, f"{option}={value}")
    assert code == 2 and out == ""
    usage, *rest, last = err.splitlines()
    assert usage.startswith("usage: hrguard scan ")
    assert last.startswith(f"hrguard scan: error: argument {option}: ") and says in last


def test_trace_as_of_is_read_the_same_way(capsys, events_file: Path) -> None:
    a = _run(capsys, "trace", "C1", events_file, "--as-of", "2026-04-05T10:00:00+08:00")
    b = _run(capsys, "trace", "C1", events_file, "--as-of", "2026-04-05T02:00:00Z")
    assert a[0] == b[0] == 0 and a[1] == b[1]


# -- rulesets ----------------------------------------------------------------------------------------------------
def test_a_ruleset_duration_given_as_a_number_is_seconds(ruleset) -> None:
    a = ruleset({"use": "followup.stall", "params": {"max_idle": {"quoting": 172_800}}})
    b = ruleset({"use": "followup.stall", "params": {"max_idle": {"quoting": "2d"}}})
    assert a.rule("followup.stall").params == b.rule("followup.stall").params


def test_the_schema_and_the_detector_listing_say_duration(engine, capsys) -> None:
    from hrguard.rules import ruleset_json_schema

    schema = ruleset_json_schema(engine)
    jsonschema = pytest.importorskip("jsonschema")
    doc = {"rules": [{"use": "geofence.mismatch", "params": {"window_slack": 90}},
                     {"use": "geofence.mismatch", "name": "b", "params": {"window_slack": "90s"}}]}
    jsonschema.validate(doc, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"rules": [{"use": "geofence.mismatch", "params": {"window_slack": -1}}]}, schema)
    code, out, _ = _run(capsys, "detectors")
    line = next(x for x in out.splitlines() if x.strip().startswith("window_slack"))
    assert code == 0 and line.split()[1:3] == ["duration", '"30m"']
