"""The PostgreSQL records store, through psycopg 3 (the optional extra ``crisis-sim[postgres]``).

For a class or an academy whose records live on a server: ``--db postgresql://USER@HOST/DB`` or
``[records] url`` in the config. The same interface and the same promises as the SQLite file
where they apply (``docs/records-and-exports.md``, ``docs/security.md`` section 7b):

- **Credentials and TLS.** The password never comes from the URL or a flag: it is read from
  ``CRISIS_SIM_DB_PASSWORD`` (or libpq's own ``PGPASSWORD`` / ``~/.pgpass``). A server that is
  not on this machine (not a Unix socket, ``localhost``, 127.0.0.0/8 or ``::1``) is only
  contacted with ``sslmode=require`` or stronger (``verify-full`` recommended), so neither the
  password nor the records cross a network unencrypted; after connecting, the session must
  really be encrypted.
- **Each decision committed and read back** before the call returns, in its own transaction.
- **Exact schema** (``pgschema``): checked on open and again inside every write, under locks
  that keep it from changing until the commit.
- **Migrations** run under an advisory lock (``pg_advisory_xact_lock``), each step in one
  transaction with the check repeated inside it: many processes opening a new database at once
  migrate it once.
- **No hang**: connecting waits at most 10 s, a lock 15 s (``lock_timeout``), then one line.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from simulator.records import pgschema
from simulator.records.base import Fetch, Run, SqlStore, T
from simulator.records.errors import StoreError
from simulator.records.schema import SCHEMA_VERSION
from simulator.records.sqlitefile import new_identity

PASSWORD_ENV = "CRISIS_SIM_DB_PASSWORD"
URL_SCHEMES = ("postgresql://", "postgres://")
SECURE_SSLMODES = ("require", "verify-ca", "verify-full")
CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT_MS = 15_000
RETRIES = 4
_cursor_names = itertools.count()


def is_url(location: str) -> bool:
    return str(location).startswith(URL_SCHEMES)


@lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    """A statement written with ``?`` placeholders, for psycopg (``%s``, a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "records on PostgreSQL need psycopg: install them with pip install 'crisis-sim[postgres]'"
        ) from None
    return psycopg


def _local(host: str) -> bool:
    """A Unix socket, or an address of this machine."""
    if host == "" or host.startswith(("/", "@")) or host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def location(url: str, environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """The connection parameters of a ``postgresql://`` URL and how it is shown in messages
    (never with a password), after the credentials and TLS rules; StoreError otherwise."""
    environ = os.environ if environ is None else environ
    psycopg = _psycopg()
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = " ".join(str(exc).split())
        example = "e.g. postgresql://USER@HOST/DB"
        raise StoreError(f"'{_redacted(url)}' is not a PostgreSQL URL ({reason}); {example}") from None
    shown = shown_url(params)
    if params.get("password"):
        raise StoreError(
            f"{shown}: put no password in the URL (it shows in process lists and in 'crisis-sim config'); "
            f"set {PASSWORD_ENV} (or PGPASSWORD) instead"
        )
    hosts = str(
        params.get("hostaddr") or params.get("host") or environ.get("PGHOSTADDR") or environ.get("PGHOST") or ""
    )
    sslmode = str(params.get("sslmode") or environ.get("PGSSLMODE") or "")
    if not sslmode and str(params.get("requiressl") or environ.get("PGREQUIRESSL") or "") == "1":
        sslmode = "require"
    remote = [h for h in hosts.split(",") if not _local(h.strip())]
    if remote and sslmode not in SECURE_SSLMODES:
        raise StoreError(
            f"{shown}: the server {remote[0]} is not on this machine, and without TLS the password and the records "
            "would cross the network readable by anyone on it: add ?sslmode=verify-full (or sslmode=require) to "
            "the URL, or reach the server through an SSH tunnel to a local port"
        )
    return params, shown


def shown_url(params: Mapping[str, Any]) -> str:
    """A URL for messages, from connection parameters: user, host, port, database, sslmode."""
    user = f"{params['user']}@" if params.get("user") else ""
    host = str(params.get("host") or params.get("hostaddr") or "")
    port = f":{params['port']}" if params.get("port") else ""
    query = f"?sslmode={params['sslmode']}" if params.get("sslmode") else ""
    return f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}{query}"


def _redacted(url: str) -> str:
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:[hidden]@", url)


def describe(exc: Exception, shown: str, password: str | None = None) -> str:
    """The one-line message for an error psycopg raised about the server at ``shown``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if password:
        text = text.replace(password, "[hidden]")
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if "password authentication failed" in text or sqlstate == "28P01":
        return f"the PostgreSQL server at {shown} refused the password: check {PASSWORD_ENV} (or PGPASSWORD)"
    if "no password supplied" in text or "fe_sendauth" in text:
        return f"the PostgreSQL server at {shown} asks for a password: set {PASSWORD_ENV} (or PGPASSWORD)"
    if sqlstate == "3D000" or re.search(r'database "[^"]*" does not exist', text):
        return f"there is no database at {shown}: check the URL, or ask the server's administrator to create it"
    if sqlstate.startswith("28"):
        return f"the PostgreSQL server at {shown} refused the connection ({text}); check the user in the URL"
    if sqlstate == "42501":
        return f"{shown}: the user may not do that ({text}); ask the database's administrator for the rights"
    if sqlstate == "53100":
        return f"the disk of the PostgreSQL server at {shown} is full; nothing stored was lost ({text})"
    if sqlstate == "55P03" or "lock timeout" in text:
        return f"the records at {shown} stayed locked by another session for too long; try again"
    if "Connection refused" in text or "timeout expired" in text or "could not translate host name" in text:
        return f"cannot reach the PostgreSQL server at {shown} ({text}); check the URL and that the server runs"
    if "server closed the connection" in text or "consuming input failed" in text or "the connection is lost" in text:
        return (f"lost the connection to the PostgreSQL server at {shown} ({text}); everything committed before is "
                "kept: run again (an unfinished attempt can be resumed)")
    return f"records at {shown}: {text}"


class PostgresStore(SqlStore):
    """The records in the ``crisis_sim`` schema of one PostgreSQL database. Use
    ``PostgresStore.open(url)``; close with ``close()`` or ``with``."""

    dialect = "postgresql"

    def __init__(self, conn: Any, shown: str, params: dict[str, Any], password: str | None):
        self.conn = conn
        self.path = shown
        self._params = params
        self._password = password
        self._version = 0
        self._namespace = 0
        self._tables: list[int] = []
        self._guard: tuple[int, str] = (0, "")
        self._snapshots = 0

    # ---- opening ----

    @classmethod
    def open(
        cls, url: str, *, create: bool = True, check: str = "auto", environ: Mapping[str, str] | None = None
    ) -> PostgresStore:
        """Connect to the server the URL names, check (and with ``create``, make or upgrade) the
        records schema. ``check`` is accepted for the interface: the server guards its own
        pages, so every level runs the same exact-schema check. StoreError (one line)."""
        environ = os.environ if environ is None else environ
        params, shown = location(url, environ)
        password = environ.get(PASSWORD_ENV) or None
        store = cls(cls._connect(params, shown, password), shown, params, password)
        try:
            store._prepare(create)
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _connect(params: dict[str, Any], shown: str, password: str | None) -> Any:
        psycopg = _psycopg()
        extra: dict[str, Any] = {"password": password} if password else {}
        try:
            conn = psycopg.connect(
                **params,
                **extra,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="crisis-sim",
                options=f"-c search_path={pgschema.SCHEMA} -c lock_timeout={LOCK_TIMEOUT_MS}",
            )
        except psycopg.Error as exc:
            raise StoreError(describe(exc, shown, password)) from None
        hosts = str(params.get("hostaddr") or params.get("host") or "")
        if not _local(conn.info.host or hosts) and not conn.pgconn.ssl_in_use:
            conn.close()
            raise StoreError(f"{shown}: the connection is not encrypted although sslmode asks for it; check the server")
        return conn

    def _prepare(self, create: bool) -> None:
        """Check the schema; make it or upgrade it (under the advisory lock) when it is older."""
        psycopg = _psycopg()
        try:
            version = pgschema.check(self.conn, self.path)[0]
            if version < SCHEMA_VERSION:
                if version == 0 and not create:
                    raise StoreError(
                        f"no crisis-sim records at {self.path} yet (no schema {pgschema.SCHEMA}); play once to create "
                        "them, or check --db"
                    )
                with self.conn.transaction():
                    self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (pgschema.LOCK_KEY,))
                    version = pgschema.check(self.conn, self.path)[0]  # another process may have done it
                    if version < SCHEMA_VERSION:
                        namespace = pgschema.namespace(self.conn)
                        if namespace is None:
                            self.conn.execute(f"CREATE SCHEMA {pgschema.SCHEMA}")
                        if namespace is None or pgschema.identity_of(namespace[1]) is None:
                            mark = f"{pgschema.MARK} {new_identity() & 0xFFFFFFFF:08x}"
                            self.conn.execute(f"COMMENT ON SCHEMA {pgschema.SCHEMA} IS '{mark}'")
                        pgschema.upgrade(self.conn, version)
            found_ns = pgschema.namespace(self.conn)
            assert found_ns is not None
            self._namespace, self._tables = found_ns[0], pgschema.table_oids(self.conn)
            # read before the last check: a change after it moves the guard, never the other way
            guard = pgschema.guard(self.conn, self._namespace, self._tables)
            self._version = pgschema.check(self.conn, self.path)[0]
            self._guard = guard
        except psycopg.Error as exc:
            raise StoreError(describe(exc, self.path, self._password)) from None

    def reopen(self) -> PostgresStore:
        """A second connection to the same records, the schema just checked."""
        other = PostgresStore(self._connect(self._params, self.path, self._password), self.path, self._params,
                              self._password)
        other._version, other._namespace, other._tables = self._version, self._namespace, self._tables
        other._guard = self._guard
        return other

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what the store is ----

    def version(self) -> int:
        return self._version

    def identity(self) -> str:
        namespace = pgschema.namespace(self.conn)
        return (pgschema.identity_of(namespace[1]) if namespace else None) or "none"

    def check_integrity(self) -> None:
        """The exact-schema check again (the server checks its own pages: there is no
        ``integrity_check`` to run from a client)."""
        psycopg = _psycopg()
        try:
            self._version = pgschema.check(self.conn, self.path)[0]
        except psycopg.Error as exc:
            raise StoreError(describe(exc, self.path, self._password)) from None

    def require_writable(self) -> None:
        """Refuse before play starts when this user may not write the records."""
        rights = self._fetch(
            "SELECT has_table_privilege('trainees', 'INSERT, UPDATE') AND has_table_privilege('attempts', "
            "'INSERT, UPDATE') AND has_table_privilege('decisions', 'INSERT, SELECT')", ()
        )
        if not rights or not rights[0][0]:
            raise StoreError(
                f"{self.path}: this user may not write the records (rights on {pgschema.SCHEMA}.trainees, attempts "
                "and decisions are needed); ask the database's administrator, or choose another store with --db"
            )

    # ---- transactions ----

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[Any]:
        """A write transaction whose tables are locked against schema changes (``ROW
        EXCLUSIVE`` conflicts with every lock that adds a trigger, rule or policy or alters a
        table) and whose schema is then checked to be the one checked on open."""
        psycopg = _psycopg()
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raise RuntimeError("a write while a snapshot is open on the same connection (use reopen())")
        with self.conn.transaction():
            self.conn.execute(f"LOCK TABLE {', '.join(pgschema.TABLES[1:])} IN ROW EXCLUSIVE MODE")
            guard = pgschema.guard(self.conn, self._namespace, self._tables)
            if guard != self._guard:
                version = pgschema.check(self.conn, self.path)[0]  # raises when foreign
                if version != self._version:
                    raise StoreError(f"{self.path}: the records schema changed to version {version} while in use; "
                                     "run again")
                self._guard = guard
            yield self.conn

    def _retry(self, work: Callable[[], Any]) -> Any:
        psycopg = _psycopg()
        transient = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
        for attempt in range(RETRIES):
            try:
                return work()
            except transient:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        return None  # pragma: no cover

    def transact(self, work: Callable[[Run, Fetch], T]) -> T:
        """``SqlStore.transact`` inside ``_guarded`` (tables locked against schema changes, the
        schema checked), retried on a serialisation failure or deadlock."""
        psycopg = _psycopg()

        def attempt() -> T:
            with self._guarded() as conn:
                return work(lambda q, p=(): conn.execute(_pg(q), p).rowcount, self._fetch)

        try:
            return self._retry(attempt)
        except psycopg.Error as exc:
            raise StoreError(describe(exc, self.path, self._password)) from None

    def _lock_attempt(self, run: Run, attempt_id: str) -> None:
        """A transaction-scoped advisory lock on the attempt id: two imports of one attempt at
        once take turns, so the second sees what the first stored."""
        run("SELECT pg_advisory_xact_lock(?, hashtext(?))", (pgschema.LOCK_KEY, attempt_id))

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        psycopg = _psycopg()

        def work() -> None:
            with self._guarded() as conn, conn.cursor() as cursor:
                cursor.executemany(_pg(sql), rows)

        try:
            self._retry(work)
        except psycopg.Error as exc:
            raise StoreError(describe(exc, self.path, self._password)) from None

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read-only transaction at REPEATABLE READ: every query inside sees one state."""
        psycopg = _psycopg()
        try:
            with self.conn.transaction():
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                self._snapshots += 1
                try:
                    yield
                finally:
                    self._snapshots -= 1
        except psycopg.Error as exc:
            raise StoreError(describe(exc, self.path, self._password)) from None

    # ---- reading ----

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.conn.execute(_pg(sql), params).fetchall()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
        """Stream rows through a server-side cursor (memory stays flat for big exports): inside
        a snapshot, a plain one; otherwise one ``WITH HOLD`` (kept by the server after its
        statement, so no transaction stays open between the rows)."""
        psycopg = _psycopg()
        try:
            with self.conn.cursor(name=f"crisis_sim_{next(_cursor_names)}", withhold=not self._snapshots) as cursor:
                cursor.itersize = 500
                cursor.execute(_pg(sql), params)
                yield from cursor
        except psycopg.Error as exc:
            raise StoreError(describe(exc, self.path, self._password)) from None

    def _broken_reference(self) -> tuple[str, str, str] | None:
        rows = self._fetch(
            "SELECT 'attempts', a.id, 'trainees' FROM attempts a LEFT JOIN trainees t ON t.id = a.trainee_id "
            "WHERE t.id IS NULL "
            "UNION ALL SELECT 'decisions', d.attempt_id || ' ' || d.sequence, 'attempts' FROM decisions d "
            "LEFT JOIN attempts a ON a.id = d.attempt_id WHERE a.id IS NULL "
            "UNION ALL SELECT 'lrs_sent', s.statement_id, 'attempts' FROM lrs_sent s "
            "LEFT JOIN attempts a ON a.id = s.attempt_id WHERE a.id IS NULL "
            "UNION ALL SELECT 'instructor_flags', f.attempt_id || ' ' || f.sequence, 'decisions' "
            "FROM instructor_flags f "
            "LEFT JOIN decisions d ON d.attempt_id = f.attempt_id AND d.sequence = f.sequence "
            "WHERE d.attempt_id IS NULL LIMIT 1",
            (),
        )
        return None if not rows else (str(rows[0][0]), str(rows[0][1]), str(rows[0][2]))
