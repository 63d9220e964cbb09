"""Loading plugins into one engine's own ``PluginManager`` and collecting what they register.

Installed plugins are the entry points of the ``hrguard`` group. Environment variables choose which
of them an engine loads (the built-ins and plugins given in code are always loaded):

- ``HRGUARD_DISABLE_PLUGIN_AUTOLOAD`` (any non-empty value): none.
- ``HRGUARD_PLUGINS_ALLOW``: only these (comma-separated names).
- ``HRGUARD_PLUGINS_BLOCK``: all but these; blocking wins over allowing.

A name is an entry-point name (``badges``) or a distribution name (``hrguard-badges``; case, ``-``,
``_`` and ``.`` do not matter). A name in either list that no installed plugin has is logged as a
warning. A plugin that fails to import, or raises inside a hook, is reported as a
:class:`~hrguard.errors.PluginError` naming it; it is never skipped silently.

hrguard's own built-ins are a plugin too (:mod:`hrguard.plugins.builtins`), named in :data:`DEFAULT_PLUGINS`
and loaded by name as an installed one is by its entry point: the core never imports a plugin, so the
built-in detectors may use the engine as a vendor's do. Only pluggy's public API is used; the
distribution each installed plugin came from is kept in :attr:`Registry.distributions`.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from ..errors import PluginError
from ..events import Event
from ..sdk import Detector, DetectorParams
from . import hookspecs

ENTRY_POINT_GROUP = "hrguard"
DEFAULT_PLUGINS = ("hrguard.plugins.builtins",)
"""Modules registered in every engine, before installed plugins, under their module name."""
ALLOW_VAR, BLOCK_VAR, DISABLE_VAR = "HRGUARD_PLUGINS_ALLOW", "HRGUARD_PLUGINS_BLOCK", "HRGUARD_DISABLE_PLUGIN_AUTOLOAD"

log = logging.getLogger("hrguard")


@dataclass(frozen=True)
class Registered:
    """Something a plugin registered, and which plugin (and distribution version) it came from."""

    name: str
    obj: Any
    plugin: str
    version: str | None = None
    distribution: str | None = None


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name, and where the installed plugins came from."""

    kinds: dict[str, Registered] = field(default_factory=dict)
    detectors: dict[str, Registered] = field(default_factory=dict)
    rulesets: dict[str, Registered] = field(default_factory=dict)
    pipelines: dict[str, Registered] = field(default_factory=dict)
    distributions: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Plugin name -> ``(distribution name, version)`` of each plugin loaded from an entry point."""


def _call_registration(
    pm: pluggy.PluginManager, hook_name: str, table: dict[str, Registered], what: str, key: Callable[[Any], str],
    check: Callable[[Any], None], distributions: dict[str, tuple[str, str]],
) -> None:
    hook = getattr(pm.hook, hook_name)
    for impl in hook.get_hookimpls():  # in registration order: built-ins first
        plugin_name = impl.plugin_name
        distribution, version = distributions.get(plugin_name, (None, None))

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
            table[name] = Registered(name, obj, plugin_name, version, distribution)

        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {plugin_name!r} raised in {hook_name}: {type(exc).__name__}: {exc}") from exc


def _check_kind(model: Any) -> None:
    if not (isinstance(model, type) and issubclass(model, Event) and model.KIND):
        raise PluginError(f"{model!r} is not an Event subclass with kind: Literal['...']")


def _check_detector(cls: Any) -> None:
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


def _check_pipeline(item: Any) -> None:
    name, path = item
    if not isinstance(name, str) or not Path(path).is_file():
        raise PluginError(f"pipeline {name!r}: {path} is not a file")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def _names(var: str) -> set[str] | None:
    """The normalised names an environment variable lists; ``None`` when it is unset or empty."""
    names = {_norm(n) for n in os.environ.get(var, "").split(",") if n.strip()}
    return names or None


def _ep_names(ep: md.EntryPoint) -> set[str]:
    names = {_norm(ep.name)}
    if ep.dist is not None and ep.dist.name:
        names.add(_norm(ep.dist.name))
    return names


def installed() -> list[md.EntryPoint]:
    """Every installed plugin: the entry points of the ``hrguard`` group."""
    return list(md.entry_points(group=ENTRY_POINT_GROUP))


def _entry_points(allow: set[str] | None, block: set[str]) -> list[md.EntryPoint]:
    """The installed plugins to load: allowed (when an allow list is given) and not blocked."""
    found = installed()
    known = set().union(*(_ep_names(ep) for ep in found)) if found else set()
    for var, names in ((ALLOW_VAR, allow or set()), (BLOCK_VAR, block)):
        unknown = sorted(names - known)
        if unknown:
            log.warning("%s names %s, which no installed hrguard plugin has (installed: %s)", var,
                        ", ".join(unknown), ", ".join(sorted({ep.name for ep in found})) or "none")
    return [ep for ep in found if (allow is None or _ep_names(ep) & allow) and not _ep_names(ep) & block]


def _where(ep: md.EntryPoint) -> str:
    dist = f" of {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
    return f"(entry point {ep.name} = {ep.value}{dist})"


def _load_entry_point(pm: pluggy.PluginManager, ep: md.EntryPoint, distributions: dict[str, tuple[str, str]]) -> None:
    if pm.get_plugin(ep.name) is not None:
        prior = distributions.get(ep.name, (None, None))[0]
        raise PluginError(f"two installed plugins are named {ep.name!r}: {prior or 'another distribution'} and "
                          f"{_where(ep)}; uninstall one, or block it with {BLOCK_VAR}")
    try:
        plugin = ep.load()
    except Exception as exc:
        raise PluginError(f"plugin {ep.name!r} {_where(ep)} failed to import: {type(exc).__name__}: {exc} "
                          f"(set {BLOCK_VAR}={ep.name} to run without it)") from exc
    _register(pm, plugin, ep.name, _where(ep))
    if ep.dist is not None:
        distributions[ep.name] = (ep.dist.name, ep.dist.version)


def _register(pm: pluggy.PluginManager, plugin: object, name: str, where: str = "") -> None:
    """Register one plugin; a hook implementation pluggy refuses (a misspelt argument...) names the plugin."""
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # pluggy's PluginValidationError, or ValueError for a plugin registered twice
        raise PluginError(f"plugin {name!r}{' ' + where if where else ''} cannot be registered: "
                          f"{type(exc).__name__}: {exc}") from exc


def load(plugins: Iterable[object] = (), *, entrypoints: bool | None = None) -> tuple[pluggy.PluginManager, Registry]:
    """A fresh PluginManager with the built-ins (:data:`DEFAULT_PLUGINS`), installed plugins (optionally) and
    ``plugins``."""
    pm = pluggy.PluginManager("hrguard")
    pm.add_hookspecs(hookspecs)
    for module in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module), name=module)
    reg = Registry()
    if entrypoints is None:
        entrypoints = not os.environ.get(DISABLE_VAR)
    if entrypoints:
        for ep in _entry_points(_names(ALLOW_VAR), _names(BLOCK_VAR) or set()):
            _load_entry_point(pm, ep, reg.distributions)
    for i, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{i}"
        _register(pm, plugin, name)
    for hook, table, what, key, check in (
        ("hrguard_register_event_kinds", reg.kinds, "event kind", lambda m: m.KIND, _check_kind),
        ("hrguard_register_detectors", reg.detectors, "detector", lambda c: c.id, _check_detector),
        ("hrguard_register_rulesets", reg.rulesets, "ruleset", lambda t: t[0], _check_ruleset),
        ("hrguard_register_pipelines", reg.pipelines, "pipeline", lambda t: t[0], _check_pipeline),
    ):
        _call_registration(pm, hook, table, what, key, check, reg.distributions)
    return pm, reg
