"""Plugins: the hook specifications (the contract), the manager that loads built-in and installed plugins, and the built-ins registered through the same hooks as a vendor's."""

from __future__ import annotations

from . import hookspecs
from ._manager import (
    ALLOW_VAR,
    BLOCK_VAR,
    DEFAULT_PLUGINS,
    DISABLE_VAR,
    ENTRY_POINT_GROUP,
    Registered,
    Registry,
    installed,
    load,
)

__all__ = [
    "hookspecs",
    "ALLOW_VAR",
    "BLOCK_VAR",
    "DEFAULT_PLUGINS",
    "DISABLE_VAR",
    "ENTRY_POINT_GROUP",
    "Registered",
    "Registry",
    "installed",
    "load",
]
