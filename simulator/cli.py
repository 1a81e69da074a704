"""The ``crisis-sim`` command.

Every failure a user can cause (a bad flag, a missing file, a broken scenario) ends in a
one-line message and a non-zero exit, never a traceback. Exit codes: 0 ok, 1 the work failed
(errors found, a run could not go on), 2 the command line was wrong, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from simulator import __version__
from simulator.diagnostics import Diagnostic, DiagnosticError

PROG = "crisis-sim"


def fail(message: str, code: int = 1) -> int:
    click.echo(f"{PROG}: error: {message}", err=True)
    return code


def print_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        click.echo(d.format(), err=True)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context) -> int | None:
    """crisis-sim: practise crisis intervention in the terminal.

    Scenarios are YAML state machines; every decision is graded against MHFA (ALGEE) and
    CIT/ICAT principles. Run 'crisis-sim COMMAND --help' for each command.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
    return 0


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="'json' prints one object with every diagnostic, for editors and CI.",
)
def validate(paths: tuple[Path, ...], strict: bool, fmt: str) -> int:
    """Check scenario files or folders (default: the bundled library).

    Prints compiler-style diagnostics (file:line:col: error: ...). Exits 1 if any file has
    errors (or warnings, with --strict).
    """
    from simulator.library import bundled_dir
    from simulator.loader import load_many

    results = load_many(paths or [bundled_dir()])
    diagnostics = [d for r in results for d in r.diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (strict and warnings > 0)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "files": [
                        {
                            "path": r.path,
                            "ok": r.ok,
                            "id": r.scenario.id if r.scenario else None,
                            "diagnostics": [d.as_dict() for d in r.diagnostics],
                        }
                        for r in results
                    ],
                    "errors": errors,
                    "warnings": warnings,
                    "ok": not failed,
                },
                indent=2,
            )
        )
    else:
        for d in diagnostics:
            click.echo(d.format())
        if not results:
            click.echo("no scenario files found")
        else:
            click.echo(f"{len(results)} file(s) checked: {errors} error(s), {warnings} warning(s)")
    if not results:
        return 1
    return 1 if failed else 0


@cli.command(name="list")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="A scenario folder instead of the bundled library.",
)
def list_(folder: Path | None) -> int:
    """List the scenarios in the library: id, title, difficulty, minutes."""
    from simulator.library import library_files
    from simulator.loader import load_scenario

    rows = []
    for file in library_files(folder):
        result = load_scenario(file)
        if result.scenario is None:
            click.echo(f"{PROG}: skipped {file}: it has errors (run 'crisis-sim validate {file}')", err=True)
            continue
        s = result.scenario
        rows.append((s.id, s.title, s.difficulty, str(s.minutes)))
    if not rows:
        return fail("no valid scenarios found")
    headers = ("ID", "TITLE", "DIFFICULTY", "MIN")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


@cli.command()
@click.argument("scenario")
@click.option(
    "--choose", multiple=True, metavar="IDS", help="Choices to make, comma-separated: choice ids or 1-based positions."
)
@click.option(
    "--timeout-at", multiple=True, metavar="SCENES", help="Let the timer run out in these scenes (each entry once)."
)
@click.option("--policy", type=click.Choice(["first", "random"]), help="How to choose once --choose runs out.")
@click.option("--seed", type=int, help="Seed for --policy random (same seed, same run).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable transcript.")
def run(
    scenario: str,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    policy: str | None,
    seed: int | None,
    as_json: bool,
) -> int:
    """Play SCENARIO (a library id or a path) in plain text.

    Scripted with --choose/--timeout-at/--policy; otherwise interactive: type the number of
    a choice (or its id), 'w' to let a timer run out, 'q' to stop.
    """
    from simulator.engine import Session
    from simulator.library import load_ref
    from simulator.runner import (
        RunStopped,
        Script,
        header,
        interact,
        parse_list,
        print_events,
        run_script,
        transcript_json,
    )

    loaded = load_ref(scenario).scenario
    assert loaded is not None
    script = Script(parse_list(choose), parse_list(timeout_at), policy, seed)
    scripted = bool(script.choose or script.timeout_at or policy)
    out = click.get_text_stream("stdout")
    session = Session(loaded)
    if not as_json:
        for line in header(loaded):
            out.write(line + "\n")
        session.subscribe(print_events(out, session))
    session.start()
    status = 0
    if scripted:
        try:
            for warning in run_script(session, script):
                click.echo(f"{PROG}: warning: {warning}", err=True)
        except RunStopped as exc:
            status = fail(str(exc))
    elif as_json:
        return fail("--json needs a scripted run: add --choose or --policy", 2)
    else:

        def read(prompt: str) -> str | None:
            out.write(prompt)
            out.flush()
            line = sys.stdin.readline()
            return line if line else None

        interact(session, read, out)
    if as_json:
        click.echo(json.dumps(transcript_json(session), indent=2))
    if session.stuck:
        status = status or fail(
            f"scene '{session.scene}' offers no choice; check the scenario with 'crisis-sim validate'"
        )
    return status


def _one_line(exc: click.ClickException) -> str:
    message = exc.format_message()
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
        click.echo(f"{PROG}: error: {_one_line(exc)}", err=True)
        code = exc.exit_code
    except DiagnosticError as exc:
        print_diagnostics(exc.diagnostics)
        code = 1
    except (KeyboardInterrupt, click.Abort):
        click.echo("\ninterrupted", err=True)
        code = 130
    except BrokenPipeError:
        code = 0
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
    except Exception as exc:  # a bug of ours: still one line, traceback on request
        if os.environ.get("CRISIS_SIM_DEBUG"):
            raise
        click.echo(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(set CRISIS_SIM_DEBUG=1 for the traceback and please report it)",
            err=True,
        )
        code = 70
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
