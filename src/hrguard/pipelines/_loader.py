"""Loading a pipeline: YAML read safely, every problem located at ``file:line:col``, all at once.

The machinery is the rulesets' (:func:`hrguard.rules.parse_yaml`, :func:`hrguard.rules.pydantic_problems`):
the same safe loader (YAML 1.2 booleans, no tags that build objects, duplicate keys refused), the
same messages. A pipeline loads whole or not at all: :class:`~hrguard.errors.PipelineError` carries
every problem. Beyond the shape, each source is checked against the engine: its kinds exist, every
field it sets is a field of its kind, templates parse, time zones are known, source names are unique.

Limits: a pipeline file is at most 1 MiB; at most 1,000 sources, 100 events per source, and 16
levels of ``extends``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import ArgumentTypeError, PipelineError, Problem
from ..events import get_zone
from ..rules import Doc, parse_yaml, pydantic_problems
from ._model import EmitSpec, PipelineFile, SourceSpec
from ._pipeline import Pipeline, compile_source
from ._values import is_template, parse_template

if TYPE_CHECKING:  # pragma: no cover
    from ..engine import Engine

MAX_FILE_BYTES = 1 << 20
MAX_SOURCES = 1000
MAX_EMITS = 100
MAX_EXTENDS_DEPTH = 16
_ENVELOPE_SET = ("tenant",)


@dataclass
class _Partial:
    head: dict[str, Any] = field(default_factory=dict)  # the top-level settings given (not defaults)
    sets: dict[str, Any] = field(default_factory=dict)
    sources: list[SourceSpec] = field(default_factory=list)


def _resolve(ref: str, base_dir: Path | None, engine: Engine) -> Path | None:
    p = Path(ref)
    candidates = [base_dir / p] if base_dir is not None and not p.is_absolute() else [p]
    for c in candidates:
        if c.is_file():
            return c
    reg = engine.registry.pipelines.get(ref)
    return Path(reg.obj[1]) if reg is not None else None


def _load_file(path: Path, engine: Engine, problems: list[Problem], stack: tuple[Path, ...]) -> _Partial:
    file = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(file, None, None, f"a pipeline file is at most {MAX_FILE_BYTES >> 20} MiB"))
            return _Partial()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(file, None, None, f"cannot read pipeline: {exc}"))
        return _Partial()
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, None, None, f"a pipeline must be UTF-8 text: {exc.reason} at byte {exc.start}"))
        return _Partial()
    data, doc = parse_yaml(text, file, problems)
    if doc.node is None and data is None and problems:
        return _Partial()
    return _load_data(data, doc, path.parent, engine, problems, stack + (path.resolve(),))


def _load_data(data: Any, doc: Doc, base_dir: Path | None, engine: Engine, problems: list[Problem],
               stack: tuple[Path, ...]) -> _Partial:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        doc.problem((), f"a pipeline is a mapping with 'sources:', got {type(data).__name__}")
        return _Partial()
    raw_sources = data.get("sources", [])
    top = {k: v for k, v in data.items() if k != "sources"}
    try:
        head = PipelineFile.model_validate(top)
    except ValidationError as exc:
        pydantic_problems(exc, doc, (), None, PipelineFile, owner="the pipeline")
        head = PipelineFile()
    if head.timezone is not None:
        try:
            get_zone(head.timezone)
        except ValueError as exc:
            doc.problem(("timezone",), str(exc))
    out = _Partial()
    extends = [head.extends] if isinstance(head.extends, str) else list(head.extends)
    if len(stack) > MAX_EXTENDS_DEPTH:
        doc.problem(("extends",), f"extends: more than {MAX_EXTENDS_DEPTH} levels")
        extends = []
    for i, ref in enumerate(extends):
        at = ("extends", i) if isinstance(head.extends, list) else ("extends",)
        target = _resolve(ref, base_dir, engine)
        if target is None:
            doc.problem(at, f"extends: no pipeline file or bundled pipeline named {ref!r} "
                            f"(bundled: {', '.join(sorted(engine.registry.pipelines)) or 'none'})")
            continue
        if target.resolve() in stack:
            chain = list(stack[stack.index(target.resolve()):]) + [target.resolve()]
            doc.problem(at, "extends: a cycle: " + " -> ".join(c.name for c in chain))
            continue
        part = _load_file(target, engine, problems, stack)
        out.head.update({k: v for k, v in part.head.items() if k != "pipeline"})  # the name is not inherited
        out.sets.update(part.sets)
        _merge(out.sources, part.sources)
    given = head.model_dump(exclude_unset=True, exclude={"extends", "set", "version", "description"})
    out.head.update(given)
    out.sets.update(head.set)
    if not isinstance(raw_sources, list):
        doc.problem(("sources",), f"'sources' must be a list of sources, got {type(raw_sources).__name__}")
        raw_sources = []
    if len(raw_sources) > MAX_SOURCES:
        doc.problem(("sources",), f"at most {MAX_SOURCES} sources in a pipeline")
        raw_sources = raw_sources[:MAX_SOURCES]
    own: list[SourceSpec] = []
    names: dict[str, int] = {}
    for i, raw in enumerate(raw_sources):
        path = ("sources", i)
        label = raw.get("name") if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) else None
        try:
            spec = SourceSpec.model_validate(raw)
        except ValidationError as exc:
            pydantic_problems(exc, doc, path, None, SourceSpec, owner=f"source {label!r}" if label else "a source")
            continue
        if spec.name in names:
            doc.problem(path + ("name",), f"source #{i + 1}: duplicate source name {spec.name!r} (also source "
                                          f"#{names[spec.name] + 1})")
            continue
        names[spec.name] = i
        if _check_source(spec, doc, path, engine):
            own.append(spec)
    _merge(out.sources, own)
    return out


def _merge(into: list[SourceSpec], more: list[SourceSpec]) -> None:
    """Sources of the same name replace the earlier one in place; new ones go last."""
    where = {s.name: k for k, s in enumerate(into)}
    for s in more:
        if s.name in where:
            into[where[s.name]] = s
        else:
            where[s.name] = len(into)
            into.append(s)


def _check_source(spec: SourceSpec, doc: Doc, path: tuple[Any, ...], engine: Engine) -> bool:
    """Check one source against the engine's kinds; report each problem at its place (and, for a mapping
    given in Python, which has no lines, with the source's name)."""
    before = len(doc.problems)
    name = f"source {spec.name!r}"
    if spec.timezone is not None:
        try:
            get_zone(spec.timezone)
        except ValueError as exc:
            doc.problem(path + ("timezone",), f"{name}: {exc}")
    if len(spec.emit) > MAX_EMITS:
        doc.problem(path + ("emit",), f"{name}: at most {MAX_EMITS} events per source")
    if not spec.skip and not spec.emit:
        doc.problem(path, f"{name}: a source makes at least one event ('emit:'), or says 'skip: true'")
    for s_i, s in enumerate(spec.sentinels):
        if len(s.fields) != len(s.equals):
            doc.problem(path + ("sentinels", s_i), f"{name}: sentinel: {len(s.fields)} fields but {len(s.equals)} "
                                                   "values (one value per field)")
    for e_i, emit in enumerate(spec.emit):
        _check_emit(emit, doc, path + ("emit", e_i), engine, f"{name}, emit #{e_i + 1}")
    return len(doc.problems) == before


def _check_emit(emit: EmitSpec, doc: Doc, at: tuple[Any, ...], engine: Engine, name: str) -> None:
    model = engine.kinds.get(emit.kind)
    if model is None:
        doc.problem(at + ("kind",), f"{name}: unknown event kind {emit.kind!r} (known: "
                                    f"{', '.join(sorted(engine.kinds))}); a plugin's kinds need that plugin installed")
        return
    known = [f for f in model.model_fields if f not in ("kind", "id", "attrs")]
    for key in ("fields", "set"):
        for f in getattr(emit, key):
            if f not in known:
                doc.problem(at + (key, f), f"{name}: {emit.kind} has no field {f!r} (its fields: {', '.join(known)})",
                            key=True)
    for f in set(emit.fields) & set(emit.set):
        doc.problem(at + ("set", f), f"{name}: {f!r} is both read ('fields') and set ('set'): keep one", key=True)
    for key, text in [("id", emit.id)] + [(("fields", f), v) for f, v in emit.fields.items()]:
        if is_template(text):
            try:
                parse_template(text)
            except ValueError as exc:
                doc.problem(at + (key if isinstance(key, tuple) else (key,)), f"{name}: template {text!r}: {exc}")


def load_pipeline(source: Any, engine: Engine) -> Pipeline:
    """Load a pipeline from a path, a bundled name (``"odoo"``), or a mapping, checked against ``engine``'s
    kinds; raise :class:`~hrguard.errors.PipelineError` listing every problem.

    ``hrguard.load_pipeline`` (:func:`hrguard.engine.load_pipeline`) is this with the default engine.
    """
    if engine is None:
        raise ArgumentTypeError("engine", "hrguard.pipelines.load_pipeline needs the engine whose kinds the "
                                          "pipeline makes; hrguard.load_pipeline(source) uses the default engine")
    if isinstance(source, Pipeline):
        return source
    problems: list[Problem] = []
    if isinstance(source, Mapping):
        part = _load_data(source, Doc("<dict>", None, problems), Path.cwd(), engine, problems, ())
        label = "<dict>"
    elif isinstance(source, (str, Path)):
        path = _resolve(str(source), None, engine)
        if path is None:
            bundled = ", ".join(sorted(engine.registry.pipelines)) or "none"
            raise PipelineError([Problem(str(source), None, None,
                                         f"no pipeline file or bundled pipeline named {str(source)!r} (bundled: {bundled})")])
        part = _load_file(path, engine, problems, ())
        label = str(path)
    else:
        raise ArgumentTypeError("pipeline", f"expected a pipeline name, path or mapping, got {type(source).__name__}")
    if not problems and not part.sources:
        problems.append(Problem(label, None, None, "a pipeline has at least one source ('sources:')"))
    if problems:
        files = {p.file: i for i, p in reversed(list(enumerate(problems)))}
        problems.sort(key=lambda p: (files[p.file], p.line or 0, p.column or 0))
        raise PipelineError(problems)
    head = part.head
    name = head.get("pipeline") or (Path(label).stem if label != "<dict>" else "pipeline")
    zone = head.get("timezone")
    sources = tuple(compile_source(s, engine.kinds, part.sets, zone) for s in part.sources)
    return Pipeline(name, sources, head.get("format") or "json", zone, head.get("epoch") or "s",
                    tuple(head.get("missing") or ()), head.get("record_id") or "id", dict(part.sets), label, engine)
