"""Running a ruleset's own tests (``tests:`` in its YAML): :func:`run_ruleset_tests`, :func:`check_ruleset` and
:func:`parametrize_ruleset_tests`; ``hrguard test`` prints what they find.

(PYTEST_DONT_REWRITE: see :mod:`hrguard.testing`.)

Each test's events are scanned as a batch and pushed through a :class:`~hrguard.Stream` (in the one
order ``(ts, id)``, then ``advance_to`` the as-of time): the two must give the same findings (the
engine's guarantee, checked on every test), and the expectations are judged on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Engine, default_engine
from ..events import to_us
from ..findings import Finding
from ..rules import FindingMatch, Ruleset, RulesetTest
from ._runs import dump_findings, stream_all


@dataclass
class RulesetTestResult:
    """What one test of a ruleset gave: its findings, and every expectation they failed (empty: it passed)."""

    test: RulesetTest
    findings: list[Finding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def report(self) -> str:
        """The failures, one paragraph each, starting with where the expectation is written."""
        return "\n".join(self.failures)


def _ruleset(ruleset: Ruleset | str | Path, engine: Engine | None) -> Ruleset:
    """The ruleset with its tests read (a Ruleset loaded without them is read again from its source)."""
    if isinstance(ruleset, Ruleset):
        return ruleset if ruleset.tests is not None else (engine or ruleset.engine).load_ruleset(ruleset, tests=True)
    return (engine or default_engine()).load_ruleset(ruleset, tests=True)


def selected_tests(ruleset: Ruleset, *, with_extended: bool = False, names: Iterable[str] | None = None) -> list[RulesetTest]:
    """The ruleset's own tests (and with ``with_extended``, those of the rulesets it extends), or only
    those whose name contains one of ``names``."""
    tests = [t for t in ruleset.tests or () if with_extended or not t.inherited]
    if names is not None:
        wanted = list(names)
        tests = [t for t in tests if any(w in t.name for w in wanted)]
    return tests


def run_ruleset_tests(ruleset: Ruleset | str | Path, *, with_extended: bool = False, engine: Engine | None = None,
                      names: Iterable[str] | None = None) -> list[RulesetTestResult]:
    """Run the tests of ``ruleset`` (a Ruleset, bundled name or path: loaded with ``engine``, default the
    default engine); one result per test, in the order written (own tests first)."""
    rs = _ruleset(ruleset, engine)
    return [run_ruleset_test(rs, t) for t in selected_tests(rs, with_extended=with_extended, names=names)]


def run_ruleset_test(ruleset: Ruleset, test: RulesetTest) -> RulesetTestResult:
    """Run one test: a batch scan and a stream of its events, which must agree, then its expectations."""
    spec = test.spec
    eng = ruleset.engine
    events = [dict(e) for e in spec.events]
    res = eng.scan(events, ruleset, spec.as_of)
    out = RulesetTestResult(test, list(res.findings))
    head = f"{test.where}: test {test.name!r}"
    for err in res.errors:
        out.failures.append(f"{head}: rule {err.rule!r} raised: {err}")
    for rej in res.rejected:  # the loader validated each event; a repeated id across tenants, say
        out.failures.append(f"{head}: an event was rejected: {rej}")
    try:
        streamed = stream_all(events, ruleset, res.as_of, eng)
    except Exception as exc:  # noqa: BLE001 - a stream that cannot run the test is the test's failure
        out.failures.append(f"{head}: the events could not be streamed: {type(exc).__name__}: {exc}")
    else:
        want, got = dump_findings(res.findings), dump_findings(streamed)
        if want != got:
            only_b = [f for f, d in zip(res.findings, want) if d not in got]
            only_s = [f for f, d in zip(streamed, got) if d not in want]
            out.failures.append(
                f"{head}: a batch scan and a stream of the events disagree (the engine promises the same findings):"
                + "".join(f"\n    only in the scan:   {describe(f)}" for f in only_b)
                + "".join(f"\n    only in the stream: {describe(f)}" for f in only_s))
    for i, m in enumerate(spec.expect):
        hits = [f for f in res.findings if matches(m, f)]
        if (m.count is None and hits) or (m.count is not None and len(hits) == m.count):
            continue
        if m.count is None:
            wanted = f"expected a finding {show(m)}; found none"
        else:
            wanted = f"expected exactly {m.count} finding{'' if m.count == 1 else 's'} {show(m)}; found {len(hits)}"
        shown = ":" + "".join(f"\n    {describe(f)}" for f in hits) if hits else _listing(_near(m, res.findings), m)
        out.failures.append(f"{test.place('expect', i)}: test {test.name!r}: {wanted}{shown}")
    for i, m in enumerate(spec.expect_not):
        hits = [f for f in res.findings if matches(m, f)]
        if hits:
            out.failures.append(f"{test.place('expect_not', i)}: test {test.name!r}: expected no finding {show(m)}; "
                                f"found {len(hits)}:" + "".join(f"\n    {describe(f)}" for f in hits))
    for i, name in enumerate(spec.no_findings_of):
        hits = [f for f in res.findings if f.name == name]
        if hits:
            out.failures.append(f"{test.place('no_findings_of', i)}: test {test.name!r}: expected no findings of "
                                f"{name!r}; found {len(hits)}:" + "".join(f"\n    {describe(f)}" for f in hits))
    return out


def _near(m: FindingMatch, findings: Sequence[Finding]) -> list[Finding]:
    """What to show beside a missing finding: the rule's findings, or (none) every finding."""
    same = [f for f in findings if f.name == m.rule]
    return same or list(findings)


def _listing(shown: Sequence[Finding], m: FindingMatch, most: int = 8) -> str:
    """Beside an expectation no finding met: the findings of its rule, or the others', or that there are none."""
    if not shown:
        return " (the events made no finding at all)"
    label = (f"; the findings of {m.rule!r}:" if shown[0].name == m.rule else
             f"; {m.rule!r} made none, the other rules made {len(shown)}:")
    more = f"\n    ... and {len(shown) - most} more" if len(shown) > most else ""
    return label + "".join(f"\n    {describe(f)}" for f in shown[:most]) + more


def matches(m: FindingMatch, f: Finding) -> bool:
    """Whether finding ``f`` is one ``m`` describes: its rule's name, and every other key ``m`` gives."""
    if f.name != m.rule:
        return False
    if m.employee_id is not None and f.employee_id != m.employee_id:
        return False
    if m.customer_id is not None and f.customer_id != m.customer_id:
        return False
    if m.severity is not None and f.severity != m.severity:
        return False
    if m.reason is not None and f.details.get("reason") != m.reason:
        return False
    if m.evidence is not None and not set(m.evidence) <= set(f.evidence):
        return False
    return m.ts is None or to_us(f.ts) == to_us(m.ts)


def show(m: FindingMatch) -> str:
    """An expectation as written: ``{rule: geofence.mismatch, employee_id: E1, reason: too_far}``."""
    parts = []
    for key, value in m.model_dump(exclude_none=True, mode="json").items():
        if key == "count":
            continue
        parts.append(f"{key}: [{', '.join(value)}]" if isinstance(value, list) else f"{key}: {value}")
    return "{" + ", ".join(parts) + "}"


def describe(f: Finding) -> str:
    """One finding in a line: time, rule name, severity, who, reason, evidence, message."""
    reason = f.details.get("reason")
    who = " ".join(x for x in (f.employee_id and f"employee {f.employee_id}", f.customer_id and f"customer {f.customer_id}") if x)
    return (f"{f.ts.isoformat()} {f.name} {f.severity.value}{f' {who}' if who else ''}"
            f"{f' reason {reason}' if reason is not None else ''} evidence [{', '.join(f.evidence)}]: {f.message}")


def check_ruleset(ruleset: Ruleset | str | Path, *, with_extended: bool = False, engine: Engine | None = None,
                  names: Iterable[str] | None = None) -> list[RulesetTestResult]:
    """Run the ruleset's tests; raise ``AssertionError`` reporting every failed test (and none: say so).
    Returns the results (all passed)."""
    rs = _ruleset(ruleset, engine)
    results = run_ruleset_tests(rs, with_extended=with_extended, names=names)
    if not results:
        raise AssertionError(f"ruleset {rs.name!r} ({rs.source}) has no tests"
                             + (" of its own (with_extended=True runs those of the rulesets it extends)"
                                if any(t.inherited for t in rs.tests or ()) and not with_extended else ""))
    failed = [r for r in results if not r.passed]
    if failed:
        raise AssertionError(f"{len(failed)} of {len(results)} tests of ruleset {rs.name!r} failed:\n"
                             + "\n".join(r.report() for r in failed))
    return results


def parametrize_ruleset_tests(ruleset: Ruleset | str | Path, *, with_extended: bool = False,
                              engine: Engine | None = None, plugins: Sequence[object] | None = None) -> Any:
    """A ``pytest.mark.parametrize`` over the tests of ``ruleset``, one pytest test each, with the test's name
    as its id. The decorated test takes ``ruleset_test`` and calls it: ``ruleset_test()`` runs the test and
    raises ``AssertionError`` with the report when it fails. ``plugins``: load the ruleset with an engine
    of the built-ins and these plugins only (as the ``hrguard_engine`` fixture does)."""
    import pytest

    if engine is None and plugins is not None:
        engine = Engine(list(plugins), entrypoints=False)
    rs = _ruleset(ruleset, engine)
    tests = selected_tests(rs, with_extended=with_extended)
    cases = [RulesetTestCase(rs, t) for t in tests]
    return pytest.mark.parametrize("ruleset_test", cases, ids=[c.id for c in cases])


@dataclass(frozen=True)
class RulesetTestCase:
    """One test of a ruleset, ready to run: call it (``AssertionError`` with the report on failure)."""

    ruleset: Ruleset
    test: RulesetTest

    @property
    def id(self) -> str:
        return f"{self.test.ruleset}:{self.test.name}" if self.test.inherited else self.test.name

    def __call__(self) -> RulesetTestResult:
        result = run_ruleset_test(self.ruleset, self.test)
        if not result.passed:
            raise AssertionError(result.report())
        return result

    def __repr__(self) -> str:
        return f"RulesetTestCase({self.ruleset.name}: {self.test.name})"
