"""The validated library: which scenario files load (and fit their rubric), with what they
found and the few fields a library shows, remembered by the hash of each file's bytes, so a
file that has not changed is not parsed and validated again.

One entry point per use: ``library_index`` for the bundled (or a given) library, what the app's
library screen and ``crisis-sim list`` show (and a classroom server's app processes, one per
browser tab, share); ``scan`` for any files (``crisis-sim validate``). Each returns one
``LibraryEntry`` per file; ``LibraryEntry.load()`` gives the full, freshly validated scenario
and rubric when someone is about to play it.

The cache is a folder of JSON files under platformdirs' user cache folder (``cache_dir()``),
owner-only, safe to delete at any time. An entry is used only when everything that decided it
is unchanged: the file's bytes (SHA-256), crisis-sim's version and code, the libraries that
parse and validate, the cache format (all in the generation folder's name), and for graded
results the rubric's resolved path and bytes. An entry that is unreadable, malformed, odd in
any way (wrong hash, unsafe characters, unexpected fields) or bigger than a real one is ignored
and rebuilt; it is JSON read through a strict pydantic model, never code. Nothing about the
cache ever fails a command: without a usable cache folder, files are simply validated.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import stat
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scoring.rubric_files import find_rubric
from simulator import __version__
from simulator.diagnostics import Diagnostic, DiagnosticError, has_errors
from simulator.safefile import read_regular
from simulator.safetext import has_unsafe
from simulator.sources import DEFAULT_MAX_BYTES, read_bytes

if TYPE_CHECKING:  # the loader, the model and the rubric checks: imported when a file is loaded
    from scoring.catalog import GradedLoad
    from simulator.loader import LoadResult
    from simulator.model import Scenario

CACHE_FORMAT = 1
MAX_ENTRY_BYTES = 32 << 20
"""No real entry comes near this (5,000 diagnostics are about 1 MB); a bigger file is not ours."""
MAX_ENTRIES = 2000
"""Entries kept per generation; past it the least recently written half is removed."""
SHA256_HEX = r"^[0-9a-f]{64}$"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


# ---- what is stored ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Diagnostic(_Strict):
    path: str | None  # None: the scenario file itself, whatever it is called now
    line: int = Field(ge=0)
    col: int = Field(ge=0)
    severity: Literal["error", "warning"]
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)
    message: str


class ScenarioInfo(_Strict):
    """What a library shows of a scenario that loads (and the two things ``validate`` needs
    across files: the rubric it names and where its id is written)."""

    id: str = Field(max_length=200)
    title: str
    difficulty: str = Field(max_length=40)
    minutes: int = Field(ge=0)
    summary: str
    tags: tuple[str, ...]
    objectives: tuple[str, ...]
    content_warning: str
    rubric: str
    id_line: int = Field(ge=0)
    id_col: int = Field(ge=0)

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioInfo:
        mark = scenario.source.value(("id",)) if scenario.source is not None else None
        return cls(
            id=scenario.id,
            title=scenario.title,
            difficulty=scenario.difficulty,
            minutes=scenario.minutes,
            summary=scenario.summary,
            tags=tuple(scenario.tags),
            objectives=tuple(scenario.objectives),
            content_warning=scenario.content_warning,
            rubric=scenario.rubric,
            id_line=mark.line if mark else 0,
            id_col=mark.col if mark else 0,
        )


class _Graded(_Strict):
    rubric_path: str | None  # None: the rubric could not be found
    rubric_sha256: str | None
    ok: bool
    diagnostics: tuple[_Diagnostic, ...]


class _Entry(_Strict):
    format: Literal[1]
    sha256: str = Field(pattern=SHA256_HEX)
    info: ScenarioInfo | None
    diagnostics: tuple[_Diagnostic, ...]
    graded: dict[str, _Graded]  # by the --rubric given ("" for the scenario's own rubric)


def _stored(diagnostics: Iterable[Diagnostic], own_path: str) -> tuple[_Diagnostic, ...]:
    return tuple(
        _Diagnostic(
            path=None if d.path == own_path else d.path,
            line=d.line,
            col=d.col,
            severity=d.severity,
            code=d.code,
            message=d.message,
        )
        for d in diagnostics
    )


def _restored(stored: Iterable[_Diagnostic], own_path: str) -> list[Diagnostic]:
    return [Diagnostic(d.path or own_path, d.line, d.col, d.severity, d.code, d.message) for d in stored]


def _safe(entry: _Entry) -> bool:
    """No character that the loader would have removed: an entry that has one was not written
    by crisis-sim, and what a library shows must never act on a terminal."""
    texts: list[str] = []
    if entry.info is not None:
        i = entry.info
        texts += [i.id, i.title, i.difficulty, i.summary, i.content_warning, i.rubric, *i.tags, *i.objectives]
    return not any(has_unsafe(t) for t in texts)


# ---- where it is stored -----------------------------------------------------------------------


def cache_dir() -> Path:
    """The folder of the validated-library cache (safe to delete)."""
    from platformdirs import user_cache_path

    return user_cache_path("crisis-sim", appauthor=False) / "library"


@functools.cache
def _fingerprint() -> str:
    """What decides a result besides the files themselves: crisis-sim's version and code (its
    modules' sizes and times, so an edited checkout counts as a new version), Python, and the
    parsing and validating libraries (where they are installed and when)."""
    parts = [f"format {CACHE_FORMAT}", f"crisis-sim {__version__}", sys.version]
    roots = [Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "simulator"]
    for root in roots:
        for module in sorted(root.rglob("*.py")):
            st = module.stat()
            parts.append(f"{module.relative_to(root.parent)} {st.st_size} {st.st_mtime_ns}")
    for name in ("yaml", "_yaml", "pydantic", "pydantic_core"):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin and os.path.exists(origin):
            st = os.stat(origin)
            parts.append(f"{name} {origin} {st.st_size} {st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


class Cache:
    """Entries in ``folder/<generation>/<sha256>.json``; every failure is a miss."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.generation = folder / _fingerprint()

    def get(self, sha256: str) -> _Entry | None:
        raw = _read_regular(self.generation / f"{sha256}.json", MAX_ENTRY_BYTES)
        if raw is None:
            return None
        try:
            entry = _Entry.model_validate_json(raw)
        except ValidationError:
            return None
        return entry if entry.sha256 == sha256 and _safe(entry) else None

    def put(self, entry: _Entry) -> None:
        with contextlib.suppress(OSError):
            fresh = _owner_only_dir(self.generation)
            target = self.generation / f"{entry.sha256}.json"
            tmp = self.generation / f".{entry.sha256}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(entry.model_dump_json())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            if fresh:
                self._forget_old_generations()
            self._trim()

    def _forget_old_generations(self) -> None:
        import shutil

        for other in self.folder.iterdir():
            if other != self.generation and other.is_dir() and not other.is_symlink():
                shutil.rmtree(other, ignore_errors=True)

    def _trim(self) -> None:
        entries = list(self.generation.glob("*.json"))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda p: p.stat().st_mtime_ns)
        for old in entries[: len(entries) - MAX_ENTRIES // 2]:
            with contextlib.suppress(OSError):
                old.unlink()


def default_cache() -> Cache | None:
    """The user's cache, or None when there is no usable place for it."""
    try:
        return Cache(cache_dir())
    except OSError:
        return None


def _owner_only_dir(folder: Path) -> bool:
    """Make ``folder`` (``.../crisis-sim/library/<generation>``) and its two parents owner-only
    folders; True when ``folder`` was created. Refuses (OSError) a symlink or a folder that
    belongs to someone else."""
    created = not folder.exists()
    ours = [folder, folder.parent, folder.parent.parent]
    ours[-1].parent.mkdir(parents=True, exist_ok=True)  # the user's cache folder
    for part in reversed(ours):
        with contextlib.suppress(FileExistsError):
            part.mkdir(mode=0o700)
    uid = os.getuid() if hasattr(os, "getuid") else None
    for part in ours:
        st = part.lstat()
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
            raise OSError(f"{part}: not an owner-only folder of this user")
        if st.st_mode & 0o077:
            part.chmod(0o700)
    return created


def _read_regular(path: Path, limit: int) -> bytes | None:
    """``safefile.read_regular``, with None for anything it refuses (a folder, a FIFO, a
    device, a bigger file) and for any other error: a cache miss, never a wait or a failure."""
    try:
        return read_regular(path, limit)
    except OSError:
        return None


# ---- the library --------------------------------------------------------------------------------


@dataclass
class LibraryEntry:
    """One scenario file of a scan. ``info`` is set when the file loads; ``ok`` when it loads
    with no error (and, in a graded scan, fits its rubric). ``diagnostics`` are the scenario
    file's own findings, ``rubric_diagnostics`` the rubric checks' (graded scans only), each as
    ``load_scenario`` and ``attach_rubric`` report them. ``scenario``/``rubric`` load the file
    (validated again, never from the cache) the first time they are asked for."""

    path: Path
    info: ScenarioInfo | None
    ok: bool
    diagnostics: list[Diagnostic]
    rubric_diagnostics: list[Diagnostic] = field(default_factory=list)
    sha256: str | None = None
    from_cache: bool = False
    rubric_ref: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    graded: GradedLoad | None = None

    def load(self) -> GradedLoad:
        """The scenario and its rubric, fully loaded and validated (once)."""
        from scoring.catalog import load_graded

        if self.graded is None:
            self.graded = load_graded(self.path, self.rubric_ref, max_bytes=self.max_bytes)
        return self.graded

    @property
    def scenario(self) -> Scenario | None:
        return self.load().scenario

    @property
    def rubric(self) -> Any:
        return self.load().rubric

    @classmethod
    def of(cls, graded: GradedLoad, rubric_ref: str | None = None, max_bytes: int | None = None) -> LibraryEntry:
        """An entry for a scenario already loaded (a file given on the command line, a reload);
        its diagnostics are ``graded``'s, all in ``diagnostics``."""
        assert graded.scenario is not None
        return cls(
            Path(graded.scenario.path),
            ScenarioInfo.of(graded.scenario),
            graded.ok,
            list(graded.diagnostics),
            sha256=graded.scenario.sha256,
            rubric_ref=rubric_ref,
            max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes,
            graded=graded,
        )


def library_index(
    folder: Path | None = None,
    *,
    rubric_ref: str | None = None,
    graded: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    cache: Cache | Literal["default"] | None = "default",
) -> list[LibraryEntry]:
    """The scenarios of a library folder (default: the bundled one), as ``scan`` finds them."""
    from simulator.library import library_files

    return scan(library_files(folder), rubric_ref=rubric_ref, graded=graded, max_bytes=max_bytes, cache=cache)


def scan(
    files: Sequence[Path],
    *,
    rubric_ref: str | None = None,
    graded: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    cache: Cache | Literal["default"] | None = "default",
) -> list[LibraryEntry]:
    """One entry per file, from the cache where the file (and for ``graded``, its rubric) is
    unchanged, else by loading and validating it, with its rubric, and remembering the result.
    ``graded=False`` (``list``): the entry says whether the file itself loads, and nothing about
    the rubric. ``cache=None`` neither reads nor writes the cache."""
    store = default_cache() if cache == "default" else cache
    rubrics = _RubricHashes()
    return [_entry(Path(f), store, rubrics, rubric_ref, graded, max_bytes) for f in files]


class _RubricHashes:
    """The rubric file a reference finds now, and its hash (each looked up once per scan)."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, ref: str) -> tuple[str | None, str | None]:
        if ref not in self.found:
            try:
                path = find_rubric(ref)
            except DiagnosticError:
                self.found[ref] = (None, None)
            else:
                raw = _read_regular(path, DEFAULT_MAX_BYTES)
                self.found[ref] = (str(path), hashlib.sha256(raw).hexdigest() if raw is not None else None)
        return self.found[ref]


def _entry(
    path: Path,
    cache: Cache | None,
    rubrics: _RubricHashes,
    rubric_ref: str | None,
    graded: bool,
    max_bytes: int,
) -> LibraryEntry:
    name = str(path)
    try:
        raw = read_bytes(path, max_bytes)
    except DiagnosticError:  # missing, unreadable, too large: the loader says it in its words
        from simulator.loader import load_scenario

        return _from_load(load_scenario(path, max_bytes=max_bytes), None, rubric_ref, max_bytes)
    sha256 = hashlib.sha256(raw).hexdigest()
    key = rubric_ref or ""
    stored = cache.get(sha256) if cache is not None else None
    if stored is not None:
        if stored.info is None or not graded:
            return _from_stored(path, stored, None, rubric_ref, max_bytes)
        part = stored.graded.get(key)
        if part is not None and (part.rubric_path, part.rubric_sha256) == rubrics(rubric_ref or stored.info.rubric):
            return _from_stored(path, stored, part, rubric_ref, max_bytes)
    # Not in the cache: load and validate it (the loader is imported only now).
    from scoring.catalog import attach_rubric, combine
    from simulator.loader import load_scenario

    loaded = load_scenario(path, max_bytes=max_bytes, raw=raw)
    entry = _from_load(loaded, sha256, rubric_ref, max_bytes)
    parts = dict(stored.graded) if stored is not None else {}
    # The rubric checks run even when the caller does not need them (``list``), so that one
    # validation of a file serves every later ``validate`` and app start.
    if loaded.scenario is not None:
        attached = attach_rubric(loaded.scenario, rubric_ref)
        rubric_path, rubric_sha = rubrics(rubric_ref or loaded.scenario.rubric)
        parts[key] = _Graded(
            rubric_path=rubric_path,
            rubric_sha256=rubric_sha,
            ok=attached.ok,
            diagnostics=_stored(attached.diagnostics, name),
        )
        if graded:
            entry.rubric_diagnostics, entry.ok = list(attached.diagnostics), entry.ok and attached.ok
        entry.graded = combine(loaded, attached)  # the app plays it without loading it again
    if cache is not None:
        info = entry.info
        diagnostics = _stored(loaded.diagnostics, name)
        cache.put(_Entry(format=CACHE_FORMAT, sha256=sha256, info=info, diagnostics=diagnostics, graded=parts))
    return entry


def _from_load(loaded: LoadResult, sha256: str | None, rubric_ref: str | None, max_bytes: int) -> LibraryEntry:
    scenario = loaded.scenario
    return LibraryEntry(
        Path(loaded.path),
        ScenarioInfo.of(scenario) if scenario is not None else None,
        loaded.ok,
        list(loaded.diagnostics),
        sha256=sha256,
        rubric_ref=rubric_ref,
        max_bytes=max_bytes,
    )


def _from_stored(
    path: Path, stored: _Entry, part: _Graded | None, rubric_ref: str | None, max_bytes: int
) -> LibraryEntry:
    name = str(path)
    diagnostics = _restored(stored.diagnostics, name)
    ok = stored.info is not None and not has_errors(diagnostics)
    entry = LibraryEntry(path, stored.info, ok, diagnostics, sha256=stored.sha256, from_cache=True,
                         rubric_ref=rubric_ref, max_bytes=max_bytes)
    if part is not None:
        entry.rubric_diagnostics = _restored(part.diagnostics, name)
        entry.ok = part.ok
    return entry


def scan_paths(paths: Iterable[str | Path], **options: Any) -> list[LibraryEntry]:
    """``scan`` of files and folders (``files_of``; an empty folder is an error entry), with
    the ids used by more than one file flagged, as ``load_many`` does for loads."""
    from simulator.loader import duplicate_id, files_of, repeated_ids

    found = files_of(paths)
    scanned = iter(scan([f for f in found if isinstance(f, Path)], **options))
    entries = [next(scanned) if isinstance(f, Path) else LibraryEntry(Path(f.path), None, False, [f]) for f in found]
    for entry, sid, first in repeated_ids(entries, lambda e: e.info.id if e.info else None):
        info = entry.info
        assert info is not None
        entry.diagnostics.append(duplicate_id(str(entry.path), sid, info.id_line, info.id_col, str(first.path)))
        entry.info, entry.ok, entry.rubric_diagnostics = None, False, []
    return entries


__all__ = ["Cache", "LibraryEntry", "ScenarioInfo", "cache_dir", "default_cache", "library_index",
           "scan", "scan_paths"]
