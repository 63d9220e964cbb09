"""Fixtures of the expense plugin's tests: hrguard's own (hrguard.pytest_plugin) with this plugin registered."""

from __future__ import annotations

import pytest

# hrguard's fixtures, imported so they work whether or not hrguard's pytest11 entry point is installed
from hrguard.pytest_plugin import hrguard_check, hrguard_engine, hrguard_events, hrguard_ruleset  # noqa: F401


@pytest.fixture
def hrguard_plugins() -> list[object]:
    plugin = pytest.importorskip("hrguard_expense.plugin")
    return [plugin]
