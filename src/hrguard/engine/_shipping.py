"""A ruleset shipped to other processes and machines: self-contained data, checked by fingerprint where it runs.

A Spark executor (or a Dask or Ray worker) has no ruleset file, no model file and maybe other versions
installed. :func:`ship_ruleset` turns a loaded :class:`~hrguard.Ruleset` into a :class:`ShippedRuleset`:

- the ruleset as plain data: ``extends`` already resolved (every rule written out with its params,
  defaults filled in, severity, scope and exceptions), name, language, timezone and horizons;
- the bytes of every saved model a rule names (``fit_on: {model: path}``), embedded (base64) and named
  by their SHA-256, so an executor needs no shared file system;
- the plugins as module names (``vendor_plugin.hooks``), imported by name where it runs: an executor
  loads exactly these (``Engine(plugins, entrypoints=False)``), never whatever happens to be installed;
- the fingerprint (:func:`hrguard.rules.fingerprint` with ``environment=True``: hrguard, every plugin's
  version, numpy and scikit-learn) and the content it hashes.

:func:`load_shipped` is what runs on the executor: it rebuilds the ruleset once per process and
fingerprint (later calls are a dictionary look-up), writes embedded models to a cache folder, and
raises :class:`~hrguard.RulesetMismatchError` naming every difference when the fingerprint computed
here is not the one shipped. The fingerprint is computed at shipping time from the shipped data
loaded back (a round trip on the driver), so the driver and a correctly set-up executor compute it
the same way.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ArgumentTypeError, InvalidArgumentError, RulesetMismatchError
from ..plugins import DEFAULT_PLUGINS
from ..rules import Ruleset, fingerprint_content

SHIP_FORMAT = 1
MODEL_CACHE_VAR = "HRGUARD_MODEL_CACHE"
"""Environment variable: the folder where executors write embedded models (default: the temp folder's
``hrguard-models``)."""
_MODEL_REF = "shipped-model:"

_cache: dict[str, Ruleset] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ShippedRuleset:
    """A self-contained ruleset (:func:`ship_ruleset`): plain data (picklable, JSON-able), the plugins by
    module name, embedded models, and the fingerprint it must have wherever it is loaded."""

    spec: Mapping[str, Any]

    @property
    def fingerprint(self) -> str:
        return str(self.spec["fingerprint"])

    @property
    def plugins(self) -> list[str]:
        return list(self.spec["plugins"])

    @property
    def name(self) -> str:
        return str(self.spec["ruleset"]["ruleset"])

    def to_json(self) -> str:
        return json.dumps(self.spec, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> ShippedRuleset:
        spec = json.loads(text)
        if not isinstance(spec, dict) or spec.get("format") != SHIP_FORMAT:
            raise InvalidArgumentError("text", f"not a shipped hrguard ruleset of format {SHIP_FORMAT}")
        return cls(spec)

    def load(self) -> Ruleset:
        """:func:`load_shipped` of this ruleset."""
        return load_shipped(self)


def _plugin_modules(ruleset: Ruleset) -> list[str]:
    out = []
    for name, plugin in ruleset.engine.pm.list_name_plugin():
        if name in DEFAULT_PLUGINS or plugin is None:
            continue
        module = getattr(plugin, "__name__", None)
        if not isinstance(module, str) or type(plugin).__name__ != "module":
            raise InvalidArgumentError("plugins", f"plugin {name!r} is a {type(plugin).__name__}, not a module: a "
                                                  "shipped ruleset names its plugins by module; pass plugins=[...] "
                                                  "with the module names executors must import")
        out.append(module)
    return out


def _model_paths(params: Any) -> list[str]:
    fit_on = params.get("fit_on") if isinstance(params, dict) else None
    return [fit_on["model"]] if isinstance(fit_on, dict) and isinstance(fit_on.get("model"), str) else []


def ship_ruleset(ruleset: Any, *, plugins: list[str] | None = None) -> ShippedRuleset:
    """``ruleset`` (a :class:`~hrguard.Ruleset`, a bundled name or a path) as a :class:`ShippedRuleset`.

    ``plugins``: the module names executors import (default: every plugin the ruleset's engine has
    beside the built-ins, by module name). The shipped form is loaded back here once, and its rules
    compared with ``ruleset``'s, so what cannot be shipped faithfully fails now, on the driver.
    """
    from ._engine import load_ruleset

    rs = ruleset if isinstance(ruleset, Ruleset) else load_ruleset(ruleset)
    if plugins is None:
        plugins = _plugin_modules(rs)
    elif isinstance(plugins, str) or not all(isinstance(p, str) for p in plugins):
        raise ArgumentTypeError("plugins", "a list of module names (['vendor_plugin.hooks'])")
    models: dict[str, str] = {}
    files: dict[str, str] = {}
    rules = []
    for rule in rs.rules:
        params = rule.params.model_dump(mode="json")
        for path in _model_paths(params):
            data = Path(path).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            models[digest] = base64.b64encode(data).decode("ascii")
            files[path] = digest
            params["fit_on"]["model"] = _MODEL_REF + digest
        rules.append({"use": rule.use, "name": rule.name, "severity": rule.severity.value, "params": params,
                      "scope": rule.scope.model_dump(mode="json"),
                      "exceptions": [e.model_dump(mode="json", exclude_none=True) for e in rule.exceptions]})
    spec: dict[str, Any] = {
        "format": SHIP_FORMAT, "plugins": list(plugins), "models": models,
        "ruleset": {"ruleset": rs.name, "language": rs.language, "timezone": rs.timezone,
                    "horizons": rs.horizons.model_dump(mode="json"), "rules": rules},
    }
    back, content, fp = _build(spec)
    want = fingerprint_content(rs, files=files)
    for key in ("ruleset", "rules"):
        a = want[key] if key == "ruleset" else [{k: v for k, v in r.items() if k != "registered"} for r in want[key]]
        b = content[key] if key == "ruleset" else [{k: v for k, v in r.items() if k != "registered"}
                                                   for r in content[key]]
        if a != b:
            raise InvalidArgumentError("ruleset", "does not survive shipping unchanged: "
                                                  + "; ".join(_differences(a, b, key)[:5]))
    spec["fingerprint"], spec["content"] = fp, content
    with _lock:
        _cache[fp] = back
    return ShippedRuleset(spec)


def _model_dir() -> Path:
    d = Path(os.environ.get(MODEL_CACHE_VAR) or Path(tempfile.gettempdir()) / "hrguard-models")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _materialize(digest: str, b64: str) -> str:
    """The embedded model ``digest`` as a local file (written once; its bytes checked)."""
    path = _model_dir() / f"{digest}.npz"
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        data = base64.b64decode(b64)
        if hashlib.sha256(data).hexdigest() != digest:
            raise InvalidArgumentError("shipped", f"the embedded model {digest[:12]} does not match its digest")
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return str(path)


def _build(spec: Mapping[str, Any]) -> tuple[Ruleset, dict[str, Any], str]:
    """The ruleset of ``spec`` loaded in a fresh engine with exactly its plugins; its content and fingerprint."""
    from ..rules import fingerprint
    from ._engine import Engine

    engine = Engine([importlib.import_module(m) for m in spec["plugins"]], entrypoints=False)
    files: dict[str, str] = {}
    data = json.loads(json.dumps(spec["ruleset"]))  # a copy to fill in the local model paths
    for rule in data["rules"]:
        fit_on = rule["params"].get("fit_on")
        if isinstance(fit_on, dict) and str(fit_on.get("model", "")).startswith(_MODEL_REF):
            digest = fit_on["model"][len(_MODEL_REF):]
            fit_on["model"] = _materialize(digest, spec["models"][digest])
            files[fit_on["model"]] = digest
    rs = engine.load_ruleset(data)
    return rs, fingerprint_content(rs, environment=True, files=files), fingerprint(rs, environment=True, files=files)


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def load_shipped(shipped: ShippedRuleset | Mapping[str, Any] | str) -> Ruleset:
    """The :class:`~hrguard.Ruleset` of a shipped ruleset (a :class:`ShippedRuleset`, its ``spec`` or its
    JSON), built once per process and fingerprint; :class:`~hrguard.RulesetMismatchError` when this
    process computes another fingerprint for it (another hrguard, plugin, numpy or scikit-learn)."""
    if isinstance(shipped, str):
        shipped = ShippedRuleset.from_json(shipped)
    elif isinstance(shipped, Mapping):
        shipped = ShippedRuleset(shipped)
    if not isinstance(shipped, ShippedRuleset):
        raise ArgumentTypeError("shipped", f"expected a ShippedRuleset, got {type(shipped).__name__}")
    fp = shipped.fingerprint
    with _lock:
        hit = _cache.get(fp)
        if hit is not None:
            return hit
        rs, content, found = _build(shipped.spec)
        if found != fp:
            raise RulesetMismatchError(fp, found, _differences(shipped.spec.get("content", {}), content))
        _cache[fp] = rs
        return rs
