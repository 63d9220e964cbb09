"""Restart cost of a long-running ``Stream``: restoring a checkpoint against replaying the history (issue 11).

    python benchmarks/stream_restore.py                       # 200k events of history, then 10k more
    python benchmarks/stream_restore.py --events 1000000 --out benchmarks/results/stream-restore-1000000.json

A generated log (``gen_events.py``, cached in ``benchmarks/data/``) of ``--events`` + ``--tail`` events is
sorted by ``(ts, id)`` (``throughput.py``'s stream part sorts by ``ts``; the id only settles ties) and
pushed into ``Stream(ruleset, allowed_lateness="0s")``:

1. ``replay``: the first ``--events`` pushes, CPU and wall seconds, events/s: what a restart by
   replaying the history costs (plus the import and the stream's construction, reported apart). The
   pushing process's RSS is sampled (``VmRSS``) every ``--rss-every`` events; the parsed events are
   moved out of the garbage collector's way (``gc.freeze``) first, as a replay reading a file would
   not hold them all.
2. ``checkpoint``: ``stream.checkpoint(SqliteCheckpoints(tmp), key)``, CPU and wall seconds, the peak
   RSS during it (``VmHWM`` reset through ``/proc/self/clear_refs`` just before), the payload's size
   (``len(dumps_state(stream.state_dict()))``), the database file's size, and that size broken down by
   the parts of ``state_dict()`` (each part encoded alone with ``dumps_state``).
3. ``restore``, in a fresh subprocess: ``import hrguard`` (timed apart), then
   ``Stream.restore(store, key, ruleset, "0s")`` (CPU and wall; split into constructing the stream,
   ``store.load`` = read + sha256 + decode, and ``load_state_dict``), RSS after it; the restored
   ``stats``, ``clock``, ``watermark``, number of findings and the finding ids are compared with the
   original's. Then the next ``--tail`` events are pushed into the restored stream (in the child) and
   into the original (in the parent), followed by ``advance_to(the last ts)``: the newly released
   finding ids must be equal, and the push CPU of both is reported.
4. a table, and JSON (``--out``, default ``benchmarks/results/stream-restore-N.json``): restore time
   over replay time, state bytes per event.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
KEY = "bench.main"


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _maxrss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((r / 1024 / 1024) if sys.platform == "darwin" else r / 1024, 1)


def _ids_digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _stream_facts(stream: Any) -> dict[str, Any]:
    clock, mark = stream.clock, stream.watermark
    ids = [f.id for f in stream.findings]
    return {"stats": dataclasses.asdict(stream.stats), "clock": clock.isoformat() if clock else None,
            "watermark": mark.isoformat() if mark else None, "findings": len(ids), "finding_ids_sha256": _ids_digest(ids),
            "rejected": len(stream.rejected), "errors": len(stream.errors)}


def _push_tail(stream: Any, tail: list[dict[str, Any]]) -> dict[str, Any]:
    """Push ``tail`` then ``advance_to`` its last ``ts``: the finding ids released by each, and the push CPU."""
    from datetime import datetime

    push = stream.push
    pushed: list[str] = []
    c0, t0 = time.process_time(), time.perf_counter()
    for e in tail:
        pushed.extend(f.id for f in push(e))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    last = max(datetime.fromisoformat(e["ts"]) for e in tail)
    advanced = [f.id for f in stream.advance_to(last)]
    return {"pushed_ids": pushed, "advance_ids": advanced, "push_cpu_s": round(cpu, 3), "push_wall_s": round(wall, 3),
            "after": _stream_facts(stream)}


def _settled_size(stream: Any) -> dict[str, Any]:
    """The state's size once ``advance_to`` has run the deferred work (the forest's queued jobs)."""
    from hrguard.sdk.state import dumps_state

    state = stream.state_dict()
    rules = {r["name"]: len(dumps_state({"x": r["state"]})) for t in state["tenants"] for rt in t["runner"]["tenants"]
             for r in rt["rules"]}
    return {"state_bytes": len(dumps_state(state)), "rules_bytes": dict(sorted(rules.items(), key=lambda kv: -kv[1])[:4])}


# -- the restore, in its own process --------------------------------------------------------------------------
def work_restore(db: str, ruleset: str, lateness: str, tail_path: str) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    rss0 = _status_kb("VmRSS")
    import hrguard
    from hrguard.checkpoints import SqliteCheckpoints

    imp_cpu, imp_wall = time.process_time() - c0, time.perf_counter() - t0
    rss_imported = _status_kb("VmRSS")
    parts = {"load_cpu": 0.0, "load_wall": 0.0, "load_state_dict_cpu": 0.0, "load_state_dict_wall": 0.0}

    class TimedStore:  # times the store's load (read, sha256, decode) inside Stream.restore
        def __init__(self, store: Any):
            self.store = store

        def load(self, *a: Any, **kw: Any) -> Any:
            c, t = time.process_time(), time.perf_counter()
            try:
                return self.store.load(*a, **kw)
            finally:
                parts["load_cpu"] += time.process_time() - c
                parts["load_wall"] += time.perf_counter() - t

    class TimedStream(hrguard.Stream):  # times load_state_dict inside Stream.restore
        def load_state_dict(self, state: Any) -> None:
            c, t = time.process_time(), time.perf_counter()
            try:
                super().load_state_dict(state)
            finally:
                parts["load_state_dict_cpu"] += time.process_time() - c
                parts["load_state_dict_wall"] += time.perf_counter() - t

    c1, t1 = time.process_time(), time.perf_counter()
    store = SqliteCheckpoints(db)
    stream = TimedStream.restore(TimedStore(store), KEY, ruleset, lateness)
    cpu, wall = time.process_time() - c1, time.perf_counter() - t1
    store.close()
    out: dict[str, Any] = {
        "import_cpu_s": round(imp_cpu, 3), "import_wall_s": round(imp_wall, 3),
        "restore_cpu_s": round(cpu, 3), "restore_wall_s": round(wall, 3),
        "restore_parts": {
            "construct_cpu_s": round(cpu - parts["load_cpu"] - parts["load_state_dict_cpu"], 3),
            "store_load_cpu_s": round(parts["load_cpu"], 3), "store_load_wall_s": round(parts["load_wall"], 3),
            "load_state_dict_cpu_s": round(parts["load_state_dict_cpu"], 3),
            "load_state_dict_wall_s": round(parts["load_state_dict_wall"], 3)},
        "rss_start_mb": _mb(rss0), "rss_after_import_mb": _mb(rss_imported), "rss_after_restore_mb": _mb(_status_kb("VmRSS")),
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork + exec, so a child reports its parent's peak
        "peak_rss_restore_mb": _mb(_status_kb("VmHWM")),
        "facts": _stream_facts(stream),
    }
    import orjson

    with open(tail_path, "rb") as fh:
        tail = [orjson.loads(line) for line in fh]
    out["tail"] = _push_tail(stream, tail)
    out["after_tail_advance"] = _settled_size(stream)
    return out


def run_worker(*args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(list(args))]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
    if proc.returncode != 0:
        raise RuntimeError(f"restore worker failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- sizes of the parts of a state ----------------------------------------------------------------------------
def part_sizes(state: dict[str, Any]) -> dict[str, Any]:
    """Bytes of each part of a stream's ``state_dict`` (each encoded alone by ``dumps_state``; an empty
    state's few hundred bytes of archive overhead are included in each)."""
    from hrguard.sdk.state import dumps_state

    def size(v: Any) -> int:
        return len(dumps_state({"x": v}))

    out: dict[str, Any] = {"top": {k: size(v) for k, v in state.items()}, "tenants": []}
    for t in state["tenants"]:
        runner = t["runner"]
        rt = {
            "name": t["name"],
            "parts": {k: size(v) for k, v in t.items() if k not in ("intake", "runner")},
            "intake": {k: size(v) for k, v in t["intake"].items()},
            "runner": {k: size(v) for k, v in runner.items() if k != "tenants"},
            "rules": {},
            "counts": {"strings": len(t["strings"]), "held": len(t["held"]), "rejected": len(t["intake"]["rejected"]),
                       "judged_hashes": int(len(t["intake"]["judged"]["hashes"])), "directory": len(runner["directory"]),
                       "runner_findings": len(runner["findings"]), "suppressed": len(runner["suppressed"])},
        }
        by_key: dict[str, dict[str, int]] = {}
        for rt_t in runner["tenants"]:
            for r in rt_t["rules"]:
                rt["rules"][r["name"]] = size(r["state"])
                if rt["rules"][r["name"]] > 100_000 and isinstance(r["state"], dict):  # the large ones, key by key
                    by_key[r["name"]] = dict(sorted(((str(k), size(v)) for k, v in r["state"].items()),
                                                    key=lambda kv: -kv[1])[:12])
        rt["rules"] = dict(sorted(rt["rules"].items(), key=lambda kv: -kv[1]))
        rt["rule_state_keys"] = {k: by_key[k] for k in rt["rules"] if k in by_key}
        out["tenants"].append(rt)
    out["released_findings"] = len(state["released"])
    return out


# -- the run ---------------------------------------------------------------------------------------------------
def run(n: int, tail_n: int, seed: int, ruleset: str, rss_every: int, log: Any) -> dict[str, Any]:
    from throughput import _versions, ensure_data

    path = ensure_data(n + tail_n, seed)
    c0, t0 = time.process_time(), time.perf_counter()
    import hrguard
    from hrguard.checkpoints import SqliteCheckpoints
    from hrguard.sdk.state import dumps_state

    imp = (time.process_time() - c0, time.perf_counter() - t0)
    import orjson

    log(f"[{n:,}] reading {path.name} ...")
    with open(path, "rb") as fh:
        events = [orjson.loads(line) for line in fh]
    events.sort(key=lambda e: (e["ts"], e["id"]))  # one offset in the generated files: string order is time order
    if len(events) < n + tail_n:
        raise SystemExit(f"{path} has {len(events)} events, fewer than {n} + {tail_n}")
    history, tail = events[:n], events[n:n + tail_n]
    del events
    gc.collect()
    gc.freeze()  # the parsed events are not the stream's: keep the collector's full passes off them
    out: dict[str, Any] = {"events": n, "tail": tail_n, "file": path.name, "ruleset": ruleset, "lateness": "0s",
                           "order": "(ts, id)", "import_hrguard_cpu_s": round(imp[0], 3)}

    # 1. replay: every event of the history pushed
    c, t = time.process_time(), time.perf_counter()
    stream = hrguard.Stream(ruleset, "0s")
    out["construct_cpu_s"] = round(time.process_time() - c, 3)
    rss_base = _status_kb("VmRSS")
    samples = [(0, _mb(rss_base), 0.0)]
    log(f"[{n:,}] pushing {n:,} events (RSS {_mb(rss_base)} MB with the events parsed) ...")
    push = stream.push
    c0, t0 = time.process_time(), time.perf_counter()
    for i, e in enumerate(history, 1):
        push(e)
        if i % rss_every == 0:
            samples.append((i, _mb(_status_kb("VmRSS")), round(time.process_time() - c0, 1)))
            log(f"  {i:,} pushed, RSS {samples[-1][1]} MB, {samples[-1][2]} CPU s")
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    out["replay"] = {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "events_per_cpu_s": round(n / cpu),
                     "events_per_s": round(n / wall), "rss_before_push_mb": _mb(rss_base),
                     "rss_samples": [{"pushed": s[0], "vmrss_mb": s[1], "cpu_s": s[2]} for s in samples],
                     "rss_after_push_mb": _mb(_status_kb("VmRSS")), "ru_maxrss_mb": _maxrss_mb()}
    original = _stream_facts(stream)
    out["original"] = original

    # 2. the checkpoint
    with tempfile.TemporaryDirectory(prefix="hrguard-restore-") as tmp:
        db = str(Path(tmp) / "checkpoints.sqlite")
        store = SqliteCheckpoints(db)
        gc.collect()
        rss_before = _status_kb("VmRSS")
        reset = _reset_peak()
        c, t = time.process_time(), time.perf_counter()
        seq = stream.checkpoint(store, KEY)
        ck_cpu, ck_wall = time.process_time() - c, time.perf_counter() - t
        peak = _status_kb("VmHWM") if reset else None
        store.close()
        db_bytes = sum(p.stat().st_size for p in Path(tmp).iterdir())
        log(f"[{n:,}] checkpoint #{seq}: {ck_cpu:.2f} CPU s, {db_bytes:,} bytes on disk")
        c = time.process_time()
        state = stream.state_dict()
        sd_cpu = time.process_time() - c
        c = time.process_time()
        payload = dumps_state(state)
        dump_cpu = time.process_time() - c
        out["checkpoint"] = {
            "seq": seq, "cpu_s": round(ck_cpu, 3), "wall_s": round(ck_wall, 3),
            "state_dict_cpu_s": round(sd_cpu, 3), "dumps_state_cpu_s": round(dump_cpu, 3),
            "bytes": len(payload), "bytes_per_event": round(len(payload) / n, 1), "db_file_bytes": db_bytes,
            "rss_before_mb": _mb(rss_before), "peak_rss_during_mb": _mb(peak),
            "peak_rss_over_before_mb": None if peak is None else _mb(peak - (rss_before or 0)),
        }
        out["state_parts_bytes"] = part_sizes(state)
        del state, payload
        gc.collect()

        # 3. the restore, in a fresh process
        tail_path = Path(tmp) / "tail.jsonl"
        with open(tail_path, "wb") as fh:
            for e in tail:
                fh.write(orjson.dumps(e) + b"\n")
        log(f"[{n:,}] restoring in a fresh process ...")
        restored = run_worker(db, ruleset, "0s", str(tail_path))
    out["restore"] = {k: v for k, v in restored.items() if k not in ("facts", "tail")}
    out["restored"] = restored["facts"]
    log(f"[{n:,}] pushing the next {tail_n:,} events into the original ...")
    mine = _push_tail(stream, tail)
    theirs = restored["tail"]
    checks = {
        "stats": original["stats"] == restored["facts"]["stats"],
        "clock": original["clock"] == restored["facts"]["clock"],
        "watermark": original["watermark"] == restored["facts"]["watermark"],
        "findings": original["findings"] == restored["facts"]["findings"],
        "finding_ids": original["finding_ids_sha256"] == restored["facts"]["finding_ids_sha256"],
        "tail_pushed_ids": mine["pushed_ids"] == theirs["pushed_ids"],
        "tail_advance_ids": mine["advance_ids"] == theirs["advance_ids"],
        "after_tail": mine["after"] == theirs["after"],
    }
    out["tail_result"] = {
        "pushed_findings": len(mine["pushed_ids"]), "advance_findings": len(mine["advance_ids"]),
        "original_push_cpu_s": mine["push_cpu_s"], "restored_push_cpu_s": theirs["push_cpu_s"],
        "original_after": mine["after"], "restored_after": theirs["after"],
        "original_after_advance": _settled_size(stream),
    }
    out["checks"] = checks
    out["same"] = all(checks.values())
    r = out["restore"]
    out["ratios"] = {
        "restore_over_replay_cpu": round(r["restore_cpu_s"] / cpu, 4),
        "restore_over_replay_wall": round(r["restore_wall_s"] / wall, 4),
        # a restart either way: import + Stream() + every push, against import + restore
        "restart_cpu_replay_s": round(imp[0] + out["construct_cpu_s"] + cpu, 3),
        "restart_cpu_restore_s": round(r["import_cpu_s"] + r["restore_cpu_s"], 3),
        "checkpoint_over_replay_cpu": round(ck_cpu / cpu, 4),
        "state_bytes_per_event": out["checkpoint"]["bytes_per_event"],
    }
    out["ratios"]["restart_speedup_cpu"] = round(out["ratios"]["restart_cpu_replay_s"]
                                                 / out["ratios"]["restart_cpu_restore_s"], 1)
    out["versions"] = _versions()
    return out


def render(r: dict[str, Any]) -> str:
    rp, ck, rs, ra = r["replay"], r["checkpoint"], r["restore"], r["ratios"]
    lines = [
        f"{r['events']:,} events ({r['ruleset']}, allowed_lateness 0s, sorted by (ts, id)); "
        f"{r['original']['findings']:,} findings",
        f"{'':28} {'CPU s':>9} {'wall s':>9} {'RSS MB':>9}",
        f"{'replay (push all)':28} {rp['cpu_s']:>9.2f} {rp['wall_s']:>9.2f} {rp['rss_after_push_mb']:>9,.0f}"
        f"   {rp['events_per_cpu_s']:,} ev/CPU-s",
        f"{'checkpoint (sqlite)':28} {ck['cpu_s']:>9.2f} {ck['wall_s']:>9.2f} {ck['peak_rss_during_mb'] or 0:>9,.0f}"
        f"   peak; {ck['bytes']:,} bytes, {ck['bytes_per_event']} B/event",
        f"{'  of which state_dict':28} {ck['state_dict_cpu_s']:>9.2f}",
        f"{'  of which dumps_state':28} {ck['dumps_state_cpu_s']:>9.2f}",
        f"{'import hrguard (child)':28} {rs['import_cpu_s']:>9.2f} {rs['import_wall_s']:>9.2f} "
        f"{rs['rss_after_import_mb']:>9,.0f}",
        f"{'Stream.restore (child)':28} {rs['restore_cpu_s']:>9.2f} {rs['restore_wall_s']:>9.2f} "
        f"{rs['peak_rss_restore_mb']:>9,.0f}   peak",
        f"{'  construct':28} {rs['restore_parts']['construct_cpu_s']:>9.2f}",
        f"{'  store.load':28} {rs['restore_parts']['store_load_cpu_s']:>9.2f}",
        f"{'  load_state_dict':28} {rs['restore_parts']['load_state_dict_cpu_s']:>9.2f}",
        f"restore / replay: {ra['restore_over_replay_cpu']:.4f} CPU ({1 / ra['restore_over_replay_cpu']:.0f}x faster), "
        f"{ra['restore_over_replay_wall']:.4f} wall; a restart (import + ...) {ra['restart_cpu_restore_s']:.2f} "
        f"against {ra['restart_cpu_replay_s']:.2f} CPU s",
        f"checks: " + ", ".join(f"{k} {'ok' if v else 'DIFFERENT'}" for k, v in r["checks"].items()),
        f"RSS while pushing: " + "  ".join(f"{s['pushed']:,}->{s['vmrss_mb']:,.0f}" for s in rp["rss_samples"]),
        "state parts (bytes): " + ", ".join(f"{k} {v:,}" for k, v in sorted(r["state_parts_bytes"]["top"].items(),
                                                                             key=lambda kv: -kv[1])),
    ]
    for t in r["state_parts_bytes"]["tenants"]:
        lines.append(f"  tenant {t['name']!r}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(
            {**t["parts"], **{f"intake.{k}": v for k, v in t["intake"].items()},
             **{f"runner.{k}": v for k, v in t["runner"].items()}}.items(), key=lambda kv: -kv[1])[:8]))
        lines.append("  rules: " + ", ".join(f"{k} {v:,}" for k, v in list(t["rules"].items())[:8]))
        for rule, keys in list(t.get("rule_state_keys", {}).items())[:3]:
            lines.append(f"    {rule}: " + ", ".join(f"{k} {v:,}" for k, v in list(keys.items())[:6]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000, help="events of history pushed before the checkpoint")
    ap.add_argument("--tail", type=int, default=10_000, help="events pushed after it into both streams")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ruleset", default="sales")
    ap.add_argument("--rss-every", type=int, default=100_000, help="sample VmRSS every this many pushes")
    ap.add_argument("--out", help="JSON (default benchmarks/results/stream-restore-N.json)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(work_restore(*json.loads(args.worker))))
        return 0

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    load0 = os.getloadavg()
    res = run(args.events, args.tail, args.seed, args.ruleset, args.rss_every, log)
    doc = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "command": " ".join(["benchmarks/stream_restore.py"] + (argv if argv is not None else sys.argv[1:])),
           "loadavg_at_start": load0, "loadavg_at_end": os.getloadavg(), "elapsed_s": round(time.perf_counter() - t0),
           **res}
    out = Path(args.out) if args.out else RESULTS / f"stream-restore-{args.events}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(render(res))
    print(f"\nwrote {out}", file=sys.stderr)
    return 0 if res["same"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
