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
"""

from __future__ import annotations

import hashlib
import json
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


def fingerprint_content(ruleset: Ruleset) -> dict[str, Any]:
    """What :func:`fingerprint` hashes, as a JSON-ready dict (to see why two fingerprints differ)."""
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
            "params": rule.params.model_dump(mode="json"),
            "severity": rule.severity.value,
            "scope": rule.scope.model_dump(mode="json"),
            "exceptions": [e.model_dump(mode="json") for e in rule.exceptions],
            "registered": _identity(registered, version) if registered is not None else {
                "plugin": None, "distribution": None, "version": None,
                "class": f"{rule.detector.__module__}:{rule.detector.__qualname__}"},
        })
    return {
        "fingerprint": FINGERPRINT_VERSION,
        "hrguard": version,
        "ruleset": {"name": ruleset.name, "timezone": ruleset.timezone, "language": ruleset.language,
                    "horizons": ruleset.horizons.model_dump(mode="json")},
        "rules": rules,
        "kinds": {kind: _identity(reg, version) for kind, reg in sorted(registry.kinds.items())},
    }


def fingerprint(ruleset: Ruleset) -> str:
    """A stable hash (64 hex digits, sha256) of ``ruleset``'s resolved content and the identities of the
    detectors and event kinds behind it: equal across processes and machines for the same ruleset,
    plugins and versions; different when anything a saved state depends on changes (a param, a
    severity, a plugin's version). :func:`fingerprint_content` shows what is hashed."""
    text = json.dumps(fingerprint_content(ruleset), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
