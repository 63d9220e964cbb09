"""Streams a host can run in production (issue 11): checkpoints, outcomes, threads, tenants, sinks, crashes."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hrguard
from hrguard.checkpoints import SqliteCheckpoints
from hrguard.demo import load_events
from hrguard.sdk.state import dumps_state, loads_state
from hrguard.sinks import CallbackSink, SqliteSink

EVENTS = load_events()
HOST = Path(__file__).parent / "hosts" / "crash_host.py"


def ids(findings) -> list[str]:
    return [f.id for f in findings]


@pytest.fixture(scope="module")
def uninterrupted():
    s = hrguard.Stream("sales")
    s.push_many(EVENTS)
    return s, s.result()


# -- checkpoints ------------------------------------------------------------------------------------------
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(EVENTS)))
def test_a_checkpoint_anywhere_continues_as_if_never_stopped(uninterrupted, cut):
    whole, want = uninterrupted
    first = hrguard.Stream("sales")
    first.push_many(EVENTS[:cut])
    saved = loads_state(dumps_state(first.state_dict()))  # through bytes, as a checkpoint is
    second = hrguard.Stream("sales")
    second.load_state_dict(saved)
    second.push_many(EVENTS[cut:])
    got = second.result()
    assert ids(got.findings) == ids(want.findings)
    assert ids(got.suppressed) == ids(want.suppressed)
    assert got.stats == want.stats and [str(r) for r in got.rejected] == [str(r) for r in want.rejected]
    assert ids(second.findings) == ids(whole.findings)


def test_restore_from_sqlite_and_refuse_another_ruleset(tmp_path):
    store = SqliteCheckpoints(tmp_path / "c.db")
    s = hrguard.Stream("sales")
    s.push_many(EVENTS[:40])
    s.meta["pos"] = 40
    assert s.checkpoint(store, "k") == 1
    back = hrguard.Stream.restore(store, "k", "sales")
    assert back.meta == {"pos": 40} and back.stats == s.stats and back.clock == s.clock
    other = hrguard.load_ruleset("sales").with_params("geofence.mismatch", radius_m=123)
    with pytest.raises(hrguard.StateError):
        hrguard.Stream.restore(store, "k", other)
    with pytest.raises(hrguard.StateError, match="allowed_lateness"):
        hrguard.Stream("sales", "1h").load_state_dict(s.state_dict())
    assert hrguard.Stream.restore(store, "nothing-yet", "sales").stats.received == 0  # a new stream


def test_load_state_dict_needs_a_new_stream():
    s = hrguard.Stream("sales")
    s.push(EVENTS[0])
    with pytest.raises(hrguard.StateError, match="new stream"):
        s.load_state_dict(hrguard.Stream("sales").state_dict())


# -- outcomes ---------------------------------------------------------------------------------------------
def test_push_says_what_became_of_each_record():
    s = hrguard.Stream("sales")
    e = EVENTS[0]
    assert s.push(e).outcome.status == "accepted"
    assert s.push(dict(e)).outcome.status == "duplicate"
    changed = s.push({**e, "employee_id": "someone-else"})
    assert changed.outcome.status == "rejected" and changed.outcome.rejection.field == "id"
    bad = s.push({"id": "x", "kind": "attendance.punched", "ts": "soon"}).outcome
    assert bad.status == "rejected" and bad.rejection.field == "ts" and bad.id == "x"
    s.push(EVENTS[-1])  # the clock moves to the end
    late = s.push({**EVENTS[1], "id": "late-one"}).outcome
    assert late.status == "late" and late.rejection is not None
    many = s.push_many([EVENTS[2], EVENTS[-1]])
    assert [o.status for o in many.outcomes] == ["late", "duplicate"]
    assert isinstance(many, list)


# -- threads ----------------------------------------------------------------------------------------------
def test_many_threads_pushing_into_one_stream_give_a_batch_scans_findings():
    span_end = EVENTS[-1]["ts"]
    s = hrguard.Stream("sales", allowed_lateness="400d")  # any interleaving of the threads is in time
    parts = [EVENTS[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        for part in parts:
            pool.submit(lambda p: [s.push(e) for e in p], part)
    pool.shutdown(wait=True)
    s.advance_to(datetime.fromisoformat(span_end) + timedelta(days=400))  # judged up to span_end
    got = s.result()
    want = hrguard.scan(EVENTS, "sales", as_of=span_end)
    assert not got.errors and got.stats.valid == len(EVENTS)
    assert len(set(ids(s.findings))) == len(s.findings)
    assert sorted(ids(got.findings)) == sorted(ids(want.findings))


# -- tenants ----------------------------------------------------------------------------------------------
def test_each_tenant_is_streamed_as_if_alone():
    in_order = sorted(EVENTS, key=lambda e: (datetime.fromisoformat(e["ts"]), e["id"]))
    a = [{**e, "tenant": "A"} for e in in_order]
    b = [{**e, "tenant": "B"} for e in in_order]  # the same ids: another company numbering alike
    s = hrguard.Stream("sales")
    half = len(EVENTS) // 2
    s.push_many(a[:half])
    s.push_many(b[:10])  # B syncs late: hours behind A's clock, and not late for it
    s.push_many(a[half:])
    s.push_many(b[10:])
    assert s.stats.rejected == 0 and s.stats.valid == 2 * len(EVENTS)
    res = s.result()
    alone = hrguard.Stream("sales")
    alone.push_many(a)
    want = ids(alone.result().findings)
    got_a = [f.id for f in res.findings if f.tenant == "A"]
    got_b = [f.id for f in res.findings if f.tenant == "B"]
    assert sorted(got_a) == sorted(want) and len(got_b) == len(got_a)
    assert not set(got_a) & set(got_b)  # distinct finding ids across tenants
    assert s.clock_of("B") == s.clock_of("A") and set(s.tenants) == {None, "A", "B"}


def test_null_and_empty_tenant_go_to_the_default_tenant():
    s = hrguard.Stream("sales")
    s.push({**EVENTS[0], "tenant": None})
    s.push({**EVENTS[1], "tenant": ""})
    assert s.tenants == [None] and s.stats.received == 2


# -- sinks ------------------------------------------------------------------------------------------------
def test_sinks_get_every_finding_released(tmp_path):
    got = []
    db = tmp_path / "f.db"
    s = hrguard.Stream("sales", sinks=[CallbackSink(got.extend), SqliteSink(db)])
    s.push_many(EVENTS)
    s.result()
    assert ids(got) == ids(s.findings) and got
    rows = sqlite3.connect(db).execute("select id from findings").fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids(s.findings))


def test_a_sink_must_have_write():
    with pytest.raises(hrguard.ArgumentTypeError, match="sinks"):
        hrguard.Stream("sales", sinks=[print])


# -- the crash test ---------------------------------------------------------------------------------------
def _host(events: Path, db: Path, every: int, die_after: int | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, str(HOST), str(events), str(db), str(every)] + ([str(die_after)] if die_after else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_host_killed_at_random_points_loses_and_repeats_nothing(tmp_path, seed):
    in_order = sorted(EVENTS, key=lambda e: (datetime.fromisoformat(e["ts"]), e["id"]))  # a clean log: none late
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in in_order), encoding="utf-8")
    db = tmp_path / "host.db"
    rnd = random.Random(seed)
    kills = 0
    while True:
        done = _host(events, db, every=7, die_after=rnd.randint(1, 60) if kills < 4 else None)
        if done.returncode == 0:
            assert done.stdout.strip() == "done", done.stderr
            break
        assert done.returncode == -9, done.stderr  # killed, as asked
        kills += 1
    rows = sqlite3.connect(db).execute("select id from findings").fetchall()
    want = hrguard.scan(EVENTS, "sales")
    never_stopped = hrguard.Stream("sales")
    never_stopped.push_many(in_order)
    assert kills == 4
    assert sorted(r[0] for r in rows) == sorted(ids(want.findings))  # 0 lost, 0 extra
    assert sorted(r[0] for r in rows) == sorted(ids(never_stopped.result().findings))
    assert len(rows) == len({r[0] for r in rows})


# -- guards ---------------------------------------------------------------------------------------------
def test_an_event_from_the_future_is_rejected_and_does_not_block_the_stream():
    s = hrguard.Stream("sales", max_ahead="1d")
    s.advance_to("2026-03-30T08:00:00+08:00")  # the host's timer: now
    typo = s.push({"id": "t1", "kind": "attendance.punched", "ts": "2099-03-30T09:00:00+08:00",
                   "employee_id": "E1", "direction": "in"}).outcome
    assert typo.status == "rejected" and typo.rejection.field == "ts" and "max_ahead 1d" in typo.rejection.message
    ok = s.push({"id": "t2", "kind": "attendance.punched", "ts": "2026-03-30T09:00:00+08:00",
                 "employee_id": "E1", "direction": "in"}).outcome
    assert ok.status == "accepted"  # the clock did not jump to 2099
    assert hrguard.Stream("sales").max_ahead is None  # off by default: history with gaps equals a scan


def test_advance_to_refuses_a_bare_date_and_reads_numbers_as_seconds():
    s = hrguard.Stream("sales")
    with pytest.raises(hrguard.InvalidArgumentError):
        s.advance_to("2026-04-02")
    s.advance_to(1775000000)
    assert s.clock.year == 2026


def test_a_correction_under_the_same_id_is_rejected_and_says_how_to_send_one():
    s = hrguard.Stream("sales")
    s.push(EVENTS[0])
    fixed = s.push({**EVENTS[0], "employee_id": "E-fixed"}).outcome
    assert fixed.status == "rejected" and "Corrections" in fixed.rejection.message


# -- the nightly job: a checkpointed stream gives exactly the full scan's findings --------------------------
def test_a_nightly_job_on_a_checkpointed_stream_gives_the_full_scans_findings(tmp_path):
    """Each night: restore yesterday's checkpoint, push the day's events, advance to midnight, store the
    findings, checkpoint. The table then holds exactly a full scan's findings as of the last midnight,
    each once — what a re-scan of a window cannot give (a customer registered before the window looks
    unregistered in it)."""
    from hrguard.sinks import SqliteSink

    by_day: dict[str, list] = {}
    for e in sorted(EVENTS, key=lambda e: datetime.fromisoformat(e["ts"])):  # each night's export, by time
        by_day.setdefault(e["ts"][:10], []).append(e)
    store = SqliteCheckpoints(tmp_path / "cp.db")
    last_midnight = None
    for day in sorted(by_day):
        midnight = (datetime.fromisoformat(day + "T00:00:00+08:00") + timedelta(days=1)).isoformat()
        with SqliteSink(tmp_path / "findings.db") as sink:  # a new process every night
            stream = hrguard.Stream.restore(store, "nightly", "sales", keep=False, sinks=[sink])
            stream.push_many(by_day[day])
            stream.advance_to(midnight)
            stream.checkpoint(store, "nightly")
        last_midnight = midnight
    want = hrguard.scan(EVENTS, "sales", as_of=last_midnight).findings
    db = sqlite3.connect(tmp_path / "findings.db")
    got = [r[0] for r in db.execute("SELECT id FROM findings")]
    db.close()
    assert sorted(got) == sorted(f.id for f in want) and len(got) == len(set(got))
    assert stream.stats.late == 0 and stream.stats.received == len(EVENTS)
    # a re-scan of the last few days alone does not: it finds what the full history rules out
    window = [e for e in EVENTS if e["ts"][:10] >= sorted(by_day)[-3]]
    extra = {f.id for f in hrguard.scan(window, "sales", as_of=last_midnight).findings} - {f.id for f in want}
    assert extra, "the demo's window re-scan should show why a window is not enough"


def test_a_stream_uses_the_engine_its_ruleset_was_loaded_with():
    """A plugin's kinds reach a stream of a ruleset loaded with ``Engine([plugin], entrypoints=False)``, as
    they reach ``scan`` (issue 13: the stream used the default engine and rejected every plugin event)."""
    from hrguard import Engine, Event, hookimpl
    from typing import Literal

    class BadgeSwiped(Event):
        kind: Literal["badge.swiped"]
        door: str

    class Badges:
        @hookimpl
        def hrguard_register_event_kinds(self, register):
            register(BadgeSwiped)

    engine = Engine([Badges()], entrypoints=False)
    rs = engine.load_ruleset({"rules": [{"use": "expr", "params": {"on": "badge.swiped", "condition": "event.door == 'D9'",
                                                                  "message": "door 9"}}]})
    swipe = {"id": "b1", "kind": "badge.swiped", "ts": "2026-04-01T09:00:00+00:00", "employee_id": "E1", "door": "D9"}
    s = hrguard.Stream(rs)
    assert s.push(swipe).outcome.status == "accepted"
    assert [f.evidence for f in s.advance_to("2026-04-02T00:00:00+00:00")] == [["b1"]]
    assert [f.id for f in s.findings] == [f.id for f in engine.scan([swipe], rs, "2026-04-02T00:00:00+00:00").findings]
