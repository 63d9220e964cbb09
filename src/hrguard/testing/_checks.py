"""Testing detectors: event factories, batch-versus-stream runs, and the conformance kit.

(PYTEST_DONT_REWRITE: the kit's failure messages are written to be read as they are, the same in
and out of pytest.)

The conformance kit is hrguard's ``check_estimator``: one call proves a detector keeps the contract
of :mod:`hrguard.detector` and spec/detectors.md. Give it the detector and a few events that make it
fire::

    from hrguard.testing import check_detector

    def test_my_detector_conforms():
        check_detector(MyDetector, events=[...], plugins=[my_plugin])

It runs every check of :data:`CHECKS` and raises one :class:`ConformanceError` naming each check that
failed and why. :func:`parametrize_with_checks` makes one pytest test per (case, check) instead, so a
failure report names the check::

    @parametrize_with_checks([DetectorCase(MyDetector, events=[...], plugins=[my_plugin])])
    def test_conformance(case, check):
        check(case)

``run_all_ways`` is the older, smaller tool: the same findings whatever the input order, the chunk
size, or batch versus streaming, for a whole ruleset.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from ..engine import Engine, ScanResult, Stream
from ..errors import ArgumentTypeError, ConformanceError, RulesetError, UnknownNameError
from ..events import to_datetime
from ..findings import Finding, Severity
from ..plugins.hookspecs import hookimpl
from ..rules import Ruleset
from ..sdk import Detector, DetectorParams
from ..sdk.state import dumps_state, loads_state

__all__ = [
    "CHECKS",
    "ConformanceError",
    "DetectorCase",
    "EventFactory",
    "KIND_DEFAULTS",
    "at",
    "check_detector",
    "event",
    "parametrize_with_checks",
    "run_all_ways",
    "stream_all",
]

_COUNTER = [0]


# ==================================================================================================
# event factories
# ==================================================================================================
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


#: Plain values for the required fields of the built-in kinds (and a few useful optional ones).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "employee.hired": {"role": "sales"},
    "employee.terminated": {},
    "payroll.settled": {"final": False},
    "site.registered": {"site_id": "S1", "name": "office", "lat": 31.2304, "lon": 121.4737},
    "customer.registered": {"customer_id": "C1", "name": "Customer C1", "lat": 31.2304, "lon": 121.4737},
    "customer.assigned": {"customer_id": "C1"},
    "customer.stage_changed": {"customer_id": "C1", "stage": "quoting"},
    "followup.logged": {"customer_id": "C1", "channel": "phone", "summary": "called"},
    "plan.submitted": {"items": []},
    "attendance.punched": {"direction": "in", "source": "gps", "lat": 31.2304, "lon": 121.4737, "accuracy_m": 10},
    "summary.submitted": {"claims": []},
    "approval.requested": {"request_id": "R1", "subject": "order"},
    "approval.decided": {"request_id": "R1", "step": "manager", "decision": "approved"},
    "order.recorded": {"order_id": "O1", "customer_id": "C1", "amount": 1000},
    "invoice.issued": {"invoice_id": "I1", "order_id": "O1"},
}
_DATED = {"plan.submitted": "date", "summary.submitted": "date", "employee.terminated": "last_day"}


class EventFactory:
    """Event dicts with fresh ids and a clock that only moves when told to.

    ``ev = EventFactory("2026-04-01T09:00:00+08:00")``; ``ev("attendance.punched", lat=..., lon=...)``
    makes one event at the clock (``ts=`` overrides it) with the id ``e1``, ``e2``...;
    ``ev.advance(hours=2)`` moves the clock. Fields the caller leaves out come from ``defaults``
    (per kind; the built-in kinds have :data:`KIND_DEFAULTS`), and ``employee_id`` from the factory.
    Dates (a plan's ``date``...) default to the clock's local date.
    """

    def __init__(self, start: str | datetime = "2026-04-01T09:00:00+00:00", *, prefix: str = "e",
                 employee_id: str | None = "E1", tenant: str | None = None,
                 defaults: Mapping[str, Mapping[str, Any]] | None = None):
        self.now = to_datetime(start, what="start")  # hrguard's one policy for instants (hrguard.timeutil)
        self.prefix = prefix
        self.employee_id = employee_id
        self.tenant = tenant
        self.defaults = {**KIND_DEFAULTS, **{k: dict(v) for k, v in (defaults or {}).items()}}
        self.made: list[dict[str, Any]] = []

    def __call__(self, kind: str, ts: str | datetime | None = None, *, id: str | None = None,
                 **fields: Any) -> dict[str, Any]:
        when = self.now if ts is None else (ts if isinstance(ts, datetime) else datetime.fromisoformat(ts))
        ev: dict[str, Any] = {"id": id or f"{self.prefix}{len(self.made) + 1}", "kind": kind, "ts": when.isoformat()}
        if self.employee_id is not None:
            ev["employee_id"] = self.employee_id
        if self.tenant is not None:
            ev["tenant"] = self.tenant
        if kind in _DATED:
            ev[_DATED[kind]] = when.date().isoformat()
        ev.update(copy.deepcopy(self.defaults.get(kind, {})))
        ev.update(fields)
        self.made.append(ev)
        return ev

    def advance(self, **delta: float) -> EventFactory:
        """Move the clock forward by ``timedelta(**delta)``; returns the factory (for chaining)."""
        self.now += timedelta(**delta)
        return self

    def at(self, ts: str | datetime) -> EventFactory:
        """Set the clock to ``ts``; returns the factory."""
        self.now = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
        return self


# ==================================================================================================
# running a ruleset all ways
# ==================================================================================================
def stream_all(events: Sequence[dict[str, Any]], ruleset: Ruleset, as_of: Any, engine: Engine,
               lateness: str = "0s", order: Sequence[int] | None = None) -> list[Finding]:
    """Push events one by one (in ``order`` if given), then advance to ``as_of``; all findings, in the
    order a scan lists them (a rule that defers work to ``advance_to`` releases its findings later)."""
    s = Stream(ruleset, allowed_lateness=lateness, engine=engine)
    idx = list(order) if order is not None else sorted(range(len(events)), key=lambda i: (_ts(events[i]), events[i]["id"]))
    if as_of is not None:  # a scan ignores events after its as-of time; a stream never sees them
        limit = _ts({"ts": as_of})
        idx = [i for i in idx if _ts(events[i]) <= limit]
    out: list[Finding] = []
    for i in idx:
        out.extend(s.push(events[i]))
    end = as_of if as_of is not None else (max((_ts(e) for e in events), default=None))
    if end is not None:  # advancing to end + lateness releases everything up to end
        out.extend(s.advance_to(_ts({"ts": end}) + timedelta(microseconds=s.lateness)))
    assert not s.rejected, f"stream rejected records: {s.rejected[:3]}"
    return sorted(out, key=Finding.sort_key)


def _ts(e: Mapping[str, Any]) -> datetime:
    t = e["ts"]
    return t if isinstance(t, datetime) else datetime.fromisoformat(str(t).replace("Z", "+00:00")).astimezone(timezone.utc)


def run_all_ways(events: Sequence[dict[str, Any]], ruleset: Ruleset, as_of: Any = None, *, engine: Engine | None = None,
                 seed: int = 0, chunk_sizes: Sequence[int] = (1, 3, 65_536)) -> ScanResult:
    """Scan ``events`` in several orders and chunkings and as a stream; assert identical findings.

    Returns the reference batch result. Raises ``AssertionError`` naming the first difference.
    """
    engine = engine or ruleset.engine
    ref = engine.scan(list(events), ruleset, as_of)
    want = _dump(ref.findings)
    rnd = random.Random(seed)
    for size in chunk_sizes:
        shuffled = list(events)
        rnd.shuffle(shuffled)
        _same(want, _dump(engine.scan(shuffled, ruleset, as_of, chunk_size=size).findings),
              f"batch, shuffled input, chunk_size={size}")
    _same(want, _dump(stream_all(events, ruleset, ref.as_of, engine)), "stream, one event at a time")
    return ref


def _dump(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [f.model_dump(mode="json") for f in findings]


def _same(want: list[dict[str, Any]], got: list[dict[str, Any]], how: str) -> None:
    if want == got:
        return
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            raise AssertionError(f"{how}: finding #{i} differs:\n  batch: {a}\n  other: {b}")
    raise AssertionError(f"{how}: {len(want)} findings in the reference run, {len(got)} here:\n"
                         f"  extra: {(want if len(want) > len(got) else got)[min(len(want), len(got)):][:3]}")


# ==================================================================================================
# the conformance kit
# ==================================================================================================
class _Only:
    """A plugin registering one detector class (for a detector no plugin of the engine registers)."""

    def __init__(self, detector: type[Detector]):
        self.detector = detector
        self.__name__ = f"conformance:{detector.id or detector.__name__}"

    @hookimpl
    def hrguard_register_detectors(self, register: Callable[[type[Detector]], None]) -> None:
        register(self.detector)


_REF = object()  # "the reference scan's as-of time"


@dataclass(eq=False)
class DetectorCase:
    """A detector and what the checks feed it: events that make it fire, params, plugins, as-of time.

    ``plugins`` are registered in a fresh engine (no installed plugins); give ``engine`` instead to
    use one you built. A detector that no plugin of the engine registers is registered for the run.
    ``bad_params`` are params (merged over ``params``) that must be rejected, besides the ones the
    kit makes itself. ``expect_findings=False`` states the events make no finding (then the checks
    that need findings have nothing to compare; prefer events that fire).
    """

    detector: type[Detector]
    events: Sequence[Mapping[str, Any]] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    plugins: Sequence[object] = ()
    engine: Engine | None = None
    as_of: Any = None
    timezone: str = "UTC"
    bad_params: Sequence[Mapping[str, Any]] = ()
    expect_findings: bool = True
    name: str = "under-test"
    label: str | None = None

    def __post_init__(self) -> None:
        self.events = [dict(e) for e in self.events]
        self.pristine = copy.deepcopy(self.events)  # what the events were before any check ran
        self._engine: Engine | None = None
        self._ref: ScanResult | None = None

    def __repr__(self) -> str:
        return f"DetectorCase({self.label or self.detector.id})"

    @property
    def id(self) -> str:
        return self.label or self.detector.id or self.detector.__name__

    # -- what the checks use -------------------------------------------------------------------------
    def fresh_engine(self) -> Engine:
        """A new engine with ``plugins`` (or the given engine itself), plus the detector when no plugin registers it."""
        eng = self.engine if self.engine is not None else Engine(list(self.plugins), entrypoints=False)
        det = self.detector
        if eng.detectors.get(det.id) is det:
            return eng
        if det.id in eng.detectors:
            raise AssertionError(
                f"the engine's detector {det.id!r} is {eng.detectors[det.id].__qualname__} (from plugin "
                f"{eng.registry.detectors[det.id].plugin!r}), not {det.__qualname__}: pass the engine or plugins "
                f"that register it")
        plugins = [p for name, p in eng.pm.list_name_plugin() if name != "hrguard.plugins.builtins"]
        return Engine([*plugins, _Only(det)], entrypoints=False)

    def engine_(self) -> Engine:
        if self._engine is None:
            self._engine = self.fresh_engine()
        return self._engine

    def rules(self, params: Mapping[str, Any] | None = None, language: str = "en") -> dict[str, Any]:
        return {"ruleset": "conformance", "language": language, "timezone": self.timezone,
                "rules": [{"use": self.detector.id, "name": self.name,
                           "params": dict(self.params if params is None else params)}]}

    def ruleset(self, language: str = "en", engine: Engine | None = None) -> Ruleset:
        return (engine or self.engine_()).load_ruleset(self.rules(language=language))

    def scan(self, events: Sequence[Mapping[str, Any]] | None = None, *, as_of: Any = _REF, language: str = "en",
             chunk_size: int = 65_536, engine: Engine | None = None) -> ScanResult:
        """Scan the case's events (or ``events``) as of the reference as-of time (or ``as_of``)."""
        eng = engine or self.engine_()
        when = self.reference().as_of if as_of is _REF else as_of
        return eng.scan(list(self.events if events is None else events), self.ruleset(language, eng), when,
                        chunk_size=chunk_size)

    def reference(self) -> ScanResult:
        """The batch scan everything else is compared with (computed once)."""
        if self._ref is None:
            eng = self.engine_()
            ref = eng.scan(list(self.events), self.ruleset(), self.as_of)
            if ref.rejected:
                raise AssertionError(f"the case's events are not valid input ({len(ref.rejected)} rejected), "
                                     f"e.g. {ref.rejected[0]}: fix the events (or register their kinds)")
            self._ref = ref
        return self._ref

    def as_of_dt(self) -> datetime | None:
        return self.reference().as_of


def _want(case: DetectorCase) -> list[dict[str, Any]]:
    return _dump(case.reference().findings)


def _require_findings(case: DetectorCase) -> None:
    if case.expect_findings and not case.reference().findings:
        raise AssertionError("the case's events make no finding, so there is nothing to compare: "
                             "give events that make the detector fire")


# -- the checks: each takes a DetectorCase and raises AssertionError saying what is wrong -----------
def check_class_attributes(case: DetectorCase) -> None:
    """The class declares an id, a title, a Params model, a default severity and the kinds it reads."""
    det = case.detector
    assert isinstance(det, type) and issubclass(det, Detector), f"{det!r} is not a hrguard.Detector subclass"
    assert isinstance(det.id, str) and re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", det.id or ""), (
        f"id {det.id!r} must be a dotted lower-case name like 'badge.after_hours'")
    assert isinstance(det.title, str) and det.title.strip(), f"{det.id}: title is empty: say in one line what it catches"
    assert isinstance(det.default_severity, Severity), f"{det.id}: default_severity {det.default_severity!r} is not a Severity"
    assert det.process is not Detector.process, f"{det.id}: process() is not implemented"
    assert isinstance(det.kinds, (frozenset, set)) and all(isinstance(k, str) for k in det.kinds), (
        f"{det.id}: kinds must be a frozenset of event kind names")
    unknown = sorted(set(det.kinds) - set(case.engine_().kinds))
    assert not unknown, f"{det.id}: kinds names event kinds no plugin registers: {unknown}"


def check_params_documented(case: DetectorCase) -> None:
    """Params subclasses DetectorParams (unknown keys forbidden); every field has a description;
    every optional field has a default; defaults survive a round trip through their JSON form."""
    det = case.detector
    P = det.Params
    assert isinstance(P, type) and issubclass(P, DetectorParams), f"{det.id}: Params must subclass hrguard.DetectorParams"
    assert P.model_config.get("extra") == "forbid", (
        f"{det.id}: Params must forbid unknown keys (model_config extra='forbid', as DetectorParams does), "
        f"got extra={P.model_config.get('extra')!r}")
    undocumented = [n for n, f in P.model_fields.items() if not (f.description or "").strip()]
    assert not undocumented, (
        f"{det.id}: parameters without a description: {undocumented} (Field(..., description=...)); "
        f"`hrguard detectors` and the JSON Schema show it")
    try:
        params = P.model_validate(dict(case.params))
    except Exception as exc:
        raise AssertionError(f"{det.id}: the case's params {dict(case.params)} are invalid: {exc}") from None
    required = [n for n, f in P.model_fields.items() if f.is_required()]
    missing = [n for n in required if n not in case.params]
    assert not missing, f"{det.id}: required parameters {missing} are not in the case's params"
    dumped = params.model_dump(mode="json")
    json.dumps(dumped)  # every value has a JSON (and so YAML) form
    again = P.model_validate(dumped)
    assert again == params, (f"{det.id}: params do not survive a round trip through their JSON form "
                             f"(what `hrguard detectors` shows and Ruleset.with_params uses): {params!r} -> "
                             f"{dumped} -> {again!r}")
    props = P.model_json_schema().get("properties", {})
    assert set(props) == set(P.model_fields), f"{det.id}: the params' JSON Schema lists {sorted(props)}"


_BAD_VALUES: tuple[Any, ...] = ({"__not_a_valid_value__": ["?"]}, ["__not_a_valid_value__"], "__not a valid value__",
                                -1e300)


def _load_yaml_ruleset(case: DetectorCase, params: Mapping[str, Any]) -> RulesetError | None:
    """Load the case's ruleset with ``params`` from a YAML file; the error, or None when it loads."""
    text = yaml.safe_dump(case.rules(params), sort_keys=False, allow_unicode=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "conformance.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            case.engine_().load_ruleset(path)
        except RulesetError as exc:
            return exc
    return None


def _assert_rejected(case: DetectorCase, params: Mapping[str, Any], names: str, what: str) -> None:
    err = _load_yaml_ruleset(case, params)
    assert err is not None, f"{case.detector.id}: params {what} were accepted: {json.dumps(dict(params), default=str)}"
    located = [p for p in err.problems if p.line is not None]
    assert located, f"{case.detector.id}: the error for params {what} gives no line: {err}"
    assert names in str(err), f"{case.detector.id}: the error for params {what} does not name {names!r}: {err}"


def check_bad_params_rejected(case: DetectorCase) -> None:
    """An unknown parameter, a value of the wrong type for each parameter, and the case's
    ``bad_params`` are each rejected when the ruleset loads, with a located error naming the parameter."""
    det = case.detector
    base = dict(case.params)
    _assert_rejected(case, {**base, "no_such_parameter": 1}, "no_such_parameter", "with an unknown key")
    for name in det.Params.model_fields:
        for bad in _BAD_VALUES:
            err = _load_yaml_ruleset(case, {**base, name: bad})
            if err is not None:
                assert name in str(err) and any(p.line is not None for p in err.problems), (
                    f"{det.id}: the error for {name}={bad!r} is not located or does not name {name!r}: {err}")
                break
        else:
            raise AssertionError(f"{det.id}: parameter {name!r} accepted every clearly wrong value "
                                 f"{list(_BAD_VALUES)}: give it a precise type (not Any)")
    for bad in case.bad_params:
        _assert_rejected(case, {**base, **bad}, next(iter(bad), ""), json.dumps(dict(bad), default=str))


def check_case_fires(case: DetectorCase) -> None:
    """The case's events are valid input and make the detector fire (else the other checks prove little)."""
    ref = case.reference()
    assert not ref.errors, f"the detector raised: {ref.errors[0]}"
    _require_findings(case)


def check_no_errors(case: DetectorCase) -> None:
    """The detector does not raise on the case's events, in batch or in any chunking."""
    for size in (65_536, 1):
        res = case.scan(chunk_size=size)
        assert not res.errors, f"chunk_size={size}: {res.errors[0]}"


def check_deterministic(case: DetectorCase) -> None:
    """Scanning the same events twice, with fresh engines and rulesets, gives identical findings."""
    want = _want(case)
    for run in (1, 2):
        got = _dump(case.scan(engine=case.fresh_engine()).findings)
        _same(want, got, f"run {run + 1} with a fresh engine")


def check_input_order(case: DetectorCase) -> None:
    """The order events arrive in does not change the findings (shuffled and reversed input)."""
    want = _want(case)
    orders = [list(reversed(case.events))]
    for seed in range(3):
        shuffled = list(case.events)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for i, events in enumerate(orders):
        _same(want, _dump(case.scan(events).findings), "reversed input" if i == 0 else f"shuffled input (seed {i - 1})")


def check_chunking(case: DetectorCase) -> None:
    """How events are cut into chunks does not change the findings (chunk sizes 1, 2, 3, 5, 8)."""
    want = _want(case)
    for size in (1, 2, 3, 5, 8):
        _same(want, _dump(case.scan(chunk_size=size).findings), f"batch, chunk_size={size}")


def _restoring(cls: type[Detector]) -> type[Detector]:
    """``cls`` whose instances, after every chunk, save their state to bytes and continue as a fresh
    instance restored from them (what a checkpointed stream does after a restart)."""

    class Restoring(cls):  # type: ignore[valid-type, misc]
        def process(self, chunk: Any) -> None:
            super().process(chunk)
            out, self._out = self._out, []
            state = loads_state(dumps_state(self.state_dict()))
            fresh = cls(self.params, self.ctx)
            fresh.load_state_dict(state)
            vars(self).clear()
            vars(self).update(vars(fresh))
            self._out = out

    Restoring.__name__, Restoring.__qualname__ = cls.__name__, cls.__qualname__
    return Restoring


def check_checkpoint(case: DetectorCase) -> None:
    """Saving the detector's state after any chunk (``state_dict``, to bytes and back) and going on
    with a fresh instance restored from it (``load_state_dict``) changes no finding (chunk sizes 1, 2,
    5, and a stream, where work deferred to ``advance_to`` is part of the state)."""
    want = _want(case)
    eng = case.engine_()
    rs = case.ruleset(engine=eng)
    rs = dataclasses.replace(rs, rules=tuple(dataclasses.replace(r, detector=_restoring(r.detector)) for r in rs.rules))
    for size in (1, 2, 5):
        res = eng.scan(list(case.events), rs, case.as_of_dt(), chunk_size=size)
        how = f"batch, chunk_size={size}, the state saved and restored after every chunk"
        assert not res.errors, f"{how}: {res.errors[0]}"
        _same(want, _dump(res.findings), how)
    _same(want, _dump(stream_all(case.events, rs, case.as_of_dt(), eng)),
          "stream, the state saved and restored after every push")


def check_batch_vs_stream(case: DetectorCase) -> None:
    """A Stream gives the same findings as a batch scan, each as soon as the stream's clock passes
    its moment (also when time passes with no events), and in any order within allowed lateness."""
    want = _want(case)
    eng = case.engine_()
    rs = case.ruleset()
    as_of = case.as_of_dt()
    _same(want, _dump(stream_all(case.events, rs, as_of, eng)), "stream, one event at a time")
    _stream_with_clock(case)
    if case.events:
        span = max(_ts(e) for e in case.events) - min(_ts(e) for e in case.events)
        lateness = f"{int(span.total_seconds()) + 1}s"
        order = list(range(len(case.events)))
        random.Random(7).shuffle(order)
        _same(want, _dump(stream_all(case.events, rs, as_of, eng, lateness=lateness, order=order)),
              f"stream, shuffled, allowed_lateness={lateness}")


def _stream_with_clock(case: DetectorCase) -> None:
    """Push the events instant by instant, advancing the clock twice through every gap between them
    (the second advance passes time with no event at all); after each step the stream must have
    released exactly the batch findings at or before its watermark. (After a push, a detector that
    defers work to ``advance_to`` — one that overrides :meth:`Detector.settle` — may still hold some.)"""
    want = case.reference().findings
    as_of = case.as_of_dt()
    s = Stream(case.ruleset(), engine=case.engine_())
    released: list[Finding] = []
    defers = case.detector.settle is not Detector.settle  # may keep work for advance_to

    def step(what: str, out: list[Finding]) -> None:
        released.extend(out)
        wm = _watermark(s)
        due = sorted(_dump(f for f in want if wm is not None and f.ts <= wm), key=_key)
        got = sorted(_dump(released), key=_key)
        how = f"stream with a clock, after {what} (watermark {wm and wm.isoformat()})"
        if defers and what.startswith("pushing"):  # a push need not wait for deferred work: a subset
            extra = [d for d in got if d not in due]
            assert not extra, f"{how}: released a finding a scan does not have by then: {extra[0]}"
            return
        _same(due, got, how)

    events = sorted((e for e in case.events if as_of is None or _ts(e) <= as_of), key=lambda e: (_ts(e), str(e["id"])))
    times = sorted({_ts(e) for e in events})
    for i, t in enumerate(times):
        step(f"pushing the events at {t.isoformat()}", [f for e in events if _ts(e) == t for f in s.push(e)])
        nxt = times[i + 1] if i + 1 < len(times) else as_of
        if nxt is not None and nxt - t > timedelta(microseconds=4):
            for frac in (2, 4 / 3):
                when = t + (nxt - t) / frac
                step(f"advance_to({when.isoformat()})", s.advance_to(when))
    if as_of is not None:
        step(f"advance_to({as_of.isoformat()})", s.advance_to(as_of))


def _key(d: dict[str, Any]) -> tuple[str, str]:
    return (str(d["ts"]), str(d["id"]))


def _watermark(s: Stream) -> datetime | None:
    from ..events import from_us

    wm = s.watermark
    return from_us(wm) if isinstance(wm, int) else wm


def _ids_in_input(case: DetectorCase) -> dict[str, datetime]:
    return {str(e["id"]): _ts(e) for e in case.events if "id" in e and "ts" in e}


def check_evidence_exists(case: DetectorCase) -> None:
    """Every finding cites evidence: ids of input events, each once, in the one order (ts, id)."""
    _require_findings(case)
    known = _ids_in_input(case)
    for f in case.reference().findings:
        assert f.evidence, f"finding {f.id} ({f.message!r}) cites no evidence"
        unknown = [e for e in f.evidence if e not in known]
        assert not unknown, f"finding {f.id} cites evidence ids that are not in the input: {unknown}"
        assert len(set(f.evidence)) == len(f.evidence), f"finding {f.id} cites an event twice: {f.evidence}"
        keys = [(known[e], e) for e in f.evidence]
        assert keys == sorted(keys), f"finding {f.id}: evidence is not in (ts, id) order: {f.evidence}"


_PLACEHOLDER = re.compile(r"\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}]*)?\}")


def check_findings_well_formed(case: DetectorCase) -> None:
    """rule is the detector id, name the instance name, severity valid, ts aware and neither earlier
    than its evidence nor later than as_of, a message without unfilled ``{fields}``, JSON details,
    findings in (ts, id) order with unique ids."""
    _require_findings(case)
    det = case.detector
    ref = case.reference()
    known = _ids_in_input(case)
    for f in ref.findings:
        where = f"finding {f.id} ({f.message!r})"
        assert f.rule == det.id, f"{where}: rule is {f.rule!r}, not the detector id {det.id!r}"
        assert f.name == case.name, f"{where}: name is {f.name!r}, not the rule instance name {case.name!r}"
        assert isinstance(f.severity, Severity), f"{where}: severity {f.severity!r} is not one of {[s.value for s in Severity]}"
        assert f.ts.tzinfo is not None, f"{where}: ts {f.ts} has no offset"
        late = [e for e in f.evidence if e in known and known[e] > f.ts]
        assert not late, f"{where}: ts {f.ts.isoformat()} is earlier than its evidence {late}"
        assert ref.as_of is None or f.ts <= ref.as_of, f"{where}: ts {f.ts.isoformat()} is after as_of {ref.as_of}"
        assert isinstance(f.message, str) and f.message.strip(), f"{where}: empty message"
        assert not _PLACEHOLDER.search(f.message), f"{where}: the message has an unfilled field"
        assert f.employee_id is None or isinstance(f.employee_id, str), f"{where}: employee_id {f.employee_id!r}"
        assert f.customer_id is None or isinstance(f.customer_id, str), f"{where}: customer_id {f.customer_id!r}"
        assert isinstance(f.details, dict), f"{where}: details is not an object"
        try:
            json.dumps(f.model_dump(mode="json")["details"])
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{where}: details are not JSON: {exc}") from None
    keys = [f.sort_key() for f in ref.findings]
    assert keys == sorted(keys), "findings are not in (ts, id) order"
    ids = [f.id for f in ref.findings]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    assert not dup, f"two findings share an id: {dup} (the subject key must tell findings apart)"


def _cuts(case: DetectorCase, most: int = 24) -> list[datetime]:
    """Earlier as-of times to cut the case at: each event's time and the instant just before it, and
    each finding's time (sampled down to ``most``), all before the reference as_of."""
    as_of = case.as_of_dt()
    tick = timedelta(microseconds=1)
    times = {t for e in case.events for t in (_ts(e), _ts(e) - tick)} | {f.ts for f in case.reference().findings}
    times = sorted(t for t in times if as_of is None or t < as_of)
    if len(times) > most:
        step = (len(times) - 1) / (most - 1)
        times = [times[round(i * step)] for i in range(most)]
    return times


def check_stable_ids(case: DetectorCase) -> None:
    """A finding keeps its id: ids are unique, the same in every run, and the same in a scan as of
    any earlier time (re-running never creates a second id for the same finding)."""
    _require_findings(case)
    ref = case.reference()
    ids = [f.id for f in ref.findings]
    assert len(set(ids)) == len(ids), f"finding ids are not unique: {sorted(i for i in ids if ids.count(i) > 1)}"
    again = [f.id for f in case.scan(engine=case.fresh_engine()).findings]
    assert again == ids, f"a second run gives other ids: {ids} then {again}"
    full = {(f.rule, f.name, f.ts, tuple(f.evidence)): f.id for f in ref.findings}
    for cut in _cuts(case):
        for f in case.scan(as_of=cut).findings:
            key = (f.rule, f.name, f.ts, tuple(f.evidence))
            assert full.get(key, f.id) == f.id, (
                f"scanned as of {cut.isoformat()}, the finding at {f.ts.isoformat()} citing {f.evidence} has id "
                f"{f.id}; scanned as of {ref.as_of}, {full[key]}")


def check_past_is_final(case: DetectorCase) -> None:
    """Later events never change a finding: a scan as of an earlier time T gives exactly the
    findings of the full scan whose ts is at or before T (only the past counts)."""
    _require_findings(case)
    findings = case.reference().findings
    for cut in _cuts(case):
        want = _dump(f for f in findings if f.ts <= cut)
        _same(want, _dump(case.scan(as_of=cut).findings), f"scan as of {cut.isoformat()} (vs. the full scan up to then)")


def check_input_not_mutated(case: DetectorCase) -> None:
    """Scanning and streaming leave the caller's event dicts (and what they hold) exactly as they were."""
    events = copy.deepcopy(case.pristine)
    ids_before = [id(e) for e in events]
    eng = case.engine_()
    eng.scan(events, case.ruleset(), case.as_of_dt(), chunk_size=1)
    changed = [e.get("id") for e, p in zip(events, case.pristine) if e != p]
    assert not changed and [id(e) for e in events] == ids_before, f"a batch scan changed the input events {changed}"
    stream_all(events, case.ruleset(), case.as_of_dt(), eng)
    changed = [e.get("id") for e, p in zip(events, case.pristine) if e != p]
    assert not changed, f"streaming changed the input events {changed}"
    changed = [e.get("id") for e, p in zip(case.events, case.pristine) if e != p]
    assert not changed, f"the other checks' scans changed the input events {changed}"


def check_empty_input(case: DetectorCase) -> None:
    """No events: no findings and no error, in a batch scan (with and without as_of), in a stream,
    and when the detector itself is given an empty chunk, fresh or after the case's events."""
    from ..columns import Chunk, ColumnBuilder, Interner
    from ..events import LocalClock, to_us
    from ..sdk import RuleContext

    eng = case.engine_()
    rs = case.ruleset()
    when = case.as_of_dt() or datetime(2026, 1, 1, tzinfo=timezone.utc)
    for as_of in (None, when):
        res = eng.scan([], rs, as_of)
        assert not res.errors, f"an empty scan (as_of={as_of}) raised: {res.errors[0]}"
        assert not res.findings, f"an empty scan (as_of={as_of}) found {len(res.findings)} findings"
    s = Stream(rs, engine=eng)
    s.advance_to(when)
    assert not s.errors and not s.findings, f"an empty stream: {s.errors[:1]} {s.findings[:1]}"
    rule = rs.rules[0]
    strings = Interner()
    det = rule.detector(rule.params, RuleContext(rule.name, rule.severity, rs.language, LocalClock(rs.timezone), strings))
    empty = ColumnBuilder(eng.layouts, strings).freeze()
    try:
        det.process(Chunk.empty(empty, to_us(when)))
    except Exception as exc:
        raise AssertionError(f"an empty chunk made the detector raise {type(exc).__name__}: {exc}") from None
    assert not det.drain(), "an empty chunk made a fresh detector fire"


_CJK = re.compile(r"[\u3400-\u9fff]")


def check_messages(case: DetectorCase) -> None:
    """Messages exist in en and zh for the same reasons; a zh ruleset gives the same findings with
    Chinese messages, every field filled in."""
    det = case.detector
    msgs = det.messages
    assert isinstance(msgs, Mapping) and {"en", "zh"} <= set(msgs), (
        f"{det.id}: messages must have 'en' and 'zh' templates, has {sorted(msgs) if isinstance(msgs, Mapping) else msgs!r}")
    assert set(msgs["en"]) == set(msgs["zh"]), (
        f"{det.id}: en and zh messages cover different reasons: en only {sorted(set(msgs['en']) - set(msgs['zh']))}, "
        f"zh only {sorted(set(msgs['zh']) - set(msgs['en']))}")
    for lang in ("en", "zh"):
        empty = [k for k, v in msgs[lang].items() if not (isinstance(v, str) and v.strip())]
        assert not empty, f"{det.id}: empty {lang} templates: {empty}"
    _require_findings(case)
    en = case.reference().findings
    zh = case.scan(language="zh").findings
    strip = lambda fs: [{k: v for k, v in d.items() if k != "message"} for d in _dump(fs)]  # noqa: E731
    _same(strip(en), strip(zh), "language zh (all but the message)")
    for f in zh:
        assert _CJK.search(f.message), f"finding {f.id}: the zh message is not in Chinese: {f.message!r}"
        assert not _PLACEHOLDER.search(f.message), f"finding {f.id}: the zh message has an unfilled field: {f.message!r}"


CHECKS: tuple[Callable[[DetectorCase], None], ...] = (
    check_class_attributes,
    check_params_documented,
    check_bad_params_rejected,
    check_case_fires,
    check_no_errors,
    check_deterministic,
    check_input_order,
    check_chunking,
    check_checkpoint,
    check_batch_vs_stream,
    check_evidence_exists,
    check_findings_well_formed,
    check_stable_ids,
    check_past_is_final,
    check_input_not_mutated,
    check_empty_input,
    check_messages,
)
"""Every conformance check, in the order :func:`check_detector` runs them."""


def _select(checks: Iterable[Callable | str] | None, skip: Iterable[Callable | str]) -> list[Callable[[DetectorCase], None]]:
    by_name = {c.__name__: c for c in CHECKS}

    def name(c: Callable | str) -> str:
        n = c if isinstance(c, str) else c.__name__
        n = n if n.startswith("check_") else f"check_{n}"
        if n not in by_name and not callable(c):
            raise UnknownNameError("checks", f"no conformance check {n!r}; checks: {', '.join(by_name)}")
        return n

    chosen = list(CHECKS) if checks is None else [c if callable(c) else by_name[name(c)] for c in checks]
    skipped = {name(c) for c in skip}
    return [c for c in chosen if c.__name__ not in skipped]


def _case(detector: type[Detector] | DetectorCase, **kw: Any) -> DetectorCase:
    if isinstance(detector, DetectorCase):
        if any(v not in (None, (), {}) for v in kw.values()):
            raise ArgumentTypeError("detector", "give either a DetectorCase or a detector class with keyword "
                                                "arguments, not both")
        return detector
    return DetectorCase(detector, **{k: v for k, v in kw.items() if v is not None})


def check_detector(detector: type[Detector] | DetectorCase, events: Sequence[Mapping[str, Any]] = (), *,
                   params: Mapping[str, Any] | None = None, engine: Engine | None = None,
                   plugins: Sequence[object] = (), as_of: Any = None, timezone: str | None = None,
                   bad_params: Sequence[Mapping[str, Any]] = (), expect_findings: bool | None = None,
                   checks: Iterable[Callable | str] | None = None, skip: Iterable[Callable | str] = ()) -> list[str]:
    """Run the conformance checks on a detector; raise :class:`ConformanceError` listing every failure.

    ``events`` should make the detector fire. ``checks`` (names or functions of :data:`CHECKS`)
    runs only those; ``skip`` leaves some out. Returns the names of the checks that ran (all passed).
    """
    case = _case(detector, events=events, params=params, engine=engine, plugins=plugins, as_of=as_of,
                 timezone=timezone, bad_params=bad_params, expect_findings=expect_findings)
    chosen = _select(checks, skip)
    failures: dict[str, str] = {}
    for check in chosen:
        try:
            check(case)
        except AssertionError as exc:
            failures[check.__name__] = str(exc)
        except Exception as exc:  # a check that cannot even run is a failure of that check
            failures[check.__name__] = f"{type(exc).__name__}: {exc}"
    if failures:
        raise ConformanceError(case.id, failures, len(chosen))
    return [c.__name__ for c in chosen]


def parametrize_with_checks(cases: Iterable[DetectorCase | type[Detector]], *, checks: Iterable[Callable | str] | None = None,
                            skip: Iterable[Callable | str] = ()) -> Any:
    """A ``pytest.mark.parametrize`` over every (case, check) pair, with ids like ``geofence.mismatch-chunking``.

    The decorated test takes ``case`` and ``check`` and calls ``check(case)``.
    """
    import pytest

    pairs, ids = [], []
    for c in cases:
        case = c if isinstance(c, DetectorCase) else DetectorCase(c)
        for check in _select(checks, skip):
            pairs.append((case, check))
            ids.append(f"{case.id}-{check.__name__.removeprefix('check_')}")
    return pytest.mark.parametrize("case, check", pairs, ids=ids)
