"""The one error type of the records store and the messages every backend shares.

Every message is one line that names the records file and says what to do; the CLI prints it
after ``crisis-sim: error:`` and exits 1, the app closes with it.
"""

from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """A problem with the records file, with a one-line message that says what to do."""


def read_only_message(path: str) -> str:
    return f"{path} is read-only; check its permissions or choose another file with --db"


def damaged_message(path: str, problem: str) -> str:
    return f"{path} is damaged ({problem}); it was left as it is: keep a copy and restore it from a backup"


def not_ours_message(path: str) -> str:
    return f"{path} is an SQLite file but not a crisis-sim records file; check --db"


def foreign_wal_message(path: str, why: str) -> str:
    return (
        f"{path}-wal does not belong to the records file beside it ({why}); both were left as they are: "
        "move the -wal away (keep a copy) and run again, or restore the records from a backup"
    )


def edited_message(path: str, where: str, problem: str) -> str:
    """A stored value that crisis-sim never writes: the file was edited by other hands."""
    return (
        f"{path}: {where} {problem}; crisis-sim never writes that (the file was edited or damaged): "
        "keep a copy and restore it from a backup"
    )


def describe(exc: sqlite3.Error, path: str) -> str:
    """The one-line message for an error SQLite raised on ``path``."""
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
        return damaged_message(path, " ".join(text.split()))
    if "disk I/O error" in text:
        return f"cannot read or write {path} (disk I/O error); check the disk and free space, then try again"
    return f"records file {path}: {' '.join(text.split())}"
