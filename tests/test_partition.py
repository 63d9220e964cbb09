"""``hrguard.scan_partition`` and ``hrguard.ship_ruleset``: the engine-neutral core of a scale-out scan (no Spark).

Several synthetic companies numbering their events alike (``benchmarks/gen_events.py``), one record
repeated with other content (the first received must win) and one delivered twice: any partitioning
that keeps a tenant's rows together gives exactly the finding ids of one ``hrguard.scan`` of
everything at the same as-of time. A shipped ruleset carries its models and its plugins by name, and is
refused, naming the difference, where it would not run the same way.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

import hrguard  # noqa: E402
from hrguard.engine import load_shipped, partition_schemas  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def gen_events():
    spec = importlib.util.spec_from_file_location("hrguard_bench_gen_events", ROOT / "benchmarks" / "gen_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tenant_events(n: int = 9_000, tenants: int = 3) -> list[dict]:
    """``n`` events of ``tenants`` companies, ids shared across them, and two repeats in ``t1``: the record
    of an event of ``t1`` again with another employee (to be rejected) and of a later one again, identical
    (a duplicate delivery)."""
    events = [dict(e) for e in gen_events().generate_tenants(n, tenants, seed=7)]
    t1 = [e for e in events if e["tenant"] == "t1"]
    events.append({**t1[len(t1) // 3], "employee_id": "E-IMPOSTOR"})
    events.append(dict(t1[len(t1) // 2]))
    return events


def as_table(events: list[dict]):
    """Events as a pyarrow Table (money as decimal text: a column holds one type)."""
    rows = [{**e, "amount": str(e["amount"])} if e.get("amount") is not None else e for e in events]
    return pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)


@pytest.fixture(scope="module")
def events():
    return tenant_events()


@pytest.fixture(scope="module")
def as_of(events):
    return max(hrguard.events.to_instant_us(e["ts"]) for e in events) / 1e6


@pytest.fixture(scope="module")
def whole(events, as_of):
    return hrguard.scan(events, "sales", as_of=as_of)


def test_a_partition_of_several_tenants_finds_what_one_scan_of_everything_finds(events, as_of, whole):
    shipped = hrguard.ship_ruleset("sales")
    out = hrguard.scan_partition(as_table(events), shipped, as_of=as_of)
    assert len(whole.findings) > 100 and {f.tenant for f in whole.findings} == {"t0", "t1", "t2"}
    assert out.findings.column("id").to_pylist() == [f.id for f in whole.findings]  # (ts, id) order too
    assert out.findings.schema == partition_schemas("Asia/Shanghai").findings
    stats = {r["tenant"]: r for r in out.stats.to_pylist()}
    assert sorted(stats) == ["t0", "t1", "t2"] and sum(r["findings"] for r in stats.values()) == len(whole.findings)
    assert stats["t1"]["duplicates"] == 1 and stats["t1"]["rejected"] == 1 and stats["t0"]["rejected"] == 0
    assert sum(r["received"] for r in stats.values()) == len(events) == whole.stats.received
    (rej,) = out.rejections.to_pylist()
    assert rej["tenant"] == "t1" and rej["position"] == len(events) - 2 and rej["id"] == events[-2]["id"]


def test_any_split_by_tenant_gives_the_same_findings(events, as_of, whole):
    table = as_table(events)
    parts = [hrguard.scan_partition(table.filter(pa.compute.equal(table["tenant"], t)), "sales", as_of=as_of)
             for t in ("t2", "t0", "t1")]
    ids = pa.concat_tables([p.findings for p in parts]).column("id").to_pylist()
    assert sorted(ids) == sorted(f.id for f in whole.findings)


def test_the_order_column_decides_which_of_two_records_with_one_id_is_kept(events, as_of):
    """The impostor record comes last in the table but first by ``seq``: then it is the one kept."""
    table = as_table(events)
    seq = list(range(len(events)))
    k = next(i for i, e in enumerate(events) if e["tenant"] == "t1" and e["id"] == events[-2]["id"])
    seq[k], seq[-2] = seq[-2], seq[k]  # the impostor is received before the original
    out = hrguard.scan_partition(table.append_column("seq", pa.array(seq)), "sales", as_of=as_of, order_col="seq")
    arrived = [e for _, e in sorted(zip(seq, events), key=lambda p: p[0])]
    assert out.findings.column("id").to_pylist() == [f.id for f in hrguard.scan(arrived, "sales", as_of=as_of).findings]
    (rej,) = out.rejections.to_pylist()
    assert rej["position"] == seq[k] and rej["id"] == events[k]["id"]


def test_as_of_is_required():
    with pytest.raises(hrguard.InvalidArgumentError, match=r"^as_of: required: give every partition the same"):
        hrguard.scan_partition(as_table(tenant_events(200, 2)), "sales", as_of=None)


def test_a_shipped_ruleset_is_plain_data_with_its_plugins_by_module():
    shipped = hrguard.ship_ruleset("sales")
    again = hrguard.ShippedRuleset.from_json(shipped.to_json())
    assert again.fingerprint == shipped.fingerprint and len(shipped.fingerprint) == 64
    assert shipped.plugins == ["hrguard_expense.plugin"]  # the engine's plugins, named; nothing else is loaded
    content = shipped.spec["content"]["environment"]
    assert content["numpy"] and content["scikit-learn"] and content["plugins"]["hrguard_expense.plugin"].startswith(
        "hrguard-expense==")
    assert load_shipped(again.to_json()).engine.registry.detectors.keys() == hrguard.default_engine().detectors.keys()
    with pytest.raises(hrguard.InvalidArgumentError, match="plugins: a list of module names"):
        hrguard.ship_ruleset("sales", plugins="hrguard_expense.plugin")


def test_a_shipped_ruleset_is_refused_where_other_versions_would_judge(monkeypatch):
    spec = json.loads(hrguard.ship_ruleset("sales").to_json())
    spec["content"]["environment"]["scikit-learn"] = "0.0.1"  # as if shipped from a driver with another version
    spec["fingerprint"] = "0" * 64
    with pytest.raises(hrguard.RulesetMismatchError, match=r"environment\.scikit-learn: '0\.0\.1' != '") as exc:
        load_shipped(spec)
    assert isinstance(exc.value, hrguard.HrguardError) and exc.value.expected == "0" * 64
    with pytest.raises(hrguard.RulesetMismatchError):  # in a partition, before anything is scanned
        hrguard.scan_partition(as_table(tenant_events(200, 2)), hrguard.ShippedRuleset(spec), as_of=0)


def test_a_saved_model_travels_inside_the_shipped_ruleset(events, as_of, tmp_path, monkeypatch):
    from hrguard.detectors.outlier import fit_model
    from hrguard.engine import _shipping

    monkeypatch.chdir(tmp_path)
    fit_model([e for e in events if e["tenant"] == "t0"], "forest.npz", timezone="Asia/Shanghai", period="day",
              roles=["sales"])
    rs = hrguard.load_ruleset({"extends": ["sales"], "rules": [
        {"use": "outlier.isolation_forest", "params": {"period": "day", "roles": ["sales"], "contamination": 0.05,
                                                       "fit_on": {"model": "forest.npz"}}}]})
    shipped = hrguard.ship_ruleset(rs)
    assert len(shipped.spec["models"]) == 1 and "forest.npz" not in shipped.to_json()
    assert len(shipped.spec["ruleset"]["rules"]) == len(hrguard.load_ruleset("sales").rules)  # extends resolved
    expected = [f.id for f in hrguard.scan(events, rs, as_of=as_of).findings]
    Path("forest.npz").unlink()  # an executor has no such file
    monkeypatch.setenv("HRGUARD_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_shipping, "_cache", {})  # a fresh process
    table = as_table(events)
    out = hrguard.scan_partition(table, hrguard.ShippedRuleset.from_json(shipped.to_json()), as_of=as_of)
    saved = [f for f in out.findings.to_pylist() if f["rule"] == "outlier.isolation_forest"]
    assert saved and all(json.loads(f["details"])["model"] == "saved" for f in saved)
    assert list((tmp_path / "cache").glob("*.npz"))
    assert out.findings.column("id").to_pylist() == expected
