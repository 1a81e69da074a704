"""The ``crisis-sim`` command.

Every failure a user can cause (a bad flag, a missing file, a broken scenario) ends in a
one-line message and a non-zero exit, never a traceback. Exit codes: 0 ok, 1 the work failed
(errors found, a run could not go on), 2 the command line was wrong, 130 interrupted.
"""

from __future__ import annotations

import contextlib
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


RUBRIC_OPTION = click.option(
    "--rubric",
    "rubric_ref",
    metavar="NAME_OR_PATH",
    help="Grade with this rubric instead of the one the scenario names (a name or a .yaml path).",
)


def load_for_play(ref: str, rubric_ref: str | None) -> Any:
    """A scenario and its effective rubric, or a DiagnosticError listing what is wrong."""
    from scoring.catalog import load_graded

    graded = load_graded(ref, rubric_ref)
    if not graded.ok:
        raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
    return graded


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
@RUBRIC_OPTION
def validate(paths: tuple[Path, ...], strict: bool, fmt: str, rubric_ref: str | None) -> int:
    """Check scenario files or folders (default: the bundled library).

    Checks the YAML, the structure, every reference and condition, the scene graph, the
    scores and critical errors against the rubric, and possible dead ends and point-farming
    loops. Prints compiler-style diagnostics (file:line:col: error: ...). Exits 1 if any file
    has errors (or warnings, with --strict).
    """
    from scoring.catalog import attach_rubric
    from simulator.diagnostics import has_errors
    from simulator.library import bundled_dir
    from simulator.loader import load_many

    results = load_many(paths or [bundled_dir()])
    for r in results:
        if r.scenario is not None:
            r.diagnostics += attach_rubric(r.scenario, rubric_ref).diagnostics
    diagnostics = [d for r in results for d in r.diagnostics]
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (strict and warnings > 0)
    if fmt == "json":
        files = [
            {
                "path": r.path,
                "ok": r.scenario is not None and not has_errors(r.diagnostics),
                "id": r.scenario.id if r.scenario else None,
                "diagnostics": [d.as_dict() for d in r.diagnostics],
            }
            for r in results
        ]
        report = {"files": files, "errors": errors, "warnings": warnings, "ok": not failed and bool(results)}
        click.echo(json.dumps(report, indent=2))
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
    type=click.Path(path_type=Path, file_okay=False, exists=True),
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
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable transcript with the grade.")
@RUBRIC_OPTION
def run(
    scenario: str,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    policy: str | None,
    seed: int | None,
    as_json: bool,
    rubric_ref: str | None,
) -> int:
    """Play SCENARIO (a library id or a path) in plain text, then show the debrief.

    Scripted with --choose/--timeout-at/--policy; otherwise interactive: type the number of
    a choice (or its id), 'w' to let a timer run out, 'q' to stop.
    """
    from scoring.grading import grade
    from scoring.report import format_grade
    from simulator.engine import Session
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

    graded = load_for_play(scenario, rubric_ref)
    loaded = graded.scenario
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
    result = grade(loaded, graded.rubric, session.decisions) if session.finished else None
    if as_json:
        click.echo(json.dumps(transcript_json(session, {"grade": result.as_dict() if result else None}), indent=2))
    elif result is not None:
        out.write(format_grade(result) + "\n")
    if session.stuck:
        status = status or fail(
            f"scene '{session.scene}' offers no choice; check the scenario with 'crisis-sim validate'"
        )
    return status


@cli.command()
@click.argument("name", default="default", required=False, metavar="[NAME_OR_PATH]")
def rubric(name: str) -> int:
    """Print a rubric (default: 'default').

    Shows the pass rule, the weighted dimensions with their principles, and the critical
    errors. NAME_OR_PATH is a rubric name (looked up in the CRISIS_SIM_RUBRICS folders, then
    the built-in rubrics) or a path to a .yaml file.
    """
    from scoring.rubric import find_rubric, format_rubric, load_rubric

    result = load_rubric(find_rubric(name))
    if result.rubric is None:
        raise DiagnosticError(result.diagnostics)
    print_diagnostics(result.diagnostics)
    click.echo(format_rubric(result.rubric), nl=False)
    return 0


@cli.command()
@click.argument("scenario")
@click.option("--json", "as_json", is_flag=True, help="Print the full analysis as JSON.")
@click.option(
    "--max-states",
    type=click.IntRange(min=1),
    default=200_000,
    show_default=True,
    help="Stop exploring after this many states (reported, never a hang).",
)
@RUBRIC_OPTION
def analyze(scenario: str, as_json: bool, max_states: int, rubric_ref: str | None) -> int:
    """Explore every reachable state of SCENARIO and report what can happen.

    Endings reached, best and worst paths with their scores (runnable with 'crisis-sim run
    --choose'), decisions where all options score the same, dead ends, point-farming loops and
    the principles exercised. Exits 1 when it finds a problem.
    """
    from scoring.analysis import analyze as run_analysis
    from scoring.report import format_analysis

    graded = load_for_play(scenario, rubric_ref)
    result = run_analysis(graded.scenario, graded.rubric, max_states)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(format_analysis(result))
    return 1 if result.problems else 0


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
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
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
