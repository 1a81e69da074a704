"""Where scenarios live: the bundled library (shipped inside the package) and user paths."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from simulator.config import ConfigError, expand_home
from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.sources import DEFAULT_MAX_BYTES, scenario_files


def bundled_dir() -> Path:
    """The bundled scenarios: ``simulator/_scenarios`` in an installed wheel, or the source
    tree's ``scenarios/`` folder when running from a checkout or an editable install.
    Shown relative to the working directory when it is below it, for shorter messages."""
    installed = Path(str(resources.files("simulator"))) / "_scenarios"
    folder = installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "scenarios"
    try:
        return folder.relative_to(Path.cwd())
    except ValueError:
        return folder


def library_files(folder: Path | None = None) -> list[Path]:
    return scenario_files([folder or bundled_dir()])


def app_folders(base: Path | None, configured: Sequence[str], given: Sequence[Path], config_file: Path) -> list[Path]:
    """The trainee app's library: ``base`` (the bundled folder), then the academy's folders from
    ``[library] dirs`` in the config, then ``--dir`` folders. A configured folder that is not
    there is an error naming the config file (a silent empty library would hide the mistake)."""
    folders = [base or bundled_dir()]
    for text in configured:
        folder = expand_home(text)
        if not folder.is_dir():
            problem = "is not a folder" if folder.exists() else "no such folder"
            raise ConfigError(f"{config_file}: error: [library] dirs: '{text}': {problem}; fix the path or remove it")
        folders.append(folder)
    return folders + list(given)


def resolve(ref: str, folder: Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """A scenario given as a path, or as an id from the library; a clear error otherwise."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in ref:
        if not path.exists():
            raise DiagnosticError([Diagnostic(ref, 0, 0, "error", "file-missing", "no such file; check the path")])
        return path
    from scoring.library_cache import library_index  # the validated-library cache: no reparse

    by_id = {e.info.id: e.path for e in library_index(folder, graded=False, max_bytes=max_bytes) if e.info}
    if ref in by_id:
        return by_id[ref]
    from simulator.diagnostics import did_you_mean

    hint = did_you_mean(ref, by_id) or f"; 'crisis-sim list' shows the {len(by_id)} available"
    raise DiagnosticError(
        [Diagnostic(ref, 0, 0, "error", "unknown-scenario", f"no scenario with id '{ref}' in the library{hint}")]
    )
