"""``hrguard.spark.scan`` in Spark's local mode: tenants as partitions, the same finding ids as one machine.

One SparkSession for the module (``local[2]``, 4 shuffle partitions; starting it is most of the time
here), so the tests are few: the identity check on several synthetic tenants sharing event ids (with a
repeated id and a duplicate delivery), a missing ``as_of``, and a shipped ruleset refused on the
executors. Skipped, saying why, without Java or pyspark (``pip install -e '.[spark]'``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java on this machine: Spark's local mode needs a JVM (Java 17)", allow_module_level=True)
if subprocess.run(["java", "-version"], capture_output=True).returncode != 0:  # pragma: no cover
    pytest.skip("java -version fails: Spark's local mode needs a working JVM", allow_module_level=True)

import hrguard  # noqa: E402
import hrguard.spark  # noqa: E402
from test_partition import as_table, tenant_events  # noqa: E402

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers run this interpreter (this venv)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("hrguard-tests")
               .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def events():
    """Three companies numbering their events alike, plus the default tenant (no tenant) with the same ids."""
    evs = tenant_events(6_000, 3)
    evs += [{**e, "tenant": None} for e in evs if e["tenant"] == "t2"]
    return evs


def test_the_findings_are_those_of_one_scan_of_everything_id_for_id(spark, events):
    as_of = max(hrguard.events.to_instant_us(e["ts"]) for e in events) / 1e6
    res = hrguard.spark.scan(spark.createDataFrame(as_table(events)), "sales", as_of=as_of)
    rows = res.findings.collect()
    whole = hrguard.scan(events, "sales", as_of=as_of)
    assert [r.id for r in rows] == [f.id for f in whole.findings]  # (ts, id) order
    assert len(rows) > 100 and {r.tenant for r in rows} == {None, "t0", "t1", "t2"}
    assert dict(res.findings.dtypes)["ts"] == "timestamp" and dict(res.findings.dtypes)["evidence"] == "array<string>"
    first = whole.findings[0]
    assert (rows[0].evidence, json.loads(rows[0].details)) == (first.evidence, first.details)
    stats = {r.tenant: r for r in res.stats.collect()}
    assert sorted(stats, key=str) == [None, "t0", "t1", "t2"]
    assert sum(r.received for r in stats.values()) == len(events)
    assert (stats["t1"].duplicates, stats["t1"].rejected) == (1, 1)
    (rej,) = res.rejections.collect()
    impostor = next(e for e in events if e.get("employee_id") == "E-IMPOSTOR")
    assert (rej.tenant, rej.id, rej.field) == ("t1", impostor["id"], "id")
    print(f"\nidentity: {len(stats)} tenants, {len(events)} events, {len(rows)} findings, "
          f"{sum(a.id == b.id for a, b in zip(rows, whole.findings))} equal ids")
    res.unpersist()


def test_as_of_is_required(spark):
    df = spark.createDataFrame([("e1", "site.registered", "2026-01-05T08:00:00+08:00")], "id string, kind string, ts string")
    with pytest.raises(hrguard.InvalidArgumentError, match=r"^as_of: required"):
        hrguard.spark.scan(df, "sales", as_of=None)


def test_a_ruleset_shipped_under_other_versions_is_refused_on_the_executors(spark):
    spec = json.loads(hrguard.ship_ruleset("sales").to_json())
    spec["content"]["environment"]["scikit-learn"] = "0.0.1"
    spec["fingerprint"] = "f" * 64
    df = spark.createDataFrame(as_table(tenant_events(300, 2)))
    res = hrguard.spark.scan(df, hrguard.ShippedRuleset(spec), as_of=0, cache=False)
    with pytest.raises(Exception) as exc:  # a PythonException from the executor, naming the hrguard error
        res.findings.collect()
    assert "RulesetMismatchError" in str(exc.value) and "environment.scikit-learn: '0.0.1' != '" in str(exc.value)
