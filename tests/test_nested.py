"""Lists of nested objects (plan items, summary claims, photos) are child tables: ``Chunk.nested``.

Entries are flat typed columns, each with its event (``owner``, an index into ``chunk.rows(kind)``) and
its place in the list (``index``); ``chunk.col(kind, field)`` is each event's number of entries. The
same whatever the chunking, the order the events came in, or the way (fast path or model) they took.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from hrguard.columns import NULL_INT, Chunk
from hrguard.ingest import Block
from hrguard.ingest import Intake

TS = "2026-03-30T{:02d}:00:00+08:00"


def plan(i: int, items: list[dict], emp: str = "E1", tenant: str | None = None) -> dict:
    return {"id": f"p{i}", "kind": "plan.submitted", "ts": TS.format(i), "employee_id": emp, "date": "2026-03-30",
            "items": items, "tenant": tenant}


PLANS = [
    plan(1, [{"customer_id": "C1", "start": "09:00", "end": "10:00"}, {"site_id": "S1", "start": "11:00", "end": "12:30:15"}]),
    plan(2, []),
    plan(3, [{"customer_id": "C2", "start": "13:00", "end": "14:00", "purpose": "demo"}], tenant="t2"),
    plan(4, [{"start": "15:00", "end": "16:00"}, {"customer_id": "C3", "start": "16:00", "end": "17:00"},
             {"customer_id": "C1", "start": "18:00", "end": "19:00"}]),
]


def frame_of(events: list, fast: bool = True):
    intake = Intake(_engine(), fast=fast)
    intake.take(Block("<input>", list(events), range(1, len(events) + 1)))
    return intake.release_all(), intake


def _engine():
    from hrguard.engine import Engine

    return Engine(entrypoints=False)


def entries_of(chunk: Chunk) -> list[tuple]:
    rows = chunk.rows("plan.submitted")
    items = chunk.nested("plan.submitted", "items")
    s = chunk.strings
    return [(chunk.frame.ids[rows[o]], int(i), s.text(int(c)), s.text(int(x)), int(a), int(b))
            for o, i, c, x, a, b in zip(items.owner, items.index, items.col("customer_id"), items.col("site_id"),
                                        items.col("start"), items.col("end"))]


WANT = [("p1", 0, "C1", None, 9 * 3600, 10 * 3600), ("p1", 1, None, "S1", 11 * 3600, 12 * 3600 + 1815),
        ("p3", 0, "C2", None, 13 * 3600, 14 * 3600), ("p4", 0, None, None, 15 * 3600, 16 * 3600),
        ("p4", 1, "C3", None, 16 * 3600, 17 * 3600), ("p4", 2, "C1", None, 18 * 3600, 19 * 3600)]


@pytest.mark.parametrize("fast", [True, False])
def test_entries_are_flat_columns_with_their_event_and_place(fast):
    frame, _ = frame_of(PLANS, fast)
    chunk = Chunk(frame, np.arange(len(frame)), int(frame.ts[-1]))
    assert entries_of(chunk) == WANT
    assert chunk.col("plan.submitted", "items").tolist() == [2, 0, 1, 3]  # the list field's column: its length
    assert chunk.nested("plan.submitted", "items").counts.tolist() == [2, 0, 1, 3]
    assert chunk.event(int(chunk.rows("plan.submitted")[2]))["items"] == [
        {"customer_id": "C2", "site_id": None, "start": 13 * 3600, "end": 14 * 3600, "purpose": "demo"}]


def test_chunks_in_any_order_and_any_selection_see_their_own_entries():
    events = list(PLANS)
    random.Random(4).shuffle(events)
    frame, _ = frame_of(events)
    for size in (1, 2, 3):  # consecutive events: a slice of the entries
        got = [e for ch in frame.chunks(size) for e in entries_of(ch)]
        assert got == WANT, size
    whole = Chunk(frame, np.arange(len(frame)), int(frame.ts[-1]))
    t2 = frame.strings.find("t2")
    picked = whole.select(frame.tenant != t2)  # not consecutive: a gather
    assert entries_of(picked) == [e for e in WANT if e[0] != "p3"]
    assert len(Chunk.empty(frame, 0).nested("plan.submitted", "items")) == 0


def test_photos_and_claims_are_child_tables_too():
    events = [
        {"id": "f1", "kind": "followup.logged", "ts": TS.format(9), "employee_id": "E1", "customer_id": "C1",
         "channel": "visit", "photos": [{"uri": "a.jpg", "lat": 31.2, "lon": 121.4, "taken_at": "2026-03-30T01:00:00Z"},
                                        {"uri": "b.jpg"}]},
        {"id": "s1", "kind": "summary.submitted", "ts": TS.format(18), "employee_id": "E1", "date": "2026-03-30",
         "claims": [{"customer_id": "C1", "activity": "visit"}]},
    ]
    frame, intake = frame_of(events * 8 + [dict(e, id=f"{e['id']}-{k}") for e in events for k in range(8)])
    chunk = Chunk(frame, np.arange(len(frame)), int(frame.ts[-1]))
    photos = chunk.nested("followup.logged", "photos")
    assert photos.col("lat")[0] == 31.2 and np.isnan(photos.col("lat")[1])
    assert photos.col("taken_at").tolist()[:2] == [int(frame.ts[0]), NULL_INT]  # 09:00+08:00 is 01:00Z
    # a photo's URI is nearly always new: its column holds the strings (the scan's string table would keep
    # every one of them for the whole scan)
    assert photos.col("uri").tolist()[:2] == ["a.jpg", "b.jpg"] and frame.strings.find("a.jpg") == -1
    claims = chunk.nested("summary.submitted", "claims")
    assert chunk.strings.texts(claims.col("activity"))[0] == "visit" and intake.fast_rows == 16


def test_a_plan_time_is_the_wall_clock_time_written_whatever_its_offset():
    # an offset after a time of day is accepted (the model decides) and ignored: a plan means the time written
    frame, intake = frame_of([plan(1, [{"customer_id": "C1", "start": "09:00+08:00", "end": "01:00Z"},
                                       {"customer_id": "C1", "start": "09:30", "end": "10:00"}])])
    chunk = Chunk(frame, np.arange(len(frame)), int(frame.ts[-1]))
    items = chunk.nested("plan.submitted", "items")
    assert items.col("start").tolist() == [9 * 3600, 9 * 3600 + 1800] and items.col("end").tolist() == [3600, 36000]
    assert intake.fast_rows == 0  # a spelling the fast path leaves to the model
