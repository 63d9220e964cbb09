"""Shared fixtures: an engine that loads no installed plugins, and a ruleset builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hrguard
from hrguard.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def engine() -> Engine:
    """Built-ins only: tests never pick up whatever plugins happen to be installed."""
    return Engine(entrypoints=False)


@pytest.fixture
def ruleset(engine: Engine):
    """``ruleset(rules, timezone=..., language=...)`` -> a loaded Ruleset from plain dicts."""

    def make(rules: list[dict[str, Any]] | dict[str, Any], timezone: str = "UTC", language: str = "en") -> hrguard.Ruleset:
        if isinstance(rules, dict):
            rules = [rules]
        return engine.load_ruleset({"ruleset": "test", "timezone": timezone, "language": language, "rules": rules})

    return make
