"""Loading plugins into one engine's own ``PluginManager`` and collecting what they register.

Entry points of the ``hrguard`` group are loaded unless ``HRGUARD_DISABLE_PLUGIN_AUTOLOAD`` is set;
``HRGUARD_PLUGINS_BLOCK`` (comma-separated entry-point names) skips some. A plugin that fails to
import, or raises inside a hook, is reported as a :class:`~hrguard.errors.PluginError` naming it.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "hrguard"


@dataclass(frozen=True)
class Registered:
    """Something a plugin registered, and which plugin (and distribution version) it came from."""

    name: str
    obj: Any
    plugin: str
    version: str | None = None


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name."""

    kinds: dict[str, Registered] = field(default_factory=dict)
    detectors: dict[str, Registered] = field(default_factory=dict)
    rulesets: dict[str, Registered] = field(default_factory=dict)


def _plugin_version(pm: pluggy.PluginManager, plugin: object) -> str | None:
    for p, dist in pm.list_plugin_distinfo():
        if p is plugin:
            return dist.version
    return None


def _call_registration(
    pm: pluggy.PluginManager, hook_name: str, table: dict[str, Registered], what: str, key: Callable[[Any], str],
    check: Callable[[Any], None],
) -> None:
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():  # in registration order: built-ins first
        plugin_name = impl.plugin_name
        version = _plugin_version(pm, impl.plugin)

        def register(*args: Any) -> None:
            obj = args[-1] if len(args) == 1 else args
            try:
                check(obj)
                name = key(obj)
            except Exception as exc:
                raise PluginError(f"plugin {plugin_name!r} registered an invalid {what}: {exc}") from None
            prior = table.get(name)
            if prior is not None:
                raise PluginError(
                    f"{what} {name!r} is registered by two plugins: {prior.plugin!r} and {plugin_name!r}"
                )
            table[name] = Registered(name, obj, plugin_name, version)

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {plugin_name!r} raised in {hook_name}: {type(exc).__name__}: {exc}") from exc


def _check_kind(model: Any) -> None:
    from .events import Event

    if not (isinstance(model, type) and issubclass(model, Event) and model.KIND):
        raise PluginError(f"{model!r} is not an Event subclass with kind: Literal['...']")


def _check_detector(cls: Any) -> None:
    from .detector import Detector, DetectorParams

    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise PluginError(f"{cls!r} is not a hrguard.Detector subclass")
    if not cls.id:
        raise PluginError(f"detector class {cls.__name__} has no id")
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, DetectorParams)):
        raise PluginError(f"detector {cls.id}: Params must subclass hrguard.DetectorParams")


def _check_ruleset(item: Any) -> None:
    name, path = item
    if not isinstance(name, str) or not Path(path).is_file():
        raise PluginError(f"ruleset {name!r}: {path} is not a file")


def _entry_points(blocked: set[str]) -> Iterable[md.EntryPoint]:
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in blocked:
            yield ep


def load(plugins: Iterable[object] = (), *, entrypoints: bool | None = None) -> tuple[pluggy.PluginManager, Registry]:
    """A fresh PluginManager with the built-ins, installed plugins (optionally) and ``plugins``."""
    from . import builtins

    pm = pluggy.PluginManager("hrguard")
    pm.add_hookspecs(hookspecs)
    pm.register(builtins, name="hrguard.builtins")
    if entrypoints is None:
        entrypoints = not os.environ.get("HRGUARD_DISABLE_PLUGIN_AUTOLOAD")
    if entrypoints:
        blocked = {b.strip() for b in os.environ.get("HRGUARD_PLUGINS_BLOCK", "").split(",") if b.strip()}
        for ep in _entry_points(blocked):
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} (entry point {ep.value}) failed to import: {type(exc).__name__}: {exc}"
                ) from exc
            pm.register(plugin, name=ep.name)
            if ep.dist is not None:
                pm._plugin_distinfo.append((plugin, pluggy._manager.DistFacade(ep.dist)))  # type: ignore[attr-defined]
    for i, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{i}"
        pm.register(plugin, name=name)
    reg = Registry()
    _call_registration(pm, "hrguard_register_event_kinds", reg.kinds, "event kind", lambda m: m.KIND, _check_kind)
    _call_registration(pm, "hrguard_register_detectors", reg.detectors, "detector", lambda c: c.id, _check_detector)
    _call_registration(pm, "hrguard_register_rulesets", reg.rulesets, "ruleset", lambda t: t[0], _check_ruleset)
    return pm, reg
