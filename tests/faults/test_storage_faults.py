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
from cli_runner import run_cli as in_process
from records_factory import copy_attempts, play
from scenario_factory import REPO, SAMPLE_BEST

from simulator.records import Store, StoreError, schema
from simulator.records.sqlitefile import APPLICATION_ID

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


def foreign_wal_pages(db: Path) -> None:
    """Another records file's ``-wal`` holding only changed table pages, no copy of the header
    (page 1): no identity to compare, so the full check must find that its pages do not fit."""
    other = db.with_name("other.sqlite3")
    make_records(other, copies=150)
    with contextlib.closing(sqlite3.connect(other, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("UPDATE attempts SET scenario_sha256 = upper(scenario_sha256)")
        shutil.copy(f"{other}-wal", f"{db}-wal")
    frames = frames_in_wal(Path(f"{db}-wal"))
    assert frames and 1 not in frames, f"the -wal should hold table pages only, not the header: {frames}"


def frames_in_wal(wal: Path) -> list[int]:
    """The page numbers of the frames in a ``-wal`` (SQLite file format 4.1)."""
    raw = wal.read_bytes()
    size = int.from_bytes(raw[8:12], "big")
    return [int.from_bytes(raw[at : at + 4], "big") for at in range(32, len(raw) - 24, size + 24)]


def edit_schema(db: Path, *script: str, writable: bool = False) -> None:
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        if writable:
            conn.execute("PRAGMA writable_schema = ON")
        for statement in script:
            conn.execute(statement)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def ignoring_trigger(db: Path) -> None:
    """Every decision silently dropped while play says "progress saved"."""
    edit_schema(db, "CREATE TRIGGER keep_nothing BEFORE INSERT ON decisions BEGIN SELECT RAISE(IGNORE); END")


def recursive_view(db: Path) -> None:
    """A view named ``attempts`` that never ends: every reader of the old code hung on it."""
    edit_schema(
        db,
        "PRAGMA legacy_alter_table = ON",
        "ALTER TABLE attempts RENAME TO attempts_kept",
        "CREATE VIEW attempts AS WITH RECURSIVE forever(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM forever) "
        "SELECT a.* FROM forever, attempts_kept a",
    )


def dropped_index(db: Path) -> None:
    edit_schema(db, "DROP INDEX attempts_by_trainee")


def damaged_schema_text(db: Path) -> None:
    edit_schema(db, "UPDATE sqlite_master SET sql = 'CREATE TABLE decisions (garbage' WHERE name = 'decisions'",
                writable=True)


def edited_schema_text(db: Path) -> None:
    """SQL that parses, but describes another table than the one on disk."""
    edit_schema(
        db,
        "UPDATE sqlite_master SET sql = replace(sql, 'scene TEXT NOT NULL', 'scene INTEGER') WHERE name = 'decisions'",
        writable=True,
    )


def index_only_damage(db: Path) -> None:
    """One trainee's entries in the ``attempts_by_trainee`` index name another trainee: every
    table page is sound (``quick_check`` passes), so only ``integrity_check`` (indexes against
    their tables) finds it; before, ``results --trainee ana`` said "no attempts" while
    ``results`` listed them, and ``run`` wrote into the file."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'attempts_by_trainee'").fetchone()
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    raw = bytearray(db.read_bytes())
    size = int.from_bytes(raw[16:18], "big")
    pages = index_pages(bytes(raw), root)
    hits = 0
    for page in pages:
        start, end = (page - 1) * size, page * size
        hits += raw[start:end].count(b"ana")
        raw[start:end] = raw[start:end].replace(b"ana", b"anz")
    assert hits, "no index entry of ana found"
    db.write_bytes(bytes(raw))
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)], "the damage should be in the index only"


def index_pages(raw: bytes, root: int) -> list[int]:
    """Every page of the index b-tree rooted at ``root`` (interior 0x02, leaf 0x0A)."""
    size = int.from_bytes(raw[16:18], "big")
    found, todo = [], [root]
    while todo:
        page = todo.pop()
        found.append(page)
        start = (page - 1) * size
        header = start + (100 if page == 1 else 0)
        if raw[header] == 0x02:
            todo.append(int.from_bytes(raw[header + 8 : header + 12], "big"))
            for cell in range(int.from_bytes(raw[header + 3 : header + 5], "big")):
                pointer = int.from_bytes(raw[header + 12 + 2 * cell : header + 14 + 2 * cell], "big")
                todo.append(int.from_bytes(raw[start + pointer : start + pointer + 4], "big"))
        else:
            assert raw[header] == 0x0A, f"page {page} is not an index b-tree page"
    return found


DAMAGE = {
    "damaged-page": (damage_decisions_page, "is damaged ("),
    "truncated": (truncate, "is damaged ("),
    "garbage-header": (garbage_header, "is not a crisis-sim records file"),
    "foreign-wal": (foreign_wal, "-wal does not belong to the records file beside it (it holds records file"),
    "foreign-wal-pages": (foreign_wal_pages, "is damaged ("),
    "trigger-raise-ignore": (ignoring_trigger, "a trigger 'keep_nothing' on decisions that crisis-sim did not create"),
    "recursive-view": (recursive_view, "'attempts' is a view, not crisis-sim's table"),
    "dropped-index": (dropped_index, "the index 'attempts_by_trainee' is missing"),
    "damaged-schema-text": (damaged_schema_text, "is damaged (malformed database schema (decisions)"),
    "edited-schema-text": (edited_schema_text, "the table 'decisions' has a changed definition"),
    "index-only": (index_only_damage, "is damaged ("),
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
        (("results", "--trainee", "ana"), False),
        (("export", "--format", "csv", "--out", str(tmp_path / "out.csv")), False),
        (("export", "--format", "xapi", "--out", str(tmp_path / "out.json")), False),
        (("regrade",), False),
        (("check",), False),
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


def test_what_each_open_checks(tmp_path, monkeypatch):
    """The damage policy (docs/security.md section 7): every open runs the cheap checks; the
    full ``integrity_check`` runs on every open of a file up to ``FULL_CHECK_MAX_BYTES``, and
    for exports, ``regrade`` and ``check`` whatever the size; a second connection to a file just
    checked (``check="none"``) skips it."""
    import simulator.records.sqlite as backend
    from simulator.export import open_for_export

    db = tmp_path / "records.sqlite3"
    make_records(db)
    seen: list[str] = []
    real = backend._integrity

    def spy(conn: sqlite3.Connection, name: str) -> None:
        seen.append(name)
        real(conn, name)

    monkeypatch.setattr(backend, "_integrity", spy)
    Store.open(db).close()
    Store.open(db, create=False).close()
    assert len(seen) == 2, "a small file is fully checked on every open"
    Store.open(db, check="none").close()
    assert len(seen) == 2
    monkeypatch.setattr(backend, "FULL_CHECK_MAX_BYTES", db.stat().st_size - 1)  # now "big"
    Store.open(db).close()
    assert len(seen) == 2, "a big file is not read whole on every open"
    open_for_export(db).close()
    Store.open(db, create=False, check="full").close()
    assert len(seen) == 4


def test_index_only_damage_in_a_file_above_the_threshold_is_found_by_check_export_and_regrade(tmp_path, monkeypatch):
    """Above ``FULL_CHECK_MAX_BYTES`` play opens the file with the cheap checks only (the honest
    limit in docs/security.md); what keeps records evidence sound is that ``check``, exports and
    ``regrade`` always run the full check."""
    import simulator.records.sqlite as backend

    db = tmp_path / "records.sqlite3"
    make_records(db, copies=40)
    index_only_damage(db)
    monkeypatch.setattr(backend, "FULL_CHECK_MAX_BYTES", 0)
    Store.open(db).close()  # play would go on
    for args in (("check",), ("regrade",), ("export", "--format", "jsonl", "--out", str(tmp_path / "out.jsonl"))):
        ran = in_process([*args, "--db", str(db)])
        assert ran.code == 1 and "is damaged (" in ran.stderr and "attempts_by_trainee" in ran.stderr, ran.stderr


# ---- files that are not what they seem: a foreign -wal, hostile schema objects -----------------


def test_a_foreign_wal_holding_a_whole_records_file_is_refused_and_both_files_kept(tmp_path):
    """Issue 12, item 1, as reported: three attempts played into records.sqlite3; another file's
    run killed with -9 before its first checkpoint, so its ``-wal`` holds that whole database,
    which passes every integrity check; that ``-wal`` copied beside records.sqlite3. Before,
    ``results`` listed only the other file's attempt, exited 0, and its close merged the
    foreign pages for good."""
    db = tmp_path / "records.sqlite3"
    for trainee in ("t1", "t2", "t3"):
        played = run_cli("run", "overpass-railing", "--policy", "first", "--trainee", trainee, "--db", str(db))
        assert played.code == 0, played.stderr
    other = tmp_path / "other.sqlite3"
    run = Interactive("overpass-railing", "--db", str(other), "--trainee", "intruder")
    assert run.prompt()
    run.answer(SAMPLE_BEST[0])
    assert run.prompt()  # the first decision is committed (in the -wal: nothing checkpointed yet)
    run.proc.kill()
    run.end()
    assert frames_in_wal(Path(f"{other}-wal")).count(1) >= 1, "the -wal should hold the other file's header"
    shutil.copy(f"{other}-wal", f"{db}-wal")
    files = {p: p.read_bytes() for p in (db, Path(f"{db}-wal"))}
    for args, tty in (
        (("results",), False),
        (("export", "--format", "csv", "--out", str(tmp_path / "out.csv")), False),
        (("regrade",), False),
        (("check",), False),
        (("run", "overpass-railing", "--policy", "first", "--trainee", "t4"), False),
        (("resume", "00000000", "--policy", "first"), False),
        (("play", "overpass-railing", "--trainee", "t5"), True),
    ):
        ran = run_cli(*args, "--db", str(db), tty=tty)
        assert_one_line_error(ran, f"{db}-wal does not belong to the records file beside it", "move the -wal away")
        for path, content in files.items():
            assert path.read_bytes() == content, f"crisis-sim {args[0]} changed {path.name}"
    Path(f"{db}-wal").rename(tmp_path / "foreign-wal-kept")
    Path(f"{db}-shm").unlink(missing_ok=True)
    listed = run_cli("results", "--db", str(db), "--include-scripted")  # --policy runs: scripted
    assert listed.code == 0, listed.stderr
    assert [line.split()[3] for line in listed.stdout.splitlines()[1:]] == ["t1", "t2", "t3"]


def test_a_wal_beside_a_missing_or_empty_records_file_is_kept(tmp_path):
    """A ``-wal`` only ever exists after a records file's first page: beside no file or an empty
    one it belongs elsewhere (SQLite would delete it on open, and with it whatever it holds)."""
    source = tmp_path / "source.sqlite3"
    with contextlib.closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("CREATE TABLE kept (x)")
        conn.execute("INSERT INTO kept VALUES ('precious')")
        wal = Path(f"{source}-wal").read_bytes()
    for empty in (False, True):
        db = tmp_path / f"records-{empty}.sqlite3"
        if empty:
            db.touch()
        Path(f"{db}-wal").write_bytes(wal)
        ran = run_cli("run", "overpass-railing", "--policy", "first", "--db", str(db))
        assert_one_line_error(ran, "-wal does not belong to the records file beside it")
        assert Path(f"{db}-wal").read_bytes() == wal
        assert db.exists() == empty and (not empty or db.stat().st_size == 0)


def strip_identity(db: Path) -> None:
    """Make ``db`` look like a records file from before identities (header bytes 60-72 zero)."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA application_id = 0")
        conn.execute("PRAGMA user_version = 0")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db.read_bytes()[60:72] == bytes(12)


KILLED_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint = 0")
for statement in sys.argv[2:]:
    conn.execute(statement)
os._exit(0)  # like kill -9: no close, no checkpoint
"""


def killed_writer(db: Path, *statements: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db), *statements], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert frames_in_wal(Path(f"{db}-wal")), "the writer should have left frames in the -wal"


def test_a_file_from_before_identities_gets_one_and_keeps_its_own_wal(tmp_path):
    """A records file made before identities, killed while getting its identity (in the -wal,
    not yet in the file's own header): its own ``-wal`` is accepted (every attempt of the file
    is still there through it), and the next play gives the header its identity."""
    db = tmp_path / "records.sqlite3"
    make_records(db)
    strip_identity(db)
    before = run_cli("results", "--db", str(db)).stdout
    killed_writer(db, "BEGIN IMMEDIATE", f"PRAGMA application_id = {APPLICATION_ID}", "PRAGMA user_version = 77",
                  "COMMIT", "UPDATE trainees SET display_name = 'Ana B.' WHERE id = 'ana'")
    assert db.read_bytes()[60:72] == bytes(12)
    listed = run_cli("results", "--db", str(db))
    assert listed.code == 0 and listed.stdout == before, listed.stderr
    played = run_cli("run", "overpass-railing", "--policy", "first", "--db", str(db))
    assert played.code == 0, played.stderr
    header = db.read_bytes()[:100]
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID and int.from_bytes(header[60:64], "big") == 77


def test_a_foreign_wal_beside_a_file_from_before_identities_is_refused(tmp_path):
    """Neither file has an identity: the ``-wal`` of another file killed before its first
    checkpoint would hide this file's attempts; it is refused because, read through it, an
    attempt the file holds by itself is gone."""
    db = tmp_path / "records.sqlite3"
    make_records(db)
    strip_identity(db)
    other = tmp_path / "other.sqlite3"
    other.touch()
    statements = ["PRAGMA journal_mode = WAL", "BEGIN", schema.VERSION_TABLE,
                  f"INSERT INTO schema_version VALUES ({schema.SCHEMA_VERSION})"]
    for step in schema.SQLITE_MIGRATIONS:
        statements += schema.statements(step)
    statements += ["INSERT INTO trainees VALUES ('intruder', 'I', '2026-01-01T00:00:00.000Z')", "COMMIT"]
    killed_writer(other, *statements)
    shutil.copy(f"{other}-wal", f"{db}-wal")
    files = {p: p.read_bytes() for p in (db, Path(f"{db}-wal"))}
    for args in (("results",), ("run", "overpass-railing", "--policy", "first")):
        ran = run_cli(*args, "--db", str(db))
        assert_one_line_error(ran, "-wal does not belong to the records file beside it", "no longer holds attempt")
        assert all(path.read_bytes() == content for path, content in files.items())


def test_each_new_records_file_has_its_own_identity_in_its_header(tmp_path):
    headers = []
    for n in range(2):
        db = tmp_path / f"records-{n}.sqlite3"
        assert run_cli("run", "overpass-railing", "--policy", "first", "--db", str(db)).code == 0
        headers.append(db.read_bytes()[:100])
    assert all(int.from_bytes(h[68:72], "big") == APPLICATION_ID for h in headers)
    assert headers[0][60:64] != headers[1][60:64] and bytes(4) not in (headers[0][60:64], headers[1][60:64])


def test_a_trigger_added_while_a_trainee_plays_is_caught_at_the_next_decision(tmp_path):
    """Another process adds ``RAISE(IGNORE)`` mid-run: the next decision's transaction sees the
    schema cookie move, checks the schema again and refuses, so "saved" is never printed for a
    decision that is not there; every decision before stays."""
    db = tmp_path / "records.sqlite3"
    make_records(db)
    run = Interactive("overpass-railing", "--db", str(db), "--trainee", "t-1")
    for choice in SAMPLE_BEST[:2]:
        assert run.prompt()
        run.answer(choice)
    assert run.prompt()
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("CREATE TRIGGER keep_nothing BEFORE INSERT ON decisions BEGIN SELECT RAISE(IGNORE); END")
    run.answer(SAMPLE_BEST[2])
    ended = run.end()
    assert_one_line_error(ended, "a trigger 'keep_nothing' on decisions that crisis-sim did not create")
    assert ended.stdout.count("> Decision") == 2
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (aid,) = conn.execute("SELECT id FROM attempts WHERE trainee_id = 't-1'").fetchone()
        stored = conn.execute("SELECT choice FROM decisions WHERE attempt_id = ? ORDER BY sequence", (aid,)).fetchall()
    assert [c for (c,) in stored] == SAMPLE_BEST[:2]


def test_a_decision_a_trigger_touches_is_not_committed(tmp_path, monkeypatch):
    """The last line of defence, on its own: with the schema check switched off, a trigger that
    swallows the insert, rewrites or deletes the row, or writes anywhere else in the same
    transaction is caught inside it (SQLite counts every row a transaction changed, triggers'
    too: one INSERT must change exactly one); nothing is committed and the error says so."""
    import simulator.records.sqlite as backend

    db = tmp_path / "records.sqlite3"
    make_records(db)
    with Store.open(db) as store:
        store.ensure_trainee("t-2")
        aid = store.start_attempt("t-2", scenario_id="s", scenario_version="1", scenario_sha256="x" * 64,
                                  scenario_path="", rubric_id="default", rubric_sha256="y" * 64, mode="headless")
        monkeypatch.setattr(backend.schema, "check", lambda conn, path: schema.SCHEMA_VERSION)
        more = "2 rows changed in its transaction instead of 1: a trigger in the file changed more"
        for trigger, why in (
            ("BEFORE INSERT ON decisions BEGIN SELECT RAISE(IGNORE); END", "0 row(s) changed instead of 1"),
            ("AFTER INSERT ON decisions BEGIN UPDATE decisions SET choice = 'other' WHERE rowid = new.rowid; END",
             more),
            ("AFTER INSERT ON decisions BEGIN DELETE FROM decisions WHERE rowid = new.rowid; END", more),
            # the decision itself stored as written, but the trigger also ended the attempt
            ("AFTER INSERT ON decisions BEGIN UPDATE attempts SET status = 'abandoned' WHERE id = new.attempt_id; END",
             more),
        ):
            with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
                conn.execute("DROP TRIGGER IF EXISTS hostile")
                conn.execute(f"CREATE TRIGGER hostile {trigger}")
            with pytest.raises(StoreError, match=f"decision 1 of attempt {aid[:8]} was not stored .{re.escape(why)}"):
                store.record_decision(aid, 1, "arrival", "slow-approach", meters_after={}, flags_after={})
            assert store.decisions(aid) == []
            assert store.attempt(aid).status == "in_progress"


# ---- values crisis-sim never writes ----------------------------------------------------------------

DEEP = "[" * 100_000
HOSTILE_VALUES = {
    "overall-text": ("UPDATE attempts SET overall = 'high' WHERE id = :a", "column overall holds 'high', not a number"),
    "overall-infinite": ("UPDATE attempts SET overall = 9e999 WHERE id = :a", "column overall holds inf"),
    "passed-seven": ("UPDATE attempts SET passed = 7 WHERE id = :a", "column passed holds 7, not 0 or 1"),
    "started-not-iso": ("UPDATE attempts SET started_at = 'yesterday' WHERE id = :a",
                        "column started_at holds 'yesterday', not an ISO 8601 time"),
    "ended-not-a-date": ("UPDATE attempts SET ended_at = '2026-13-45T00:00:00Z' WHERE id = :a",
                         "column ended_at holds"),
    "grade-broken": ("UPDATE attempts SET grade_json = '{\"overall\": ' WHERE id = :a",
                     "column grade_json is not JSON"),
    "grade-deep": (f"UPDATE attempts SET grade_json = '{DEEP}' WHERE id = :a", "recursion limit exceeded"),
    "grade-shape": ("UPDATE attempts SET grade_json = json_set(grade_json, '$.dimensions[0].id', 5) WHERE id = :a",
                    "column grade_json is not a grade (dimensions.0.id"),
    "grade-list": ("UPDATE attempts SET grade_json = '[1, 2]' WHERE id = :a", "holds list, not a grade object"),
    "scenario-blob": ("UPDATE attempts SET scenario_id = x'00ff41' WHERE id = :a",
                      "column scenario_id holds a BLOB of 3 bytes, not text"),
    "name-blob": ("UPDATE trainees SET display_name = x'c3' WHERE id = 'ana'",
                  "column display_name holds a BLOB of 1 bytes, not text"),
    "status-other": ("UPDATE attempts SET status = 'done' WHERE id = :a", "column status holds 'done'"),
    "sequence-huge": ("UPDATE decisions SET sequence = 1000000000000000 WHERE attempt_id = :a AND sequence = 2",
                      "column sequence holds 1000000000000000, not a decision number"),
    "sequence-text": ("UPDATE decisions SET sequence = 'two' WHERE attempt_id = :a AND sequence = 2",
                      "column sequence holds 'two', not a whole number"),
    "made-at-number": ("UPDATE decisions SET made_at = 12 WHERE attempt_id = :a AND sequence = 1",
                       "column made_at holds '12', not an ISO 8601 time"),
    "meters-deep": (f"UPDATE decisions SET meters_after = '{DEEP}' WHERE attempt_id = :a AND sequence = 1",
                    "column meters_after is not a JSON object of whole numbers"),
    "meters-text": ("UPDATE decisions SET meters_after = '{\"trust\": \"high\"}' WHERE attempt_id = :a "
                    "AND sequence = 1",
                    "column meters_after is not a JSON object of whole numbers (trust"),
    "flags-broken": ("UPDATE decisions SET flags_after = 'nope' WHERE attempt_id = :a AND sequence = 3",
                     "column flags_after is not a JSON object of true/false values"),
    "response-negative": ("UPDATE decisions SET response_ms = -5 WHERE attempt_id = :a AND sequence = 1",
                          "column response_ms holds -5"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
def test_values_crisis_sim_never_writes_are_one_line_naming_the_attempt_and_column(tmp_path, case):
    """A records file edited by other hands (text in ``overall``, a BLOB as a name, a grade
    nested 100,000 deep, a decision numbered 10^15...): every command that reads it says so in
    one line naming the attempt and the column, never "internal error" or a traceback; the ones
    that do not read that value go on. ``check`` finds every one."""
    db = tmp_path / "records.sqlite3"
    with Store.open(db) as store:
        played = play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z")
    sql, words = HOSTILE_VALUES[case]
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        assert conn.execute(sql, {"a": played.attempt_id}).rowcount == 1
    named = f"attempt {played.attempt_id[:8]}"
    for args in (
        ("results",),
        ("results", "--json"),
        ("export", "--format", "csv"),
        ("export", "--format", "csv", "--decisions"),
        ("export", "--format", "jsonl"),
        ("export", "--format", "xapi"),
        ("regrade",),
        ("resume", played.attempt_id[:8]),
        ("check",),
    ):
        ran = in_process([*args, "--db", str(db)])
        shown = f"{case}: crisis-sim {' '.join(args)} -> {ran.code}: {ran.stderr[-300:]}"
        assert "internal error" not in ran.stderr and "Traceback" not in ran.stderr, shown
        assert ran.code in (0, 1), shown
        if ran.code == 1 and args[0] != "resume" and not ran.stdout.endswith("could not be recomputed\n"):
            assert ran.stderr.count("\n") == 1 and ran.stderr.startswith("crisis-sim: error: "), shown
            assert words in ran.stderr and named in ran.stderr, shown
        if args[0] == "check":
            assert ran.code == 1 and words in ran.stderr, shown
