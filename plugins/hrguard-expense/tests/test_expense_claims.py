"""``expense.duplicate_claim`` and ``expense.split_claim``: boundaries, and agreement with a plain-Python model.

The model below restates each detector's docs page one claim at a time, with no numpy and no
chunks; random claim sets (with ties, corrections and look-alike merchants) must give the same
findings as the vectorised detectors, batch and stream.
"""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest

pytest.importorskip("hrguard_expense")

from expense_events import claim  # noqa: E402
from hrguard.testing import run_all_ways

DUP, SPLIT = "expense.duplicate_claim", "expense.split_claim"


def scan(hrguard_ruleset, use, events, language="en", **params):
    rs = hrguard_ruleset({"use": use, "params": params}, timezone="Asia/Shanghai", language=language)
    return run_all_ways(events, rs)


def cited(result):
    return [(f.evidence, f.details.get("reason")) for f in result.findings]


# -- expense.duplicate_claim --------------------------------------------------------------------------
def test_a_claim_repeating_an_earlier_one_within_the_window_fires(hrguard_ruleset):
    events = [
        claim("a", "04-02 10:00", "X1", 860, day="2026-04-01"),
        claim("b", "04-05 10:00", "X2", "860.0", day="2026-04-04"),  # 3 days apart: inside (both ends count)
        claim("c", "04-06 10:00", "X3", 860, day="2026-04-08"),  # 4 days after b's date: outside
    ]
    result = scan(hrguard_ruleset, DUP, events)
    assert cited(result) == [(["a", "b"], "same_details")]
    f = result.findings[0]
    assert (f.employee_id, f.customer_id, f.ts.isoformat()) == ("E1", None, "2026-04-05T10:00:00+08:00")
    assert f.details == {"reason": "same_details", "claim_id": "X2", "duplicate_of": "X1", "amount": 860.0,
                         "currency": "CNY", "merchant": "Acme Store", "incurred_on": "2026-04-04",
                         "duplicate_incurred_on": "2026-04-01", "days_apart": 3, "receipt_uri": None}
    assert f.message == ("E1 claimed 860.00 CNY at Acme Store for 2026-04-04 (claim X2), the same as their claim X1 "
                         "for 2026-04-01: claimed twice?")


def test_window_zero_means_the_same_date(hrguard_ruleset):
    events = [claim("a", "04-02 10:00", "X1", 50, day="2026-04-01"), claim("b", "04-02 11:00", "X2", 50, day="2026-04-02"),
              claim("c", "04-02 12:00", "X3", 50, day="2026-04-02")]
    assert cited(scan(hrguard_ruleset, DUP, events, window="0d")) == [(["b", "c"], "same_details")]


@pytest.mark.parametrize("change", [{"employee": "E2"}, {"merchant": "Other Store"}, {"currency": "USD"},
                                    {"amount": 860.01}, {"claim_id": "X1"}])
def test_another_employee_merchant_currency_amount_or_the_same_claim_is_no_duplicate(hrguard_ruleset, change):
    second = {"employee": "E1", "merchant": "Acme Store", "currency": "CNY", "amount": 860, "claim_id": "X2", **change}
    events = [claim("a", "04-02 10:00", "X1", 860),
              claim("b", "04-03 10:00", second.pop("claim_id"), second.pop("amount"), **second)]
    assert cited(scan(hrguard_ruleset, DUP, events)) == []


def test_merchants_match_whatever_their_case_and_spacing(hrguard_ruleset):
    events = [claim("a", "04-02 10:00", "X1", 99, merchant="Golden  Dragon"),
              claim("b", "04-03 10:00", "X2", 99, merchant=" golden dragon ")]
    result = scan(hrguard_ruleset, DUP, events)
    assert cited(result) == [(["a", "b"], "same_details")] and result.findings[0].details["merchant"] == "golden dragon"


def test_receipts(hrguard_ruleset):
    events = [
        claim("a", "04-02 10:00", "X1", 20, receipt_uri="r/1"),
        claim("b", "04-02 11:00", "X2", 20, receipt_uri="r/2"),  # two parking tickets: two expenses
        claim("c", "04-02 12:00", "X3", 20),  # no receipt: may repeat either
        claim("d", "04-02 13:00", "X4", 20, receipt_uri="r/1"),  # a's receipt again: cites a, not the later c
    ]
    assert cited(scan(hrguard_ruleset, DUP, events)) == [(["b", "c"], "same_details"), (["a", "d"], "same_receipt")]
    assert cited(scan(hrguard_ruleset, DUP, events, distinct_receipts=False)) == [
        (["a", "b"], "same_details"), (["b", "c"], "same_details"), (["a", "d"], "same_receipt")]


def test_a_corrected_claim_is_judged_as_corrected(hrguard_ruleset):
    events = [
        claim("a", "04-02 10:00", "X1", 500),
        claim("b", "04-02 11:00", "X1", 450),  # X1 corrected to 450
        claim("c", "04-03 10:00", "X2", 500),  # repeats only X1's old record: no finding
        claim("d", "04-03 11:00", "X3", 450),  # repeats X1 as it is now
    ]
    assert cited(scan(hrguard_ruleset, DUP, events)) == [(["b", "d"], "same_details")]


def test_min_amount_and_chinese_messages(hrguard_ruleset):
    events = [claim("a", "04-02 10:00", "X1", 30), claim("b", "04-02 11:00", "X2", 30),
              claim("c", "04-02 12:00", "X3", 300, receipt_uri="r"), claim("d", "04-02 13:00", "X4", 300, receipt_uri="r")]
    result = scan(hrguard_ruleset, DUP, events, language="zh", min_amount=100)
    assert [f.message for f in result.findings] == [
        "E1 报销 Acme Store 300.00 CNY（报销单 X4），所附票据已用于本人报销单 X3，疑似重复报销"]


@pytest.mark.parametrize("window, error", [("36h", "whole days"), ("3", "needs a unit"), ("soon", "duration")])
def test_the_window_is_whole_days(hrguard_ruleset, window, error):
    import hrguard

    with pytest.raises(hrguard.RulesetError, match=error):
        hrguard_ruleset({"use": DUP, "params": {"window": window}})


# -- expense.split_claim ------------------------------------------------------------------------------
def test_claims_each_under_the_limit_summing_to_it_fire_once_at_the_claim_that_completes_them(hrguard_ruleset):
    events = [
        claim("a", "04-10 09:00", "S1", 2400, day="2026-04-08", merchant="Suning"),
        claim("b", "04-10 09:05", "S2", 1599.99, day="2026-04-08", merchant="Suning"),  # 3,999.99
        claim("c", "04-10 09:10", "S3", 1000.01, day="2026-04-10", merchant="Suning"),  # exactly 5,000
        claim("d", "04-10 09:20", "S4", 3000, day="2026-04-09", merchant="Suning"),  # already split: no second finding
    ]
    result = scan(hrguard_ruleset, SPLIT, events)
    assert [f.evidence for f in result.findings] == [["a", "b", "c"]]
    f = result.findings[0]
    assert f.details == {"claim_id": "S3", "claim_ids": ["S1", "S2", "S3"], "count": 3, "total": 5000.0,
                         "limit": 5000.0, "currency": "CNY", "merchant": "Suning",
                         "first_incurred_on": "2026-04-08", "last_incurred_on": "2026-04-10"}
    assert f.message == ("E1 claimed 5,000.00 CNY at Suning as 3 claims (S1, S2, S3) incurred 2026-04-08 to "
                         "2026-04-10, each under the approval limit of 5,000.00: a purchase split to avoid approval?")


def test_what_counts(hrguard_ruleset):
    events = [
        claim("a", "04-10 09:00", "S1", 5000, merchant="M"),  # at the limit: it needs approval, not counted
        claim("b", "04-10 09:01", "S2", 999.99, merchant="M"),  # under min_share x limit (1,000): not counted
        claim("c", "04-10 09:02", "S3", 2600, merchant="M"),
        claim("d", "04-10 09:03", "S4", 2400, merchant="M", currency="USD"),  # another currency: another group
        claim("e", "04-10 09:04", "S5", 2400, merchant="M", employee="E2"),  # another employee
        claim("f", "04-10 09:05", "S6", 2400, merchant="N"),  # another merchant
        claim("g", "04-10 09:06", "S7", 2300, merchant="M", day="2026-04-05"),  # 4 days after S3's: apart
        claim("h", "04-10 09:07", "S8", 100, merchant="M", day="2026-04-03"),  # too small to count
        claim("i", "04-10 09:08", "S9", 2000, merchant="M", day="2026-04-03"),  # within 3 days of S3 and S7
    ]
    result = scan(hrguard_ruleset, SPLIT, events)
    assert [(f.evidence, f.details["total"]) for f in result.findings] == [(["c", "g", "i"], 6900.0)]


def test_min_claims_currency_and_same_day_messages(hrguard_ruleset):
    events = [claim(i, f"04-10 09:0{n}", f"S{n}", 2600, merchant="M", currency=c)
              for n, (i, c) in enumerate([("a", "CNY"), ("b", "CNY"), ("c", "USD"), ("d", "CNY")])]
    assert [f.evidence for f in scan(hrguard_ruleset, SPLIT, events, min_claims=3).findings] == [["a", "b", "d"]]
    result = scan(hrguard_ruleset, SPLIT, events, currency="USD")
    assert result.findings == []
    result = scan(hrguard_ruleset, SPLIT, events, language="zh", currency="CNY")
    assert [f.message for f in result.findings] == [
        "E1 将 M 的 5,200.00 CNY 拆成 2 笔报销（S0, S1，均在 2026-04-01），每笔均低于审批限额 5,000.00，疑似拆单规避审批"]


def test_a_corrected_claim_counts_once_as_corrected(hrguard_ruleset):
    events = [
        claim("a", "04-10 09:00", "S1", 2600, merchant="M"),
        claim("b", "04-10 09:01", "S1", 2700, merchant="M"),  # S1 corrected: still one claim
        claim("c", "04-10 09:02", "S2", 200, merchant="M"),  # too small to count
        claim("d", "04-10 09:03", "S2", 2300, merchant="M"),  # S2 corrected up: 5,000 with S1
    ]
    result = scan(hrguard_ruleset, SPLIT, events)
    assert [(f.evidence, f.details["total"]) for f in result.findings] == [(["b", "d"], 5000.0)]


# -- a plain-Python model of both detectors, against random claims -----------------------------------
def _norm(m):
    return " ".join(m.split()).casefold()


def _key(e, with_amount):
    k = (e["employee_id"], _norm(e["merchant"]), e["currency"])
    return k + (round(float(e["amount"]) * 10_000),) if with_amount else k


def _days(e):
    return date.fromisoformat(e["incurred_on"]).toordinal()


def _ordered(events):
    return sorted(events, key=lambda e: (datetime.fromisoformat(e["ts"]), e["id"]))


def model_duplicates(events, window=3, min_amount=0, distinct_receipts=True):
    out, seen = [], _ordered(events)
    for i, q in enumerate(seen):
        current = {}
        for e in seen[:i]:
            current[e["claim_id"]] = e
        if float(q["amount"]) < min_amount:
            continue
        matches = [e for e in current.values() if e["claim_id"] != q["claim_id"] and _key(e, True) == _key(q, True)
                   and abs(_days(e) - _days(q)) <= window
                   and not (distinct_receipts and e.get("receipt_uri") and q.get("receipt_uri")
                            and e["receipt_uri"] != q["receipt_uri"])]
        if matches:
            same = [e for e in matches if q.get("receipt_uri") and e.get("receipt_uri") == q["receipt_uri"]]
            pick = max(same or matches, key=seen.index)
            out.append(({pick["id"], q["id"]}, "same_receipt" if same else "same_details"))
    return out


def model_splits(events, window=3, limit=5000.0, min_claims=2, min_share=0.2):
    out, seen, cited = [], _ordered(events), set()
    counted = lambda e: min_share * limit <= float(e["amount"]) < limit  # noqa: E731
    for i, q in enumerate(seen):
        current = {}
        for e in seen[:i]:
            current[e["claim_id"]] = e
        if not counted(q):
            continue
        group = [e for e in current.values() if e["claim_id"] != q["claim_id"] and counted(e)
                 and _key(e, False) == _key(q, False) and abs(_days(e) - _days(q)) <= window]
        total = sum(float(e["amount"]) for e in group) + float(q["amount"])
        if len(group) + 1 >= min_claims and total >= limit * (1 - 1e-9) and not cited & {e["claim_id"] for e in group}:
            cited |= {e["claim_id"] for e in group} | {q["claim_id"]}
            out.append(({e["id"] for e in group} | {q["id"]}, None))
    return out


def random_claims(seed: int, n: int = 40) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append(claim(
            f"e{rnd.randrange(100)}-{i}", f"04-{rnd.randrange(1, 6):02d} {rnd.choice(['09', '10'])}:00",
            f"X{rnd.randrange(12)}", rnd.choice([200, 860, "860.00", 1000, 2400, 2600, 4999.99, 5000]),
            employee=rnd.choice(["E1", "E2"]), merchant=rnd.choice(["Acme", " acme", "Bolt"]),
            currency=rnd.choice(["CNY", "CNY", "USD"]), day=f"2026-04-{rnd.randrange(1, 12):02d}",
            receipt_uri=rnd.choice([None, None, "r/1", "r/2"])))
    return out


def _canon(finding: tuple[set[str], str | None]) -> tuple[list[str], str]:
    """A sort key that does not depend on a set's iteration order (``str`` of a set does, with the hash seed)."""
    return sorted(finding[0]), finding[1] or ""


@pytest.mark.parametrize("seed", range(40))
def test_the_detectors_agree_with_the_model(hrguard_ruleset, seed):
    events = random_claims(seed)
    params = [{}, {"window": "0d"}, {"window": "7d", "min_amount": 900, "distinct_receipts": False}][seed % 3]
    got = [(set(f.evidence), f.details["reason"]) for f in scan(hrguard_ruleset, DUP, events, **params).findings]
    model = {"window": int(params.get("window", "3d")[:-1]), "min_amount": params.get("min_amount", 0),
             "distinct_receipts": params.get("distinct_receipts", True)}
    assert sorted(got, key=_canon) == sorted(model_duplicates(events, **model), key=_canon)
    sparams = [{}, {"min_claims": 3, "window": "1d"}, {"limit": 3000, "min_share": 0}][seed % 3]
    got = [(set(f.evidence), None) for f in scan(hrguard_ruleset, SPLIT, events, **sparams).findings]
    smodel = {"window": int(sparams.get("window", "3d")[:-1]), "limit": float(sparams.get("limit", 5000)),
              "min_claims": sparams.get("min_claims", 2), "min_share": sparams.get("min_share", 0.2)}
    assert sorted(got, key=_canon) == sorted(model_splits(events, **smodel), key=_canon)


def test_many_claims_take_the_snapshot_path(hrguard_ruleset):
    """Chunks with many queries search a sorted snapshot of the kept claims instead of per-key lists."""
    events = random_claims(99, n=400)
    rs = hrguard_ruleset({"use": DUP}, timezone="Asia/Shanghai")
    engine = rs.engine
    big = engine.scan(events, rs, chunk_size=100_000).findings
    small = engine.scan(events, rs, chunk_size=150).findings  # >= 64 queries per chunk after the first
    assert [f.id for f in big] == [f.id for f in small]
    assert sorted((tuple(sorted(f.evidence)), f.details["reason"]) for f in big) == sorted(
        (tuple(sorted(e)), r) for e, r in model_duplicates(events))
