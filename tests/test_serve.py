"""``crisis-sim serve`` (issue 17 item 1), from where a browser starts: a real ``crisis-sim serve``
process on 127.0.0.1, and aiohttp's client (textual-serve's own dependency) doing what a browser
does: load the page, open the websocket with its Origin, read the terminal the app draws. The
academy's reverse proxy is played by the header the test sets.

Nothing here measures time: waits are bounded (a hang fails), never asserted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from records_factory import play
from scenario_factory import SAMPLE_BEST

aiohttp = pytest.importorskip("aiohttp", reason="serve needs the [serve] extra (textual-serve, aiohttp)")
pytest.importorskip("textual_serve", reason="serve needs the [serve] extra (textual-serve)")
pyte = pytest.importorskip("pyte", reason="the test extra's terminal emulator")

from simulator.records import open_store  # noqa: E402

HEADER = "X-Remote-User"
WIDTH, HEIGHT = 150, 36
"""The browser's terminal: wide enough that the library's status column is not cut."""


@dataclass
class Served:
    process: subprocess.Popen
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_serve(tmp_path: Path, db: Path, *options: str) -> Served:
    """``crisis-sim serve --port 0 ...`` as its own process; returns once it is listening."""
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    env = {**os.environ, "CRISIS_SIM_DB": str(db)}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *options],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    for _ in range(300):
        found = re.search(r"serving the app at (\S+) ", log.read_text(errors="replace"))
        if found:
            return Served(process, found.group(1), log)
        if process.poll() is not None:
            raise AssertionError(f"serve ended: {log.read_text(errors='replace')}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"serve did not start: {log.read_text(errors='replace')}")


def stop_serve(served: Served) -> int:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
    try:
        return served.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        served.process.kill()
        raise


def app_processes(server_pid: int) -> list[int]:
    """Every app process this server started that is still alive (found in /proc by the server
    pid in its environment, so other servers' and other tests' processes are not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"CRISIS_SIM_SERVE_PARENT={server_pid}".encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


class Browser:
    """A browser tab: the page, then the websocket, keys typed into it, the screen read back."""

    def __init__(self, url: str, trainee: str | None, origin: str | None = "same"):
        self.url, self.trainee = url, trainee
        self.origin = url if origin == "same" else origin
        self.data = b""
        self.closed = False
        self.screen = pyte.Screen(WIDTH, HEIGHT)
        self.stream = pyte.ByteStream(self.screen)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def headers(self, websocket: bool = False) -> dict[str, str]:
        headers = {HEADER: self.trainee} if self.trainee is not None else {}
        if websocket and self.origin is not None:
            headers["Origin"] = self.origin
        return headers

    async def page(self, session) -> tuple[int, str, dict[str, str]]:
        async with session.get(self.url + "/", headers=self.headers()) as response:
            return response.status, await response.text(), dict(response.headers)

    async def open(self, session):
        self.ws = await session.ws_connect(self.url + f"/ws?width={WIDTH}&height={HEIGHT}", headers=self.headers(True))
        await self.ws.send_str(json.dumps(["resize", {"width": WIDTH, "height": HEIGHT}]))
        return self

    async def read_until(self, text: str, seconds: float = 60.0) -> str:
        deadline = time.monotonic() + seconds
        while text not in self.text() and not self.closed and time.monotonic() < deadline:
            try:
                # asyncio's timeout, not receive()'s: aiohttp restarts that one at every heartbeat ping
                message = await asyncio.wait_for(self.ws.receive(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if message.type == aiohttp.WSMsgType.BINARY:
                self.data += message.data
                self.stream.feed(message.data)  # fed once: the screen is kept, not rebuilt per message
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                self.closed = True
        return self.text()

    async def type(self, keys: str) -> None:
        await self.ws.send_str(json.dumps(["stdin", keys]))


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 180))


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """The class's records: recruit-042 (Dana Reyes) passed the sample and left a second attempt
    unfinished; recruit-043 has played nothing."""
    db = tmp_path_factory.mktemp("serve") / "records.sqlite3"
    with open_store(db) as store:
        store.ensure_trainee("recruit-042", "Dana Reyes")
        play(store, "recruit-042", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
        play(store, "recruit-042", SAMPLE_BEST[:2], started_at="2026-03-02T09:00:00.000Z", finish=False)
    return db


@pytest.fixture(scope="module")
def served(records, tmp_path_factory) -> Iterator[Served]:
    server = start_serve(tmp_path_factory.mktemp("log"), records)
    yield server
    assert stop_serve(server) == 0
    assert app_processes(server.process.pid) == []


def test_a_browser_sees_the_headers_trainee_signed_in_with_their_own_records(served, records):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            tab = Browser(served.url, "recruit-042")
            status, page, headers = await tab.page(session)
            assert status == 200
            assert "crisis-sim: recruit-042" in page
            csp = headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "connect-src 'self' ws://" in csp and "unsafe-inline" not in \
                csp.split("script-src", 1)[1].split(";", 1)[0]
            # nothing fetched from outside: every address in the page is this server's (no Google font)
            addresses = re.findall(r'(?:(?<![-\w])(?:src|href)=|url\()"([^"]+)"', page)
            assert addresses and all(a.startswith(served.url) for a in addresses), addresses
            assert "googleapis" not in page and "<script>" not in page and "onClick" not in page
            for address in addresses:
                async with session.get(address) as response:
                    assert response.status == 200, address
            assert f'data-session-websocket-url="ws://{served.url.split("://")[1]}/ws"' in page

            await tab.open(session)
            screen = await tab.read_until("Resume")
            assert "Resume" in screen  # the unfinished attempt of this trainee is offered, no sign-in form
            assert "Sign in" not in screen
            await tab.type("\x1b")  # not now: to the library
            screen = await tab.read_until("signed in as Dana Reyes (recruit-042)")
            assert "signed in as Dana Reyes (recruit-042)" in screen
            assert re.search(r"overpass rail\S*\s+passed", screen), screen  # this trainee's own progress
            await tab.ws.close()

            other = await Browser(served.url, "recruit-043").open(session)
            screen = await other.read_until("signed in as recruit-043")
            assert "signed in as recruit-043" in screen and "Resume" not in screen
            assert re.search(r"overpass rail\S*\s+not start", screen), screen
            await other.ws.close()

    run(scenario())
    assert wait_for(lambda: app_processes(served.process.pid) == [])  # both tabs closed: both apps gone
    with open_store(records) as store:
        assert store.display_name("recruit-043") == "recruit-043"  # the header's trainee, recorded
    assert not (Path(os.environ["XDG_STATE_HOME"]) / "crisis-sim" / "last-trainee.json").exists()


def test_a_class_on_either_records_store_plays_into_it(records_target, tmp_path):
    """Serve on SQLite and on PostgreSQL (``--db postgresql://...``): the tab shows the trainee's
    progress from that store, and what the trainee does there is recorded there."""
    with records_target.open() as store:
        store.ensure_trainee("recruit-050", "Sam Ortiz")
        play(store, "recruit-050", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
    server = start_serve(tmp_path, records_target.db)
    try:
        async def scenario():
            async with aiohttp.ClientSession() as session:
                tab = await Browser(server.url, "recruit-050").open(session)
                screen = await tab.read_until("signed in as Sam Ortiz (recruit-050)", 20)
                assert "signed in as Sam Ortiz (recruit-050)" in screen, screen
                screen = await tab.read_until("passed", 20)
                assert re.search(r"overpass rail\S*\s+passed", screen), screen
                await tab.ws.close()
                other = await Browser(server.url, "recruit-051").open(session)
                await other.read_until("signed in as recruit-051")
                await other.ws.close()

        run(scenario())
    finally:
        assert stop_serve(server) == 0
    with records_target.open() as store:
        assert store.display_name("recruit-051") == "recruit-051"


@pytest.mark.parametrize(("trainee", "origin", "status", "says"), [
    (None, "same", 401, "Not signed in"),
    ("", "same", 401, "Not signed in"),
    ("bad id!", "same", 403, "Not a trainee id"),
    ("../../etc", "same", 403, "Not a trainee id"),
    ("recruit-042", "https://evil.example", 403, "Sessions open only from this site"),
    ("recruit-042", None, 403, "A browser page of this site opens sessions"),
])
def test_refused_without_the_header_with_a_bad_id_or_from_another_origin(served, trainee, origin, status, says):
    """Refused before any app process starts: the page, and the websocket."""

    async def scenario():
        async with aiohttp.ClientSession() as session:
            tab = Browser(served.url, trainee, origin)
            if origin in ("same", None):
                page_status, _page, _ = await tab.page(session)
                assert page_status == (status if trainee != "recruit-042" else 200)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await tab.open(session)
            assert refused.value.status == status
            async with session.get(served.url + "/ws", headers=tab.headers(True)) as response:
                assert response.status == status and says in await response.text()

    run(scenario())
    assert app_processes(served.process.pid) == []


def test_a_page_request_from_another_site_and_a_repeated_identity_are_refused(served):
    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.get(served.url + "/", headers={HEADER: "recruit-042", "Origin": "http://evil.example"}
                                   ) as response:
                assert response.status == 403
            from multidict import CIMultiDict

            headers = CIMultiDict([(HEADER, "recruit-042"), (HEADER, "recruit-043")])
            async with session.get(served.url + "/", headers=headers) as response:
                assert response.status == 401  # a proxy that appends instead of replacing: no identity

    run(scenario())


def test_the_public_url_gives_wss_and_its_own_origin(tmp_path, records):
    server = start_serve(tmp_path, records, "--public-url", "https://sim.academy.example/crisis")
    try:
        async def scenario():
            async with aiohttp.ClientSession() as session:
                local = server.log_text().split("listening on ", 1)[1].split(";", 1)[0]
                tab = Browser(f"http://{local}", "recruit-042", origin="https://sim.academy.example")
                status, page, _ = await tab.page(session)
                assert status == 200
                assert 'data-session-websocket-url="wss://sim.academy.example/crisis/ws"' in page
                assert 'href="https://sim.academy.example/crisis/static/css/xterm.css"' in page
                await tab.open(session)
                assert "Resume" in await tab.read_until("Resume")  # recruit-042's unfinished attempt: signed in
                await tab.ws.close()
                with pytest.raises(aiohttp.WSServerHandshakeError):
                    await Browser(f"http://{local}", "recruit-042", origin=f"http://{local}").open(session)

        run(scenario())
    finally:
        assert stop_serve(server) == 0


def test_the_library_is_validated_once_by_the_server_and_every_tab_reads_it_from_the_cache(tmp_path, records):
    """A class opening at once must not validate the library in every app process: serve fills
    the validated-library cache before it listens, and the tabs read it. Shown by editing a
    cached title: the tabs show the edited one, so they read the cache, and nothing in it is
    written again (no tab missed)."""
    server = start_serve(tmp_path, records)
    try:
        cached = sorted((Path(os.environ["XDG_CACHE_HOME"]) / "crisis-sim" / "library").glob("*/*.json"))
        assert len(cached) >= 10, cached  # the bundled library, validated before the first tab
        for entry in cached:
            data = json.loads(entry.read_text())
            if data["info"]["id"] == "overpass-railing":
                data["info"]["title"] = "Railing, as the cache has it"
                entry.write_text(json.dumps(data))
        written = {entry: entry.stat().st_mtime_ns for entry in cached}

        async def scenario():
            async with aiohttp.ClientSession() as session:
                tabs = [await Browser(server.url, f"t-{n}").open(session) for n in range(3)]
                for n, tab in enumerate(tabs):
                    await tab.read_until(f"signed in as t-{n}")
                    screen = await tab.read_until("Railing, as the cache has it")
                    assert "Railing, as the cache has it" in screen and f"signed in as t-{n}" in screen, screen
                    await tab.ws.close()

        run(scenario())
        now = sorted((Path(os.environ["XDG_CACHE_HOME"]) / "crisis-sim" / "library").glob("*/*.json"))
        assert {entry: entry.stat().st_mtime_ns for entry in now} == written
    finally:
        assert stop_serve(server) == 0


def test_the_class_is_full_past_max_sessions_and_one_trainee_cannot_take_every_place(tmp_path, records):
    server = start_serve(tmp_path, records, "--max-sessions", "2", "--max-per-trainee", "1")
    try:
        async def scenario():
            async with aiohttp.ClientSession() as session:
                first = await Browser(server.url, "t-1").open(session)
                await first.read_until("signed in as t-1")
                with pytest.raises(aiohttp.WSServerHandshakeError) as again:  # a second tab of t-1
                    await Browser(server.url, "t-1").open(session)
                assert again.value.status == 429
                status, page, _ = await Browser(server.url, "t-1").page(session)
                assert status == 429 and "Already open" in page
                second = await Browser(server.url, "t-2").open(session)
                await second.read_until("signed in as t-2")
                status, page, _ = await Browser(server.url, "t-3").page(session)
                assert status == 503 and "The class is full" in page and "All 2 places are taken" in page
                with pytest.raises(aiohttp.WSServerHandshakeError) as full:
                    await Browser(server.url, "t-3").open(session)
                assert full.value.status == 503
                assert len(app_processes(server.process.pid)) == 2
                await first.ws.close()
                assert wait_for(lambda: len(app_processes(server.process.pid)) == 1)
                third = await Browser(server.url, "t-3").open(session)  # a place is free again
                assert "signed in as t-3" in await third.read_until("signed in as t-3")

        run(scenario())
    finally:
        assert stop_serve(server) == 0
    assert app_processes(server.process.pid) == []


def test_an_idle_session_is_ended_with_a_word_and_its_process_is_gone(tmp_path, records):
    server = start_serve(tmp_path, records, "--idle-timeout", "0.05")  # 3 seconds
    try:
        async def scenario():
            async with aiohttp.ClientSession() as session:
                tab = await Browser(server.url, "recruit-043").open(session)
                await tab.read_until("signed in as")
                assert len(app_processes(server.process.pid)) == 1
                screen = await tab.read_until("without input", 60)
                assert "Session closed after 3 second(s) without input. Your progress is saved" in screen
                await tab.read_until("never shown", 30)  # then the server closes the websocket
                assert tab.closed

        run(scenario())
        assert wait_for(lambda: app_processes(server.process.pid) == [])
        assert "ended (Session closed after 3 second(s)" in server.log_text()
    finally:
        assert stop_serve(server) == 0


@pytest.mark.parametrize("how", ["tab closed", "server stopped", "server killed"])
def test_no_app_process_outlives_its_tab_or_the_server(tmp_path, records, how):
    """Each app runs in a process group of its own: closing the tab ends it; SIGTERM to the
    server ends every one; SIGKILL to the server (no clean-up at all) still ends every one."""
    server = start_serve(tmp_path, records)
    pid = server.process.pid
    try:
        async def scenario():
            async with aiohttp.ClientSession() as session:
                tabs = [await Browser(server.url, f"t-{n}").open(session) for n in range(3)]
                for n, tab in enumerate(tabs):
                    await tab.read_until(f"signed in as t-{n}")
                assert len(app_processes(pid)) == 3
                if how == "tab closed":
                    for tab in tabs:
                        await tab.ws.close()
                    assert wait_for(lambda: app_processes(pid) == [])
                elif how == "server stopped":
                    server.process.send_signal(signal.SIGTERM)
                    assert await asyncio.to_thread(server.process.wait, 60) == 0
                else:
                    server.process.kill()
                    await asyncio.to_thread(server.process.wait, 60)

        run(scenario())
        assert wait_for(lambda: app_processes(pid) == []), app_processes(pid)
    finally:
        with contextlib.suppress(Exception):
            stop_serve(server)


def test_an_app_ends_when_its_servers_pipe_closes(tmp_path, records):
    """The app process alone (as the server starts it): Textual's web driver kept the app
    running after its input ended; ours ends it."""
    env = {**os.environ, "CRISIS_SIM_DB": str(records), "CRISIS_SIM_SERVE_TRAINEE": "recruit-043",
           "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver", "COLUMNS": "100", "ROWS": "30"}
    process = subprocess.Popen([sys.executable, "-m", "simulator.serve.session"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert process.stdout.readline() == b"__GANGLION__\n"
        process.stdout.read(4096)  # it draws
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(("args", "says"), [
    (["--host", "0.0.0.0"], "must be reachable through that proxy only"),
    (["--host", "192.168.1.20"], "listen on 127.0.0.1"),
    (["--public-url", "ftp://sim.example"], "give the address browsers use"),
    (["--public-url", "https://user:pw@sim.example"], "no user, password, query or fragment"),
    (["--trainee-header", "X Remote User"], "is not an HTTP header name"),
])
def test_settings_serve_cannot_run_with_are_one_line(args, says):
    from cli_runner import run_cli

    code, _, err = run_cli(["serve", *args])
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line(tmp_path, records, served):
    port = served.url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "serve", "--port", port], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "CRISIS_SIM_DB": str(records)})
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "choose another --port" in done.stderr
    assert "Traceback" not in done.stderr
