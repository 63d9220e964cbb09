"""An example host for hrguard: events in over HTTP, findings out to SQLite, checkpoints for restarts.

Standard library only (http.server, sqlite3, threading) plus hrguard. Copy it and adapt it; the
README next to this file explains how to run it, what each endpoint answers, and what survives a
crash. In short:

    POST /events                 JSON Lines or a JSON array of events -> each record's outcome
    POST /advance?ts=...         time has passed (all tenants, or &tenant=...) -> findings released;
                                 the tenants advanced are checkpointed
    POST /checkpoint             checkpoint every tenant now (before a planned restart, say)
    GET  /findings?tenant=...&min_severity=...&since=...   rows of the SQLite findings table
    GET  /health                 per tenant: records received, checkpointed, clock, watermark

One ``hrguard.Stream`` per tenant, each checkpointed under its own key (see the README for why), every
``--checkpoint-every`` records of that tenant and every ``--checkpoint-seconds`` seconds; every finding
a stream releases is upserted into the ``findings`` table by its id (``hrguard.SqliteSink``).

    python service.py --db hr.db --ruleset sales --allowed-lateness 10m --port 8080
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hrguard
log = logging.getLogger("hrguard.host")

MAX_BODY_BYTES = 8 * 1024 * 1024
"""The default largest request body (8 MiB; ``--max-body-bytes``). A larger one is answered 413."""

FINDINGS_TABLE = "findings"


@dataclass
class Config:
    db: str                              # one SQLite file: the findings table and the checkpoints
    ruleset: str = "sales"               # a bundled ruleset name or a YAML path
    allowed_lateness: str = "10m"        # how late a record may arrive behind its tenant's clock
    host: str = "127.0.0.1"
    port: int = 8080                     # 0: any free port (printed on start)
    checkpoint_every: int = 1000         # checkpoint a tenant after this many records of it ...
    checkpoint_seconds: float = 60.0     # ... and every tenant with news this often (0: never by time)
    max_body_bytes: int = MAX_BODY_BYTES
    log_requests: bool = True


class ClientError(Exception):
    """A request the service cannot take: answered with ``status`` and ``message`` as JSON."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- tenants -----------------------------------------------------------------------------------------------
_PLAIN_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}\Z")


def tenant_of(record: Any) -> str:
    """The tenant a record belongs to, read as hrguard reads it: "" (the default tenant) for a missing,
    null or empty tenant, and for any value that is not a string (hrguard then rejects the record)."""
    value = record.get("tenant") if isinstance(record, dict) else None
    return value if isinstance(value, str) else ""


def checkpoint_key(tenant: str) -> str:
    """The checkpoint key of a tenant. Keys allow only ``A-Z a-z 0-9 . _ -``; a tenant name that does not
    fit is hashed (the name itself is kept in the stream's ``meta``)."""
    if tenant == "":
        return "tenant-default"
    if _PLAIN_TENANT.match(tenant):
        return f"tenant.{tenant}"
    return "tenant-sha256." + hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:48]


def _is_tenant_key(key: str) -> bool:
    return key == "tenant-default" or key.startswith(("tenant.", "tenant-sha256."))


class Tenant:
    """One tenant's stream, its lock, and how many of its records were received and checkpointed.

    ``received`` counts every record of the tenant the service was given (accepted, duplicate, rejected
    or late), in arrival order; it is saved in the stream's ``meta`` with each checkpoint. After a crash
    the restored stream has seen exactly the first ``checkpointed`` records: the HRIS re-sends the
    tenant's records from that position on.
    """

    def __init__(self, name: str, stream: hrguard.Stream):
        self.name = name
        self.key = checkpoint_key(name)
        self.stream = stream
        self.lock = threading.Lock()  # one tenant's pushes and checkpoints, one at a time
        self.received = int(stream.meta.get("received", 0))
        self.checkpointed = self.received
        self.changed = False  # pushed into or advanced since the last checkpoint
        self.seq: int | None = None
        self.checkpointed_at: str | None = stream.meta.get("checkpointed_at")

    def status(self) -> dict[str, Any]:
        with self.lock:
            return self._status()

    def _status(self) -> dict[str, Any]:
        stream = self.stream
        clock, mark = stream.clock_of(self.name or None), stream.watermark_of(self.name or None)
        stats = stream.stats
        return {
            "tenant": self.name or None,
            "received": self.received,
            "checkpointed": self.checkpointed,
            "checkpoint_seq": self.seq,
            "checkpointed_at": self.checkpointed_at,
            "clock": clock.isoformat() if clock else None,
            "watermark": mark.isoformat() if mark else None,
            "accepted": stats.valid,
            "duplicates": stats.duplicates,
            "rejected": stats.rejected,
            "late": stats.late,
            "findings": len(stream.findings),
        }


# -- the service -------------------------------------------------------------------------------------------
class HostService:
    """The streams, the SQLite stores, the periodic checkpoints. Thread-safe; the HTTP layer is below."""

    def __init__(self, config: Config):
        self.config = config
        self.ruleset = hrguard.load_ruleset(config.ruleset)
        self.store = hrguard.SqliteCheckpoints(config.db)
        self.sink = hrguard.SqliteSink(config.db, FINDINGS_TABLE)
        self.tenants: dict[str, Tenant] = {}
        self._tenants_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        for key in self.store.keys():  # restore every tenant checkpointed before: /advance reaches them all
            if _is_tenant_key(key):
                stream = self._restore(key)
                name = stream.meta.get("tenant", "")
                self.tenants[name] = Tenant(name, stream)
                self.tenants[name].seq = self.store.seqs(key)[-1]
        self._timer = None
        if config.checkpoint_seconds > 0:
            self._timer = threading.Thread(target=self._checkpoint_periodically, name="checkpoints", daemon=True)
            self._timer.start()

    def _restore(self, key: str) -> hrguard.Stream:
        # a checkpoint saved under another ruleset, other plugins or another allowed lateness is refused
        # (hrguard.StateError): start() reports it and the service does not start
        return hrguard.Stream.restore(self.store, key, self.ruleset, self.config.allowed_lateness, sinks=[self.sink])

    def tenant(self, name: str) -> Tenant:
        with self._tenants_lock:
            t = self.tenants.get(name)
            if t is None:
                stream = self._restore(checkpoint_key(name))  # a new stream: none was checkpointed
                stream.meta["tenant"] = name
                t = self.tenants[name] = Tenant(name, stream)
            return t

    def all(self) -> list[Tenant]:
        with self._tenants_lock:
            return sorted(self.tenants.values(), key=lambda t: t.name)

    # -- events in ---------------------------------------------------------------------------------------
    def push(self, records: list[tuple[int | None, Any]], durable: bool = False) -> dict[str, Any]:
        """Push ``(line, record)`` pairs in order; each record's outcome and the findings released."""
        outcomes, released, touched = [], [], {}
        for number, (line, record) in enumerate(records, 1):
            t = self.tenant(tenant_of(record))
            with t.lock:
                found = t.stream.push(record)
                t.received += 1
                t.changed = True
                if t.received - t.checkpointed >= self.config.checkpoint_every:
                    self._checkpoint(t)
            touched[t.name] = t
            o = found.outcome
            outcomes.append({
                "record": number,
                "line": line,
                "status": o.status,
                "id": o.id,
                "tenant": o.tenant,
                "rejection": None if o.rejection is None else {"field": o.rejection.field,
                                                               "message": o.rejection.message},
                "findings": [f.id for f in found],
            })
            released.extend(f.to_json_dict() for f in found)
        if durable:
            for t in touched.values():
                self.checkpoint(t)
        counts = {s: 0 for s in ("accepted", "duplicate", "rejected", "late")}
        for o in outcomes:
            counts[o["status"]] += 1
        return {"received": len(outcomes), "counts": counts, "outcomes": outcomes, "findings": released,
                "checkpointed": durable}

    def advance(self, ts: Any, tenant: str | None = None) -> dict[str, Any]:
        """Every tenant (or ``tenant``) advanced to ``ts``; the findings that released."""
        chosen = self.all()
        if tenant is not None:
            chosen = [t for t in chosen if t.name == tenant]
            if not chosen:
                raise ClientError(HTTPStatus.NOT_FOUND, f"unknown tenant {tenant!r}: no record of it was received")
        released, tenants = [], []
        for t in chosen:
            with t.lock:
                released.extend(t.stream.advance_to(ts))
                # checkpointed at once: an advance is never lost in a crash, so re-sending a tenant's records
                # from its checkpointed position repeats exactly what happened (an advance decides which
                # records are late). Advances come from a timer, a few a minute at most: cheap enough.
                self._checkpoint(t)
                status = t._status()
            tenants.append({k: status[k] for k in ("tenant", "clock", "watermark")})
        return {"findings": [f.to_json_dict() for f in released], "tenants": tenants}

    # -- checkpoints -------------------------------------------------------------------------------------
    def _checkpoint(self, t: Tenant) -> None:
        """Checkpoint one tenant (its lock held)."""
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        t.stream.meta.update(tenant=t.name, received=t.received, checkpointed_at=at)
        t.seq = t.stream.checkpoint(self.store, t.key)
        t.checkpointed, t.checkpointed_at, t.changed = t.received, at, False

    def checkpoint(self, t: Tenant) -> None:
        with t.lock:
            self._checkpoint(t)

    def checkpoint_all(self, only_changed: bool = True) -> list[str | None]:
        done = []
        for t in self.all():
            with t.lock:
                if t.changed or not only_changed:
                    self._checkpoint(t)
                    done.append(t.name or None)
        return done

    def _checkpoint_periodically(self) -> None:
        while not self._stop.wait(self.config.checkpoint_seconds):
            try:
                self.checkpoint_all()
            except Exception:  # logged; the next round tries again
                log.exception("periodic checkpoint failed")

    # -- findings out ------------------------------------------------------------------------------------
    def findings(self, tenant: str | None = None, min_severity: str | None = None,
                 since: str | None = None) -> list[dict[str, Any]]:
        """Rows of the findings table (a connection of its own, read-only), in time order."""
        where, args = [], []
        if tenant is not None:  # "" is the default tenant, stored as NULL
            where.append("tenant IS ?")
            args.append(tenant or None)
        if min_severity is not None:
            try:
                floor = hrguard.Severity(min_severity.strip().lower())
            except ValueError:
                raise ClientError(HTTPStatus.BAD_REQUEST, f"min_severity {min_severity!r} is not one of "
                                  + ", ".join(s.value for s in hrguard.Severity)) from None
            kept = [s.value for s in hrguard.Severity if s.rank >= floor.rank]
            where.append(f"severity IN ({', '.join('?' * len(kept))})")
            args.extend(kept)
        if since is not None:  # rows first written after this time (RFC 3339 UTC, as in written_at)
            where.append("written_at > ?")
            args.append(since)
        query = f"SELECT * FROM {FINDINGS_TABLE}"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY julianday(ts), id"
        db = sqlite3.connect(Path(self.config.db).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
        try:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute(query, args)]
        finally:
            db.close()
        for r in rows:
            r["evidence"] = json.loads(r["evidence"])
            r["details"] = json.loads(r["details"])
        return rows

    def health(self) -> dict[str, Any]:
        tenants = self.all()
        return {"status": "ok", "ruleset": self.ruleset.name, "allowed_lateness": self.config.allowed_lateness,
                "checkpoint_every": self.config.checkpoint_every,
                "checkpoint_seconds": self.config.checkpoint_seconds,
                "tenants": [t.status() for t in tenants]}

    def close(self, checkpoint: bool = True) -> None:
        """Stop the timer; checkpoint every tenant with news (unless ``checkpoint=False``: as a crash
        would leave things); close the stores."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        if checkpoint:
            self.checkpoint_all()
        self.store.close()
        self.sink.close()


# -- request bodies ----------------------------------------------------------------------------------------
def parse_body(body: bytes) -> list[tuple[int | None, Any]]:
    """The records of a body: a JSON array, or JSON Lines (one value per line, blank lines skipped).
    Returns ``(line, record)`` pairs (``line`` is None for a JSON array's elements). A body that is not
    UTF-8 or not JSON is a 400 naming the line; nothing of it is pushed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise ClientError(HTTPStatus.BAD_REQUEST, f"line {line}: the body is not UTF-8 (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ClientError(HTTPStatus.BAD_REQUEST, "empty body: send events as JSON Lines or as a JSON array")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ClientError(HTTPStatus.BAD_REQUEST,
                              f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}") from None
        if not isinstance(records, list):  # "[1] x" and the like fail above; kept for clarity
            raise ClientError(HTTPStatus.BAD_REQUEST, "line 1: expected a JSON array of events")
        return [(None, r) for r in records]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ClientError(HTTPStatus.BAD_REQUEST, f"line {number}, column {exc.colno}: not valid JSON: "
                                                      f"{exc.msg} (one event per line)") from None
    return out


def parse_ts(text: str) -> Any:
    """``ts`` of /advance: seconds since the Unix epoch, or RFC 3339 with an offset. A ``+`` that was not
    URL-encoded arrives as a space (``...T18:00:00 08:00``): it is put back."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    return re.sub(r" (\d\d:?\d\d)$", r"+\1", text)


# -- HTTP --------------------------------------------------------------------------------------------------
def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ClientError(HTTPStatus.BAD_REQUEST, f"{name} given {len(values)} times")
    return values[0]


class Handler(BaseHTTPRequestHandler):
    """JSON in, JSON out; every error is ``{"error": message}`` with its status, never a traceback."""

    protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue: an oversize body is refused unsent
    server_version = "hrguard-host/1"
    service: HostService  # set on the class made by make_server

    ROUTES = {("POST", "/events"): "post_events", ("POST", "/advance"): "post_advance",
              ("POST", "/checkpoint"): "post_checkpoint", ("GET", "/findings"): "get_findings",
              ("GET", "/health"): "get_health"}

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, keep_blank_values=True)
            name = self.ROUTES.get((method, url.path))
            if name is None:
                allowed = [m for (m, p) in self.ROUTES if p == url.path]
                if allowed:
                    self._drain()
                    raise ClientError(HTTPStatus.METHOD_NOT_ALLOWED, f"{url.path} takes {', '.join(allowed)}")
                self._drain()
                raise ClientError(HTTPStatus.NOT_FOUND, f"no such endpoint: {method} {url.path} (see GET /health)")
            if name != "post_events":
                self._drain()  # a body these endpoints do not read must not be taken for the next request
            status, answer = getattr(self, name)(query)
        except ClientError as exc:
            status, answer = exc.status, {"error": exc.message}
        except hrguard.InvalidArgumentError as exc:  # a bad ts for /advance, say: the caller's to fix
            status, answer = HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        except Exception as exc:  # the traceback goes to the log, never into the response
            log.exception("%s %s failed", method, self.path)
            status, answer = HTTPStatus.INTERNAL_SERVER_ERROR, {
                "error": f"internal error ({type(exc).__name__}); see the service's log"}
        self._send(status, answer)

    # -- endpoints ---------------------------------------------------------------------------------------
    def post_events(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        durable = (_one(query, "durable") or "0").lower() in ("1", "true", "yes")
        body = self._body()
        return HTTPStatus.OK, self.service.push(parse_body(body), durable=durable)

    def post_advance(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        ts = _one(query, "ts")
        if ts is None or not ts.strip():
            raise ClientError(HTTPStatus.BAD_REQUEST, "ts is required: /advance?ts=2026-04-24T18:00:00%2B08:00 "
                                                      "(RFC 3339 with an offset, or seconds since the epoch)")
        return HTTPStatus.OK, self.service.advance(parse_ts(ts), _one(query, "tenant"))

    def post_checkpoint(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        return HTTPStatus.OK, {"checkpointed": self.service.checkpoint_all(only_changed=False)}

    def get_findings(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        rows = self.service.findings(_one(query, "tenant"), _one(query, "min_severity"), _one(query, "since"))
        return HTTPStatus.OK, {"count": len(rows), "findings": rows}

    def get_health(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        return HTTPStatus.OK, self.service.health()

    # -- bodies ------------------------------------------------------------------------------------------
    def _length(self) -> int:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ClientError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length (not chunked)")
        text = self.headers.get("Content-Length")
        if text is None:
            return -1
        if not text.strip().isdigit():
            raise ClientError(HTTPStatus.BAD_REQUEST, f"Content-Length {text!r} is not a number of bytes")
        return int(text)

    def _too_large(self, length: int) -> ClientError:
        self.close_connection = True  # the unread body must not be taken for the next request
        return ClientError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"the body is {length:,} bytes; this service takes at most "
                           f"{self.service.config.max_body_bytes:,} (--max-body-bytes): send fewer events a request")

    def _body(self) -> bytes:
        length = self._length()
        if length < 0:
            raise ClientError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length header")
        if length > self.service.config.max_body_bytes:
            self._drain(length, limit=4 * self.service.config.max_body_bytes)
            raise self._too_large(length)
        return self.rfile.read(length)

    def _drain(self, length: int | None = None, limit: int = 1 << 20) -> None:
        """Read and drop a body this endpoint does not use (up to ``limit`` bytes: a client that sent it
        all then reads the answer; beyond, the connection is closed)."""
        length = max(self._length(), 0) if length is None else length
        if length > limit:
            self.close_connection = True
            return
        while length > 0:
            got = self.rfile.read(min(length, 1 << 16))
            if not got:
                break
            length -= len(got)

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl sends it for bodies over 1 MiB): refuse an oversize body before it
        is sent."""
        try:
            length = self._length()
        except ClientError:
            length = -1
        if length > self.service.config.max_body_bytes:
            exc = self._too_large(length)
            self._send(exc.status, {"error": exc.message})
            return False
        return super().handle_expect_100()

    # -- answers -----------------------------------------------------------------------------------------
    def _send(self, status: HTTPStatus, answer: Any) -> None:
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8") + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a malformed request line, a header too long) as JSON too."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        self._send(status, {"error": message or status.phrase})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if self.service.config.log_requests:
            log.info("%s %s", self.address_string(), format % args)


def make_server(service: HostService) -> ThreadingHTTPServer:
    """An HTTP server for ``service`` (not yet serving: call ``serve_forever``), on its host and port."""
    handler = type("BoundHandler", (Handler,), {"service": service})
    server = ThreadingHTTPServer((service.config.host, service.config.port), handler)
    server.daemon_threads = True
    return server


# -- the command line --------------------------------------------------------------------------------------
def parse_args(argv: Iterable[str] | None = None) -> Config:
    p = argparse.ArgumentParser(description="An example hrguard host: events over HTTP, findings in SQLite.")
    p.add_argument("--db", required=True, help="the SQLite file for findings and checkpoints (created if missing)")
    p.add_argument("--ruleset", default="sales", help="a bundled ruleset name or a YAML path (default: sales)")
    p.add_argument("--allowed-lateness", default="10m", help="how far behind its tenant's clock a record may "
                                                             "arrive, e.g. 10m, 2h (default: 10m)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="the port (default: 8080; 0: any free port)")
    p.add_argument("--checkpoint-every", type=int, default=1000, metavar="N",
                   help="checkpoint a tenant after N records of it (default: 1000)")
    p.add_argument("--checkpoint-seconds", type=float, default=60.0, metavar="T",
                   help="checkpoint every tenant with news every T seconds (default: 60; 0: never by time)")
    p.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES, metavar="BYTES",
                   help=f"the largest request body (default: {MAX_BODY_BYTES}); larger ones get 413")
    p.add_argument("--quiet", action="store_true", help="do not log each request")
    a = p.parse_args(None if argv is None else list(argv))
    if a.checkpoint_every < 1:
        p.error("--checkpoint-every must be at least 1")
    if a.checkpoint_seconds < 0 or a.max_body_bytes < 1:
        p.error("--checkpoint-seconds must be >= 0 and --max-body-bytes >= 1")
    return Config(db=a.db, ruleset=a.ruleset, allowed_lateness=a.allowed_lateness, host=a.host, port=a.port,
                  checkpoint_every=a.checkpoint_every, checkpoint_seconds=a.checkpoint_seconds,
                  max_body_bytes=a.max_body_bytes, log_requests=not a.quiet)


def main(argv: Iterable[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        service = HostService(config)
    except (hrguard.HrguardError, sqlite3.Error) as exc:  # a bad ruleset, a refused checkpoint, a bad db path
        print(f"hrguard-host: cannot start: {exc}", file=sys.stderr)
        return 2
    server = make_server(service)
    host, port = server.server_address[:2]
    print(f"hrguard-host listening on http://{host}:{port} (db {config.db}, ruleset {service.ruleset.name}, "
          f"{len(service.tenants)} tenant(s) restored)", flush=True)

    def stop(signum: int, frame: Any) -> None:  # SIGTERM / Ctrl-C: stop serving, then checkpoint and close
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        service.close(checkpoint=True)
        log.info("stopped; every tenant checkpointed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
