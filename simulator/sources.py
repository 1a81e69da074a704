"""Finding and reading the scenario files crisis-sim is given, without the YAML reader, the
scenario model or pydantic: what a warm start (the library from its cache) needs, so the app
does not pay for the loader until a scenario is opened. ``simulator.loader`` and
``simulator.yamlsource`` use these; they are re-exported there under their old names."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.safefile import FileTooLarge, NotRegularFile, read_regular

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
"""The scenario size cap unless ``--max-bytes`` or ``[scenarios] max_bytes`` says otherwise."""


SIDECAR_KINDS = (".tests", ".phrases")
"""Files that sit next to a scenario ``NAME.yaml`` and belong to it: ``NAME.tests.yaml``
(playthrough tests) and ``NAME.phrases.yaml`` (free-text phrase tests). They are not scenarios."""
SIDECAR_SUFFIXES = tuple(kind + ext for kind in SIDECAR_KINDS for ext in (".yaml", ".yml"))


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIXES)


def sidecar_owner(sidecar: Path) -> Path | None:
    """The scenario file a sidecar belongs to (``NAME.yaml``, else ``NAME.yml``), or None."""
    suffix = next((s for s in SIDECAR_SUFFIXES if sidecar.name.endswith(s)), None)
    if suffix is None:
        return None
    stem = sidecar.name[: -len(suffix)]
    for ext in (".yaml", ".yml"):
        candidate = sidecar.with_name(stem + ext)
        if candidate.is_file():
            return candidate
    return None


def sidecar_path(scenario_path: Path, kind: str) -> Path:
    """``NAME<kind>.yaml`` next to ``NAME.yaml`` (``NAME<kind>.yml`` if only that exists)."""
    preferred = scenario_path.with_name(scenario_path.stem + kind + ".yaml")
    alternative = scenario_path.with_name(scenario_path.stem + kind + ".yml")
    return alternative if not preferred.exists() and alternative.exists() else preferred


def scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to the scenario files in them (``*.yaml``/``*.yml``, sorted);
    sidecars (``*.tests.yaml``, ``*.phrases.yaml``) are not scenarios."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file() and not is_sidecar(f)
            )
            files.extend(found)
        else:
            files.append(p)
    return files


def read_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a regular file within the size cap (``simulator.safefile``: a pipe or a device is
    refused, never waited on or read forever), turning OS errors into diagnostics."""
    name = str(path)

    def err(code: str, msg: str) -> DiagnosticError:
        return DiagnosticError([Diagnostic(name, 0, 0, "error", code, msg)])

    try:
        return read_regular(path, max_bytes)
    except NotRegularFile as exc:
        if exc.kind == "a folder":
            raise err("file-unreadable", "is a folder, not a file") from None
        raise err("file-unreadable", f"is {exc.kind}, not a regular file; give the path of a regular file") from None
    except FileTooLarge as exc:
        if exc.size is None:
            raise err("file-too-large", f"the file is over the {max_bytes:,}-byte limit") from None
        raise err(
            "file-too-large",
            f"the file is {exc.size:,} bytes, over the {max_bytes:,}-byte limit; "
            "split the scenario or check it is the right file",
        ) from None
    except FileNotFoundError:
        raise err("file-missing", "no such file; check the path") from None
    except PermissionError:
        raise err("file-unreadable", "permission denied; check the file's permissions") from None
    except OSError as exc:
        raise err("file-unreadable", f"cannot read the file ({exc.strerror or exc})") from None
