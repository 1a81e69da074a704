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


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context) -> int | None:
    """crisis-sim: practise crisis intervention in the terminal.

    Scenarios are YAML state machines; every decision is graded against MHFA (ALGEE) and
    CIT/ICAT principles. Run 'crisis-sim COMMAND --help' for each command.
    """
    if ctx.invoked_subcommand is None:
        return open_app()
    return 0


def open_app(scenario: str | None = None, **options: Any) -> int:
    """Open the trainee app (textual is imported only here, so other commands start fast)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return fail(
            "the app needs an interactive terminal; for plain-text play use 'crisis-sim run SCENARIO', "
            "and 'crisis-sim --help' lists the commands",
            2,
        )
    from simulator.tui.app import build_app

    app = build_app(scenario_ref=scenario, **options)
    try:
        app.run()
    finally:
        app.store.close()
    if app.records_error is not None:
        return fail(app.records_error)
    return app.return_code or 0


RUBRIC_OPTION = click.option(
    "--rubric",
    "rubric_ref",
    metavar="NAME_OR_PATH",
    help="Grade with this rubric instead of the one the scenario names (a name or a .yaml path).",
)


def checked_trainee(trainee_id: str, where: str = "--trainee") -> str:
    """The trainee id, or a one-line usage error: an id is stored and printed as given, so one
    with a terminal escape or markup would reach every later 'results' table."""
    from simulator.config import TRAINEE_ID, TRAINEE_ID_HELP

    if not TRAINEE_ID.match(trainee_id):
        shown = trainee_id if len(trainee_id) <= 40 else trainee_id[:40] + "..."
        raise click.BadParameter(f"{shown!a} is not a trainee id: use {TRAINEE_ID_HELP}", param_hint=where)
    return trainee_id


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
            skipped = f"{PROG}: skipped {file}: it has errors (run 'crisis-sim validate {file}')"
            click.echo(escaped_line(skipped), err=True)
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


def open_store(db: str | None, *, create: bool = True) -> Any:
    """The records store named by --db, CRISIS_SIM_DB, the config, or the default location."""
    from simulator.config import load_config, resolve_db
    from simulator.records import Store

    return Store.open(resolve_db(db, load_config()), create=create)


DB_OPTION = click.option(
    "--db", metavar="PATH", help="Records file (default: CRISIS_SIM_DB, then the config, then the user data folder)."
)


def _play(session: Any, graded: Any, script: Any, as_json: bool, recorder: Any, extra: dict[str, Any]) -> int:
    """Drive a started session (scripted or interactive), then grade, store and show the result."""
    from scoring.grading import grade
    from scoring.report import format_grade
    from simulator.runner import RunStopped, interact, run_script, stuck_message, transcript_json

    out = click.get_text_stream("stdout")
    status = 0
    if script.choose or script.timeout_at or script.policy:
        try:
            for warning in run_script(session, script):
                click.echo(f"{PROG}: warning: {escaped_line(warning)}", err=True)
        except RunStopped as exc:
            status = fail(str(exc))
    else:

        def read(prompt: str) -> str | None:
            out.write(prompt)
            out.flush()
            line = sys.stdin.readline()
            return line if line else None

        interact(session, read, out)
    result = None
    if session.finished:
        result = (
            recorder.finish(session, graded.rubric)
            if recorder
            else grade(session.scenario, graded.rubric, session.decisions)
        )
    if as_json:
        payload = transcript_json(session, {**extra, "grade": result.as_dict() if result else None})
        click.echo(json.dumps(payload, indent=2))
    elif result is not None:
        out.write(format_grade(result) + "\n")
    if recorder and not session.finished:
        click.echo(f"{PROG}: progress saved; continue with 'crisis-sim resume {recorder.attempt_id}'", err=True)
    if session.stuck:
        status = status or fail(stuck_message(session))
    return status


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
@click.option("--trainee", metavar="ID", help="Record the attempt for this trainee (default: config, else 'guest').")
@click.option("--no-record", is_flag=True, help="Do not record the attempt.")
@DB_OPTION
@RUBRIC_OPTION
def run(
    scenario: str,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    policy: str | None,
    seed: int | None,
    as_json: bool,
    trainee: str | None,
    no_record: bool,
    db: str | None,
    rubric_ref: str | None,
) -> int:
    """Play SCENARIO (a library id or a path) in plain text, then show the debrief.

    Scripted with --choose/--timeout-at/--policy; otherwise interactive: type the number of
    a choice (or its id), 'w' to let a timer run out, 'q' to stop. Every decision is recorded
    as it is made (unless --no-record); an unfinished attempt can be resumed.
    """
    from simulator.config import load_config
    from simulator.engine import Session
    from simulator.recorder import begin
    from simulator.runner import Script, header, parse_list, print_events

    script = Script(parse_list(choose), parse_list(timeout_at), policy, seed)
    if as_json and not (script.choose or script.timeout_at or policy):
        return fail("--json needs a scripted run: add --choose or --policy", 2)
    graded = load_for_play(scenario, rubric_ref)
    config = load_config()
    session = Session(graded.scenario)
    recorder = None
    if not no_record:
        trainee_id = trainee or config.trainee.id or "guest"
        checked_trainee(trainee_id, "--trainee" if trainee else "[trainee] id")
        store = open_store(db)
        name = config.trainee.name if trainee_id == config.trainee.id else None
        recorder = begin(
            store,
            trainee_id,
            graded.scenario,
            graded.rubric,
            mode="headless",
            seed=seed,
            cohort=config.academy.cohort,
            trainee_name=name,
        )
        session.subscribe(recorder)
    if not as_json:
        out = click.get_text_stream("stdout")
        for line in header(graded.scenario):
            out.write(line + "\n")
        session.subscribe(print_events(out, session))
    session.start()
    extra = {"attempt_id": recorder.attempt_id if recorder else None}
    return _play(session, graded, script, as_json, recorder, extra)


def _scenario_for(attempt: Any, rubric_ref: str | None = None) -> Any:
    """The scenario and rubric an attempt was played with: its stored path, else its library id."""
    from scoring.catalog import load_graded

    path = Path(attempt.scenario_path) if attempt.scenario_path else None
    graded = load_graded(path if path and path.exists() else attempt.scenario_id, rubric_ref or attempt.rubric_id)
    if not graded.ok:
        raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
    return graded


@cli.command()
@click.argument("attempt")
@click.option("--choose", multiple=True, metavar="IDS", help="Choices to make from here on (ids or positions).")
@click.option("--timeout-at", multiple=True, metavar="SCENES", help="Let the timer run out in these scenes.")
@click.option("--policy", type=click.Choice(["first", "random"]), help="How to choose once --choose runs out.")
@click.option("--seed", type=int, help="Seed for --policy random.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable transcript with the grade.")
@DB_OPTION
def resume(
    attempt: str,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
    policy: str | None,
    seed: int | None,
    as_json: bool,
    db: str | None,
) -> int:
    """Continue an unfinished attempt (ATTEMPT: its id, or the first 6+ characters of it).

    The scenario must be unchanged since the attempt started (same content hash); if it has
    changed, resuming is refused and a fresh start is offered.
    """
    from simulator.recorder import ResumeRefused
    from simulator.recorder import resume as resume_attempt
    from simulator.runner import Script, describe, header, parse_list, print_events

    script = Script(parse_list(choose), parse_list(timeout_at), policy, seed)
    if as_json and not (script.choose or script.timeout_at or policy):
        return fail("--json needs a scripted run: add --choose or --policy", 2)
    store = open_store(db, create=False)
    record = store.attempt(attempt)
    graded = _scenario_for(record)
    try:
        session, recorder = resume_attempt(store, record, graded.scenario, graded.rubric)
    except ResumeRefused as exc:
        return fail(str(exc))
    if not as_json:
        out = click.get_text_stream("stdout")
        for line in header(graded.scenario):
            out.write(line + "\n")
        out.write(f"\n(Resuming attempt {record.id[:8]} after {len(session.decisions)} decision(s).)\n")
        for event in session.events[-2:]:  # where the trainee left off: the scene and its choices
            for line in describe(event, session):
                out.write(line + "\n")
        session.subscribe(print_events(out, session))
    return _play(session, graded, script, as_json, recorder, {"attempt_id": record.id})


@cli.command()
@click.option("--trainee", metavar="ID", help="Only this trainee's attempts.")
@click.option("--scenario", metavar="ID", help="Only attempts at this scenario.")
@click.option("--since", metavar="DATE", help="Only attempts started on or after DATE (YYYY-MM-DD or ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per attempt.")
@DB_OPTION
def results(trainee: str | None, scenario: str | None, since: str | None, as_json: bool, db: str | None) -> int:
    """A table of recorded attempts: when, who, which scenario, status, score, passed."""
    from simulator.export import FilterError, time_bound

    try:
        since_text = time_bound(since) if since else None
    except FilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    store = open_store(db, create=False)
    for column, value, what in (("trainee_id", trainee, "trainee"), ("scenario_id", scenario, "scenario")):
        if value is not None and not store.known(column, value):
            return fail(f"no attempts by {what} '{value}' in {store.path}")
    rows = []
    for a in store.attempts(trainee=trainee, scenario=scenario, since=since_text):
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "attempt_id": a.id,
                        "trainee_id": a.trainee_id,
                        "scenario_id": a.scenario_id,
                        "started_at": a.started_at,
                        "status": a.status,
                        "overall": a.overall,
                        "passed": a.passed,
                        "ending_rating": a.ending_rating,
                    }
                )
            )
            continue
        score = "" if a.overall is None else f"{a.overall:g}"
        passed = "" if a.passed is None else ("yes" if a.passed else "no")
        rows.append(
            (
                a.started_at[:16].replace("T", " "),
                a.id[:8],
                a.trainee_id,
                a.scenario_id,
                a.status.replace("_", " "),
                score,
                passed,
                a.ending_rating or "",
            )
        )
    if as_json:
        return 0
    if not rows:
        click.echo("no attempts recorded yet" if not (trainee or scenario or since) else "no attempts match")
        return 0
    headers = ("STARTED (UTC)", "ATTEMPT", "TRAINEE", "SCENARIO", "STATUS", "SCORE", "PASSED", "ENDING")
    # The records file may have been written by other hands: no escape sequence reaches the terminal.
    rows = [tuple(escaped_line(str(cell)) for cell in row) for row in rows]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


@cli.command()
@click.option("--trainee", metavar="ID", help="Only this trainee's attempts.")
@click.option("--scenario", metavar="ID", help="Only attempts at this scenario.")
@DB_OPTION
def regrade(trainee: str | None, scenario: str | None, db: str | None) -> int:
    """Recompute every completed attempt's grade from its decisions and compare it with the
    stored grade. Exits 1 if any differ (or cannot be recomputed), naming them."""
    from scoring.grading import GradeError, grade
    from simulator.recorder import ResumeRefused, check_same_content, stored_decisions

    store = open_store(db, create=False)
    checked = differ = skipped = 0
    for a in store.attempts(trainee=trainee, scenario=scenario, status="completed"):
        try:
            graded = _scenario_for(a)
            check_same_content(a, graded.scenario, graded.rubric)
            fresh = grade(graded.scenario, graded.rubric, stored_decisions(store, a.id)).as_dict()
        except (DiagnosticError, ResumeRefused, GradeError) as exc:  # GradeError: decisions missing or edited
            skipped += 1
            reason = exc.diagnostics[0].message if isinstance(exc, DiagnosticError) else str(exc)
            click.echo(escaped_line(f"{a.id[:8]} {a.scenario_id}: cannot recompute: {reason}"))
            continue
        checked += 1
        stored = a.grade or {}
        if json.dumps(fresh, sort_keys=True) != json.dumps(stored, sort_keys=True):
            differ += 1
            keys = sorted(k for k in set(fresh) | set(stored) if fresh.get(k) != stored.get(k))
            click.echo(
                escaped_line(
                    f"{a.id[:8]} {a.scenario_id} ({a.trainee_id}): stored and recomputed grades differ in "
                    f"{', '.join(keys)} (stored {stored.get('overall')}, recomputed {fresh['overall']})"
                )
            )
    click.echo(
        f"{checked} grade(s) recomputed: {checked - differ} agree, {differ} differ, {skipped} could not be recomputed"
    )
    return 1 if differ or skipped else 0


@cli.command()
def config() -> int:
    """Show where the config file is and every setting in effect."""
    from simulator.config import CONFIG_ENV, LRS_PASSWORD_ENV, config_path, last_trainee, load_config, resolve_db

    path = config_path()
    settings = load_config(path)
    exists = "exists" if path.exists() else "not created yet; all settings below are defaults"
    click.echo(f"config file: {path} ({exists}; set {CONFIG_ENV} to use another)")
    click.echo(f"records file: {resolve_db(None, settings)}")
    for section, values in settings.model_dump().items():
        click.echo(f"[{section}]")
        for key, value in values.items():
            click.echo(f"  {key} = {json.dumps(value)}")
    password = "set" if os.environ.get(LRS_PASSWORD_ENV) else "not set"
    click.echo(f"LRS password ({LRS_PASSWORD_ENV}): {password}")
    last = last_trainee()
    click.echo(f"last trainee on this machine: {last[0] + ' (' + last[1] + ')' if last else 'none'}")
    return 0


@cli.command()
@click.argument("scenario")
@click.option("--trainee", metavar="ID", help="Sign in as this trainee (skips the sign-in screen).")
@click.option(
    "--watch",
    is_flag=True,
    help="Playtest: reload SCENARIO's file whenever it is saved, keeping your place (errors are shown in the "
    "app); 'd' shows the debug panel. Nothing is recorded.",
)
@DB_OPTION
@RUBRIC_OPTION
def play(scenario: str, trainee: str | None, watch: bool, db: str | None, rubric_ref: str | None) -> int:
    """Open the app straight at SCENARIO's briefing (a library id or a path).

    With --watch it is a playtest for authors: the file is reloaded when saved, the decisions
    so far are replayed on it (or play restarts, saying why), and no attempt is recorded.
    """
    if trainee is not None:
        checked_trainee(trainee)
    return open_app(scenario, trainee=trainee, db=db, rubric_ref=rubric_ref, watch=watch)


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
        click.echo(format_analysis(result, scenario))
    return 1 if result.problems else 0


def _known_error(exc: Exception) -> str | None:
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


def _time_option(end: bool) -> Any:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from simulator.export import FilterError, time_bound

        if value is None:
            return None
        try:
            return time_bound(value, end=end)
        except FilterError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return convert


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "xapi"]),
    required=True,
    help="csv: a spreadsheet, one row per attempt; jsonl: one JSON object per attempt with the full grade and "
    "decisions; xapi: xAPI statements (to a file, or to an LRS with --lrs).",
)
@click.option("--out", metavar="FILE|-", help="Write to FILE (replaced only when complete); '-' or none: stdout.")
@click.option(
    "--since",
    callback=_time_option(False),
    metavar="DATE",
    help="Attempts started on or after DATE (YYYY-MM-DD or ISO 8601; UTC unless an offset is given).",
)
@click.option(
    "--until",
    callback=_time_option(True),
    metavar="DATE",
    help="Attempts started before DATE (a date alone: up to the end of that day).",
)
@click.option("--trainee", metavar="ID", help="Only this trainee's attempts.")
@click.option("--scenario", metavar="ID", help="Only attempts at this scenario id.")
@click.option("--cohort", metavar="C", help="Only attempts of this cohort.")
@click.option(
    "--status",
    type=click.Choice(["in_progress", "completed", "abandoned"]),
    help="Only attempts with this status (default: all, in-progress ones with empty scores).",
)
@click.option("--excel", is_flag=True, help="csv: start with a UTF-8 byte order mark so Excel reads accents right.")
@click.option("--decisions", is_flag=True, help="csv: one row per decision (the long format) instead of per attempt.")
@DB_OPTION
@click.option(
    "--lrs",
    metavar="URL",
    is_flag=False,
    flag_value="",
    help="xapi: send the statements to this LRS ('--lrs' alone: [lrs] url from the config); the password is read "
    "from CRISIS_SIM_LRS_PASSWORD.",
)
@click.option("--lrs-user", metavar="USER", help="xapi: the LRS basic-auth user (default: [lrs] user).")
@click.option("--include-incomplete", is_flag=True, help="xapi: also describe in-progress and abandoned attempts.")
@click.option(
    "--sign",
    is_flag=True,
    help="Also write FILE.sig, an HMAC-SHA256 signature with the academy key, for 'crisis-sim verify FILE' "
    "(needs --out FILE; key: CRISIS_SIM_SIGNING_KEY or [signing] key_file).",
)
def export(
    fmt: str,
    out: str | None,
    since: str | None,
    until: str | None,
    trainee: str | None,
    scenario: str | None,
    cohort: str | None,
    status: str | None,
    excel: bool,
    decisions: bool,
    db: str | None,
    lrs: str | None,
    lrs_user: str | None,
    include_incomplete: bool,
    sign: bool,
) -> int:
    """Export attempt records as CSV, JSON Lines or xAPI (to a file or an LRS).

    Filters combine (all must match). An unknown --trainee/--scenario/--cohort (no attempt has
    it) is an error, so a typo is not mistaken for 'no results'. Exports stream, so any number
    of attempts fits in memory. Columns and shapes: docs/records-and-exports.md.
    """
    from simulator.config import LRS_PASSWORD_ENV, ConfigError, load_config, resolve_db
    from simulator.export import ExportError, ExportFilter, open_for_export, open_output
    from simulator.export.signing import SigningError, drop_stale_signature, load_key, sign_file
    from simulator.records import StoreError

    if fmt != "csv" and (excel or decisions):
        raise click.UsageError("--excel and --decisions apply to --format csv only")
    if fmt != "xapi" and (lrs is not None or lrs_user or include_incomplete):
        raise click.UsageError("--lrs, --lrs-user and --include-incomplete apply to --format xapi only")
    if lrs is not None and out is not None:
        raise click.UsageError("--lrs sends the statements; leave out --out (or drop --lrs to write a file)")
    if sign and (lrs is not None or out in (None, "-")):
        raise click.UsageError("--sign needs --out FILE (the signature is written beside it, in FILE.sig)")
    if sign and Path(out).exists() and not Path(out).is_file():
        raise click.UsageError(f"--sign needs --out to be a file, and {out} is a device or a pipe")
    try:
        filters = ExportFilter(trainee, scenario, cohort, since, until, status)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        config = load_config()
        path = resolve_db(db, config)
        key = load_key(config.signing.key_file) if sign else None
        password = None
        if lrs is not None:
            lrs = lrs or config.lrs.url
            lrs_user = lrs_user or config.lrs.user
            password = os.environ.get(LRS_PASSWORD_ENV) or None
            if not lrs:
                return fail("--lrs needs a URL (or [lrs] url in the config)")
            if lrs_user and not password:
                return fail(
                    f"set {LRS_PASSWORD_ENV} to the password of LRS user '{lrs_user}' "
                    "(it is never read from a flag or a file)"
                )
        with open_for_export(path) as store:
            filters.check_known(store)
            if lrs is not None:
                from simulator.export.lrs import send_to_lrs

                report = send_to_lrs(
                    store, lrs, lrs_user or None, password, filters, config, include_incomplete=include_incomplete
                )
                click.echo(report.summary())
                for line in report.rejections():
                    click.echo(escaped_line(f"{PROG}: {line}"), err=True)
                return 0 if report.ok else 1
            try:
                with open_output(out, protect=[path]) as stream:
                    if fmt == "csv":
                        from simulator.export.tabular import write_csv

                        count = write_csv(store, stream, filters, excel=excel, decisions=decisions)
                        what = "row(s)"
                    elif fmt == "jsonl":
                        from simulator.export.tabular import write_jsonl

                        count = write_jsonl(store, stream, filters)
                        what = "attempt(s)"
                    else:
                        from simulator.export.xapi import write_statements

                        count = write_statements(
                            store, stream, filters, config.academy, include_incomplete=include_incomplete
                        )
                        what = "statement(s)"
            except BrokenPipeError:
                raise
            except OSError as exc:
                return fail(f"cannot write the export: {exc.strerror or exc}")
        if out not in (None, "-"):
            click.echo(f"wrote {count} {what} to {out}" if isinstance(count, int) else f"wrote {out}")
            if key is not None:
                click.echo(f"signed it: {sign_file(out, key)} (check with 'crisis-sim verify {out}')")
            elif (stale := drop_stale_signature(out)) is not None:
                click.echo(f"removed {stale}: it signed the previous export, and this one is not signed")
    except (StoreError, ConfigError, ExportError, SigningError) as exc:
        return fail(str(exc))
    return 0


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--signature", metavar="SIG", help="The signature file (default: FILE.sig); only with one FILE.")
def verify(files: tuple[str, ...], signature: str | None) -> int:
    """Check that signed exports are exactly as 'export --sign' wrote them.

    Prints one line per FILE; exits 1 if any was changed after signing, was signed with
    another key, or has no signature. Needs the same academy key as the export
    (CRISIS_SIM_SIGNING_KEY or [signing] key_file). A trainee's own records file is never
    proof on its own: ask for a signed export made on a machine that holds the key.
    """
    from simulator.config import ConfigError, load_config
    from simulator.export.signing import SigningError, load_key, verify_file

    if signature and len(files) > 1:
        raise click.UsageError("--signature names the signature of one FILE; give one FILE with it")
    try:
        key = load_key(load_config().signing.key_file)
    except (ConfigError, SigningError) as exc:
        return fail(str(exc))
    failed = 0
    for name in files:
        try:
            verdict = verify_file(name, key, signature)
        except SigningError as exc:
            failed += 1
            click.echo(f"{PROG}: error: {escaped_line(str(exc))}", err=True)
            continue
        if verdict.ok:
            click.echo(verdict.message)
        else:
            failed += 1
            click.echo(f"{PROG}: error: {escaped_line(verdict.message)}", err=True)
    return 1 if failed else 0


@cli.command()
@click.argument("key_file", metavar="FILE")
def keygen(key_file: str) -> int:
    """Create a new academy signing key in FILE (random, 256 bits, readable by its owner only).

    Point '[signing] key_file' at it on the machines that export records (or put its content in
    CRISIS_SIM_SIGNING_KEY). Keep it off trainees' machines and keep a backup: exports signed with
    it can only be verified with it. FILE is never overwritten.
    """
    from simulator.export.signing import SigningError, fingerprint, load_key, new_key_file

    try:
        path = new_key_file(key_file)
        print_key = fingerprint(load_key(str(path), environ={}))
    except SigningError as exc:
        return fail(str(exc))
    click.echo(f"wrote a new signing key to {path} (fingerprint {print_key}); add to the config:")
    click.echo("[signing]")
    click.echo(f"key_file = {json.dumps(str(path.resolve()))}")
    return 0


@cli.command()
@click.option(
    "--out",
    metavar="FILE|-",
    help="Write the schema to FILE (replacing it) instead of printing it; '-': stdout.",
)
@click.option("--rubric", "for_rubric", is_flag=True, help="The schema of rubric files instead of scenario files.")
def schema(out: str | None, for_rubric: bool) -> int:
    """Print the JSON Schema of scenario files (or, with --rubric, of rubric files).

    Give it to an editor's YAML language server for completion, hover help on every key and
    inline errors while typing (docs/authoring.md). It is generated from the models of this
    installed crisis-sim, so it always matches it. It covers the structure only: 'crisis-sim
    validate' still checks references, conditions, the scene graph and the rubric.
    """
    from simulator.schema import dumps, schema_for, write

    kind = "rubric" if for_rubric else "scenario"
    if out is None or out == "-":
        click.echo(dumps(schema_for(kind)), nl=False)
        return 0
    try:
        write(out, kind)
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"wrote the {kind} schema to {out}")
    return 0


@cli.command()
@click.argument("scenario")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="mermaid: a flowchart for a ```mermaid block (GitHub renders it); dot: Graphviz (dot -Tsvg).",
)
@click.option("--out", metavar="FILE|-", help="Write to FILE (replacing it) instead of printing it; '-': stdout.")
@RUBRIC_OPTION
def graph(scenario: str, fmt: str, out: str | None, rubric_ref: str | None) -> int:
    """Draw SCENARIO's scene graph (a library id or a path) as Mermaid or Graphviz DOT.

    Scenes are nodes, endings coloured by rating; choices are edges labelled with their ids
    (and [if: ...] when conditional), coloured by their weighted points (green positive, red
    negative, grey zero); auto moves are dashed, timeouts dotted, critical errors thick red
    with a warning sign. Drawn whenever the scenario file loads; rubric findings are printed
    as well (without a usable rubric the points are summed unweighted).
    """
    from scoring.catalog import load_graded
    from simulator.graph import render

    graded = load_graded(scenario, rubric_ref)
    if graded.scenario is None:
        raise DiagnosticError([d for d in graded.diagnostics if d.severity == "error"])
    print_diagnostics([d for d in graded.diagnostics if d.severity == "error"])
    text = render(graded.scenario, fmt, graded.rubric)
    if out is None or out == "-":
        click.echo(text, nl=False)
        return 0
    try:
        Path(out).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        return fail(f"cannot write {out}: {exc.strerror or exc}")
    click.echo(f"wrote the {fmt} graph of '{graded.scenario.id}' to {out}")
    return 0


@cli.command()
@click.argument("scenario_id", metavar="ID")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="the current directory",
    help="Folder to write ID.yaml in (created if missing).",
)
def new(scenario_id: str, folder: Path) -> int:
    """Start a new scenario: write DIR/ID.yaml, a small valid scenario whose comments explain
    the format (docs/scenario-format.md has the rest). Never overwrites a file.

    The file passes 'crisis-sim validate --strict' and 'crisis-sim analyze' as written: play
    it, then rewrite the story for your own call.
    """
    from simulator.scaffold import ScaffoldError, check_id, create

    problem = check_id(scenario_id)
    if problem is not None:
        return fail(problem, 2)
    try:
        path = create(scenario_id, folder)
    except ScaffoldError as exc:
        return fail(str(exc))
    click.echo(f"wrote {path}; check it with: crisis-sim validate --strict {path}")
    return 0


@cli.command(name="test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "-k",
    "keyword",
    metavar="SUBSTRING",
    help="Only the playthroughs whose 'SCENARIO-ID::NAME' contains SUBSTRING (case-insensitive).",
)
@click.option(
    "--record",
    "record_name",
    metavar="NAME",
    help="Play --choose/--timeout-at on the one PATH and append the result as a new playthrough called NAME "
    "to the scenario's sidecar FILE.tests.yaml (created if missing).",
)
@click.option(
    "--choose", multiple=True, metavar="IDS", help="With --record: choices to make, comma-separated (ids or positions)."
)
@click.option(
    "--timeout-at", multiple=True, metavar="SCENES", help="With --record: let the timer run out in these scenes."
)
def playtest(
    paths: tuple[str, ...],
    keyword: str | None,
    record_name: str | None,
    choose: tuple[str, ...],
    timeout_at: tuple[str, ...],
) -> int:
    """Run the recorded playthrough tests of scenarios (default: the bundled library).

    PATH is a scenario file, a folder of them, or a library id; each scenario's inline 'tests:'
    and its sidecar FILE.tests.yaml (next to FILE.yaml) are run. Prints one line per scenario ('.' passed, 'F'
    failed, 'E' could not load), the expected-vs-actual diff of each failure, and
    'N passed, M failed'. Exits 1 if any failed. With --record NAME, plays the steps and
    appends them, with the ending, score, pass/fail and critical errors reached, as a new test.
    """
    from scoring import playtests
    from simulator.runner import parse_list

    steps, timeouts = parse_list(choose), parse_list(timeout_at)
    if record_name is None:
        if steps or timeouts:
            raise click.UsageError("--choose and --timeout-at are for --record NAME")
        from simulator.library import bundled_dir

        results, problems = playtests.run_tests(list(paths) or [bundled_dir()], keyword)
        lines, _passed, failed = playtests.format_results(results, problems)
        for line in lines:
            click.echo(line)
        if not failed and not any(r.results for r in results):
            return fail("no playthrough tests found" + (f" matching -k '{keyword}'" if keyword else ""))
        return 1 if failed else 0
    if len(paths) != 1:
        raise click.UsageError("--record needs exactly one scenario PATH")
    if keyword is not None:
        raise click.UsageError("-k selects tests to run; it cannot be combined with --record")
    if not (steps or timeouts):
        raise click.UsageError("--record needs the steps to play: --choose IDS and/or --timeout-at SCENES")
    files, problems = playtests.expand(paths)
    if problems:
        raise DiagnosticError(problems)
    if len(files) != 1:
        raise click.UsageError("--record needs exactly one scenario file, not a folder")
    try:
        recorded = playtests.record(files[0], record_name, steps, timeouts, label=paths[0])
    except playtests.RecordError as exc:
        return fail(str(exc))
    for warning in recorded.warnings:
        click.echo(f"{PROG}: warning: {escaped_line(warning)}", err=True)
    click.echo(playtests.describe_recorded(recorded))
    return 0


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
        known = _known_error(exc)
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


if __name__ == "__main__":
    main()
