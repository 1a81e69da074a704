"""The SQLite records file as bytes on disk: what can be checked before any connection opens it.

Header (the first 100 bytes, SQLite file format section 1.3): the magic string, the page size,
the page count (checked against the file's size: a truncated file is found without reading it)
and the two numbers crisis-sim uses as the file's identity:

- ``application_id`` (offset 68) = ``APPLICATION_ID``, "crisis-sim records";
- ``user_version`` (offset 60) = a random non-zero 32-bit number chosen when the file was
  created, the same for the file's whole life.

Why an identity: SQLite trusts any ``-wal`` file beside a database. A ``-wal`` copied in from
another records file (one killed before its first checkpoint holds that whole database) passes
every integrity check, and the first connection that closes writes it into the file for good.
A read-only connection sees the file *through* its ``-wal``; comparing the identity it reports
with the one in the main file's own header (read here, from the bytes) tells a foreign ``-wal``
before anything could checkpoint it. The identity is written while the file is still in
rollback-journal mode, so it is in the main file itself from the first moment.
"""

from __future__ import annotations

import os
import secrets
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from simulator.records.errors import StoreError, damaged_message, not_ours_message

APPLICATION_ID = 0x43534D31
"""``PRAGMA application_id`` of every crisis-sim records file ("CSM1")."""

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
WAL_HEADER_SIZE = 32


@dataclass(frozen=True)
class Header:
    page_size: int
    pages: int | None  # the in-header page count, None when SQLite would not trust it
    user_version: int
    application_id: int

    @property
    def identity(self) -> int | None:
        """The records file's identity, None for a file made before crisis-sim wrote one."""
        return self.user_version if self.application_id == APPLICATION_ID else None


def new_identity() -> int:
    """A random non-zero signed 32-bit number (``PRAGMA user_version`` is signed)."""
    return secrets.randbelow(2**32 - 1) - (2**31 - 1) or 1


def read_header(path: Path, tries: int = 4) -> Header:
    """The header of the (non-empty) main file, read from its bytes without SQLite. StoreError
    when it is not an SQLite file, belongs to another program, or is shorter than its header
    says (truncated). A checkpoint by another process writes page 1 before the pages that grow
    the file, so a short file is looked at again a few times before it is called damaged."""
    name = str(path)
    for attempt in range(tries):
        try:
            with open(path, "rb") as fh:
                raw = fh.read(HEADER_SIZE)
                size = os.fstat(fh.fileno()).st_size
        except OSError as exc:
            raise StoreError(f"cannot read {name} ({exc.strerror or exc})") from None
        if len(raw) < HEADER_SIZE or not raw.startswith(MAGIC):
            raise StoreError(f"{name} is not a crisis-sim records file (not SQLite, or damaged); check --db")
        page_size = int.from_bytes(raw[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size < 512 or page_size & (page_size - 1):
            raise StoreError(f"{name} is not a crisis-sim records file (not SQLite, or damaged); check --db")
        change_counter = int.from_bytes(raw[24:28], "big")
        pages = int.from_bytes(raw[28:32], "big")
        valid_for = int.from_bytes(raw[92:96], "big")
        trusted = pages if pages and change_counter == valid_for else None
        user_version, application_id = struct.unpack(">i", raw[60:64])[0], struct.unpack(">i", raw[68:72])[0]
        if application_id not in (0, APPLICATION_ID) or (application_id == 0 and user_version != 0):
            raise StoreError(not_ours_message(name))
        if trusted is None or size >= trusted * page_size:
            return Header(page_size, trusted, user_version, application_id)
        if attempt < tries - 1:
            time.sleep(0.05 * (attempt + 1))
    problem = f"it is {size:,} bytes but its header counts {trusted:,} pages of {page_size:,} bytes: cut short"
    raise StoreError(damaged_message(name, problem))


def wal_path(path: Path) -> Path:
    return Path(f"{path}-wal")


def wal_frames_bytes(path: Path) -> int:
    """Bytes of frames in the file's ``-wal`` beyond its header (0: none, or no ``-wal``)."""
    try:
        return max(0, wal_path(path).stat().st_size - WAL_HEADER_SIZE)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise StoreError(f"cannot read {path}-wal ({exc.strerror or exc})") from None


def create_private(path: Path) -> bool:
    """Create the empty records file readable and writable by its owner only (SQLite gives its
    ``-wal`` and ``-shm`` the same mode). False when another process created it first."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        why = exc.strerror or exc
        raise StoreError(f"cannot create {path}: {why}; check --db and that its folder is writable") from None
    os.close(fd)
    return True
