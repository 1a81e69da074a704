"""End to end against a real LRS: Ralph (``ralph-malph[lrs,cli]``) on 127.0.0.1 with its
file-system backend and a credentials file made by ``ralph auth``, driven through
``crisis-sim export --format xapi --lrs``.

Ralph 5.x's file-system backend stores statements from one write only: a later POST with new
statements fails with a 500 ("fs_lrs.jsonl already exists and overwrite is not allowed"), while
a POST of statements it already has is answered 204 without writing. So the first send here
goes in one request (``[lrs] batch`` above the statement count), and every later send only
re-sends what Ralph already holds, which is exactly what is being checked.

Skipped only when Ralph is not installed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from records_factory import passed_failed_running
from scenario_factory import REPO

from simulator.config import Config, load_config
from simulator.export import ExportFilter
from simulator.export.lrs import send_to_lrs
from simulator.records import Store

BIN = Path(sys.executable).parent
RALPH = shutil.which("ralph", path=str(BIN)) or shutil.which("ralph")
pytestmark = pytest.mark.skipif(RALPH is None, reason="Ralph is not installed (pip install 'ralph-malph[lrs,cli]')")

USER, PASSWORD = "academy-sender", "Ralph-test-pw-7"
HOMEPAGE, BASE_IRI = "https://academy.example", "https://academy.example/xapi"
LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
PROXIES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Ralph:
    url: str  # the xAPI base, e.g. http://127.0.0.1:PORT/xAPI
    root: str  # http://127.0.0.1:PORT
    log: Path

    def get(self, target: str, password: str = PASSWORD) -> Any:
        token = base64.b64encode(f"{USER}:{password}".encode()).decode()
        request = urllib.request.Request(
            urljoin(self.root, target),
            headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def statements(self) -> list[dict[str, Any]]:
        """Every statement Ralph holds, following ``more`` links."""
        found: list[dict[str, Any]] = []
        target = "/xAPI/statements?limit=10"  # small pages, so the ``more`` links are followed
        while target:
            page = self.get(target)
            found += page["statements"]
            target = page.get("more") or ""
        return found


def ralph_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXIES and not k.startswith("RALPH_")}
    env.update(LOOPBACK)
    env.update(
        RALPH_APP_DIR=str(folder / "app"),
        RALPH_AUTH_FILE=str(folder / "auth.json"),
        RALPH_RUNSERVER_BACKEND="fs",
        RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(folder / "data"),
    )
    return env


@pytest.fixture(scope="module")
def ralph(tmp_path_factory) -> Iterator[Ralph]:
    assert RALPH is not None
    folder = tmp_path_factory.mktemp("ralph")
    for sub in ("app", "data", "cwd"):
        (folder / sub).mkdir()
    env = ralph_env(folder)
    # The credentials file, written by Ralph itself; the password goes in on stdin (prompt and
    # confirmation), never on a command line.
    made = subprocess.run(
        [
            RALPH,
            "auth",
            "--username",
            USER,
            "--scope",
            "statements/write",
            "--scope",
            "statements/read",
            "--agent-ifi-account",
            USER,
            HOMEPAGE,
            "--write-to-disk",
        ],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert USER in (folder / "auth.json").read_text() and PASSWORD not in (folder / "auth.json").read_text()

    port = free_port()
    log = folder / "ralph.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [
                RALPH,
                "runserver",
                "--backend",
                "fs",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--fs-default-directory-path",
                str(folder / "data"),
            ],
            cwd=folder / "cwd",  # runserver reloads on changes under its working folder: keep it empty
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lrs = Ralph(f"http://127.0.0.1:{port}/xAPI", f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 45
        while True:
            if server.poll() is not None:
                pytest.fail(f"Ralph stopped (exit {server.returncode}):\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, ValueError):
                if lrs.get("/__heartbeat__") is not None:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"Ralph did not answer on port {port}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield lrs
    finally:
        # Ralph's runserver is a reloader with a worker child: stop the whole group we started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A records file (two completed attempts, one in progress) and a config file."""
    folder = tmp_path_factory.mktemp("academy")
    db = folder / "records.sqlite3"
    with Store.open(db) as store:
        a, b, c = passed_failed_running(store)
    config = folder / "config.toml"
    config.write_text(
        f'[academy]\nhomepage = "{HOMEPAGE}"\nbase_iri = "{BASE_IRI}"\n\n'
        "[lrs]\nbatch = 500\ntimeout = 10\nretries = 1\n",
        encoding="utf-8",
    )
    return db, config, [a.attempt_id, b.attempt_id, c.attempt_id]


def crisis_sim(config: Path, *args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXIES}
    env.update(LOOPBACK, CRISIS_SIM_CONFIG=str(config), NO_COLOR="1")
    env.pop("CRISIS_SIM_LRS_PASSWORD", None)
    if password is not None:
        env["CRISIS_SIM_LRS_PASSWORD"] = password
    out = subprocess.run(
        [sys.executable, "-c", "from simulator.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    return out


def sent_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT statement_id, outcome FROM lrs_sent ORDER BY statement_id").fetchall()


def comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """The fields a statement keeps in an LRS (it adds ``stored``, ``authority``, ``version``)."""
    return {k: statement.get(k) for k in ("id", "actor", "verb", "object", "result", "context", "timestamp")}


def test_statements_reach_ralph_once_and_a_wrong_password_is_one_line(ralph, setup, tmp_path):
    db, config, (passed_id, failed_id, running_id) = setup
    send = ("export", "--format", "xapi", "--db", str(db), "--lrs", ralph.url, "--lrs-user", USER)

    # A wrong password: one line, exit 1, nothing recorded, the password never shown.
    wrong = crisis_sim(config, *send, password="not-the-password")
    assert wrong.returncode == 1
    assert wrong.stdout == ""
    assert wrong.stderr == (
        "crisis-sim: error: the LRS refused the credentials (401): check --lrs-user and CRISIS_SIM_LRS_PASSWORD\n"
    )
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    assert sent_rows(db) == []

    # What the file export says is exactly what the LRS must end up holding.
    exported_file = tmp_path / "statements.json"
    written = crisis_sim(config, "export", "--format", "xapi", "--db", str(db), "--out", str(exported_file))
    assert written.returncode == 0, written.stderr
    exported = json.loads(exported_file.read_text(encoding="utf-8"))
    assert {s["context"]["registration"] for s in exported} == {passed_id, failed_id}

    first = crisis_sim(config, *send)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"sent {len(exported)} statements, 0 already there, 0 rejected\n"
    assert PASSWORD not in first.stdout + first.stderr

    held = ralph.statements()
    assert len(held) == len(exported)
    by_id = {s["id"]: s for s in held}
    assert set(by_id) == {s["id"] for s in exported}
    for statement in exported:
        assert comparable(by_id[statement["id"]]) == comparable(statement)
        assert by_id[statement["id"]]["authority"]["account"] == {"homePage": HOMEPAGE, "name": USER}
    verbs = sorted(s["verb"]["id"].rsplit("/", 1)[1] for s in held)
    assert verbs.count("attempted") == 2 and verbs.count("completed") == 2
    assert verbs.count("passed") == 1 and verbs.count("failed") == 1
    assert running_id not in {s["context"]["registration"] for s in held}  # in progress: not sent
    one = ralph.get(f"/xAPI/statements?statementId={exported[0]['id']}")
    one = one["statements"][0] if "statements" in one else one  # Ralph wraps even a single statement
    assert comparable(one) == comparable(exported[0])
    assert {outcome for _, outcome in sent_rows(db)} == {"sent"} and len(sent_rows(db)) == len(exported)

    # Sending again adds nothing: the store knows what the LRS confirmed.
    second = crisis_sim(config, *send)
    assert second.returncode == 0, second.stderr
    assert second.stdout == (f"sent 0 statements, 0 already there, 0 rejected; {len(exported)} sent before, skipped\n")
    assert len(ralph.statements()) == len(exported)

    # Even with the store's memory of it gone, the LRS stores nothing twice (same statement ids).
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM lrs_sent")
    cfg: Config = load_config(config)
    with Store.open(db, create=False) as store:
        report = send_to_lrs(store, ralph.url, USER, PASSWORD, ExportFilter(), cfg)
    assert report.summary() == f"sent 0 statements, {len(exported)} already there, 0 rejected"
    assert {outcome for _, outcome in sent_rows(db)} == {"already"}
    assert len(ralph.statements()) == len(exported)


def test_ralph_refuses_reads_with_a_wrong_password(ralph):
    with pytest.raises(urllib.error.HTTPError) as caught:
        ralph.get("/xAPI/statements", password="nope")
    assert caught.value.code == 401
