"""The public API is exactly what each public package lists in ``__all__`` (as httpx tests its own).

hrguard's packages keep their implementation in private modules (``engine/_stream.py``) and re-export
what users may use. For every public package, and for the alias modules kept at documented old names
(``hrguard.kit``, ``hrguard.timeutil``, ...), a public attribute that is not in ``__all__`` is an
accident (an implementation name leaking out), and a name in ``__all__`` that is missing is a broken
promise. Public submodules are reached as attributes and are not part of ``__all__`` unless listed.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from types import ModuleType

import pytest

import hrguard

PACKAGES = sorted(
    ["hrguard"] + [m.name for m in pkgutil.walk_packages(hrguard.__path__, "hrguard.")
                   if m.ispkg and not any(p.startswith("_") for p in m.name.split("."))]
)
ALIASES = ["hrguard.kit", "hrguard.timeutil", "hrguard.features", "hrguard.pytest_plugin"]
SAME_MODULE = {  # documented old names that are the new module itself
    "hrguard.ml": "hrguard.analytics.forest",
    "hrguard.notebook": "hrguard.evaluation.notebook",
    "hrguard.quality": "hrguard.evaluation.quality",
    "hrguard.hookspecs": "hrguard.plugins.hookspecs",
    "hrguard.state": "hrguard.sdk.state",
}


def public_attributes(module: ModuleType) -> set[str]:
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or name == "annotations":  # ``from __future__ import annotations``
            continue
        if isinstance(value, ModuleType) and name not in module.__all__:
            continue  # a submodule, reached as an attribute
        names.add(name)
    return names


def test_the_packages_are_found():
    assert {"hrguard.engine", "hrguard.events", "hrguard.sdk", "hrguard.sdk.state", "hrguard.ingest",
            "hrguard.plugins", "hrguard.rules", "hrguard.analytics", "hrguard.testing"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES + ALIASES)
def test_all_is_exactly_the_public_names(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ repeats a name"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists names it does not have: {missing}"
    extra = sorted(public_attributes(module) - set(module.__all__))
    assert not extra, f"{name} has public names not in __all__ (make them private or list them): {extra}"


@pytest.mark.parametrize("old, new", sorted(SAME_MODULE.items()))
def test_a_documented_old_module_name_is_the_new_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new) is sys.modules[old]


def test_the_old_names_a_plugin_imports_still_work():
    from hrguard.kit import GrowBuf, Latest, pack2, rows_pos  # what plugins/hrguard-expense imports
    from hrguard.sdk import Column, pos_after
    from hrguard.timeutil import DAY_US, days_to_date

    assert GrowBuf is Column and Latest is hrguard.sdk.Latest and pack2 and rows_pos and pos_after
    assert DAY_US == 86_400_000_000 and days_to_date(0).isoformat() == "1970-01-01"


def test_the_notebook_and_scorer_modules_promise_what_they_have():
    """``hrguard.notebook`` and ``hrguard.ml`` are modules (not packages): their ``__all__`` is checked here."""
    from hrguard import ml, notebook

    for module, promised in ((notebook, {"sweep", "grid", "evaluate", "outlier_scores", "explanations", "plot_sweep",
                                         "plot_scores", "INDEX", "SCORE_COLUMNS", "EXPLANATION_COLUMNS",
                                         "SWEEP_COLUMNS", "GRID_METRICS"}),
                             (ml, {"IsolationForestScorer", "ModelFileError", "MAX_MODEL_BYTES", "average_path_length"})):
        assert promised <= set(module.__all__), sorted(promised - set(module.__all__))
        assert all(hasattr(module, n) for n in module.__all__)
        assert not [n for n in module.__all__ if n.startswith("_")]
