"""Reading an XES event log (IEEE 1849, plain or gzip) as records, with the standard library only.

One record per ``<event>``: its attributes by key, plus ``trace``, the attributes of its trace
(``trace.concept:name`` is the case id). Typed values are read as their types: ``int`` and ``float``
as numbers, ``boolean`` as ``true``/``false``, ``date``, ``string`` and ``id`` as text. A record's
place is the line of its ``<event>`` tag, so a rejection points into the file.

Safety. The log is parsed with :mod:`xml.parsers.expat` as a stream, never built as a tree, and
defused: a document type declaration (the only way to declare entities, external or not) is refused,
so there is no entity expansion and nothing outside the file is read. Limits (a log beyond them is a
:class:`~hrguard.errors.InvalidArgumentError` naming the limit): 4 GiB of XML after decompression,
10,000 attributes per event or trace, 1 MiB per attribute value, 64 levels of nesting. Nested
attributes (XES ``nested-attributes``: an attribute inside another) are read as the outer one's value
only; a list attribute's items are not read.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from typing import IO, Any
from xml.parsers import expat

from ..errors import InvalidArgumentError
from ..ingest import Block

MAX_BYTES = 4 << 30
MAX_ATTRIBUTES = 10_000
MAX_VALUE = 1 << 20
MAX_DEPTH = 64
_TYPES = {"string", "date", "int", "float", "boolean", "id"}


class _Refused(Exception):
    pass


def _typed(tag: str, text: str) -> Any:
    if tag == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if tag == "float":
        try:
            return float(text)
        except ValueError:
            return text
    if tag == "boolean":
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    return text


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    fh = open(path, "rb")
    head = fh.read(2)
    fh.seek(0)
    return gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh  # type: ignore[return-value]


def read_xes(path: str | os.PathLike[str], size: int = 8192) -> Iterator[Block]:
    """Blocks of the events of an XES log (one record per ``<event>``, at the line of its tag)."""
    name = str(path)
    parser = expat.ParserCreate()
    stack: list[str] = []
    trace: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    event_line = 0
    values: list[Any] = []
    lines: list[int] = []
    attr_depth = 0  # > 0 inside an attribute element (its children are nested attributes)

    def refuse(what: str) -> None:
        raise _Refused(f"{name}:{parser.CurrentLineNumber}: {what}")

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal trace, event, event_line, attr_depth
        stack.append(tag)
        if len(stack) > MAX_DEPTH:
            refuse(f"XML nested deeper than {MAX_DEPTH} levels")
        if attr_depth:
            attr_depth += 1
            return
        if tag == "trace":
            trace = {}
        elif tag == "event":
            event = {}
            event_line = parser.CurrentLineNumber
        elif tag in _TYPES or tag in ("list", "container"):
            attr_depth = 1
            holder = event if event is not None else trace
            if holder is None or tag in ("list", "container"):
                return  # a log-level attribute, or a list: not read
            key, value = attrs.get("key"), attrs.get("value", "")
            if key is None:
                return
            if len(value) > MAX_VALUE:
                refuse(f"an attribute value longer than {MAX_VALUE} characters")
            if len(holder) >= MAX_ATTRIBUTES:
                refuse(f"more than {MAX_ATTRIBUTES} attributes in one {'event' if holder is event else 'trace'}")
            holder[key] = _typed(tag, value)

    def end(tag: str) -> None:
        nonlocal trace, event, attr_depth
        stack.pop()
        if attr_depth:
            attr_depth -= 1
            return
        if tag == "event" and event is not None:
            record = dict(event)
            record["trace"] = trace if trace is not None else {}
            values.append(record)
            lines.append(event_line)
            event = None
        elif tag == "trace":
            trace = None

    def no_doctype(*_: Any) -> None:
        refuse("a document type declaration (DOCTYPE) is refused: XES has none, and entities are not expanded")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    parser.ExternalEntityRefHandler = lambda *a: refuse("an external entity is refused")  # type: ignore[assignment]
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    read = 0
    with _open(path) as fh:
        while True:
            chunk = fh.read(1 << 20)
            read += len(chunk)
            if read > MAX_BYTES:
                raise InvalidArgumentError("events", f"{name}: more than {MAX_BYTES >> 30} GiB of XML; split the log")
            try:
                parser.Parse(chunk, not chunk)
            except _Refused as exc:
                raise InvalidArgumentError("events", str(exc)) from None
            except expat.ExpatError as exc:
                raise InvalidArgumentError("events", f"{name}:{exc.lineno}:{exc.offset + 1}: not well-formed XES: "
                                                     f"{expat.ErrorString(exc.code)}") from None
            if len(values) >= size or not chunk:
                if values:
                    yield Block(name, values, lines, fresh=True)
                    values, lines = [], []
            if not chunk:
                return
