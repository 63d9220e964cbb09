"""The example host service in docs/examples/host_service/: events over HTTP for two tenants give, per
tenant, exactly a batch scan's findings in its SQLite table; bad bodies get clear 400/413 answers; and a
service killed with SIGKILL and started again on the same database loses and repeats no finding.

The first test runs the service in a thread of this process (port 0); the restart test runs it as the
README says, a subprocess, and kills it with SIGKILL as a crash would.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hrguard
from hrguard.demo import load_events

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "docs" / "examples" / "host_service" / "service.py"
LATENESS = timedelta(minutes=10)


def _load_service_module() -> Any:
    spec = importlib.util.spec_from_file_location("hrguard_example_host_service", SERVICE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


host = _load_service_module()


# -- the events: the demo, sorted, for two tenants -------------------------------------------------------------
def _tenant_events() -> dict[str, list[dict[str, Any]]]:
    demo = sorted(load_events(), key=lambda e: (e["ts"], e["id"]))
    return {
        "acme": [{**e, "tenant": "acme"} for e in demo],                                  # the whole demo
        "globex": [{**e, "tenant": "globex"} for e in demo if e["ts"] < "2026-04-15"],     # same ids, fewer days
    }


EVENTS = _tenant_events()


def _scan_ids(events: list[dict[str, Any]], min_rank: int = 0) -> list[str]:
    """A batch scan's finding ids, in its (ts, id) order: GET /findings gives the same order."""
    return [f.id for f in hrguard.scan(events, "sales").findings if f.severity.rank >= min_rank]


def _advance_ts(events: list[dict[str, Any]]) -> str:
    """The tenant's last ts plus the allowed lateness: everything up to the last ts is then final."""
    return (datetime.fromisoformat(events[-1]["ts"]) + LATENESS).isoformat()


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    size = -(-len(items) // n)
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- HTTP ------------------------------------------------------------------------------------------------------
def _jsonl(records: list[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _call(base: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(base + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8")
    assert "Traceback" not in text
    return status, json.loads(text)


def _post_events(base: str, records: list[Any], as_array: bool = False, query: str = "") -> dict[str, Any]:
    body = json.dumps(records).encode("utf-8") if as_array else _jsonl(records)
    status, answer = _call(base, "POST", "/events" + query, body)
    assert status == 200, answer
    return answer


def _findings(base: str, query: str = "") -> list[dict[str, Any]]:
    status, answer = _call(base, "GET", "/findings" + query)
    assert status == 200, answer
    assert answer["count"] == len(answer["findings"])
    return answer["findings"]


def _health(base: str) -> dict[str | None, dict[str, Any]]:
    status, answer = _call(base, "GET", "/health")
    assert status == 200 and answer["status"] == "ok"
    return {t["tenant"]: t for t in answer["tenants"]}


def _q(ts: str) -> str:
    return urllib.parse.quote(ts, safe="")


# -- in a thread -----------------------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    config = host.Config(db=str(tmp_path / "hr.db"), port=0, allowed_lateness="10m", checkpoint_every=100,
                         checkpoint_seconds=0, max_body_bytes=100_000, log_requests=False)
    service = host.HostService(config)
    server = host.make_server(service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", service
    finally:
        server.shutdown()
        server.server_close()
        service.close()
        thread.join(10)


def test_two_tenants_over_http_get_a_batch_scans_findings_each(served: tuple[str, Any]) -> None:
    base, service = served
    failures: list[BaseException] = []

    def feed(tenant: str) -> None:  # one client per tenant, its records in order; the two run at once
        try:
            for i, part in enumerate(_chunks(EVENTS[tenant], 4)):
                answer = _post_events(base, part, as_array=i % 2 == 1)
                assert answer["counts"] == {"accepted": len(part), "duplicate": 0, "rejected": 0, "late": 0}
                assert [(o["status"], o["id"], o["tenant"], o["rejection"]) for o in answer["outcomes"]] == [
                    ("accepted", e["id"], tenant, None) for e in part]
                assert [o["record"] for o in answer["outcomes"]] == list(range(1, len(part) + 1))
                assert [o["line"] for o in answer["outcomes"]] == (
                    [None] * len(part) if i % 2 else list(range(1, len(part) + 1)))
                released = [f["id"] for f in answer["findings"]]
                assert released == [fid for o in answer["outcomes"] for fid in o["findings"]]
                assert {f["tenant"] for f in answer["findings"]} <= {tenant}
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    clients = [threading.Thread(target=feed, args=(t,)) for t in EVENTS]
    for c in clients:
        c.start()
    for c in clients:
        c.join(60)
    assert not failures, failures[0]

    # a re-sent record is a duplicate; a bad one is rejected, naming its field; both in one JSON Lines body
    acme = EVENTS["acme"]
    bad = {**acme[-1], "id": "bad-1", "kind": "attendance.punchd"}
    answer = _post_events(base, [acme[-1], bad])
    assert [(o["status"], o["id"], o["line"]) for o in answer["outcomes"]] == [
        ("duplicate", acme[-1]["id"], 1), ("rejected", "bad-1", 2)]
    assert answer["outcomes"][1]["rejection"]["field"] == "kind"
    assert "unknown kind 'attendance.punchd'" in answer["outcomes"][1]["rejection"]["message"]

    health = _health(base)
    assert health["acme"]["received"] == len(acme) + 2 and health["globex"]["received"] == len(EVENTS["globex"])
    assert health["acme"]["checkpointed"] == len(acme) // 100 * 100  # every 100 records of the tenant
    assert (health["acme"]["duplicates"], health["acme"]["rejected"]) == (1, 1)

    for tenant, events in EVENTS.items():
        status, answer = _call(base, "POST", f"/advance?ts={_q(_advance_ts(events))}&tenant={tenant}")
        assert status == 200, answer
        assert [t["tenant"] for t in answer["tenants"]] == [tenant]
    assert {t: (h["received"], h["checkpointed"]) for t, h in _health(base).items()} == {
        "acme": (len(acme) + 2, len(acme) + 2), "globex": (len(EVENTS["globex"]),) * 2}  # an advance checkpoints
    for tenant, events in EVENTS.items():
        assert [f["id"] for f in _findings(base, f"?tenant={tenant}")] == _scan_ids(events)
        assert [f["id"] for f in _findings(base, f"?tenant={tenant}&min_severity=high")] == _scan_ids(
            events, min_rank=hrguard.Severity("high").rank)
    everything = _findings(base)
    assert len(everything) == len({f["id"] for f in everything}) == sum(len(_scan_ids(e)) for e in EVENTS.values())
    assert _scan_ids(EVENTS["acme"]) and _scan_ids(EVENTS["globex"])  # the test proves something


def test_bad_requests_get_clear_errors_and_change_nothing(served: tuple[str, Any]) -> None:
    base, service = served
    good = EVENTS["acme"][:3]
    lines = _jsonl(good).decode().splitlines()
    body = "\n".join([lines[0], lines[1], '{"id": "x", "kind": ', lines[2]]).encode()
    assert _call(base, "POST", "/events", body) == (400, {"error": "line 3, column 21: not valid JSON: Expecting "
                                                                   "value (one event per line)"})
    status, answer = _call(base, "POST", "/events", b'[\n{"id": "a"},\n{"id": }\n]')
    assert status == 400 and answer["error"].startswith("line 3, column 8: not valid JSON")
    status, answer = _call(base, "POST", "/events", b'{"id": "a"}\n\xff\xfe\n')
    assert status == 400 and answer["error"].startswith("line 2: the body is not UTF-8")
    assert _call(base, "POST", "/events", b"  \n")[0] == 400
    assert _health(base) == {}  # nothing of a malformed body was pushed

    status, answer = _call(base, "POST", "/events", b"x" * 100_001)
    assert status == 413 and "at most 100,000" in answer["error"]
    assert _call(base, "GET", "/nope")[0] == 404
    assert _call(base, "GET", "/events")[0] == 405
    status, answer = _call(base, "GET", "/findings?min_severity=severe")
    assert status == 400 and "min_severity 'severe'" in answer["error"]
    _post_events(base, good)
    status, answer = _call(base, "POST", "/advance?ts=2026-04-02")
    assert status == 400 and answer["error"].startswith("advance_to(ts): '2026-04-02' is a date")
    assert _call(base, "POST", "/advance")[0] == 400
    assert _call(base, "POST", "/advance?ts=2026-04-02T00:00:00Z&tenant=nobody")[0] == 404
    # a "+" not URL-encoded arrives as a space and is read as the offset it was
    status, answer = _call(base, "POST", "/advance?ts=2026-03-30T12:00:00+08:00")
    assert status == 200 and answer["tenants"][0]["clock"] == "2026-03-30T12:00:00+08:00"


def test_tenants_with_news_are_checkpointed_every_few_seconds(tmp_path: Path) -> None:
    config = host.Config(db=str(tmp_path / "hr.db"), port=0, checkpoint_every=1000, checkpoint_seconds=0.2,
                         log_requests=False)
    service = host.HostService(config)
    try:
        service.push([(None, e) for e in EVENTS["globex"][:3]])
        deadline = time.monotonic() + 10
        while service.health()["tenants"][0]["checkpointed"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.health()["tenants"][0]["checkpointed"] == 3
        assert service.store.keys() == ["tenant.globex"]
        # a name a checkpoint key cannot hold is hashed; the name itself travels in the stream's meta
        assert host.checkpoint_key("华东 Sales") == "tenant-sha256." + hashlib.sha256("华东 Sales".encode()).hexdigest()[:48]
        service.push([(None, {**EVENTS["globex"][0], "tenant": "华东 Sales"})])
        service.checkpoint_all()
        again = host.HostService(config)
        assert again.tenants.keys() == {"globex", "华东 Sales"}  # restored on start, by name
        again.close(checkpoint=False)
    finally:
        service.close(checkpoint=False)


# -- as a process, killed ---------------------------------------------------------------------------------------
class Process:
    """The service as the README runs it, on a free port."""

    def __init__(self, db: Path):
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVICE), "--db", str(db), "--port", "0", "--allowed-lateness", "10m",
             "--checkpoint-every", "40", "--checkpoint-seconds", "0", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        assert line and "listening on http://" in line[0], (line, self.proc.poll())
        self.base = line[0].split()[3]

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def test_a_killed_service_restarts_from_its_checkpoints_without_losing_or_repeating_findings(tmp_path: Path) -> None:
    db = tmp_path / "hr.db"
    cut = {"acme": 290, "globex": 213}  # what the first process gets: not a multiple of --checkpoint-every 40
    first = Process(db)
    try:
        for tenant, events in EVENTS.items():
            for part in _chunks(events[: cut[tenant]], 3):
                _post_events(first.base, part)
        before = {f["id"]: f["written_at"] for f in _findings(first.base)}
        health = _health(first.base)
        assert {t: (h["received"], h["checkpointed"]) for t, h in health.items()} == {
            "acme": (290, 280), "globex": (213, 200)}
    finally:
        first.kill()  # SIGKILL: no last checkpoint, no cleanup
    assert before

    second = Process(db)
    try:
        health = _health(second.base)  # restored from the checkpoints: the first 280 and 200 records
        assert {t: (h["received"], h["checkpointed"]) for t, h in health.items()} == {
            "acme": (280, 280), "globex": (200, 200)}
        assert {f["id"]: f["written_at"] for f in _findings(second.base)} == before  # nothing lost
        for tenant, events in EVENTS.items():
            pos = health[tenant]["checkpointed"]
            # the HRIS re-sends from the position the service reports; one record more is a harmless duplicate
            answer = _post_events(second.base, events[pos - 1 :])
            assert [o["status"] for o in answer["outcomes"]] == ["duplicate"] + ["accepted"] * (len(events) - pos)
            status, _ = _call(second.base, "POST", f"/advance?ts={_q(_advance_ts(events))}&tenant={tenant}")
            assert status == 200
        after = _findings(second.base)
        for tenant, events in EVENTS.items():
            assert [f["id"] for f in after if f["tenant"] == tenant] == _scan_ids(events)
        assert len(after) == sum(len(_scan_ids(e)) for e in EVENTS.values())  # none repeated, none extra
        # the rows written before the crash were upserted, never written anew
        assert {f["id"]: f["written_at"] for f in after if f["id"] in before} == before
        assert second.stop() == 0  # SIGTERM: a clean stop, every tenant checkpointed
    finally:
        if second.proc.poll() is None:
            second.kill()
    assert "Traceback" not in first.proc.stderr.read() + second.proc.stderr.read()
