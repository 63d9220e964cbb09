"""Hostile event input (issue 16): JSON arrays, JSON Lines and Python objects accept and reject exactly
the same records, and every hostile record is a located rejection (line or record, id, field), never a
traceback, a hang or a silent loss.

Each case is one hostile record put among good ones, in every container: a JSON Lines file, a JSON
array file (one item a line) and a list of Python objects; alone (the model path) and among 40 good
records (the fast path takes blocks of 16 or more).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pytest

import hrguard

TS = "2026-03-30T09:00:00+08:00"
NO_RULES = {"ruleset": "none", "rules": []}
BIG = "9" * 5000


def order(id: str, **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "order.recorded", "ts": TS, "employee_id": "E1", "order_id": "O" + id,
            "customer_id": "C1", "amount": 1200, **kw}


def text(record: dict[str, Any], **raw: str) -> str:
    """The record as JSON with fields written as raw JSON text (``NaN``, escapes, huge numbers)."""
    out = json.dumps(record)[:-1]
    for k, v in raw.items():
        out += f', "{k}": {v}'
    return out + "}"


SITE = '{"id": "bad", "kind": "site.registered", "ts": "%s", "site_id": "S", "lat": 31.2, "lon": 121.4' % TS
PUNCH = '{"id": "bad", "kind": "attendance.punched", "ts": "%s", "employee_id": "E1", "direction": "in"' % TS
ORDER = '{"id": "bad", "kind": "order.recorded", "ts": "%s", "order_id": "O", "customer_id": "C1"' % TS
DEEP = "[" * 1000 + "]" * 1000

#: name -> (the hostile record as JSON text, the field its rejection names (None: JSON syntax), id)
CASES: dict[str, tuple[str, str | None, str]] = {
    "nan_amount": (ORDER + ', "amount": NaN}', "amount", "bad"),
    "infinity_amount": (ORDER + ', "amount": Infinity}', "amount", "bad"),
    "nan_latitude": (SITE.replace('"lat": 31.2', '"lat": NaN') + "}", "lat", "bad"),
    "infinite_radius": (SITE + ', "radius_m": Infinity}', "radius_m", "bad"),
    "negative_infinite_accuracy": (PUNCH + ', "accuracy_m": -Infinity}', "accuracy_m", "bad"),
    "nan_in_unknown_field": (ORDER + ', "amount": 1, "note": NaN}', "note", "bad"),
    "lone_surrogate_id": (ORDER.replace('"bad"', '"x\\ud800"') + ', "amount": 1}', "id", "x\\ud800"),
    "lone_surrogate_customer": (ORDER.replace('"C1"', '"C\\udfff"') + ', "amount": 1}', "customer_id", "bad"),
    "lone_surrogate_in_attrs": (ORDER + ', "amount": 1, "attrs": {"k": "\\ud800"}}', "attrs", "bad"),
    "lone_surrogate_unknown_field": (ORDER + ', "amount": 1, "note": ["\\udc00"]}', "note", "bad"),
    "5000_digit_amount": (ORDER + f', "amount": {BIG}}}', "amount", "bad"),
    "5000_digit_unknown_field": (ORDER + f', "amount": 1, "n": {BIG}}}', "n", "bad"),
    "400_digit_unknown_field": (ORDER + f', "amount": 1, "n": {"9" * 400}}}', "n", "bad"),
    "nested_1000_deep": (ORDER + f', "amount": 1, "x": {DEEP}}}', "x", "bad"),
    "nested_1000_deep_attrs": (ORDER + f', "amount": 1, "attrs": {{"x": {DEEP}}}}}', "attrs", "bad"),
    "nested_65_deep": (ORDER + ', "amount": 1, "x": %s}' % ("[" * 65 + "]" * 65), "x", "bad"),
    "year_0001": (ORDER.replace(TS, "0001-01-01T00:00:00+08:00") + ', "amount": 1}', "ts", "bad"),
    "year_9999": (ORDER.replace(TS, "9999-12-31T23:59:59-08:00") + ', "amount": 1}', "ts", "bad"),
    "amount_beyond_float32": (ORDER + ', "amount": 3.5e38}', "amount", "bad"),
    "amount_at_the_limit": (ORDER + ', "amount": 1000000000000000}', "amount", "bad"),
    "amount_string_beyond_the_limit": (ORDER + ', "amount": "1%s"}' % ("0" * 40), "amount", "bad"),
}
JSON_SYNTAX = {"nan_amount", "infinity_amount", "nan_latitude", "infinite_radius", "negative_infinite_accuracy",
               "nan_in_unknown_field", "lone_surrogate_id", "lone_surrogate_customer", "lone_surrogate_in_attrs",
               "lone_surrogate_unknown_field", "5000_digit_amount", "5000_digit_unknown_field",
               "400_digit_unknown_field", "nested_1000_deep", "nested_1000_deep_attrs"}
"""Cases that are not JSON at all (NaN, a lone surrogate, a number beyond a double, nesting beyond the
parser's depth): a JSON container rejects them as malformed JSON, which names no field."""


def python_value(raw: str) -> Any:
    """What a Python caller would pass for this JSON text: NaN is float('nan'), a 5000-digit number an int."""
    old, depth = sys.get_int_max_str_digits(), sys.getrecursionlimit()
    sys.set_int_max_str_digits(0)
    sys.setrecursionlimit(10_000)
    try:
        return json.loads(raw)
    finally:
        sys.set_int_max_str_digits(old)
        sys.setrecursionlimit(depth)


def records(bad: str, good: int) -> list[str]:
    """``good`` good records with the bad one in the middle (as JSON text)."""
    out = [json.dumps(order(f"o{i}")) for i in range(good)]
    out.insert(good // 2, bad)
    return out


def scan_in(container: str, items: list[str], tmp_path: Any) -> hrguard.ScanResult:
    if container == "jsonl":
        f = tmp_path / "ev.jsonl"
        f.write_text("\n".join(items) + "\n", encoding="utf-8", errors="surrogatepass")
        events: Any = f
    elif container == "array":
        f = tmp_path / "ev.json"
        f.write_text("[\n" + ",\n".join(items) + "\n]\n", encoding="utf-8", errors="surrogatepass")
        events = f
    else:
        events = [python_value(i) for i in items]
    res = hrguard.Engine(entrypoints=False).scan(events, NO_RULES)
    s = res.stats
    assert s.received == s.valid + s.duplicates + s.rejected
    assert len(res.rejected) == s.rejected
    return res


@pytest.mark.parametrize("good", [0, 40], ids=["alone", "among_40"])
@pytest.mark.parametrize("container", ["jsonl", "array", "python"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_record_is_a_located_rejection_in_every_container(case, container, good, tmp_path):
    raw, field, rid = CASES[case]
    res = scan_in(container, records(raw, good), tmp_path)
    s = res.stats
    assert (s.received, s.valid, s.duplicates, s.rejected) == (good + 1, good, 0, 1), [str(r) for r in res.rejected]
    rej = res.rejected[0]
    position = good // 2 + 1
    if container == "jsonl":
        assert (rej.line, rej.item) == (position, None)
    elif container == "array":
        assert (rej.line, rej.item) == (position + 1, position)
    else:
        assert rej.line == position
    assert rej.id == rid
    if container == "python" or case not in JSON_SYNTAX:
        assert rej.field == field, str(rej)
    else:
        assert rej.field in (field, None), str(rej)
    str(rej).encode("utf-8")  # printable: a lone surrogate in an id is shown escaped
    json.dumps(rej.to_dict(), ensure_ascii=False).encode("utf-8")


def test_ids_that_differ_only_by_a_trailing_nul_never_tie():
    """numpy's unicode arrays drop trailing NULs: "x" and "x\\0" tied in the (ts, id) sort and input order
    decided which came first (and so whether a finding appeared). Ids are any strings (tenant keys rely
    on NULs, see test_tenants): the sort tells them apart, whatever the order they came in."""
    from itertools import permutations

    from hrguard.columns import order_by_ts_id

    names = ["x", "x\x00", "x\x00\x00", "w", "x\x01"]
    want = sorted(names)
    for perm in permutations(names):
        ids = np.array(list(perm), dtype=object)
        ts = np.zeros(len(perm), dtype=np.int64)
        assert [perm[i] for i in order_by_ts_id(ts, ids)] == want
    for recs in ([order("x"), order("x\x00")], [order("x\x00"), order("x")]):
        res = hrguard.Engine(entrypoints=False).scan(recs, NO_RULES)
        assert (res.stats.valid, res.stats.rejected) == (2, 0)


@pytest.mark.parametrize("amount", [0, 1, "999999999999999.99", 999_999_999_999_999])
def test_amounts_below_the_limit_are_accepted(amount, tmp_path):
    res = scan_in("python", [json.dumps(order(f"o{i}", amount=amount)) for i in range(20)], tmp_path)
    assert res.stats.valid == 20


@pytest.mark.parametrize("ts", ["0001-01-02T00:00:00+00:00", "9999-12-30T00:00:00+00:00"])
def test_timestamps_at_the_ends_of_the_range_are_accepted(ts, tmp_path):
    res = scan_in("python", [json.dumps(order("o1", ts=ts))], tmp_path)
    assert res.stats.valid == 1, [str(r) for r in res.rejected]


def test_a_blank_prefix_of_any_length_before_a_json_array(tmp_path):
    good = json.dumps([order(f"o{i}") for i in range(10)])
    for prefix in (b" " * 4097, b"\n" * 4097, b"\t \r\n" * 5000, b" " * 300_000):
        f = tmp_path / "ev.json"
        f.write_bytes(prefix + good.encode())
        res = hrguard.Engine(entrypoints=False).scan(f, NO_RULES)
        assert (res.stats.received, res.stats.valid) == (10, 10)
    import io
    for stream in (io.BytesIO(b" " * 4097 + good.encode()), io.StringIO(" " * 4097 + good)):
        res = hrguard.Engine(entrypoints=False).scan(stream, NO_RULES)
        assert (res.stats.received, res.stats.valid) == (10, 10)


@pytest.mark.parametrize("extra", [{"kind": "order.recorded", "amount": 3.5e38},
                                   {"kind": "order.recorded", "amount": "1e39"},
                                   {"kind": "attendance.punched", "accuracy_m": float("inf")},
                                   {"kind": "attendance.punched", "lat": float("nan"), "lon": 121.0}],
                         ids=["amount_beyond_float32", "amount_text_beyond_float32", "infinite_accuracy", "nan_lat"])
def test_a_value_beyond_float32_or_infinite_never_disables_the_forest(extra):
    """The forest's features are float32: an amount of 3.5e38 or an infinite accuracy used to reach them
    and disable the rule. Such records are rejected at ingest; the forest judges the rest as before."""
    pytest.importorskip("sklearn")
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_conformance import outlier

    from hrguard.testing import EventFactory

    rules = {"ruleset": "f", "timezone": "Asia/Shanghai", "rules": [{"use": "outlier.isolation_forest"}]}
    engine = hrguard.Engine(entrypoints=False)
    base = outlier()
    ev = EventFactory("2026-04-03T05:50:00+08:00", prefix="hostile")
    fields = {k: v for k, v in extra.items() if k != "kind"}
    if extra["kind"] == "order.recorded":
        fields.update(order_id="OX", customer_id="C1")
    bad = ev(extra["kind"], employee_id="E7", **fields)
    plain = engine.scan(base, rules, as_of="2026-04-06T00:00:00+08:00")
    res = engine.scan(base[:50] + [bad] + base[50:], rules, as_of="2026-04-06T00:00:00+08:00")
    assert (res.stats.rejected, res.rejected[0].id) == (1, bad["id"])
    assert not res.warnings, res.warnings
    assert [f.model_dump() for f in res.findings] == [f.model_dump() for f in plain.findings]


# -- inputs -----------------------------------------------------------------------------------------------
GOOD_LINES = "".join(json.dumps(order(f"o{i}")) + "\n" for i in range(5)).encode()


def test_dev_null_is_an_empty_input():
    res = hrguard.Engine(entrypoints=False).scan("/dev/null", NO_RULES)
    assert (res.stats.received, res.stats.valid) == (0, 0)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_read_like_a_file(tmp_path):
    """``hrguard scan <(zcat events.jsonl.gz)``: the shell hands a FIFO (or /dev/fd/N)."""
    import os
    import threading

    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(GOOD_LINES)

    t = threading.Thread(target=write)
    t.start()
    res = hrguard.Engine(entrypoints=False).scan(str(fifo), NO_RULES)
    t.join(10)
    assert (res.stats.received, res.stats.valid) == (5, 5)


def test_a_closed_stdin_is_an_empty_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)  # what Python makes of a closed descriptor 0 (``0<&-``)
    res = hrguard.Engine(entrypoints=False).scan("-", NO_RULES)
    assert res.stats.received == 0
    import io
    closed = io.TextIOWrapper(io.BytesIO(GOOD_LINES))
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    assert hrguard.Engine(entrypoints=False).scan("-", NO_RULES).stats.received == 0


def test_a_directory_a_missing_and_an_unreadable_file_are_errors_naming_the_path(tmp_path):
    import os

    engine = hrguard.Engine(entrypoints=False)
    with pytest.raises(hrguard.HrguardError, match=f"{tmp_path}: is a directory"):
        engine.scan(str(tmp_path), NO_RULES)
    with pytest.raises(hrguard.HrguardError, match="nope.jsonl: no such events file"):
        engine.scan(str(tmp_path / "nope.jsonl"), NO_RULES)
    locked = tmp_path / "locked.jsonl"
    locked.write_bytes(GOOD_LINES)
    locked.chmod(0)
    try:
        if not os.access(locked, os.R_OK):
            with pytest.raises(hrguard.HrguardError, match="locked.jsonl: cannot be read"):
                engine.scan(str(locked), NO_RULES)
    finally:
        locked.chmod(0o600)


def test_an_unreadable_file_or_a_read_error_is_an_error_naming_the_path(tmp_path, monkeypatch):
    """The same as an unprivileged user sees it (tests may run as root, who reads anything)."""
    import builtins

    from hrguard.ingest import _reader

    f = tmp_path / "ev.jsonl"
    f.write_bytes(GOOD_LINES)
    real_open = builtins.open

    def denied(name, *a, **kw):
        if str(name) == str(f):
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, *a, **kw)

    monkeypatch.setattr(_reader, "open", denied, raising=False)
    with pytest.raises(hrguard.HrguardError, match="ev.jsonl: cannot be read \\(permission denied\\)"):
        hrguard.Engine(entrypoints=False).scan(str(f), NO_RULES)

    class Broken:
        def __init__(self, *a, **kw):
            self.fh = real_open(f, "rb")

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def readlines(self, hint):
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(_reader, "open", Broken, raising=False)
    with pytest.raises(hrguard.HrguardError, match="ev.jsonl: cannot be read \\(Input/output error\\)"):
        hrguard.Engine(entrypoints=False).scan(str(f), NO_RULES)


def test_a_line_beyond_the_line_limit_is_one_located_rejection(tmp_path, monkeypatch):
    from hrguard.ingest import _reader

    monkeypatch.setattr(_reader, "MAX_LINE_BYTES", 4096)
    long = json.dumps(order("long", note="x" * 5000)).encode()
    f = tmp_path / "ev.jsonl"
    for good in (2, 40):
        lines = [json.dumps(order(f"o{i}")).encode() for i in range(good)]
        lines.insert(1, long)
        f.write_bytes(b"\n".join(lines) + b"\n")
        res = hrguard.Engine(entrypoints=False).scan(f, NO_RULES)
        assert (res.stats.received, res.stats.valid, res.stats.rejected) == (good + 1, good, 1)
        rej = res.rejected[0]
        assert (rej.line, rej.id) == (2, "long")
        assert "beyond the limit of a record (4_096 bytes" in rej.message
    assert _reader.MAX_LINE_BYTES == 4096 and hrguard.ingest.MAX_LINE_BYTES == 16 * 1024 * 1024


def test_the_cli_reads_a_closed_stdin_as_no_records():
    import subprocess

    done = subprocess.run([sys.executable, "-m", "hrguard", "scan", "-", "--no-progress"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "0 records" in done.stdout + done.stderr, done.stderr
    closed = subprocess.run([sys.executable, "-m", "hrguard", "scan", "-", "--no-progress"],
                            stdin=subprocess.PIPE, capture_output=True, text=True, timeout=120,
                            preexec_fn=lambda: __import__("os").close(0))
    assert closed.returncode == 0 and "Traceback" not in closed.stderr, closed.stderr
    assert "0 records" in closed.stdout + closed.stderr


@pytest.mark.parametrize("path", ["/dev/null", "fifo"])
def test_the_cli_reads_dev_null_and_a_fifo(path, tmp_path):
    import os
    import subprocess
    import threading

    writer = None
    if path == "fifo":  # what the shell hands for <(zcat events.jsonl.gz)
        path = str(tmp_path / "ev.fifo")
        os.mkfifo(path)

        def write() -> None:
            with open(path, "wb") as fh:
                fh.write(GOOD_LINES)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
    try:
        done = subprocess.run([sys.executable, "-m", "hrguard", "scan", path, "--no-progress"],
                              capture_output=True, text=True, timeout=120)
    finally:
        if writer is not None and writer.is_alive():  # refused unread: release the writer
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            writer.join(5)
    assert done.returncode == 0, done.stderr
    assert ("5 records" if writer else "0 records") in done.stdout + done.stderr


@pytest.mark.parametrize("rid", [5000, -30, 1.5, ["x"], {"a": 1}, True], ids=repr)
def test_an_id_that_is_not_a_string_is_a_located_rejection(rid):
    if type(rid) is int:
        rid = 10**rid if rid > 0 else -(10**-rid)
    """Found by the fuzz suite: a Python record whose id is a 5000-digit int raised ValueError in str()."""
    res = hrguard.Engine(entrypoints=False).scan([order("o1"), {**order("o2"), "id": rid}], NO_RULES)
    assert (res.stats.valid, res.stats.rejected) == (1, 1)
    assert (res.rejected[0].line, res.rejected[0].field) == (2, "id")
    res = hrguard.Engine(entrypoints=False).scan([order("o1"), {**order("o2"), "kind": rid}], NO_RULES)
    assert (res.stats.valid, res.stats.rejected) == (1, 1)
    assert (res.rejected[0].line, res.rejected[0].field) == (2, "kind")


# -- the limits of docs/events.md ------------------------------------------------------------------------
def test_the_limits_table_states_the_limits_the_code_enforces():
    from pathlib import Path

    from hrguard.events import MAX_DEPTH, MAX_MONEY
    from hrguard.ingest import MAX_LINE_BYTES

    page = (Path(__file__).parent.parent / "docs" / "events.md").read_text()
    limits = page[page.index("## Limits"):page.index("## Tenants")]
    assert (MAX_LINE_BYTES, MAX_DEPTH, MAX_MONEY) == (16 * 1024 * 1024, 64, 10**15)
    for text in ("16 MiB", "64 levels", "below 10¹⁵", "0001-01-02 to 9999-12-30 UTC", "1.8e308", "lone surrogate"):
        assert text in limits, text


@pytest.mark.parametrize("container", ["jsonl", "array", "python"])
@pytest.mark.parametrize("where", ["unknown_field", "attrs"])
def test_nesting_up_to_the_limit_is_kept_and_one_more_level_is_rejected(container, where, tmp_path):
    from hrguard.events import MAX_DEPTH

    def nested(depth: int) -> str:
        value = "[" * depth + "]" * depth
        return text(order("d"), x=value) if where == "unknown_field" else text(order("d"), attrs='{"x": %s}' % value)

    for good in (0, 40):
        ok = scan_in(container, records(nested(MAX_DEPTH), good), tmp_path)
        assert (ok.stats.valid, ok.stats.rejected) == (good + 1, 0), [str(r) for r in ok.rejected]
        bad = scan_in(container, records(nested(MAX_DEPTH + 1), good), tmp_path)
        assert (bad.stats.valid, bad.stats.rejected) == (good, 1)
        assert bad.rejected[0].field == ("x" if where == "unknown_field" else "attrs")


@pytest.mark.parametrize("container", ["jsonl", "array", "python"])
def test_integers_up_to_a_double_are_kept_and_beyond_are_rejected(container, tmp_path):
    for good in (0, 40):
        ok = scan_in(container, records(text(order("n"), n=str(10**308)), good), tmp_path)
        assert (ok.stats.valid, ok.stats.rejected) == (good + 1, 0), [str(r) for r in ok.rejected]
        bad = scan_in(container, records(text(order("n"), n=str(2 * 10**308)), good), tmp_path)
        assert (bad.stats.valid, bad.stats.rejected) == (good, 1), [str(r) for r in bad.rejected]


@pytest.mark.parametrize("container", ["jsonl", "array"])
def test_a_record_of_more_than_16_mib_is_rejected(container, tmp_path):
    """The same limit for a JSON line and an item of a JSON array (Python objects have no size to measure)."""
    big = text(order("big"), note='"' + "x" * (16 * 1024 * 1024) + '"')
    just = text(order("fits"), note='"' + "x" * (16 * 1024 * 1024 - 400) + '"')
    res = scan_in(container, [json.dumps(order("o1")), big, just, json.dumps(order("o2"))], tmp_path)
    assert (res.stats.received, res.stats.valid, res.stats.rejected) == (4, 3, 1)
    rej = res.rejected[0]
    assert (rej.line, rej.id, rej.item) == ((2, "big", None) if container == "jsonl" else (3, "big", 2))
    assert "beyond the limit of a record (16_777_216 bytes" in rej.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_stream_rejects_every_hostile_record_too(case):
    """``Stream.push`` / ``push_many`` are entry points too: the same record is the same located rejection."""
    raw, field, rid = CASES[case]
    stream = hrguard.Stream(NO_RULES, allowed_lateness="1d", engine=hrguard.Engine(entrypoints=False))
    stream.push(order("o1"))
    stream.push(python_value(raw))
    stream.push_many([order(f"o{i}") for i in range(2, 30)] + [python_value(raw.replace('"bad"', '"bad2"'))])
    s = stream.stats
    assert s.received == s.valid + s.duplicates + s.rejected
    assert s.rejected == 2 and s.valid == 29, [str(r) for r in stream.rejected]
    assert stream.rejected[0].field == field
    str(stream.rejected[0]).encode("utf-8")
