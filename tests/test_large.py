"""A 100k-event generated log through the command line, agreeing with the library (~10 s)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hrguard

ROOT = Path(__file__).resolve().parent.parent
N = 100_000


def _gen_events():
    spec = importlib.util.spec_from_file_location("hrguard_bench_gen_events", ROOT / "benchmarks" / "gen_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _gen_events().write(tmp_path_factory.mktemp("large") / "events.jsonl", N, seed=1)


def test_cli_scan_of_100k_events_matches_the_library(large_file: Path) -> None:
    cmd = [sys.executable, "-m", "hrguard", "scan", str(large_file), "--format", "jsonl"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        result = hrguard.scan(large_file, "sales")  # meanwhile, in this process (two cores: half the wait)
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    summary = stderr.strip().splitlines()[-1]
    m = re.search(r"^(\d+) records: (\d+) valid, .*?(\d+) rejected; (\d+) findings?", summary)
    assert m, summary
    records, valid, rejected, findings = map(int, m.groups())
    assert (records, valid, rejected) == (N, N, 0), summary

    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    assert result.stats.received == N and result.stats.rejected == 0
    assert len(result.findings) > 0
    assert findings == len(lines) == len(result.findings)
