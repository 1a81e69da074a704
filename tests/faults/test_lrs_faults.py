"""LRS failures that ``tests/test_xapi.py`` does not reach with its http.server fake: a raw
TCP server on 127.0.0.1 that misbehaves below HTTP (``tests/lrs_server.py``). ``test_xapi.py`` already covers an LRS
that never answers, one that closes the connection after reading a request, 500 twice then
200, 503 half-way, refused credentials, rejected statements and redirects.

Here: the connection dropped before the request body was read (closed, or reset); 500 on
every try (each retry after the documented backoff, through an injected sleep); a 200 whose
body is cut short; and answers that trickle in a byte at a time (the body, and the status line
itself) so that no single read ever times out. In every case: a one-line error, retried the
configured number of times, and nothing marked as sent. "Never a hang" is checked with a
watchdog (``hang_guard``), not by timing anything.

And the classes of issue 12: 2xx answers that are not what an xAPI 1.0.3 LRS answers (a web
server's welcome page, an empty body, ``{"status": "ok"}``, 299, other ids, a partial list...),
answers too large to read (10 GB, endless chunked) or nested too deep to parse, the
environment's proxies (a real proxy listener that must receive nothing) and a proxy named in
the config, and an LRS that echoes the password back.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hang_guard import no_hang
from lrs_server import NO_CONTENT, RawLrs, answer, lrs, parse_request, read_headers, read_request, xapi_lrs
from records_factory import play
from scenario_factory import SAMPLE_BEST

from simulator.config import AcademySettings, Config, LrsSettings
from simulator.export import ExportFilter
from simulator.export.lrs import LrsError, send_to_lrs
from simulator.records import Store

USER, PASSWORD = "coordinator", "s3cret-Pa55"


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
        _, ids = parse_request(read_request(conn))
        data = answer("200 OK", json.dumps(ids).encode())
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


# ---- answers that are not what an xAPI 1.0.3 LRS answers -----------------------------------------


NGINX = (
    b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\nhtml { color-scheme: light dark; }"
    b"\n</style>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is "
    b"successfully installed and working. Further configuration is required.</p>\n</body>\n</html>\n" + b" " * 200
)
OTHER_ID = "0b5a4fa4-7a8e-4c1e-9d7a-1f0f6f7e2c11"
NOT_XAPI: dict[str, Callable[[str, list[str]], bytes]] = {
    "an nginx welcome page": lambda m, ids: answer("200 OK", NGINX),
    "an empty 200": lambda m, ids: answer("200 OK", b""),
    "a status object": lambda m, ids: answer("200 OK", b'{"status": "ok"}'),
    "status 299 with the ids": lambda m, ids: answer("299 Fine", json.dumps(ids).encode()),
    "status 201 with the ids": lambda m, ids: answer("201 Created", json.dumps(ids).encode()),
    "other ids": lambda m, ids: answer("200 OK", json.dumps([OTHER_ID] * len(ids)).encode()),
    "the ids and one more": lambda m, ids: answer("200 OK", json.dumps([*ids, OTHER_ID]).encode()),
    "the ids in another order": lambda m, ids: answer("200 OK", json.dumps(ids[::-1]).encode()),
    "the ids twice": lambda m, ids: answer("200 OK", json.dumps(ids + ids).encode()),
    "an empty list": lambda m, ids: answer("200 OK", b"[]"),
    "a partial list": lambda m, ids: answer("200 OK", json.dumps(ids[: len(ids) // 2]).encode()),
    "a list of numbers": lambda m, ids: answer("200 OK", json.dumps(list(range(len(ids)))).encode()),
    "not UTF-8": lambda m, ids: answer("200 OK", b'["\xff\xfe' + ids[0].encode() + b'"]'),
    "escape sequences": lambda m, ids: answer("200 OK", b"\x1b]52;c;ZWNobyBoaQ==\x07\x1b[2Jall good\xe2\x80\xae"),
}


@pytest.mark.parametrize("shape", list(NOT_XAPI))
def test_a_2xx_that_is_not_an_xapi_answer_marks_nothing_and_shows_the_answer(db, shape):
    message, _, url = failure(db, lrs(NOT_XAPI[shape]), retries=2)
    assert message.startswith(f"the LRS at {url} answered ")
    assert message.endswith("; nothing was marked as sent")
    assert "not what an xAPI 1.0.3 LRS answers" in message
    assert len(message) < 500 and "\x1b" not in message and "\u202e" not in message and "\x07" not in message
    if shape == "an nginx welcome page":
        assert "200 <!DOCTYPE html> <html> <head> <title>Welcome to nginx!</title>" in message
        assert "Further configuration" not in message  # shortened
    if shape == "escape sequences":
        assert "all good" in message
    if shape == "an empty 200":
        assert "200 with an empty body" in message


def test_a_partial_list_from_a_batch_then_its_statements_confirmed_one_by_one_by_put(db):
    """Ralph lists only the ids it did not have, and answers 204 when it had them all; xAPI's
    answer for one statement is PUT by id, 204. Those count; the partial list alone does not."""
    seen: list[tuple[str, list[str]]] = []

    def ralph(method: str, ids: list[str]) -> bytes:
        seen.append((method, ids))
        if method == "PUT":
            return NO_CONTENT
        return answer("200 OK", json.dumps(ids[1:]).encode())  # it had the first one

    with no_hang(30, "LRS behaviour"), RawLrs(lrs(ralph)) as server:
        send(db, server.url, retries=0)
    posted = seen[0][1]
    assert [m for m, _ in seen] == ["POST"] + ["PUT"] * len(posted)
    assert [ids[0] for _, ids in seen[1:]] == posted
    outcomes = {row[0]: row[4] for row in marked(db)}
    assert outcomes == {posted[0]: "already", **dict.fromkeys(posted[1:], "sent")}


def test_a_put_answered_with_anything_but_204_marks_nothing(db):
    def odd(method: str, ids: list[str]) -> bytes:
        if method == "PUT":
            return answer("200 OK", json.dumps(ids).encode())
        return NO_CONTENT

    message, _, url = failure(db, lrs(odd), retries=0)
    assert message.startswith(f"the LRS at {url} answered 200 ")
    assert "to PUT" in message and message.endswith("; nothing was marked as sent")


# ---- oversized and deeply nested answers --------------------------------------------------------


def endless(head: bytes, piece: bytes) -> Callable[[socket.socket, int], None]:
    """Send ``head``, then ``piece`` again and again until the client hangs up."""

    def behave(conn: socket.socket, n: int) -> None:
        read_request(conn)
        conn.sendall(head)
        while True:
            conn.sendall(piece)

    return behave


ZEROS = b"0" * 65536
OVERSIZED = {
    "a 10 GB 200": endless(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n[", ZEROS),
    "an endless chunked 200": endless(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"10000\r\n" + ZEROS + b"\r\n"
    ),
    "an endless 500 without a length": endless(b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n", ZEROS),
    "a 2 MB 200": lambda conn, n: (read_request(conn), conn.sendall(answer("200 OK", b"[" + b" " * 2_000_000 + b"]"))),
}


@pytest.mark.parametrize("shape", list(OVERSIZED))
def test_an_oversized_answer_is_one_line_in_bounded_memory(db, shape):
    tracemalloc.start()
    try:
        message, tries, url = failure(db, OVERSIZED[shape], retries=2, timeout=10.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tries == 1  # not retried: an LRS that answers this is not one
    assert message.startswith(f"the LRS at {url} answered ")
    assert "more than 1 MiB" in message and message.endswith("; nothing was marked as sent")
    assert peak < 12 * 1024 * 1024, peak


NESTED = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("status", ["200 OK", "500 Internal Server Error", "418 I'm a teapot"])
def test_a_deeply_nested_json_answer_is_one_line_never_a_recursion_error(db, status):
    message, _, url = failure(db, lrs(lambda m, ids: answer(status, NESTED)), retries=0)
    lead = {"200": "answered 200 ", "500": "kept failing (500 ", "418": "answered 418: "}[status[:3]]
    assert message.startswith(f"the LRS at {url} {lead}[[[[")
    assert len(message) < 500


def test_deeply_nested_reasons_for_rejected_statements_are_one_line(db):
    with no_hang(30, "LRS behaviour"), RawLrs(lrs(lambda m, ids: answer("400 Bad Request", NESTED))) as server:
        config = Config(lrs=LrsSettings(batch=50, timeout=2.0, retries=0))
        with Store.open(db, create=False) as store:
            report = send_to_lrs(store, server.url, USER, PASSWORD, ExportFilter(), config)
    assert report.rejected and report.sent == 0 and marked(db) == []
    assert all(reason.startswith("400 [[[[") and len(reason) < 320 for _, reason in report.rejected)


# ---- proxies --------------------------------------------------------------------------------------


class Recorder(RawLrs):
    """A proxy (or anything) on 127.0.0.1 that keeps every byte it receives and answers ``reply``."""

    def __init__(self, reply: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"):
        self.received = bytearray()
        self.reply = reply
        super().__init__(self.record)

    def record(self, conn: socket.socket, n: int) -> None:
        conn.settimeout(2)
        with contextlib.suppress(OSError):
            data = read_request(conn)
            self.received += data
            conn.sendall(self.reply)
            while chunk := conn.recv(65536):  # a TLS client hello after CONNECT, say
                self.received += chunk


PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def test_the_environment_s_proxies_never_get_the_request_or_the_password(db, monkeypatch):
    with no_hang(30, "LRS behaviour"), Recorder() as proxy, RawLrs(lrs(xapi_lrs)) as server:
        for var in PROXY_VARS:
            monkeypatch.setenv(var, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        send(db, server.url, retries=0)
    assert proxy.connections == 0 and bytes(proxy.received) == b""
    assert server.connections == 1 and {row[4] for row in marked(db)} == {"sent"}


def send_via(db: Path, url: str, proxy: str, *, retries: int = 0) -> None:
    config = Config(lrs=LrsSettings(timeout=3.0, retries=retries, proxy=proxy))
    with Store.open(db, create=False) as store:
        send_to_lrs(store, url, USER, PASSWORD, ExportFilter(), config, sleep=lambda _s: None)


def test_a_proxy_named_in_the_config_on_this_machine_carries_the_request(db):
    def proxied(conn: socket.socket, n: int) -> None:  # a forwarding proxy that is also the LRS
        request = read_request(conn)
        proxy.requests.append(request)
        method, ids = parse_request(request)
        conn.sendall(xapi_lrs(method, ids))

    with no_hang(30, "LRS behaviour"), RawLrs(proxied) as proxy:
        proxy.requests = []
        send_via(db, "http://127.0.0.1:9/xAPI", f"http://127.0.0.1:{proxy.port}")
    [request] = proxy.requests
    assert request.startswith(b"POST http://127.0.0.1:9/xAPI/statements HTTP/1.1\r\n")
    assert {row[4] for row in marked(db)} == {"sent"}


def test_an_https_lrs_through_a_named_proxy_is_tunnelled_so_the_proxy_never_sees_the_password(db):
    tunnel = b"HTTP/1.1 200 Connection established\r\n\r\n"
    with no_hang(30, "LRS behaviour"), Recorder(tunnel) as proxy, pytest.raises(LrsError) as caught:
        send_via(db, "https://lrs.example/xAPI", f"http://127.0.0.1:{proxy.port}")
    seen = bytes(proxy.received)
    assert seen.startswith(b"CONNECT lrs.example:443 HTTP/1.0\r\n\r\n")  # nothing else in the clear
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode())
    assert PASSWORD.encode() not in seen and token not in seen and b"Authorization" not in seen
    assert "\n" not in str(caught.value) and marked(db) == []


@pytest.mark.parametrize(
    ("url", "proxy", "needle"),
    [
        ("http://127.0.0.1:9/xAPI", "http://proxy.academy.example:3128",
         "[lrs] proxy http://proxy.academy.example:3128 is not on this machine"),
        ("https://lrs.example/xAPI", "socks5://127.0.0.1:1080", "[lrs] proxy 'socks5://127.0.0.1:1080' is not an"),
        ("https://lrs.example/xAPI", f"http://me:{PASSWORD}@proxy.example:3128", "must not contain a user or password"),
        ("https://lrs.example/xAPI", "http://proxy.example:3128/path?x=1", "[lrs] proxy 'http://proxy.example:3128/pa"),
    ],
)
def test_a_proxy_that_would_expose_the_password_is_refused_before_anything_is_sent(db, url, proxy, needle):
    with pytest.raises(LrsError) as caught:
        send_via(db, url, proxy)
    message = str(caught.value)
    assert needle in message and PASSWORD not in message and "\n" not in message
    assert marked(db) == []


# ---- the password never shown, even when an LRS echoes it -----------------------------------------


TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
ECHOES = {
    "500 json": ("500 Internal Server Error", json.dumps({"detail": f"login {USER}:{PASSWORD} failed"}).encode()),
    "500 text": ("502 Bad Gateway", f"upstream said: Authorization: Basic {TOKEN} password={PASSWORD}".encode()),
    "400 at the cut": ("400 Bad Request", ("x" * 295 + PASSWORD).encode()),
    "json escaped": ("500 Oops", json.dumps({"message": f"pw \\ {PASSWORD}"}).encode()),
    "200 not xapi": ("200 OK", f"<p>hello {USER}, your password is {PASSWORD}</p>".encode()),
    "redirect": ("301 Moved", b""),
}


@pytest.mark.parametrize("case", list(ECHOES))
def test_an_lrs_that_echoes_the_password_never_gets_it_printed(db, case):
    status, body = ECHOES[case]

    def echo(conn: socket.socket, n: int) -> None:
        read_request(conn)
        data = answer(status, body)
        if case == "redirect":
            data = data.replace(b"\r\n\r\n", f"\r\nLocation: https://x.example/?pw={PASSWORD}&t={TOKEN}\r\n\r\n".encode())
        conn.sendall(data)

    with no_hang(20, "LRS behaviour"), RawLrs(echo) as server:
        try:
            config = Config(lrs=LrsSettings(batch=1, timeout=2.0, retries=0))
            with Store.open(db, create=False) as store:
                report = send_to_lrs(store, server.url, USER, PASSWORD, ExportFilter(), config, sleep=lambda _s: None)
            shown = report.summary() + "\n".join(report.rejections())
        except LrsError as exc:
            shown = str(exc) + (exc.report.summary() if exc.report else "")
    for secret in (PASSWORD, TOKEN, PASSWORD[:6], TOKEN[-12:]):
        assert secret not in shown, shown
    if case != "400 at the cut":  # there the cut falls inside the password: nothing of it is left
        assert "[hidden]" in shown
