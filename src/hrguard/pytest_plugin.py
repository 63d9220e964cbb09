"""``hrguard.pytest_plugin``: the pytest plugin's fixtures, now in :mod:`hrguard.testing.pytest_plugin`.

This name is documented and stays, as an alias: it re-exports exactly what ``hrguard.pytest_plugin`` held.
"""

from __future__ import annotations

from hrguard.testing.pytest_plugin import (
    hrguard_check,
    hrguard_engine,
    hrguard_events,
    hrguard_plugins,
    hrguard_ruleset,
)

__all__ = [
    "hrguard_check",
    "hrguard_engine",
    "hrguard_events",
    "hrguard_plugins",
    "hrguard_ruleset",
]
