"""The records file on bad storage: read-only, a full disk, damaged. Every command that opens
it gives one line (naming the file and what to do), exits non-zero, shows no traceback, and
leaves what was stored exactly as it was.

- Read-only: ``chmod`` does not stop root, so when the tests run as root the commands run as
  the unprivileged user ``nobody`` (``setpriv``) against files owned by root. Covered: ``run``,
  ``resume``, the app's start (``crisis-sim play`` on a pseudo-terminal), and reading commands
  still working on a read-only file.
- Full disk: a 2 MB tmpfs (root only; skipped with the reason otherwise) filled up while an
  interactive run waits for the next decision, and while an export is being written. A
  fallback that always runs provokes the same SQLITE_FULL with ``PRAGMA max_page_count``.
- Damaged: a scribbled page of the decisions table (which ``results`` never reads, so only the
  check on open finds it), a truncated file, a garbage header, and another records file's
  ``-wal`` beside it. ``run``, ``resume``, ``results``, ``export``, ``regrade`` and the app's
  start all refuse, and the file (and its ``-wal``) keep every byte.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from records_factory import copy_attempts, play
from scenario_factory import REPO, SAMPLE_BEST

from simulator.records import Store, StoreError

CLI = [sys.executable, "-c", "from simulator.cli import main; main()"]
NOBODY = 65534
WAIT = 60.0


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, as_nobody: bool = False, tty: bool = False,
            stdin: str | None = None) -> Ran:
    """One crisis-sim command; ``as_nobody`` drops root (setpriv); ``tty`` gives it a
    pseudo-terminal as stdin and stdout (the app's start), read until it exits."""
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] if as_nobody else []
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    if not tty:
        done = subprocess.run([*prefix, *CLI, *args], capture_output=True, text=True, cwd=REPO, timeout=WAIT,
                              env=full_env, input=stdin)
        return Ran(done.returncode, done.stdout, done.stderr)
    master, slave = pty.openpty()
    proc = subprocess.Popen([*prefix, *CLI, *args], stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=REPO,
                            env={**full_env, "TERM": "xterm-256color"})
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 30
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:  # the app started instead of refusing: stop it
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"{args[0]} did not refuse: the app took the terminal ({screen[-200:]!r})")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                with contextlib.suppress(OSError):
                    screen += os.read(master, 65536)
        assert proc.stderr is not None
        return Ran(proc.returncode, screen.decode(errors="replace"), proc.stderr.read().decode(errors="replace"))
    finally:
        os.close(master)
        if proc.stderr is not None:
            proc.stderr.close()


def assert_one_line_error(ran: Ran, *needles: str) -> None:
    assert ran.code == 1, f"exit {ran.code}; stderr: {ran.stderr!r}"
    assert "Traceback" not in ran.stderr + ran.stdout
    lines = ran.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crisis-sim: error: "), ran.stderr
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def digest(db: Path) -> str:
    """Every row of every table (the stored facts, however the pages are laid out)."""
    h = hashlib.sha256()
    with contextlib.closing(sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            for row in sorted(map(repr, conn.execute(f"SELECT * FROM {table}"))):
                h.update(row.encode())
    return h.hexdigest()


def integrity(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]


def decisions(db: Path) -> dict[str, list[tuple[int, str | None]]]:
    out: dict[str, list[tuple[int, str | None]]] = {}
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for aid, seq, choice in conn.execute("SELECT attempt_id, sequence, choice FROM decisions ORDER BY 1, 2"):
            out.setdefault(aid, []).append((seq, choice))
    return out


def make_records(db: Path, copies: int = 0) -> str:
    """A records file with completed attempts and one in progress; returns the in-progress id."""
    if copies:
        source = db.with_name("source.sqlite3")
        with Store.open(source) as store:
            play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
            play(store, "ben", ["order-down"], started_at="2026-03-02T09:00:00.000Z")
        copy_attempts(source, db, copies)
        source.unlink()
    with Store.open(db) as store:
        play(store, "ana", SAMPLE_BEST, started_at="2026-03-03T09:00:00.000Z")
        return play(store, "cy", SAMPLE_BEST[:3], started_at="2026-03-04T09:00:00.000Z", finish=False).attempt_id


# ---- read-only ----------------------------------------------------------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder outside the test's private temp folder (0700), so ``nobody`` can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="crisis-sim-faults-"))
    folder.chmod(0o755)
    home = folder / "home"
    home.mkdir()
    home.chmod(0o777)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            with contextlib.suppress(OSError):
                path.chmod(0o700 if path.is_dir() else 0o600)
        shutil.rmtree(folder, ignore_errors=True)


def lower_privileges() -> bool:
    """True when the commands must run as ``nobody`` for a read-only file to be read-only."""
    if os.geteuid() != 0:
        return False
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: chmod cannot make a file read-only for root")
    return True


@pytest.mark.parametrize("folder_writable", [True, False], ids=["file-read-only", "folder-read-only-too"])
def test_a_read_only_records_file_is_one_line_and_nothing_changes(shared_dir, folder_writable):
    as_nobody = lower_privileges()
    records = shared_dir / "records"
    records.mkdir()
    db = records / "records.sqlite3"
    in_progress = make_records(db)
    db.chmod(0o444)
    records.chmod(0o777 if folder_writable else 0o555)
    home = shared_dir / "home"
    env = {"HOME": str(home), "CRISIS_SIM_CONFIG": str(home / "none.toml"), "CRISIS_SIM_DB": str(db),
           **{var: str(home / var.lower()) for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")}}
    facts, raw = digest(db), db.read_bytes()
    what = f"{db} is read-only; check its permissions or choose another file with --db"

    for args, tty in (
        (("run", "overpass-railing", "--policy", "first"), False),
        (("run", "overpass-railing"), False),  # interactive: refused before the first question
        (("resume", in_progress, "--policy", "first"), False),
        (("play", "overpass-railing", "--trainee", "t-1"), True),  # the app: refused before it starts
    ):
        ran = run_cli(*args, env=env, as_nobody=as_nobody, tty=tty, stdin=None if tty else "1\n")
        assert_one_line_error(ran, what)
        assert "Your choice" not in ran.stdout
        assert digest(db) == facts and db.read_bytes() == raw, f"{args[0]} changed the read-only file"

    # Reading it still works where SQLite can keep its -shm index beside it.
    listed = run_cli("results", env=env, as_nobody=as_nobody)
    if folder_writable:
        assert listed.code == 0, listed.stderr
        assert "in progress" in listed.stdout and "completed" in listed.stdout
    else:  # a WAL file cannot be read without its index: still one line, never a traceback
        assert listed.code == 0 or listed.stderr.count("\n") == 1, listed.stderr
        assert "Traceback" not in listed.stderr
    assert digest(db) == facts and db.read_bytes() == raw


def test_store_refuses_to_start_play_on_a_file_it_cannot_write(tmp_path, monkeypatch):
    """The same refusals in-process (runs as any user: the permission check is faked)."""
    db = tmp_path / "records.sqlite3"
    in_progress = make_records(db)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(db) else real_access(p, mode))
    with pytest.raises(StoreError, match="is read-only; check its permissions"):
        Store.open(db)
    with Store.open(db, create=False) as store:  # reading commands open it as before
        assert store.attempt(in_progress).status == "in_progress"
        with pytest.raises(StoreError, match="is read-only"):
            store.require_writable()


# ---- full disk ------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Path]:
    """A 2 MB tmpfs, unmounted afterwards even if the test fails."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs root to mount a 2 MB tmpfs (the max_page_count test covers the rest)")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` until ``leave`` bytes (about) or nothing is free."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 16, 4096, 512, 1):
            while True:
                stat = os.statvfs(folder)
                if leave and stat.f_bavail * stat.f_frsize - chunk < leave:
                    break
                try:
                    fh.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno in (errno.ENOSPC, errno.EDQUOT), exc
                    break
    return filler


class Interactive:
    """``crisis-sim run`` fed one answer at a time, with bounded waits."""

    PROMPT = re.compile(r"q to quit\)> \Z")

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([*CLI, "run", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=REPO, env={**os.environ, "NO_COLOR": "1"})
        self.out = b""

    def prompt(self) -> bool:
        """Wait for the next question; False when the process ended instead."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + WAIT
        start = len(self.out)
        while not self.PROMPT.search(self.out[start:].decode(errors="replace")):
            assert time.monotonic() < deadline, "no prompt"
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    return False
                self.out += data
        return True

    def answer(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def end(self) -> Ran:
        out, err = self.proc.communicate(timeout=WAIT)
        return Ran(self.proc.returncode, (self.out + out).decode(errors="replace"), err.decode(errors="replace"))


def test_a_full_disk_during_play_keeps_every_decision_made(tiny_disk):
    db = tiny_disk / "records.sqlite3"
    run = Interactive("overpass-railing", "--db", str(db), "--trainee", "t-1")
    for choice in SAMPLE_BEST[:3]:
        assert run.prompt()
        run.answer(choice)
    assert run.prompt()  # three decisions committed (each is printed only after its commit)
    filler = fill(tiny_disk)
    run.answer(SAMPLE_BEST[3])
    ended = run.end()
    assert_one_line_error(ended, f"the disk holding {db} is full; free some space")
    assert ended.stdout.count("> Decision") == 3
    filler.unlink()
    assert integrity(db) == ["ok"]
    [(attempt, log)] = decisions(db).items()
    assert log == [(n, c) for n, c in enumerate(SAMPLE_BEST[:3], 1)]
    resumed = run_cli("resume", attempt, "--choose", ",".join(SAMPLE_BEST[3:]), "--db", str(db))
    assert resumed.code == 0, resumed.stderr
    assert decisions(db)[attempt] == list(enumerate(SAMPLE_BEST, 1))


def test_a_full_disk_during_export_keeps_the_old_file_and_the_records(tiny_disk, tmp_path):
    db = tmp_path / "records.sqlite3"
    make_records(db, copies=60)
    facts = digest(db)
    out = tiny_disk / "attempts.jsonl"
    out.write_bytes(b'{"an": "older export"}\n')
    filler = fill(tiny_disk, leave=96 * 1024)  # the export is ~700 KB: it runs out half-way
    ran = run_cli("export", "--format", "jsonl", "--db", str(db), "--out", str(out))
    assert_one_line_error(ran, "cannot write the export: No space left on device")
    assert out.read_bytes() == b'{"an": "older export"}\n'
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["attempts.jsonl", "filler"], "a temporary file was left"
    filler.unlink()
    assert digest(db) == facts and integrity(db) == ["ok"]


LIMIT_PAGES = """
import sys
import simulator.records as records
configure = records.Store._configure
def limited(self):  # the file may not grow past its current size: SQLite answers SQLITE_FULL
    configure(self)
    pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
    self.conn.execute(f"PRAGMA max_page_count = {pages}")
records.Store._configure = limited
from simulator.cli import main
main()
"""


def test_sqlite_full_from_a_size_limit_is_one_line_and_keeps_what_was_committed(tmp_path):
    """SQLITE_FULL without root: the file may not grow (``PRAGMA max_page_count``). The
    decisions fit in the pages the file has; the grade at the end does not."""
    db = tmp_path / "records.sqlite3"
    make_records(db)
    before = decisions(db)
    done = subprocess.run(
        [sys.executable, "-c", LIMIT_PAGES, "run", "overpass-railing", "--choose", ",".join(SAMPLE_BEST),
         "--db", str(db), "--trainee", "t-2"],
        capture_output=True, text=True, cwd=REPO, timeout=WAIT, env={**os.environ, "NO_COLOR": "1"},
    )
    assert_one_line_error(Ran(done.returncode, done.stdout, done.stderr), f"the disk holding {db} is full")
    printed = re.findall(r"^> Decision \d+: \[([^\]]+)\]", done.stdout, re.M)
    assert printed, "the limit hit before any decision: nothing mid-play was tested"
    after = decisions(db)
    assert {a: after[a] for a in before} == before
    [new] = [a for a in after if a not in before]
    assert after[new][: len(printed)] == list(enumerate(printed, 1)) and len(after[new]) <= len(printed) + 1
    assert integrity(db) == ["ok"]
    with Store.open(db) as store:
        assert store.attempt(new).status == "in_progress"  # resumable once there is room again


def test_sqlite_full_in_process_on_any_decision(tmp_path):
    """Decision after decision until the file is full: the error is the one-line message, and
    every decision whose commit returned is stored exactly once, nothing else."""
    db = tmp_path / "records.sqlite3"
    make_records(db)
    before = decisions(db)
    made: dict[str, list[tuple[int, str | None]]] = {}
    with Store.open(db) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        store.ensure_trainee("t-3")
        with pytest.raises(StoreError) as caught:
            for n in range(10_000):
                aid = store.start_attempt("t-3", scenario_id="s", scenario_version="1", scenario_sha256="x" * 64,
                                          scenario_path="", rubric_id="default", rubric_sha256="y" * 64,
                                          mode="headless")
                made[aid] = []
                for seq in range(1, 9):
                    choice = f"choice-{n}-{seq}"
                    store.record_decision(aid, seq, "scene", choice, meters_after={"agitation": seq},
                                          flags_after={"asked": True})
                    made[aid].append((seq, choice))
    assert str(caught.value) == f"the disk holding {db} is full; free some space (nothing stored was lost)"
    assert sum(map(len, made.values())) > 0
    after = decisions(db)
    assert after == {**before, **{a: log for a, log in made.items() if log}}
    assert integrity(db) == ["ok"]


# ---- damaged files --------------------------------------------------------------------------------


def leaf_pages(raw: bytes, root: int) -> list[int]:
    """The leaf pages of the table b-tree rooted at page ``root`` (SQLite file format 1.6)."""
    size = int.from_bytes(raw[16:18], "big")
    size = 65536 if size == 1 else size
    leaves, todo = [], [root]
    while todo:
        page = todo.pop()
        start = (page - 1) * size
        header = start + (100 if page == 1 else 0)
        kind = raw[header]
        if kind == 0x0D:
            leaves.append(page)
        elif kind == 0x05:
            todo.append(int.from_bytes(raw[header + 8 : header + 12], "big"))
            for cell in range(int.from_bytes(raw[header + 3 : header + 5], "big")):
                pointer = int.from_bytes(raw[header + 12 + 2 * cell : header + 14 + 2 * cell], "big")
                todo.append(int.from_bytes(raw[start + pointer : start + pointer + 4], "big"))
        else:
            raise AssertionError(f"page {page} is not a table b-tree page ({kind:#x})")
    return sorted(leaves)


def damage_decisions_page(db: Path) -> None:
    """Scribble over the cell pointers of one leaf of the decisions table: a table the
    ``results`` listing never reads, so only a check of the whole file notices."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'decisions'").fetchone()
    raw = bytearray(db.read_bytes())
    leaves = leaf_pages(bytes(raw), root)
    assert len(leaves) > 4, "make the file bigger: the decisions table should span many pages"
    size = int.from_bytes(raw[16:18], "big")
    start = (leaves[len(leaves) // 2] - 1) * size
    raw[start + 8 : start + 24] = b"\x13" * 16
    db.write_bytes(bytes(raw))


def truncate(db: Path) -> None:
    raw = db.read_bytes()
    db.write_bytes(raw[: len(raw) // 2 + 1000])


def garbage_header(db: Path) -> None:
    raw = bytearray(db.read_bytes())
    raw[:100] = hashlib.sha512(b"not a header").digest() + hashlib.sha256(b"x").digest() + b"\x07" * 4
    db.write_bytes(bytes(raw))


def foreign_wal(db: Path) -> None:
    """Put beside the file the ``-wal`` of another records file (as a careless copy would)."""
    other = db.with_name("other.sqlite3")
    make_records(other, copies=80)
    with contextlib.closing(sqlite3.connect(other, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("UPDATE attempts SET overall = 0")
        conn.execute("DELETE FROM decisions WHERE sequence > 5")
        shutil.copy(f"{other}-wal", f"{db}-wal")


DAMAGE = {
    "damaged-page": (damage_decisions_page, "is damaged ("),
    "truncated": (truncate, "is damaged ("),
    "garbage-header": (garbage_header, "is not a crisis-sim records file"),
    "foreign-wal": (foreign_wal, "is damaged ("),
}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("healthy") / "records.sqlite3"
    in_progress = make_records(db, copies=150)
    return db, in_progress


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_records_file_is_reported_by_every_command_and_never_rewritten(healthy, tmp_path, kind):
    source, in_progress = healthy
    db = tmp_path / "records.sqlite3"
    shutil.copy(source, db)
    spoil, words = DAMAGE[kind]
    spoil(db)
    files = {p: p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists()}
    for args, tty in (
        (("run", "overpass-railing", "--policy", "first"), False),
        (("resume", in_progress, "--policy", "first"), False),
        (("results",), False),
        (("export", "--format", "csv", "--out", str(tmp_path / "out.csv")), False),
        (("export", "--format", "xapi", "--out", str(tmp_path / "out.json")), False),
        (("regrade",), False),
        (("play", "overpass-railing", "--trainee", "t-1"), True),
    ):
        ran = run_cli(*args, "--db", str(db), tty=tty)
        try:
            assert_one_line_error(ran, str(db), words)
            assert "keep a copy" in ran.stderr or "check --db" in ran.stderr
            for path, content in files.items():
                assert path.read_bytes() == content, f"{path.name} was changed"
            assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.json").exists()
        except AssertionError as exc:
            raise AssertionError(f"{kind}, crisis-sim {' '.join(args)}: {exc}") from exc


def test_the_check_on_open_costs_a_quick_check_and_export_runs_the_full_one(tmp_path, monkeypatch):
    """Opening for play or a listing runs ``quick_check``; an export runs ``integrity_check``."""
    from simulator.export import open_for_export

    db = tmp_path / "records.sqlite3"
    make_records(db)
    seen: list[bool] = []
    real = Store.check_integrity

    def spy(self: Store, *, quick: bool = False) -> None:
        seen.append(quick)
        real(self, quick=quick)

    monkeypatch.setattr(Store, "check_integrity", spy)
    Store.open(db).close()
    Store.open(db, create=False).close()
    open_for_export(db).close()
    Store.open(db, check="none").close()
    assert seen == [True, True, False]
