"""Checking a ruleset does not import scikit-learn (about 1 s and 150 MB); fitting and scoring do.

Each check runs in a fresh interpreter, where ``sys.modules`` shows exactly what the path imported.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sklearn", "scipy", "pandas", "joblib")


def run(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_loading_the_sales_ruleset_imports_no_scikit_learn():
    run(f"""
import sys, hrguard
rs = hrguard.load_ruleset("sales")
assert "outlier.isolation_forest" in [r.use for r in rs.rules], "the bundled ruleset no longer has the forest rule"
heavy = [m for m in {HEAVY!r} if m in sys.modules]
assert not heavy, heavy
""")


def test_the_validate_command_imports_no_scikit_learn():
    run(f"""
import io, sys
from contextlib import redirect_stdout
from hrguard.cli import main
with redirect_stdout(io.StringIO()) as out:
    code = main(["validate", "sales"])
assert code == 0 and "outlier.isolation_forest" in out.getvalue(), out.getvalue()
heavy = [m for m in {HEAVY!r} if m in sys.modules]
assert not heavy, heavy
""")


def test_the_probe_sees_scikit_learn_once_the_scorer_is_needed():
    """The other side: the same probe finds scikit-learn once the scorer is imported (fitting, scoring)."""
    run("""
import sys, hrguard
import hrguard.ml
assert "sklearn" in sys.modules
""")
