"""The plugin hrguard loads (entry point ``expense`` of the ``hrguard`` group): four hook implementations."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from hrguard import hookimpl

from . import DETECTORS, KINDS

RULESETS = Path(__file__).parent / "rulesets"
PIPELINES = Path(__file__).parent / "pipelines"


@hookimpl
def hrguard_register_event_kinds(register: Callable) -> None:
    for model in KINDS:
        register(model)


@hookimpl
def hrguard_register_detectors(register: Callable) -> None:
    for detector in DETECTORS:
        register(detector)


@hookimpl
def hrguard_register_rulesets(register: Callable) -> None:
    for path in sorted(RULESETS.glob("*.yaml")):
        register(path.stem, path)


@hookimpl
def hrguard_register_pipelines(register: Callable) -> None:
    for path in sorted(PIPELINES.glob("*.yaml")):
        register(path.stem, path)
