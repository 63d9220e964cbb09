"""hrguard on Spark in local mode: throughput at 1 and 2 executor cores, per-partition overhead, and the ratio to
one ``hrguard.scan`` of the same events in the same run (issue 15).

    python benchmarks/spark_scale.py --events 200000 --tenants 8 --out benchmarks/results/spark-scale.json

The events are ``gen_events.py --tenants`` (companies numbering their ids alike). Each Spark run starts its
own session (``local[1]``, then ``local[2]``), warms the Python workers with one untimed scan (their first
ruleset load imports scikit-learn), then times a scan whose findings are collected; the findings must be the
single-machine scan's, id for id. Per-partition overhead is the Spark wall time minus the slowest task's
hrguard time, over the number of tenant groups; ``sum(seconds)`` is the hrguard time inside the groups.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

import hrguard

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_events  # noqa: E402


def table(events: list[dict]) -> pa.Table:
    rows = [{**e, "amount": str(e["amount"])} if e.get("amount") is not None else e for e in events]
    return pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)


def spark_run(master: str, tbl: pa.Table, as_of: float, want: list[str]) -> dict:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import hrguard.spark

    t0 = time.perf_counter()
    spark = (SparkSession.builder.master(master).appName(f"hrguard-bench-{master}")
             .config("spark.sql.shuffle.partitions", "8").config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    session_s = time.perf_counter() - t0
    df = spark.createDataFrame(tbl).cache()
    df.count()
    shipped = hrguard.ship_ruleset("sales")
    t0 = time.perf_counter()
    warm = hrguard.spark.scan(df, shipped, as_of=as_of, cache=False)
    warm.findings.count()
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = hrguard.spark.scan(df, shipped, as_of=as_of, cache=False)
    ids = [r.id for r in res.findings.select("id").collect()]
    wall = time.perf_counter() - t0
    stats = [r.asDict() for r in hrguard.spark.scan(df, shipped, as_of=as_of, cache=False).stats.collect()]
    spark.stop()
    inside = sum(s["seconds"] for s in stats)
    cores = int(master.split("[")[1].rstrip("]"))
    return {"master": master, "session_start_s": round(session_s, 2), "first_scan_s": round(cold_s, 2),
            "wall_s": round(wall, 3), "events_per_s": round(tbl.num_rows / wall), "groups": len(stats),
            "hrguard_s_in_groups": round(inside, 3),
            "overhead_per_group_ms": round((wall - inside / cores) / len(stats) * 1000, 1),
            "same_ids": ids == want, "findings": len(ids)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--tenants", type=int, default=8)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    events = list(gen_events.generate_tenants(args.events, args.tenants, seed=1))
    as_of = max(hrguard.events.to_instant_us(e["ts"]) for e in events) / 1e6
    tbl = table(events)
    rs = hrguard.load_ruleset("sales")
    hrguard.scan(events[:2000], rs, as_of=as_of)  # warm: scikit-learn imported, as in the warmed workers
    t0 = time.perf_counter()
    whole = hrguard.scan(tbl, rs, as_of=as_of)
    single = time.perf_counter() - t0
    want = [f.id for f in whole.findings]
    out = {"events": len(events), "tenants": args.tenants, "findings": len(want),
           "single_machine": {"wall_s": round(single, 3), "events_per_s": round(len(events) / single)},
           "spark": [], "python": platform.python_version(), "cpus": os.cpu_count()}
    print(f"single machine hrguard.scan: {len(events):,} events, {len(want)} findings, {single:.2f} s, "
          f"{len(events) / single:,.0f} events/s")
    for master in ("local[1]", "local[2]"):
        r = spark_run(master, tbl, as_of, want)
        r["ratio_to_single"] = round(r["events_per_s"] / out["single_machine"]["events_per_s"], 3)
        out["spark"].append(r)
        print(f"{master}: {r['events_per_s']:,} events/s ({r['ratio_to_single']}x single), wall {r['wall_s']} s, "
              f"session {r['session_start_s']} s, first scan {r['first_scan_s']} s, "
              f"overhead {r['overhead_per_group_ms']} ms/group over {r['groups']} groups, same ids: {r['same_ids']}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
