"""End-to-end throughput of ``hrguard.scan`` on generated event logs, against two references.

    python benchmarks/throughput.py                                  # 100k, 1M, 10M (~40 min)
    python benchmarks/throughput.py --sizes 100000 --repeat 5 --profile

For each size it generates (once, cached in ``benchmarks/data/``) a log with ``gen_events.py`` and
measures, each in a fresh subprocess so nothing is shared or warmed between runs:

- ``scan``: ``hrguard.scan(path, "sales")`` (the plain batch scan, which holds every event's columns;
  sizes up to ``--plain-max``), wall and CPU seconds (median of ``--repeat`` runs; import and engine
  start-up excluded), events/s, peak RSS (``ru_maxrss`` / ``VmHWM``) next to the RSS before the scan;
- ``bounded``: the same scan with ``max_disorder`` (``--max-disorder``, default ``1d``): memory
  bounded by the detectors' state; its RSS is also sampled as it goes (events read, RSS, findings);
- ``floor``: ``orjson.loads`` of every line of the same file, nothing else (what parsing alone costs);
- ``reference``: ``benchmarks/reference.py``, a straightforward per-event pure-Python
  ``geofence.mismatch`` + ``followup.stall`` (what a user would write by hand), with the sales
  ruleset's parameters; its findings are compared one by one (finding ids) with hrguard's for the
  same two rules;
- ``stages``: the plain scan's pipeline run by hand, in CPU seconds (read = the file's lines; ingest =
  parsing, validation, duplicate check and columns; their sum, the whole intake; freeze = sort into a
  Frame; detectors, with each rule's share; result);
- ``stream``: ``Stream.push`` latency per event (p50/p90/p99/p99.9, µs, both wall-clock and the
  thread's CPU time, which a busy machine's preemptions do not inflate) over ``--stream-events``
  events taken after a warm-up prefix, in file order (``allowed_lateness="30m"``; the generator moves
  lines by up to 10 minutes) and sorted by time (``allowed_lateness="0s"``);
- ``peer`` (only when named in ``--parts``; needs polars): ``peer_polars.py``, hrguard with only
  ``geofence.mismatch`` + ``followup.stall`` against a polars implementation of them, ids checked;
- with ``--profile``: a cProfile of the scan, top functions by cumulative and by own time, saved to
  ``benchmarks/results/profile-N.txt`` (the raw ``.pstats`` goes to ``benchmarks/data/``).

Prints a table and writes ``benchmarks/results/throughput.json``. hrguard's ratios: ``x floor`` is
how many times the parse floor's time hrguard takes (target <= 2.5); ``vs reference`` how many
times faster hrguard runs ten rules than the hand-written loop runs two.
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
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
TWO_RULES = ("geofence.mismatch", "followup.stall")
RULESET = os.environ.get("HRGUARD_BENCH_RULESET", "sales")  # --ruleset, passed to the workers


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


class _RssSampler(threading.Thread):
    """Samples ``(seconds, events read, RSS MB, findings)`` every ``every`` seconds while a scan runs."""

    def __init__(self, progress: Any, every: float = 1.0):
        super().__init__(daemon=True)
        self.progress, self.every = progress, every
        self.samples: list[tuple[float, int, float, int]] = []
        self._halt = threading.Event()
        self._t0 = time.perf_counter()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            read, found = self.progress()
            self.samples.append((round(time.perf_counter() - self._t0, 1), read, (_status_kb("VmRSS") or 0) / 1024,
                                 found))

    def stop(self, keep: int = 40) -> list[tuple[float, int, float, int]]:
        self._halt.set()
        self.join()
        s = self.samples
        step = max(1, len(s) // keep)
        return s[::step] + ([s[-1]] if s and (len(s) - 1) % step else [])


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


def _two_rule_ids(findings: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {r: [] for r in TWO_RULES}
    for f in findings:
        if f.rule in out:
            out[f.rule].append(f.id)
    return out


# -- workers (each runs in its own process) ------------------------------------------------------
def work_scan(path: str, max_disorder: str | None = None) -> dict[str, Any]:
    import gc

    import hrguard

    engine = hrguard.default_engine()
    ruleset = engine.load_ruleset(RULESET)
    before = _mem()
    gct = _GcTimer()
    gc.callbacks.append(gct)
    bounded = None
    if max_disorder:
        from hrguard.engine import BoundedScan

        bounded = BoundedScan(engine, ruleset, max_disorder)
    sampler = None
    if bounded is not None:
        sampler = _RssSampler(lambda: (bounded.intake.stats.received, len(bounded.runner.findings)))
        sampler.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = bounded.run(path) if bounded is not None else hrguard.scan(path, ruleset)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.callbacks.remove(gct)
    s = result.summary()
    out = {"seconds": secs, "cpu_seconds": cpu, "records": s["records"], "rejected": s["rejected"],
           "late": result.stats.late, "findings": s["findings"], "gc_seconds": sum(gct.seconds),
           "gc_seconds_by_gen": gct.seconds, "gc_collections": gct.count, "rss_before_kb": before["vmrss_kb"],
           "two_rules": _two_rule_ids(result.findings), "rules": [r.name for r in ruleset.rules], **_mem()}
    if bounded is not None:
        out.update(max_disorder=max_disorder, releases=bounded.releases, peak_window_events=bounded.peak_window,
                   seen_id_bytes=bounded.seen.nbytes, rss_samples=sampler.stop() if sampler else [])
    return out


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
    return {"seconds": secs, "cpu_seconds": cpu, "records": n, "read_only_seconds": read_secs, **_mem()}


def work_reference(path: str) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import reference

    import hrguard
    from hrguard.findings import finding_id

    kw = reference.params_from_ruleset(hrguard.default_engine().load_ruleset(RULESET))
    t0, c0 = time.perf_counter(), time.process_time()
    out = reference.scan_reference(path, **kw)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    ids: dict[str, list[str]] = {r: [] for r in TWO_RULES}
    for rule, t, subject in out["findings"]:  # the ids hrguard gives the same findings (spec: stable ids)
        subj = subject if isinstance(subject, tuple) else (subject,)
        ids[rule].append(finding_id(rule, subj, int(round(t * 1e6))))
    return {"seconds": secs, "cpu_seconds": cpu, "records": out["events"], "late_skipped": out["late"],
            "counts": out["counts"], "two_rules": ids, "params": kw, **_mem()}
def work_stages(path: str) -> dict[str, Any]:
    """Engine.scan's pipeline by stage, in CPU seconds.

    No per-event timers: pass A only reads the file's lines in blocks (the intake's reader); pass B is
    the scan itself with each stage timed: ingest (parse, validation, duplicate check and columns
    through hrguard.intake, minus pass A's reading), freeze (sort into a Frame), detectors, result.
    ``intake`` is read + parse + validate + columns: pass B's first stage as a whole.
    """
    import gc

    import hrguard
    from hrguard.engine import DEFAULT_CHUNK, Runner
    from hrguard.engine import GcFreezer as _GcFreezer
    from hrguard.ingest import read_blocks
    from hrguard.ingest import Intake

    cpu = time.process_time
    engine = hrguard.default_engine()
    rs = engine.load_ruleset(RULESET)
    engine.schema  # the fast path is generated once per engine (engine start-up, as the ruleset is)

    def timed_pass(body) -> float:
        gc.collect()
        t = cpu()
        body()
        return cpu() - t

    def pass_a() -> None:
        for _ in read_blocks(path):
            pass

    a = timed_pass(pass_a)
    gc.collect()
    t0 = cpu()
    intake = Intake(engine)
    gcf = _GcFreezer().__enter__()  # as Engine.scan does (left at the end of the run)
    for block in intake.read(path):
        gcf.tick(len(block.values))
    t1 = cpu()
    frame = intake.release_all()
    as_of = int(frame.ts[-1])
    gcf.freeze()
    t2 = cpu()
    runner = Runner(rs, intake.strings)
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
    gcf.__exit__(None, None, None)
    return {
        "read_parse": a, "ingest": (t1 - t0) - a, "intake": t1 - t0, "fast_rows": intake.fast_rows,
        "freeze": t2 - t1, "detectors": t3 - t2, "result": t4 - t3, "total": t4 - t0,
        "findings": len(res.findings), "records": intake.stats.received, "detectors_by_rule": per_rule,
    }


def work_stream(path: str, n_events: int, warm: int, lateness: str, sort: bool, batch: int = 1) -> dict[str, Any]:
    """``Stream.push`` latency: wall-clock and the thread's CPU time per push, over ``n_events`` pushes."""
    import orjson

    import hrguard

    with open(path, "rb") as fh:
        lines = []
        for i, line in enumerate(fh):
            if i >= warm + n_events:
                break
            lines.append(line)
    events = [orjson.loads(x) for x in lines]
    del lines
    if sort:
        events.sort(key=lambda e: e["ts"])  # one offset in the generated files: string order is time order
    stream = hrguard.default_engine().stream(RULESET, allowed_lateness=lateness,
                                             **({"batch": batch} if batch != 1 else {}))
    push = stream.push
    for e in events[:warm]:
        push(e)
    timed = events[warm:]
    wall, cpu = [], []
    pc, tc = time.perf_counter_ns, time.thread_time_ns
    t0, c0 = pc(), tc()
    for e in timed:
        t, c = pc(), tc()
        push(e)
        cpu.append(tc() - c)
        wall.append(pc() - t)
    total_ns, total_cpu_ns = pc() - t0, tc() - c0
    wall.sort()
    cpu.sort()

    def q(lat: list[int], p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] / 1000

    return {"events": len(timed), "warm": warm, "lateness": lateness, "sorted": sort, "batch": batch,
            "p50_us": q(wall, 0.50), "p90_us": q(wall, 0.90), "p99_us": q(wall, 0.99), "p999_us": q(wall, 0.999),
            "max_us": wall[-1] / 1000, "mean_us": total_ns / len(timed) / 1000,
            "cpu_p50_us": q(cpu, 0.50), "cpu_p90_us": q(cpu, 0.90), "cpu_p99_us": q(cpu, 0.99),
            "cpu_p999_us": q(cpu, 0.999), "cpu_max_us": cpu[-1] / 1000, "cpu_mean_us": total_cpu_ns / len(timed) / 1000,
            "events_per_s": len(timed) / (total_ns / 1e9), "events_per_cpu_s": len(timed) / (total_cpu_ns / 1e9),
            "late_rejected": stream.stats.late, "findings": len(stream.findings)}


def work_profile(path: str, out_stem: str, top: int) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    import hrguard

    engine = hrguard.default_engine()
    ruleset = engine.load_ruleset(RULESET)
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


WORKERS = {"scan": work_scan, "floor": work_floor, "reference": work_reference, "stages": work_stages,
           "stream": work_stream, "profile": work_profile}


# -- driver --------------------------------------------------------------------------------------
def run_worker(name: str, *args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, json.dumps(list(args))]
    env = dict(os.environ, PYTHONHASHSEED="0", HRGUARD_BENCH_RULESET=RULESET)
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
    try:
        with open("/proc/cpuinfo") as fh:
            out["cpu"] = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    except OSError:
        pass
    try:
        out["memory_gb"] = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f}"
    except (ValueError, OSError):
        pass
    for mod in ("hrguard", "numpy", "pydantic", "pydantic_core", "orjson"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", getattr(m, "VERSION", "?"))
        except ImportError:
            out[mod] = "-"
    try:
        out["git"] = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True,
                                    text=True).stdout.strip()
    except OSError:
        pass
    return out


def _without(ruleset: str, detectors: list[str]) -> str:
    """A copy of ``ruleset`` (YAML, written to ``benchmarks/data/``) without the rules using ``detectors``."""
    import yaml

    import hrguard

    path = Path(ruleset)
    if not path.is_file():
        path = Path(hrguard.__file__).parent / "rulesets" / f"{ruleset}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["rules"] = [r for r in doc["rules"] if r.get("use") not in detectors]
    doc["ruleset"] = f"{doc['ruleset']}-without-{'-'.join(detectors)}"
    DATA.mkdir(exist_ok=True)
    out = DATA / f"{doc['ruleset']}.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(out)


def _rules() -> list[str]:
    import hrguard

    return [f"{r.name} ({r.use})" if r.name != r.use else r.name
            for r in hrguard.default_engine().load_ruleset(RULESET).rules]


def _summarise(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    secs = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    out = {"runs": len(runs), "seconds_median": secs, "seconds_all": [r["seconds"] for r in runs],
           "cpu_seconds_median": cpu, "events_per_s": n / secs, "events_per_cpu_s": n / cpu}
    if "ru_maxrss_kb" in runs[0]:
        out["peak_rss_mb"] = max(r["ru_maxrss_kb"] for r in runs) / 1024
    return out


def _scan_part(n: int, path: str, args: argparse.Namespace, max_disorder: str | None,
               repeat: int) -> tuple[dict[str, Any], dict[str, list[str]]]:
    what = f"bounded scan (max_disorder {max_disorder})" if max_disorder else "scan"
    print(f"[{n:,}] {what} x{repeat} ...", file=sys.stderr, flush=True)
    runs = [run_worker("scan", path, max_disorder) for _ in range(repeat)]
    out = _summarise(runs, n)
    first = runs[0]
    out.update(findings=first["findings"], rejected=first["rejected"], late=first["late"],
               gc_seconds_median=statistics.median(r["gc_seconds"] for r in runs),
               gc_collections=first["gc_collections"],
               vmhwm_mb=max((r["vmhwm_kb"] or 0) for r in runs) / 1024,
               rss_before_scan_mb=statistics.median(r["rss_before_kb"] or 0 for r in runs) / 1024,
               two_rules={k: len(v) for k, v in first["two_rules"].items()})
    for key in ("max_disorder", "releases", "peak_window_events", "seen_id_bytes", "rss_samples"):
        if key in first:
            out[key] = first[key]
    return out, first["two_rules"]


def bench_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    path = str(ensure_data(n, args.seed))
    size_mb = Path(path).stat().st_size / 1e6
    parts = set(args.parts.split(","))
    large = n > args.plain_max
    repeat = args.repeat_large if large else args.repeat
    out: dict[str, Any] = {"events": n, "file_mb": round(size_mb, 1)}
    ids: dict[str, list[str]] | None = None
    if "scan" in parts and not large:
        out["scan"], ids = _scan_part(n, path, args, None, repeat)
    if "bounded" in parts and args.max_disorder:
        out["bounded"], b_ids = _scan_part(n, path, args, args.max_disorder, repeat)
        if ids is not None and b_ids != ids:
            print(f"[{n:,}] WARNING: the bounded scan's findings for {TWO_RULES} differ from the plain scan's",
                  file=sys.stderr)
        ids = ids or b_ids
        out["bounded"]["same_findings_as_plain"] = None if "scan" not in out else (
            out["bounded"]["findings"] == out["scan"]["findings"] and b_ids == ids)
    if "floor" in parts:
        print(f"[{n:,}] floor x{repeat} ...", file=sys.stderr, flush=True)
        floors = [run_worker("floor", path) for _ in range(repeat)]
        out["floor"] = _summarise(floors, n)
        out["floor"]["read_only_seconds"] = statistics.median(f["read_only_seconds"] for f in floors)
    if "reference" in parts:
        print(f"[{n:,}] reference x{repeat} ...", file=sys.stderr, flush=True)
        refs = [run_worker("reference", path) for _ in range(repeat)]
        out["reference"] = _summarise(refs, n)
        out["reference"].update(counts=refs[0]["counts"], late_skipped=refs[0]["late_skipped"], params=refs[0]["params"])
        if ids is not None:
            cmp = {}
            for rule in TWO_RULES:
                mine, theirs = set(ids[rule]), set(refs[0]["two_rules"][rule])
                cmp[rule] = {"hrguard": len(mine), "reference": len(theirs), "only_hrguard": len(mine - theirs),
                             "only_reference": len(theirs - mine)}
            out["reference"]["comparison"] = cmp
            same = all(c["only_hrguard"] == 0 == c["only_reference"] for c in cmp.values())
            out["reference"]["same_findings"] = same
            print(f"[{n:,}] reference vs hrguard, {TWO_RULES[0]} + {TWO_RULES[1]}: " + "; ".join(
                f"{r} {c['hrguard']} vs {c['reference']}" for r, c in cmp.items())
                + (" (the same findings, id for id)" if same else " -- DIFFERENT"), file=sys.stderr)
    if "peer" in parts:  # not a default part: needs polars (the bench extra)
        sys.path.insert(0, str(HERE))
        import peer_polars

        print(f"[{n:,}] polars peer (benchmarks/peer_polars.py) x{repeat} ...", file=sys.stderr, flush=True)
        out["peer_polars"] = peer_polars.bench_size(n, path, peer_polars.two_rule_ruleset(RULESET), repeat, args.seed)
        peer_polars.check(out["peer_polars"])
    _ratios(out)
    if "stages" in parts and not args.no_stages and not large:
        print(f"[{n:,}] stages ...", file=sys.stderr, flush=True)
        out["stages"] = run_worker("stages", path)
    if "stream" in parts and args.stream_events:
        k = min(args.stream_events, n // 2)
        warm = min(n - k, max(k, n // 10), args.stream_warm_max)
        out["stream"] = []
        for lateness, srt in (("30m", False), ("0s", True)):
            print(f"[{n:,}] stream lateness={lateness} sorted={srt} ...", file=sys.stderr, flush=True)
            extra = [args.stream_batch] if args.stream_batch != 1 else []
            out["stream"].append(run_worker("stream", path, k, warm, lateness, srt, *extra))
    if args.profile and not large:
        print(f"[{n:,}] profile ...", file=sys.stderr, flush=True)
        RESULTS.mkdir(exist_ok=True)
        out["profile"] = run_worker("profile", path, str(RESULTS / f"profile-{n}"), args.top)
    return out


def _ratios(r: dict[str, Any]) -> None:
    """hrguard (the plain scan where measured, else the bounded one) against the floor and the reference."""
    main = r.get("scan") or r.get("bounded")
    if not main:
        return
    r["headline"] = "scan" if "scan" in r else "bounded"
    if "floor" in r:
        r["floor_ratio"] = main["seconds_median"] / r["floor"]["seconds_median"]
        r["floor_ratio_cpu"] = main["cpu_seconds_median"] / r["floor"]["cpu_seconds_median"]
    if "reference" in r:
        r["reference_speedup"] = r["reference"]["seconds_median"] / main["seconds_median"]
        r["reference_speedup_cpu"] = r["reference"]["cpu_seconds_median"] / main["cpu_seconds_median"]
    if "bounded" in r and "floor" in r:
        r["bounded"]["floor_ratio_cpu"] = r["bounded"]["cpu_seconds_median"] / r["floor"]["cpu_seconds_median"]


def render(results: list[dict[str, Any]]) -> str:
    lines = []
    hdr = (f"{'events':>10} {'MB':>5} {'mode':>12} {'wall s':>8} {'cpu s':>8} {'ev/s':>9} {'ev/cpu-s':>9} "
           f"{'peak RSS MB':>11} {'findings':>9} {'x floor (cpu)':>13} {'vs ref (cpu)':>12}")
    lines += [hdr, "-" * len(hdr)]
    for r in results:
        for mode in ("scan", "bounded"):
            s = r.get(mode)
            if not s:
                continue
            label = "plain" if mode == "scan" else f"bounded {s.get('max_disorder', '')}"
            xf = s["cpu_seconds_median"] / r["floor"]["cpu_seconds_median"] if "floor" in r else float("nan")
            xr = r["reference"]["cpu_seconds_median"] / s["cpu_seconds_median"] if "reference" in r else float("nan")
            lines.append(f"{r['events']:>10,} {r['file_mb']:>5.0f} {label:>12} {s['seconds_median']:>8.1f} "
                         f"{s['cpu_seconds_median']:>8.1f} {s['events_per_s']:>9,.0f} {s['events_per_cpu_s']:>9,.0f} "
                         f"{s['peak_rss_mb']:>11,.0f} {s['findings']:>9,} {xf:>12.1f}x {xr:>11.1f}x")
        for mode, label in (("floor", "orjson floor"), ("reference", "reference")):
            s = r.get(mode)
            if s:
                extra = ""
                if mode == "reference":
                    c = s.get("comparison") or {}
                    extra = "  " + ", ".join(f"{k} {v['reference']}" for k, v in c.items()) + (
                        " (= hrguard)" if s.get("same_findings") else " (differs)" if c else "")
                lines.append(f"{r['events']:>10,} {r['file_mb']:>5.0f} {label:>12} {s['seconds_median']:>8.1f} "
                             f"{s['cpu_seconds_median']:>8.1f} {s['events_per_s']:>9,.0f} {s['events_per_cpu_s']:>9,.0f} "
                             f"{s['peak_rss_mb']:>11,.0f}{extra}")
    if any("stages" in r for r in results):
        keys = ("read_parse", "ingest", "intake", "freeze", "detectors", "result", "total")
        lines += ["", "stages of the plain scan (CPU seconds; differences between passes that each add one stage)",
                  f"{'events':>10} " + " ".join(f"{k:>12}" for k in keys)]
        for r in results:
            st = r.get("stages")
            if st:
                lines.append(f"{r['events']:>10,} " + " ".join(f"{st.get(k, float('nan')):>12.2f}" for k in keys))
                lines.append(f"{'us/event':>10} " + " ".join(f"{st.get(k, float('nan')) / r['events'] * 1e6:>12.2f}" for k in keys))
                by_rule = st.get("detectors_by_rule") or {}
                if by_rule and "unavailable" not in by_rule:
                    ranked = sorted(by_rule.items(), key=lambda kv: -kv[1])
                    lines.append(f"{'':>10} detectors: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
    if any("peer_polars" in r for r in results):
        import peer_polars

        lines += ["", "hrguard with only geofence.mismatch + followup.stall against the polars peer (peer_polars.py)",
                  peer_polars.render([r["peer_polars"] for r in results if "peer_polars" in r])]
    if any("stream" in r for r in results):
        lines += ["", "Stream.push latency (µs per event; wall-clock, and the thread's CPU time)",
                  f"{'events':>10} {'order':>22} {'timed':>6} {'p50':>7} {'p90':>7} {'p99':>8} {'p99.9':>8} "
                  f"{'cpu p50':>8} {'cpu p99':>8} {'ev/cpu-s':>9} {'late':>5}"]
        for r in results:
            for s in r.get("stream", []):
                order = f"{'ts-sorted' if s['sorted'] else 'file'}, lateness {s['lateness']}"
                lines.append(f"{r['events']:>10,} {order:>22} {s['events']:>6} {s['p50_us']:>7.1f} {s['p90_us']:>7.1f} "
                             f"{s['p99_us']:>8.1f} {s['p999_us']:>8.1f} {s.get('cpu_p50_us', 0):>8.1f} "
                             f"{s.get('cpu_p99_us', 0):>8.1f} {s.get('events_per_cpu_s', 0):>9,.0f} {s['late_rejected']:>5}")
    if any((r.get("bounded") or {}).get("rss_samples") for r in results):
        lines += ["", "bounded scan: RSS as it goes (events read -> RSS MB, findings so far)"]
        for r in results:
            smp = (r.get("bounded") or {}).get("rss_samples") or []
            if smp:
                pick = smp[:: max(1, len(smp) // 8)]
                lines.append(f"{r['events']:>10,} " + "  ".join(f"{s[1]:,}->{s[2]:.0f} ({s[3]:,})" for s in pick))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    global RULESET
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated event counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ruleset", default=RULESET, help="bundled name or path (default: sales, the default ruleset)")
    ap.add_argument("--without", default="", metavar="DETECTOR,...",
                    help="leave these detectors' rules out of the ruleset (e.g. outlier.isolation_forest)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement per size (median reported)")
    ap.add_argument("--repeat-large", type=int, default=1, help="runs per measurement for sizes above --plain-max")
    ap.add_argument("--plain-max", type=int, default=1_000_000,
                    help="largest size scanned in plain (hold everything) mode; larger sizes only bounded")
    ap.add_argument("--max-disorder", default="1d", help="the bounded scan's max_disorder ('' skips it)")
    ap.add_argument("--stream-events", type=int, default=20_000, help="events timed in Stream.push (0 skips)")
    ap.add_argument("--stream-warm-max", type=int, default=200_000, help="at most this many warm-up pushes")
    ap.add_argument("--stream-batch", type=int, default=1,
                    help="Stream(batch=N): final events judged every N accepted ones (1: every push)")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage breakdown")
    ap.add_argument("--parts", default="scan,bounded,floor,reference,stages,stream",
                    help="which measurements to run (scan,bounded,floor,reference,stages,stream; --profile adds profile; "
                         "peer adds the polars peer of benchmarks/peer_polars.py)")
    ap.add_argument("--profile", action="store_true", help="also cProfile each plain scan")
    ap.add_argument("--top", type=int, default=15, help="functions listed per profile table")
    ap.add_argument("--out", default=str(RESULTS / "throughput.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("worker_args", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](*json.loads(args.worker_args))))
        return 0
    RULESET = str(Path(args.ruleset).resolve()) if Path(args.ruleset).is_file() else args.ruleset
    if args.without:
        RULESET = _without(RULESET, [w.strip() for w in args.without.split(",") if w.strip()])
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    results = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        results.append(bench_size(n, args))
        doc = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(["benchmarks/throughput.py"] + (argv or sys.argv[1:])),
               "seed": args.seed, "ruleset": RULESET, "rules": _rules(), "repeat": args.repeat, "repeat_large": args.repeat_large,
               "max_disorder": args.max_disorder, "loadavg_at_start": load0, "loadavg_at_end": os.getloadavg(),
               "elapsed_s": round(time.perf_counter() - t0), "versions": _versions(), "results": results}
        out.write_text(json.dumps(doc, indent=2) + "\n")  # after each size: a long run keeps what it measured
    print(render(results))
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
