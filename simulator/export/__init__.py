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
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from simulator.records import Attempt, Store, StoreError

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
    inclusive, ``until`` exclusive. ``status`` is one of ``STATUSES``.
    """

    trainee: str | None = None
    scenario: str | None = None
    cohort: str | None = None
    since: str | None = None
    until: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise FilterError(f"unknown status '{self.status}' (one of {', '.join(STATUSES)})")
        if self.since and self.until and self.since >= self.until:
            raise FilterError(f"--since ({self.since}) must be before --until ({self.until})")

    def attempts(self, store: Store) -> Iterator[Attempt]:
        """The matching attempts, oldest first, streamed."""
        return store.attempts(**asdict(self))

    def check_known(self, store: Store) -> None:
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
    except (ValueError, IndexError, OverflowError):
        raise FilterError(
            f"'{text}' is not a date (YYYY-MM-DD) or an ISO 8601 time (e.g. 2026-03-01T14:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


def open_for_export(path: str | Path) -> Store:
    """Open an existing records file for an export: never creates one, and (like every
    Store.open) never changes a file that is not ours. Raises StoreError with a one-line message."""
    try:
        return Store.open(path, create=False)
    except StoreError as exc:
        if str(exc).startswith("no records file at"):
            raise StoreError(f"{exc}; check --db (or CRISIS_SIM_DB, or [records] db in the config)") from None
        raise


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


@contextlib.contextmanager
def open_output(target: str | Path | None, *, protect: Sequence[Path] = ()) -> Iterator[TextIO]:
    """A UTF-8 text stream (``newline=""``) for an export.

    ``None`` or ``-``: standard output. A path: a temporary file in the same folder, synced
    and renamed over the path only when the export finished, so a crash or an error never
    leaves a half-written file under the final name (the temporary file is removed). A new
    file is readable by its owner only (records are personal data); an existing file keeps
    its permissions. ``protect`` lists files that must never be overwritten (the records file:
    its ``-wal``/``-shm``/``-journal`` companions are protected with it). Raises ExportError.
    """
    if target is None or str(target) == "-":
        sys.stdout.flush()
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield stream
            stream.flush()
        finally:
            with contextlib.suppress(ValueError, OSError):
                stream.detach()
        return
    path = Path(target)
    for kept in protect:
        for suffix in ("", "-wal", "-shm", "-journal"):
            if _same_file(path, Path(f"{kept}{suffix}")):
                raise ExportError(f"--out {path} is the records file itself; choose another file")
    if path.is_dir():
        raise ExportError(f"--out {path} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"--out {path}: the folder {folder} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ExportError(f"cannot write in {folder}: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


__all__ = [
    "STATUSES",
    "ExportError",
    "ExportFilter",
    "FilterError",
    "format_time",
    "open_for_export",
    "open_output",
    "time_bound",
]
