"""Testing detectors: event factories, batch-versus-stream runs, and the conformance kit.

(PYTEST_DONT_REWRITE: the kit's failure messages are written to be read as they are, the same in
and out of pytest.)

The conformance kit is hrguard's ``check_estimator``: one call proves a detector keeps the contract
of :class:`hrguard.Detector` and spec/detectors.md. Give it the detector and a few events that make it
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

A ruleset's own tests (``tests:`` in its YAML, docs/rulesets.md "Tests") run with :func:`check_ruleset`
(one call) or :func:`parametrize_ruleset_tests` (one pytest test per ruleset test), as ``hrguard test``
runs them.

``run_all_ways`` is the older, smaller tool: the same findings whatever the input order, the chunk
size, or batch versus streaming, for a whole ruleset.
"""

from __future__ import annotations

from ..errors import ConformanceError
from ._case import DetectorCase
from ._checks import CHECKS
from ._factory import KIND_DEFAULTS, EventFactory, at, event
from ._kit import check_detector, parametrize_with_checks
from ._rulesets import (
    RulesetTestCase,
    RulesetTestResult,
    check_ruleset,
    parametrize_ruleset_tests,
    run_ruleset_test,
    run_ruleset_tests,
)
from ._runs import run_all_ways, stream_all

__all__ = [
    "CHECKS",
    "ConformanceError",
    "DetectorCase",
    "EventFactory",
    "KIND_DEFAULTS",
    "RulesetTestCase",
    "RulesetTestResult",
    "at",
    "check_detector",
    "check_ruleset",
    "event",
    "parametrize_ruleset_tests",
    "parametrize_with_checks",
    "run_all_ways",
    "run_ruleset_test",
    "run_ruleset_tests",
    "stream_all",
]
