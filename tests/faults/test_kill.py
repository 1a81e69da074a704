"""kill -9 at random moments of play and of export, in a loop: nothing the program said it did
is lost, nothing is stored twice or out of order, the records file stays whole, the attempt
can be resumed, and an export file is either the old one (or absent) or the complete new one.

Each loop runs real ``crisis-sim`` processes and sends SIGKILL (no clean-up code runs):

- play: ``crisis-sim run`` of a random bundled scenario, either scripted (``--policy random
  --seed S``, killed after it printed K decisions, plus a little jitter, or at a random moment
  of start-up) or interactive (fed random answers on stdin, killed at the K-th prompt or just
  after sending an answer, while that decision is being committed). A decision line
  (``> Decision N: [id]``) is printed only after the decision was committed, so every printed
  decision must be stored, and at most one more (committed, killed before printing);
- export: ``crisis-sim export`` (CSV, JSON Lines, xAPI file), killed when its temporary file
  reached a random size (or at a random moment of start-up).

Every iteration has its own seed, printed with any failure (and at the start of the loop):
``CRISIS_SIM_FAULT_SEED=N`` replays a loop from base seed N (the landing point of a kill
still varies a little from run to run; that is the point of the test). CI runs 20 kills of
each kind; ``pytest --soak`` runs 200.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from records_factory import copy_attempts, play
from scenario_factory import REPO, SAMPLE_BEST

from scoring.catalog import load_graded
from simulator.config import load_config
from simulator.engine import Session
from simulator.export import ExportFilter
from simulator.export.tabular import write_csv, write_jsonl
from simulator.export.xapi import write_statements
from simulator.library import library_files
from simulator.records import Store, StoreError, open_store
from simulator.runner import Script, run_script

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

CLI = [sys.executable, "-c", "from simulator.cli import main; main()"]
WAIT = 60.0
"""Seconds any single wait on a child may take before the test calls it a hang."""
DECISION_LINE = re.compile(r"^> (?:Decision (\d+): \[([^\]]*)\]|Time ran out after)", re.M)
PROMPT = re.compile(r"Your choice \((?:1-(\d+)|no choices)(, w to wait)?, q to quit\)> \Z")


def kills(soak: bool) -> int:
    return 200 if soak else 20


def base_seed(soak: bool) -> int:
    """Fixed in CI (a red build is replayable); fresh under --soak; CRISIS_SIM_FAULT_SEED wins."""
    if os.environ.get("CRISIS_SIM_FAULT_SEED"):
        return int(os.environ["CRISIS_SIM_FAULT_SEED"])
    return random.SystemRandom().randrange(1 << 30) if soak else 20260301


class Child:
    """A crisis-sim process whose stdout is read with bounded waits (never a hang)."""

    def __init__(self, args: list[str], stderr: Path, *, stdin: bool = False):
        self.err_path = stderr
        self.err = stderr.open("wb")
        self.proc = subprocess.Popen(
            [*CLI, *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.err,
            cwd=REPO,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.raw = b""
        self.eof = False

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def _read(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if ready:
            data = os.read(self.proc.stdout.fileno(), 65536)
            if data:
                self.raw += data
            else:
                self.eof = True

    def wait_for(self, done: Callable[[str], bool]) -> bool:
        """Read until ``done(text)`` or the end of output; False at the end of output."""
        deadline = time.monotonic() + WAIT
        while not done(self.text):
            if self.eof:
                return False
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no progress within {WAIT:g} s; output so far: {self.text[-300:]!r}")
            self._read(0.5)
        return True

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)

    def finish(self) -> int:
        """Wait for the process and read what it printed before it died."""
        code = self.proc.wait(timeout=WAIT)
        while not self.eof:
            self._read(WAIT)
        self.err.close()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return code

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


def reported(text: str) -> list[str | None]:
    """The decisions a run printed, in order: the choice id, or None for a timeout."""
    return [m.group(2) if m.group(1) else None for m in DECISION_LINE.finditer(text)]


def stored(db: Path | str) -> dict[str, tuple[str, list[tuple[int, str, str | None]]]]:
    """Every attempt: (status, its decisions as (sequence, scene, choice) in sequence order),
    read back through the records interface (a SQLite file or a PostgreSQL database)."""
    with open_store(db, create=False, check="none") as store:
        out: dict[str, tuple[str, list[tuple[int, str, str | None]]]] = {
            a.id: (a.status, []) for a in store.attempts()
        }
        for aid, rows in store.decisions_for(list(out)).items():
            out[aid][1].extend((d.sequence, d.scene, d.choice) for d in rows)
    return out


def integrity(db: Path | str) -> list[str]:
    """SQLite: ``PRAGMA integrity_check``; PostgreSQL: the exact schema and every row read and
    referenced as stored (the server checks its own pages)."""
    if str(db).startswith("postgresql://"):
        with open_store(db, create=False) as store:
            store.check_integrity()
            store.check_rows()
        return ["ok"]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]


def has_records(db: Path | str) -> bool:
    """Whether the store exists yet (a kill during start-up may come before it is made)."""
    if not str(db).startswith("postgresql://"):
        return Path(db).exists()
    try:
        open_store(db, create=False).close()
    except StoreError as exc:
        if "no crisis-sim records" in str(exc):
            return False
        raise
    return True


def scripted_path(scenario_id: str, seed: int) -> list[tuple[str, str | None]]:
    """What ``crisis-sim run SCENARIO --policy random --seed SEED`` decides, computed in-process
    with the same runner code (the process under test must store a prefix of exactly this)."""
    graded = load_graded(scenario_id)
    assert graded.ok
    session = Session(graded.scenario)
    session.start()
    run_script(session, Script([], [], "random", seed))
    return [(d.scene, d.choice) for d in session.decisions]


@dataclass
class PlayKill:
    """One kill during play, as planned (for the failure message)."""

    seed: int
    scenario: str
    mode: str  # "scripted" | "startup" | "prompt" | "in-flight"
    after: int  # decisions printed (scripted) or answered (interactive) before the kill
    jitter: float
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"seed {self.seed}: {self.mode} kill of 'run {self.scenario}' after {self.after} decision(s), "
            f"jitter {self.jitter * 1000:.1f} ms {' '.join(self.notes)}"
        )


def plan_play(seed: int, scenarios: list[str]) -> PlayKill:
    rng = random.Random(seed)
    mode = rng.choice(["scripted", "scripted", "startup", "prompt", "in-flight", "in-flight"])
    jitter = 0.0 if rng.random() < 0.4 else rng.uniform(0, 0.004)
    if mode == "startup":
        jitter = rng.uniform(0.0, 1.0)  # anywhere in start-up: imports, opening the file, starting
    return PlayKill(seed, rng.choice(scenarios), mode, rng.randint(0, 9), jitter)


def kill_during_play(db: Path | str, plan: PlayKill, tmp: Path) -> tuple[list[str | None], list[str] | None, bool]:
    """Run and kill; returns (what it printed as decided, what was sent in flight (interactive),
    whether it got far enough to print the header, i.e. the attempt was started)."""
    rng = random.Random(plan.seed + 1)
    if plan.mode in ("scripted", "startup"):
        child = Child(["run", plan.scenario, "--policy", "random", "--seed", str(plan.seed), "--db", str(db)],
                      tmp / "stderr.txt")
        if plan.mode == "startup":
            time.sleep(plan.jitter)
        else:
            child.wait_for(lambda text: len(reported(text)) >= plan.after and "Briefing:" in text)
            time.sleep(plan.jitter)
        child.kill()
        child.finish()
        return reported(child.text), None, "Briefing:" in child.text
    child = Child(["run", plan.scenario, "--db", str(db)], tmp / "stderr.txt", stdin=True)
    sent: list[str] = []
    answered_up_to = 0  # output before this offset holds prompts already answered
    for answered in range(plan.after + 1):
        if not child.wait_for(lambda text, start=answered_up_to: PROMPT.search(text, start) is not None):
            break  # the scenario ended
        if answered == plan.after and plan.mode == "prompt":
            break
        match = PROMPT.search(child.text, answered_up_to)
        assert match is not None
        answered_up_to = len(child.text)
        choices = int(match.group(1) or 0)
        answer = "w" if match.group(2) and (not choices or rng.random() < 0.15) else str(rng.randint(1, choices))
        child.send(answer)
        sent.append(answer)
        if answered == plan.after:  # in flight: kill while this one is being committed
            time.sleep(plan.jitter)
            break
    child.kill()
    child.finish()
    return reported(child.text), sent, "Briefing:" in child.text


def resume_to_the_end(db: Path | str, attempt_id: str, seed: int) -> list[tuple[int, str, str | None]]:
    done = subprocess.run(
        [*CLI, "resume", attempt_id, "--policy", "random", "--seed", str(seed), "--json", "--db", str(db)],
        capture_output=True, text=True, cwd=REPO, timeout=WAIT, env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, f"resume failed ({done.returncode}): {done.stderr.strip()}"
    data = json.loads(done.stdout)
    assert data["finished"], "the resumed attempt did not reach an ending"
    return [(d["sequence"], d["scene"], d["choice"]) for d in data["decisions"]]


def test_kill_9_during_play_loses_nothing_reported_and_the_attempt_resumes(tmp_path, soak, records_target):
    db = records_target.db
    scenarios = [p.stem for p in library_files(None)]
    base = base_seed(soak)
    count = kills(soak)
    print(f"kill -9 during play: {count} kills, base seed {base} (CRISIS_SIM_FAULT_SEED={base} replays it)")
    known: dict[str, tuple[str, list[tuple[int, str, str | None]]]] = {}
    seen = {"in-flight stored": 0, "in-flight lost": 0, "resumed": 0}
    for i in range(count):
        plan = plan_play(base + i, scenarios)
        try:
            printed, sent, started = kill_during_play(db, plan, tmp_path)
            if not has_records(db):
                assert not printed and not started, "decisions were printed but there is no records file"
                continue
            assert integrity(db) == ["ok"]
            now = stored(db)
            assert {a: now[a] for a in known} == known, "an attempt stored before this kill changed"
            new = [a for a in now if a not in known]
            assert len(new) <= 1, f"one run made {len(new)} attempts"
            if not new:
                assert not printed and not started, "decisions were printed but no attempt was stored"
                continue
            [attempt] = new
            status, log = now[attempt]
            plan.notes.append(f"(attempt {attempt[:8]}, {len(printed)} printed, {len(log)} stored)")
            assert [s for s, _, _ in log] == list(range(1, len(log) + 1)), "sequences are not 1..n"
            assert len(printed) <= len(log) <= len(printed) + 1, "a printed decision is missing or extra ones"
            assert [c for _, _, c in log[: len(printed)]] == printed, "stored choices differ from those printed"
            if sent is not None and sent and len(log) > len(printed):
                seen["in-flight stored"] += 1
            elif sent is not None and sent and plan.mode == "in-flight":
                seen["in-flight lost"] += 1
            if plan.mode in ("scripted", "startup"):
                expected = scripted_path(plan.scenario, plan.seed)
                assert [(s, c) for _, s, c in log] == expected[: len(log)], "not a prefix of the scripted run"
                assert status == "in_progress" or len(log) == len(expected)
            if status == "in_progress":
                final = resume_to_the_end(db, attempt, plan.seed)
                seen["resumed"] += 1
                assert final[: len(log)] == log, "resume changed the decisions stored before the kill"
                after = stored(db)[attempt]
                assert after == ("completed", final), "the resumed attempt is not stored as played"
                assert integrity(db) == ["ok"]
            known.update({attempt: stored(db)[attempt]})
        except AssertionError as exc:
            raise AssertionError(f"kill {i + 1} of {count}, {plan}: {exc}") from exc
    print(f"kill -9 during play: {len(known)} attempts checked; {seen}")
    assert seen["resumed"] > 0, "no kill left an attempt in progress: the loop tested nothing"


# ---- export ---------------------------------------------------------------------------------------

FORMATS = {"csv": "csv", "jsonl": "jsonl", "xapi": "json"}
ATTEMPTS = 600
"""Attempts in the exported file: big enough that an export writes for a while (xAPI: ~9 MB)."""


def reference(db: Path, fmt: str) -> bytes:
    """The complete export, made in-process by the same writers the command uses."""
    out = io.StringIO(newline="")
    with Store.open(db, create=False) as store:
        if fmt == "csv":
            write_csv(store, out, ExportFilter())
        elif fmt == "jsonl":
            write_jsonl(store, out, ExportFilter())
        else:
            write_statements(store, out, ExportFilter(), load_config().academy)
    return out.getvalue().encode("utf-8")


def digest(db: Path) -> str:
    """A hash of every row of every table: the stored facts, whatever the page layout."""
    h = hashlib.sha256()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            for row in sorted(map(repr, conn.execute(f"SELECT * FROM {table}"))):
                h.update(row.encode())
    return h.hexdigest()


def parts(out: Path) -> list[Path]:
    pattern = re.compile(rf"\.{re.escape(out.name)}\.[a-z0-9_]{{8}}\.part")
    return sorted(p for p in out.parent.iterdir() if pattern.fullmatch(p.name))


def signature(path: Path) -> tuple[int, int, int] | None:
    with contextlib.suppress(FileNotFoundError):
        st = path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns
    return None


def size(path: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_size
    return -1


@pytest.fixture(scope="module")
def export_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export-db")
    source, db = folder / "source.sqlite3", folder / "records.sqlite3"
    with Store.open(source) as store:
        play(store, "ana", SAMPLE_BEST, started_at="2026-03-01T09:00:00.000Z", cohort="2026-spring")
        play(store, "ben", [None, "reflect-feeling", "ask-directly", "promise-secret"],
             started_at="2026-03-02T10:00:00.000Z")
    copy_attempts(source, db, ATTEMPTS)
    with Store.open(db) as store:  # and one attempt still in progress
        play(store, "cy", SAMPLE_BEST[:3], started_at="2026-03-03T11:00:00.000Z", finish=False)
    return db


def test_kill_9_during_export_leaves_the_old_file_or_the_complete_new_one(export_db, tmp_path, soak):
    db = export_db
    refs = {fmt: reference(db, fmt) for fmt in FORMATS}
    facts = digest(db)
    seed = base_seed(soak)
    base = seed + 7919  # not the play loop's seeds
    count = kills(soak)
    print(f"kill -9 during export: {count} kills, base seed {seed} (CRISIS_SIM_FAULT_SEED={seed} replays it)")
    old = b"attempt_id,overall\r\nan older export,42\r\n"
    mid_write = 0
    for i in range(count):
        rng = random.Random(base + i)
        fmt = rng.choice(sorted(FORMATS))
        out = tmp_path / f"attempts.{FORMATS[fmt]}"
        before = rng.choice(["absent", "old", "complete"])
        if before == "absent":
            out.unlink(missing_ok=True)
        else:
            out.write_bytes(old if before == "old" else refs[fmt])
        startup = rng.random() < 0.15
        target = rng.uniform(0, 1.0) if startup else rng.uniform(0, 0.95) * len(refs[fmt])
        what = f"seed {base + i}: {fmt} export over {before} file, killed " + (
            f"{target:.3f} s after start" if startup else f"at {int(target)} of {len(refs[fmt])} bytes written"
        )
        try:
            earlier = set(parts(out))
            old_stat = signature(out)
            child = Child(["export", "--format", fmt, "--db", str(db), "--out", str(out)], tmp_path / "stderr.txt")
            if startup:
                time.sleep(target)
            else:  # kill when the export (in its temporary file, or wherever it writes) reached the target
                deadline = time.monotonic() + WAIT
                while child.proc.poll() is None:
                    growing = [p for p in parts(out) if p not in earlier]
                    if signature(out) != old_stat:
                        growing.append(out)
                    if any(size(p) >= target for p in growing):
                        break
                    assert time.monotonic() < deadline, "the export never got going"
                    time.sleep(0.001)
            child.kill()
            code = child.finish()
            left = parts(out)
            if code == 0:
                assert "wrote" in child.text, child.stderr()
            if [p for p in left if p not in earlier]:
                mid_write += 1
            assert len(left) <= 1, f"temporary files pile up: {[p.name for p in left]}"
            if out.exists():
                content = out.read_bytes()
                assert content in (refs[fmt], old if before == "old" else refs[fmt]), (
                    f"{out.name} is neither the file from before nor the complete export "
                    f"({len(content)} bytes; complete: {len(refs[fmt])})"
                )
            else:
                assert before == "absent", f"the {before} {out.name} disappeared"
            assert integrity(db) == ["ok"]
        except AssertionError as exc:
            raise AssertionError(f"kill {i + 1} of {count}, {what}: {exc}") from exc
    assert digest(db) == facts, "exporting (and being killed) changed the records"
    print(f"kill -9 during export: {mid_write} of {count} kills landed while the export was being written")
    assert mid_write > 0, "no kill landed while an export was being written: the loop tested nothing"
    # A finished export removes what killed ones left behind, and leaves the complete file.
    out = tmp_path / "attempts.csv"
    done = subprocess.run([*CLI, "export", "--format", "csv", "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=WAIT)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == refs["csv"]
    assert parts(out) == []


def test_an_export_removes_what_killed_exports_left_but_never_a_live_export_file(tmp_path):
    """A killed export's temporary file holds no lock; a live one's does (``flock``)."""
    import fcntl

    from simulator.export import open_output, remove_stale_parts

    out = tmp_path / "attempts.csv"
    stale = tmp_path / ".attempts.csv.k1ll3d_9.part"
    stale.write_text("half an export")
    unrelated = tmp_path / ".attempts.csv.my-notes.part"  # not a name an export makes
    unrelated.write_text("keep me")
    live = tmp_path / ".attempts.csv.wr1t1ng0.part"
    live.write_text("an export still being written by another process")
    lock = os.open(live, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with open_output(out) as stream:
            stream.write("attempt_id\r\n")
        assert out.read_bytes() == b"attempt_id\r\n"
        assert not stale.exists() and unrelated.exists() and live.exists()
    finally:
        os.close(lock)
    assert remove_stale_parts(out) == [live]  # its export is gone now: it is stale too
    assert sorted(p.name for p in tmp_path.iterdir()) == [".attempts.csv.my-notes.part", "attempts.csv"]
