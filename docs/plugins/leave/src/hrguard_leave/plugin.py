"""The module hrguard loads through the entry point: one function per hook (see hrguard.hookspecs)."""

from __future__ import annotations

from typing import Callable

from hrguard import hookimpl

from .detectors import DETECTORS
from .events import KINDS


@hookimpl
def hrguard_register_event_kinds(register: Callable) -> None:
    for model in KINDS:
        register(model)


@hookimpl
def hrguard_register_detectors(register: Callable) -> None:
    for detector in DETECTORS:
        register(detector)
