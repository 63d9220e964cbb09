"""``hrguard synth``: a deterministic synthetic sales company, streamed to disk, with ground-truth labels."""

from __future__ import annotations

import json
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest

import hrguard.synth as synth
import hrguard.synth._dataset
from hrguard.cli import main
from hrguard.quality import evaluate, load_labels, load_roster
from hrguard.synth import MISCONDUCT, NOISE, SCENARIOS, Synth, SynthConfig, write_dataset

SMALL = SynthConfig(employees=20, days=30, seed=1)
FILES = ("events.jsonl", "labels.jsonl", "meta.json")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "small"
    write_dataset(out, SMALL)
    return out


@pytest.fixture(scope="module")
def small_scan(small: Path, engine):
    return engine.scan(small / "events.jsonl", "sales")


def events_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def labels_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "labels.jsonl").read_text(encoding="utf-8").splitlines()]


# -- determinism ------------------------------------------------------------------------------------
def test_the_same_seed_gives_byte_identical_files(small: Path, tmp_path: Path) -> None:
    write_dataset(tmp_path, SMALL)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (small / name).read_bytes(), name


def test_another_seed_gives_another_company(small: Path, tmp_path: Path) -> None:
    write_dataset(tmp_path, SynthConfig(employees=20, days=30, seed=2))
    assert (tmp_path / "events.jsonl").read_bytes() != (small / "events.jsonl").read_bytes()
    assert (tmp_path / "labels.jsonl").read_bytes() != (small / "labels.jsonl").read_bytes()


def test_without_orjson_the_bytes_are_the_same(small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth._dataset, "_dumps",
                        lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode())
    write_dataset(tmp_path, SMALL)
    assert (tmp_path / "events.jsonl").read_bytes() == (small / "events.jsonl").read_bytes()


# -- valid, ordered events --------------------------------------------------------------------------
def test_every_event_is_valid(small: Path, small_scan) -> None:
    assert small_scan.stats.rejected == 0 and small_scan.stats.duplicates == 0
    assert small_scan.stats.valid == len(events_of(small))


def test_a_strict_scan_of_a_dataset_passes(small: Path) -> None:
    assert main(["scan", str(small / "events.jsonl"), "--strict", "--format", "jsonl", "--out", "/dev/null"]) == 0


def test_events_are_in_time_order_with_unique_ids_in_shanghai_time(small: Path) -> None:
    evs = events_of(small)
    times = [datetime.fromisoformat(e["ts"]) for e in evs]
    assert times == sorted(times)
    assert len({e["id"] for e in evs}) == len(evs)
    assert all(e["ts"].endswith("+08:00") for e in evs)


def test_the_company_does_what_a_sales_company_does(small: Path) -> None:
    kinds = {e["kind"] for e in events_of(small)}
    assert kinds == {"site.registered", "employee.hired", "employee.terminated", "customer.registered",
                     "customer.assigned", "customer.stage_changed", "plan.submitted", "attendance.punched",
                     "followup.logged", "summary.submitted", "approval.requested", "approval.decided",
                     "order.recorded", "invoice.issued", "payroll.settled"}
    roles = set(load_roster(small).values())
    assert roles == {"sales", "manager", "finance", "legal", "hr"}


def test_most_fixes_are_close_and_some_are_poor(small: Path) -> None:
    acc = [e["accuracy_m"] for e in events_of(small) if e["kind"] == "attendance.punched"]
    good = sum(a <= 30 for a in acc) / len(acc)
    assert 0.85 < good < 0.995 and max(acc) > 300


# -- labels -----------------------------------------------------------------------------------------
def test_labels_are_well_formed(small: Path, engine) -> None:
    roster = load_roster(small)
    detectors = set(engine.detectors) | {r.name for r in engine.load_ruleset("sales").rules}  # ids, or sales' names
    for lab in labels_of(small):
        assert {"employee_id", "scenario", "start", "end", "expected_rules", "kind"} <= set(lab)
        assert lab["employee_id"] in roster
        assert lab["scenario"] in SCENARIOS and lab["kind"] == SCENARIOS[lab["scenario"]].kind
        start, end = datetime.fromisoformat(lab["start"]), datetime.fromisoformat(lab["end"])
        assert start.utcoffset() is not None and start <= end
        assert set(lab["expected_rules"]) <= detectors
        assert bool(lab["expected_rules"]) == (lab["kind"] == "misconduct")


def test_every_scenario_is_present_at_a_small_size(small: Path) -> None:
    assert {lab["scenario"] for lab in labels_of(small)} == set(MISCONDUCT) | set(NOISE)


def test_misconduct_is_a_minority(small: Path) -> None:
    bad = {lab["employee_id"] for lab in labels_of(small) if lab["kind"] == "misconduct"}
    assert 0 < len(bad) < len(load_roster(small)) / 2


def test_an_honest_company(tmp_path: Path) -> None:
    res = write_dataset(tmp_path, SynthConfig(employees=8, days=10, seed=3, misconduct=0))
    labs = labels_of(tmp_path)
    assert res.events > 0 and all(lab["kind"] == "noise" for lab in labs)


# -- the injected misconduct is caught, the honest noise is not -------------------------------------
def test_every_injected_misconduct_is_detected_by_its_expected_rules(small: Path, small_scan) -> None:
    report = evaluate(small_scan, load_labels(small), load_roster(small))
    # coasting is seen only by the outlier rule, which needs a population and weeks of it: on the
    # 300-employee company of docs/quality.md it is caught (4 of 4); this company is 20 people
    missed = {s.scenario: s.missed for s in report.scenarios if s.missed and s.scenario != "coasting"}
    assert not missed
    assert {s.scenario for s in report.scenarios} == set(MISCONDUCT)


def test_honest_employees_raise_no_medium_finding_at_a_small_size(small: Path, small_scan) -> None:
    report = evaluate(small_scan, load_labels(small), load_roster(small))
    assert report.flagged == [] and report.honest > 10


def test_a_covering_colleague_is_blessed_by_a_reassignment(small: Path, small_scan) -> None:
    covers = [lab for lab in labels_of(small) if lab["scenario"] == "covered_customer"]
    assert covers
    evs = events_of(small)
    for lab in covers:
        moved = [e for e in evs if e["kind"] == "customer.assigned" and e["owner_id"] == lab["employee_id"]
                 and e["customer_id"] in lab["details"]["customers"]]
        assert moved and all(e["employee_id"] == lab["details"]["manager_id"] for e in moved)
        worked = [e for e in evs if e["kind"] == "followup.logged" and e["employee_id"] == lab["employee_id"]
                  and e["customer_id"] in lab["details"]["customers"] and lab["start"] <= e["ts"] <= lab["end"]]
        assert worked, "the colleague did work the customers"
    conflicts = {f.employee_id for f in small_scan.findings if f.rule == "customer.ownership_conflict"}
    assert not conflicts & {lab["employee_id"] for lab in covers}


def test_people_leave_properly(small: Path) -> None:
    evs = events_of(small)
    for lab in (x for x in labels_of(small) if x["scenario"] == "left_properly"):
        emp = lab["employee_id"]
        term = [e for e in evs if e["kind"] == "employee.terminated" and e["employee_id"] == emp]
        final = [e for e in evs if e["kind"] == "payroll.settled" and e["employee_id"] == emp and e["final"]]
        handed = [e for e in evs if e["kind"] == "customer.assigned" and e["previous_owner_id"] == emp]
        assert len(term) == 1 and len(final) == 1 and handed


# -- streaming: memory does not grow with days ------------------------------------------------------
IMPORT = {"site.registered", "employee.hired", "customer.registered", "customer.stage_changed"}


def test_days_are_generated_lazily_one_at_a_time() -> None:
    s = Synth(SMALL)
    assert s.days_done == 0
    days = s.days()
    imported = next(days)  # the first day's import of existing records comes first
    assert s.days_done == 0 and {e["kind"] for e in imported.events} == IMPORT
    assert max(e["ts"] for e in imported.events) < f"{SMALL.start.isoformat()}T07:45"
    first = next(days)
    assert s.days_done == 1 and first.date == imported.date == SMALL.start
    assert {e["ts"][:10] for e in first.events} == {SMALL.start.isoformat()}
    second = next(days)
    assert s.days_done == 2 and second.date > first.date


def test_a_large_import_is_written_in_parts() -> None:
    co = Synth(SMALL)._co
    co.begin(0)
    sizes = [len(co.flush()) for _ in co.setup(part=4)]
    assert len(sizes) == -(-len(co.reps) // 4) and all(sizes)


def test_the_dataset_is_written_while_it_is_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    days = Synth.days

    def spy(self):
        for k, day in enumerate(days(self)):
            if k == 20:
                seen.append((tmp_path / "events.jsonl").stat().st_size)
            yield day

    monkeypatch.setattr(Synth, "days", spy)
    res = write_dataset(tmp_path, SMALL)
    assert seen and 0 < seen[0] < (tmp_path / "events.jsonl").stat().st_size
    assert res.events == sum(1 for _ in open(tmp_path / "events.jsonl", encoding="utf-8"))


def _peak(days: int) -> int:
    tracemalloc.start()
    try:
        for _ in Synth(SynthConfig(employees=15, days=days, seed=4)).days():
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_days() -> None:
    short, long = _peak(40), _peak(200)
    assert long < 1.5 * short, (short, long)


# -- the command line -------------------------------------------------------------------------------
def test_cli_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str], small: Path) -> None:
    code = main(["synth", "--employees", "20", "--days", "30", "--seed", "1", "--out", str(tmp_path / "d")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"Wrote a synthetic sales company to {tmp_path / 'd'}: 20 employees")
    assert "over 30 days (2026-03-02 to 2026-03-31), seed 1." in out and "events.jsonl" in out
    for name in FILES:
        assert (tmp_path / "d" / name).read_bytes() == (small / name).read_bytes()


@pytest.mark.parametrize("argv, message", [
    (["--employees", "x"], "argument --employees/-n: expected a whole number of employees, got 'x'"),
    (["--employees", "0"], "argument --employees/-n: expected at least 1, got 0"),
    (["--days", "-3"], "argument --days/-d: expected at least 1, got -3"),
    (["--seed", "one"], "argument --seed/-s: invalid int value: 'one'"),
    (["--misconduct", "0.9"], "argument --misconduct: expected a share between 0 and 0.5, got 0.9"),
    (["--start", "2026-02-30"], "argument --start: expected a date YYYY-MM-DD, got '2026-02-30'"),
    (["--employees", "5"], "hrguard: --employees must be at least 15 to staff every misconduct scenario"),
    (["--days", "10"], "hrguard: --days must be at least 28 to inject misconduct and see it detected (got 10); "
                       "use --misconduct 0 for a shorter honest dataset"),
])
def test_cli_bad_arguments_exit_2_with_a_message(argv: list[str], message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", *argv, "--out", str(tmp_path / "d")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_cli_needs_an_out_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth"]) == 2
    assert "the following arguments are required: --out/-o" in capsys.readouterr().err
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert main(["synth", "--out", str(tmp_path / "file")]) == 2
    assert f"hrguard: {tmp_path / 'file'}: exists and is not a folder" in capsys.readouterr().err


def test_the_python_api_checks_the_configuration_too() -> None:
    with pytest.raises(ValueError, match="--employees must be at least 15"):
        Synth(SynthConfig(employees=3))
    with pytest.raises(ValueError, match="--misconduct must be a share"):
        Synth(SynthConfig(misconduct=2))
