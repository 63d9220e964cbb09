"""End-to-end throughput of ``hrguard.scan`` on generated event logs, against the JSON parse floor.

    python benchmarks/throughput.py                         # sizes 100000,1000000
    python benchmarks/throughput.py --sizes 100000 --repeat 5 --profile

For each size it generates (once, cached in ``benchmarks/data/``) a log with ``gen_events.py`` and
measures, each in a fresh subprocess so nothing is shared or warmed between runs:

- ``scan``: ``hrguard.scan(path, "sales")`` wall time (median of ``--repeat`` runs; import and engine
  start-up excluded), events/s, and peak RSS (``ru_maxrss`` / ``VmHWM``) next to the RSS just before
  the scan started;
- ``floor``: ``orjson.loads`` of every line of the same file, nothing else (what parsing alone costs);
- ``stages``: the scan's pipeline run by hand, one more stage per pass over the file, in CPU seconds
  (read+parse, validate, duplicate check + counting, columns, freeze = sort into a Frame, detectors,
  result);
- ``stream``: ``Stream.push`` latency per event (p50/p99/p99.9, µs) over ``--stream-events`` events
  taken after a warm-up prefix, in file order (``allowed_lateness="30m"``; the generator moves lines by
  up to 10 minutes) and sorted by time (``allowed_lateness="0s"``);
- with ``--profile``: a cProfile of the scan, top functions by cumulative and by own time, saved to
  ``benchmarks/results/profile-N.txt`` (the raw ``.pstats`` goes to ``benchmarks/data/``).

Prints a table and writes ``benchmarks/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"


# -- helpers used in workers ---------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _mem() -> dict[str, Any]:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        maxrss //= 1024  # bytes there, KiB on Linux
    return {"ru_maxrss_kb": maxrss, "vmhwm_kb": _status_kb("VmHWM"), "vmrss_kb": _status_kb("VmRSS")}


# -- workers (each runs in its own process) ------------------------------------------------------
class _GcTimer:
    """Total time spent in the cyclic garbage collector, per generation (via ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._t = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            g = info["generation"]
            self.seconds[g] += time.perf_counter() - self._t
            self.count[g] += 1


def work_scan(path: str) -> dict[str, Any]:
    import gc

    import hrguard

    engine = hrguard.default_engine()
    ruleset = engine.load_ruleset("sales")
    before = _mem()
    gct = _GcTimer()
    gc.callbacks.append(gct)
    t0, c0 = time.perf_counter(), time.process_time()
    result = hrguard.scan(path, ruleset)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.callbacks.remove(gct)
    s = result.summary()
    return {"seconds": secs, "cpu_seconds": cpu, "records": s["records"], "rejected": s["rejected"],
            "findings": s["findings"], "gc_seconds": sum(gct.seconds), "gc_seconds_by_gen": gct.seconds,
            "gc_collections": gct.count, "rss_before_kb": before["vmrss_kb"], **_mem()}


def work_floor(path: str) -> dict[str, Any]:
    import orjson

    loads = orjson.loads
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)
            n += 1
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        for _ in fh:
            pass
    read_secs = time.perf_counter() - t0
    return {"seconds": secs, "cpu_seconds": cpu, "records": n, "read_only_seconds": read_secs}


def work_stages(path: str) -> dict[str, Any]:
    """Engine.scan's pipeline, one stage more per pass over the file, in CPU seconds.

    No per-event timers: pass A only reads and parses, B also validates, C also runs the whole
    intake (duplicate check, counting), D is the scan itself with each of its block stages timed
    (freeze = sort into a Frame, detectors, result). A stage's cost is the difference between passes.
    """
    import gc

    import hrguard
    from hrguard.columns import ColumnBuilder, Interner
    from hrguard.engine import DEFAULT_CHUNK, Runner
    from hrguard.ingest import Intake, iter_records

    try:  # what Engine.scan uses for the duplicate rule (a row per id, compared only on a repeat)
        from hrguard.ingest import RowDeduplicator
    except ImportError:  # older engines: Intake's own default
        RowDeduplicator = None  # noqa: N806

    cpu = time.process_time
    engine = hrguard.default_engine()
    rs = engine.load_ruleset("sales")

    def new_intake(builder: Any) -> Any:
        return Intake(engine.kinds) if RowDeduplicator is None else Intake(engine.kinds, dedupe=RowDeduplicator(builder))

    def timed_pass(body) -> float:
        gc.collect()
        t = cpu()
        body()
        return cpu() - t

    def pass_a() -> None:
        for _ in iter_records(path):
            pass

    def pass_b() -> None:
        validate = Intake(engine.kinds).validator.validate
        for rec in iter_records(path):
            validate(rec)

    def pass_c() -> None:
        take = new_intake(ColumnBuilder(engine.layouts, Interner())).take
        for rec in iter_records(path):
            take(rec)

    a, b, c = timed_pass(pass_a), timed_pass(pass_b), timed_pass(pass_c)
    gc.collect()
    t0 = cpu()
    strings = Interner()
    builder = ColumnBuilder(engine.layouts, strings)
    intake = new_intake(builder)
    add = builder.add
    for ev in intake.take_all(iter_records(path)):
        add(ev)
    t1 = cpu()
    as_of = int(max(builder.ts))
    frame = builder.freeze(as_of=as_of)
    del builder
    t2 = cpu()
    runner = Runner(rs, strings)
    per_rule: dict[str, float] = {}
    try:  # time each rule instance's process() (single-tenant data: the instances of tenant null)
        for rule, det in runner._instances(-1):
            def timed_process(chunk, _orig=det.process, _name=rule.name):
                t = cpu()
                try:
                    return _orig(chunk)
                finally:
                    per_rule[_name] = per_rule.get(_name, 0.0) + cpu() - t
            det.process = timed_process
    except Exception as exc:  # an internal API moved: keep the totals
        per_rule = {"unavailable": repr(exc)}  # type: ignore[dict-item]
    for chunk in frame.chunks(DEFAULT_CHUNK, upto_last=as_of):
        runner.feed(chunk)
    t3 = cpu()
    res = runner.result(intake, as_of)
    t4 = cpu()
    return {
        "read_parse": a, "validate": b - a, "dedupe_count": c - b, "columns": (t1 - t0) - c,
        "freeze": t2 - t1, "detectors": t3 - t2, "result": t4 - t3, "total": t4 - t0,
        "findings": len(res.findings), "records": intake.stats.received, "detectors_by_rule": per_rule,
    }


def work_stream(path: str, n_events: int, warm: int, lateness: str, sort: bool) -> dict[str, Any]:
    import orjson

    import hrguard

    with open(path, "rb") as fh:
        lines = []
        for i, line in enumerate(fh):
            if i >= warm + n_events:
                break
            lines.append(line)
    events = [orjson.loads(x) for x in lines]
    if sort:
        events.sort(key=lambda e: e["ts"])  # one offset in the generated files: string order is time order
    stream = hrguard.default_engine().stream("sales", allowed_lateness=lateness)
    push = stream.push
    for e in events[:warm]:
        push(e)
    timed = events[warm:]
    lat = []
    pc = time.perf_counter_ns
    t0 = pc()
    for e in timed:
        t = pc()
        push(e)
        lat.append(pc() - t)
    total_ns = pc() - t0
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1000

    return {"events": len(timed), "warm": warm, "lateness": lateness, "sorted": sort,
            "p50_us": q(0.50), "p90_us": q(0.90), "p99_us": q(0.99), "p999_us": q(0.999), "max_us": lat[-1] / 1000,
            "mean_us": total_ns / len(timed) / 1000, "events_per_s": len(timed) / (total_ns / 1e9),
            "late_rejected": stream.stats.late, "findings": len(stream.findings)}


def work_profile(path: str, out_stem: str, top: int) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    import hrguard

    engine = hrguard.default_engine()
    ruleset = engine.load_ruleset("sales")
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    result = hrguard.scan(path, ruleset)
    prof.disable()
    secs = time.perf_counter() - t0
    DATA.mkdir(exist_ok=True)
    prof.dump_stats(DATA / (Path(out_stem).name + ".pstats"))  # binary: kept out of git with the data
    buf = io.StringIO()
    buf.write(f"cProfile of hrguard.scan({path!r}, 'sales'): {secs:.1f} s under the profiler, "
              f"{len(result.findings)} findings\n\n== top {top} by cumulative time ==\n")
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs().sort_stats("cumulative").print_stats(top)
    buf.write(f"\n== top {top} by own (total) time ==\n")
    st.sort_stats("tottime").print_stats(top)
    Path(out_stem + ".txt").write_text(buf.getvalue())
    return {"seconds_profiled": secs, "report": out_stem + ".txt"}


WORKERS = {"scan": work_scan, "floor": work_floor, "stages": work_stages, "stream": work_stream, "profile": work_profile}


# -- driver --------------------------------------------------------------------------------------
def run_worker(name: str, *args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, json.dumps(list(args))]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_data(n: int, seed: int) -> Path:
    """The cached log for ``(n, seed)``; its name carries a hash of the generator, so edits regenerate it."""
    gen_hash = hashlib.sha256((HERE / "gen_events.py").read_bytes()).hexdigest()[:8]
    path = DATA / f"events-{n}-s{seed}-{gen_hash}.jsonl"
    if not path.exists():
        sys.path.insert(0, str(HERE))
        import gen_events

        t0 = time.perf_counter()
        gen_events.write(path, n, seed)
        print(f"generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
    return path


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform(), "cpus": str(os.cpu_count())}
    for mod in ("hrguard", "numpy", "pydantic", "pydantic_core", "orjson"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", getattr(m, "VERSION", "?"))
        except ImportError:
            out[mod] = "-"
    return out


def bench_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    path = str(ensure_data(n, args.seed))
    size_mb = Path(path).stat().st_size / 1e6
    parts = set(args.parts.split(","))
    out: dict[str, Any] = {"events": n, "file_mb": round(size_mb, 1)}
    if "scan" in parts and "floor" in parts:
        out.update(_scan_and_floor(n, path, args))
    if "stages" in parts and not args.no_stages:
        print(f"[{n:,}] stages ...", file=sys.stderr, flush=True)
        out["stages"] = run_worker("stages", path)
    if "stream" in parts and args.stream_events:
        k = min(args.stream_events, n // 2)
        warm = min(n - k, max(k, n // 10))
        out["stream"] = []
        for lateness, srt in (("30m", False), ("0s", True)):
            print(f"[{n:,}] stream lateness={lateness} sorted={srt} ...", file=sys.stderr, flush=True)
            out["stream"].append(run_worker("stream", path, k, warm, lateness, srt))
    if args.profile:
        print(f"[{n:,}] profile ...", file=sys.stderr, flush=True)
        RESULTS.mkdir(exist_ok=True)
        out["profile"] = run_worker("profile", path, str(RESULTS / f"profile-{n}"), args.top)
    return out


def _scan_and_floor(n: int, path: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{n:,}] scan x{args.repeat} ...", file=sys.stderr, flush=True)
    scans = [run_worker("scan", path) for _ in range(args.repeat)]
    secs = statistics.median(s["seconds"] for s in scans)
    print(f"[{n:,}] floor ...", file=sys.stderr, flush=True)
    floors = [run_worker("floor", path) for _ in range(args.repeat)]
    floor_secs = statistics.median(f["seconds"] for f in floors)
    out: dict[str, Any] = {
        "scan": {"seconds_median": secs, "seconds_all": [s["seconds"] for s in scans],
                 "cpu_seconds_median": statistics.median(s["cpu_seconds"] for s in scans),
                 "gc_seconds_median": statistics.median(s["gc_seconds"] for s in scans),
                 "gc_collections": scans[0]["gc_collections"],
                 "events_per_s": n / secs,
                 "events_per_cpu_s": n / statistics.median(s["cpu_seconds"] for s in scans), "findings": scans[0]["findings"], "rejected": scans[0]["rejected"],
                 "peak_rss_mb": max(s["ru_maxrss_kb"] for s in scans) / 1024,
                 "vmhwm_mb": max((s["vmhwm_kb"] or 0) for s in scans) / 1024,
                 "rss_before_scan_mb": statistics.median(s["rss_before_kb"] or 0 for s in scans) / 1024},
        "floor": {"seconds_median": floor_secs, "events_per_s": n / floor_secs,
                  "events_per_cpu_s": n / statistics.median(f["cpu_seconds"] for f in floors),
                  "read_only_seconds": statistics.median(f["read_only_seconds"] for f in floors)},
    }
    out["floor_ratio"] = out["floor"]["events_per_s"] / out["scan"]["events_per_s"]
    out["floor_ratio_cpu"] = out["floor"]["events_per_cpu_s"] / out["scan"]["events_per_cpu_s"]
    return out


def render(results: list[dict[str, Any]]) -> str:
    lines = []
    hdr = f"{'events':>10} {'MB':>6} {'scan s':>8} {'cpu s':>7} {'gc s':>6} {'events/s':>10} {'ev/cpu s':>9} {'peak RSS MB':>12} " \
          f"{'(before)':>9} {'floor ev/s':>11} {'floor/scan':>10} {'(cpu)':>6} {'findings':>9}"
    if any("scan" in r for r in results):
        lines += [hdr, "-" * len(hdr)]
    for r in results:
        if "scan" not in r:
            continue
        s, f = r["scan"], r["floor"]
        lines.append(f"{r['events']:>10,} {r['file_mb']:>6.0f} {s['seconds_median']:>8.2f} {s['cpu_seconds_median']:>7.2f} "
                     f"{s['gc_seconds_median']:>6.2f} {s['events_per_s']:>10,.0f} {s.get('events_per_cpu_s', 0):>9,.0f} "
                     f"{s['peak_rss_mb']:>12.0f} {s['rss_before_scan_mb']:>9.0f} {f['events_per_s']:>11,.0f} "
                     f"{r['floor_ratio']:>9.1f}x {r.get('floor_ratio_cpu', 0):>5.1f}x {s['findings']:>9,}")
    if any("stages" in r for r in results):
        keys = ("read_parse", "validate", "dedupe_count", "columns", "freeze", "detectors", "result", "total")
        lines += ["", "stages (CPU seconds; differences between passes that each add one stage)",
                  f"{'events':>10} " + " ".join(f"{k:>12}" for k in keys)]
        for r in results:
            st = r.get("stages")
            if st:
                lines.append(f"{r['events']:>10,} " + " ".join(f"{st[k]:>12.2f}" for k in keys))
                lines.append(f"{'us/event':>10} " + " ".join(f"{st[k] / r['events'] * 1e6:>12.2f}" for k in keys))
                by_rule = st.get("detectors_by_rule") or {}
                if by_rule and "unavailable" not in by_rule:
                    ranked = sorted(by_rule.items(), key=lambda kv: -kv[1])
                    lines.append(f"{'':>10} detectors: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
    if any("stream" in r for r in results):
        lines += ["", "Stream.push latency (µs per event)",
                  f"{'events':>10} {'order':>22} {'timed':>6} {'p50':>7} {'p90':>7} {'p99':>8} {'p99.9':>8} {'max':>9} {'ev/s':>9} {'late':>5}"]
        for r in results:
            for s in r.get("stream", []):
                order = f"{'ts-sorted' if s['sorted'] else 'file'}, lateness {s['lateness']}"
                lines.append(f"{r['events']:>10,} {order:>22} {s['events']:>6} {s['p50_us']:>7.1f} {s['p90_us']:>7.1f} "
                             f"{s['p99_us']:>8.1f} {s['p999_us']:>8.1f} {s['max_us']:>9.0f} {s['events_per_s']:>9,.0f} "
                             f"{s['late_rejected']:>5}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated event counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="scan/floor runs per size (median reported)")
    ap.add_argument("--stream-events", type=int, default=20_000, help="events timed in Stream.push (0 skips)")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage breakdown")
    ap.add_argument("--parts", default="scan,floor,stages,stream",
                    help="which measurements to run (scan,floor,stages,stream; --profile adds profile)")
    ap.add_argument("--profile", action="store_true", help="also cProfile each scan")
    ap.add_argument("--top", type=int, default=15, help="functions listed per profile table")
    ap.add_argument("--out", default=str(RESULTS / "throughput.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("worker_args", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](*json.loads(args.worker_args))))
        return 0
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = [bench_size(n, args) for n in sizes]
    print(render(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seed": args.seed, "repeat": args.repeat,
           "loadavg_at_end": os.getloadavg(), "versions": _versions(), "results": results}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
