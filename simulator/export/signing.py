"""Signed exports: an HMAC-SHA256 over an export file, kept beside it in ``FILE.sig``.

Why: an academy hands trainees (or a records clerk) an exported CSV and later needs to know it
was not edited on the way, e.g. a score raised in a spreadsheet before it was handed in.
A keyed hash does that with nothing but the stdlib: whoever holds the academy key can sign and
check; whoever does not can neither forge a signature nor fix one up after editing the file.

The signature file is a small JSON object. The MAC covers the signature's own fields (format,
size, SHA-256, time, key fingerprint) *and* the file's bytes, so neither can be changed alone.
The file name is not covered: renaming ``export.csv`` to ``jane-doe.csv`` is not tampering.

The key comes from ``CRISIS_SIM_SIGNING_KEY`` (the key itself) or from ``[signing] key_file``
in the config (a file holding it, owned and readable by its user only, in no folder that anyone
can write to: the checks ssh makes of a private key). It is never stored in the config itself,
because ``crisis-sim config`` prints the config and it is often readable by everyone on a
classroom machine.

Writing is guarded too: ``FILE.sig`` is replaced or removed only when it is a signature this
program wrote, so an export never destroys a records file, a key file or someone's GPG
signature that happens to sit at that name.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from simulator.config import expand_home
from simulator.safefile import FileTooLarge, open_regular, read_text

SIGNING_KEY_ENV = "CRISIS_SIM_SIGNING_KEY"
SIGNATURE_SUFFIX = ".sig"
FORMAT = "crisis-sim-signature/1"
ALGORITHM = "HMAC-SHA256"
MIN_KEY_CHARS = 32
"""A key shorter than this is refused: the MAC is only as strong as a guess at the key."""
CHUNK = 1 << 20
SIGNATURE_BYTES = 64 * 1024
"""A signature is about 400 bytes; a bigger file at ``FILE.sig`` is not one of ours."""
MAX_KEY_FILE_BYTES = 64 * 1024
"""A key is 64 hex digits; a bigger key file is not one (and /dev/zero never ends)."""
FIELDS = ("format", "algorithm", "bytes", "sha256", "signed_at", "key", "mac")
NEW_KEY_HINT = "make one with 'crisis-sim keygen FILE'"


class SigningError(Exception):
    """Signing or checking cannot be done as asked (no key, unreadable file...); one line."""


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: ``ok`` and a one-line explanation a coordinator can act on."""

    ok: bool
    message: str


def signature_path(path: str | Path) -> Path:
    return Path(f"{path}{SIGNATURE_SUFFIX}")


def _check_key(key: str, where: str) -> bytes:
    key = key.strip()
    if len(key) < MIN_KEY_CHARS:
        raise SigningError(
            f"the signing key in {where} is too short (at least {MIN_KEY_CHARS} characters); {NEW_KEY_HINT}"
        )
    return key.encode("utf-8")


def load_key(key_file: str | None, environ: dict[str, str] | None = None) -> bytes:
    """The academy key: ``CRISIS_SIM_SIGNING_KEY`` wins, else the ``[signing] key_file``.

    A key file that others can read is refused (like ssh does with private keys): a trainee
    who can read the key can sign an edited export.
    """
    env = os.environ if environ is None else environ
    value = env.get(SIGNING_KEY_ENV)
    if value:
        return _check_key(value, SIGNING_KEY_ENV)
    if not key_file:
        raise SigningError(
            f"no signing key: set {SIGNING_KEY_ENV} or '[signing] key_file' in the config; {NEW_KEY_HINT}"
        )
    path = expand_home(key_file)
    try:
        _check_key_file(path, path.stat())
        text = read_text(path, MAX_KEY_FILE_BYTES)
    except FileNotFoundError:
        raise SigningError(f"no signing key file at {path} ([signing] key_file); {NEW_KEY_HINT}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise SigningError(f"cannot read the signing key file {path} ({reason})") from None
    return _check_key(text, str(path))


def _check_key_file(path: Path, info: os.stat_result) -> None:
    """Refuse a key file that someone else could read, replace or has written (POSIX; as ssh
    does with a private key): not owned by the user running crisis-sim, readable or writable by
    group or others, or in a folder anyone can write to that lacks the sticky bit (there anyone
    can rename the key away and put their own in its place)."""
    if os.name != "posix":
        return
    if info.st_uid != os.geteuid():
        raise SigningError(
            f"the signing key file {path} belongs to another user (uid {info.st_uid}), not to you "
            f"(uid {os.geteuid()}); use a key file you own"
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningError(f"the signing key file {path} can be read by others; run 'chmod 600 {path}'")
    folders = [*Path(os.path.abspath(path)).parents, *path.resolve().parents]
    for folder in dict.fromkeys(folders):
        mode = folder.stat().st_mode
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            raise SigningError(
                f"the signing key file {path} is in {folder}, a folder anyone can write to (and without the "
                "sticky bit, anyone can replace files in it); move the key to a folder only you can change"
            )


def new_key_file(path: str | Path) -> Path:
    """Write a fresh random key (256 bits, hex) to ``path``, owner-only; never overwrites."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SigningError(f"{path} already exists; keygen never replaces a key (old exports need it)") from None
    except OSError as exc:
        raise SigningError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path


def fingerprint(key: bytes) -> str:
    """A short name for a key, so 'signed with another key' can be told from 'file edited'."""
    return hashlib.sha256(b"crisis-sim key fingerprint\0" + key).hexdigest()[:16]


def _digest(path: Path, update: Callable[[bytes], Any], copy_to: BinaryIO | None = None) -> int:
    size = 0
    with open_regular(path) as fh:
        while chunk := fh.read(CHUNK):
            update(chunk)
            if copy_to is not None:
                copy_to.write(chunk)
            size += len(chunk)
    return size


def _mac(key: bytes, fields: dict[str, Any], path: Path, copy_to: BinaryIO | None = None) -> str:
    header = json.dumps({k: fields[k] for k in FIELDS if k != "mac"}, sort_keys=True).encode("utf-8")
    mac = hmac.new(key, header + b"\n", hashlib.sha256)
    _digest(path, mac.update, copy_to)
    return mac.hexdigest()


def sign_file(path: str | Path, key: bytes) -> Path:
    """Write ``FILE.sig`` for ``path`` (atomically: a temp file renamed into place)."""
    path = Path(path)
    if not path.is_file():
        raise SigningError(f"{path} is not a regular file (a device or a pipe); sign an export written to a file")
    sha = hashlib.sha256()
    try:
        size = _digest(path, sha.update)
    except OSError as exc:
        raise SigningError(f"cannot read {path} to sign it: {exc.strerror}") from None
    fields: dict[str, Any] = {
        "format": FORMAT,
        "algorithm": ALGORITHM,
        "bytes": size,
        "sha256": sha.hexdigest(),
        "signed_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "key": fingerprint(key),
    }
    fields["mac"] = _mac(key, fields, path)
    target = signature_path(path)
    check_signature_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(fields, fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise SigningError(f"cannot write the signature {target}: {exc.strerror}") from None
    return target


def is_signature(sig: str | Path) -> bool:
    """Whether ``sig`` holds a signature crisis-sim wrote (with any key): a small regular file
    with our ``format``. Only such a file is ever replaced or removed by an export."""
    sig = Path(sig)
    try:
        info = sig.stat()
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size > SIGNATURE_BYTES:
        return False  # a device, a pipe, a records file...: not read at all
    try:
        _read_signature(sig)
    except SigningError:
        return False
    return True


def check_signature_target(path: str | Path, protect: dict[Path, str] | None = None) -> None:
    """Raise SigningError unless ``FILE.sig`` for ``path`` may be written: absent, or a
    signature crisis-sim wrote. ``protect`` names files to call by name in the message (the
    records file, the key file) when ``FILE.sig`` is one of them."""
    from simulator.export import same_file

    sig = signature_path(path)
    for kept, what in (protect or {}).items():
        if same_file(sig, Path(kept)):
            raise SigningError(f"{sig} is {what}; --sign would replace it with the signature: choose another --out")
    if (sig.exists() or sig.is_symlink()) and not is_signature(sig):
        raise SigningError(
            f"{sig} exists and is not a crisis-sim signature; --sign would replace it: move it away or "
            "choose another --out"
        )


def drop_stale_signature(path: str | Path) -> Path | None:
    """Remove ``FILE.sig`` left by an earlier signed export of ``path``: kept, it would make
    'verify' call this unsigned export tampered with. Only a signature crisis-sim wrote is
    removed (never a records file, a key or another program's file that has that name).
    Returns the removed path, if any."""
    sig = signature_path(path)
    if not is_signature(sig):
        return None
    try:
        sig.unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SigningError(f"cannot remove the old signature {sig} ({exc.strerror}); delete it by hand") from None
    return sig


def _read_signature(sig: Path) -> dict[str, Any]:
    """The fields of the signature ``sig``; SigningError (one line) for anything else. The one
    place that reads a .sig file."""
    try:
        data = json.loads(read_text(sig, SIGNATURE_BYTES))
    except FileNotFoundError:
        raise SigningError(f"no signature {sig}; the export was not signed (export it with --sign)") from None
    except (RecursionError, FileTooLarge):  # '[[[[...' nested deeper than the parser goes; too big to be ours
        raise SigningError(f"{sig} is not a crisis-sim signature (or a damaged one); ask for it again") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "not a crisis-sim signature"
        raise SigningError(f"{sig} cannot be read ({reason}); ask for the export and its .sig again") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or any(not isinstance(data.get(k), int if k == "bytes" else str) for k in FIELDS)
    ):
        raise SigningError(f"{sig} is not a crisis-sim signature (or a damaged one); ask for it again")
    return data


def verify_file(
    path: str | Path, key: bytes, signature: str | Path | None = None, *, copy_to: BinaryIO | None = None
) -> Verdict:
    """Check ``path`` against its signature. Tampering is a Verdict (not an exception): the
    caller reports it; SigningError is for what stops the check itself (a missing file).
    ``copy_to`` receives the very bytes the MAC was computed over (``crisis-sim import`` reads
    them, so what it imports is what was verified, whatever happens to the file meanwhile)."""
    path = Path(path)
    sig = Path(signature) if signature else signature_path(path)
    if not path.is_file():
        raise SigningError(f"no file at {path}" if not path.exists() else f"{path} is not a file")
    if signature is None and path.suffix == SIGNATURE_SUFFIX and not sig.exists():
        export = path.with_suffix("")
        raise SigningError(f"{path} is a signature; check the export it belongs to: crisis-sim verify {export}")
    fields = _read_signature(sig)
    if fields["algorithm"] != ALGORITHM:
        named = fields["algorithm"] if len(fields["algorithm"]) <= 40 else fields["algorithm"][:40] + "..."
        return Verdict(False, f"{path}: NOT verified: signed with '{named}', which this crisis-sim does not check")
    if fields["key"] != fingerprint(key):
        return Verdict(
            False,
            f"{path}: NOT verified: signed with another key (fingerprint {fields['key']}, yours is "
            f"{fingerprint(key)}); check {SIGNING_KEY_ENV} or [signing] key_file",
        )
    try:
        expected = _mac(key, fields, path, copy_to)
        size = path.stat().st_size
    except (OSError, TypeError, ValueError, RecursionError):
        return Verdict(False, f"{path}: NOT verified: {sig} is damaged")
    if not hmac.compare_digest(expected, str(fields["mac"])):
        return Verdict(False, f"{path}: NOT verified: it or its signature was changed after signing; do not accept it")
    return Verdict(True, f"{path}: verified (signed {fields['signed_at']}, key {fields['key']}, {size} bytes)")
