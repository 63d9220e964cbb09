"""The conformance checks: each takes a :class:`DetectorCase` and raises ``AssertionError`` saying what is wrong.

(PYTEST_DONT_REWRITE: see :mod:`hrguard.testing`.)
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..columns import Chunk
from ..engine import Runner, Stream
from ..events import to_us
from ..ingest import Intake
from ..errors import RulesetError
from ..findings import Finding, Severity
from ..sdk import Detector, DetectorParams
from ..sdk.state import dumps_state, loads_state
from ._case import DetectorCase, expected_findings, require_findings
from ._runs import assert_same, dump_findings, event_time, stream_all


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
    require_findings(case)


def check_no_errors(case: DetectorCase) -> None:
    """The detector does not raise on the case's events, in batch or in any chunking."""
    for size in (65_536, 1):
        res = case.scan(chunk_size=size)
        assert not res.errors, f"chunk_size={size}: {res.errors[0]}"


def check_deterministic(case: DetectorCase) -> None:
    """Scanning the same events twice, with fresh engines and rulesets, gives identical findings."""
    want = expected_findings(case)
    for run in (1, 2):
        got = dump_findings(case.scan(engine=case.fresh_engine()).findings)
        assert_same(want, got, f"run {run + 1} with a fresh engine")


def check_input_order(case: DetectorCase) -> None:
    """The order events arrive in does not change the findings (shuffled and reversed input)."""
    want = expected_findings(case)
    orders = [list(reversed(case.events))]
    for seed in range(3):
        shuffled = list(case.events)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for i, events in enumerate(orders):
        assert_same(want, dump_findings(case.scan(events).findings), "reversed input" if i == 0 else f"shuffled input (seed {i - 1})")


def check_chunking(case: DetectorCase) -> None:
    """How events are cut into chunks does not change the findings (chunk sizes 1, 2, 3, 5, 8)."""
    want = expected_findings(case)
    for size in (1, 2, 3, 5, 8):
        assert_same(want, dump_findings(case.scan(chunk_size=size).findings), f"batch, chunk_size={size}")


def _tied_variants(case: DetectorCase) -> list[tuple[str, list[dict[str, Any]]]]:
    """The case's events as they are, and two variants with ties the kit makes itself: every event of
    the 2nd, 4th, 6th... distinct instant moved to the instant before it (then the 3rd, 5th...), so
    events that were apart now share an instant and are ordered only by id."""
    events = [dict(e) for e in case.events]
    times = sorted({event_time(e) for e in events})
    out = [("the case's events", events)]
    for first in (0, 1):
        onto = {times[i + 1]: times[i] for i in range(first, len(times) - 1, 2)}
        if not onto:
            continue
        text = {event_time(e): e["ts"] for e in events}  # an instant as the case wrote it
        moved = [{**e, "ts": text[onto[event_time(e)]]} if event_time(e) in onto else e for e in events]
        which = "2nd, 4th" if first == 0 else "3rd, 5th"
        out.append((f"the {which}... instants moved onto the instant before", moved))
    return out


def _scan_cutting_instants(case: DetectorCase, events: list[dict[str, Any]], as_of: datetime | None) -> Any:
    """A batch scan that gives the detector one event per chunk and cuts every instant between its
    events: a chunk that ends inside an instant is complete only up to the microsecond before it
    (``upto = ts - 1``), so it fires no timer of that instant; the instant's last event's chunk has
    ``upto = ts``. A detector that judges each event with the events before it in (ts, id) only gives
    the findings of an uncut scan."""
    eng = case.engine_()
    intake = Intake(eng)
    for _ in intake.read(list(events)):
        pass
    as_of_us = to_us(as_of) if as_of is not None else None
    frame = intake.release_all(as_of_us)
    runner = Runner(case.ruleset(engine=eng), intake.strings)
    ts = frame.ts
    for i in range(len(frame)):
        last = i + 1 == len(frame) or int(ts[i + 1]) != int(ts[i])
        runner.feed(Chunk(frame, np.arange(i, i + 1), int(ts[i]) if last else int(ts[i]) - 1))
    if as_of_us is not None and (not len(frame) or as_of_us > int(ts[-1])):
        runner.feed(Chunk.empty(frame, as_of_us))
    return runner.result(intake, as_of_us if as_of_us is not None else (int(ts[-1]) if len(frame) else None))


def check_same_instant(case: DetectorCase) -> None:
    """Events at one instant are judged in the one order (ts, id): judging an event, a detector uses only
    the events before it, never a later event of the same instant. The kit makes ties (it moves every
    other instant's events onto the instant before) and cuts every instant between its events (the
    first part complete only up to the microsecond before, so no timer of the instant fires early):
    the findings must be those of an uncut scan."""
    as_of = case.as_of_dt()
    eng = case.engine_()
    for what, events in _tied_variants(case):
        ref = eng.scan(list(events), case.ruleset(engine=eng), as_of)
        if ref.rejected:
            continue  # moving an event made it invalid (none of the built-in kinds does): nothing to compare
        cut = _scan_cutting_instants(case, events, as_of)
        how = f"{what}, every instant cut between its events (one event per chunk)"
        assert not cut.errors, f"{how}: {cut.errors[0]}"
        assert_same(dump_findings(ref.findings), dump_findings(cut.findings), how)


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


def _same_with(case: DetectorCase, wrap: Any, after: str) -> None:
    """The case's findings, with every rule's detector class wrapped by ``wrap``, in scans of chunk sizes 1,
    2 and 5 and in a stream, equal the reference's (``after`` says what the wrapper does, for messages)."""
    want = expected_findings(case)
    eng = case.engine_()
    rs = case.ruleset(engine=eng)
    rs = dataclasses.replace(rs, rules=tuple(dataclasses.replace(r, detector=wrap(r.detector)) for r in rs.rules))
    for size in (1, 2, 5):
        res = eng.scan(list(case.events), rs, case.as_of_dt(), chunk_size=size)
        how = f"batch, chunk_size={size}, {after} after every chunk"
        assert not res.errors, f"{how}: {res.errors[0]}"
        assert_same(want, dump_findings(res.findings), how)
    assert_same(want, dump_findings(stream_all(case.events, rs, case.as_of_dt(), eng)), f"stream, {after} after every push")


def check_checkpoint(case: DetectorCase) -> None:
    """Saving the detector's state after any chunk (``state_dict``, to bytes and back) and going on
    with a fresh instance restored from it (``load_state_dict``) changes no finding (chunk sizes 1, 2,
    5, and a stream, where work deferred to ``advance_to`` is part of the state)."""
    _same_with(case, _restoring, "the state saved and restored")


def _expiring(cls: type[Detector]) -> type[Detector]:
    """``cls`` whose instances forget what is out of reach (:meth:`~hrguard.Detector.expire`) after every
    chunk, rather than once a day as the engine does."""

    class Expiring(cls):  # type: ignore[valid-type, misc]
        def process(self, chunk: Any) -> None:
            super().process(chunk)
            self.expire(chunk.upto)

    Expiring.__name__, Expiring.__qualname__ = cls.__name__, cls.__qualname__
    return Expiring


def check_expire(case: DetectorCase) -> None:
    """Forgetting what no later event can reach (``expire(upto)``) after every chunk changes no finding:
    what a rule forgets must be what its own horizons already put out of its reach (chunk sizes 1, 2, 5,
    and a stream)."""
    _same_with(case, _expiring, "expire()")


def check_batch_vs_stream(case: DetectorCase) -> None:
    """A Stream gives the same findings as a batch scan, each as soon as the stream's clock passes
    its moment (also when time passes with no events), and in any order within allowed lateness."""
    want = expected_findings(case)
    eng = case.engine_()
    rs = case.ruleset()
    as_of = case.as_of_dt()
    assert_same(want, dump_findings(stream_all(case.events, rs, as_of, eng)), "stream, one event at a time")
    _stream_with_clock(case)
    if case.events:
        span = max(event_time(e) for e in case.events) - min(event_time(e) for e in case.events)
        lateness = f"{int(span.total_seconds()) + 1}s"
        order = list(range(len(case.events)))
        random.Random(7).shuffle(order)
        assert_same(want, dump_findings(stream_all(case.events, rs, as_of, eng, lateness=lateness, order=order)),
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
        due = sorted(dump_findings(f for f in want if wm is not None and f.ts <= wm), key=_key)
        got = sorted(dump_findings(released), key=_key)
        how = f"stream with a clock, after {what} (watermark {wm and wm.isoformat()})"
        if defers and what.startswith("pushing"):  # a push need not wait for deferred work: a subset
            extra = [d for d in got if d not in due]
            assert not extra, f"{how}: released a finding a scan does not have by then: {extra[0]}"
            return
        assert_same(due, got, how)

    events = sorted((e for e in case.events if as_of is None or event_time(e) <= as_of), key=lambda e: (event_time(e), str(e["id"])))
    times = sorted({event_time(e) for e in events})
    for i, t in enumerate(times):
        step(f"pushing the events at {t.isoformat()}", [f for e in events if event_time(e) == t for f in s.push(e)])
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
    return {str(e["id"]): event_time(e) for e in case.events if "id" in e and "ts" in e}


def check_evidence_exists(case: DetectorCase) -> None:
    """Every finding cites evidence: ids of input events, each once, in the one order (ts, id)."""
    require_findings(case)
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
    require_findings(case)
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
    times = {t for e in case.events for t in (event_time(e), event_time(e) - tick)} | {f.ts for f in case.reference().findings}
    times = sorted(t for t in times if as_of is None or t < as_of)
    if len(times) > most:
        step = (len(times) - 1) / (most - 1)
        times = [times[round(i * step)] for i in range(most)]
    return times


def check_stable_ids(case: DetectorCase) -> None:
    """A finding keeps its id: ids are unique, the same in every run, and the same in a scan as of
    any earlier time (re-running never creates a second id for the same finding)."""
    require_findings(case)
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
    require_findings(case)
    findings = case.reference().findings
    for cut in _cuts(case):
        want = dump_findings(f for f in findings if f.ts <= cut)
        assert_same(want, dump_findings(case.scan(as_of=cut).findings), f"scan as of {cut.isoformat()} (vs. the full scan up to then)")


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
    require_findings(case)
    en = case.reference().findings
    zh = case.scan(language="zh").findings
    strip = lambda fs: [{k: v for k, v in d.items() if k != "message"} for d in dump_findings(fs)]  # noqa: E731
    assert_same(strip(en), strip(zh), "language zh (all but the message)")
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
    check_same_instant,
    check_checkpoint,
    check_expire,
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
