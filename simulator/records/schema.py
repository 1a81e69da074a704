"""The records schema: the migrations of each dialect, and the check that a file's schema is
exactly the one crisis-sim created.

Migrations: ``MIGRATIONS[dialect][n]`` upgrades a records database from version ``n`` to
``n + 1`` (``[0]`` creates version 1); every dialect has the same number of steps, so a version
number means the same tables everywhere: SQLite (``SQLITE_MIGRATIONS``) and PostgreSQL
(``POSTGRESQL_MIGRATIONS``, in the schema ``crisis_sim``). A change to the schema adds one step
to **each** list; ``tests/test_pg_store.py`` checks that both dialects' migrations build the same
tables, columns (types mapped: TEXT = text, INTEGER = bigint, REAL = double precision),
constraints and indexes at every version.

The exact-schema check: a records file can hold more than tables. A trigger (``BEFORE INSERT ON
decisions ... RAISE(IGNORE)`` drops every decision while play reports "progress saved"), a view
named ``attempts`` (a recursive one hangs every reader) or a changed definition all run inside
crisis-sim's own queries. So before any query touches a table, the file's ``sqlite_master``
(type, name, table and SQL of every object) must equal, object for object, what the
migrations create for some version, built once per process on an in-memory database by the
same code that migrates real files. Anything else is refused with one line naming what is
foreign; nothing in the file is used or changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import cache

from simulator.records.errors import StoreError, damaged_message, not_ours_message

SCHEMA_VERSION = 6

VERSION_TABLE = "CREATE TABLE schema_version (version INTEGER NOT NULL)"
"""The one-row table holding the schema version (created before migration 1)."""

SQLITE_MIGRATIONS: tuple[str, ...] = (
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
    # 3: voided attempts (kept, with when, by whom and why; left out of listings unless asked)
    """
    ALTER TABLE attempts ADD COLUMN voided_at TEXT;
    ALTER TABLE attempts ADD COLUMN voided_by TEXT;
    ALTER TABLE attempts ADD COLUMN void_reason TEXT;
    """,
    # 4: what each attempt was (front end, mode, time pressure, the scenario's title), the text
    # of each choice as shown, and each trainee's preferences. Attempts from before: 'headless'
    # in mode meant crisis-sim run (assessment-like: feedback at the end); a seed shows a
    # --policy random run; other run attempts cannot be told apart from scripted ones.
    """
    ALTER TABLE attempts ADD COLUMN front_end TEXT NOT NULL DEFAULT 'app'
        CHECK (front_end IN ('app', 'run', 'run-scripted'));
    ALTER TABLE attempts ADD COLUMN time_pressure INTEGER CHECK (time_pressure IN (0, 1));
    ALTER TABLE attempts ADD COLUMN scenario_title TEXT;
    UPDATE attempts SET front_end = CASE WHEN seed IS NULL THEN 'run' ELSE 'run-scripted' END
        WHERE mode = 'headless';
    UPDATE attempts SET mode = 'assessment' WHERE mode = 'headless';
    ALTER TABLE decisions ADD COLUMN choice_text TEXT;
    CREATE TABLE preferences (
        trainee_id TEXT NOT NULL REFERENCES trainees(id),
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (trainee_id, name)
    );
    """,
    # 5: moments an instructor flagged for the trainee's debrief (never part of the grade)
    """
    CREATE TABLE instructor_flags (
        attempt_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        note TEXT NOT NULL,
        flagged_at TEXT NOT NULL,
        PRIMARY KEY (attempt_id, sequence),
        FOREIGN KEY (attempt_id, sequence) REFERENCES decisions(attempt_id, sequence)
    );
    """,
    # 6: what the trainee typed at a decision in free-text play (personal data: their own words)
    """
    ALTER TABLE decisions ADD COLUMN said TEXT;
    """,
)

POSTGRESQL_MIGRATIONS: tuple[str, ...] = (
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
        seed BIGINT,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'abandoned')),
        grade_json TEXT,
        overall DOUBLE PRECISION,
        passed BIGINT,
        ending_scene TEXT,
        ending_rating TEXT
    );
    CREATE INDEX attempts_by_trainee ON attempts (trainee_id, started_at);
    CREATE INDEX attempts_by_scenario ON attempts (scenario_id, started_at);
    CREATE TABLE decisions (
        attempt_id TEXT NOT NULL REFERENCES attempts(id),
        sequence BIGINT NOT NULL,
        scene TEXT NOT NULL,
        choice TEXT,
        made_at TEXT NOT NULL,
        response_ms BIGINT,
        meters_after TEXT NOT NULL,
        PRIMARY KEY (attempt_id, sequence)
    );
    """,
    # 2: cohorts on attempts, flags after each decision, and what was sent to which LRS
    """
    ALTER TABLE attempts ADD COLUMN cohort TEXT;
    ALTER TABLE attempts ADD COLUMN grade_method BIGINT;
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
    # 3: voided attempts (kept, with when, by whom and why; left out of listings unless asked)
    """
    ALTER TABLE attempts ADD COLUMN voided_at TEXT;
    ALTER TABLE attempts ADD COLUMN voided_by TEXT;
    ALTER TABLE attempts ADD COLUMN void_reason TEXT;
    """,
    # 4: as SQLite's step 4
    """
    ALTER TABLE attempts ADD COLUMN front_end TEXT NOT NULL DEFAULT 'app'
        CHECK (front_end IN ('app', 'run', 'run-scripted'));
    ALTER TABLE attempts ADD COLUMN time_pressure BIGINT CHECK (time_pressure IN (0, 1));
    ALTER TABLE attempts ADD COLUMN scenario_title TEXT;
    UPDATE attempts SET front_end = CASE WHEN seed IS NULL THEN 'run' ELSE 'run-scripted' END
        WHERE mode = 'headless';
    UPDATE attempts SET mode = 'assessment' WHERE mode = 'headless';
    ALTER TABLE decisions ADD COLUMN choice_text TEXT;
    CREATE TABLE preferences (
        trainee_id TEXT NOT NULL REFERENCES trainees(id),
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (trainee_id, name)
    );
    """,
    # 5: moments an instructor flagged for the trainee's debrief (never part of the grade)
    """
    CREATE TABLE instructor_flags (
        attempt_id TEXT NOT NULL,
        sequence BIGINT NOT NULL,
        note TEXT NOT NULL,
        flagged_at TEXT NOT NULL,
        PRIMARY KEY (attempt_id, sequence),
        FOREIGN KEY (attempt_id, sequence) REFERENCES decisions(attempt_id, sequence)
    );
    """,
    # 6: as SQLite's step 6
    """
    ALTER TABLE decisions ADD COLUMN said TEXT;
    """,
)
"""The same steps for PostgreSQL: SQLite's INTEGER (64-bit) is BIGINT, REAL is DOUBLE PRECISION;
JSON stays TEXT (stored and read back as the exact text written, like SQLite)."""

PG_VERSION_TABLE = "CREATE TABLE schema_version (version BIGINT NOT NULL)"

MIGRATIONS: dict[str, tuple[str, ...]] = {"sqlite": SQLITE_MIGRATIONS, "postgresql": POSTGRESQL_MIGRATIONS}
"""Every dialect's migrations, by dialect name."""

assert all(len(steps) == SCHEMA_VERSION for steps in MIGRATIONS.values())

SchemaObject = tuple[str, str, str, str | None]
"""One row of ``sqlite_master``: (type, name, table name, SQL)."""

PLANNER_TABLES: frozenset[SchemaObject] = frozenset(
    {
        ("table", "sqlite_stat1", "sqlite_stat1", "CREATE TABLE sqlite_stat1(tbl,idx,stat)"),
        ("table", "sqlite_stat4", "sqlite_stat4", "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)"),
    }
)
"""Statistics SQLite's own ``ANALYZE`` / ``PRAGMA optimize`` may add: they steer the query
planner only (plans stay correct whatever they hold), so they are allowed."""


def statements(migration: str) -> list[str]:
    """The SQL statements of one migration step (our migrations hold no ``;`` in literals)."""
    return [s.strip() for s in migration.split(";") if s.strip()]


def upgrade_sqlite(conn: sqlite3.Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Run the SQLite migrations from ``current`` to ``target`` on ``conn``, inside the caller's
    transaction. The one code path for real files and for the reference schema."""
    if current == 0:
        conn.execute(VERSION_TABLE)
        conn.execute("INSERT INTO schema_version VALUES (0)")
    for version in range(current, target):
        for statement in statements(SQLITE_MIGRATIONS[version]):
            conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = ?", (version + 1,))


def objects(conn: sqlite3.Connection) -> frozenset[SchemaObject]:
    """Every object in the file's schema (``sqlite_master`` only: no table or view is read),
    less SQLite's own planner statistics."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return frozenset(tuple(r) for r in rows) - PLANNER_TABLES  # type: ignore[misc]


@cache
def reference(version: int) -> frozenset[SchemaObject]:
    """The exact schema of a records file at ``version``, made by the migrations themselves on
    an in-memory database (once per process)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        if version:
            upgrade_sqlite(conn, 0, version)
        return objects(conn)
    finally:
        conn.close()


def check(conn: sqlite3.Connection, path: str) -> int:
    """The schema version of the records file on ``conn`` (0: an empty database), after checking
    that its schema is exactly one crisis-sim created. StoreError (one line) naming what is
    foreign otherwise; a file from a newer crisis-sim, or not a records file at all, is named as
    such. Reads ``sqlite_master`` first and no table or view before it matched."""
    found = objects(conn)
    if not found:
        return 0
    version_table = ("table", "schema_version", "schema_version", VERSION_TABLE)
    stored = _stored_version(conn) if version_table in found else None  # a plain table as ours: reading runs nothing
    if isinstance(stored, int) and stored > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer crisis-sim (records schema {stored}, this version knows "
            f"{SCHEMA_VERSION}); upgrade crisis-sim to use it"
        )
    for version in range(SCHEMA_VERSION, 0, -1):
        if found == reference(version):
            if stored != version:
                problem = f"its schema_version table reads {_shown(stored)}, but its tables are of version {version}"
                raise StoreError(damaged_message(path, problem))
            return version
    ours = {o[1] for v in range(1, SCHEMA_VERSION + 1) for o in reference(v)}
    if not {o[1] for o in found} & ours:
        raise StoreError(not_ours_message(path))
    closest = min((reference(v) for v in range(1, SCHEMA_VERSION + 1)), key=lambda ref: len(ref ^ found))
    raise StoreError(
        f"{path} is not as crisis-sim created it ({foreign_objects(found, closest)}); it was left as it is: "
        "keep a copy and restore it from a backup"
    )


def _stored_version(conn: sqlite3.Connection) -> object:
    rows = conn.execute("SELECT version FROM schema_version LIMIT 2").fetchall()
    return rows[0][0] if len(rows) == 1 else f"{len(rows)} rows"


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else f"{text[:37]}..."


def foreign_objects(found: Iterable[SchemaObject], expected: Iterable[SchemaObject]) -> str:
    """What differs between a file's schema and the expected one, most telling first: objects
    crisis-sim did not make, changed definitions, missing ones (at most three, then a count)."""
    found_by_name = {o[1]: o for o in found}
    expected_by_name = {o[1]: o for o in expected}
    foreign = found_by_name.keys() - expected_by_name.keys()
    parts = []
    for name in sorted(found_by_name.keys() & expected_by_name.keys()):
        got, want = found_by_name[name], expected_by_name[name]
        if got[0] != want[0]:
            parts.append(f"'{_shown(name)}' is a {got[0]}, not crisis-sim's {want[0]}")
    for name in sorted(foreign):
        kind, _, table, _ = found_by_name[name]
        if name.startswith("sqlite_autoindex_") and table in foreign:
            continue  # the key of a foreign table: named with its table
        on = f" on {_shown(table)}" if kind in ("trigger", "index", "rule", "policy") and table != name else ""
        parts.append(f"{'an' if kind == 'index' else 'a'} {kind} '{_shown(name)}'{on} that crisis-sim did not create")
    for name in sorted(found_by_name.keys() & expected_by_name.keys()):
        got, want = found_by_name[name], expected_by_name[name]
        if got[0] == want[0] and got != want:
            parts.append(f"the {got[0]} '{_shown(name)}' has a changed definition")
    for name in sorted(expected_by_name.keys() - found_by_name.keys()):
        parts.append(f"the {expected_by_name[name][0]} '{name}' is missing")
    more = f", and {len(parts) - 3} more" if len(parts) > 3 else ""
    return "; ".join(parts[:3]) + more
