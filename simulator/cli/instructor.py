"""The instructor's commands: ``report`` (cohort analytics as text, CSV or one HTML file),
``flag`` (mark a moment of an attempt for the trainee's debrief), ``debrief`` (a recorded
attempt's debrief, with the flags) and ``console`` (the class live, in Textual)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from simulator.cli.base import DB_OPTION, PROG, cli, fail, open_store, scenario_for
from simulator.cli.records import _time_option, export_filter, filter_options
from simulator.records.rows import MAX_SEQUENCE
from simulator.safetext import escaped_line


@cli.command()
@filter_options
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "html"]),
              help="text (default; html when --out ends in .html), csv (one table: --table), or html.")
@click.option("--table", type=click.Choice(["scenarios", "distribution", "decisions", "missed", "critical", "heat",
                                            "progress"]),
              help="Only this table (csv needs one).")
@click.option("--out", metavar="FILE|-", help="Write to FILE (replaced only when complete); '-' or none: stdout.")
@DB_OPTION
def report(fmt: str | None, table: str | None, out: str | None, db: str | None, **filter_values: Any) -> int:
    """Cohort analytics: pass rates, score distribution, per-decision facility and
    discrimination, most-missed decisions, critical errors, a trainee x dimension heat map and
    a trainee x scenario progress matrix, over the attempts the filters choose (the same as
    results and export: scripted runs and voided attempts left out unless asked). --out
    report.html writes one self-contained HTML file with charts (no JavaScript, nothing
    fetched, prints on paper). docs/instructor.md explains every number."""
    from simulator.cohort import load
    from simulator.cohort.tables import TABLES
    from simulator.export import ExportError

    fmt = fmt or ("html" if out and out.lower().endswith((".html", ".htm")) else "text")
    if fmt == "csv" and table is None:
        raise click.UsageError(f"--format csv writes one table: add --table ({'|'.join(TABLES)})")
    if fmt == "html" and table is not None:
        raise click.UsageError("--table applies to text and csv; the HTML report holds every table")
    filters = export_filter(**filter_values)
    try:
        with open_store(db, create=False) as store:
            filters.check_known(store)
            with store.snapshot():
                cohort_report = load(store, filters.attempts(store))
            where = store.path
        _write(cohort_report, fmt, table, out, _described(filters, where))
    except ExportError as exc:
        return fail(str(exc))
    if out not in (None, "-"):
        click.echo(escaped_line(f"wrote {out}"))  # on stdout, like export and graph: stderr is for errors
    return 0


def _write(cohort_report: Any, fmt: str, table: str | None, out: str | None, described: str) -> None:
    from simulator.cohort.tables import TABLES, all_tables, write_csv, write_text
    from simulator.export import open_output

    with open_output(out) as stream:
        if fmt == "html":
            from simulator.cohort.html import render

            stream.write(render(cohort_report, title="crisis-sim cohort report", described=described))
        elif fmt == "csv":
            write_csv(TABLES[table](cohort_report), stream)  # type: ignore[index]
        else:
            stream.write(f"{described}\n\n")
            for shown_table in ([TABLES[table](cohort_report)] if table else all_tables(cohort_report)):
                write_text(shown_table, stream)


def _described(filters: Any, where: str) -> str:
    """The report's first line: the store and the filters that chose its attempts."""
    parts = [name.replace("_", " ") + ("" if value is True else f" {value}")
             for name, value in dataclasses.asdict(filters).items() if value]
    return f"records: {Path(where).name if '://' not in where else where}; " + (
        ", ".join(parts) if parts else "all attempts")


def _note(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from simulator.records.rows import note_problem

    problem = note_problem(value)
    if problem:
        raise click.BadParameter(f"the note {problem}", ctx, param)
    return value


@cli.command()
@click.argument("attempt_id", metavar="ATTEMPT")
@click.argument("sequence", metavar="DECISION", type=click.IntRange(1, MAX_SEQUENCE))
@click.option("--note", default="", callback=_note, metavar="TEXT",
              help="What to look at (one line, up to 500 characters); shown in the trainee's debrief.")
@click.option("--remove", is_flag=True, help="Remove the flag on this decision instead.")
@DB_OPTION
def flag(attempt_id: str, sequence: int, note: str, remove: bool, db: str | None) -> int:
    """Flag decision number DECISION of attempt ATTEMPT (an id, or its first 6+ characters) for
    the trainee's debrief: "Your instructor flagged this moment: NOTE". Flagging it again
    replaces the note. A flag is stored with the attempt and exported (JSON Lines); it never
    changes the grade."""
    if remove and note:
        raise click.UsageError("--remove takes no --note")
    with open_store(db, create=False) as store:
        attempt = store.attempt(attempt_id)
        where = f"decision {sequence} of attempt {attempt.id[:8]} ({attempt.trainee_id}, {attempt.scenario_id})"
        if remove:
            if not store.unflag(attempt.id, sequence):
                return fail(f"{where} is not flagged")
            click.echo(escaped_line(f"removed the flag on {where}"))
            return 0
        store.flag(attempt.id, sequence, note)
    click.echo(escaped_line(f"flagged {where}" + (f": {note}" if note else "")))
    return 0


@cli.command()
@click.argument("attempt_id", metavar="ATTEMPT")
@DB_OPTION
def debrief(attempt_id: str, db: str | None) -> int:
    """The debrief of a completed attempt (an id, or its first 6+ characters), recomputed from
    its recorded decisions, with the moments the instructor flagged."""
    from scoring.grading import GradeError, grade
    from scoring.report import format_grade
    from simulator.recorder import ResumeRefused, check_same_content, flag_notes, stored_decisions

    with open_store(db, create=False) as store:
        attempt = store.attempt(attempt_id)
        if attempt.status != "completed":
            return fail(f"attempt {attempt.id[:8]} is {attempt.status.replace('_', ' ')}: it has no debrief yet"
                        + ("; 'crisis-sim resume " + attempt.id[:8] + "' continues it"
                           if attempt.status == "in_progress" else ""))
        graded = scenario_for(attempt)
        try:
            check_same_content(attempt, graded.scenario, graded.rubric)
            result = grade(graded.scenario, graded.rubric, stored_decisions(store, attempt.id))
        except (ResumeRefused, GradeError) as exc:
            return fail(f"attempt {attempt.id[:8]}: cannot recompute its debrief: {exc}")
        notes = flag_notes(store, attempt.id)
    click.echo(format_grade(result, notes))
    return 0


@cli.command()
@click.option("--cohort", metavar="C", help="Only this cohort (the c key changes it).")
@click.option("--since", callback=_time_option(False), metavar="DATE",
              help="Watch attempts started on or after DATE (default: the last 12 hours).")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True,
              help="Seconds between refreshes.")
@click.option("--include-scripted", is_flag=True,
              help="Also show scripted runs (crisis-sim test, run --choose/--timeout-at/--policy: nobody is "
                   "playing them); left out by default, as in report and results (the s key toggles).")
@DB_OPTION
def console(cohort: str | None, since: str | None, interval: float, include_scripted: bool, db: str | None) -> int:
    """The instructor's console: the class live from the records store (per trainee the
    scenario, scene, decisions, time in the scene, meters, critical errors so far, finished or
    passed), refreshed about once a second without writing; Enter follows a trainee's
    transcript, f flags a moment for their debrief, a shows cohort analytics with plots, c
    picks a cohort, s shows or hides scripted runs. Keys and screens: docs/instructor.md."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return fail(
            "the console needs an interactive terminal; 'crisis-sim report' prints the class's figures as text",
            2,
        )
    from simulator.console.app import ConsoleApp

    store = open_store(db, create=False)
    try:
        ConsoleApp(store, cohort=cohort, since=since, interval=interval, include_scripted=include_scripted).run()
    finally:
        store.close()
    return 0


__all__ = ["PROG", "console", "debrief", "flag", "report"]
