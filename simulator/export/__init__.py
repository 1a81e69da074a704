"""Exports of the records store: CSV and JSON Lines (``tabular``), xAPI statements (``xapi``)
and sending them to an LRS (``lrs``).

Every exporter streams: it walks ``Store.attempts`` (a cursor) and fetches decisions in
batches, so memory stays flat however many attempts the file holds. What to export is one
``ExportFilter``, shared by all formats, so ``--trainee``/``--since``/... mean the same thing
everywhere. ``docs/records-and-exports.md`` documents every column and shape.

This package never imports textual (``crisis-sim export`` must start fast and run headless).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from simulator.records import FRONT_ENDS, MODES, Attempt, RecordsStore, StoreError, open_store

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

STATUSES = ("in_progress", "completed", "abandoned")



class ExportError(Exception):
    """An export that cannot be done as asked; the message is one line."""


class FilterError(ExportError, ValueError):
    """A filter value that cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class ExportFilter:
    """Which attempts to export; every field left None matches everything.

    ``since``/``until`` compare with ``started_at`` and are ISO 8601 UTC strings in the store's
    own form (``2026-03-01T00:00:00.000Z``; make them with ``time_bound``): ``since`` is
    inclusive, ``until`` exclusive. ``status`` is one of ``STATUSES``, ``mode`` of ``MODES``,
    ``front_end`` of ``FRONT_ENDS``. Scripted runs (``run-scripted``: nobody chose) are left out
    unless ``include_scripted`` or ``front_end`` asks for them.
    """

    trainee: str | None = None
    scenario: str | None = None
    cohort: str | None = None
    since: str | None = None
    until: str | None = None
    status: str | None = None
    include_void: bool = False
    """Also voided attempts (``--include-void``); they are left out otherwise."""
    mode: str | None = None
    front_end: str | None = None
    include_scripted: bool = False

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise FilterError(f"unknown status '{self.status}' (one of {', '.join(STATUSES)})")
        if self.mode is not None and self.mode not in MODES:
            raise FilterError(f"unknown mode '{self.mode}' (one of {', '.join(MODES)})")
        if self.front_end is not None and self.front_end not in FRONT_ENDS:
            raise FilterError(f"unknown front end '{self.front_end}' (one of {', '.join(FRONT_ENDS)})")
        if self.since and self.until and self.since >= self.until:
            raise FilterError(f"--since ({self.since}) must be before --until ({self.until})")

    def attempts(self, store: RecordsStore) -> Iterator[Attempt]:
        """The matching attempts, oldest first, streamed."""
        return store.attempts(**asdict(self))

    def check_known(self, store: RecordsStore) -> None:
        """Raise FilterError when a trainee/scenario/cohort filter matches no attempt at all,
        so a typo is told apart from 'nothing in this period'."""
        for column, value, what in (
            ("trainee_id", self.trainee, "trainee"),
            ("scenario_id", self.scenario, "scenario"),
            ("cohort", self.cohort, "cohort"),
        ):
            if value is not None and not store.known(column, value):
                raise FilterError(f"no attempt in {store.path} has {what} '{value}'; check the {what} id")


def format_time(moment: datetime) -> str:
    """The store's time form: ISO 8601 UTC with milliseconds and a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_bound(text: str, *, end: bool = False) -> str:
    """``--since``/``--until`` text to the store's time form.

    Accepts a date (``2026-03-01``) or a full ISO 8601 time (``2026-03-01T14:00``,
    ``...Z``, ``...+01:00``); a time without an offset is taken as UTC. A date alone means the
    start of that day (UTC); with ``end=True`` (``--until``) it means the end of that day, so
    ``--until 2026-03-31`` includes the 31st. Raises FilterError with a one-line message.
    """
    text = text.strip()
    try:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            return format_time(day + timedelta(days=1) if end else day)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_time(moment)  # OverflowError: year 1 or 9999 moved past the range by its offset
    except (ValueError, IndexError, OverflowError):
        raise FilterError(
            f"'{text}' is not a date (YYYY-MM-DD) or an ISO 8601 time (e.g. 2026-03-01T14:00:00Z)"
        ) from None


def open_for_export(path: str | Path) -> RecordsStore:
    """Open an existing records file for an export: never creates one, and (like every
    Store.open) never changes a file that is not ours. The whole file is checked first
    (``PRAGMA integrity_check``, about 1 s per GB): an export is what an academy keeps as
    evidence, so it must not quietly leave out rows a damaged page hides. Raises StoreError
    with a one-line message."""
    try:
        return open_store(path, create=False, check="full")
    except StoreError as exc:
        if str(exc).startswith("no records file at"):
            raise StoreError(f"{exc}; check --db (or CRISIS_SIM_DB, or [records] db in the config)") from None
        raise


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once symbolic links are resolved, or
    (both existing) the same file under two names, a hard link."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError):
        return False


class _OnTerminal:
    r"""An export written to a terminal: ``\r\n`` line ends shown as line ends, every other
    control or bidi character shown as its escape (``\x1b``), so the data reaches the person
    reading it and nothing in it acts on their terminal. Only ``write`` is used by exporters."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.carriage_return = False  # a "\r" at the end of the last write: "\r\n" may be split

    def write(self, text: str) -> int:
        from simulator.safetext import shown_escaped

        size = len(text)
        if self.carriage_return:
            text, self.carriage_return = "\r" + text, False
        if text.endswith("\r"):
            text, self.carriage_return = text[:-1], True
        self.stream.write(shown_escaped(text.replace("\r\n", "\n")))
        return size

    def flush(self) -> None:
        if self.carriage_return:
            self.stream.write("\\r")
            self.carriage_return = False
        self.stream.flush()


@contextlib.contextmanager
def open_output(target: str | Path | None, *, protect: Mapping[Path, str] | None = None) -> Iterator[TextIO]:
    """A UTF-8 text stream (``newline=""``) for an export.

    ``None`` or ``-``: standard output. A device or pipe (``/dev/null``, a FIFO): written
    straight through. Any other path: a temporary file in the same folder, synced
    and renamed over the path only when the export finished, so a crash or an error never
    leaves a half-written file under the final name (the temporary file is removed; one left by
    a killed export is removed by the next export to the same path). A new
    file is readable by its owner only (records are personal data); an existing file keeps
    its permissions. ``protect`` maps files that must never be overwritten to what they are
    (``{records: "the records file", key: "the signing key file"}``; their ``-wal``/``-shm``/
    ``-journal`` companions are protected with them). Standard output that is a terminal gets
    the data with control and bidi characters shown as escapes. Raises ExportError.
    """
    protect = protect or {}
    if target is None or str(target) == "-":
        sys.stdout.flush()
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            # A person reads a terminal: a name holding ESC ] 52 must not set their clipboard.
            out: TextIO | _OnTerminal = _OnTerminal(stream) if sys.stdout.isatty() else stream
            yield out  # type: ignore[misc]
            out.flush()
        finally:
            with contextlib.suppress(ValueError, OSError):
                stream.detach()
        return
    path = Path(target)
    for kept, what in protect.items():
        for suffix in ("", "-wal", "-shm", "-journal"):
            if same_file(path, Path(f"{kept}{suffix}")):
                raise ExportError(f"--out {path} is {what}{' (its ' + suffix[1:] + ' file)' if suffix else ''}; "
                                  "choose another file")
    if path.is_dir():
        raise ExportError(f"--out {path} is a folder; give a file name")
    if path.exists() and not path.is_file():
        # A device or a pipe (/dev/null, /dev/stdout, a FIFO): written straight through, as the
        # shell's '>' does. Renaming a temporary file over it would replace /dev/null itself.
        try:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                yield fh
        except OSError as exc:
            raise ExportError(f"cannot write to {path}: {exc.strerror}") from None
        return
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"--out {path}: the folder {folder} does not exist")
    remove_stale_parts(path)
    fd, tmp, lock = _temporary(path)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
        _sync_folder(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        if lock is not None:
            os.close(lock)


def _part_pattern(path: Path) -> re.Pattern[str]:
    """The names ``open_output`` gives its temporary files for ``path`` (``tempfile.mkstemp``:
    8 random characters), so nothing else is ever taken for one."""
    return re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.part")


def _temporary(path: Path) -> tuple[int, Path, int | None]:
    """A new temporary file beside ``path``: its descriptor, its path, and a second descriptor
    holding an exclusive ``flock`` on it until the export is renamed into place, which tells a
    live export's file from one a killed export left behind (``remove_stale_parts``)."""
    folder = path.parent
    for _ in range(20):
        try:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
        except OSError as exc:
            raise ExportError(f"cannot write in {folder}: {exc.strerror}") from None
        if fcntl is None:
            return fd, Path(name), None
        try:
            lock = os.open(name, os.O_RDONLY)
        except OSError:
            os.close(fd)
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(lock).st_nlink:
                return fd, Path(name), lock
        except OSError:
            pass
        # another export's clean-up took it for a stale file before it was locked: make another
        os.close(lock)
        os.close(fd)
    raise ExportError(f"cannot make a temporary file in {folder} for the export; try again")


def remove_stale_parts(path: Path) -> list[Path]:
    """Delete the temporary files of exports to ``path`` that were killed before they finished
    (a live export holds a lock on its own; those are left alone). Returns what was deleted.
    Without ``fcntl`` (Windows) nothing is deleted: a left-over file is only clutter."""
    if fcntl is None:
        return []
    pattern = _part_pattern(path)
    removed = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    for name in names:
        if not pattern.fullmatch(name):
            continue
        part = path.parent / name
        try:
            fd = os.open(part, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live export is writing it
        try:
            part.unlink()
            removed.append(part)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the rename survives a power cut too (POSIX; a no-op elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "STATUSES",
    "ExportError",
    "ExportFilter",
    "FilterError",
    "format_time",
    "open_for_export",
    "open_output",
    "remove_stale_parts",
    "time_bound",
]
