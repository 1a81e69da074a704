"""Sending xAPI statements to a Learning Record Store (LRS), with the standard library only.

``send_to_lrs(store, url, user, password, filters, config)`` posts the statements of the
matching attempts to ``{url}/statements`` (``X-Experience-API-Version: 1.0.3``, Basic auth) in
batches of ``[lrs] batch``, and returns an ``LrsReport``. What counts as sent:

* Only what the LRS confirmed the way xAPI 1.0.3 says an LRS confirms: ``POST /statements``
  answered ``200`` with the JSON array of exactly the ids sent, in order (outcome ``sent``), or
  ``PUT /statements?statementId=ID`` answered ``204`` (``already``, or ``sent`` when the POST
  had listed it), or ``409`` for one statement (it holds a statement with that id: ``already``,
  counted as a conflict). Nothing is ever recorded before the answer arrived.
* Ralph answers a POST with ``204`` when it already had every statement, and lists only the
  new ids otherwise; a list of some of the ids sent (in order) or a ``204`` is therefore not an
  error, but it confirms nothing by itself: each statement of that batch is then confirmed
  with a PUT by its id.
* Any other answer with a 2xx status (a web server's welcome page, an empty body,
  ``{"status": "ok"}``, ``299``, other ids, the ids in another order...) stops sending with an
  ``LrsError`` that quotes the answer (one short, escaped line) and marks nothing.
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
* Every answer is read up to ``ANSWER_BYTES`` (and within ``[lrs] timeout`` as a whole); a
  longer one stops sending with one line, so memory stays bounded whatever an LRS sends.

The password is only ever put in the Authorization header; it is never printed, logged or
part of any message, even when an LRS (or something pretending to be one) echoes it back:
every piece of an answer that is shown goes through ``_Secrets.hide`` first. Proxies: the
environment's (``http_proxy``, ``HTTPS_PROXY``, ``ALL_PROXY``...) are never used, so the
credentials go through no proxy nobody named for crisis-sim; ``[lrs] proxy`` names one, and the
https-or-this-machine rule for credentials applies to it too.
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
from urllib.parse import quote, quote_plus, urlsplit

from simulator.export import ExportError
from simulator.export.tabular import snapshot
from simulator.export.xapi import XAPI_VERSION, iter_statements
from simulator.records import RecordsStore
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
ANSWER_BYTES = 1 << 20
"""The most of any answer that is read (1 MiB). An LRS answers a batch of ``[lrs] batch`` (at
most 1,000) statements with their ids, about 40 bytes each, and an error with a short reason:
anything longer is not an LRS's answer, and reading it all could exhaust memory."""
SHOWN_CHARS = 160
"""An answer that is not an LRS's is quoted in the error up to this many characters."""
HIDDEN = "[hidden]"
"""What is shown in place of the password (or the Authorization value) an LRS echoed back."""


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
    oversized: bool = False
    """The answer was longer than ``ANSWER_BYTES`` (``body`` holds its start)."""


class _Secrets:
    """The forms in which an LRS could echo our credentials back (the password as sent, JSON-
    or URL-escaped, put on one line; the Basic token; ``user:password``): ``hide`` replaces each
    with ``HIDDEN``. Applied to every piece of an answer before it is shown, and again after it
    is cut to length, so not even the start of the password gets through."""

    def __init__(self, user: str | None, password: str | None, token: str | None):
        forms: set[str] = set()
        if password:
            forms |= {
                password,
                password.strip(),
                json.dumps(password)[1:-1],
                json.dumps(password, ensure_ascii=False)[1:-1],
                quote(password, safe=""),
                quote_plus(password),
                one_line(password),
            }
            if user is not None:
                forms.add(f"{user}:{password}")
        if token:
            forms.add(token)
        self.forms = sorted((f for f in forms if f), key=len, reverse=True)

    def hide(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, HIDDEN)
        return text

    def prefixes_hidden(self, text: str) -> str:
        """``hide``, plus any start of a secret left at the very end of ``text`` (a cut)."""
        text = self.hide(text)
        for form in self.forms:
            for size in range(min(len(form), len(text)), 0, -1):
                if text.endswith(form[:size]) and size >= min(4, len(form)):
                    return text[:-size] + HIDDEN
        return text


_NO_SECRETS = _Secrets(None, None, None)


def _reason_line(text: str, limit: int = REASON_CHARS, secrets: _Secrets = _NO_SECRETS) -> str:
    """An LRS's words, safe for the terminal (no escape sequences), on one short line, with
    our credentials hidden (before the cut, and after it in case the cut split one)."""
    text = secrets.hide(one_line(secrets.hide(text)))
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for size in range(len(HIDDEN) - 1, 0, -1):  # a marker split by the cut goes whole
        if cut.endswith(HIDDEN[:size]):
            cut = cut[:-size]
            break
    return secrets.prefixes_hidden(cut) + "…"


def _loads(text: str | bytes) -> Any:
    """JSON, or None when it is not JSON (nested too deep to parse counts as not JSON)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _dumps(data: Any) -> str:
    try:
        return json.dumps(data, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return "(an answer nested too deep to show)"


def lrs_reason(status: int, body: bytes, secrets: _Secrets = _NO_SECRETS) -> str:
    """The LRS's reason for an error answer, as one short line (its JSON ``detail``,
    ``message`` or ``error`` when it sends one, else the start of its text, else the standard
    phrase for the status, e.g. "Internal Server Error"). ``secrets`` are hidden."""
    text = secrets.hide(body.decode("utf-8", "replace").strip())
    data = _loads(text)

    def line(reason: str) -> str:
        return _reason_line(reason, secrets=secrets)

    if isinstance(data, dict):
        for key in ("detail", "message", "error", "errors", "reason"):
            if key in data:
                data = data[key]
                break
    if isinstance(data, list) and data and isinstance(data[0], dict):  # pydantic/FastAPI style
        first = data[0]
        loc = first.get("loc")
        where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
        what = first.get("msg") or first.get("reason") or first.get("message") or _dumps(first)
        reason = f"{where}: {_text(what)}" if where else _text(what)
        if len(data) > 1:
            reason += f" (and {len(data) - 1} more)"
        return line(reason)
    if isinstance(data, str):
        return line(data)
    if data is not None:
        return line(_dumps(data))
    return line(text) if text else http.client.responses.get(status, "no reason given")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


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


def _check_proxy(proxy: str, lrs: str, credentials: bool) -> str:
    """``[lrs] proxy`` checked: ``http://HOST:PORT`` (or ``https://``), nothing else in it, and
    never a way for the credentials to cross a network in clear. Through a proxy an https LRS is
    reached in a tunnel (CONNECT: the proxy sees the host name only); an http LRS (this machine
    only) would hand the proxy the password, so the proxy must then be https or on this machine."""
    parts = urlsplit(proxy)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise LrsError(f"[lrs] proxy {proxy!r} is not an http://HOST:PORT address (e.g. http://proxy.academy:3128)")
    if parts.username is not None or parts.password is not None:
        raise LrsError(
            "[lrs] proxy must not contain a user or password (the config is shown by 'crisis-sim config'); "
            "use a proxy that lets this machine through"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise LrsError(f"[lrs] proxy {proxy!r} must be only http://HOST:PORT, without a path, ?query or #fragment")
    if credentials and urlsplit(lrs).scheme == "http" and not _private_path(proxy):
        raise LrsError(
            f"[lrs] proxy {proxy} is not on this machine, and the LRS at {lrs} is plain http://: the proxy "
            "would see the password; use an https:// LRS through it, or drop [lrs] proxy"
        )
    return proxy


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


def _read_capped(response: Any) -> tuple[bytes, bool]:
    """The body of ``response`` (an ``http.client.HTTPResponse``), at most ``ANSWER_BYTES``;
    and whether there was more. A declared length over the cap is refused before reading; an
    endless chunked body stops being read at the cap. A body shorter than its declared length
    raises IncompleteRead (the connection dropped)."""
    declared = getattr(response, "length", None)
    if isinstance(declared, int) and declared > ANSWER_BYTES:
        return b"", True
    parts: list[bytes] = []
    size = 0
    while size <= ANSWER_BYTES:
        chunk = response.read(min(64 * 1024, ANSWER_BYTES + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    left = getattr(response, "length", None)
    if size <= ANSWER_BYTES and isinstance(left, int) and left > 0:
        raise http.client.IncompleteRead(b"".join(parts), left)
    body = b"".join(parts)
    return body[:ANSWER_BYTES], size > ANSWER_BYTES


class _Client:
    def __init__(self, url: str, user: str | None, password: str | None, timeout: float, proxy: str | None = None):
        self.url = url
        self.endpoint = f"{url}/statements"
        self.timeout = timeout
        self.headers = {
            "X-Experience-API-Version": XAPI_VERSION,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "crisis-sim",
        }
        token = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self.secrets = _Secrets(user, password, token)
        self.deadline: _Deadline | None = None
        handlers = (_HttpHandler(), _HttpsHandler())
        for handler in handlers:
            handler.client = self
        # Only the proxy named in [lrs] proxy, never the environment's: build_opener would
        # otherwise add a ProxyHandler reading http_proxy, HTTPS_PROXY... and hand a proxy
        # nobody named for crisis-sim the statements and the password.
        proxies = {"http": proxy, "https": proxy} if proxy else {}
        self.opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler(proxies), *handlers)

    def request(self, method: str, target: str, body: bytes) -> _Answer:
        """One request, all of it within the timeout; raises _Transient for failures worth
        retrying, LrsError for fatal ones. An answer not complete in time is not an answer,
        even if its status line said 200: nothing is marked sent on a cut-off reply."""
        deadline = self.deadline = _Deadline(self.timeout)
        try:
            answer = self._exchange(method, target, body)
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

    def _exchange(self, method: str, target: str, body: bytes) -> _Answer:
        request = urllib.request.Request(target, data=body, headers=self.headers, method=method)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                data, oversized = _read_capped(response)
                return _Answer(response.status, data, response.headers, oversized)
        except urllib.error.HTTPError as exc:
            try:
                data, oversized = _read_capped(exc.fp) if exc.fp is not None else (b"", False)
            except (OSError, http.client.HTTPException):
                data, oversized = b"", False
            return _Answer(exc.code, data, exc.headers, oversized)
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
            raise _Transient(_reason_line(str(reason), secrets=self.secrets)) from None
        except TimeoutError:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionError) as exc:
            if isinstance(exc, http.client.RemoteDisconnected):
                raise _Transient("connection closed without an answer") from None
            raise _Transient("connection dropped") from None
        except http.client.HTTPException as exc:
            raise _Transient(f"broken answer ({type(exc).__name__})") from None
        except OSError as exc:
            raise _Transient(_reason_line(exc.strerror or str(exc), secrets=self.secrets)) from None


def _retry_after(headers: Any) -> float | None:
    try:
        value = float(headers.get("Retry-After")) if headers is not None else None
    except (TypeError, ValueError):
        return None
    return None if value is None or value < 0 else min(value, MAX_BACKOFF)


def _id_list(data: Any) -> list[str] | None:
    """``data`` as a list of statement ids (lower case), or None when it is not a list of strings."""
    if isinstance(data, list) and all(isinstance(x, str) for x in data):
        return [x.lower() for x in data]
    return None


def _in_order_subset(listed: list[str], sent: list[str]) -> bool:
    """Whether ``listed`` is some of ``sent``, each once, in the order sent (Ralph's answer)."""
    rest = iter(sent)
    return len(set(listed)) == len(listed) and all(any(x == y for y in rest) for x in listed)


Item = tuple[str, dict[str, Any]]
"""(attempt id, statement)."""


@dataclass
class _Sender:
    store: RecordsStore
    client: _Client
    report: LrsReport
    retries: int
    sleep: Callable[[float], None]

    # -- one request, retried --

    def _call(self, method: str, target: str, payload: Any) -> _Answer:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        tries = self.retries + 1
        delay = BACKOFF
        last = _Transient("no try made")
        for attempt in range(tries):
            if attempt:
                self.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            self.report.requests += 1
            try:
                answer = self.client.request(method, target, body)
            except _Transient as exc:
                last = exc
                continue
            if answer.oversized:
                raise self._stop(
                    f"the LRS at {self.client.url} answered {answer.status} with more than "
                    f"{ANSWER_BYTES >> 20} MiB, which no LRS sends (an LRS answers with a short list of ids); "
                    "check --lrs"
                )
            if answer.status >= 500 or answer.status in TRANSIENT:
                last = _Transient(f"{answer.status} {self.reason(answer)}", answered=True)
                wait = _retry_after(answer.headers)
                if wait is not None:
                    delay = max(delay, wait)
                continue
            return answer
        raise _Transient(str(last), answered=last.answered, tries=tries)

    def reason(self, answer: _Answer) -> str:
        return lrs_reason(answer.status, answer.body, self.client.secrets)

    def _shown(self, answer: _Answer) -> str:
        """The answer quoted for an error: its status and the start of its body, one line."""
        text = answer.body.decode("utf-8", "replace")
        if not text.strip():
            return f"{answer.status} with an empty body"
        return f"{answer.status} {_reason_line(text, SHOWN_CHARS, self.client.secrets)}"

    def _stop(self, message: str) -> LrsError:
        """Sending stops here: ``message`` and what was recorded before, as one line."""
        return LrsError(f"{message}; {recorded_so_far(self.report)}", self.report)

    # -- outcomes --

    def _mark(self, items: Sequence[Item], outcome: str) -> None:
        by_attempt: dict[str, list[str]] = defaultdict(list)
        for attempt_id, statement in items:
            by_attempt[attempt_id].append(statement["id"])
        for attempt_id, ids in by_attempt.items():
            self.store.mark_sent(self.report.lrs, attempt_id, ids, outcome)
        if outcome == "sent":
            self.report.sent += len(items)
        else:
            self.report.already += len(items)

    def _not_xapi(self, answer: _Answer, items: Sequence[Item], method: str = "POST") -> LrsError:
        expected = (
            "204 to PUT"
            if method == "PUT"
            else f"200 with the ids of the {len(items)} statement{'s' if len(items) != 1 else ''} sent"
        )
        to = " to PUT" if method == "PUT" else ""
        return self._stop(
            f"the LRS at {self.client.url} answered {self._shown(answer)}{to}, not what an xAPI 1.0.3 LRS answers "
            f"({expected}); check --lrs"
        )

    def _confirmed(self, items: Sequence[Item], answer: _Answer) -> None:
        """Record a 2xx answer to a POST of ``items``. Confirms all of them: 200 and the list of
        exactly their ids, in order (Ralph's partial-success mode: ``{"ids": [...], "errors":
        [{"index", "reason"}]}``, the ids of all but the ones it names in ``errors``, which are
        rejected). Confirms nothing by itself, and has each statement confirmed by PUT: 204 (the
        LRS had them all) or a list of some of the ids in order (the LRS lists only the new ones).
        Anything else stops sending, with nothing of this batch recorded."""
        data = _loads(answer.body) if answer.status == 200 else None
        errors: dict[int, str] = {}
        if isinstance(data, dict) and isinstance(data.get("ids"), list) and isinstance(data.get("errors"), list):
            for error in data["errors"]:
                if isinstance(error, dict) and isinstance(error.get("index"), int) and 0 <= error["index"] < len(items):
                    reason = error.get("reason") or error
                    errors[error["index"]] = _reason_line(_text(reason), secrets=self.client.secrets)
            data = data["ids"]
        listed = _id_list(data) if answer.status == 200 else None
        rest = [item for index, item in enumerate(items) if index not in errors]
        sent = [item[1]["id"].lower() for item in rest]
        if answer.status == 204:
            self._put_each(items, listed=set())
            return
        if listed is None or not (listed == sent or (listed and _in_order_subset(listed, sent))):
            raise self._not_xapi(answer, items)
        for index, reason in errors.items():
            self.report.rejected.append((items[index][1]["id"], f"{answer.status} {reason}"))
        if listed == sent:
            self._mark(rest, "sent")
        else:
            self._put_each(rest, listed=set(listed))

    def _put_each(self, items: Sequence[Item], listed: set[str]) -> None:
        """Confirm each statement with ``PUT /statements?statementId=ID`` (xAPI: 204 when the LRS
        holds it, now or before; 409 when it holds a different one). ``listed``: the ids the POST
        said were new (outcome ``sent``); the others were there before (``already``)."""
        for item in items:
            statement_id = item[1]["id"]
            target = f"{self.client.endpoint}?statementId={quote(statement_id, safe='')}"
            answer = self._call("PUT", target, item[1])
            status = answer.status
            if status == 204:
                self._mark([item], "sent" if statement_id.lower() in listed else "already")
            elif status == 409:
                self.report.conflicts.append(statement_id)
                self._mark([item], "already")
            elif status in INVALID:
                self.report.rejected.append((statement_id, f"{status} {self.reason(answer)}"))
            elif 200 <= status < 300:
                raise self._not_xapi(answer, [item], "PUT")
            else:
                raise self._fatal(answer)

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
            to = f" to {_reason_line(where, SHOWN_CHARS, self.client.secrets)}" if where else ""
            return LrsError(
                f"the LRS at {self.client.url} redirects{to} ({status}); give the final address with --lrs",
                self.report,
            )
        return LrsError(f"the LRS at {self.client.url} answered {status}: {self.reason(answer)}", self.report)

    def send(self, items: Sequence[Item]) -> None:
        """Send one batch of (attempt id, statement); record what the LRS confirmed."""
        if not items:
            return
        answer = self._call("POST", self.client.endpoint, [s for _, s in items])
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
                self.report.rejected.append((items[0][1]["id"], f"{status} {self.reason(answer)}"))
        else:
            raise self._fatal(answer)


def recorded_so_far(report: LrsReport) -> str:
    """The end of a message that stops sending: what was recorded as confirmed before."""
    recorded = report.sent + report.already
    if not recorded:
        return "nothing was marked as sent"
    return (
        f"the {recorded} statement{'s' if recorded != 1 else ''} the LRS confirmed before "
        "were recorded; run again to send the rest"
    )


def send_to_lrs(
    store: RecordsStore,
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

    ``config`` is the ``Config`` (``config.lrs``: batch, timeout, retries, proxy;
    ``config.academy``: homePage and IRIs). ``user`` None sends no credentials (an open LRS).
    Returns the report, also when statements were rejected (check ``report.ok``); raises
    ``LrsError`` (one line, ``.report`` set) when sending had to stop, and ``StoreError`` for a
    records problem."""
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
    proxy = getattr(settings, "proxy", None)
    if proxy:
        proxy = _check_proxy(proxy, lrs, user is not None)
    report = LrsReport(lrs)
    client = _Client(lrs, user, password, settings.timeout, proxy)
    sender = _Sender(store, client, report, settings.retries, sleep)
    batch_size = max(1, int(settings.batch))
    # Read through a second connection holding one snapshot, so the statements come from one
    # consistent state of the file while this connection records what the LRS confirmed.
    reader = store.reopen()  # the store was just checked
    pending: list[Item] = []

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
            after = f"after {exc.tries} tr{'ies' if exc.tries != 1 else 'y'}"
            what = f"the LRS at {lrs} kept failing" if exc.answered else f"cannot reach the LRS at {lrs}"
            raise LrsError(f"{what} ({exc}) {after}; {recorded_so_far(report)}", report) from None

    try:
        with snapshot(reader):
            for attempt, statement in iter_statements(
                reader,
                filters,
                config.academy,
                include_incomplete=include_incomplete,
                typed_text=config.freetext.send_typed_text,
            ):
                pending.append((attempt.id, statement))
                if len(pending) >= batch_size:
                    flush()
            flush()
    except LrsError as exc:
        if exc.report is None:
            exc.report = report
        # The last line of defence for "never printed": whatever the message quotes.
        exc.args = (client.secrets.hide(str(exc)),)
        raise
    finally:
        reader.close()
        report.rejected = [(sid, client.secrets.hide(reason)) for sid, reason in report.rejected]
    return report


__all__ = ["ANSWER_BYTES", "LrsError", "LrsReport", "lrs_reason", "send_to_lrs"]
