"""The ``crisis-sim`` command.

Every failure a user can cause (a bad flag, a missing file, a broken scenario) ends in a
one-line message and a non-zero exit, never a traceback. Exit codes: 0 ok, 1 the work failed
(errors found, a run could not go on), 2 the command line was wrong, 130 interrupted.

Commands live in one module per group (``play``, ``records``, ``merging``, ``serve``, ``authoring``,
``instructor``, ``freetext``); ``base`` holds the click group and what they share. Importing this package
registers every command.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from simulator.cli import authoring, freetext, instructor, merging, play, records, serve  # noqa: F401 - registers the commands
from simulator.cli.base import PROG, cli, known_error, print_diagnostics
from simulator.diagnostics import DiagnosticError
from simulator.safetext import escaped_line


def _usage_message(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())  # click lists choices on lines of their own
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every failure into one line and an exit code."""
    code: Any
    try:
        code = cli.main(args=argv, prog_name=PROG, standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"{PROG}: error: {escaped_line(_usage_message(exc))}", err=True)
        code = exc.exit_code
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics)
        code = 1
    except (KeyboardInterrupt, click.Abort):
        click.echo("\ninterrupted", err=True)
        code = 130
    except BrokenPipeError:
        code = 0
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
    except Exception as exc:  # a user-caused error we know, else a bug of ours: one line either way
        known = known_error(exc)
        if known is not None:
            click.echo(f"{PROG}: error: {escaped_line(known)}", err=True)
            sys.exit(1)
        if os.environ.get("CRISIS_SIM_DEBUG"):
            raise
        click.echo(
            f"{PROG}: internal error: {type(exc).__name__}: {escaped_line(str(exc))} "
            "(set CRISIS_SIM_DEBUG=1 for the traceback and please report it)",
            err=True,
        )
        code = 70
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["cli", "main"]
