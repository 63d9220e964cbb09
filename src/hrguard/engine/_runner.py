"""The one path from chunks to findings: every rule instance (one set per tenant) fed in order, its failures
isolated, scope and exceptions applied."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..columns import Chunk, Frame, Interner
from ..errors import DetectorError, HrguardError, StateError
from ..events import LocalClock, from_us, to_us
from ..findings import Finding
from ..ingest import Intake
from ..rules import Rule, Ruleset
from ..sdk import Detector, RuleContext
from ._result import ScanResult

log = logging.getLogger("hrguard")


DEFAULT_CHUNK = 65_536
"""Events per chunk a batch scan gives the detectors."""

_NEVER = np.iinfo(np.int64).max  # a due time no chunk reaches (``next_due() is None``)


class _Rules:
    """One tenant's rule instances, indexed for dispatch: who reads which kind, and who is due when.

    A stream feeds one event at a time, so asking twelve rules whether they care costs as much as
    judging the event. Here the answer is precomputed: ``readers(kind)`` is the (cached) list of the
    rules reading that kind, in rule order, and ``due`` holds each rule's :meth:`Detector.next_due`,
    asked again only after the rule processed a chunk (a detector's timers change only then), with
    ``min_due`` their minimum: a chunk ending before ``min_due`` wakes no rule for its timers.
    """

    __slots__ = ("entries", "due", "min_due", "live", "_readers", "correlations")

    def __init__(self, entries: list[tuple[Rule, Detector]]):
        self.entries = entries
        self.correlations = [i for i, (_, det) in enumerate(entries) if det.reads_findings]  # run after the rest
        self.live = [True] * len(entries)  # False once the rule failed (disabled for the rest of the run)
        self.due = [_due(det) for _, det in entries]
        self.min_due = min(self.due, default=_NEVER)
        self._readers: dict[str, list[int]] = {}

    def readers(self, kind: str) -> list[int]:
        """The live rules reading ``kind`` events (a detector with no ``kinds`` reads all), in rule order."""
        out = self._readers.get(kind)
        if out is None:
            out = self._readers[kind] = [
                i for i, (_, det) in enumerate(self.entries) if self.live[i] and (not det.kinds or kind in det.kinds)
            ]
        return out

    def to_run(self, kinds: Sequence[str], upto: int) -> list[int]:
        """The rules a chunk with events of ``kinds``, complete up to ``upto``, must be given, in rule order.

        A rule reading none of the kinds is skipped unless one of its timers is due by ``upto``:
        skipping it cannot change a finding. (A chunk with no events holds none of any kind's, even
        for a detector reading every kind.)
        """
        run = self.readers(kinds[0]) if len(kinds) == 1 else sorted({i for k in kinds for i in self.readers(k)})
        if self.min_due > upto:
            return run
        timers = [i for i, d in enumerate(self.due) if d <= upto and self.live[i]]
        return sorted(set(run).union(timers)) if run else timers

    def processed(self, i: int) -> None:
        """Rule ``i`` has processed a chunk: its timers may have changed."""
        due = self.due
        old, due[i] = due[i], _due(self.entries[i][1])
        if due[i] < self.min_due:
            self.min_due = due[i]
        elif old == self.min_due and due[i] > old:
            self.min_due = min(due)

    def disable(self, i: int) -> None:
        self.live[i] = False
        self.due[i] = _NEVER
        self.min_due = min(self.due)
        self._readers.clear()


def _due(det: Detector) -> int:
    try:
        due = det.next_due()
    except Exception as exc:  # noqa: BLE001 - a plugin's next_due that raises: the rule is disabled (see processed)
        det._failed = exc  # type: ignore[attr-defined]
        return _NEVER
    return _NEVER if due is None else due


class _Unbuilt(Detector):
    """The place of a rule whose detector raised in its constructor: never run, its error reported."""

    id = "(unbuilt)"
    title = "a rule whose detector could not be built"

    def next_due(self) -> int | None:
        return None

    def process(self, chunk: Any) -> None:  # pragma: no cover - a disabled rule is never given a chunk
        raise HrguardError(f"an unbuilt rule was run: {self.ctx.name}")


class Runner:
    """Feeds chunks to every rule instance (one set per tenant), then applies scope and exceptions."""

    #: how far a tenant's time moves (µs) between two calls of its rules' :meth:`Detector.expire` (a day;
    #: the conformance kit sets 0: after every chunk)
    expire_every: int = 86_400_000_000

    def __init__(self, ruleset: Ruleset, strings: Interner, streaming: bool = False):
        self.ruleset = ruleset
        self.strings = strings
        self.streaming = streaming  # detectors may defer work until settle() (RuleContext.streaming)
        self.clock = LocalClock(ruleset.timezone)
        self.instances: dict[int, list[tuple[Rule, Detector]]] = {}
        self._rules: dict[int, _Rules] = {}
        self._prepared: dict[int, list[tuple[Rule, Detector]]] = {}  # built ahead (see prepare), not yet in use
        self.errors: list[DetectorError] = []
        self.findings: list[Finding] = []
        self.keep_findings = True  # False: the new findings are only returned (a stream keeps them itself)
        self.keep_suppressed = True  # False: suppressed findings are dropped (a stream with keep=False)
        self.suppressed: list[Finding] = []
        # (tenant, employee) -> ([ts], [(role, department)]) for scope "as known at the finding's ts"
        self.directory: dict[tuple[int, int], tuple[list[int], list[tuple[str | None, str | None]]]] = {}
        self._expired: dict[int, int] = {}  # tenant -> the time its rules last forgot what is out of reach
        self._time: dict[int, int] = {}  # tenant -> the ``upto`` of its last chunk
        self._kinds = frozenset(ruleset.engine.kinds) if ruleset.engine is not None else None

    def _instances(self, tenant: int) -> list[tuple[Rule, Detector]]:
        return self._rules_of(tenant).entries

    def _rules_of(self, tenant: int) -> _Rules:
        rules = self._rules.get(tenant)
        if rules is None:
            inst = self._prepared.pop(tenant, None)
            if inst is None:
                inst = self._build(tenant)
            self.instances[tenant] = inst
            rules = self._rules[tenant] = _Rules(inst)
            self._disable_failed(rules)
        return rules

    def _disable_failed(self, rules: _Rules) -> None:
        """Disable, and report, the rules whose detector raised in its constructor or ``next_due``."""
        for i, (rule, det) in enumerate(rules.entries):
            exc = getattr(det, "_failed", None)
            if exc is not None and rules.live[i]:
                err = DetectorError(rule.name, rule.use, exc)
                log.error("%s; the rule is disabled for the rest of this run", err)
                self.errors.append(err)
                rules.disable(i)

    def _build(self, tenant: int) -> list[tuple[Rule, Detector]]:
        tname = self.strings.text(tenant)
        inst: list[tuple[Rule, Detector]] = []
        for rule in self.ruleset.rules:
            ctx = RuleContext(rule.name, rule.severity, self.ruleset.language, self.clock, self.strings, tname,
                              self.streaming, self._kinds)
            try:
                det = rule.detector(rule.params, ctx)
            except Exception as exc:  # a plugin's constructor that raises disables its rule, reported (never the run)
                det = _Unbuilt(rule.params, ctx)
                det._failed = exc  # type: ignore[attr-defined]
            inst.append((rule, det))
        return inst

    def prepare(self, tenant: int) -> None:
        """Build ``tenant``'s rule instances now, to be used when its first events come (a stream does this
        for the default tenant when it starts, so that no push pays the rules' set-up: the forest's
        scikit-learn import took 1.4-1.9 s of CPU inside the first push that released an event).

        Nothing else changes: a prepared tenant is not a known tenant until it has events, and a rule
        whose set-up fails here is built (and fails) again then, as it would have without this."""
        if tenant in self._rules or tenant in self._prepared:
            return
        try:
            self._prepared[tenant] = self._build(tenant)
        except Exception:  # noqa: BLE001 - reported where it always was: when the tenant's events come
            pass

    def _learn_directory(self, chunk: Chunk) -> None:
        rows = chunk.rows("employee.hired")
        if rows.size == 0:
            return
        f = chunk.frame
        roles = self.strings.texts(chunk.col("employee.hired", "role"))
        depts = self.strings.texts(chunk.col("employee.hired", "department"))
        for r, role, dept in zip(rows.tolist(), roles, depts):
            key = (int(f.tenant[r]), int(f.employee[r]))
            ts_list, vals = self.directory.setdefault(key, ([], []))
            ts_list.append(int(f.ts[r]))
            vals.append((role, dept))

    def feed(self, chunk: Chunk) -> list[Finding]:
        """Give one chunk to every rule instance; return the new in-scope findings in (ts, id) order."""
        self._learn_directory(chunk)
        n = len(chunk)
        f = chunk.frame
        text = self.strings.text
        if n == 1:  # a stream's usual chunk: one tenant, one kind
            row = int(chunk.idx[0])
            parts = [(int(f.tenant[row]), chunk, (text(int(f.kind[row])),))]
        elif n:
            tenants = f.tenant[chunk.idx]
            parts = [(int(tenants[0]), chunk, None)] if (tenants == tenants[0]).all() else [
                (int(t), chunk.select(tenants == t), None) for t in np.unique(tenants)
            ]
        else:
            parts = []
        present = {p[0] for p in parts}  # tenants with no events here still need time to pass:
        parts += [(t, Chunk.empty(f, chunk.upto), ()) for t in self._rules if t not in present]
        return self._run(parts)

    def feed_tenant(self, tenant: int, chunk: Chunk) -> list[Finding]:
        """Give one chunk of ``tenant``'s events (empty: its time passes to ``chunk.upto``) to that tenant's
        rules only: the other tenants' time stands still (a bounded scan's tenants each have a clock).
        A tenant with no events yet is not built for an empty chunk (as :meth:`feed` does not)."""
        if not len(chunk):
            if tenant not in self._rules:
                return []
            return self._run([(tenant, chunk, ())])
        self._learn_directory(chunk)
        return self._run([(tenant, chunk, None)])

    def _run(self, parts: list[tuple[int, Chunk, Sequence[str] | None]]) -> list[Finding]:
        """Each ``(tenant, chunk, kinds or None)`` to the tenant's rules; the new in-scope findings in (ts, id) order."""
        text = self.strings.text
        new: list[Finding] = []
        for tenant, part, kinds in parts:
            if kinds is None:
                kinds = [text(k) for k in np.unique(part.frame.kind[part.idx]).tolist()]
            rules = self._rules_of(tenant)
            mine: list[Finding] = []
            for i in rules.to_run(kinds, part.upto):
                rule, det = rules.entries[i]
                if det.reads_findings:
                    continue  # after the others: it reads their findings
                out = self._guarded(rules, i, det.process, part)
                if out is None:
                    continue
                rules.processed(i)
                if getattr(det, "_failed", None) is not None:
                    self._disable_failed(rules)
                for finding in out:
                    self._place(rule, tenant, finding, mine)
            for i in rules.correlations:  # in rule order: each sees the other rules' findings and earlier correlations'
                if not rules.live[i]:
                    continue
                rule, det = rules.entries[i]
                out = self._guarded(rules, i, det.process_with, part, sorted(mine, key=Finding.sort_key))  # type: ignore[attr-defined]
                for finding in out or ():
                    self._place(rule, tenant, finding, mine)
            new.extend(mine)
            self._time[tenant] = part.upto
            if not self.streaming:  # a stream forgets at settle (advance_to): a push never pays for it
                self._expire(tenant, rules, part.upto)
        if new:
            new.sort(key=Finding.sort_key)
            if self.keep_findings:
                self.findings.extend(new)
        return new

    def _guarded(self, rules: _Rules, i: int, call: Any, *args: Any) -> list[Finding] | None:
        """``call(*args)`` of rule ``i``'s detector, then its drained findings; ``None`` when it raised: a
        detector never takes the engine down silently — its rule is disabled for the rest of the run,
        the error reported (logged, and in ``errors``)."""
        rule, det = rules.entries[i]
        try:
            call(*args)
            return det.drain()
        except Exception as exc:  # noqa: BLE001 - any failure of a rule's code, built-in or plugin
            err = DetectorError(rule.name, rule.use, exc)
            log.error("%s; the rule is disabled for the rest of this run", err)
            self.errors.append(err)
            rules.disable(i)
            det.drain()
            return None

    def _expire(self, tenant: int, rules: _Rules, upto: int) -> None:
        """Let the tenant's rules forget what no event after ``upto`` can reach (:meth:`Detector.expire`),
        once every :attr:`expire_every` of the tenant's time. When it happens never changes a finding."""
        last = self._expired.get(tenant)
        if last is not None and upto - last < self.expire_every:
            return
        self._expired[tenant] = upto
        for i, (_, det) in enumerate(rules.entries):
            if rules.live[i]:
                self._guarded(rules, i, det.expire, upto)

    def settle(self) -> list[Finding]:
        """Let every rule report the work it deferred (:meth:`Detector.settle`) and, in a stream, forget what is
        out of reach (:meth:`Detector.expire`); the new findings, in (ts, id) order."""
        new: list[Finding] = []
        for tenant, rules in self._rules.items():
            for i, (rule, det) in enumerate(rules.entries):
                if rules.live[i]:
                    for finding in self._guarded(rules, i, det.settle) or ():
                        self._place(rule, tenant, finding, new)
            if self.streaming and tenant in self._time:
                self._expire(tenant, rules, self._time[tenant])
        new.sort(key=Finding.sort_key)
        if self.keep_findings:
            self.findings.extend(new)
        return new

    def _place(self, rule: Rule, tenant: int, finding: Finding, new: list[Finding]) -> None:
        if not self._in_scope(rule, tenant, finding):
            return
        local_date = finding.ts.date()
        for exc in rule.exceptions:
            if exc.employees is not None and finding.employee_id not in exc.employees:
                continue
            if exc.customers is not None and finding.customer_id not in exc.customers:
                continue
            if exc.until is not None and local_date > exc.until:
                continue
            if self.keep_suppressed:
                self.suppressed.append(finding.model_copy(update={"suppressed_by": exc.reason}))
            return
        new.append(finding)

    def _in_scope(self, rule: Rule, tenant: int, finding: Finding) -> bool:
        scope = rule.scope
        if not (scope.roles or scope.departments or scope.employees):
            return True
        emp = finding.employee_id
        if scope.employees and emp not in scope.employees:
            return False
        if scope.roles or scope.departments:
            role = dept = None
            entry = self.directory.get((tenant, self.strings.find(emp))) if emp is not None else None
            if entry is not None:
                i = bisect.bisect_right(entry[0], to_us(finding.ts)) - 1
                if i >= 0:
                    role, dept = entry[1][i]
            if scope.roles and role not in scope.roles:
                return False
            if scope.departments and dept not in scope.departments:
                return False
        return True

    # -- saving -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything the runner carries (every tenant's rules' state, which rules are disabled, the
        directory, the findings and errors so far) as arrays and JSON; the strings' codes are the
        interner's, saved with it by the caller."""
        tenants = []
        for tenant, rules in sorted(self._rules.items()):
            tenants.append({
                "tenant": tenant,
                "live": list(rules.live),
                "rules": [{"name": rule.name, "state": det.state_dict()} for rule, det in rules.entries],
            })
        return {
            "tenants": tenants,
            "directory": [[t, e, ts, [list(v) for v in vals]] for (t, e), (ts, vals) in sorted(self.directory.items())],
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "suppressed": [f.model_dump(mode="json") for f in self.suppressed],
            "errors": [{"rule": e.rule, "detector": e.detector, "cause": type(e.cause).__name__, "message": str(e.cause)}
                       for e in self.errors],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved into a fresh runner of the same ruleset."""
        try:
            for t in state["tenants"]:
                tenant = int(t["tenant"])
                self._prepared.pop(tenant, None)
                inst = self._build(tenant)
                names = [r["name"] for r in t["rules"]]
                if names != [rule.name for rule, _ in inst]:
                    raise StateError(f"the saved rules {names} are not this ruleset's "
                                     f"{[rule.name for rule, _ in inst]}")
                for (_, det), saved in zip(inst, t["rules"]):
                    det.load_state_dict(saved["state"])
                self.instances[tenant] = inst
                rules = self._rules[tenant] = _Rules(inst)
                for i, live in enumerate(t["live"]):
                    if not live:
                        rules.disable(i)
            self.directory = {(int(t), int(e)): (list(ts), [tuple(v) for v in vals])
                              for t, e, ts, vals in state["directory"]}
            self.findings = [Finding.model_validate(f) for f in state["findings"]]
            self.suppressed = [Finding.model_validate(f) for f in state["suppressed"]]
            # a detector's error as saved: its type's name and message
            self.errors = [DetectorError(e["rule"], e["detector"], HrguardError(f"{e['cause']}: {e['message']}"))
                           for e in state["errors"]]
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"a runner's saved state that does not fit: {type(exc).__name__}: {exc}") from exc

    def result(self, intake: Intake, as_of_us: int | None) -> ScanResult:
        findings = sorted(self.findings, key=Finding.sort_key)
        suppressed = sorted(self.suppressed, key=Finding.sort_key)
        as_of = from_us(as_of_us, self.clock.zone) if as_of_us is not None else None
        warnings: list[str] = []
        for inst in self.instances.values():
            for rule, det in inst:
                try:
                    warnings += [str(w) for w in det.warnings()]
                except Exception as exc:  # noqa: BLE001 - a plugin's warnings() that raises: reported, not fatal
                    self.errors.append(DetectorError(rule.name, rule.use, exc))
        return ScanResult(findings, suppressed, list(intake.rejected), intake.stats, list(self.errors), as_of,
                          self.ruleset.name, warnings)


def empty_frame(strings: Interner) -> Frame:
    """A frame of no events, sharing ``strings`` (the chunk time passes in when nothing is released)."""
    z = np.zeros(0, dtype=np.int64)
    return Frame(strings, z, np.zeros(0, dtype=object), z.astype(np.int32), z.astype(np.int32), z.astype(np.int32), z, {})
