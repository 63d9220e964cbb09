"""``hrguard.pytest_plugin``: the pytest plugin's fixtures, now in :mod:`hrguard.testing.pytest_plugin`.

This name is documented and stays, as an alias: it re-exports every fixture (what ``hrguard.pytest_plugin``
held, and ``hrguard_ruleset_tests``), so that ``pytest_plugins = ["hrguard.pytest_plugin"]`` loads them all.
"""

from __future__ import annotations

from hrguard.testing.pytest_plugin import (
    hrguard_check,
    hrguard_engine,
    hrguard_events,
    hrguard_plugins,
    hrguard_ruleset,
    hrguard_ruleset_tests,
)

__all__ = [
    "hrguard_check",
    "hrguard_engine",
    "hrguard_events",
    "hrguard_plugins",
    "hrguard_ruleset",
    "hrguard_ruleset_tests",
]
