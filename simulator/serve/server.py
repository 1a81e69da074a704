"""The classroom web server: textual-serve's app service behind the checks a class needs.

One browser tab is one session: the page (``/``), then a websocket (``/ws``) that starts one app
process (``simulator.serve.session``) through textual-serve's ``AppService`` and relays its
terminal. Around that (``docs/classroom.md``, ``docs/security.md`` section 10):

- **Where it listens.** Only on this machine (127.0.0.0/8, ``::1``, ``localhost``): the
  academy's HTTPS reverse proxy is the only way in, and it alone sets the identity header.
  Requests from any other peer are refused too.
- **Who is playing.** The trainee id comes from one header the proxy sets (``X-Remote-User``
  by default), checked with the rule every trainee id follows; missing, repeated or invalid, the
  request is refused before any app starts. The app is signed in as that trainee.
- **Where the request comes from.** A request carrying an ``Origin`` other than the public
  URL's is refused (another site's page cannot open a session with the trainee's cookies), and
  the websocket needs the public URL's ``Origin``.
- **How many.** At most ``max_sessions`` app processes, and ``max_per_trainee`` for one trainee:
  past that, a "class is full" page, and no process is started.
- **Idle sessions** end after ``idle_timeout`` seconds without a key or click (the progress is
  already recorded; reloading resumes).
- **Nothing outlives its tab or the server.** Each app runs in its own process group, ended
  (quit, then SIGTERM, then SIGKILL) when its websocket closes, when the server stops, and by
  the app itself when the server's pipe closes or the server dies (``session``).
- **Nothing fetched from outside.** The page is ours (textual-serve's loads a Google font): the
  font comes from textual-serve's own static folder, scripts from this server only, under a
  Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from simulator.config import TRAINEE_ID_HELP, is_trainee_id
from simulator.serve import PARENT_ENV, TRAINEE_ENV

log = logging.getLogger("crisis-sim.serve")

DEFAULT_HEADER = "X-Remote-User"
STOP_GRACE_S = 3.0
"""How long an app has to quit, then to answer SIGTERM, before the next step."""
MAX_MESSAGE_BYTES = 64 * 1024
"""The largest websocket message from a browser (a paste is split by the terminal into less)."""
HEARTBEAT_S = 15.0
HERE = Path(__file__).resolve().parent
TEXTUAL_SERVE_STATIC = Path(textual_serve.__file__).resolve().parent / "static"
FONT = "fonts/RobotoMono-VariableFont_wght.ttf"
_TOKEN = re.compile(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


class ServeError(Exception):
    """A setting serve cannot run with; the message is one line."""


def check_host(host: str) -> str:
    """``host`` if it is an address of this machine only; ServeError otherwise."""
    if host.lower() == "localhost":
        return host
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ServeError(
            f"--host {host}: serve takes the trainee from a header the academy's reverse proxy sets, so it must be "
            "reachable through that proxy only: listen on 127.0.0.1 (or ::1) and let the proxy face the network "
            "(docs/classroom.md)"
        )
    return host


def check_public_url(url: str) -> str:
    """The address browsers use, without a trailing ``/``; ServeError when it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServeError(f"--public-url {url}: give the address browsers use, e.g. https://sim.academy.example")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ServeError(f"--public-url {url}: no user, password, query or fragment, only https://HOST[:PORT][/PATH]")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise ServeError(f"--public-url {url}: the port is not a number from 1 to 65535") from None
    return url.rstrip("/")


def check_header(name: str) -> str:
    if not _TOKEN.match(name):
        raise ServeError(f"--trainee-header {name!a} is not an HTTP header name (letters, digits and '-')")
    return name


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL as browsers send it in ``Origin`` (default port left out)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    shown_port = "" if port is None or port == default else f":{port}"
    return f"{parts.scheme.lower()}://{host}{shown_port}"


def websocket_url(public_url: str) -> str:
    """The websocket address for a public URL: ``wss://`` only when it starts with https."""
    scheme, rest = public_url.split(":", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}:{rest}/ws"


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    """0: any free port (the address is printed when listening)."""
    public_url: str | None = None
    """The address browsers use (the proxy's); default ``http://HOST:PORT``."""
    trainee_header: str = DEFAULT_HEADER
    max_sessions: int = 40
    max_per_trainee: int = 2
    idle_timeout: float = 30 * 60.0
    """Seconds without input before a session is ended."""
    environment: dict[str, str] = field(default_factory=dict)
    """Extra environment for every app process (``CRISIS_SIM_DB`` for ``--db``...)."""


@dataclass(eq=False)
class Session:
    """One browser tab and its app process."""

    trainee: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: float = field(default_factory=time.monotonic)
    last_input: float = field(default_factory=time.monotonic)
    websocket: web.WebSocketResponse | None = None
    service: ClassroomService | None = None
    goodbye: str | None = None
    """Said in the terminal before the websocket closes (why the session ended)."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class ClassroomService(AppService):
    """textual-serve's ``AppService``, running our app process in its own process group (exec,
    no shell), with the signed-in trainee in its environment, and closing the browser's
    websocket when the process ends for any reason (textual-serve's leaves it open when the
    app dies without saying goodbye)."""

    def __init__(self, argv: list[str], environment: dict[str, str], **options: Any) -> None:
        super().__init__(" ".join(argv), download_manager=DownloadManager(), **options)
        self.argv = argv
        self.environment = environment

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return {**super()._build_environment(width, height), **self.environment}

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width, height),
            start_new_session=True,  # its own process group: ended as a whole
        )
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            with contextlib.suppress(Exception):
                await self.remote_close()

    async def stop(self) -> None:
        """Ask the app to quit; then SIGTERM, then SIGKILL to its whole process group. Waits
        until the process is gone (never longer than about three grace periods)."""
        process = self._process
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(Exception):
                    await self.send_meta({"type": "quit"})
            for step in (None, signal.SIGTERM, signal.SIGKILL):
                if step is not None:
                    _signal_group(process.pid, step)
                try:
                    await asyncio.wait_for(process.wait(), STOP_GRACE_S)
                    break
                except TimeoutError:
                    continue
            _signal_group(process.pid, signal.SIGKILL)  # anything it started, too
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, STOP_GRACE_S)
            self._task = None


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


class ClassroomServer:
    """The web server of ``crisis-sim serve``. ``start()`` listens and returns the public URL,
    ``stop()`` ends every session and closes; ``run()`` does both around SIGINT/SIGTERM."""

    def __init__(self, settings: ServeSettings, *, argv: list[str] | None = None) -> None:
        self.settings = settings
        self.argv = argv or [sys.executable, "-m", "simulator.serve.session"]
        self.sessions: dict[str, Session] = {}
        self.public_url = settings.public_url or ""
        self.origin = ""
        self.port = settings.port
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None

    # ---- the web application ----

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws", self.handle_websocket),
            web.static("/static", TEXTUAL_SERVE_STATIC, show_index=False),
            web.static("/crisis-sim", HERE / "static", show_index=False),
        ])
        app.on_shutdown.append(self._on_shutdown)
        return app

    def _page(self, request: web.Request, status: int, title: str, message: str, **extra: Any) -> web.Response:
        """A short HTML page saying why (refused, not signed in, the class is full)."""
        values = {"title": title, "message": message, "ours": f"{self.public_url}/crisis-sim/", **extra}
        response = aiohttp_jinja2.render_template("message.html", request, values, status=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        """Peer, Origin and identity, before anything else runs."""
        if not _loopback(request.remote):
            return self._page(request, 403, "Refused", "This server is reached through the academy's sign-in only.")
        origins = request.headers.getall("Origin", [])
        if request.path == "/ws" and len(origins) != 1:
            return self._page(request, 403, "Refused", "A browser page of this site opens sessions; nothing else may.")
        if any(origin_of(o) != self.origin for o in origins):
            log.warning("refused a request from another site (Origin %s)", ascii(origins[0])[:80])
            return self._page(request, 403, "Refused", "Sessions open only from this site's own page.")
        if request.path in ("/", "/ws"):
            values = request.headers.getall(self.settings.trainee_header, [])
            if len(values) != 1 or not values[0]:
                return self._page(request, 401, "Not signed in", "Open crisis-sim through the academy's sign-in page.",
                                  public_url=self.public_url)
            if not is_trainee_id(values[0]):
                log.warning("refused a trainee id that is not one: %s", ascii(values[0])[:80])
                return self._page(request, 403, "Not a trainee id", f"The sign-in gave an id crisis-sim cannot use "
                                  f"({TRAINEE_ID_HELP}); ask the academy's administrator.")
            request["trainee"] = values[0]
        response = await handler(request)
        if not isinstance(response, web.WebSocketResponse) and not response.prepared:
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    def _full(self, request: web.Request, trainee: str) -> web.Response | None:
        """The "class is full" page when no session may start for ``trainee``, else None."""
        live = len(self.sessions)
        if live >= self.settings.max_sessions:
            return self._page(request, 503, "The class is full",
                              f"All {self.settings.max_sessions} places are taken. Try again in a few minutes, or "
                              "ask your instructor.", retry=True)
        own = sum(1 for s in self.sessions.values() if s.trainee == trainee)
        if own >= self.settings.max_per_trainee:
            return self._page(request, 429, "Already open",
                              f"You already have {own} crisis-sim tab(s) open. Close one, then reload this page.",
                              retry=True)
        return None

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        trainee = request["trainee"]
        full = self._full(request, trainee)
        if full is not None:
            return full
        font_size = _bounded(request.query.get("fontsize"), 16, 8, 40)
        ws_url = websocket_url(self.public_url)
        response = aiohttp_jinja2.render_template("index.html", request, {
            "trainee": trainee,
            "websocket_url": ws_url,
            "static": f"{self.public_url}/static/",
            "ours": f"{self.public_url}/crisis-sim/",
            "font": f"{self.public_url}/static/{FONT}",
            "font_size": font_size,
        })
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; "
            f"img-src 'self' data:; connect-src 'self' {ws_url}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        trainee = request["trainee"]
        full = self._full(request, trainee)
        if full is not None:
            return full
        session = Session(trainee)
        self.sessions[session.id] = session  # reserved before the first await: the cap holds
        websocket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES)
        session.websocket = websocket
        try:
            await websocket.prepare(request)
            width = _bounded(request.query.get("width"), 80, 20, 500)
            height = _bounded(request.query.get("height"), 24, 10, 300)
            environment = {**self.settings.environment, TRAINEE_ENV: trainee, PARENT_ENV: str(os.getpid())}
            session.service = ClassroomService(
                self.argv, environment, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                close=lambda: self._close(session),
            )
            await session.service.start(width, height)
            log.info("session %s started for %s (pid %s; %d of %d places taken)", session.id, trainee,
                     session.service.pid, len(self.sessions), self.settings.max_sessions)
            await self._relay(session)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        except Exception:  # one broken session never takes the server down
            log.exception("session %s failed", session.id)
        finally:
            await asyncio.shield(self._end(session, "the tab was closed"))
        return websocket

    async def _relay(self, session: Session) -> None:
        """Browser to app: keys and pastes (``stdin``), size, focus; anything else is ignored."""
        websocket, service = session.websocket, session.service
        assert websocket is not None and service is not None
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                session.last_input = time.monotonic()
                await service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await service.set_terminal_size(_bounded(data.get("width"), 80, 20, 500),
                                                _bounded(data.get("height"), 24, 10, 300))
            elif kind == "ping" and isinstance(data, str) and len(data) < 64:
                await websocket.send_json(["pong", data])
            elif kind == "focus":
                await service.focus()
            elif kind == "blur":
                await service.blur()

    async def _close(self, session: Session) -> None:
        """Close the tab's websocket, saying first why the session ended when the server ended it."""
        websocket = session.websocket
        if websocket is None or websocket.closed:
            return
        with contextlib.suppress(Exception):
            if session.goodbye:
                await websocket.send_bytes(f"\x1b[0m\x1b[2J\x1b[H\r\n  {session.goodbye}\r\n".encode())
            await websocket.close()

    async def _end(self, session: Session, why: str) -> None:
        """Stop the app (its whole process group), close the websocket, free the place."""
        if session.ended.is_set():
            return
        session.ended.set()
        try:
            if session.service is not None:
                await session.service.stop()
            await self._close(session)
        finally:
            self.sessions.pop(session.id, None)
            log.info("session %s of %s ended (%s)", session.id, session.trainee, session.goodbye or why)

    async def _watch_idle(self) -> None:
        """End sessions without input for ``idle_timeout`` seconds."""
        idle = self.settings.idle_timeout
        while True:
            await asyncio.sleep(min(5.0, max(idle / 4, 0.05)))
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if now - session.last_input >= idle and not session.ended.is_set():
                    minutes = idle / 60
                    shown = f"{minutes:g} minute(s)" if minutes >= 1 else f"{idle:g} second(s)"
                    session.goodbye = (f"Session closed after {shown} without input. Your progress is saved: "
                                       "reload the page to continue.")
                    asyncio.create_task(self._end(session, "idle"))  # noqa: RUF006 - _end removes it when done

    async def _on_shutdown(self, app: web.Application) -> None:
        for session in list(self.sessions.values()):
            session.goodbye = "The classroom server stopped. Your progress is saved."
        await asyncio.gather(*(self._end(s, "the server stopped") for s in list(self.sessions.values())),
                             return_exceptions=True)

    # ---- running ----

    async def start(self) -> str:
        """Listen; returns the public URL (set from the port bound when none was given)."""
        settings = self.settings
        check_host(settings.host)
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None,
                                     shutdown_timeout=STOP_GRACE_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ServeError(f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}); choose "
                             "another --port") from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else settings.port
        if not settings.public_url:
            host = f"[{settings.host}]" if ":" in settings.host else settings.host
            self.public_url = f"http://{host}:{self.port}"
        self.origin = origin_of(self.public_url)
        self._watchdog = asyncio.create_task(self._watch_idle())
        return self.public_url

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._runner is not None:
            await self._runner.cleanup()  # runs _on_shutdown: every session ended

    def run(self, ready: Callable[[str], None]) -> None:
        """Serve until SIGINT or SIGTERM; ``ready`` is told the public URL once listening."""

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(signum, stopping.set)
            ready(await self.start())
            try:
                await stopping.wait()
            finally:
                await self.stop()

        asyncio.run(main())


def _loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _bounded(value: Any, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)
