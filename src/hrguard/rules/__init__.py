"""Rulesets as validated data: the format (``_model``), safe YAML with located problems (``_yaml``), and loading
with ``extends`` into the resolved :class:`Ruleset` (``_loader``), and a ruleset's :func:`fingerprint` (``_fingerprint``):
the hash that ties a saved state (a checkpoint) to the rules and plugins it was built under.

The YAML machinery (:func:`parse_yaml`, :class:`Doc`, :func:`pydantic_problems`) is shared with every
other validated YAML format (mapping pipelines: :mod:`hrguard.pipelines`), so all of them report
problems the same way."""

from __future__ import annotations

from ._fingerprint import fingerprint, fingerprint_content
from ._loader import load_ruleset
from ._yaml import Doc, parse_yaml, pydantic_problems
from ._model import (
    FORMAT_VERSION,
    ExpectedFinding,
    FindingMatch,
    Rule,
    RuleException,
    Ruleset,
    RulesetFile,
    RulesetTest,
    RulesetTestsFile,
    RulesetTestSpec,
    RuleSpec,
    Scope,
    ruleset_json_schema,
)

__all__ = [
    "Doc",
    "ExpectedFinding",
    "FORMAT_VERSION",
    "FindingMatch",
    "Rule",
    "RuleException",
    "RuleSpec",
    "Ruleset",
    "RulesetFile",
    "RulesetTest",
    "RulesetTestSpec",
    "RulesetTestsFile",
    "Scope",
    "fingerprint",
    "fingerprint_content",
    "load_ruleset",
    "parse_yaml",
    "pydantic_problems",
    "ruleset_json_schema",
]
