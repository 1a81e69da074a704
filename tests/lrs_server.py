"""A raw TCP server on 127.0.0.1 playing an LRS (or a proxy), for the LRS fault and fuzz tests:
it can misbehave below HTTP, which an ``http.server`` fake cannot. One copy for every test file."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


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


def parse_request(request: bytes) -> tuple[str, list[str]]:
    """The method and the statement ids of one request (a POST's list, or a PUT's one statement)."""
    head, _, body = request.partition(b"\r\n\r\n")
    method = head.split(b" ", 1)[0].decode()
    data = json.loads(body or b"[]")
    return method, [s["id"] for s in (data if isinstance(data, list) else [data])]


def lrs(respond: Callable[[str, list[str]], bytes]) -> Callable[[socket.socket, int], None]:
    """An LRS whose answer to every request (POST or PUT) is ``respond(method, ids)``."""

    def behave(conn: socket.socket, n: int) -> None:
        method, ids = parse_request(read_request(conn))
        conn.sendall(respond(method, ids))

    return behave


def xapi_lrs(method: str, ids: list[str]) -> bytes:
    """What an xAPI 1.0.3 LRS answers: POST 200 with the ids, PUT 204."""
    if method == "PUT":
        return NO_CONTENT
    return answer("200 OK", json.dumps(ids).encode())
