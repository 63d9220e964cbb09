"""Memory of a long-running ``Stream``: is RSS flat once the longest horizon has passed? (issue 11)

    python benchmarks/stream_memory.py                                  # 2M events, 250 reps (~2.5 years)
    python benchmarks/stream_memory.py --events 300000 --reps 60 --every 50000   # a quick look

A generated log (``gen_events.py --reps``: a company of fixed size, so more events mean a longer history;
cached in ``benchmarks/data/``) is read line by line — never held whole — and pushed into
``Stream(ruleset, allowed_lateness, keep=False, sinks=[a counting sink])``, as a service would run it:
``advance_to`` at every local midnight (a host's daily timer, which also does the forest's work), the
findings handed to the sink and not kept.

Every ``--every`` events (after ``gc.collect()``) it prints the process's RSS (``VmRSS``), the CPU time so
far, and — with ``--breakdown`` — the size of each rule's saved state and of the remembered ids
(``len(dumps_state(...))``, what a checkpoint of that part would hold). At the end:

- RSS at each sample, and the **flatness**: the largest and smallest RSS after warm-up (``--warmup``, by
  default the half of the events — the stream must have passed the longest horizon: 400 days of ids)
  over their mean, to compare with the ±10% target;
- the floor: the RSS of the same process after ``import hrguard`` and the stream's construction;
- events per CPU second of pushing, as a ratio to parsing the same lines alone (``json.loads``), timed in
  the same run on the first 200,000 lines;
- JSON (``--out``, default ``benchmarks/results/stream-memory-N.json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _data(events: int, reps: int, seed: int) -> Path:
    import gen_events

    path = HERE / "data" / f"events-{events}-reps{reps}-seed{seed}.jsonl"
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        gen_events.write(path, events, seed, reps)
    return path


def _parse_floor(path: Path, n: int = 200_000) -> float:
    """Lines per CPU second of ``json.loads`` alone (the floor any stream pays)."""
    t = time.process_time()
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            json.loads(line)
    return n / max(time.process_time() - t, 1e-9)


def _breakdown(stream: Any) -> dict[str, int]:
    from hrguard.sdk.state import dumps_state

    out: dict[str, int] = {}
    for name in stream.tenants:
        t = stream._tenants[name or ""]  # noqa: SLF001 - a benchmark looks inside
        for inst in t.runner.instances.values():
            for rule, det in inst:
                out[rule.name] = out.get(rule.name, 0) + len(dumps_state(det.state_dict()))
        out["(remembered ids)"] = out.get("(remembered ids)", 0) + t.intake.judged.nbytes
        out["(held events)"] = out.get("(held events)", 0) + len(t.intake.held)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--reps", type=int, default=250, help="the company's size (default 250: ~2.5 years for 2M)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ruleset", default="sales")
    ap.add_argument("--lateness", default="15m", help="allowed_lateness (the log moves ~5%% of lines by up to 10 min)")
    ap.add_argument("--batch", type=int, default=1, help="Stream(batch=N) (1: judge at every push)")
    ap.add_argument("--every", type=int, default=250_000, help="sample every this many events")
    ap.add_argument("--warmup", type=float, default=0.5, help="share of the events before flatness is judged")
    ap.add_argument("--breakdown", action="store_true", help="also the saved size of each rule's state per sample")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    path = _data(args.events, args.reps, args.seed)
    floor_parse = _parse_floor(path)
    import hrguard
    from hrguard.sinks import CallbackSink

    released = [0]
    stream = hrguard.Stream(args.ruleset, args.lateness, keep=False, batch=args.batch,
                            sinks=[CallbackSink(lambda fs: released.__setitem__(0, released[0] + len(fs)))])
    gc.collect()
    floor_rss = _status_mb("VmRSS")
    print(f"floor (import + stream): {floor_rss} MB; json.loads alone: {floor_parse:,.0f} lines/CPU-s", flush=True)
    samples: list[dict[str, Any]] = []
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    next_midnight: datetime | None = None
    pushed = 0
    with open(path, "rb") as fh:
        for line in fh:
            ev = json.loads(line)
            ts = datetime.fromisoformat(ev["ts"])
            if next_midnight is None:
                next_midnight = datetime.combine(ts.date() + timedelta(days=1), datetime.min.time(), ts.tzinfo)
            while ts >= next_midnight:  # the host's daily timer
                stream.advance_to(next_midnight)
                next_midnight += timedelta(days=1)
            stream.push(ev)
            pushed += 1
            if pushed % args.every == 0 or pushed == args.events:
                gc.collect()
                sample = {"events": pushed, "rss_mb": _status_mb("VmRSS"),
                          "cpu_s": round(time.process_time() - cpu0, 1), "day": ts.date().isoformat(),
                          "findings": released[0]}
                if args.breakdown:
                    sample["state_bytes"] = _breakdown(stream)
                samples.append(sample)
                print(f"{pushed:>10,} events  {sample['day']}  RSS {sample['rss_mb']:>7} MB  "
                      f"CPU {sample['cpu_s']:>7} s  findings {released[0]:,}", flush=True)
                if args.breakdown:
                    print("    " + json.dumps({k: round(v / 1e6, 2) for k, v in sample["state_bytes"].items()}), flush=True)
            if pushed >= args.events:
                break
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    stats = stream.stats
    after = [s["rss_mb"] for s in samples if s["events"] > args.warmup * args.events]
    mean = sum(after) / len(after) if after else None
    flat = None if not after else {"min_mb": min(after), "max_mb": max(after), "mean_mb": round(mean, 1),
                                   "spread_pct": round(100 * (max(after) - min(after)) / mean, 1),
                                   "max_dev_pct": round(100 * max(abs(a - mean) for a in after) / mean, 1)}
    rate = pushed / max(cpu, 1e-9)
    result = {
        "benchmark": "stream_memory", "events": pushed, "reps": args.reps, "seed": args.seed, "ruleset": args.ruleset,
        "allowed_lateness": args.lateness, "batch": args.batch, "keep": False,
        "floor_rss_mb": floor_rss, "peak_rss_mb": _status_mb("VmHWM"), "samples": samples,
        "flat_after_warmup": flat, "warmup_share": args.warmup,
        "push_cpu_s": round(cpu, 1), "push_wall_s": round(wall, 1), "events_per_cpu_s": round(rate),
        "parse_only_lines_per_cpu_s": round(floor_parse), "ratio_to_parse_only": round(rate / floor_parse, 3),
        "stats": {"valid": stats.valid, "rejected": stats.rejected, "late": stats.late, "duplicates": stats.duplicates},
        "findings": released[0], "python": sys.version.split()[0], "hrguard": hrguard.__version__,
    }
    print(f"\npushed {pushed:,} in {cpu:,.0f} CPU s ({rate:,.0f} events/CPU-s, {rate / floor_parse:.3f}x json.loads alone); "
          f"valid {stats.valid:,}, late {stats.late:,}, rejected {stats.rejected:,}; findings {released[0]:,}")
    print(f"RSS: floor {floor_rss} MB, peak {result['peak_rss_mb']} MB")
    if flat:
        print(f"after warm-up ({args.warmup:.0%} of the events): RSS {flat['min_mb']}-{flat['max_mb']} MB, "
              f"largest deviation from the mean {flat['max_dev_pct']}% (target: within 10%)")
    out = Path(args.out) if args.out else RESULTS / f"stream-memory-{pushed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
