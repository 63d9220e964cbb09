from __future__ import annotations

import pytest

from hrguard.pytest_plugin import hrguard_check, hrguard_engine, hrguard_events, hrguard_ruleset  # noqa: F401


@pytest.fixture
def hrguard_plugins():
    """hrguard's fixtures register these plugins (and never whatever else is installed)."""
    from hrguard_leave import plugin

    return [plugin]
