"""From raw records to checked input: the one reader, and the model path with its located messages.

:func:`read_blocks` reads anything a scan accepts (JSON Lines or a JSON array, as paths, files or
stdin; or Python records) as :class:`Block` s of records that keep their line numbers (or
positions). :func:`validate` is the model path: one record validated by its kind's pydantic model,
giving the event or a :class:`Rejection` naming the record's line, its id when it has one, the
field and the problem. :class:`~hrguard.ingest.Intake` takes the blocks: through the fast path
(:mod:`hrguard.ingest`) where it can, through :func:`validate` for everything else.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import msgspec
from pydantic import BaseModel, ValidationError

from ..errors import FieldError, InvalidArgumentError, MissingFileError, UnsupportedInputError
from ..events import MAX_DEPTH, Event
from ._tables import is_parquet_path, refuse_unsupported, table_chunks, table_kind

try:  # the wording of a malformed line's message (orjson is optional: the 'fast' extra)
    import orjson

    _message_loads = orjson.loads
    JSONError: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _message_loads = json.loads
    JSONError = (json.JSONDecodeError,)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
"""What a rejection's id never shows as it is: control characters and lone surrogates (which no UTF-8
output can hold) are shown as Python escapes."""

MAX_LINE_BYTES = 16 * 1024 * 1024
"""The largest record read from a file: a JSON line, or an item of a JSON array, of at most 16 MiB. A larger
one is rejected as one record, located (its id read off its first KiB when it has one). See
``docs/events.md``, Limits."""


class _LongLine(bytes):
    """Stands for a JSON line longer than :data:`MAX_LINE_BYTES` in a block (not JSON: the fast path
    sends it to :func:`parse_line`, which rejects it with its length and id)."""

    length: int
    head: bytes


def _long_line(line: bytes) -> _LongLine:
    out = _LongLine(b"\x00")
    out.length = len(line)
    out.head = line[:1024]
    return out


@dataclass(frozen=True)
class Rejection:
    """A record that is not a valid event: where it was, which id, which field, what is wrong.

    ``line`` is the file's line for JSON Lines and the line where the item starts for a JSON array
    (``item`` is then its 1-based position in the array); for events given as Python objects,
    ``line`` is the record's 1-based position and ``source`` is ``<input>`` (or ``<stream>``). For a
    table (a DataFrame, a pyarrow Table, a Parquet file) ``row`` is the record's 0-based row
    (``df.iloc[row]``), ``line`` is ``None`` and ``source`` is the file or ``<pandas.DataFrame>`` & co.
    """

    line: int | None
    id: str | None
    field: str | None
    message: str
    source: str = "<input>"
    item: int | None = None
    row: int | None = None

    @property
    def where(self) -> str:
        """``file:12``, ``file:3 item 2`` (JSON array), ``<input> record 5`` (Python objects), or
        ``<pandas.DataFrame> row 4`` / ``file.parquet row 4`` (tables)."""
        if self.row is not None:
            return f"{self.source} row {self.row}"
        if self.line is None:
            return self.source
        if self.source.startswith("<") and self.source != "<stdin>":
            return f"{self.source} record {self.line}"
        item = f" item {self.item}" if self.item is not None else ""
        return f"{self.source}:{self.line}{item}"

    def __post_init__(self) -> None:
        if self.id is not None and _UNPRINTABLE.search(self.id):  # shown escaped: "x\\ud800", "x\\x00"
            object.__setattr__(self, "id", _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], self.id))
        if _SURROGATE.search(self.message):
            object.__setattr__(self, "message", _SURROGATE.sub(lambda m: repr(m.group())[1:-1], self.message))

    def __str__(self) -> str:
        ident = f" (id {self.id})" if self.id is not None else ""
        fld = f" field {self.field!r}:" if self.field else ""
        return f"{self.where}{ident}:{fld} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        d = {"source": self.source, "line": self.line, "id": self.id, "field": self.field, "message": self.message}
        if self.item is not None:
            d["item"] = self.item
        if self.row is not None:
            d["row"] = self.row
        return d


@dataclass
class IngestStats:
    """How many records came in and what became of them (``received == valid + duplicates + rejected``)."""

    received: int = 0
    valid: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0  # rejected because they arrived behind a stream's watermark (included in rejected)
    skipped: int = 0  # source records a mapping pipeline skips on purpose (a ``skip: true`` source; not in received)
    after_as_of: int = 0  # valid events later than the scan's as-of time (ignored entirely)


@dataclass
class Broken:
    """A record that could not be read (as JSON, or by a mapping pipeline): the problem, its id when it
    can be read off the record, and the field at fault when one is."""

    message: str
    id: str | None = None
    field: str | None = None


@dataclass
class Block:
    """Records in order of arrival, where each came from, in what form.

    ``values[i]`` is a JSON line as ``bytes`` when ``lines_are_json`` (a blank one is no record), else
    a Python record (a dict, a model, anything: it is checked) or a :class:`Broken` record;
    ``lines[i]`` its line (or 1-based position among Python records), ``items[i]`` its position in a
    JSON array. ``fresh``: the values were parsed here and are nobody else's (no copies needed).
    ``rows``: the values are a table's rows as records, and ``lines[i]`` is the 0-based row.
    """

    source: str
    values: list[Any]
    lines: list[int] | range
    items: list[int | None] | None = None
    lines_are_json: bool = False
    fresh: bool = False
    skipped: int = 0  # source records a mapping pipeline skipped on purpose while making this block
    rows: bool = False

    def item(self, i: int) -> int | None:
        return self.items[i] if self.items is not None else None


# -- reading ----------------------------------------------------------------------------------------------
_ID_IN_TEXT = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.){1,200})"')


def salvage_id(raw: bytes) -> str | None:
    """The ``"id"`` of a line that is not valid JSON, when it can still be read off the text."""
    m = _ID_IN_TEXT.search(raw)
    if m is None:
        return None
    try:
        return json.loads(b'"' + m.group(1) + b'"')
    except ValueError:
        return None


def json_problem(exc: Exception) -> str:
    """``unexpected end of data at column 21`` from a json/orjson error (their own line numbers are
    relative to the parsed text, which only confuses when the text is one line of a file)."""
    msg = getattr(exc, "msg", None) or str(exc)
    col = getattr(exc, "colno", None)
    return f"{msg} at column {col}" if col else msg


_AT_BYTE = re.compile(r"^(?:JSON is malformed: )?(.*?)(?: \(byte (\d+)\))?$")


def _msgspec_problem(exc: Exception, line: bytes) -> str:
    """The same from msgspec's error (``... (byte 20)``: its column in characters)."""
    m = _AT_BYTE.match(str(exc))
    what, at = (m.group(1), m.group(2)) if m else (str(exc), None)
    if at is None and what == "Input data was truncated":
        what, at = "unexpected end of data", str(len(line))
    if at is None:
        return what
    return f"{what} at column {len(line[:int(at)].decode('utf-8', 'replace')) + 1}"


def parse_line(line: bytes) -> Any:
    """One JSON Lines record: its value, or :class:`Broken` (msgspec decides what is JSON; the
    message says where it breaks)."""
    if type(line) is _LongLine:
        return Broken(f"the line is {line.length:_} bytes long, beyond the limit of a record "
                      f"({MAX_LINE_BYTES:_} bytes: docs/events.md, Limits)", salvage_id(line.head))
    try:
        return msgspec.json.decode(line)
    except RecursionError:
        return Broken("malformed JSON: nested too deep to read (a value in attrs may be nested at most "
                      f"{MAX_DEPTH} levels)", salvage_id(line))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        text = line.rstrip(b"\r\n")
        try:
            _message_loads(text)
            problem = _msgspec_problem(exc, text)
        except JSONError as other:
            problem = json_problem(other)
        except (ValueError, TypeError):
            problem = _msgspec_problem(exc, text)
        return Broken(f"malformed JSON: {problem}", salvage_id(text))


_WS = re.compile(r"[ \t\r\n]*")


class _NotJSON(ValueError):
    """A JSON array item the JSON Lines reader (msgspec) would not read either: NaN, Infinity, an integer
    beyond a double."""


def _constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not JSON (JSON has no NaN or infinities)")


def _integer(text: str) -> int:
    if len(text) > 300:
        try:
            v = int(text)
            float(v)
        except (ValueError, OverflowError):
            raise _NotJSON(f"a number of {len(text)} digits is beyond a double (the largest JSON number read)") from None
        return v
    return int(text)


_STRICT_JSON = json.JSONDecoder(parse_constant=_constant, parse_int=_integer)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_VALUE_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|,')


def _not_unicode(value: Any) -> str | None:
    """A lone surrogate escape (``"\\ud800"``) decodes to no Unicode text: msgspec (JSON Lines) refuses it."""
    try:
        msgspec.json.encode(value)
    except UnicodeEncodeError:
        return "a string is not valid Unicode text (a lone surrogate escape)"
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _value_end(text: str, pos: int) -> int | None:
    """Where the JSON value starting at ``pos`` ends (brackets matched, strings skipped, without recursion),
    for an item the decoder refused; ``None``: it never ends."""
    depth = 0
    for m in _VALUE_TOKENS.finditer(text, pos):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth <= 0:
                return m.end() if depth == 0 else m.start()
        elif tok == "," and depth == 0:
            return m.start()
    return None


def _array(data: bytes, source: str, first_line: int = 1, size: int = 8192) -> Iterator[Block]:
    """Blocks of the items of a JSON array, each with the line where it starts and its position."""
    values: list[Any] = []
    lines: list[int] = []
    items: list[int | None] = []
    for line, item, value in _array_items(data, first_line):
        values.append(value)
        lines.append(line)
        items.append(item)
        if len(values) >= size:
            yield Block(source, values, lines, items, fresh=True)
            values, lines, items = [], [], []
    if values:
        yield Block(source, values, lines, items, fresh=True)


def _array_items(data: bytes, first_line: int) -> Iterator[tuple[int, int | None, Any]]:
    """``(line, position, value)`` of each item of a JSON array.

    A syntax error ends the array: it is reported once (as :class:`Broken`), at its own line and column.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield first_line, None, Broken(f"not UTF-8 text: {exc}")
        return
    decoder = _STRICT_JSON
    line = first_line
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    counted = 0  # text[:counted] has been scanned for newlines

    def line_at(p: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, p)
        counted = p
        return line

    def error(p: int, msg: str, item: int | None = None, start: int | None = None) -> tuple[int, int | None, Broken]:
        ln = line_at(p)
        col = p - (text.rfind("\n", 0, p) + 1) + 1
        rid = salvage_id(text[start:p].encode()) if start is not None else None
        return ln, item, Broken(f"malformed JSON array: {msg} at column {col}", rid)

    pos += 1  # the "["
    n = 0
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == "]" and n == 0:
            pos += 1
            break
        try:
            value, end = decoder.raw_decode(text, pos)
            problem = _SURROGATE_ESCAPE.search(text, pos, end) and _not_unicode(value)
        except json.JSONDecodeError as exc:
            msg = "the array is not closed with ']'" if not text[exc.pos:].strip() else exc.msg
            yield error(exc.pos, msg, n + 1, pos)
            return
        except (_NotJSON, ValueError, RecursionError) as exc:  # NaN, a number beyond a double, too deep
            found = _value_end(text, pos)
            if found is None:
                yield error(pos, "the array is not closed with ']'", n + 1, pos)
                return
            end, value = found, None
            problem = str(exc) if isinstance(exc, _NotJSON) else (
                "nested too deep to read" if isinstance(exc, RecursionError) else "a number beyond a double")
        n += 1
        if not problem and end - pos > MAX_LINE_BYTES // 4 and len(text[pos:end].encode("utf-8", "surrogatepass")) \
                > MAX_LINE_BYTES:  # the same limit as a JSON line's
            problem = (f"the item is {len(text[pos:end].encode('utf-8', 'surrogatepass')):_} bytes long, beyond the "
                       f"limit of a record ({MAX_LINE_BYTES:_} bytes: docs/events.md, Limits)")
        if problem:
            at = line_at(pos)
            msg = problem if problem.startswith("the item is") else f"malformed JSON: {problem}"
            yield at, n, Broken(msg, salvage_id(text[pos:min(end, pos + 1024)].encode("utf-8", "surrogatepass")))
        else:
            yield line_at(pos), n, value
        pos = _WS.match(text, end).end()  # type: ignore[union-attr]
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            pos += 1
            break
        yield error(pos, "expected ',' or ']' after an item" if pos < len(text) else "the array is not closed with ']'")
        return
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    if pos < len(text):
        yield error(pos, "unexpected text after the closing ']'")


def _jsonl(fh: IO[bytes], source: str, size: int) -> Iterator[Block]:
    """Blocks of a binary stream of JSON Lines (or one JSON array), ``size`` records or so at a time."""
    lineno = 1
    first = True
    while True:
        lines = fh.readlines(size * 256)
        if not lines:
            return
        if first:
            if lines[0].startswith(b"\xef\xbb\xbf"):
                lines[0] = lines[0][3:]  # a UTF-8 byte order mark
            head = next((ln for ln in lines if ln.strip()), None)
            if head is None:
                lineno += len(lines)
                continue
            first = False
            if head.lstrip().startswith(b"["):  # a JSON array: read the whole thing
                skipped = lines.index(head)
                yield from _array(b"".join(lines[skipped:]) + fh.read(), source, lineno + skipped, size)
                return
        if max(map(len, lines)) > MAX_LINE_BYTES:
            lines = [_long_line(ln) if len(ln) > MAX_LINE_BYTES else ln for ln in lines]
        yield Block(source, lines, range(lineno, lineno + len(lines)), lines_are_json=True, fresh=True)
        lineno += len(lines)


def _records(values: Any, source: str, size: int) -> Iterator[Block]:
    """Blocks of Python records (positions 1, 2, ...)."""
    block: list[Any] = []
    start = 1
    for v in values:
        block.append(v)
        if len(block) >= size:
            yield Block(source, block, range(start, start + len(block)))
            start += len(block)
            block = []
    if block:
        yield Block(source, block, range(start, start + len(block)))


class BlockSource:
    """Input that reads itself into :class:`Block` s (a mapping pipeline's output: see
    :mod:`hrguard.pipelines`); :func:`read_blocks` hands it the block size."""

    def blocks(self, size: int) -> Iterator[Block]:  # pragma: no cover - abstract
        raise NotImplementedError


def read_blocks(events: Any, size: int = 8192, kinds: Mapping[str, type] | None = None) -> Iterator[Block]:
    """Blocks of about ``size`` records of anything ``scan`` accepts: a path (``"-"`` is stdin; a name
    ending in ``.parquet`` is a Parquet file), several paths, a binary or text file of JSON Lines or a
    JSON array, a table (a pandas or polars DataFrame, a pyarrow Table: see
    :mod:`hrguard.ingest._tables`; ``kinds`` tells its date fields), an iterable of records, or a
    :class:`BlockSource`.

    For JSON Lines a record's number is its line in the file; for a JSON array the line where the
    item starts (and its position in the array); for Python records their 1-based position; for a
    table its 0-based row. Anything else (a dict, bytes, a LazyFrame, an object that is not iterable)
    is an :class:`~hrguard.errors.UnsupportedInputError`, raised before anything is read.
    """
    if isinstance(events, BlockSource):
        yield from events.blocks(size)
        return
    if isinstance(events, (str, os.PathLike)):
        yield from _path(events, size, kinds)
        return
    if isinstance(events, (list, tuple)) and events and all(isinstance(e, (str, os.PathLike)) for e in events):
        for path in events:
            yield from _path(path, size, kinds)
        return
    if table_kind(events) is not None:
        yield from _table(events, size, kinds)
        return
    if isinstance(events, BaseModel):
        raise UnsupportedInputError(events, "one event is not a list of events: pass [event]")
    if hasattr(events, "read"):
        name = str(getattr(events, "name", "<stream>"))
        if isinstance(events, io.TextIOBase) or (hasattr(events, "encoding") and not hasattr(events, "buffer")):
            yield from _jsonl(io.BytesIO(events.read().encode()), name, size)
        elif hasattr(events, "buffer"):
            yield from _jsonl(events.buffer, name, size)
        else:
            yield from _jsonl(events, name, size)
        return
    refuse_unsupported(events)
    yield from _records(events, "<input>", size)


def _table(events: Any, size: int, kinds: Mapping[str, type] | None) -> Iterator[Block]:
    """Blocks of a table's rows (or a Parquet file's) as records, each located by its 0-based row."""
    for src, start, records in table_chunks(events, kinds or {}, size):
        yield Block(src.source, records, range(start, start + len(records)), fresh=src.fresh, rows=True)


def _path(path: str | os.PathLike[str], size: int, kinds: Mapping[str, type] | None = None) -> Iterator[Block]:
    if is_parquet_path(path):
        yield from _table(path, size, kinds)
        return
    name = str(path)
    if name == "-":
        stdin = sys.stdin
        if stdin is None or getattr(stdin, "closed", False):  # a closed stdin (``0<&-``): no records
            return
        yield from _read(getattr(stdin, "buffer", stdin), "<stdin>", size)
        return
    try:
        fh = open(name, "rb")  # a FIFO, /dev/stdin, /dev/null, <(zcat f.gz) are read like files
    except FileNotFoundError:
        raise MissingFileError(f"{name}: no such events file") from None
    except IsADirectoryError:
        raise InvalidArgumentError("events", f"{name}: is a directory, not an events file") from None
    except PermissionError:
        raise InvalidArgumentError("events", f"{name}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise InvalidArgumentError("events", f"{name}: cannot be opened ({exc.strerror or exc})") from None
    with fh:
        yield from _read(fh, name, size)


def _read(fh: IO[bytes], name: str, size: int) -> Iterator[Block]:
    """:func:`_jsonl` of an open file; an error reading it (a directory on some systems, a device error)
    is an error naming it, never a traceback."""
    try:
        yield from _jsonl(fh, name, size)
    except IsADirectoryError:
        raise InvalidArgumentError("events", f"{name}: is a directory, not an events file") from None
    except OSError as exc:
        raise InvalidArgumentError("events", f"{name}: cannot be read ({exc.strerror or exc})") from None


# -- the model path ---------------------------------------------------------------------------------------
_RFC3339 = "an RFC 3339 timestamp with an offset, e.g. 2026-03-30T09:12:00+08:00"
_FRIENDLY = {
    "missing": "required field is missing",
    "timezone_aware": f"timestamp without an offset: expected {_RFC3339}",
    "datetime_parsing": f"not a valid timestamp: expected {_RFC3339}",
    "datetime_from_date_parsing": f"not a valid timestamp: expected {_RFC3339}",
    "datetime_type": f"expected {_RFC3339}",
    "date_parsing": "not a valid date: expected YYYY-MM-DD, e.g. 2026-03-30",
    "date_from_datetime_parsing": "not a valid date: expected YYYY-MM-DD, e.g. 2026-03-30",
    "date_from_datetime_inexact": "not a valid date: expected YYYY-MM-DD, e.g. 2026-03-30",
    "date_type": "expected a date YYYY-MM-DD, e.g. 2026-03-30",
    "time_parsing": "not a valid time of day: expected HH:MM (local time), e.g. 09:30",
    "time_type": "expected a time of day HH:MM (local time), e.g. 09:30",
    "string_type": "expected a string",
    "string_too_short": "must not be empty",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "decimal_type": "expected a decimal number (a JSON number or a string such as \"1250.00\")",
    "decimal_parsing": "expected a decimal number (a JSON number or a string such as \"1250.00\")",
    "finite_number": "expected a finite number",
    "dict_type": "expected a JSON object",
    "model_type": "expected a JSON object",
    "list_type": "expected a JSON array",
    "extra_forbidden": "unknown field (not allowed inside this object)",
}
_RANGE = {"lat": "latitude must be within [-90, 90] (WGS-84 decimal degrees)",
          "lon": "longitude must be within [-180, 180] (WGS-84 decimal degrees)"}
_MONEY = ("amount",)


def _one(err: Any) -> tuple[str, str]:
    """``(field path, message)`` of one pydantic error, in words for the person fixing the record."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    etype = err["type"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):  # a model-level check that knows the field at fault
        path = ".".join(str(p) for p in loc + [cause.field])
        return path, str(cause)
    path = ".".join(str(p) for p in loc)
    last = loc[-1] if loc else None
    if etype in ("less_than_equal", "greater_than_equal", "less_than", "greater_than") and last in _RANGE:
        msg = _RANGE[last]
    elif etype == "greater_than_equal" and last in _MONEY and (err.get("ctx") or {}).get("ge") == 0:
        msg = "money is never negative"
    elif etype == "less_than" and last in _MONEY:
        msg = f"money must be below {(err.get('ctx') or {}).get('lt'):_} (the limit of an amount: docs/events.md, Limits)"
    elif etype == "greater_than_equal" and (err.get("ctx") or {}).get("ge") == 0:
        msg = "must not be negative"
    elif etype == "literal_error" and "expected" in (err.get("ctx") or {}):
        msg = f"expected {err['ctx']['expected']}"
    elif etype == "value_error":
        msg = str(cause) if cause is not None else err["msg"].removeprefix("Value error, ")
    else:
        msg = _FRIENDLY.get(etype, err["msg"])
    shown = err.get("input")
    if etype not in ("missing", "extra_forbidden") and "input" in err and not isinstance(shown, (dict, list)) \
            and etype != "value_error":
        msg += f" (got {_shown(shown)})"
    return path, msg


def _shown(value: Any) -> str:
    """A value as it would be written in JSON (``true``, ``"31.2"``), for messages about JSON input."""
    if type(value) is int and value.bit_length() > 64:
        return f"a number of {len(str(value)) if value.bit_length() < 10_000 else 'thousands of'} digits"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _describe(exc: ValidationError) -> tuple[str | None, str]:
    """The first field at fault and one message naming every problem of the record."""
    found = [_one(err) for err in exc.errors(include_url=False)]
    first = found[0][0] or None
    if len(found) == 1:
        return first, found[0][1]
    return first, "; ".join(f"{path}: {msg}" if path else msg for path, msg in found)


def _id_text(rid: Any) -> str:
    """How a rejection shows an id that is not a string (a number, a list): never an error of its own."""
    if type(rid) is int and rid.bit_length() > 64:
        return _shown(rid)
    try:
        return str(rid)
    except Exception:  # noqa: BLE001 - an object whose str() fails is still shown
        return f"<{type(rid).__name__}>"


def validate(value: Any, kinds: dict[str, type[Event]]) -> Event | tuple[str | None, str | None, str]:
    """One record through its kind's model: the event, or ``(id, field, message)`` of its rejection."""
    if isinstance(value, Broken):
        return value.id, value.field, value.message
    if isinstance(value, Event):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        what = "null" if value is None else type(value).__name__
        return None, None, f"expected a JSON object (one event), got {what}"
    rid = value.get("id")
    rid = rid if isinstance(rid, str) else (_id_text(rid) if rid is not None else None)
    rid = rid or None  # an empty id is no id
    kind = value.get("kind")
    if kind is None:
        msg = "required field is missing" if "kind" not in value else "must not be null"
        return rid, "kind", msg + " (it names what happened, e.g. 'attendance.punched')"
    model = kinds.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(kinds))
        shown = repr(kind) if isinstance(kind, str) else _id_text(kind)
        return rid, "kind", f"unknown kind {shown} (known kinds: {known})"
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        fld, msg = _describe(exc)
        return rid, fld, msg
    except RecursionError:
        return rid, None, f"nested too deep to read (a value in attrs may be nested at most {MAX_DEPTH} levels)"
