"""Fuzzing what an LRS answers: random statuses and bodies, to the batch POST and to the PUT by
id, from a raw server on 127.0.0.1 (``tests/lrs_server.py``).

Bodies are drawn from the shapes that matter (the exact list of ids, some of them, other ids,
the ids reordered or repeated, Ralph's partial-success object, ``{"status": "ok"}``, HTML, empty,
deeply nested JSON, random bytes, an echo of the password) and statuses from every class.

Property: ``send_to_lrs`` returns a report or raises ``LrsError``, nothing else (no
RecursionError, no MemoryError, never a hang); every message and rejection reason is one line
without control characters or the password; and a statement is marked as sent only if the LRS
confirmed it as xAPI 1.0.3 says: a POST answered 200 with exactly the ids sent, in order (or
Ralph's object naming the others as rejected), or a PUT of that statement answered 204 or 409.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from hang_guard import no_hang
from hypothesis import given
from hypothesis import strategies as st
from lrs_server import RawLrs, parse_request, read_request
from records_factory import play
from scenario_factory import SAMPLE_BEST

from simulator.config import Config, LrsSettings
from simulator.export import ExportFilter
from simulator.export.lrs import LrsError, send_to_lrs
from simulator.records import Store

USER, PASSWORD = "fuzz-user", "Fuzz-pw-93!"
OTHER = "0b5a4fa4-7a8e-4c1e-9d7a-1f0f6f7e2c11"
CONTROL = [chr(c) for c in range(32) if chr(c) not in "\t\n"] + ["\x7f", "\x9b", "\u202e"]

SHAPES = ["exact", "upper", "some", "none", "other", "reversed", "twice", "more", "partial-object", "status-ok",
          "html", "empty", "nested", "bytes", "echo", "not-list"]
STATUSES = [200, 200, 200, 201, 204, 299, 400, 409, 418, 500, 302, 401]


def body_for(shape: str, ids: list[str], draw_bytes: bytes) -> bytes:
    """A body of one shape for a request that sent ``ids``."""
    half = ids[: len(ids) // 2]
    return {
        "exact": lambda: json.dumps(ids).encode(),
        "upper": lambda: json.dumps([i.upper() for i in ids]).encode(),
        "some": lambda: json.dumps(ids[1:]).encode(),
        "none": lambda: b"[]",
        "other": lambda: json.dumps([OTHER] * len(ids)).encode(),
        "reversed": lambda: json.dumps(ids[::-1]).encode(),
        "twice": lambda: json.dumps(ids + ids).encode(),
        "more": lambda: json.dumps([*ids, OTHER]).encode(),
        "partial-object": lambda: json.dumps(
            {"ids": ids[1:], "errors": [{"index": 0, "reason": "missing verb"}]}
        ).encode(),
        "status-ok": lambda: b'{"status": "ok"}',
        "html": lambda: b"<html><title>Welcome to nginx!</title>\x1b[2J</html>",
        "empty": lambda: b"",
        "nested": lambda: b"[" * 50_000 + b"]" * 50_000,
        "bytes": lambda: draw_bytes,
        "echo": lambda: json.dumps({"detail": f"{USER}:{PASSWORD} {half}"}).encode(),
        "not-list": lambda: json.dumps({"ids": "x", "errors": 3}).encode(),
    }[shape]()


def confirms(method: str, status: int, body: bytes, ids: list[str]) -> set[str]:
    """The ids this answer confirms by xAPI 1.0.3's rules (an oracle written from the rules,
    not from the code under test)."""
    if method == "PUT":
        return set(ids) if status in (204, 409) else set()
    if status == 409 and len(ids) == 1:
        return set(ids)  # a single statement the LRS already holds (with that id)
    if status != 200:
        return set()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return set()
    rest = ids
    if isinstance(data, dict) and isinstance(data.get("ids"), list) and isinstance(data.get("errors"), list):
        rejected = {e["index"] for e in data["errors"] if isinstance(e, dict) and isinstance(e.get("index"), int)}
        rest, data = [i for n, i in enumerate(ids) if n not in rejected], data["ids"]
    if isinstance(data, list) and all(isinstance(x, str) for x in data) and [x.lower() for x in data] == rest:
        return set(rest)
    return set()


Answer = tuple[int, str]


class Lrs:
    """One server for the whole test; each example sets what it answers."""

    def __init__(self) -> None:
        self.post: Answer = (200, "exact")
        self.put: Answer = (204, "empty")
        self.draw_bytes = b""
        self.confirmed: set[str] = set()
        self.lock = threading.Lock()
        self.server = RawLrs(self.behave)

    def behave(self, conn: socket.socket, n: int) -> None:
        method, ids = parse_request(read_request(conn))
        status, shape = self.put if method == "PUT" else self.post
        body = body_for(shape, ids, self.draw_bytes) if status != 204 else b""
        with self.lock:
            self.confirmed |= confirms(method, status, body, ids)
        extra = "Location: https://elsewhere.example/\r\n" if 300 <= status < 400 else ""
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        conn.sendall(head.encode() + body)


@pytest.fixture(scope="module")
def server():
    lrs = Lrs()
    with lrs.server:
        yield lrs


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz-lrs") / "records.sqlite3"
    with Store.open(path) as store:
        play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
    return path


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def shown(value: Any) -> str:
    if isinstance(value, LrsError):
        report = value.report
        return str(value) + "\n" + ("\n".join(report.rejections()) if report else "")
    return value.summary() + "\n" + "\n".join(value.rejections())


@given(
    post=st.tuples(st.sampled_from(STATUSES), st.sampled_from(SHAPES)),
    put=st.tuples(st.sampled_from([204, 204, 200, 409, 400, 500, 299]), st.sampled_from(SHAPES)),
    batch=st.sampled_from([1, 3, 50]),
    draw_bytes=st.binary(max_size=200),
)
def test_only_what_an_lrs_confirmed_the_xapi_way_is_ever_marked(server, records, tmp_path_factory, post, put, batch,
                                                                 draw_bytes):
    db = tmp_path_factory.mktemp("example") / "records.sqlite3"
    shutil.copy(records, db)
    server.post, server.put, server.draw_bytes = post, put, draw_bytes
    server.confirmed = set()
    config = Config(lrs=LrsSettings(batch=batch, timeout=5.0, retries=1))
    with no_hang(60, "LRS answer"), Store.open(db, create=False) as store:
        try:
            outcome: Any = send_to_lrs(store, server.server.url, USER, PASSWORD, ExportFilter(), config,
                                       sleep=lambda _s: None)
        except LrsError as exc:
            outcome = exc
    text = shown(outcome)
    for line in text.splitlines():
        assert not any(c in line for c in CONTROL), line
        assert len(line) < 1200, line
    assert PASSWORD not in text and "Fuzz-pw" not in text
    with contextlib.closing(sqlite3.connect(db)) as conn:
        marked = {row[0] for row in conn.execute("SELECT statement_id FROM lrs_sent")}
    assert marked <= server.confirmed, (post, put, marked - server.confirmed)
    if post == (200, "exact"):
        assert not isinstance(outcome, LrsError) and marked == server.confirmed and marked
