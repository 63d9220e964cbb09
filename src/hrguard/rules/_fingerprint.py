"""A ruleset's fingerprint: one stable hash of everything that decides what a saved state means.

A detector's saved state only makes sense to the same rule, with the same params, run by the same
code. :func:`fingerprint` hashes what decides that, so a checkpoint taken under one ruleset is
refused under another (see :mod:`hrguard.checkpoints`):

- the ruleset's name, timezone and language;
- every rule, in order: its name, detector id, params (as JSON, defaults filled in), severity, scope
  and exceptions;
- the identity of the detector class behind each rule: the plugin that registered it, that plugin's
  distribution and version (hrguard's own version for the built-ins), and the class's module and name;
- every event kind the engine knows, with the same identity of the plugin behind it: the kinds
  decide which events are accepted at all.

Not in it: where the ruleset was loaded from (its path), its description, and detectors that are
registered but used by no rule (installing an unrelated plugin detector keeps the fingerprint; a
plugin that adds event kinds changes it). Upgrading hrguard or a plugin in use changes it: a saved
state is never trusted across versions of the code that wrote it.

``environment=True`` adds what a ruleset shipped to other machines (``hrguard.engine.ship_ruleset``) must
find there too: the versions of numpy and scikit-learn (the forest's fitting and scoring), and of the
distribution behind every plugin module the engine was given in code (an entry-point plugin's version is
in its identity already). ``files`` maps a file path named in a rule's params (an outlier rule's
``fit_on: {model: path}``) to a digest of its bytes, hashed instead of the path: the same model bytes
written to another place on an executor keep the fingerprint, other bytes change it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from ..errors import ArgumentTypeError
from ._model import Ruleset

FINGERPRINT_VERSION = 1  # what is hashed; part of the hash, so a change of this list changes every fingerprint


def _hrguard_version() -> str:
    try:
        return metadata.version("hrguard")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree never installed
        return "unknown"


def _identity(registered: Any, hrguard_version: str) -> dict[str, Any]:
    """Who registered a detector or kind: plugin, distribution and version, and the class itself."""
    builtin = registered.distribution is None and registered.plugin.startswith("hrguard.")
    obj = registered.obj
    return {
        "plugin": registered.plugin,
        "distribution": "hrguard" if builtin else registered.distribution,
        "version": hrguard_version if builtin else registered.version,
        "class": f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', type(obj).__qualname__)}",
    }


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _module_version(module: str) -> str | None:
    """``name==version`` of the installed distribution that provides ``module``: the one whose ``hrguard``
    entry point names it, else the one that ships its top-level package (an editable install lists no
    packages), else the module's ``__version__``."""
    for ep in metadata.entry_points(group="hrguard"):
        if ep.module == module and ep.dist is not None:
            return f"{ep.dist.name}=={ep.dist.version}"
    dists = metadata.packages_distributions().get(module.split(".", 1)[0], [])
    if dists:
        return ", ".join(f"{d}=={_version(d)}" for d in sorted(set(dists)))
    import sys

    version = getattr(sys.modules.get(module.split(".", 1)[0]), "__version__", None)
    return f"{module.split('.', 1)[0]}=={version}" if isinstance(version, str) else None


def _environment(ruleset: Ruleset) -> dict[str, Any]:
    from ..plugins import DEFAULT_PLUGINS

    given = sorted(name for name, plugin in ruleset.engine.pm.list_name_plugin()
                   if name not in DEFAULT_PLUGINS and name not in ruleset.engine.registry.distributions
                   and plugin is not None)
    return {"numpy": _version("numpy"), "scikit-learn": _version("scikit-learn"),
            "plugins": {name: _module_version(name) for name in given}}


def _swap_files(value: Any, files: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return f"file:{files[value]}" if value in files else value
    if isinstance(value, dict):
        return {k: _swap_files(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap_files(v, files) for v in value]
    return value


def fingerprint_content(ruleset: Ruleset, *, environment: bool = False,
                        files: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What :func:`fingerprint` hashes, as a JSON-ready dict (to see why two fingerprints differ);
    ``environment`` and ``files``: see the module's docstring."""
    if not isinstance(ruleset, Ruleset):
        raise ArgumentTypeError("ruleset", f"expected a loaded hrguard.Ruleset, got {type(ruleset).__name__}")
    version = _hrguard_version()
    registry = ruleset.engine.registry
    rules = []
    for rule in ruleset.rules:
        registered = registry.detectors.get(rule.use)
        rules.append({
            "name": rule.name,
            "detector": rule.use,
            "params": _swap_files(rule.params.model_dump(mode="json"), files or {}),
            "severity": rule.severity.value,
            "scope": rule.scope.model_dump(mode="json"),
            "exceptions": [e.model_dump(mode="json") for e in rule.exceptions],
            "registered": _identity(registered, version) if registered is not None else {
                "plugin": None, "distribution": None, "version": None,
                "class": f"{rule.detector.__module__}:{rule.detector.__qualname__}"},
        })
    content = {
        "fingerprint": FINGERPRINT_VERSION,
        "hrguard": version,
        "ruleset": {"name": ruleset.name, "timezone": ruleset.timezone, "language": ruleset.language,
                    "horizons": ruleset.horizons.model_dump(mode="json")},
        "rules": rules,
        "kinds": {kind: _identity(reg, version) for kind, reg in sorted(registry.kinds.items())},
    }
    if environment:
        content["environment"] = _environment(ruleset)
    return content


def fingerprint(ruleset: Ruleset, *, environment: bool = False, files: Mapping[str, str] | None = None) -> str:
    """A stable hash (64 hex digits, sha256) of ``ruleset``'s resolved content and the identities of the
    detectors and event kinds behind it: equal across processes and machines for the same ruleset,
    plugins and versions; different when anything a saved state depends on changes (a param, a
    severity, a plugin's version). :func:`fingerprint_content` shows what is hashed."""
    text = json.dumps(fingerprint_content(ruleset, environment=environment, files=files), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
