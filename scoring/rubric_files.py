"""Finding rubric files by name or path, without loading them (no pydantic, no YAML reader):
the library cache checks a rubric's path and hash on every start with this alone.
``scoring.rubric`` re-exports these names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from simulator.diagnostics import Diagnostic, DiagnosticError, did_you_mean

RUBRICS_ENV = "CRISIS_SIM_RUBRICS"
"""Environment variable: extra rubric folders, separated by ``os.pathsep`` (``:`` on Unix)."""

RUBRIC_SUFFIXES = (".yaml", ".yml")


def _one_of(ids: Iterable[str]) -> str:
    listed = ", ".join(ids)
    return listed or "none"


def builtin_rubrics_dir() -> Path:
    """The rubrics shipped inside the ``scoring`` package (``scoring/rubrics/``)."""
    return Path(__file__).resolve().parent / "rubrics"


def rubric_folders(folders: Sequence[Path | str] | None = None) -> list[Path]:
    """Where rubric names are looked up, first match wins: ``folders``, then each folder of
    ``CRISIS_SIM_RUBRICS`` (``os.pathsep``-separated), then the built-in rubrics. An academy
    can therefore shadow a built-in rubric (even ``default``) with its own file."""
    env = [Path(p) for p in os.environ.get(RUBRICS_ENV, "").split(os.pathsep) if p.strip()]
    return [*(Path(f) for f in folders or ()), *env, builtin_rubrics_dir()]


def rubric_names(folders: Sequence[Path | str] | None = None) -> list[str]:
    """Every rubric name available by name lookup, sorted."""
    names: set[str] = set()
    for folder in rubric_folders(folders):
        if folder.is_dir():
            names.update(f.stem for f in folder.iterdir() if f.suffix in RUBRIC_SUFFIXES and f.is_file())
    return sorted(names)


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(RUBRIC_SUFFIXES) or "/" in ref or os.sep in ref or (os.altsep or "/") in ref


def find_rubric(ref: str, folders: Sequence[Path | str] | None = None) -> Path:
    """The rubric file for ``ref``: a path (anything ending in .yaml/.yml or containing a
    folder separator), or a name looked up as ``NAME.yaml``/``NAME.yml`` in
    ``rubric_folders(folders)``. Raises DiagnosticError with one line (the available names
    and a did-you-mean) when nothing matches."""
    if _looks_like_path(ref):
        path = Path(ref)
        if not path.exists():
            raise DiagnosticError([Diagnostic(ref, 0, 0, "error", "file-missing", "no such file; check the path")])
        return path
    for folder in rubric_folders(folders):
        for suffix in RUBRIC_SUFFIXES:
            candidate = folder / f"{ref}{suffix}"
            if candidate.is_file():
                return candidate
    names = rubric_names(folders)
    hint = did_you_mean(ref, names)
    raise DiagnosticError(
        [
            Diagnostic(
                ref,
                0,
                0,
                "error",
                "unknown-rubric",
                f"no rubric named '{ref}'{hint}; available: {_one_of(names)} "
                f"(add folders with {RUBRICS_ENV}, or give a path to a .yaml file)",
            )
        ]
    )


