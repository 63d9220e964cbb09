"""pytest fixtures for testing hrguard detectors and plugins (``hrguard.testing`` underneath).

Loaded automatically through the ``pytest11`` entry point once hrguard is installed; with plugin
autoloading off, put ``pytest_plugins = ["hrguard.pytest_plugin"]`` in your top-level ``conftest.py``
(that name works either way; naming this module itself there while the entry point also loads it is
refused by pytest as a plugin registered twice). The fixtures:

- ``hrguard_plugins``: the plugins your tests register (none by default): override it in your
  ``conftest.py`` to return ``[your_plugin_module]``.
- ``hrguard_engine``: an :class:`~hrguard.Engine` with the built-ins and ``hrguard_plugins``, never
  whatever happens to be installed.
- ``hrguard_ruleset``: ``hrguard_ruleset(rules, timezone="UTC", language="en")`` loads a ruleset
  from a rule dict (or a list of them) with that engine.
- ``hrguard_events``: a fresh :class:`~hrguard.testing.EventFactory` (ids ``e1``, ``e2``...).
- ``hrguard_check``: :func:`~hrguard.testing.check_detector` bound to ``hrguard_engine``.
- ``hrguard_ruleset_tests``: ``hrguard_ruleset_tests("rules/east.yaml")`` runs a ruleset's own tests
  (its ``tests:``) with ``hrguard_engine`` and fails listing every failed test
  (:func:`~hrguard.testing.check_ruleset`). For one pytest test per ruleset test, decorate a test with
  :func:`~hrguard.testing.parametrize_ruleset_tests` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from ..engine import Engine
from ..rules import Ruleset
from ._factory import EventFactory
from ._kit import check_detector
from ._rulesets import RulesetTestResult, check_ruleset


@pytest.fixture
def hrguard_plugins() -> Sequence[object]:
    """The plugins the other fixtures register: override to return ``[your_plugin]``."""
    return ()


@pytest.fixture
def hrguard_engine(hrguard_plugins: Sequence[object]) -> Engine:
    """An engine with the built-ins and ``hrguard_plugins`` only (no installed plugins)."""
    return Engine(list(hrguard_plugins), entrypoints=False)


@pytest.fixture
def hrguard_ruleset(hrguard_engine: Engine) -> Callable[..., Ruleset]:
    """``hrguard_ruleset(rules, timezone="UTC", language="en")``: a ruleset from rule dicts."""

    def make(rules: Mapping[str, Any] | Sequence[Mapping[str, Any]], timezone: str = "UTC",
             language: str = "en") -> Ruleset:
        rules = [dict(rules)] if isinstance(rules, Mapping) else [dict(r) for r in rules]
        return hrguard_engine.load_ruleset({"ruleset": "test", "timezone": timezone, "language": language,
                                           "rules": rules})

    return make


@pytest.fixture
def hrguard_events() -> EventFactory:
    """A fresh event factory: ``hrguard_events("kind", **fields)``, ``hrguard_events.advance(hours=1)``."""
    return EventFactory()


@pytest.fixture
def hrguard_check(hrguard_engine: Engine) -> Callable[..., list[str]]:
    """``hrguard_check(DetectorClass, events, params=..., ...)``: the conformance kit with this engine."""

    def check(detector: Any, events: Sequence[Mapping[str, Any]] = (), **kw: Any) -> list[str]:
        kw.setdefault("engine", hrguard_engine)
        return check_detector(detector, events, **kw)

    return check


@pytest.fixture
def hrguard_ruleset_tests(hrguard_engine: Engine) -> Callable[..., list[RulesetTestResult]]:
    """``hrguard_ruleset_tests(ruleset, with_extended=False, names=None)``: run the ruleset's tests with
    ``hrguard_engine``; ``AssertionError`` listing every failed test (or saying there are none)."""

    def run(ruleset: Any, *, with_extended: bool = False, names: Sequence[str] | None = None) -> list[RulesetTestResult]:
        return check_ruleset(ruleset, with_extended=with_extended, engine=hrguard_engine, names=names)

    return run
