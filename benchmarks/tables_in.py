"""Tables in: how fast hrguard reads events from a DataFrame, a pyarrow Table or a Parquet file, against
the same events in JSON Lines.

    python benchmarks/tables_in.py                          # 1M events, 2 runs a mode (~6 min)
    python benchmarks/tables_in.py --events 100000 --repeat 3 --out /tmp/t.json

The log is ``gen_events.py``'s (cached in ``benchmarks/data/`` as ``throughput.py`` caches it); its
Parquet twin is written once next to it the way a data team would hold it: every field a column,
``ts`` a timezone-aware timestamp, ``amount`` text, nested plan items and photos as lists of structs.

Each mode runs in a fresh subprocess (``--repeat`` times; medians): the input is loaded first and
not timed (``pandas``: ``pd.read_parquet``, ``polars``: ``pl.read_parquet``, ``arrow``:
``pq.read_table``; ``jsonl`` and ``parquet`` are paths, read inside the timed part), then

- ``ingest``: ``engine.intake().frame(obj)``, reading, validation, the duplicate rule and columns,
  the part of a scan the input's form changes; events/s (wall and CPU) and the memory it took:
  peak RSS (``VmHWM``) minus the RSS before, so a DataFrame the caller already holds is not counted;
- ``scan``: the whole ``hrguard.scan(obj, "sales")``, its events/s and the finding count (which
  must be the same in every mode: the script fails otherwise).

Prints a table with each mode's ratios to ``jsonl`` and writes ``benchmarks/results/tables_in.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from throughput import _mem, _status_kb, _versions, ensure_data  # noqa: E402

MODES = ("jsonl", "parquet", "arrow", "polars", "pandas")


def parquet_twin(jsonl: Path) -> Path:
    """The same events as a Parquet file, written once (from pandas, as a data team would)."""
    path = jsonl.with_suffix(".parquet")
    if path.exists() and path.stat().st_mtime >= jsonl.stat().st_mtime:
        return path
    import orjson
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(jsonl, "rb") as fh:
        df = pd.DataFrame.from_records([orjson.loads(line) for line in fh if line.strip()])
    df["ts"] = pd.to_datetime(df["ts"], format="ISO8601", utc=True).dt.tz_convert("Asia/Shanghai")
    df["amount"] = df["amount"].map(lambda v: None if v is None or v != v else str(v))  # money as text
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=128 * 1024)
    return path


def load(mode: str, jsonl: str, parquet: str) -> Any:
    if mode == "jsonl":
        return jsonl
    if mode == "parquet":
        return parquet
    if mode == "pandas":
        import pandas as pd

        return pd.read_parquet(parquet)
    if mode == "polars":
        import polars as pl

        return pl.read_parquet(parquet)
    import pyarrow.parquet as pq

    return pq.read_table(parquet)


def work(part: str, mode: str, jsonl: str, parquet: str) -> dict[str, Any]:
    import gc

    import hrguard

    obj = load(mode, jsonl, parquet)
    engine = hrguard.default_engine()
    ruleset = hrguard.load_ruleset("sales")
    engine.schema  # built before timing, as a long-lived process has it
    gc.collect()
    before = _status_kb("VmRSS") or 0
    t0, c0 = time.perf_counter(), time.process_time()
    if part == "ingest":
        intake = engine.intake()
        frame = intake.frame(obj)
        n, stats, found = len(frame), intake.stats, None
    else:
        res = hrguard.scan(obj, ruleset)
        n, stats, found = res.stats.valid, res.stats, len(res.findings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    mem = _mem()
    return {"events": n, "received": stats.received, "rejected": stats.rejected, "findings": found,
            "wall_s": wall, "cpu_s": cpu, "rss_before_mb": before / 1024,
            "peak_mb": (mem["vmhwm_kb"] or mem["ru_maxrss_kb"]) / 1024,
            "extra_mb": ((mem["vmhwm_kb"] or mem["ru_maxrss_kb"]) - before) / 1024}


def run(part: str, mode: str, jsonl: Path, parquet: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps([part, mode, str(jsonl), str(parquet)])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
    if proc.returncode != 0:
        raise RuntimeError(f"{part} {mode} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--parts", default="ingest,scan")
    ap.add_argument("--out", default=str(HERE / "results" / "tables_in.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(work(*json.loads(args.worker))))
        return 0
    jsonl = ensure_data(args.events, args.seed)
    parquet = parquet_twin(jsonl)
    modes = args.modes.split(",")
    out: dict[str, Any] = {"events": args.events, "seed": args.seed, "repeat": args.repeat, "versions": _versions(),
                           "jsonl_mb": jsonl.stat().st_size / 1e6, "parquet_mb": parquet.stat().st_size / 1e6,
                           "parts": {}}
    for part in args.parts.split(","):
        rows: dict[str, Any] = {}
        for mode in modes:
            runs = [run(part, mode, jsonl, parquet) for _ in range(args.repeat)]
            wall = statistics.median(r["wall_s"] for r in runs)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            r0 = runs[0]
            rows[mode] = {"events": r0["events"], "rejected": r0["rejected"], "findings": r0["findings"],
                          "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                          "events_per_s": round(r0["events"] / wall), "events_per_cpu_s": round(r0["events"] / cpu),
                          "extra_mb": round(statistics.median(r["extra_mb"] for r in runs), 1),
                          "peak_mb": round(statistics.median(r["peak_mb"] for r in runs), 1),
                          "rss_before_mb": round(statistics.median(r["rss_before_mb"] for r in runs), 1),
                          "runs": runs}
            print(f"{part:6} {mode:8} {rows[mode]['events_per_s']:>9,} ev/s  cpu {cpu:6.2f} s  "
                  f"+{rows[mode]['extra_mb']:7.1f} MB", file=sys.stderr)
        base = rows.get("jsonl")
        if base:
            for mode, r in rows.items():
                r["speed_vs_jsonl"] = round(base["cpu_s"] / r["cpu_s"], 2)
                r["extra_memory_vs_jsonl"] = round(r["extra_mb"] / base["extra_mb"], 2) if base["extra_mb"] else None
        got = {(r["events"], r["rejected"], r["findings"]) for r in rows.values()}
        if len(got) != 1:
            raise SystemExit(f"{part}: the modes disagree: {got}")
        out["parts"][part] = rows
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"\n{args.events:,} events ({out['jsonl_mb']:.0f} MB JSONL, {out['parquet_mb']:.0f} MB Parquet)")
    print(f"{'part':6}  {'mode':8}  {'events/s':>10}  {'CPU s':>6}  {'x jsonl':>7}  {'extra MB':>8}  {'x jsonl':>7}")
    for part, rows in out["parts"].items():
        for mode, r in rows.items():
            mem = r.get("extra_memory_vs_jsonl")
            print(f"{part:6}  {mode:8}  {r['events_per_s']:>10,}  {r['cpu_s']:>6.2f}  {r.get('speed_vs_jsonl', 0):>7.2f}  "
                  f"{r['extra_mb']:>8.1f}  {mem if mem is not None else '-':>7}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
