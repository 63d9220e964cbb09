"""The fuzz suite's line in the terminal summary: how many cases and generated examples ran, and how long.

Each process that runs fuzz tests (pytest itself, or an xdist worker) writes its counts
(``fuzzlib.COUNTS``) to ``.pytest_cache/d/hrguard-fuzz/<pid>.json`` when its session ends; the process
that prints the summary adds them up.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import fuzzlib

_START = time.monotonic()


def _dir(config: Any) -> Path | None:
    return Path(config.cache.mkdir("hrguard-fuzz")) if config.cache is not None else None


def pytest_sessionstart(session: Any) -> None:
    d = _dir(session.config)
    if d is not None and not hasattr(session.config, "workerinput"):  # the controller (or a plain run)
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True, exist_ok=True)


def pytest_sessionfinish(session: Any) -> None:
    d = _dir(session.config)
    if d is not None and fuzzlib.COUNTS:
        counts = dict(fuzzlib.COUNTS, seconds=round(fuzzlib.SECONDS[0], 1))
        (d / f"{os.getpid()}.json").write_text(json.dumps(counts))


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    d = _dir(config)
    if d is None:
        return
    total: dict[str, float] = {}
    for f in d.glob("*.json"):
        for k, v in json.loads(f.read_text()).items():
            total[k] = max(total.get(k, 0), v) if k == "slowest_case_ms" else total.get(k, 0) + v
    if total:
        shown = ", ".join(f"{k} {v:g}" for k, v in sorted(total.items()))
        terminalreporter.write_sep("-", "hrguard fuzz suite (tests/fuzz)")
        terminalreporter.write_line(shown)
