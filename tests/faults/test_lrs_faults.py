"""LRS failures that ``tests/test_xapi.py`` does not reach with its http.server fake: a raw
TCP server on 127.0.0.1 that misbehaves below HTTP. ``test_xapi.py`` already covers an LRS
that never answers, one that closes the connection after reading a request, 500 twice then
200, 503 half-way, refused credentials, rejected statements and redirects.

Here: the connection dropped before the request body was read (closed, or reset); 500 on
every try (each retry after the documented backoff, through an injected sleep); a 200 whose
body is cut short; and answers that trickle in a byte at a time (the body, and the status line
itself) so that no single read ever times out. In every case: a one-line error, retried the
configured number of times, and nothing marked as sent. "Never a hang" is checked with a
watchdog (``hang_guard``), not by timing anything.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hang_guard import no_hang
from records_factory import play
from scenario_factory import SAMPLE_BEST

from simulator.config import AcademySettings, Config, LrsSettings
from simulator.export import ExportFilter
from simulator.export.lrs import LrsError, send_to_lrs
from simulator.records import Store

USER, PASSWORD = "coordinator", "s3cret-Pa55"


def read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (headers, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    length = lengths[0] if lengths else 0
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def read_headers(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(1)
        if not chunk:
            return
        data += chunk


class RawLrs:
    """A TCP server on 127.0.0.1; ``behave(conn, n)`` handles connection n (0 first)."""

    def __init__(self, behave: Callable[[socket.socket, int], None]):
        self.behave = behave
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            n, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self.handle, args=(conn, n), daemon=True).start()

    def handle(self, conn: socket.socket, n: int) -> None:
        with contextlib.suppress(OSError), conn:
            self.behave(conn, n)

    def __enter__(self) -> RawLrs:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def answer(status: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close"
    return (head + "\r\n\r\n").encode() + body


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "records.sqlite3"
    with Store.open(path) as store:
        play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
        play(store, "ben", ["order-down"], started_at="2026-03-02T09:00:00.000Z")
    return path


def send(db: Path, url: str, *, retries: int, timeout: float = 2.0, delays: list[float] | None = None) -> None:
    config = Config(academy=AcademySettings(), lrs=LrsSettings(batch=50, timeout=timeout, retries=retries))
    sleep = delays.append if delays is not None else (lambda _s: None)
    with Store.open(db, create=False) as store:
        send_to_lrs(store, url, USER, PASSWORD, ExportFilter(), config, sleep=sleep)


def marked(db: Path) -> list[tuple[str, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT * FROM lrs_sent").fetchall()


def failure(db: Path, behave: Callable[[socket.socket, int], None], *, retries: int = 2, timeout: float = 2.0,
            delays: list[float] | None = None) -> tuple[str, int, str]:
    """Send to a misbehaving LRS; returns (the one-line error, connections made, the URL)."""
    with no_hang(20, "LRS behaviour"), RawLrs(behave) as lrs, pytest.raises(LrsError) as caught:
        send(db, lrs.url, retries=retries, timeout=timeout, delays=delays)
    message = str(caught.value)
    assert "\n" not in message and PASSWORD not in message
    assert marked(db) == [], "a statement the LRS never confirmed was marked as sent"
    return message, lrs.connections, lrs.url


def test_connection_closed_before_the_request_body_was_read(db):
    def close_after_headers(conn: socket.socket, n: int) -> None:
        read_headers(conn)  # and hang up without reading the statements

    message, tries, url = failure(db, close_after_headers)
    assert tries == 3
    assert message.startswith(f"cannot reach the LRS at {url} (")
    assert message.endswith(") after 3 tries; nothing was marked as sent")


def test_connection_reset_as_soon_as_it_is_accepted(db):
    def reset(conn: socket.socket, n: int) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    message, tries, url = failure(db, reset, retries=1)
    assert tries == 2
    assert message.startswith(f"cannot reach the LRS at {url} (") and "after 2 tries; nothing was marked" in message


def test_500_on_every_try_backs_off_then_reports_and_marks_nothing(db):
    def broken(conn: socket.socket, n: int) -> None:
        read_request(conn)
        conn.sendall(answer("500 Internal Server Error", b'{"detail": "database down"}'))

    delays: list[float] = []
    message, tries, url = failure(db, broken, retries=4, delays=delays)
    assert tries == 5 and delays == [0.5, 1.0, 2.0, 4.0]
    assert message == f"the LRS at {url} kept failing (500 database down) after 5 tries; nothing was marked as sent"


def test_a_200_whose_body_is_cut_short_is_not_a_confirmation(db):
    def cut(conn: socket.socket, n: int) -> None:
        read_request(conn)
        conn.sendall(answer("200 OK", b'["3a87235b-42bc-5e6a', length=2000))  # then hang up

    message, tries, url = failure(db, cut)
    assert tries == 3
    assert message == f"cannot reach the LRS at {url} (connection dropped) after 3 tries; nothing was marked as sent"


def trickle(data: bytes, stop: Callable[[], bool] = lambda: False) -> Callable[[socket.socket, int], None]:
    """An LRS that answers one byte every 50 ms: never silent long enough for a read to time out
    (the answers below would take minutes to arrive)."""

    def behave(conn: socket.socket, n: int) -> None:
        read_request(conn)
        for byte in data:
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    return behave


def test_a_body_that_trickles_in_is_given_up_on_after_the_timeout(db):
    slow = trickle(answer("200 OK", b"[" + b" " * 4000 + b"]"))
    message, tries, url = failure(db, slow, retries=1, timeout=0.5)
    assert tries == 2
    assert message == (
        f"cannot reach the LRS at {url} (no answer within 0.5 s) after 2 tries; nothing was marked as sent"
    )


def test_a_status_line_that_trickles_in_is_given_up_on_after_the_timeout(db):
    slow = trickle(b"HTTP/1.1 200 OK" + b" " * 4000 + b"\r\n\r\n[]")
    message, tries, url = failure(db, slow, retries=1, timeout=0.5)
    assert tries == 2
    assert message == (
        f"cannot reach the LRS at {url} (no answer within 0.5 s) after 2 tries; nothing was marked as sent"
    )


def test_a_slow_but_complete_answer_within_the_timeout_is_a_confirmation(db):
    """The deadline is for the whole exchange; an answer that arrives in time counts."""

    def slowish(conn: socket.socket, n: int) -> None:
        request = read_request(conn)
        ids = [part.split(b'"')[0] for part in request.split(b'"id":"')[1:]]
        body = b"[" + b",".join(b'"' + i + b'"' for i in ids) + b"]"
        data = answer("200 OK", body)
        conn.sendall(data[:20])
        time.sleep(0.2)
        conn.sendall(data[20:])

    with no_hang(30, "LRS behaviour"), RawLrs(slowish) as lrs:
        send(db, lrs.url, retries=0, timeout=5.0)
    assert len(marked(db)) > 0 and {row[4] for row in marked(db)} == {"sent"}


@pytest.fixture(autouse=True)
def _no_thread_leak() -> Iterator[None]:
    """A deadline timer must not outlive its request."""
    yield
    deadline = time.monotonic() + 5
    while any(t.name.startswith("lrs-deadline") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "an LRS deadline timer is still running"
        time.sleep(0.01)
