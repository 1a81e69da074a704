"""Sending xAPI statements to a Learning Record Store (LRS), with the standard library only.

``send_to_lrs(store, url, user, password, filters, config)`` posts the statements of the
matching attempts to ``{url}/statements`` (``X-Experience-API-Version: 1.0.3``, Basic auth) in
batches of ``[lrs] batch``, and returns an ``LrsReport``. What counts as sent:

* Only what the LRS confirmed. A statement is recorded in the store (``lrs_sent``) after the
  LRS answered 2xx for it (outcome ``sent``, or ``already`` when the LRS said it had it), or
  409 (it holds a statement with that id: ``already``, counted as a conflict when it differs).
  Nothing is ever recorded before the answer arrived.
* Statements recorded as sent to this LRS before are not sent again (``skipped``); statement
  ids are deterministic, so even a statement sent but not recorded (a crash in between) is
  stored only once by the LRS.
* A batch the LRS refuses as invalid (400, 413, 422) is re-sent one statement at a time, so
  the good ones still get in and each bad one is reported with the LRS's reason.
* Connection errors, time-outs, dropped connections, 408, 429 and 5xx are retried ``[lrs]
  retries`` times with exponential backoff; if the LRS still fails, sending stops with an
  ``LrsError`` (one line) that says what was recorded. Run again to send the rest.
* 401/403 (credentials), 404 (wrong address), redirects and other answers stop at once with
  an ``LrsError``.

The password is only ever put in the Authorization header; it is never printed, logged or
part of any message.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from simulator.export import ExportError
from simulator.export.tabular import snapshot
from simulator.export.xapi import XAPI_VERSION, iter_statements
from simulator.records import Store
from simulator.safetext import one_line

BACKOFF = 0.5
"""Seconds before the first retry; doubled for each further one."""
MAX_BACKOFF = 30.0
"""No wait between tries is longer than this (also caps an LRS's Retry-After)."""
REASON_CHARS = 300
"""An LRS's reason is cut to this many characters (it must fit on one line)."""
INVALID = (400, 413, 422)
"""Answers that mean "this batch has something the LRS will not take"."""
TRANSIENT = (408, 429)
"""4xx answers worth retrying (besides every 5xx)."""


class LrsError(ExportError):
    """Sending stopped; the message is one line. ``report`` holds what was done before (an
    ``ExportError``, so the CLI reports it like any other export failure)."""

    def __init__(self, message: str, report: LrsReport | None = None):
        super().__init__(message)
        self.report = report


@dataclass
class LrsReport:
    """What one run did. ``rejected`` holds (statement id, the LRS's reason)."""

    lrs: str
    sent: int = 0
    already: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0
    conflicts: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed

    def summary(self) -> str:
        """One line, e.g. ``sent 42 statements, 3 already there, 0 rejected``."""
        text = f"sent {self.sent} statement{'s' if self.sent != 1 else ''}, {self.already} already there"
        if self.conflicts:
            text += f" ({len(self.conflicts)} different from what the LRS holds)"
        text += f", {len(self.rejected)} rejected"
        if self.rejected:
            text += f" (first: {self.rejected[0][1]})"
        if self.failed:
            text += f", {self.failed} not sent (the LRS failed)"
        if self.skipped:
            text += f"; {self.skipped} sent before, skipped"
        return text

    def rejections(self) -> list[str]:
        """One line per rejected statement: its id and the LRS's reason."""
        return [f"rejected {sid}: {reason}" for sid, reason in self.rejected]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would turn the POST into a GET (dropping the
    statements, then reading the GET's 200 as success) and would send our credentials on."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class _Transient(Exception):
    """A failure worth retrying; the message says what happened, for the final report.
    ``answered``: the LRS did answer (an HTTP error status), as opposed to no connection."""

    def __init__(self, message: str, *, answered: bool = False, tries: int = 1):
        super().__init__(message)
        self.answered = answered
        self.tries = tries


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: Any = None


def _reason_line(text: str, limit: int = REASON_CHARS) -> str:
    """An LRS's words, safe for the terminal (no escape sequences), on one short line."""
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lrs_reason(status: int, body: bytes) -> str:
    """The LRS's reason for an error answer, as one short line (its JSON ``detail``,
    ``message`` or ``error`` when it sends one, else the start of its text, else the standard
    phrase for the status, e.g. "Internal Server Error")."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("detail", "message", "error", "errors", "reason"):
            if key in data:
                data = data[key]
                break
    if isinstance(data, list) and data and isinstance(data[0], dict):  # pydantic/FastAPI style
        first = data[0]
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        what = first.get("msg") or first.get("reason") or first.get("message") or json.dumps(first)
        reason = f"{where}: {what}" if where else str(what)
        if len(data) > 1:
            reason += f" (and {len(data) - 1} more)"
        return _reason_line(reason)
    if isinstance(data, str):
        return _reason_line(data)
    if data is not None:
        return _reason_line(json.dumps(data))
    return _reason_line(text) if text else http.client.responses.get(status, "no reason given")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LrsError(f"--lrs {url!r} is not an http:// or https:// address (e.g. https://lrs.example/xAPI)")
    if parts.username is not None or parts.password is not None:
        raise LrsError(
            "--lrs must not contain a user or password: give the user with --lrs-user and the password "
            "in CRISIS_SIM_LRS_PASSWORD"
        )
    if parts.path.rstrip("/").endswith("/statements"):
        raise LrsError(
            f"--lrs {url!r}: give the LRS's base address, without /statements (e.g. https://lrs.example/xAPI)"
        )
    if parts.query or parts.fragment:
        raise LrsError(f"--lrs {url!r} must be the LRS's base address, without ?query or #fragment")
    return url.rstrip("/")


class _Deadline:
    """The whole exchange of one request (sending it, the status line, the headers, the body)
    within ``seconds``. A socket timeout bounds each single read only, so an LRS (or a proxy)
    that sends a byte now and then would otherwise hold a request for ever; when the time is up
    the socket is shut down, which ends the read in progress."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.started = time.monotonic()
        self.expired = False
        self._timer: threading.Timer | None = None

    def watch(self, sock: socket.socket) -> None:
        def expire() -> None:
            self.expired = True
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        self.cancel()
        left = max(0.0, self.seconds - (time.monotonic() - self.started))
        self._timer = threading.Timer(left, expire)
        self._timer.name = "lrs-deadline"
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
            self._timer = None


class _Watched:
    """For urllib's HTTP and HTTPS handlers: each new connection's socket is handed to the
    client's current deadline as soon as it is connected (proxies and TLS included)."""

    client: _Client

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        deadline = self.client.deadline

        def connection(host: str, **options: Any) -> Any:
            conn = http_class(host, **options)
            connect = conn.connect

            def connect_and_watch() -> None:
                connect()
                if deadline is not None:
                    deadline.watch(conn.sock)

            conn.connect = connect_and_watch
            return conn

        return super().do_open(connection, req, **kwargs)  # type: ignore[misc]


class _HttpHandler(_Watched, urllib.request.HTTPHandler):
    pass


class _HttpsHandler(_Watched, urllib.request.HTTPSHandler):
    pass


def _private_path(url: str) -> bool:
    """Whether credentials sent to ``url`` stay off the network: https, or http to this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Client:
    def __init__(self, url: str, user: str | None, password: str | None, timeout: float):
        self.url = url
        self.endpoint = f"{url}/statements"
        self.timeout = timeout
        self.headers = {
            "X-Experience-API-Version": XAPI_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "crisis-sim",
        }
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self.deadline: _Deadline | None = None
        handlers = (_HttpHandler(), _HttpsHandler())
        for handler in handlers:
            handler.client = self
        self.opener = urllib.request.build_opener(_NoRedirect, *handlers)

    def post(self, body: bytes) -> _Answer:
        """One POST, all of it within the timeout; raises _Transient for failures worth
        retrying, LrsError for fatal ones. An answer not complete in time is not an answer,
        even if its status line said 200: nothing is marked sent on a cut-off reply."""
        deadline = self.deadline = _Deadline(self.timeout)
        try:
            answer = self._exchange(body)
        except _Transient:
            if deadline.expired:
                raise _Transient(f"no answer within {self.timeout:g} s") from None
            raise
        finally:
            deadline.cancel()
            self.deadline = None
        if deadline.expired:
            raise _Transient(f"no answer within {self.timeout:g} s")
        return answer

    def _exchange(self, body: bytes) -> _Answer:
        request = urllib.request.Request(self.endpoint, data=body, headers=self.headers, method="POST")
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return _Answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            with contextlib.suppress(Exception):
                data = exc.read(64 * 1024)
                return _Answer(exc.code, data, exc.headers)
            return _Answer(exc.code, b"", exc.headers)
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                why = _reason_line(str(reason.verify_message))
                raise LrsError(f"cannot verify the certificate of the LRS at {self.url} ({why})") from None
            if isinstance(reason, TimeoutError):
                raise _Transient(f"no answer within {self.timeout:g} s") from None
            if isinstance(reason, ConnectionRefusedError):
                raise _Transient("connection refused") from None
            if isinstance(reason, socket.gaierror):
                raise _Transient("host not found") from None
            if isinstance(reason, OSError) and reason.strerror:
                raise _Transient(reason.strerror.lower()) from None
            raise _Transient(_reason_line(str(reason))) from None
        except TimeoutError:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionError) as exc:
            if isinstance(exc, http.client.RemoteDisconnected):
                raise _Transient("connection closed without an answer") from None
            raise _Transient("connection dropped") from None
        except http.client.HTTPException as exc:
            raise _Transient(f"broken answer ({type(exc).__name__})") from None
        except OSError as exc:
            raise _Transient(_reason_line(exc.strerror or str(exc))) from None


def _retry_after(headers: Any) -> float | None:
    try:
        value = float(headers.get("Retry-After")) if headers is not None else None
    except (TypeError, ValueError):
        return None
    return None if value is None or value < 0 else min(value, MAX_BACKOFF)


@dataclass
class _Sender:
    store: Store
    client: _Client
    report: LrsReport
    retries: int
    sleep: Callable[[float], None]

    # -- one request, retried --

    def _post(self, statements: Sequence[dict[str, Any]]) -> _Answer:
        body = json.dumps(list(statements), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        tries = self.retries + 1
        delay = BACKOFF
        last = _Transient("no try made")
        for attempt in range(tries):
            if attempt:
                self.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            self.report.requests += 1
            try:
                answer = self.client.post(body)
            except _Transient as exc:
                last = exc
                continue
            if answer.status >= 500 or answer.status in TRANSIENT:
                last = _Transient(f"{answer.status} {lrs_reason(answer.status, answer.body)}", answered=True)
                wait = _retry_after(answer.headers)
                if wait is not None:
                    delay = max(delay, wait)
                continue
            return answer
        raise _Transient(str(last), answered=last.answered, tries=tries)

    # -- outcomes --

    def _mark(self, items: Sequence[tuple[str, dict[str, Any]]], outcome: str) -> None:
        by_attempt: dict[str, list[str]] = defaultdict(list)
        for attempt_id, statement in items:
            by_attempt[attempt_id].append(statement["id"])
        for attempt_id, ids in by_attempt.items():
            self.store.mark_sent(self.report.lrs, attempt_id, ids, outcome)
        if outcome == "sent":
            self.report.sent += len(items)
        else:
            self.report.already += len(items)

    def _confirmed(self, items: Sequence[tuple[str, dict[str, Any]]], answer: _Answer) -> None:
        """Record a 2xx answer. The body may list the ids the LRS stored (xAPI: a list of ids;
        Ralph lists only the new ones, and answers 204 when it had them all; Ralph's partial
        success mode: ``{"ids": [...], "errors": [{"index", "reason"}]}``); a statement it does
        not list was already there, one it names in ``errors`` was rejected. A body that lists
        nothing means all were stored."""
        if answer.status == 204:
            self._mark(items, "already")
            return
        data = _json(answer.body)
        errors: dict[int, str] = {}
        if isinstance(data, dict) and isinstance(data.get("ids"), list):
            for error in data.get("errors") or []:
                if isinstance(error, dict) and isinstance(error.get("index"), int) and 0 <= error["index"] < len(items):
                    errors[error["index"]] = _reason_line(str(error.get("reason") or error))
            data = data["ids"]
        if not (isinstance(data, list) and all(isinstance(x, str) for x in data)):
            self._mark(items, "sent")
            return
        stored = {x.lower() for x in data}
        for index, reason in errors.items():
            self.report.rejected.append((items[index][1]["id"], f"{answer.status} {reason}"))
        rest = [item for index, item in enumerate(items) if index not in errors]
        self._mark([i for i in rest if i[1]["id"] in stored], "sent")
        self._mark([i for i in rest if i[1]["id"] not in stored], "already")

    def _fatal(self, answer: _Answer) -> LrsError:
        status = answer.status
        if status in (401, 403):
            return LrsError(
                f"the LRS refused the credentials ({status}): check --lrs-user and CRISIS_SIM_LRS_PASSWORD",
                self.report,
            )
        if status == 404:
            return LrsError(
                f"the LRS at {self.client.url} has no statements endpoint (404 for {self.client.endpoint}); "
                "check --lrs (it usually ends in /xAPI or /data/xAPI)",
                self.report,
            )
        if 300 <= status < 400:
            where = answer.headers.get("Location") if answer.headers is not None else None
            to = f" to {where}" if where else ""
            return LrsError(
                f"the LRS at {self.client.url} redirects{to} ({status}); give the final address with --lrs",
                self.report,
            )
        return LrsError(
            f"the LRS at {self.client.url} answered {status}: {lrs_reason(status, answer.body)}", self.report
        )

    def send(self, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Send one batch of (attempt id, statement); record what the LRS confirmed."""
        if not items:
            return
        answer = self._post([s for _, s in items])
        status = answer.status
        if 200 <= status < 300:
            self._confirmed(items, answer)
        elif status in INVALID or status == 409:
            if len(items) > 1:
                for item in items:
                    self.send([item])
            elif status == 409:
                self.report.conflicts.append(items[0][1]["id"])
                self._mark(items, "already")
            else:
                self.report.rejected.append((items[0][1]["id"], f"{status} {lrs_reason(status, answer.body)}"))
        else:
            raise self._fatal(answer)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        return None


def send_to_lrs(
    store: Store,
    url: str,
    user: str | None,
    password: str | None,
    filters: Any,
    config: Any,
    *,
    include_incomplete: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> LrsReport:
    """Send the statements of the matching attempts to the LRS at ``url`` (its xAPI base, e.g.
    ``https://lrs.example/xAPI``); see the module docstring for what is sent and recorded.

    ``config`` is the ``Config`` (``config.lrs``: batch, timeout, retries; ``config.academy``:
    homePage and IRIs). ``user`` None sends no credentials (an open LRS). Returns the report,
    also when statements were rejected (check ``report.ok``); raises ``LrsError`` (one line,
    ``.report`` set) when sending had to stop, and ``StoreError`` for a records problem."""
    lrs = _check_url(url)
    if user is not None and not _private_path(lrs):
        raise LrsError(
            f"--lrs {lrs}: use https:// (Basic auth would send the password unencrypted over the network); "
            "plain http:// is only for an LRS on this machine (127.0.0.1, localhost)"
        )
    if user is not None and not password:
        raise LrsError(f"no password for LRS user '{user}': set CRISIS_SIM_LRS_PASSWORD")
    if user is None and password:
        raise LrsError("CRISIS_SIM_LRS_PASSWORD is set but no LRS user is: give --lrs-user or [lrs] user")
    settings = config.lrs
    report = LrsReport(lrs)
    sender = _Sender(store, _Client(lrs, user, password, settings.timeout), report, settings.retries, sleep)
    batch_size = max(1, int(settings.batch))
    # Read through a second connection holding one snapshot, so the statements come from one
    # consistent state of the file while this connection records what the LRS confirmed.
    reader = Store.open(store.path, create=False, check="none")  # the file was just checked
    pending: list[tuple[str, dict[str, Any]]] = []

    def flush() -> None:
        ids = [s["id"] for _, s in pending]
        done = store.sent_statements(lrs, ids)
        report.skipped += len(done)
        todo = [item for item in pending if item[1]["id"] not in done]
        pending.clear()
        answered_before = report.sent + report.already + len(report.rejected)
        try:
            sender.send(todo)
        except _Transient as exc:
            report.failed += len(todo) - (report.sent + report.already + len(report.rejected) - answered_before)
            recorded = report.sent + report.already
            tail = (
                "nothing was marked as sent"
                if not recorded
                else f"the {recorded} statement{'s' if recorded != 1 else ''} the LRS confirmed before "
                "were recorded; run again to send the rest"
            )
            after = f"after {exc.tries} tr{'ies' if exc.tries != 1 else 'y'}"
            what = f"the LRS at {lrs} kept failing" if exc.answered else f"cannot reach the LRS at {lrs}"
            raise LrsError(f"{what} ({exc}) {after}; {tail}", report) from None

    try:
        with snapshot(reader):
            for attempt, statement in iter_statements(
                reader, filters, config.academy, include_incomplete=include_incomplete
            ):
                pending.append((attempt.id, statement))
                if len(pending) >= batch_size:
                    flush()
            flush()
    except LrsError as exc:
        if exc.report is None:
            exc.report = report
        raise
    finally:
        reader.close()
    return report


__all__ = ["LrsError", "LrsReport", "lrs_reason", "send_to_lrs"]
