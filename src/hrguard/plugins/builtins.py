"""hrguard's own plugin: the spec's event kinds, the built-in detectors, the bundled rulesets and mapping pipelines.

It registers through exactly the hooks a vendor's plugin uses (see :mod:`hrguard.plugins.hookspecs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..detectors import BUILTIN_DETECTORS
from ..events import BUILTIN_KINDS
from .hookspecs import hookimpl

RULESETS_DIR = Path(__file__).resolve().parent.parent / "rulesets"  # the package's data, beside hrguard/__init__.py
PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines" / "presets"


@hookimpl
def hrguard_register_event_kinds(register: Callable) -> None:
    for model in BUILTIN_KINDS:
        register(model)


@hookimpl
def hrguard_register_detectors(register: Callable) -> None:
    for detector in BUILTIN_DETECTORS:
        register(detector)


@hookimpl
def hrguard_register_rulesets(register: Callable) -> None:
    for path in sorted(RULESETS_DIR.glob("*.yaml")):
        if not path.name.endswith(".tests.yaml"):  # a ruleset's file of tests (``tests: sales.tests.yaml``)
            register(path.stem, path)


@hookimpl
def hrguard_register_pipelines(register: Callable) -> None:
    for path in sorted(PIPELINES_DIR.glob("*.yaml")):
        register(path.stem, path)
