"""Bad input: every record becomes a valid event, a counted duplicate, or a located Rejection.

Everything goes through ``scan`` (files in tmp_path, stdin, lists of dicts) as a user would, with a
ruleset of no rules: these tests are about what happens to records, not about findings.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

import hrguard
from hrguard.ingest import Rejection

TS = "2026-03-30T09:00:00+08:00"
NO_RULES = {"ruleset": "none", "rules": []}


def hired(id: str = "h1", **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "employee.hired", "ts": TS, "employee_id": "E1", "role": "sales", **kw}


def punch(id: str = "p1", **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "attendance.punched", "ts": TS, "employee_id": "E1", "direction": "in",
            "lat": 31.23, "lon": 121.47, "accuracy_m": 15, "source": "gps", **kw}


def order(id: str = "o1", **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "order.recorded", "ts": TS, "employee_id": "E1", "order_id": "O1",
            "customer_id": "C1", "amount": 1200, **kw}


def site(id: str = "s1", **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "site.registered", "ts": TS, "site_id": "HQ", "name": "HQ",
            "lat": 31.2, "lon": 121.4, **kw}


def without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def jsonl(*records: Any) -> bytes:
    """One line per record: dicts are dumped, bytes/str are written as they are (for broken lines)."""
    out = []
    for r in records:
        out.append(r if isinstance(r, bytes) else (r.encode() if isinstance(r, str) else json.dumps(r).encode()))
    return b"\n".join(out) + b"\n"


@pytest.fixture
def scan(engine):
    def run(events: Any, ruleset: Any = NO_RULES, **kw: Any) -> hrguard.ScanResult:
        res = engine.scan(events, ruleset, **kw)
        s = res.stats
        assert s.received == s.valid + s.duplicates + s.rejected, s  # every record accounted for, always
        assert len(res.rejected) == s.rejected
        return res
    return run


def only(res: hrguard.ScanResult) -> Rejection:
    assert len(res.rejected) == 1, [str(r) for r in res.rejected]
    return res.rejected[0]


# -- formats ------------------------------------------------------------------------------------------
def test_json_lines_with_blank_lines_keep_file_line_numbers(scan, tmp_path):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(b"\n" + jsonl(hired("a")) + b"   \n\n" + jsonl(hired("b"), hired("c", ts="2026-03-30T09:00:00")))
    res = scan(f)
    assert (res.stats.received, res.stats.valid, res.stats.rejected) == (3, 2, 1)  # blank lines are not records
    rej = only(res)
    assert (rej.source, rej.line, rej.id, rej.field) == (str(f), 6, "c", "ts")
    assert str(rej).startswith(f"{f}:6 (id c): field 'ts': timestamp without an offset")


def test_crlf_line_endings_and_a_byte_order_mark_are_accepted(scan, tmp_path):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps(hired("a")).encode() + b"\r\n" + json.dumps(hired("b")).encode() + b"\r\n")
    res = scan(f)
    assert res.stats.valid == 2 and not res.rejected


def test_a_json_array_file_reports_the_line_and_position_of_each_item(scan, tmp_path):
    f = tmp_path / "ev.json"
    items = [hired("a"), hired("b", ts="2026-03-30"), hired("c")]
    f.write_text("[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n", encoding="utf-8")
    res = scan(f)
    assert (res.stats.received, res.stats.valid) == (3, 2)
    rej = only(res)
    assert (rej.line, rej.item, rej.id, rej.field) == (3, 2, "b", "ts")  # item 2 starts on line 3
    assert str(rej).startswith(f"{f}:3 item 2 (id b): field 'ts':")
    assert rej.to_dict()["item"] == 2


def test_a_one_line_json_array_and_an_empty_one(scan, tmp_path):
    f = tmp_path / "ev.json"
    f.write_text(json.dumps([hired("a"), hired("b"), 7]), encoding="utf-8")
    res = scan(f)
    assert res.stats.valid == 2
    rej = only(res)
    assert (rej.line, rej.item, rej.field) == (1, 3, None)
    assert rej.message == "expected a JSON object (one event), got int"
    empty = tmp_path / "empty.json"
    empty.write_text("[ ]\n", encoding="utf-8")
    assert scan(empty).stats.received == 0


def test_a_broken_json_array_is_reported_where_it_breaks_and_items_before_are_kept(scan, tmp_path):
    f = tmp_path / "ev.json"
    f.write_text("[\n" + json.dumps(hired("a")) + ',\n{"id": "b", "kind": oops}\n]', encoding="utf-8")
    res = scan(f)
    assert res.stats.valid == 1
    rej = only(res)
    assert (rej.line, rej.item, rej.id) == (3, 2, "b")
    assert rej.message.startswith("malformed JSON array:") and "at column 21" in rej.message  # the "o" of oops
    unclosed = tmp_path / "unclosed.json"
    unclosed.write_text("[" + json.dumps(hired("a")) + ",", encoding="utf-8")
    assert "not closed with ']'" in only(scan(unclosed)).message


def test_stdin_is_read_for_a_dash(scan, monkeypatch):
    data = jsonl(hired("a"), b"", b'{"id": "x", nope', hired("b"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    res = scan("-")
    assert res.stats.valid == 2
    rej = only(res)
    assert (rej.source, rej.line, rej.id) == ("<stdin>", 3, "x")
    assert str(rej).startswith("<stdin>:3 (id x): malformed JSON")


def test_several_paths_and_an_open_binary_file(scan, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(jsonl(hired("a")))
    b.write_bytes(jsonl(hired("b"), hired("a")))  # the same record again in another file: a duplicate
    res = scan([a, b])
    assert (res.stats.valid, res.stats.duplicates) == (2, 1)
    with open(a, "rb") as fh:
        assert scan(fh).stats.valid == 1


def test_a_list_of_dicts_reports_positions(scan):
    res = scan([hired("a"), hired("b", ts="yesterday")])
    rej = only(res)
    assert (rej.source, rej.line, rej.id, rej.field) == ("<input>", 2, "b", "ts")
    assert str(rej).startswith("<input> record 2 (id b): field 'ts': not a valid timestamp")


# -- one rejection per kind of problem --------------------------------------------------------------
BAD = [
    # (record, field, words that must be in the message)
    (without(hired("m1"), "id"), "id", ["required field is missing"]),
    (without(hired("m2"), "kind"), "kind", ["required field is missing"]),
    (without(hired("m3"), "ts"), "ts", ["required field is missing"]),
    ({**hired("n1"), "kind": None}, "kind", ["must not be null"]),
    (hired("n2", ts="2026-03-30T09:00:00"), "ts", ["without an offset", "2026-03-30T09:12:00+08:00", '"2026-03-30T09:00:00"']),
    (hired("n3", ts=1774832400), "ts", ["RFC 3339", "got the number 1774832400"]),
    (hired("n4", ts="30/03/2026 09:00"), "ts", ["not a valid timestamp", "RFC 3339"]),
    (site("g1", lat=91), "lat", ["latitude must be within [-90, 90]", "got 91"]),
    (site("g2", lon=-180.5), "lon", ["longitude must be within [-180, 180]"]),
    (site("g3", lat=True), "lat", ["expected a number", "got true"]),
    (site("g4", lat="31.2"), "lat", ["expected a number", 'got "31.2"']),
    (without(punch("q1"), "lon"), "lon", ["lat is given without lon", "both lat and lon, or neither"]),
    (without(punch("q2"), "lat"), "lat", ["lon is given without lat"]),
    (punch("q3", direction="sideways"), "direction", ["expected 'in' or 'out'", '"sideways"']),
    (punch("q4", accuracy_m=-1), "accuracy_m", ["must not be negative"]),
    (order("a1", amount=-5), "amount", ["money is never negative", "got -5"]),
    (order("a2", amount="12,5"), "amount", ["expected a decimal number"]),
    (order("a3", amount=True), "amount", ["expected a number"]),
    (order("a4", type="invoice"), "type", ["expected 'order' or 'contract'"]),
    ({**hired("k1"), "kind": "expense.filed"}, "kind",
     ["unknown kind 'expense.filed'", "known kinds:", "attendance.punched", "order.recorded"]),
    (without(hired("r1"), "employee_id"), "employee_id", ["required field is missing"]),
    (hired("r2", employee_id=42), "employee_id", ["expected a string", "got 42"]),
    (hired("r3", tenant=5), "tenant", ["expected a string"]),
    ({"id": "d1", "kind": "plan.submitted", "ts": TS, "employee_id": "E1", "date": "2026-02-30", "items": []},
     "date", ["not a valid date", "YYYY-MM-DD"]),
    ({"id": "d2", "kind": "plan.submitted", "ts": TS, "employee_id": "E1", "date": "2026-03-30",
      "items": [{"customer_id": "C1", "start": "25:00", "end": "10:00"}]}, "items.0.start", ["expected HH:MM"]),
    ({"id": "d3", "kind": "payroll.settled", "ts": TS, "employee_id": "E1", "final": "yes"}, "final",
     ["expected true or false"]),
    ({"id": "d4", "kind": "payroll.settled", "ts": TS, "employee_id": "E1", "period_end": 20000}, "period_end",
     ["YYYY-MM-DD", "got the number 20000"]),
    (hired("t1", attrs="crm"), "attrs", ["expected a JSON object", "got \"crm\""]),
    (hired("t3", attrs=[1], crm="x"), "attrs", ["expected a JSON object"]),
    (hired("t2", attrs={"x": 1}, x=2), "x", ["attrs.x is already set to a different value"]),
    (hired("", role="sales"), "id", ["must not be empty"]),
]


@pytest.mark.parametrize("record, field, words", BAD, ids=[b[0].get("id") or "no-id" for b in BAD])
def test_each_bad_record_is_rejected_with_line_id_field_and_a_clear_message(scan, tmp_path, record, field, words):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(jsonl(hired("ok1"), record, hired("ok2")))
    res = scan(f)
    assert res.stats.valid == 2
    rej = only(res)
    assert rej.line == 2 and rej.source == str(f)
    assert rej.id == (record.get("id") or None)
    assert rej.field == field
    for w in words:
        assert w in rej.message, rej.message
    assert "Input should" not in rej.message and "Value error" not in rej.message  # no raw pydantic wording
    text = str(rej)
    assert text.startswith(f"{f}:2") and f"field {field!r}:" in text


def test_a_malformed_json_line_names_its_column_and_salvages_the_id(scan, tmp_path):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(jsonl(hired("a"), b'{"id": "b", "kind": "employee.hired", "ts": ', b"{not json at all", hired("c")))
    res = scan(f)
    assert res.stats.valid == 2
    first, second = res.rejected
    assert (first.line, first.id, first.field) == (2, "b", None)
    assert first.message.startswith("malformed JSON: ") and "at column" in first.message
    assert "line 1" not in first.message  # the decoder's own line count is meaningless inside one line
    assert (second.line, second.id) == (3, None)


@pytest.mark.parametrize("value", ["[1, 2]", "null", '"text"', "12"])
def test_a_json_value_that_is_not_an_object_is_rejected(scan, tmp_path, value):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(jsonl(hired("a"), value))
    rej = only(scan(f))
    assert rej.line == 2 and rej.message.startswith("expected a JSON object (one event), got ")


def test_several_problems_of_one_record_are_all_named(scan):
    rec = {"id": "x", "kind": "site.registered", "ts": TS, "site_id": "S", "lat": 100, "lon": 200}
    rej = only(scan([rec]))
    assert rej.field == "lat"
    assert "lat: latitude must be within" in rej.message and "lon: longitude must be within" in rej.message


def test_nested_objects_name_the_path(scan):
    rec = {"id": "f1", "kind": "followup.logged", "ts": TS, "employee_id": "E1", "customer_id": "C1",
           "channel": "visit", "summary": "x", "photos": [{"uri": "a.jpg", "lat": 31.0}]}
    rej = only(scan([rec]))
    assert rej.field == "photos.0.lon" and "lat is given without lon" in rej.message


# -- duplicates ---------------------------------------------------------------------------------------
def test_a_repeated_identical_record_is_a_duplicate_counted_and_ignored(scan, tmp_path):
    f = tmp_path / "ev.jsonl"
    # the same content, with keys in another order and attrs in another order: still the same record
    a = hired("a", crm="X", note="n")
    b = dict(reversed(list(a.items())))
    f.write_bytes(jsonl(a, b, a))
    res = scan(f)
    assert (res.stats.received, res.stats.valid, res.stats.duplicates, res.stats.rejected) == (3, 1, 2, 0)
    assert res.summary()["duplicates"] == 2


def test_a_repeated_id_with_other_content_is_rejected_and_the_first_is_kept(scan, tmp_path, ruleset):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(jsonl(order("o", amount=10), order("o", amount=999), order("o", amount=10)))
    rs = ruleset({"use": "expr", "params": {"on": "order.recorded", "condition": "event.amount > 0",
                                            "message": "amount {amount}"}})
    res = scan(f, rs)
    assert (res.stats.valid, res.stats.duplicates, res.stats.rejected) == (1, 1, 1)
    rej = only(res)
    assert (rej.line, rej.id, rej.field) == (2, "o", "id")
    assert "repeated id with different content" in rej.message and "first record received" in rej.message
    assert [f.message for f in res.findings] == ["amount 10"]  # the first one is the one judged


def test_an_invalid_first_record_does_not_claim_its_id(scan):
    res = scan([hired("a", ts="bad"), hired("a")])
    assert (res.stats.valid, res.stats.rejected, res.stats.duplicates) == (1, 1, 0)


# -- attrs --------------------------------------------------------------------------------------------
def test_unknown_top_level_fields_land_in_attrs(engine):
    rec = hired("a", crm_ticket="T-981", extra={"nested": [1, 2]}, attrs={"given": True})
    ev = engine.kinds["employee.hired"].model_validate(rec)
    assert ev.attrs == {"given": True, "crm_ticket": "T-981", "extra": {"nested": [1, 2]}}
    same = engine.kinds["employee.hired"].model_validate(hired("a", attrs={"x": 1}, x=1))
    assert same.attrs == {"x": 1}  # the same value twice is no conflict
    assert engine.kinds["employee.hired"].model_validate(hired("a", attrs=None)).attrs == {}


def test_attrs_reach_expr_conditions(scan, ruleset):
    rs = ruleset({"use": "expr", "params": {"on": "order.recorded", "condition": "event.attrs.channel == 'web'"}})
    res = scan([order("a", channel="web"), order("b", channel="shop")], rs)
    assert [f.evidence for f in res.findings] == [["a"]]


def test_models_and_dicts_can_be_mixed(scan, engine):
    model = engine.kinds["employee.hired"].model_validate(hired("a"))
    res = scan([model, hired("b")])
    assert res.stats.valid == 2


# -- strict mode, as_of, never stopping -----------------------------------------------------------
def test_strict_raises_invalid_event_error_carrying_the_rejection(engine, tmp_path):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(jsonl(hired("a"), site("s", lat=91), hired("c")))
    with pytest.raises(hrguard.InvalidEventError) as info:
        engine.scan(f, NO_RULES, strict=True)
    rej = info.value.rejection
    assert isinstance(rej, Rejection) and (rej.line, rej.id, rej.field) == (2, "s", "lat")
    assert str(info.value) == str(rej)
    assert isinstance(info.value, hrguard.HrguardError)


def test_strict_raises_on_a_conflicting_id_but_not_on_a_duplicate(engine):
    assert engine.scan([hired("a"), hired("a")], NO_RULES, strict=True).stats.duplicates == 1
    with pytest.raises(hrguard.InvalidEventError) as info:
        engine.scan([hired("a"), hired("a", role="hr")], NO_RULES, strict=True)
    assert info.value.rejection.field == "id"


def test_rejections_never_stop_a_scan_and_findings_still_come(scan, ruleset):
    rs = ruleset({"use": "expr", "params": {"on": "order.recorded", "condition": "event.amount > 100"}})
    events = [order("bad1", amount=-1), "garbage", order("o1", amount=500), order("bad2", ts="no"),
              order("o2", amount=50, order_id="O2")]
    res = scan(events, rs)
    assert res.stats.rejected == 3 and res.stats.valid == 2
    assert [f.evidence for f in res.findings] == [["o1"]]
    assert res.summary()["rejected"] == 3


def test_events_after_as_of_are_ignored_and_counted(scan, ruleset):
    rs = ruleset({"use": "expr", "params": {"on": "order.recorded", "condition": "true"}})
    events = [order("o1", ts="2026-03-30T09:00:00+08:00"), order("o2", ts="2026-03-31T09:00:00+08:00", order_id="2"),
              order("o3", ts="2026-04-01T09:00:00+08:00", order_id="3")]
    res = scan(events, rs, as_of="2026-03-31T09:00:00+08:00")
    assert res.stats.after_as_of == 1 and res.stats.valid == 3
    assert [f.evidence for f in res.findings] == [["o1"], ["o2"]]  # at as_of exactly is still in


def test_scan_through_the_top_level_function_reads_a_path(tmp_path, engine):
    f = tmp_path / "ev.jsonl"
    f.write_bytes(jsonl(hired("a"), b"{"))
    res = hrguard.scan(str(f), engine.load_ruleset(NO_RULES))
    assert res.stats.valid == 1 and res.stats.rejected == 1


def test_every_example_of_the_spec_is_accepted(scan):
    lines = [
        '{"id":"e1","kind":"customer.registered","ts":"2026-03-30T09:00:00+08:00","employee_id":"E042","customer_id":"C-A","name":"Acme Trading","owner_id":"E042","lat":31.2304,"lon":121.4737,"address":"Shanghai"}',
        '{"id":"e2","kind":"plan.submitted","ts":"2026-04-02T08:40:00+08:00","employee_id":"E042","date":"2026-04-02","items":[{"customer_id":"C-B","start":"09:30","end":"11:30"}]}',
        '{"id":"e3","kind":"attendance.punched","ts":"2026-04-02T10:05:00+08:00","employee_id":"E042","direction":"in","lat":31.2400,"lon":121.5000,"accuracy_m":15,"source":"gps","customer_id":null}',
        '{"id":"e4","kind":"order.recorded","ts":"2026-04-02T10:05:00Z","order_id":"O","customer_id":"C","amount":"1250.50"}',
        '{"id":"e5","kind":"attendance.punched","ts":"2026-04-02T10:05:00+08:00","employee_id":"E042","direction":"out","lat":null,"lon":null,"source":"manual"}',
        '{"id":"e6","kind":"payroll.settled","ts":"2026-04-02T10:05:00+08:00","employee_id":"E042","period_end":"2026-03-31","amount":0,"final":true}',
    ]
    res = scan([json.loads(x) for x in lines])
    assert res.stats.valid == len(lines) and not res.rejected


def test_a_plugin_kind_defined_under_future_annotations_in_exec_code():
    # notebooks and exec'd snippets: pydantic cannot see the snippet's globals when the class is made
    src = (
        "from __future__ import annotations\n"
        "from typing import Literal\n"
        "class BadgeSwiped(hrguard.Event):\n"
        "    kind: Literal['badge.swiped']\n"
        "    door: str\n"
    )
    ns: dict[str, Any] = {"hrguard": hrguard}
    exec(compile(src, "<snippet>", "exec", dont_inherit=True), ns)
    kind = ns["BadgeSwiped"]
    assert kind.KIND == "badge.swiped"
    ev = kind.model_validate({"id": "b1", "kind": "badge.swiped", "ts": TS, "door": "server-room", "floor": 3})
    assert ev.door == "server-room" and ev.attrs == {"floor": 3}


def test_the_event_json_schema_accepts_unknown_top_level_fields_and_is_valid(engine):
    from hrguard.events import events_json_schema

    schema = events_json_schema(tuple(engine.kinds.values()))
    assert schema["discriminator"]["propertyName"] == "kind"
    assert set(schema["discriminator"]["mapping"]) == set(engine.kinds)
    jsonschema = pytest.importorskip("jsonschema")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    v = cls(schema)
    assert v.is_valid(punch("p", crm_ticket="T-1"))  # kept in attrs by hrguard, so valid for the schema too
    assert not v.is_valid(without(punch("p"), "direction"))
    assert not v.is_valid(order("o", amount=-1))
    assert not v.is_valid(order("o", amount="-1"))
    assert v.is_valid(order("o", amount="1250.50"))
