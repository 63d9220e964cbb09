"""The plugin contract: every hook hrguard calls, when it calls it, and how results combine.

A plugin is a module or object with functions marked ``@hrguard.hookimpl`` whose names are hooks
below. Installed distributions announce plugins through the ``hrguard`` entry-point group; an
:class:`~hrguard.engine.Engine` can also be given plugins in code. hrguard's own event kinds,
detectors and bundled rulesets are registered by ``hrguard.plugins.builtins`` through these same hooks.

Registration hooks receive a ``register`` callable and return nothing. Each call registers one
thing; registering a name that another plugin already registered is an error naming both plugins
(never a silent override, and a plugin cannot replace a built-in). Hooks are called once per engine,
plugin by plugin, in the order the plugins were registered (the built-ins, then installed plugins,
then plugins given in code), and hook by hook (event kinds, then detectors, then rulesets, then
mapping pipelines), so a
plugin that raises is reported by name. docs/plugins/hooks.md is the reference for plugin authors;
a test fails when a hook here is missing from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Event
    from ..sdk import Detector

hookspec = pluggy.HookspecMarker("hrguard")
hookimpl = pluggy.HookimplMarker("hrguard")


@hookspec
def hrguard_register_event_kinds(register: Callable[[type[Event]], None]) -> None:
    """Register event kinds: call ``register(Model)`` once per :class:`~hrguard.events.Event` subclass.

    Called once when an engine loads its plugins. ``Model.kind`` must be a one-value ``Literal``;
    the value is the kind's name. Records of that kind are then validated with ``Model``.
    """


@hookspec
def hrguard_register_detectors(register: Callable[[type[Detector]], None]) -> None:
    """Register detectors: call ``register(DetectorClass)`` once per :class:`~hrguard.sdk.Detector`.

    Called once when an engine loads its plugins, after the event kinds. The class's ``id`` is the
    name rulesets use in ``use:``; its ``Params`` model validates the ``params:`` of a rule.
    """


@hookspec
def hrguard_register_rulesets(register: Callable[[str, Path], None]) -> None:
    """Register bundled rulesets: call ``register(name, path)`` with a YAML file shipped by the plugin.

    Called once when an engine loads its plugins. ``name`` is how ``--ruleset``,
    ``load_ruleset(name)`` and ``extends:`` refer to it.
    """


@hookspec
def hrguard_register_pipelines(register: Callable[[str, Path], None]) -> None:
    """Register bundled mapping pipelines: call ``register(name, path)`` with a pipeline YAML file shipped by
    the plugin (see :mod:`hrguard.pipelines`).

    Called once when an engine loads its plugins, after the rulesets. ``name`` is how ``--pipeline``,
    ``load_pipeline(name)``, ``scan(..., pipeline=name)`` and a pipeline's ``extends:`` refer to it. The
    file is loaded (and validated against the engine's event kinds) when it is first used.
    """
