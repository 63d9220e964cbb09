"""Shared fixtures: an engine that loads no installed plugins, and a ruleset builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hrguard
from hrguard.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

#: What ``make test-quick`` leaves out (marked ``slow``): end-to-end runs of the CLI and the docs'
#: console commands in subprocesses, large generated files, the tutorial notebook, memory-growth
#: measurements, published-benchmark reproductions and the full BPI 2020 log (72k events). ``make test`` runs everything.
SLOW = (
    "tests/test_docs.py::test_console_commands_run",
    "tests/test_large.py::",
    "tests/test_notebook.py::test_the_tutorial_notebook_runs_top_to_bottom",
    "tests/test_bounded_scan.py::test_cli_",
    "tests/test_bounded_scan.py::test_peak_memory",
    "tests/test_synth.py::test_memory",
    "tests/test_quality.py::test_the_benchmark_script_runs",
    "tests/test_plugins.py::test_the_template_works",
    "tests/test_determinism.py::",
    "tests/test_odds.py::",
    "tests/test_pipeline_presets.py::test_bpi2020_",
    "tests/test_benchmarks_peer.py::",
    "tests/test_ml_lazy_import.py::",
    "tests/test_cli.py::test_broken_pipe_is_quiet",
    "plugins/hrguard-expense/tests/test_expense_plugin.py::test_the_docs_run",
    "plugins/hrguard-expense/tests/test_expense_plugin.py::test_hrguard_detectors_lists",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


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


# -- the fuzz suite's counts (tests/fuzz): how many cases and generated examples ran, and how long -----------
# Each process that ran fuzz tests (pytest itself, or an xdist worker) writes its counts (``fuzzlib.COUNTS``)
# to .pytest_cache/d/hrguard-fuzz/<pid>.json when its session ends; the process that prints the terminal
# summary adds them up. Here rather than in tests/fuzz: an xdist controller loads only this conftest.
def _fuzz_dir(config: pytest.Config) -> Path | None:
    return Path(config.cache.mkdir("hrguard-fuzz")) if config.cache is not None else None


def pytest_sessionstart(session: pytest.Session) -> None:
    import shutil

    d = _fuzz_dir(session.config)
    if d is not None and not hasattr(session.config, "workerinput"):  # the controller (or a plain run)
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True, exist_ok=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    import json
    import os
    import sys

    fuzzlib = sys.modules.get("fuzzlib")
    d = _fuzz_dir(session.config)
    if d is not None and fuzzlib is not None and fuzzlib.COUNTS:
        counts = dict(fuzzlib.COUNTS, seconds=round(fuzzlib.SECONDS[0], 1))
        (d / f"{os.getpid()}.json").write_text(json.dumps(counts))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    import json

    d = _fuzz_dir(config)
    if d is None:
        return
    total: dict[str, float] = {}
    for f in d.glob("*.json"):
        for k, v in json.loads(f.read_text()).items():
            total[k] = max(total.get(k, 0), v) if k == "slowest_case_ms" else total.get(k, 0) + v
    if total:
        terminalreporter.write_sep("-", "hrguard fuzz suite (tests/fuzz)")
        terminalreporter.write_line(", ".join(f"{k} {v:g}" for k, v in sorted(total.items())))
