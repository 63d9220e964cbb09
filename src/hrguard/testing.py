"""Tools for testing detectors and embeddings: event factories and batch-versus-stream checks.

``run_all_ways`` is the heart of the determinism contract: the same events give the same findings
(same ids) whatever the input order, the chunk size, or batch versus streaming.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .engine import Engine, ScanResult, Stream
from .findings import Finding
from .ruleset import Ruleset

_COUNTER = [0]


def event(kind: str, ts: str | datetime, id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A plain event dict; ``id`` defaults to a fresh ``ev<N>``. ``ts`` may be a datetime or a string."""
    if id is None:
        _COUNTER[0] += 1
        id = f"ev{_COUNTER[0]}"
    if isinstance(ts, datetime):
        ts = ts.isoformat()
    return {"id": id, "kind": kind, "ts": ts, **fields}


def at(base: str, **delta: float) -> str:
    """``base`` (RFC 3339) shifted by ``timedelta(**delta)``, as RFC 3339."""
    dt = datetime.fromisoformat(base) + timedelta(**delta)
    return dt.isoformat()


def stream_all(events: Sequence[dict[str, Any]], ruleset: Ruleset, as_of: Any, engine: Engine,
               lateness: str = "0s", order: Sequence[int] | None = None) -> list[Finding]:
    """Push events one by one (in ``order`` if given), then advance to ``as_of``; all findings."""
    s = Stream(ruleset, allowed_lateness=lateness, engine=engine)
    idx = list(order) if order is not None else sorted(range(len(events)), key=lambda i: (_ts(events[i]), events[i]["id"]))
    if as_of is not None:  # a scan ignores events after its as-of time; a stream never sees them
        limit = _ts({"ts": as_of})
        idx = [i for i in idx if _ts(events[i]) <= limit]
    out: list[Finding] = []
    for i in idx:
        out.extend(s.push(events[i]))
    end = as_of if as_of is not None else (max((_ts(e) for e in events), default=None))
    if end is not None:
        out.extend(s.advance_to(end))
    assert not s.rejected, f"stream rejected records: {s.rejected[:3]}"
    return out


def _ts(e: dict[str, Any]) -> datetime:
    t = e["ts"]
    return t if isinstance(t, datetime) else datetime.fromisoformat(str(t).replace("Z", "+00:00")).astimezone(timezone.utc)


def run_all_ways(events: Sequence[dict[str, Any]], ruleset: Ruleset, as_of: Any = None, *, engine: Engine | None = None,
                 seed: int = 0, chunk_sizes: Sequence[int] = (1, 3, 65_536)) -> ScanResult:
    """Scan ``events`` in several orders and chunkings and as a stream; assert identical findings.

    Returns the reference batch result. Raises ``AssertionError`` naming the first difference.
    """
    engine = engine or ruleset.engine
    ref = engine.scan(list(events), ruleset, as_of)
    want = [f.model_dump(mode="json") for f in ref.findings]
    rnd = random.Random(seed)
    for size in chunk_sizes:
        shuffled = list(events)
        rnd.shuffle(shuffled)
        got = [f.model_dump(mode="json") for f in engine.scan(shuffled, ruleset, as_of, chunk_size=size).findings]
        _same(want, got, f"batch, shuffled input, chunk_size={size}")
    got = [f.model_dump(mode="json") for f in stream_all(events, ruleset, ref.as_of, engine)]
    _same(want, got, "stream, one event at a time")
    return ref


def _same(want: list[dict[str, Any]], got: list[dict[str, Any]], how: str) -> None:
    if want == got:
        return
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            raise AssertionError(f"{how}: finding #{i} differs:\n  batch: {a}\n  other: {b}")
    raise AssertionError(f"{how}: {len(want)} findings in the reference run, {len(got)} here:\n"
                         f"  extra: {(want if len(want) > len(got) else got)[min(len(want), len(got)):][:3]}")
