"""The records store: attempts and every decision, in one SQLite file, crash-safe.

Facts, not derived numbers: who played which exact scenario (id, author version, sha256 of the
file) graded by which exact rubric (id, sha256), when, and every decision with its time. The
grade is stored too, for fast listing, but it can always be recomputed from the decisions
(``crisis-sim regrade`` checks that it is).

Durability: WAL mode with ``synchronous=FULL``, and every decision is its own committed
transaction, so killing the process at any moment loses no decision already made. Several
processes may share one file (a classroom server): writes take the lock with
``BEGIN IMMEDIATE`` and wait (busy timeout, then a few retries) instead of failing.

Damage: every open first looks at the file through a read-only connection (is it ours, does
``PRAGMA quick_check`` pass; exports ask for the full ``integrity_check``), so a damaged file,
or a ``-wal`` companion that does not belong to it, is reported before anything is written:
a read-only connection never checkpoints a WAL into the file when it closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 15_000
LOCK_RETRIES = 8

# Each entry upgrades the schema by one version; MIGRATIONS[0] creates version 1.
MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE trainees (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE attempts (
        id TEXT PRIMARY KEY,
        trainee_id TEXT NOT NULL REFERENCES trainees(id),
        scenario_id TEXT NOT NULL,
        scenario_version TEXT NOT NULL,
        scenario_sha256 TEXT NOT NULL,
        scenario_path TEXT NOT NULL,
        rubric_id TEXT NOT NULL,
        rubric_sha256 TEXT NOT NULL,
        mode TEXT NOT NULL,
        seed INTEGER,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'abandoned')),
        grade_json TEXT,
        overall REAL,
        passed INTEGER,
        ending_scene TEXT,
        ending_rating TEXT
    );
    CREATE INDEX attempts_by_trainee ON attempts (trainee_id, started_at);
    CREATE INDEX attempts_by_scenario ON attempts (scenario_id, started_at);
    CREATE TABLE decisions (
        attempt_id TEXT NOT NULL REFERENCES attempts(id),
        sequence INTEGER NOT NULL,
        scene TEXT NOT NULL,
        choice TEXT,
        made_at TEXT NOT NULL,
        response_ms INTEGER,
        meters_after TEXT NOT NULL,
        PRIMARY KEY (attempt_id, sequence)
    );
    """,
    # 2: cohorts on attempts, flags after each decision, and what was sent to which LRS
    """
    ALTER TABLE attempts ADD COLUMN cohort TEXT;
    ALTER TABLE attempts ADD COLUMN grade_method INTEGER;
    ALTER TABLE decisions ADD COLUMN flags_after TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX attempts_by_started ON attempts (started_at);
    CREATE TABLE lrs_sent (
        statement_id TEXT NOT NULL,
        lrs TEXT NOT NULL,
        attempt_id TEXT NOT NULL REFERENCES attempts(id),
        sent_at TEXT NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (statement_id, lrs)
    );
    """,
]
assert len(MIGRATIONS) == SCHEMA_VERSION


class StoreError(Exception):
    """A problem with the records file, with a one-line message that says what to do."""


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-26T15:04:05.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Attempt:
    id: str
    trainee_id: str
    scenario_id: str
    scenario_version: str
    scenario_sha256: str
    scenario_path: str
    rubric_id: str
    rubric_sha256: str
    mode: str
    seed: int | None
    cohort: str | None
    started_at: str
    ended_at: str | None
    status: str
    overall: float | None
    passed: bool | None
    ending_scene: str | None
    ending_rating: str | None
    grade_json: str | None
    grade_method: int | None
    trainee_name: str = ""

    @property
    def grade(self) -> dict[str, Any] | None:
        return json.loads(self.grade_json) if self.grade_json else None


@dataclass(frozen=True)
class DecisionRow:
    attempt_id: str
    sequence: int
    scene: str
    choice: str | None
    made_at: str
    response_ms: int | None
    meters_after: dict[str, int]
    flags_after: dict[str, bool]


_ATTEMPT_COLUMNS = (
    "a.id, a.trainee_id, a.scenario_id, a.scenario_version, a.scenario_sha256, a.scenario_path, "
    "a.rubric_id, a.rubric_sha256, a.mode, a.seed, a.cohort, a.started_at, a.ended_at, a.status, "
    "a.overall, a.passed, a.ending_scene, a.ending_rating, a.grade_json, a.grade_method, t.display_name"
)


def _attempt(row: Sequence[Any]) -> Attempt:
    values = list(row)
    values[15] = None if values[15] is None else bool(values[15])
    return Attempt(*values)


def _decision(row: Sequence[Any]) -> DecisionRow:
    return DecisionRow(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), json.loads(row[7]))


def _describe(exc: sqlite3.Error, path: str) -> str:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return f"{path} is not a crisis-sim records file (not SQLite, or damaged); check --db"
    if "disk is full" in text or "database or disk is full" in text:
        return f"the disk holding {path} is full; free some space (nothing stored was lost)"
    if "readonly" in text or "read-only" in text:
        return read_only_message(path)
    if "unable to open" in text:
        return f"cannot open {path}; check that its folder exists and is writable"
    if "locked" in text:
        return f"{path} stayed locked by another process for too long; try again"
    if "malformed" in text or "corrupt" in text:
        return damaged_message(path, text)
    if "disk I/O error" in text:
        return f"cannot read or write {path} (disk I/O error); check the disk and free space, then try again"
    return f"records file {path}: {text}"


def read_only_message(path: str) -> str:
    return f"{path} is read-only; check its permissions or choose another file with --db"


def damaged_message(path: str, problem: str) -> str:
    return f"{path} is damaged ({problem}); it was left as it is: keep a copy and restore it from a backup"


CHECKS = ("none", "quick", "full")
"""How much of the file ``Store.open`` checks before using it (see ``Store.open``)."""


class Store:
    """One open records file. Use ``Store.open(path)``; close with ``close()`` or ``with``."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path

    # ---- opening and migrating ----

    @classmethod
    def open(
        cls, path: str | Path, *, create: bool = True, check_integrity: bool = False, check: str | None = None
    ) -> Store:
        """Open (``create``: and create if missing) the records file at ``path``.

        ``create=True`` is for the callers that write (playing): a missing file is created and
        a file this process may not write is refused at once, before a trainee plays a decision
        that could not be recorded. ``check`` is how much of an existing file is checked first,
        through a read-only connection (so nothing is written to a file that fails): ``"quick"``
        (the default: ``PRAGMA quick_check``, about 0.5 s per GB), ``"full"``
        (``integrity_check``, also what ``check_integrity=True`` asks for; exports use it) or
        ``"none"`` (a second connection to a file just checked). Raises StoreError (one line).
        """
        level = check or ("full" if check_integrity else "quick")
        if level not in CHECKS:
            raise ValueError(f"check must be one of {CHECKS}")
        path = Path(path)
        name = str(path)
        checked = True
        if not path.exists():
            if not create:
                raise StoreError(f"no records file at {name}")
            if not path.parent.exists():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {name}: {exc.strerror}") from None
        elif path.is_dir():
            raise StoreError(f"{name} is a folder; --db needs a file path")
        else:
            empty = path.stat().st_size == 0
            if empty and not create:
                raise StoreError(f"{name} is empty, not a crisis-sim records file; check --db")
            if create and not os.access(path, os.W_OK):
                raise StoreError(read_only_message(name))
            if not empty:
                checked = cls._inspect(path, level)
        try:
            conn = sqlite3.connect(name, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, name)) from None
        store = cls(conn, name)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            store.version()  # read-only: refuse a file that is not ours before changing anything
            if not checked and level != "none":
                store.check_integrity(quick=level == "quick")
            store._configure()
            store._migrate()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(_describe(exc, name)) from None
        except StoreError:
            conn.close()
            raise
        return store

    @classmethod
    def _inspect(cls, path: Path, level: str) -> bool:
        """Check an existing file through a read-only connection: is it ours, and (``level``)
        does its structure hold. A read-only connection never writes the file, not even the
        checkpoint of a ``-wal`` companion that SQLite does when the last connection closes, so
        a damaged file (or one with another file's ``-wal`` beside it) stays exactly as it was.
        Returns False when the read-only look was not possible (a rollback journal only a
        writer may replay, a folder where the ``-shm`` index cannot be made): the caller then
        checks through its own connection, still before it writes anything."""
        name = str(path)
        try:
            conn = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error:
            return False
        probe = cls(conn, name)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            probe.version()
            if level != "none":
                probe.check_integrity(quick=level == "quick")
        except sqlite3.Error as exc:
            text = str(exc)
            if "readonly" in text or "read-only" in text or "unable to open" in text:
                return False
            raise StoreError(_describe(exc, name)) from None
        finally:
            conn.close()
        return True

    def _configure(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            self._retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL"))
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def check_integrity(self, *, quick: bool = False) -> None:
        """``PRAGMA integrity_check`` (``quick``: ``quick_check``, which skips comparing indexes
        with their tables, in about half the time); a damaged file is reported, never
        overwritten. Stops at the first problem found."""
        pragma = "quick_check" if quick else "integrity_check"
        rows = self.conn.execute(f"PRAGMA {pragma}(1)").fetchall()
        if rows != [("ok",)]:
            first = " ".join(str(rows[0][0]).split()) if rows else "unknown problem"
            first = re.sub(r"^\*\*\* in database \w+ \*\*\*\s*", "", first)
            raise StoreError(damaged_message(self.path, first))

    def require_writable(self) -> None:
        """Refuse (one line) when this process may not write the file, before play starts
        rather than at the first decision, which could then not be recorded."""
        if not os.access(self.path, os.W_OK):
            raise StoreError(read_only_message(self.path))

    def version(self) -> int:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables - {"sqlite_sequence"}:
                raise StoreError(f"{self.path} is an SQLite file but not a crisis-sim records file; check --db")
            return 0
        row = self.conn.execute("SELECT version FROM schema_version").fetchone()
        value = row[0] if row else 0
        if not isinstance(value, int):
            raise StoreError(f"{self.path} is damaged (its schema version reads {value!r}); restore it from a backup")
        return value

    def _migrate(self) -> None:
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer crisis-sim (records schema {current}, this version "
                f"knows {SCHEMA_VERSION}); upgrade crisis-sim to use it"
            )
        if current == SCHEMA_VERSION:
            return

        def upgrade() -> None:
            with self.transaction():
                now = self.version()  # another process may have migrated meanwhile
                if now == 0:
                    self.conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    self.conn.execute("INSERT INTO schema_version VALUES (0)")
                for version in range(now, SCHEMA_VERSION):
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute("UPDATE schema_version SET version = ?", (version + 1,))

        self._retry(upgrade)

    # ---- transactions ----

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (no deadlock between writers)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _retry(self, work: Callable[[], Any]) -> Any:
        """Run a write, retrying if another process holds the lock past the busy timeout."""
        delay = 0.05
        for attempt in range(LOCK_RETRIES):
            try:
                return work()
            except sqlite3.OperationalError as exc:
                transient = "locked" in str(exc) or "busy" in str(exc)
                if not transient or attempt == LOCK_RETRIES - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        return None  # pragma: no cover

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in its own committed transaction; errors become StoreError."""

        def work() -> None:
            with self.transaction() as conn:
                conn.execute(sql, params)

        try:
            self._retry(work)
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path)) from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- trainees ----

    def ensure_trainee(self, trainee_id: str, display_name: str | None = None) -> None:
        """Create the trainee if new; update the display name when one is given."""
        self.write(
            "INSERT INTO trainees (id, display_name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET display_name = CASE WHEN ? IS NULL THEN display_name "
            "ELSE excluded.display_name END",
            (trainee_id, display_name or trainee_id, utc_now(), display_name),
        )

    # ---- attempts ----

    def start_attempt(
        self,
        trainee_id: str,
        *,
        scenario_id: str,
        scenario_version: str,
        scenario_sha256: str,
        scenario_path: str,
        rubric_id: str,
        rubric_sha256: str,
        mode: str,
        seed: int | None = None,
        cohort: str | None = None,
    ) -> str:
        attempt_id = str(uuid.uuid4())
        self.write(
            "INSERT INTO attempts (id, trainee_id, scenario_id, scenario_version, scenario_sha256, "
            "scenario_path, rubric_id, rubric_sha256, mode, seed, cohort, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'in_progress')",
            (attempt_id, trainee_id, scenario_id, scenario_version, scenario_sha256, scenario_path,
             rubric_id, rubric_sha256, mode, seed, cohort, utc_now()),
        )
        return attempt_id

    def record_decision(
        self,
        attempt_id: str,
        sequence: int,
        scene: str,
        choice: str | None,
        *,
        meters_after: dict[str, int],
        flags_after: dict[str, bool],
        response_ms: int | None = None,
        made_at: str | None = None,
    ) -> None:
        """Commit one decision (``choice`` None = the timer ran out) before returning."""
        self.write(
            "INSERT INTO decisions (attempt_id, sequence, scene, choice, made_at, response_ms, meters_after, "
            "flags_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (attempt_id, sequence, scene, choice, made_at or utc_now(), response_ms,
             json.dumps(meters_after, sort_keys=True), json.dumps(flags_after, sort_keys=True)),
        )

    def finish_attempt(self, attempt_id: str, grade: Any) -> None:
        """Mark completed and store the grade (a ``scoring.grading.Grade``) for fast listing."""
        data = grade.as_dict()
        ending = data.get("ending") or {}
        self.write(
            "UPDATE attempts SET status = 'completed', ended_at = ?, grade_json = ?, overall = ?, passed = ?, "
            "ending_scene = ?, ending_rating = ?, grade_method = ? WHERE id = ?",
            (utc_now(), json.dumps(data, sort_keys=True), data["overall"], int(data["passed"]),
             ending.get("scene"), ending.get("rating"), data.get("method"), attempt_id),
        )

    def abandon_attempt(self, attempt_id: str) -> None:
        self.write(
            "UPDATE attempts SET status = 'abandoned', ended_at = ? WHERE id = ? AND status = 'in_progress'",
            (utc_now(), attempt_id),
        )

    # ---- reading ----

    def _read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path)) from None

    def attempt(self, attempt_id: str) -> Attempt:
        """An attempt by its id, or by a unique prefix of it (at least 6 characters)."""
        rows = self._query(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a JOIN trainees t ON t.id = a.trainee_id "
            "WHERE a.id = ? OR (length(?) >= 6 AND a.id LIKE ? || '%') LIMIT 2",
            (attempt_id, attempt_id, attempt_id),
        )
        found = [_attempt(r) for r in rows]
        if not found:
            raise StoreError(f"no attempt '{attempt_id}' in {self.path}; 'crisis-sim results' lists them")
        if len(found) > 1 and found[0].id != attempt_id:
            raise StoreError(f"'{attempt_id}' matches several attempts; give more of the id")
        return found[0]

    def decisions(self, attempt_id: str) -> list[DecisionRow]:
        return [
            _decision(r)
            for r in self._query(
                "SELECT attempt_id, sequence, scene, choice, made_at, response_ms, meters_after, flags_after "
                "FROM decisions WHERE attempt_id = ? ORDER BY sequence",
                (attempt_id,),
            )
        ]

    def _query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """Stream rows (a cursor, not a list): memory stays flat for big exports."""
        try:
            cursor = self.conn.execute(sql, params)
            while True:
                rows = cursor.fetchmany(500)
                if not rows:
                    return
                yield from rows
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path)) from None

    def attempts(
        self,
        *,
        trainee: str | None = None,
        scenario: str | None = None,
        cohort: str | None = None,
        since: str | None = None,
        until: str | None = None,
        status: str | None = None,
    ) -> Iterator[Attempt]:
        """Attempts matching every filter given, oldest first (streamed)."""
        where, params = [], []
        for column, value in (("a.trainee_id", trainee), ("a.scenario_id", scenario), ("a.cohort", cohort),
                              ("a.status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("a.started_at >= ?")
            params.append(since)
        if until:
            where.append("a.started_at < ?")
            params.append(until)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        for row in self._query(
            f"SELECT {_ATTEMPT_COLUMNS} FROM attempts a JOIN trainees t ON t.id = a.trainee_id {clause} "
            "ORDER BY a.started_at, a.id",
            params,
        ):
            yield _attempt(row)

    def decisions_for(self, attempt_ids: Sequence[str]) -> dict[str, list[DecisionRow]]:
        out: dict[str, list[DecisionRow]] = {a: [] for a in attempt_ids}
        if not attempt_ids:
            return out
        marks = ",".join("?" * len(attempt_ids))
        for row in self._query(
            "SELECT attempt_id, sequence, scene, choice, made_at, response_ms, meters_after, flags_after "
            f"FROM decisions WHERE attempt_id IN ({marks}) ORDER BY attempt_id, sequence",
            list(attempt_ids),
        ):
            out[row[0]].append(_decision(row))
        return out

    def known(self, column: str, value: str) -> bool:
        """Whether any attempt has this trainee/scenario/cohort (to tell a typo from 'no results')."""
        assert column in ("trainee_id", "scenario_id", "cohort")
        return self._read_one(f"SELECT 1 FROM attempts WHERE {column} = ? LIMIT 1", (value,)) is not None

    def progress(self, trainee_id: str) -> dict[str, tuple[str, float | None, str | None]]:
        """Per scenario for one trainee: (status, best completed score, newest in-progress attempt
        id). Status: 'passed' if any attempt passed, else 'completed', else 'in progress'."""
        out: dict[str, tuple[str, float | None, str | None]] = {}
        for scenario_id, passed, best, done, open_id in self._query(
            "SELECT scenario_id, max(coalesce(passed, 0)), max(overall), sum(status = 'completed'), "
            "(SELECT id FROM attempts b WHERE b.trainee_id = a.trainee_id AND b.scenario_id = a.scenario_id "
            " AND b.status = 'in_progress' ORDER BY started_at DESC LIMIT 1) "
            "FROM attempts a WHERE trainee_id = ? GROUP BY scenario_id",
            (trainee_id,),
        ):
            status = "passed" if passed else "completed" if done else "in progress"
            out[scenario_id] = (status, best, open_id)
        return out

    # ---- LRS bookkeeping ----

    def sent_statements(self, lrs: str, statement_ids: Sequence[str]) -> set[str]:
        if not statement_ids:
            return set()
        marks = ",".join("?" * len(statement_ids))
        return {
            r[0]
            for r in self._query(
                f"SELECT statement_id FROM lrs_sent WHERE lrs = ? AND statement_id IN ({marks})",
                [lrs, *statement_ids],
            )
        }

    def mark_sent(self, lrs: str, attempt_id: str, statement_ids: Sequence[str], outcome: str) -> None:
        def work() -> None:
            with self.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO lrs_sent (statement_id, lrs, attempt_id, sent_at, outcome) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(sid, lrs, attempt_id, utc_now(), outcome) for sid in statement_ids],
                )

        try:
            self._retry(work)
        except sqlite3.Error as exc:
            raise StoreError(_describe(exc, self.path)) from None
