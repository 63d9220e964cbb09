"""Running events every way a host can: batch, shuffled, re-chunked, streamed; the findings must not change.

(PYTEST_DONT_REWRITE: see :mod:`hrguard.testing`.)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from ..engine import Engine, ScanResult, Stream
from ..findings import Finding
from ..rules import Ruleset


def stream_all(events: Sequence[dict[str, Any]], ruleset: Ruleset, as_of: Any, engine: Engine,
               lateness: str = "0s", order: Sequence[int] | None = None) -> list[Finding]:
    """Push events one by one (in ``order`` if given), then advance to ``as_of``; all findings, in the
    order a scan lists them (a rule that defers work to ``advance_to`` releases its findings later)."""
    s = Stream(ruleset, allowed_lateness=lateness, engine=engine)
    idx = list(order) if order is not None else sorted(range(len(events)), key=lambda i: (event_time(events[i]), events[i]["id"]))
    if as_of is not None:  # a scan ignores events after its as-of time; a stream never sees them
        limit = event_time({"ts": as_of})
        idx = [i for i in idx if event_time(events[i]) <= limit]
    out: list[Finding] = []
    for i in idx:
        out.extend(s.push(events[i]))
    end = as_of if as_of is not None else (max((event_time(e) for e in events), default=None))
    if end is not None:  # advancing to end + lateness releases everything up to end
        out.extend(s.advance_to(event_time({"ts": end}) + timedelta(microseconds=s.lateness)))
    assert not s.rejected, f"stream rejected records: {s.rejected[:3]}"
    return sorted(out, key=Finding.sort_key)


def event_time(e: Mapping[str, Any]) -> datetime:
    t = e["ts"]
    return t if isinstance(t, datetime) else datetime.fromisoformat(str(t).replace("Z", "+00:00")).astimezone(timezone.utc)


def run_all_ways(events: Sequence[dict[str, Any]], ruleset: Ruleset, as_of: Any = None, *, engine: Engine | None = None,
                 seed: int = 0, chunk_sizes: Sequence[int] = (1, 3, 65_536)) -> ScanResult:
    """Scan ``events`` in several orders and chunkings and as a stream; assert identical findings.

    Returns the reference batch result. Raises ``AssertionError`` naming the first difference.
    """
    engine = engine or ruleset.engine
    ref = engine.scan(list(events), ruleset, as_of)
    want = dump_findings(ref.findings)
    rnd = random.Random(seed)
    for size in chunk_sizes:
        shuffled = list(events)
        rnd.shuffle(shuffled)
        assert_same(want, dump_findings(engine.scan(shuffled, ruleset, as_of, chunk_size=size).findings),
              f"batch, shuffled input, chunk_size={size}")
    assert_same(want, dump_findings(stream_all(events, ruleset, ref.as_of, engine)), "stream, one event at a time")
    return ref


def dump_findings(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [f.model_dump(mode="json") for f in findings]


def assert_same(want: list[dict[str, Any]], got: list[dict[str, Any]], how: str) -> None:
    if want == got:
        return
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            raise AssertionError(f"{how}: finding #{i} differs:\n  batch: {a}\n  other: {b}")
    raise AssertionError(f"{how}: {len(want)} findings in the reference run, {len(got)} here:\n"
                         f"  extra: {(want if len(want) > len(got) else got)[min(len(want), len(got)):][:3]}")
