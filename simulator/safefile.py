"""Reading files whose path comes from outside: regular files only, never blocking, never unbounded.

Scenarios, rubrics, signatures (``FILE.sig``), signing keys, the config file, last-trainee.json
and the scenario path an attempt stored are all paths a user (or a shared folder, or a records
file) can point anywhere. A named pipe (FIFO) blocks ``open()`` until someone writes, and
``/dev/zero`` or ``/dev/urandom`` never end: read whole, they eat memory until the machine kills
the process (a ``.sig`` linked to /dev/zero reached 20 GB). So every such read goes through here:

- the path (symbolic links followed) must be a regular file, checked with ``stat`` before
  anything is opened (opening some devices has effects of its own);
- it is opened with ``O_NONBLOCK`` (a FIFO swapped in after the check cannot stall the open)
  and ``O_NOCTTY``, and checked again on the open descriptor (``fstat``), so what is read is
  what was checked;
- at most ``max_bytes`` are read, and a file over the cap is refused before reading.

Refusals are ``OSError`` subclasses whose ``strerror`` is one plain sentence saying what the path
is and what to do, so callers' existing ``except OSError`` lines turn them into their own
one-line messages (``cannot read X (it is a named pipe (FIFO), not a regular file; ...)``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """The path is a folder, a pipe, a device or a socket (after following links)."""

    def __init__(self, path: str | Path, mode: int):
        kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
        super().__init__(errno.EINVAL, f"it is {kind}, not a regular file; give the path of a regular file", str(path))
        self.kind = kind


class FileTooLarge(OSError):
    """The file holds more than the reader's cap."""

    def __init__(self, path: str | Path, size: int | None, max_bytes: int):
        found = f"it is {size:,} bytes" if size is not None else "it is larger than it said"
        super().__init__(errno.EFBIG, f"{found}, over the {max_bytes:,}-byte limit; check it is the right file",
                         str(path))
        self.size = size
        self.max_bytes = max_bytes


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading in binary mode if, and only if, it is a regular file.
    Raises NotRegularFile, or the OSError of ``stat``/``open`` (FileNotFoundError, ...)."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegularFile(path, before.st_mode)
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to open by path
    flags = os.O_RDONLY | nonblocking | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):  # replaced between the stat and the open
            raise NotRegularFile(path, now.st_mode)
        if nonblocking:
            os.set_blocking(fd, True)  # regular files never block; plain reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them (else FileTooLarge)."""
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise FileTooLarge(path, size, max_bytes)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise FileTooLarge(path, None, max_bytes)
    return data


def read_text(path: str | Path, max_bytes: int) -> str:
    """``read_regular`` decoded as UTF-8 (UnicodeDecodeError when it is not)."""
    return read_regular(path, max_bytes).decode("utf-8")
