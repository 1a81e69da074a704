"""The SQLite records store: one file, crash-safe, shared by several processes.

Durability: WAL mode with ``synchronous=FULL``, and every decision is its own committed
transaction, so killing the process at any moment loses no decision already made. Several
processes may share one file (a classroom server): writes take the lock with
``BEGIN IMMEDIATE`` and wait (busy timeout, then a few retries) instead of failing.

Opening never changes a file that fails a check: an existing file is first looked at from its
bytes (``sqlitefile``: header, page count against size, identity) and through a read-only
connection, which never writes the file, not even the checkpoint of a ``-wal`` that SQLite does
when the last connection closes. What is checked (``docs/security.md`` section 7):

- every open, cheaply: the header; the file's identity against what it reads through its
  ``-wal`` (a ``-wal`` of another file is refused, both files left byte for byte); the exact
  schema (``schema.check``: no trigger, view or changed table runs inside our queries);
- ``PRAGMA integrity_check`` (every page, every index against its table) when the file and
  its ``-wal`` are at most ``FULL_CHECK_MAX_BYTES`` (so play never writes into a small damaged
  file), and always for exports, ``regrade`` and ``crisis-sim check`` (``check="full"``).

While open, every write transaction first compares SQLite's schema cookie with the one checked
(another process adding a trigger mid-session is caught), and a decision's transaction must have
changed exactly the one row it inserted (SQLite's change count, which counts triggers' changes too)
before COMMIT: "progress saved" is only ever said about a row stored as written.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from simulator.records import schema
from simulator.records.base import PROGRESS_SQL, Fetch, Run, SqlStore, T  # noqa: F401  (PROGRESS_SQL: tests, benchmarks)
from simulator.records.errors import (
    StoreError,
    damaged_message,
    describe,
    foreign_wal_message,
    read_only_message,
)
from simulator.records.schema import SCHEMA_VERSION
from simulator.records.sqlitefile import (
    APPLICATION_ID,
    Header,
    create_private,
    new_identity,
    read_header,
    wal_frames_bytes,
)

BUSY_TIMEOUT_MS = 15_000
LOCK_RETRIES = 8

FULL_CHECK_MAX_BYTES = 16 * 1024 * 1024
"""Files (with their ``-wal``) up to this size get the full ``integrity_check`` on every open
(about 50 ms at this size); bigger ones only on export, ``regrade`` and ``crisis-sim check``."""

CHECKS = ("none", "auto", "full")
"""How much of the file's content ``Store.open`` checks (see ``Store.open``)."""

class Store(SqlStore):
    """One open SQLite records file. Use ``Store.open(path)``; close with ``close()`` or ``with``.

    The records interface (``simulator.records.RecordsStore``) comes from ``SqlStore``; this
    class adds SQLite's opening, checks, locking and transactions (``conn`` and
    ``transaction`` are SQLite's own, for this module and tests)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self._cookie: int | None = None  # the schema cookie of the schema last checked
        self._changes_at_begin = 0  # conn.total_changes when the current write transaction began

    # ---- opening ----

    @classmethod
    def open(
        cls, path: str | Path, *, create: bool = True, check_integrity: bool = False, check: str | None = None
    ) -> Store:
        """Open (``create``: and create if missing) the records file at ``path``.

        ``create=True`` is for the callers that write (playing): a missing file is created
        (owner-only) and a file this process may not write is refused at once, before a trainee
        plays a decision that could not be recorded. ``check`` is how much of an existing
        file's content is checked, through a read-only connection, before anything is written:
        ``"auto"`` (the default: ``integrity_check`` when the file is at most
        ``FULL_CHECK_MAX_BYTES``), ``"full"`` (always; also what ``check_integrity=True``
        asks for: exports, regrade, ``crisis-sim check``) or ``"none"`` (a second connection to
        a file just checked). The cheap checks (header, identity and ``-wal``, exact schema) run
        at every level. Raises StoreError (one line).
        """
        level = check or ("full" if check_integrity else "auto")
        if level not in CHECKS:
            raise ValueError(f"check must be one of {CHECKS}")
        path = Path(path)
        name = str(path)
        if path.is_dir():
            raise StoreError(f"{name} is a folder; --db needs a file path")
        if not path.exists():
            if not create:
                raise StoreError(f"no records file at {name}")
            if wal_frames_bytes(path):
                raise StoreError(foreign_wal_message(name, "there is no records file for it to belong to"))
            if not path.parent.exists():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {name}: {exc.strerror}") from None
            create_private(path)
        elif not path.is_file():  # a pipe or a device: reading it could block or never end
            raise StoreError(f"{name} is not a regular file (a pipe, device or socket); --db needs a records file")
        elif create and not os.access(path, os.W_OK):
            raise StoreError(read_only_message(name))
        if path.stat().st_size == 0:
            if not create:
                raise StoreError(f"{name} is empty, not a crisis-sim records file; check --db")
            # A -wal is only ever made after the first page is in the file: one beside an empty
            # file belongs elsewhere (unless another process has just written that first page).
            if wal_frames_bytes(path) and path.stat().st_size == 0:
                raise StoreError(foreign_wal_message(name, f"{name} is empty, and its own -wal could not exist yet"))
        checked = None if path.stat().st_size == 0 else cls._inspect(path, level)
        try:
            conn = sqlite3.connect(name, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, name)) from None
        store = cls(conn, name)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if checked is False:  # no read-only look was possible, and no -wal is there: check here
                checked = _verify(conn, path, read_header(path), level)
            store._prepare(create, checked or None)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(describe(exc, name)) from None
        except StoreError:
            conn.close()
            raise
        return store

    @classmethod
    def _inspect(cls, path: Path, level: str) -> tuple[int, int] | bool:
        """Check an existing file before any connection that could write it opens: header,
        identity against the view through its ``-wal``, exact schema, content (``level``).
        Returns the schema cookie and version it checked, or False when the read-only look was
        not possible (a rollback journal only a writer may replay, a folder where the ``-shm``
        index cannot be made) and no ``-wal`` is there: the caller then checks through its own
        connection, before it writes."""
        name = str(path)
        header = read_header(path)
        conn = None
        try:
            conn = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            return _verify(conn, path, header, level)
        except sqlite3.Error as exc:
            text = str(exc)
            if "readonly" in text or "read-only" in text or "unable to open" in text:
                if wal_frames_bytes(path):  # only a writer could read it, and its close might merge it
                    raise StoreError(
                        f"cannot check {name}-wal without writing ({' '.join(text.split())}); make the folder "
                        "writable (or copy both files to one that is) and run again"
                    ) from None
                return False
            raise StoreError(describe(exc, name)) from None
        finally:
            if conn is not None:
                conn.close()

    def _configure(self) -> None:
        mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            self._retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL"))
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def _prepare(self, create: bool, checked: tuple[int, int] | None = None) -> None:
        """Identity, WAL mode and migrations. A new file gets its identity while still in
        rollback-journal mode, so it is in the main file before any ``-wal`` exists; an older
        file gets one with its next migration or play, checkpointed at once. ``checked``: the
        schema cookie and version the read-only look just checked; when this connection sees
        the same cookie, the schema is the one checked (SQLite moves the cookie with every
        schema change) and is not read a second time."""
        unchanged = checked is not None and checked[0] == self._schema_cookie()
        current = checked[1] if checked is not None and unchanged else self.version()
        mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal" and create:
            self._retry(self._claim_identity)
        self._configure()
        if current < SCHEMA_VERSION or (create and self._identity() is None):

            def upgrade() -> bool:
                with self.transaction():
                    now = self.version()  # another process may have migrated meanwhile
                    if now < SCHEMA_VERSION:
                        schema.upgrade_sqlite(self.conn, now)
                    return self._claim_identity_here()

            if self._retry(upgrade):  # the identity is in the -wal: put it in the file itself
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._cookie = self._schema_cookie()

    def _claim_identity(self) -> None:
        with self.transaction():
            self._claim_identity_here()

    def _claim_identity_here(self) -> bool:
        """Inside a write transaction: give the file its identity unless it has one."""
        if self._identity() is not None:
            return False
        self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        self.conn.execute(f"PRAGMA user_version = {new_identity()}")
        return True

    def _identity(self) -> int | None:
        if self.conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            return None
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _schema_cookie(self) -> int:
        return int(self.conn.execute("PRAGMA schema_version").fetchone()[0])

    def identity(self) -> str:
        """The file's identity as 8 hex digits ("none" for a file from before identities)."""
        found = self._identity()
        return "none" if found is None else _hex(found)

    def check_integrity(self) -> None:
        """``PRAGMA integrity_check``: every page, and every index against its table (index-only
        damage makes filtered listings miss rows). A damaged file is reported, never
        overwritten. Stops at the first problem found."""
        _integrity(self.conn, self.path)

    def require_writable(self) -> None:
        """Refuse (one line) when this process may not write the file, before play starts
        rather than at the first decision, which could then not be recorded."""
        if not os.access(self.path, os.W_OK):
            raise StoreError(read_only_message(self.path))

    def version(self) -> int:
        """The schema version, after checking the schema is exactly crisis-sim's."""
        return schema.check(self.conn, self.path)

    # ---- transactions ----

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front (no deadlock between writers).
        When another process changed the schema since it was checked (SQLite's schema cookie
        moved), the schema is checked again before anything is written."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self._changes_at_begin = self.conn.total_changes
            cookie = self._schema_cookie()
            if cookie != self._cookie and self._cookie is not None:
                schema.check(self.conn, self.path)
                self._cookie = cookie
            yield self.conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _stored_alone(self, row: tuple[Any, ...]) -> Callable[[Fetch], str | None]:
        """``SqlStore._stored_alone`` without reading the row back: SQLite's ``total_changes``
        counts every row inserted, updated or deleted on this connection, by triggers too, so
        exactly one change since ``BEGIN`` means the INSERT stored its row (``write`` already
        checked it changed one) and nothing rewrote or removed it, or touched any other row. The
        schema, checked under the same write lock, has no trigger anyway: this is the last line
        of defence, and costs no statement."""

        def check(fetch: Fetch) -> str | None:
            changed = (self.conn.total_changes - self._changes_at_begin) & 0xFFFFFFFF  # a C int: may wrap
            if changed == 1:
                return None
            return f"{changed} rows changed in its transaction instead of 1: a trigger in the file changed more"

        return check

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same state of the file (exports)."""
        try:
            self.conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path)) from None
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

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

    def transact(self, work: Callable[[Run, Fetch], T]) -> T:
        """``SqlStore.transact``: one ``BEGIN IMMEDIATE`` transaction, retried while another
        process holds the lock; SQLite's errors become StoreError."""

        def attempt() -> T:
            with self.transaction() as conn:
                return work(lambda q, p=(): conn.execute(q, p).rowcount, lambda q, p=(): conn.execute(q, p).fetchall())

        try:
            return self._retry(attempt)
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path)) from None

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        def work() -> None:
            with self.transaction() as conn:
                conn.executemany(sql, rows)

        try:
            self._retry(work)
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path)) from None

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
            raise StoreError(describe(exc, self.path)) from None

    def _broken_reference(self) -> tuple[str, str, str] | None:
        broken = next(iter(self._query("PRAGMA foreign_key_check")), None)
        return None if broken is None else (str(broken[0]), str(broken[1]), str(broken[2]))

    def reopen(self) -> Store:
        """A second connection to the file just opened and checked (exports that read one
        snapshot while this connection writes)."""
        return Store.open(self.path, create=False, check="none")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

# ---- the checks, shared by the read-only look and a writer's own ----


def _verify(conn: sqlite3.Connection, path: Path, header: Header, level: str) -> tuple[int, int]:
    """Exact schema, identity through the ``-wal``, then content per ``level``; on ``conn``,
    which may see the file through its ``-wal`` and must not have written anything. Returns
    the schema cookie read before the check, and the version checked (a schema changed in
    between has a newer cookie, so it is never taken for the one checked)."""
    name = str(path)
    cookie = int(conn.execute("PRAGMA schema_version").fetchone()[0])
    version = schema.check(conn, name)
    seen_app = conn.execute("PRAGMA application_id").fetchone()[0]
    seen_id = conn.execute("PRAGMA user_version").fetchone()[0]
    if header.identity is not None:
        if seen_app != APPLICATION_ID:
            raise StoreError(foreign_wal_message(name, "it holds another program's database, or an older records file"))
        if seen_id != header.identity:
            why = f"it holds records file {_hex(seen_id)}, and this file is {_hex(header.identity)}"
            raise StoreError(foreign_wal_message(name, why))
    elif wal_frames_bytes(path):  # a file from before identities (or one killed while getting its own)
        if seen_app not in (0, APPLICATION_ID) or (seen_app == 0 and seen_id != 0):
            raise StoreError(foreign_wal_message(name, "it holds another program's database"))
        _check_attempts_kept(conn, path)
    if level == "full" or (level == "auto" and _size(path) <= FULL_CHECK_MAX_BYTES):
        _integrity(conn, name)
    return cookie, version


def _hex(identity: int) -> str:
    return f"{identity & 0xFFFFFFFF:08x}"


def _size(path: Path) -> int:
    return path.stat().st_size + wal_frames_bytes(path)


def _integrity(conn: sqlite3.Connection, name: str) -> None:
    rows = conn.execute("PRAGMA integrity_check(1)").fetchall()
    if rows != [("ok",)]:
        first = " ".join(str(rows[0][0]).split()) if rows else "unknown problem"
        if first.startswith("*** in database"):
            first = first.split("***", 2)[-1].strip()
        raise StoreError(damaged_message(name, first))


def _check_attempts_kept(view: sqlite3.Connection, path: Path, tries: int = 5) -> None:
    """For a file without an identity in its own header: every attempt the main file holds by
    itself must still be there when read through the ``-wal`` (a records file's ``-wal`` only
    ever adds). Reads the main file alone with ``immutable=1``; another process checkpointing
    meanwhile can make that read fail, so it is tried again."""
    name = str(path)
    for attempt in range(tries):
        alone = sqlite3.connect(f"{path.absolute().as_uri()}?immutable=1", uri=True, isolation_level=None)
        try:
            if schema.check(alone, name) == 0:
                return
            missing = _first_missing(
                (r[0] for r in alone.execute("SELECT id FROM attempts ORDER BY id")),
                (r[0] for r in view.execute("SELECT id FROM attempts ORDER BY id")),
            )
        except (sqlite3.Error, StoreError):
            if attempt == tries - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
            continue
        finally:
            alone.close()
        if missing is not None:
            raise StoreError(foreign_wal_message(
                name, f"read through it, the file no longer holds attempt {str(missing)[:8]} that it holds by itself"
            ))
        return


def _first_missing(kept: Iterator[Any], seen: Iterator[Any]) -> Any:
    """The first value of sorted ``kept`` that sorted ``seen`` lacks (None: all there)."""
    current = next(seen, None)
    for value in kept:
        while current is not None and _order(current) < _order(value):
            current = next(seen, None)
        if current != value:
            return value
    return None


def _order(value: Any) -> tuple[int, Any]:
    """SQLite's sort order across types (numbers, text, blobs), so both walks agree."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, bytes(value))
