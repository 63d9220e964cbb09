"""``benchmarks/peer_polars.py``: the polars peer finds exactly hrguard's finding ids (a few seconds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("polars")

import hrguard  # noqa: E402
from hrguard.findings import finding_id

ROOT = Path(__file__).resolve().parent.parent
GEO, STALL = "geofence.mismatch", "followup.stall"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"hrguard_bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def peer():
    return _load("peer_polars")


@pytest.fixture(scope="module")
def ruleset(peer, tmp_path_factory: pytest.TempPathFactory) -> str:
    return peer.two_rule_ruleset("sales", out_dir=tmp_path_factory.mktemp("ruleset"))


def _both(peer, ruleset: str, path: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    return peer.hrguard_findings(path, ruleset), peer.peer_findings(path, peer.peer_params(ruleset))


def test_the_ruleset_holds_the_two_rules_with_the_sales_parameters(ruleset: str) -> None:
    two = hrguard.default_engine().load_ruleset(ruleset)
    sales = hrguard.default_engine().load_ruleset("sales")
    assert [r.use for r in two.rules] == [GEO, STALL]
    assert two.timezone == sales.timezone
    for rule in two.rules:
        assert rule.params == next(r.params for r in sales.rules if r.name == rule.name)


def test_a_generated_log_gives_the_same_ids(peer, ruleset: str, tmp_path: Path) -> None:
    path = _load("gen_events").write(tmp_path / "events.jsonl", 8_000, seed=2)
    hr, mine = _both(peer, ruleset, path)
    assert len(hr[GEO]) > 20 and len(hr[STALL]) > 0  # the file exercises both rules
    assert sorted(mine[GEO]) == sorted(hr[GEO])
    assert sorted(mine[STALL]) == sorted(hr[STALL])


def _ev(id_: str, kind: str, ts: str, **fields) -> dict:
    return {"id": id_, "kind": kind, "ts": f"2026-04-{ts}+08:00", "employee_id": fields.pop("emp", "E1"), **fields}


def _punch(id_: str, ts: str, at: tuple[float, float] | None, **fields) -> dict:
    lat, lon = at if at is not None else (None, None)
    return _ev(id_, "attendance.punched", ts, direction="in", lat=lat, lon=lon, source="gps" if at else "manual",
               **fields)


C1, S1 = (31.2304, 121.4737), (31.2000, 121.4000)
NEAR, FAR = (31.2310, 121.4740), (31.2304, 121.5000)  # ~70 m and ~2.5 km from C1


def test_the_spec_boundaries_give_the_same_ids(peer, ruleset: str, tmp_path: Path) -> None:
    """Ties in ts broken by id, replaced plans, the first item holding a punch, slack edges, local dates,
    places without a location, sites' own radius, accuracy credit; stalls due exactly at an activity,
    unwatched stages, due after the as-of time. Written out of order."""
    plan_items = [{"customer_id": "C1", "start": "09:00", "end": "10:00"},
                  {"customer_id": "C2", "start": "09:30", "end": "11:00"},  # overlaps: C1 comes first
                  {"start": "12:00", "end": "13:00", "purpose": "lunch"},  # names no place: skipped
                  {"site_id": "S1", "customer_id": "C3", "start": "14:00", "end": "15:00"},  # both: the customer
                  {"site_id": "S1", "start": "16:00", "end": "17:00"}]
    evs = [
        _ev("a01", "site.registered", "01T08:00:00", site_id="S1", name="S1", lat=S1[0], lon=S1[1], radius_m=300.0),
        _ev("a02", "customer.registered", "01T08:00:00", customer_id="C1", name="C1", owner_id="E1", lat=C1[0], lon=C1[1]),
        _ev("a03", "customer.registered", "01T08:00:00", customer_id="C2", name="C2", owner_id="E1", lat=FAR[0], lon=FAR[1]),
        _ev("a04", "customer.registered", "01T08:00:00", customer_id="C3", name="C3", owner_id="E1", lat=None, lon=None),
        _ev("p1", "plan.submitted", "02T07:00:00", date="2026-04-02", items=plan_items),
        _punch("k01", "02T09:40:00", FAR),  # C1 (first holding item) -> fires
        _punch("k02", "02T10:20:00", NEAR),  # only C2's window -> C2 is FAR away -> fires
        _punch("k03", "02T12:30:00", FAR),  # lunch item skipped, nothing else: not judged
        _punch("k04", "02T14:30:00", FAR),  # C3 has no location: not judged
        _punch("k05", "02T16:30:00", (S1[0] + 0.004, S1[1])),  # ~445 m from S1 (radius 300, accuracy credit 0) -> fires
        _punch("k06", "02T16:30:01", (S1[0] + 0.004, S1[1]), accuracy_m=200.0),  # credit 200 -> inside
        _punch("k07", "02T10:15:00", NEAR),  # C1's end + 15m slack exactly: still C1 -> inside (C2 would fire)
        _punch("k08", "02T08:45:00", FAR),  # C1's start - 15m exactly: judged against C1 -> fires
        _punch("k09", "02T08:44:59", FAR),  # before any widened window: not judged
        _punch("k10", "02T09:10:00", None),  # no location where C1 is expected -> fires (no_location)
        _punch("k11", "02T09:10:00", FAR, customer_id="C2"),  # its own customer C2: at C2 -> no finding
        _punch("k12", "02T09:10:00", NEAR, site_id="S1"),  # its own site S1: far from S1 -> fires
        _punch("k13", "02T09:10:00", NEAR, customer_id="C1", site_id="S1"),  # both: the customer -> inside
        # a replacement plan for 04-03 at the same ts as a punch: only the punch with a greater id sees it
        _ev("p2", "plan.submitted", "03T08:00:00", date="2026-04-03", items=[{"customer_id": "C1", "start": "07:30", "end": "09:00"}]),
        _ev("p3", "plan.submitted", "03T08:30:00", date="2026-04-03", items=[{"customer_id": "C2", "start": "07:30", "end": "09:00"}]),
        _punch("p2x", "03T08:30:00", NEAR),  # 'p2x' < 'p3': p2 applies (C1) -> inside
        _punch("p3x", "03T08:30:00", NEAR),  # 'p3x' > 'p3': p3 applies (C2, far) -> fires
        # a punch before 08:00 local is still on the local date (the UTC date is the day before)
        _ev("p4", "plan.submitted", "04T06:00:00", date="2026-04-04", items=[{"customer_id": "C2", "start": "07:00", "end": "07:45"}]),
        _punch("k14", "04T07:10:00", C1),  # C2 expected -> fires
        # C1 re-registered without a location: later punches at C1 are not judged
        _ev("a05", "customer.registered", "05T08:00:00", customer_id="C1", name="C1", owner_id="E1", lat=None, lon=None),
        _punch("k15", "05T09:00:00", FAR, customer_id="C1"),
        # stalls (quoting 7d, pending_signing 5d)
        _ev("s01", "customer.stage_changed", "01T10:00:00", customer_id="C1", stage="quoting", previous_stage=None),
        _ev("s02", "followup.logged", "08T10:00:00", customer_id="C1", channel="phone", summary="x"),  # exactly due: fires, new period
        _ev("s03", "followup.logged", "15T09:59:59", customer_id="C1", channel="phone", summary="x"),  # before due: no
        _ev("s04", "customer.stage_changed", "16T10:00:00", customer_id="C1", stage="pending_signing", previous_stage="quoting"),
        _ev("s05", "customer.stage_changed", "01T10:00:00", customer_id="C2", stage="quoting", previous_stage=None),
        _ev("s06", "customer.stage_changed", "03T10:00:00", customer_id="C2", stage="lost", previous_stage="quoting"),
        _ev("s07", "followup.logged", "20T10:00:00", customer_id="C2", channel="phone", summary="x"),  # unwatched
        _ev("s08", "followup.logged", "02T10:00:00", customer_id="C9", channel="phone", summary="x"),  # no stage yet
        _ev("s09", "customer.stage_changed", "20T11:00:00", customer_id="C9", stage="quoting", previous_stage=None),  # due after as-of
        _ev("z99", "followup.logged", "22T12:00:00", customer_id="C8", channel="phone", summary="x"),  # the as-of time
    ]
    path = tmp_path / "edges.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in reversed(evs)))  # out of order on purpose
    hr, mine = _both(peer, ruleset, path)
    by_id = {f.id: f for f in hrguard.scan(path, ruleset).findings}
    punches = {e["id"] for e in evs if e["kind"] == "attendance.punched"}
    assert sorted(p for i in hr[GEO] for p in punches.intersection(by_id[i].evidence)) == ["k01", "k02", "k05", "k08", "k10", "k12", "k14", "p3x"]
    assert sorted(by_id[i].details["last_activity_id"] for i in hr[STALL]) == ["s01", "s04"]
    assert sorted(mine[GEO]) == sorted(hr[GEO])
    assert sorted(mine[STALL]) == sorted(hr[STALL])


def test_the_peers_finding_id_is_hrguards(peer) -> None:
    for name, subject, ts in (("geofence.mismatch", ("ev1",), 1_775_000_000_000_000),
                              ("followup.stall", ("C1", "ev2"), 0), ("x", (None, "é"), -5)):
        assert peer.finding_id(name, subject, ts) == finding_id(name, subject, ts)


def test_a_difference_fails_loudly(peer, capsys: pytest.CaptureFixture[str]) -> None:
    cmp = peer.compare({GEO: ["F1", "F2"], STALL: []}, {GEO: ["F1", "F3"], STALL: []})
    assert cmp[GEO]["only_hrguard"] == 1 and cmp[GEO]["only_polars"] == 1 and cmp[STALL]["same"]
    with pytest.raises(SystemExit) as exc:
        peer.check({"events": 10, "comparison": cmp, "same_findings": False})
    assert exc.value.code == 1
    assert "DIFFERENT" in capsys.readouterr().err
