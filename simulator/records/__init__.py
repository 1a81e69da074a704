"""The records store: attempts and every decision, crash-safe.

Facts, not derived numbers: who played which exact scenario (id, author version, sha256 of the
file) graded by which exact rubric (id, sha256), when, and every decision with its time. The
grade is stored too, for fast listing, but it can always be recomputed from the decisions
(``crisis-sim regrade`` checks that it is, column by column).

The interface (``interface.RecordsStore``) is dialect-neutral: open a store, write trainees,
attempts, decisions, grades and LRS receipts (each call one verified, committed transaction),
read checked rows back (``rows.Attempt``, ``rows.DecisionRow``), check the store
(``check_integrity``, ``check_rows``). Every failure is a ``StoreError`` with a one-line
message. Modules:

- ``rows``: the row types and the one checked decoder of stored values (types, shapes, times,
  JSON nesting), shared by every backend;
- ``schema``: one migration list per dialect, and the exact-schema check (no trigger, view or
  changed table of other hands runs in our queries);
- ``sqlitefile``: the SQLite file's bytes: header, page count against size, the identity that
  tells a foreign ``-wal``, owner-only creation;
- ``sqlite``: the SQLite ``Store`` (WAL, per-decision commits, several processes, the checks
  on open);
- ``errors``: ``StoreError`` and the shared messages.

- ``base``: the interface written once over each backend's primitives (SQL both dialects run);
- ``postgresql`` and ``pgschema``: the PostgreSQL store (``crisis-sim[postgres]``) and its
  catalog check; ``open_store`` picks the backend from the location (a path or a
  ``postgresql://`` URL).
"""

import re
from pathlib import Path

from simulator.records.errors import StoreError, damaged_message, read_only_message
from simulator.records.interface import RecordsStore
from simulator.records.rows import FRONT_ENDS, MODES, Attempt, DecisionRow, FlagRow, Progress, parse_time, utc_now
from simulator.records.schema import MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS
from simulator.records.sqlite import BUSY_TIMEOUT_MS, CHECKS, FULL_CHECK_MAX_BYTES, LOCK_RETRIES, Store

_SCHEME = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str | Path) -> bool:
    """Whether ``location`` names a records server (``postgresql://...``), not a file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_store(location: str | Path, *, create: bool = True, check: str = "auto") -> RecordsStore:
    """The records store at ``location``: a SQLite file path, or a ``postgresql://`` URL
    (``postgresql.PostgresStore``, with the optional extra ``crisis-sim[postgres]``).
    ``create``: make the store if missing (playing); ``check``: see ``Store.open``."""
    if is_url(location):
        from simulator.records.postgresql import PostgresStore

        return PostgresStore.open(str(location), create=create, check=check)
    if isinstance(location, str) and _SCHEME.match(location):
        scheme = location.split(":", 1)[0]
        raise StoreError(f"--db {scheme}://...: records live in a file (a path) or on PostgreSQL (postgresql://...)")
    return Store.open(location, create=create, check=check)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHECKS",
    "FRONT_ENDS",
    "FULL_CHECK_MAX_BYTES",
    "LOCK_RETRIES",
    "MIGRATIONS",
    "MODES",
    "SCHEMA_VERSION",
    "SQLITE_MIGRATIONS",
    "Attempt",
    "DecisionRow",
    "FlagRow",
    "Progress",
    "RecordsStore",
    "Store",
    "StoreError",
    "damaged_message",
    "is_url",
    "open_store",
    "parse_time",
    "read_only_message",
    "utc_now",
]
