"""Shared pieces of the ``crisis-sim`` command: the click group, the one-line failure, the
options and loaders several command groups use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from simulator import __version__
from simulator.diagnostics import Diagnostic, DiagnosticError
from simulator.safetext import escaped_line

PROG = "crisis-sim"


def fail(message: str, code: int = 1) -> int:
    click.echo(f"{PROG}: error: {escaped_line(message)}", err=True)
    return code


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        line = d.format()
        # about an argument that is empty (or only control characters): no path to start with
        click.echo(f"{PROG}{line}" if line.startswith(":") else line, err=True)


APP_DIR_OPTION = click.option(
    "--dir",
    "dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    metavar="DIR",
    help="Also list the scenarios in DIR in the app, beside the bundled library and [library] dirs "
    "(repeatable).",
)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
@APP_DIR_OPTION
@click.pass_context
def cli(ctx: click.Context, dirs: tuple[Path, ...]) -> int | None:
    """crisis-sim: practise crisis intervention in the terminal.

    With no command, opens the trainee app. Scenarios are YAML state machines; every decision
    is graded against MHFA (ALGEE) and CIT/ICAT principles. Run 'crisis-sim COMMAND --help' for
    each command.
    """
    if ctx.invoked_subcommand is None:
        from simulator.cli.play import open_app

        return open_app(dirs=dirs)
    if dirs:
        raise click.UsageError("--dir before a command is for the app alone ('crisis-sim --dir DIR'); "
                               "give a command its own options after its name")
    return 0


RUBRIC_OPTION = click.option(
    "--rubric",
    "rubric_ref",
    metavar="NAME_OR_PATH",
    help="Grade with this rubric instead of the one the scenario names (a name or a .yaml path).",
)


def _max_bytes(ctx: click.Context, param: click.Parameter, value: int | None) -> int:
    from simulator.config import load_config, scenario_max_bytes

    return scenario_max_bytes(value, load_config() if value is None else None)


MAX_BYTES_OPTION = click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    callback=_max_bytes,
    metavar="BYTES",
    help="Largest scenario file to read (default: [scenarios] max_bytes in the config, else 5 MiB = 5242880).",
)


NO_CACHE_OPTION = click.option(
    "--no-cache",
    is_flag=True,
    help="Validate every file now, neither reading nor writing the library cache.",
)


def checked_trainee(trainee_id: str, where: str = "--trainee") -> str:
    """The trainee id, or a one-line usage error: an id is stored and printed as given, so one
    with a terminal escape or markup would reach every later 'results' table."""
    from simulator.config import TRAINEE_ID_HELP, is_trainee_id

    if not is_trainee_id(trainee_id):
        shown = trainee_id if len(trainee_id) <= 40 else trainee_id[:40] + "..."
        raise click.BadParameter(f"{shown!a} is not a trainee id: use {TRAINEE_ID_HELP}", param_hint=where)
    return trainee_id


def load_for_play(ref: str, rubric_ref: str | None, max_bytes: int | None = None) -> Any:
    """A scenario and its effective rubric, or a DiagnosticError listing what is wrong."""
    from scoring.catalog import load_graded

    graded = load_graded(ref, rubric_ref, max_bytes=max_bytes)
    if not graded.ok:
        raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
    return graded


def open_store(db: str | None, *, create: bool = True, check: str = "auto") -> Any:
    """The records store named by --db, CRISIS_SIM_DB, the config, or the default location: a
    file, or a ``postgresql://`` URL (``check``: how much of it is checked first, see
    ``Store.open``)."""
    from simulator.config import load_config, resolve_db
    from simulator.records import open_store as open_records

    return open_records(resolve_db(db, load_config()), create=create, check=check)


INCLUDE_VOID_OPTION = click.option(
    "--include-void",
    is_flag=True,
    help="Also voided attempts ('crisis-sim void'), which are left out otherwise.",
)

DB_OPTION = click.option(
    "--db",
    metavar="PATH|URL",
    help="Records file, or postgresql://USER@HOST/DB (password from CRISIS_SIM_DB_PASSWORD or PGPASSWORD); "
    "default: CRISIS_SIM_DB, then the config, then the user data folder.",
)


def scenario_for(attempt: Any, rubric_ref: str | None = None) -> Any:
    """The scenario and rubric an attempt was played with: its stored path, else its library id."""
    from scoring.catalog import load_graded

    path = Path(attempt.scenario_path) if attempt.scenario_path else None
    try:
        stored = path is not None and path.exists()
    except OSError:  # a stored path this system cannot even look up (too long, a loop): use the id
        stored = False
    graded = load_graded(path if stored else attempt.scenario_id, rubric_ref or attempt.rubric_id)
    if not graded.ok:
        raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
    return graded


def known_error(exc: Exception) -> str | None:
    """The one-line message of the errors users can cause beyond the command line."""
    from simulator.config import ConfigError
    from simulator.records import StoreError

    if isinstance(exc, (StoreError, ConfigError)):
        return str(exc)
    if isinstance(exc, UnicodeEncodeError) and exc.reason == "surrogates not allowed":
        # bytes that are not UTF-8 in an argument (or CRISIS_SIM_* variable) reach Python as
        # surrogate escapes, which SQLite and other text-only places refuse
        return f"{exc.object[:40]!a} is not UTF-8 text; retype it, or check the terminal's encoding"
    if isinstance(exc, OSError) and exc.strerror:
        # a path the system refuses (a name too long, a symlink loop...), found by a check
        # like Path.exists() that only expects "no such file": the user's to fix
        name = "" if exc.filename is None else str(exc.filename)
        shown = name if len(name) <= 60 else f"{name[:60]}... ({len(name)} characters)"
        return f"{shown}: {exc.strerror}" if shown else exc.strerror
    return None
