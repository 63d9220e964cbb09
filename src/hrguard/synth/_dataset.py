"""The generator behind ``hrguard synth``: a company lived day by day, written as events and labels."""


from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ._day import RepDay
from ._model import SynthConfig
from ._scenarios import SCENARIOS

try:  # orjson is optional; both encoders write the same bytes for these records
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


GENERATOR = "hrguard.synth/1"


@dataclass(frozen=True)
class SynthDay:
    """One calendar day: its events in time order, and the labels of injections that ended by it."""

    date: date
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]


class Synth:
    """The generator. Iterate :meth:`days` (or :meth:`events`) once; nothing is produced before it is asked for."""

    def __init__(self, config: SynthConfig | None = None, **kwargs: Any):
        self.config = config if config is not None else SynthConfig(**kwargs)
        self._co = RepDay(self.config)
        self._co.staff()
        self._co.plan_injections()
        self.days_done = 0
        self.labels: list[dict[str, Any]] = []  # filled by :meth:`events`

    @property
    def roster(self) -> dict[str, str]:
        """Everyone who worked here so far: employee id -> role."""
        return dict(self._co.roster)

    def days(self) -> Iterator[SynthDay]:
        """Each day's events in time order, day after day. The first day's import of the company's existing
        records (07:00-07:44, before anyone starts work) comes first, as separate parts of at most 1,000
        reps' customers each, dated the first day; :attr:`days_done` counts the days finished."""
        co, cfg = self._co, self.config
        for di in range(cfg.days):
            co.begin(di)
            if di == 0:
                for _ in co.setup():
                    yield SynthDay(co.day, co.flush(), [])
            co.run_due()
            if co.workday(di):
                co.payroll()
                co.hr_day()
                co.office_day()
                for rep in list(co.reps):
                    co.rep_day(rep)
            if di == cfg.days - 1:
                co.close_all()
            events = co.flush()
            labels, co.done = co.done, []
            self.days_done = di + 1
            yield SynthDay(co.day, events, labels)

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event in time order; the labels gather in :attr:`labels` as their injections end."""
        for day in self.days():
            self.labels.extend(day.labels)
            yield from day.events


def generate(employees: int = 20, days: int = 30, seed: int = 1, **kwargs: Any) -> Synth:
    """A :class:`Synth` for these settings (see :class:`SynthConfig` for the others)."""
    return Synth(SynthConfig(employees=employees, days=days, seed=seed, **kwargs))


@dataclass
class SynthResult:
    """What :func:`write_dataset` wrote."""

    out: Path
    events: int
    labels: int
    by_kind: dict[str, int] = field(default_factory=dict)
    by_scenario: dict[str, int] = field(default_factory=dict)
    employees: int = 0
    seconds: float = 0.0

    @property
    def files(self) -> list[Path]:
        return [self.out / "events.jsonl", self.out / "labels.jsonl", self.out / "meta.json"]


def write_dataset(out: str | Path, config: SynthConfig | None = None, **kwargs: Any) -> SynthResult:
    """Write ``events.jsonl``, ``labels.jsonl`` and ``meta.json`` to the folder ``out`` (created if needed).

    Events are written day by day as they are generated. ``meta.json`` holds the configuration, the
    counts, and the roster (employee id -> role) a quality report needs to count honest employees.
    """
    t0 = time.perf_counter()
    synth = Synth(config, **kwargs)
    cfg = synth.config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_kind: Counter[str] = Counter()
    by_scenario: Counter[str] = Counter()
    n_events = n_labels = 0
    with open(out / "events.jsonl", "wb") as ev_fh, open(out / "labels.jsonl", "wb") as lab_fh:
        for day in synth.days():
            ev_fh.write(b"".join(_dumps(e) + b"\n" for e in day.events))
            for e in day.events:
                by_kind[e["kind"]] += 1
            n_events += len(day.events)
            for lab in day.labels:
                lab_fh.write(_dumps(lab) + b"\n")
                by_scenario[lab["scenario"]] += 1
            n_labels += len(day.labels)
    meta = {
        "generator": GENERATOR,
        "config": {**asdict(cfg), "start": cfg.start.isoformat()},
        "first_day": cfg.start.isoformat(),
        "last_day": (cfg.start + timedelta(days=cfg.days - 1)).isoformat(),
        "timezone": "Asia/Shanghai",
        "events": n_events,
        "events_by_kind": dict(sorted(by_kind.items())),
        "labels": n_labels,
        "labels_by_scenario": {k: by_scenario.get(k, 0) for k in SCENARIOS},
        "scenarios": {k: {"kind": s.kind, "expected_rules": list(s.expected_rules), "what": s.what}
                      for k, s in SCENARIOS.items()},
        "roster": synth.roster,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return SynthResult(out, n_events, n_labels, dict(sorted(by_kind.items())),
                       {k: by_scenario.get(k, 0) for k in SCENARIOS}, len(meta["roster"]), time.perf_counter() - t0)
