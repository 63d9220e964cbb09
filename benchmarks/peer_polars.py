"""A polars peer for ``geofence.mismatch`` + ``followup.stall``, checked finding id for finding id.

    python benchmarks/peer_polars.py                         # 100k events (generated once, cached)
    python benchmarks/peer_polars.py --events 1000000        # the size the issue's target is stated at
    python benchmarks/peer_polars.py --events 100000,1000000 --repeat 3

What a data engineer would write with polars to get these two rules' findings from the benchmark's
JSON Lines file: one ``scan_ndjson`` with an explicit schema (only the fields the two rules read),
then lazy expressions. ``geofence.mismatch``: the events it reads put in the spec's one order
(``ts``, then ``id``), the latest plan for the punch's employee and local date by ``join_asof``, its
first item whose widened window holds the punch, the expected place's latest location by two more
``join_asof``; haversine as an expression. ``followup.stall``: each customer's activities in order,
the stage carried forward, the next activity by ``shift(-1)``; a period fires when the next activity
comes at or after ``last + max_idle[stage]`` (or none came and that moment is at or before the
as-of time, the latest ``ts``). Finding ids are hrguard's (``hrguard.findings.finding_id``: a
blake2b of instance name, subject key and ``ts`` in microseconds), computed for the findings only.

Like ``reference.py`` it is no general implementation: no validation, no duplicate deliveries, one
tenant, no scope or exceptions, timestamps as ``gen_events.py`` writes them (RFC 3339 with an
offset). That is why its ids are checked: hrguard scans the same file with a ruleset holding only
these two rules (their parameters from ``--ruleset``, default ``sales``) and any difference in the
finding ids, either way, is an error (exit status 1).

Each side runs in a fresh subprocess (``throughput.py``'s scan worker for hrguard), timed from after
imports and ruleset loading to the finding ids; peak RSS is the process's ``ru_maxrss``. Prints a
table (events/s, CPU seconds, peak RSS, and hrguard's time over polars') and writes
``benchmarks/results/peer_polars.json`` (one entry per size; other sizes already there are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import throughput  # noqa: E402  (the cached data files, the memory probe, the scan worker)

RESULTS = throughput.RESULTS
OUT = RESULTS / "peer_polars.json"
GEOFENCE, STALL = throughput.TWO_RULES  # ("geofence.mismatch", "followup.stall")
PUNCH, PLAN, CUSTOMER, SITE = "attendance.punched", "plan.submitted", "customer.registered", "site.registered"
FOLLOWUP, STAGE = "followup.logged", "customer.stage_changed"
EARTH_RADIUS_M = 6_371_008.8  # the spec's
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"  # RFC 3339 with an offset or Z, optional fraction


# -- the peer ------------------------------------------------------------------------------------
def scan_events(path: str | os.PathLike[str]) -> Any:
    """The file as a LazyFrame of the fields the two rules read, ``ts`` as epoch microseconds (UTC)."""
    import polars as pl

    s = pl.String
    schema = {
        "id": s, "kind": s, "ts": s, "employee_id": s, "customer_id": s, "site_id": s,
        "lat": pl.Float64, "lon": pl.Float64, "accuracy_m": pl.Float64, "radius_m": pl.Float64,
        "date": s, "items": s,  # a plan's items as their JSON text: decoded for plans only (see geofence_mismatch)
        "stage": s,
    }
    ts = pl.col("ts").str.to_datetime(TS_FORMAT, time_unit="us", time_zone="UTC").dt.epoch("us")
    return pl.scan_ndjson(path, schema=schema).with_columns(ts=ts)


def _haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = lat1.radians(), lat2.radians()
    a = ((p2 - p1) / 2).sin() ** 2 + p1.cos() * p2.cos() * ((lon2 - lon1).radians() / 2).sin() ** 2
    return 2 * EARTH_RADIUS_M * a.clip(0.0, 1.0).sqrt().arcsin()


def _seconds_of_day(name: str) -> Any:
    """``HH:MM`` or ``HH:MM:SS`` as seconds of the day."""
    import polars as pl

    c = pl.col(name)
    ss = pl.when(c.str.slice(5, 1) == ":").then(c.str.slice(6, 2).cast(pl.Int64)).otherwise(0)
    return c.str.slice(0, 2).cast(pl.Int64) * 3600 + c.str.slice(3, 2).cast(pl.Int64) * 60 + ss


def geofence_mismatch(ev: Any, *, timezone: str, radius_m: float, window_slack_us: int,
                      max_accuracy_credit_m: float, flag_missing_location: bool) -> Any:
    """The punches that fire: a LazyFrame of ``id``, ``ts`` (the finding's subject and ts)."""
    import polars as pl

    c = pl.col
    # the spec's one order over the kinds this rule reads; "seq" is the as-of key of every lookup
    geo = ev.filter(c("kind").is_in([PUNCH, PLAN, CUSTOMER, SITE])).sort("ts", "id").with_row_index("seq")
    punches = geo.filter(c("kind") == PUNCH).select(
        "seq", "id", "ts", "employee_id", "customer_id", "site_id", "lat", "lon", "accuracy_m")
    # the reader gives nested values as their JSON text when the schema says String: decoding only the
    # plans' items is ~15% less CPU for the whole script than a List(Struct) column for every line
    s = pl.String
    items_col = c("items").str.json_decode(pl.List(pl.Struct({"customer_id": s, "site_id": s, "start": s, "end": s})))
    plans = geo.filter(c("kind") == PLAN).select("seq", "employee_id", items_col, day=c("date").str.to_date("%Y-%m-%d"))

    # each plan's items that name a place, in plan order, windows widened by the slack, as instants
    def instant(hhmm: str) -> Any:
        wall = c("day").cast(pl.Datetime("us")) + pl.duration(seconds=_seconds_of_day(hhmm))
        return wall.dt.replace_time_zone(timezone, ambiguous="earliest").dt.epoch("us")

    items = (plans.select(plan="seq", day="day", items="items").explode("items").unnest("items")
             .filter(c("customer_id").is_not_null() | c("site_id").is_not_null())
             .with_row_index("item")
             .select("plan", "item", "customer_id", "site_id",
                     lo=instant("start") - window_slack_us, hi=instant("end") + window_slack_us))
    # punches naming no place: the latest plan for (employee, local date) at or before them, its first item holding them
    local_day = pl.from_epoch(c("ts"), "us").dt.replace_time_zone("UTC").dt.convert_time_zone(timezone).dt.date()
    by_plan = (punches.filter(c("customer_id").is_null() & c("site_id").is_null())
               .select("seq", "ts", "employee_id", day=local_day)
               .join_asof(plans.select("seq", "employee_id", "day", plan="seq"), on="seq", by=["employee_id", "day"],
                          check_sortedness=False)
               .join(items, on="plan", maintain_order="left_right")
               .filter(c("lo").le(c("ts")) & c("ts").le(c("hi")))
               .unique("seq", keep="first", maintain_order=True)
               .select("seq", plan_customer="customer_id", plan_site="site_id"))
    # the expected place: the punch's own customer, else its site, else the plan item's (a customer first)
    own_c, own_s = c("customer_id").is_not_null(), c("site_id").is_not_null()
    item_c = c("plan_customer").is_not_null()
    expected = (punches.join(by_plan, on="seq", how="left", maintain_order="left")
                .with_columns(exp_c=pl.when(own_c).then("customer_id").when(own_s).then(None).otherwise("plan_customer"),
                              exp_s=pl.when(own_c).then(None).when(own_s).then("site_id")
                              .when(item_c).then(None).otherwise("plan_site")))
    customers = geo.filter(c("kind") == CUSTOMER).select("seq", exp_c="customer_id", c_lat="lat", c_lon="lon")
    sites = geo.filter(c("kind") == SITE).select("seq", exp_s="site_id", s_lat="lat", s_lon="lon", s_radius="radius_m")
    is_c = c("exp_c").is_not_null()
    far = _haversine_m(c("lat"), c("lon"), c("p_lat"), c("p_lon")) > c("radius") + pl.min_horizontal(
        c("accuracy_m").fill_null(0.0), pl.lit(float(max_accuracy_credit_m)))
    return (expected
            .join_asof(customers, on="seq", by="exp_c", check_sortedness=False)
            .join_asof(sites, on="seq", by="exp_s", check_sortedness=False)
            .select("id", "ts", "lat", "lon", "accuracy_m",
                    p_lat=pl.when(is_c).then("c_lat").otherwise("s_lat"),
                    p_lon=pl.when(is_c).then("c_lon").otherwise("s_lon"),
                    radius=pl.when(is_c).then(pl.lit(float(radius_m))).otherwise("s_radius"))
            .filter(c("p_lat").is_not_null())  # no expectation, or a place without a known location
            .filter(pl.when(c("lat").is_null()).then(pl.lit(bool(flag_missing_location))).otherwise(far))
            .select("id", "ts"))


def followup_stall(ev: Any, as_of_us: Any, *, max_idle_us: dict[str, int]) -> Any:
    """The idle periods that fire: a LazyFrame of ``customer_id``, ``id`` (the last activity), ``due``."""
    import polars as pl

    c = pl.col
    same_next = c("customer_id").shift(-1) == c("customer_id")
    idle = c("stage").forward_fill().over("customer_id").replace_strict(max_idle_us, default=None,
                                                                          return_dtype=pl.Int64)
    return (ev.filter(c("kind").is_in([FOLLOWUP, STAGE]))
            .select("customer_id", "ts", "id", stage=pl.when(c("kind") == STAGE).then("stage"))
            .sort("customer_id", "ts", "id")
            .with_columns(due=c("ts") + idle, next_ts=pl.when(same_next).then(c("ts").shift(-1)))
            .filter(pl.when(c("next_ts").is_null()).then(c("due") <= as_of_us).otherwise(c("next_ts") >= c("due")))
            .select("customer_id", "id", "due"))


def finding_id(name: str, subject: tuple[Any, ...], ts_us: int, tenant: str | None = None) -> str:
    """hrguard's finding id (``hrguard.findings.finding_id``; the test checks they agree)."""
    parts = [tenant or "", name, *("" if s is None else str(s) for s in subject), str(ts_us)]
    return "F" + hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()


def peer_findings(path: str | os.PathLike[str], params: dict[str, Any], engine: str = "in-memory") -> dict[str, list[str]]:
    """The two rules' finding ids, ``{rule: [id, ...]}``, with ``params`` from :func:`peer_params`.

    The file is read once into memory (the two rules need most of it, sorted); ``engine`` runs the
    queries: polars' in-memory engine measured faster than its streaming one on these joins and sorts.
    """
    import polars as pl

    ev = scan_events(path).collect(engine=engine)
    as_of = ev["ts"].max()
    lf = ev.lazy()
    g, s = params["geofence"], params["stall"]
    geo = geofence_mismatch(lf, timezone=params["timezone"], radius_m=g["radius_m"],
                            window_slack_us=g["window_slack_us"], max_accuracy_credit_m=g["max_accuracy_credit_m"],
                            flag_missing_location=g["flag_missing_location"])
    stall = followup_stall(lf, as_of, max_idle_us=s["max_idle_us"])
    geo_df, stall_df = pl.collect_all([geo, stall], engine=engine)
    return {
        GEOFENCE: [finding_id(g["name"], (i,), t) for i, t in zip(geo_df["id"].to_list(), geo_df["ts"].to_list())],
        STALL: [finding_id(s["name"], (cu, i), t) for cu, i, t in
                zip(stall_df["customer_id"].to_list(), stall_df["id"].to_list(), stall_df["due"].to_list())],
    }


# -- hrguard's side ------------------------------------------------------------------------------
def two_rule_ruleset(ruleset: str = "sales", out_dir: str | os.PathLike[str] | None = None) -> str:
    """A copy of ``ruleset`` (bundled name or YAML path) with only the two rules, written to ``out_dir``
    (default ``benchmarks/data/``); its path."""
    import yaml

    import hrguard

    path = Path(ruleset)
    if not path.is_file():
        path = Path(hrguard.__file__).parent / "rulesets" / f"{ruleset}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["rules"] = [r for r in doc["rules"] if r.get("use") in (GEOFENCE, STALL)]
    doc["ruleset"] = f"{doc['ruleset']}-two-rules"
    folder = Path(out_dir) if out_dir is not None else throughput.DATA
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{doc['ruleset']}.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(out)


def peer_params(ruleset_path: str) -> dict[str, Any]:
    """The peer's parameters (plain JSON) from the two-rule ruleset, as hrguard loads it."""
    import hrguard

    rs = hrguard.default_engine().load_ruleset(ruleset_path)
    out: dict[str, Any] = {"timezone": rs.timezone}
    for rule in rs.rules:
        p = rule.params
        if rule.use in out:
            raise SystemExit(f"{ruleset_path}: more than one {rule.use} rule; the peer computes one of each")
        if rule.use == GEOFENCE:
            out["geofence"] = {"name": rule.name, "radius_m": float(p.radius_m), "window_slack_us": int(p.window_slack),
                               "max_accuracy_credit_m": float(p.max_accuracy_credit_m),
                               "flag_missing_location": bool(p.flag_missing_location)}
        elif rule.use == STALL:
            out["stall"] = {"name": rule.name, "max_idle_us": {k: int(v) for k, v in p.max_idle.items()}}
    missing = {"geofence", "stall"} - set(out)
    if missing:
        raise SystemExit(f"{ruleset_path}: no {', '.join(sorted(missing))} rule")
    return out


def hrguard_findings(path: str | os.PathLike[str], ruleset_path: str) -> dict[str, list[str]]:
    """hrguard's finding ids for the two rules (in this process; the benchmark uses the worker)."""
    import hrguard

    return throughput._two_rule_ids(hrguard.scan(str(path), ruleset_path).findings)


def compare(hr: dict[str, list[str]], peer: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Per rule: counts, and the ids only one side found (a few of each)."""
    out = {}
    for rule in (GEOFENCE, STALL):
        a, b = hr.get(rule, []), peer.get(rule, [])
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        out[rule] = {"hrguard": len(a), "polars": len(b), "only_hrguard": len(only_a), "only_polars": len(only_b),
                     "same": sorted(a) == sorted(b), "examples_only_hrguard": only_a[:5],
                     "examples_only_polars": only_b[:5]}
    return out


# -- workers (each in its own process) -----------------------------------------------------------
def work_polars(path: str, params: dict[str, Any]) -> dict[str, Any]:
    import polars as pl

    before = throughput._mem()
    t0, c0 = time.perf_counter(), time.process_time()
    ids = peer_findings(path, params)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": secs, "cpu_seconds": cpu, "two_rules": ids, "rss_before_kb": before["vmrss_kb"],
            "polars": pl.__version__, "threads": pl.thread_pool_size(), **throughput._mem()}


def work_hrguard(path: str, ruleset_path: str) -> dict[str, Any]:
    throughput.RULESET = ruleset_path
    return throughput.work_scan(path)


WORKERS = {"polars": work_polars, "hrguard": work_hrguard}


def run_worker(name: str, *args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, json.dumps(list(args))]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- driver --------------------------------------------------------------------------------------
def _summary(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    secs = statistics.median(r["seconds"] for r in runs)
    cpu = statistics.median(r["cpu_seconds"] for r in runs)
    return {"runs": len(runs), "seconds_median": secs, "seconds_all": [r["seconds"] for r in runs],
            "cpu_seconds_median": cpu, "cpu_seconds_all": [r["cpu_seconds"] for r in runs],
            "events_per_s": n / secs, "events_per_cpu_s": n / cpu,
            "peak_rss_mb": max(r["ru_maxrss_kb"] for r in runs) / 1024,
            "rss_before_mb": statistics.median((r.get("rss_before_kb") or 0) for r in runs) / 1024}


def bench_size(n: int, path: str, ruleset_path: str, repeat: int, seed: int = 1) -> dict[str, Any]:
    """Both sides ``repeat`` times (alternating) on ``path``; raises when any run's ids differ."""
    params = peer_params(ruleset_path)
    runs: dict[str, list[dict[str, Any]]] = {"hrguard": [], "polars": []}
    for k in range(repeat):
        for side in ("hrguard", "polars"):
            print(f"[{n:,}] {side} {k + 1}/{repeat} ...", file=sys.stderr, flush=True)
            runs[side].append(run_worker(side, path, ruleset_path if side == "hrguard" else params))
    cmp = compare(runs["hrguard"][0]["two_rules"], runs["polars"][0]["two_rules"])
    stable = all(r["two_rules"] == runs[side][0]["two_rules"] for side in runs for r in runs[side])
    out: dict[str, Any] = {"events": n, "seed": seed, "file": Path(path).name,
                           "file_mb": round(Path(path).stat().st_size / 1e6, 1), "params": params,
                           "hrguard": _summary(runs["hrguard"], n), "polars": _summary(runs["polars"], n),
                           "comparison": cmp, "same_findings": stable and all(c["same"] for c in cmp.values()),
                           "polars_version": runs["polars"][0]["polars"], "polars_threads": runs["polars"][0]["threads"]}
    first = runs["hrguard"][0]
    out["hrguard"].update(findings=first["findings"], rejected=first["rejected"], rules=first["rules"])
    h, p = out["hrguard"], out["polars"]
    out["ratio_wall"] = h["seconds_median"] / p["seconds_median"]
    out["ratio_cpu"] = h["cpu_seconds_median"] / p["cpu_seconds_median"]
    out["ratio_rss"] = h["peak_rss_mb"] / p["peak_rss_mb"]
    return out


def check(result: dict[str, Any]) -> None:
    """Fail loudly (SystemExit 1) unless both sides found the same ids, run after run."""
    if result["same_findings"]:
        return
    lines = [f"[{result['events']:,}] DIFFERENT findings between hrguard and the polars peer:"]
    for rule, c in result["comparison"].items():
        lines.append(f"  {rule}: hrguard {c['hrguard']}, polars {c['polars']}; only hrguard {c['only_hrguard']} "
                     f"{c['examples_only_hrguard']}, only polars {c['only_polars']} {c['examples_only_polars']}")
    if all(c["same"] for c in result["comparison"].values()):
        lines.append("  (the first runs agree, but some repeated run found other ids)")
    print("\n".join(lines), file=sys.stderr)
    raise SystemExit(1)


def render(results: list[dict[str, Any]]) -> str:
    hdr = (f"{'events':>10} {'side':>16} {'wall s':>7} {'cpu s':>7} {'ev/s':>9} {'ev/cpu-s':>9} {'peak RSS MB':>11} "
           f"{'findings (geofence, stall)':>27}")
    lines = [hdr, "-" * len(hdr)]
    for r in results:
        for side, label in (("hrguard", "hrguard 2 rules"), ("polars", "polars")):
            s = r[side]
            counts = f"{r['comparison'][GEOFENCE][side]:,}, {r['comparison'][STALL][side]:,}"
            lines.append(f"{r['events']:>10,} {label:>16} {s['seconds_median']:>7.2f} {s['cpu_seconds_median']:>7.2f} "
                         f"{s['events_per_s']:>9,.0f} {s['events_per_cpu_s']:>9,.0f} {s['peak_rss_mb']:>11,.0f} {counts:>27}")
        lines.append(f"{'':>10} {'hrguard/polars':>16} {r['ratio_wall']:>6.2f}x {r['ratio_cpu']:>6.2f}x "
                     f"{'':>19} {r['ratio_rss']:>10.2f}x {'same ids' if r['same_findings'] else 'DIFFERENT':>27}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", default="100000", help="event count(s), comma-separated (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ruleset", default="sales", help="take the two rules from this ruleset (bundled name or path)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side per size (medians reported)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("worker_args", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](*json.loads(args.worker_args))))
        return 0
    ruleset_path = two_rule_ruleset(args.ruleset)
    out = Path(args.out)
    doc = json.loads(out.read_text()) if out.is_file() else {}
    by_size = {str(r["events"]): r for r in doc.get("results", [])}
    results = []
    for n in [int(s.replace("_", "")) for s in args.events.split(",") if s.strip()]:
        path = str(throughput.ensure_data(n, args.seed))
        load0 = os.getloadavg()
        r = bench_size(n, path, ruleset_path, args.repeat, args.seed)
        r.update(measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), loadavg_at_start=load0,
                 loadavg_at_end=os.getloadavg(), repeat=args.repeat, versions=throughput._versions())
        check(r)  # before writing: a run whose ids differ is no measurement
        results.append(r)
        by_size[str(n)] = r
        doc = {"command": " ".join(["benchmarks/peer_polars.py"] + (argv if argv is not None else sys.argv[1:])),
               "ruleset": args.ruleset,
               "results": sorted(by_size.values(), key=lambda x: x["events"])}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n")
    print(render(results))
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
